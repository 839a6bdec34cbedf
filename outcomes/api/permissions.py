"""Route permissions from the role tables declared as data."""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any

import structlog
from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from config.api.roles import PEOPLE, PUBLIC, SIGNATURE, SIGNED_IN
from outcomes.models import APIKey

logger = structlog.get_logger(__name__)

Allowed = Collection[str] | str
RouteKey = tuple[str, str]


@functools.cache
def role_table() -> dict[RouteKey, Allowed]:
    """All apps' tables merged; a route declared twice is a configuration error."""
    merged: dict[RouteKey, Allowed] = {}
    for path in settings.API_ROLE_TABLES:
        table: dict[RouteKey, Allowed] = import_string(path)
        clash = merged.keys() & table.keys()
        if clash:
            raise ValueError(f"Routes declared twice in the role tables: {sorted(clash)}")
        merged.update(table)
    return merged


def allowed_for(method: str, view_name: str) -> Allowed | None:
    table = role_table()
    method = "GET" if method == "HEAD" else method
    if method != "OPTIONS":
        return table.get((method, view_name))
    # OPTIONS describes a route: whoever may call it in some way may ask.
    entries = [allowed for (_, name), allowed in table.items() if name == view_name]
    if not entries:
        return None
    if any(isinstance(allowed, str) for allowed in entries):
        return next(allowed for allowed in entries if isinstance(allowed, str))
    return frozenset().union(*entries)


def _view_handles(view: Any, method: str) -> bool:
    if method in {"OPTIONS", "HEAD"}:
        return True
    action_map = getattr(view, "action_map", None)
    if action_map is not None:
        return method.lower() in action_map
    return hasattr(view, method.lower())


def is_signed_in(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated) or isinstance(request.auth, APIKey)


class RoleTablePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not _view_handles(view, request.method or ""):
            return True  # let the view answer 405 with its Allow header
        match = request.resolver_match
        view_name = match.view_name if match else ""
        allowed = allowed_for(request.method or "", view_name)
        if allowed is None:
            logger.error("route_missing_from_role_table", method=request.method, view_name=view_name)
            return False
        if allowed in (PUBLIC, SIGNATURE):  # a signature is checked by the view, on the raw body
            return True
        if not is_signed_in(request):
            return False
        if allowed == SIGNED_IN:
            return True
        if allowed == PEOPLE:
            return bool(request.user.is_authenticated)
        access = getattr(view, "access", None)
        return access is not None and access.role in allowed

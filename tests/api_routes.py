"""Every API route, how to call it, and what to send: the data behind the route matrices.

Later apps extend ``TARGETS``, ``VALID_BODIES`` and ``FOREIGN_ID_BODIES`` for their
routes; the matrix tests fail until they do, so no route goes untested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.relations import ManyRelatedField, RelatedField

from outcomes.models import APIKey, Membership, Team
from tests.conftest import Cast

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Route:
    method: str
    name: str  # namespaced view name, e.g. "v1:team-detail"
    kwargs: tuple[str, ...]  # URL keyword arguments, e.g. ("company_slug", "pk")

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.name)

    @property
    def is_company_route(self) -> bool:
        return "company_slug" in self.kwargs

    def __str__(self) -> str:
        return f"{self.method} {self.name}"


def _kwarg_names(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if (converters is not None and not hasattr(pattern, "regex")) or hasattr(pattern, "_route"):
        return list(getattr(pattern, "converters", {}))
    return list(pattern.regex.groupindex)


def _methods(callback: Any) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return sorted(method.upper() for method in actions)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return ["GET"]
    return sorted(
        method.upper()
        for method in view_class.http_method_names
        if method not in {"options", "head"} and hasattr(view_class, method)
    )


def _walk(
    patterns: list[Any], prefix: str, namespace: str, kwargs: list[str]
) -> Iterator[tuple[str, str, list[str], Any]]:
    for entry in patterns:
        here = prefix + str(entry.pattern)
        names = kwargs + _kwarg_names(entry.pattern)
        if isinstance(entry, URLResolver):
            inner_ns = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            yield from _walk(entry.url_patterns, here, inner_ns, names)
        elif isinstance(entry, URLPattern) and entry.name:
            yield here, f"{namespace}:{entry.name}".strip(":"), names, entry.callback


def api_routes() -> list[Route]:
    """Every (method, view name) served under /api/."""
    routes = set()
    for path, name, kwargs, callback in _walk(get_resolver().url_patterns, "", "", []):
        if not path.lstrip("^").startswith("api/"):
            continue
        for method in _methods(callback):
            routes.add(Route(method, name, tuple(kwargs)))
    return sorted(routes, key=lambda route: (route.name, route.method))


# --- what each route acts on ---------------------------------------------------------
# model behind a detail route's ``pk`` -> the object of company A (or B) to use.
def target_pk(model: type, cast: Cast, company: str = "a") -> int:
    if model is Membership:
        user = cast.member_a if company == "a" else cast.member_b
        return Membership.objects.get(user=user).pk
    if model is Team:
        return (cast.team_a if company == "a" else cast.team_b).pk
    if model is APIKey:
        return APIKey.objects.filter(company=cast.company_a if company == "a" else cast.company_b).earliest("id").pk
    raise KeyError(f"No test target for {model.__name__}: add it to tests/api_routes.py")


def route_model(route: Route) -> type:
    view_class: Any = _view_of(route)[0]
    return view_class.queryset.model


def url_for(route: Route, cast: Cast, company: str = "a", ids_of: str | None = None) -> str:
    """The route's URL for company ``company`` with object ids of company ``ids_of``."""
    ids_of = ids_of or company
    values: dict[str, Any] = {}
    for name in route.kwargs:
        if name == "company_slug":
            values[name] = (cast.company_a if company == "a" else cast.company_b).slug
        elif name == "pk":
            values[name] = target_pk(route_model(route), cast, ids_of)
        elif name == "user_id":
            values[name] = (cast.member_a if ids_of == "a" else cast.member_b).pk
        else:
            raise KeyError(f"No test value for URL argument {name!r} of {route}")
    return reverse(route.name, kwargs=values)


BodyMaker = Callable[[Cast], dict[str, Any]]

# A valid body for every write route that takes one: allowed callers get a 2xx.
VALID_BODIES: dict[tuple[str, str], BodyMaker] = {
    ("POST", "v1:companies"): lambda c: {"name": "Newco"},
    ("PATCH", "v1:company-detail"): lambda c: {"name": "Alpha Renamed"},
    ("POST", "v1:member-list"): lambda c: {"email": "newcomer@example.test", "role": "viewer"},
    ("PATCH", "v1:member-detail"): lambda c: {"role": "executive"},
    ("POST", "v1:team-list"): lambda c: {"name": "New Team", "topology": "platform"},
    ("PUT", "v1:team-detail"): lambda c: {"name": "Renamed Team", "topology": "enabling"},
    ("PATCH", "v1:team-detail"): lambda c: {"name": "Renamed Team"},
    ("POST", "v1:team-members"): lambda c: {"user": c.viewer_a.pk},
    ("POST", "v1:api-key-list"): lambda c: {"name": "Reporting", "scope": "read"},
}

# Bodies that point at company A's rows, sent by company B to its own routes: each must be a 400.
FOREIGN_ID_BODIES: dict[tuple[str, str], BodyMaker] = {
    ("POST", "v1:team-list"): lambda c: {"name": "Spy", "lead": c.member_a.pk, "members": [c.owner_a.pk]},
    ("PUT", "v1:team-detail"): lambda c: {"name": "Spy", "lead": c.member_a.pk},
    ("PATCH", "v1:team-detail"): lambda c: {"lead": c.member_a.pk},
    ("POST", "v1:team-members"): lambda c: {"user": c.member_a.pk},
    ("POST", "v1:member-list"): lambda c: {"user": c.member_a.pk, "role": "member"},
}

# Filters that take ids: company A's ids sent by company B must be a 400.
FOREIGN_ID_FILTERS: dict[str, Callable[[Cast], dict[str, Any]]] = {
    "v1:member-list": lambda c: {"user_id": c.owner_a.pk},
    "v1:team-list": lambda c: {"lead_id": c.member_a.pk, "member_id": c.member_a.pk},
}


def _view_of(route: Route) -> tuple[type, str | None]:
    url = reverse(route.name, kwargs={k: ("x" if k == "company_slug" else 1) for k in route.kwargs})
    func = resolve(url).func
    actions = getattr(func, "actions", None) or {}
    return func.cls, actions.get(route.method.lower())  # type: ignore[attr-defined]


def request_serializer_fields(route: Route) -> dict[str, Any]:
    """Fields of the request body the schema documents for ``route``."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    view_class, action = _view_of(route)
    endpoints: list[Any] = generator._get_paths_and_endpoints()
    for _path, _regex, method, view in endpoints:
        if method == route.method and type(view) is view_class and getattr(view, "action", None) == action:
            serializer = view.schema.get_request_serializer()  # type: ignore[attr-defined]
            if serializer is None:
                return {}
            instance = serializer() if isinstance(serializer, type) else serializer
            return dict(getattr(instance, "fields", {}))
    raise LookupError(f"{route} is not in the schema")


def related_field_names(fields: dict[str, Any]) -> list[str]:
    return [name for name, field in fields.items() if isinstance(field, (RelatedField, ManyRelatedField))]


def id_filter_names(route: Route) -> list[str]:
    """Query filters of a list route that take ids of rows."""
    import django_filters

    view_class, action = _view_of(route)
    if action != "list":
        return []
    filterset_class = getattr(view_class, "filterset_class", None)
    if filterset_class is None:
        return []
    id_filters = (django_filters.ModelChoiceFilter, django_filters.ModelMultipleChoiceFilter)
    return [name for name, f in filterset_class.base_filters.items() if isinstance(f, id_filters)]

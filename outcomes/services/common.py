"""Rules every service applies to its input."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model

from outcomes.models import Company, User


def apply_changes(instance: Model, allowed: Iterable[str], changes: dict[str, Any]) -> None:
    """Set the named fields; a field outside ``allowed`` is a 400 naming it, never silently set."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    for name, value in changes.items():
        setattr(instance, name, value)


def require_members(company: Company, field: str, people: Iterable[User | None]) -> None:
    """Owners, leads and team members must belong to the company: a 400 on ``field`` otherwise."""
    ids = {person.pk for person in people if person is not None}
    members = set(User.objects.for_company(company).filter(pk__in=ids).values_list("pk", flat=True))
    if ids - members:
        raise ValidationError({field: "Must be a member of the company."})


def require_member_fields(instance: Model, company: Company, *fields: str) -> None:
    """Each named person field of ``instance`` that is set names a member of the company."""
    for field in fields:
        if getattr(instance, f"{field}_id", None):
            require_members(company, field, [getattr(instance, field)])

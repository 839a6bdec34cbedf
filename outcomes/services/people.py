from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from outcomes.models import Company, User


def require_members(company: Company, field: str, people: Iterable[User | None]) -> None:
    """Owners, leads and team members must belong to the company: a 400 on ``field`` otherwise."""
    ids = {person.pk for person in people if person is not None}
    members = set(User.objects.for_company(company).filter(pk__in=ids).values_list("pk", flat=True))
    if ids - members:
        raise ValidationError({field: "Must be a member of the company."})

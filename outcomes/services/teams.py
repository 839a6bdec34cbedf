from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from outcomes.models import Company, Team, TeamMembership, User
from outcomes.services.common import apply_changes, require_member_fields, require_members

UPDATABLE_FIELDS = ("name", "topology", "lead", "monthly_cost", "cost_currency")


def _validate(team: Team) -> None:
    errors: dict[str, str] = {}
    if Team.objects.for_company(team.company).filter(name__iexact=team.name).exclude(pk=team.pk).exists():
        errors["name"] = "The company already has a team with this name."
    if team.monthly_cost is not None and not team.cost_currency:
        errors["cost_currency"] = "Required when monthly_cost is set."
    if team.monthly_cost is None and team.cost_currency:
        errors["monthly_cost"] = "Required when cost_currency is set."
    if errors:
        raise ValidationError(errors)
    team.full_clean()


@transaction.atomic
def team_create(
    *,
    company: Company,
    name: str,
    topology: str | None = None,
    lead: User | None = None,
    monthly_cost: Decimal | None = None,
    cost_currency: str = "",
    members: Iterable[User] = (),
) -> Team:
    members = list(members)
    require_members(company, "lead", [lead])
    require_members(company, "members", members)
    team = Team(company=company, name=name, lead=lead, monthly_cost=monthly_cost, cost_currency=cost_currency)
    if topology:
        team.topology = topology
    _validate(team)
    team.save()
    for person in {person.pk: person for person in members}.values():
        TeamMembership.objects.create(team=team, user=person)
    return team


@transaction.atomic
def team_update(*, team: Team, **changes: Any) -> Team:
    apply_changes(team, UPDATABLE_FIELDS, changes)
    require_member_fields(team, team.company, "lead")
    _validate(team)
    team.save()
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    """Delete a team and its memberships; refused while investments or objectives still name it."""
    for membership in team.memberships.all():
        membership.delete()
    try:
        team.delete()
    except ProtectedError as error:
        kinds = sorted({str(row._meta.verbose_name_plural) for row in error.protected_objects})
        raise ValidationError(f"The team still has {' and '.join(kinds)}: move or remove them first.") from error


@transaction.atomic
def team_member_add(*, team: Team, user: User) -> TeamMembership:
    require_members(team.company, "user", [user])
    if TeamMembership.objects.filter(team=team, user=user).exists():
        raise ValidationError({"user": "Already on this team."})
    return TeamMembership.objects.create(team=team, user=user)


@transaction.atomic
def team_member_remove(*, membership: TeamMembership) -> None:
    membership.delete()

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from outcomes.models import Company, Team, TeamMembership, User

UPDATABLE_FIELDS = ("name", "topology", "lead", "monthly_cost", "cost_currency")


def _check_people(company: Company, field: str, people: Iterable[User | None]) -> None:
    ids = {person.pk for person in people if person is not None}
    members = set(User.objects.for_company(company).filter(pk__in=ids).values_list("pk", flat=True))
    if ids - members:
        raise ValidationError({field: "Only members of the company can be on or lead its teams."})


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
    _check_people(company, "lead", [lead])
    _check_people(company, "members", members)
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
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    if "lead" in changes:
        _check_people(team.company, "lead", [changes["lead"]])
    for name, value in changes.items():
        setattr(team, name, value)
    _validate(team)
    team.save()
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    for membership in team.memberships.all():
        membership.delete()
    team.delete()


@transaction.atomic
def team_member_add(*, team: Team, user: User) -> TeamMembership:
    _check_people(team.company, "user", [user])
    if TeamMembership.objects.filter(team=team, user=user).exists():
        raise ValidationError({"user": "Already on this team."})
    return TeamMembership.objects.create(team=team, user=user)


@transaction.atomic
def team_member_remove(*, membership: TeamMembership) -> None:
    membership.delete()

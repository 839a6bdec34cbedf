"""Membership changes. Owner changes are serialised on the company row, so two
concurrent requests can never remove or demote the last two owners at once."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from outcomes.choices import Role
from outcomes.models import Company, Membership, Team, TeamMembership, User

LAST_OWNER = "A company needs at least one owner: make someone else owner first."


def _lock(company: Company) -> None:
    Company.objects.select_for_update().filter(pk=company.pk).first()


def _require_owner_for_owner_changes(*, actor_role: str, touches_owner: bool) -> None:
    if touches_owner and actor_role != Role.OWNER:
        raise PermissionDenied("Only owners can grant, change or remove the owner role.")


def _find_user(*, user: User | None, email: str | None) -> User:
    if user is not None:
        return user
    found = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if found is None:
        raise ValidationError({"email": "No account uses this e-mail address; ask them to sign up first."})
    return found


@transaction.atomic
def membership_invite(
    *, company: Company, role: str, actor_role: str, user: User | None = None, email: str | None = None
) -> Membership:
    """Add an existing person, found by id or e-mail address, to the company."""
    if (user is None) == (email is None):
        raise ValidationError("Give either a user or an e-mail address.")
    _require_owner_for_owner_changes(actor_role=actor_role, touches_owner=role == Role.OWNER)
    person = _find_user(user=user, email=email)
    if Membership.objects.filter(company=company, user=person).exists():
        raise ValidationError({"user" if user is not None else "email": "Already a member of this company."})
    membership = Membership(company=company, user=person, role=role)
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor_role: str) -> Membership:
    _lock(membership.company)
    membership.refresh_from_db()
    touches_owner = Role.OWNER in (membership.role, role)
    _require_owner_for_owner_changes(actor_role=actor_role, touches_owner=touches_owner)
    if membership.role == Role.OWNER and role != Role.OWNER and _is_last_owner(membership):
        raise ValidationError({"role": LAST_OWNER})
    membership.role = role
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor_role: str) -> None:
    """Remove a person from the company, its teams and the team leads they held."""
    _lock(membership.company)
    membership.refresh_from_db()
    _require_owner_for_owner_changes(actor_role=actor_role, touches_owner=membership.role == Role.OWNER)
    if membership.role == Role.OWNER and _is_last_owner(membership):
        raise ValidationError(LAST_OWNER)
    company, user = membership.company, membership.user
    for team_membership in TeamMembership.objects.filter(team__company=company, user=user):
        team_membership.delete()
    for team in Team.objects.filter(company=company, lead=user):
        team.lead = None
        team.save(update_fields=["lead"])
    membership.delete()


def _is_last_owner(membership: Membership) -> bool:
    return not Membership.objects.owners().filter(company_id=membership.company_id).exclude(pk=membership.pk).exists()

"""Audit history: who changed what, a person through their session or an integration through its API key."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from simple_history.models import HistoricalRecords

from outcomes.api.permissions import role_table
from outcomes.choices import ALL_ROLES, Role
from outcomes.models import APIKey, Membership, Team, TeamMembership, User
from outcomes.services.teams import team_update

# No route of the role tables lets an API key write today: a write key acts as a ``member`` and every write
# route is for owners and admins (see test_a_write_key_cannot_edit_teams_today). To drive a key's change
# through the real stack (DRF authentication -> HistoryRequestMiddleware -> the pre_create_historical_record
# receiver), the fixture below swaps in a copy of the merged tables in which members (and so write keys) may
# also edit teams. Only the permission table differs; view, service, middleware and receiver are production code.
KEY_WRITABLE_ROUTES: dict[tuple[str, str], object] = {}


@pytest.fixture
def write_keys_may_edit_teams(settings, monkeypatch):
    role_table.cache_clear()
    table = {**role_table(), ("PATCH", "v1:team-detail"): ALL_ROLES}
    monkeypatch.setattr(f"{__name__}.KEY_WRITABLE_ROUTES", table)
    settings.API_ROLE_TABLES = [f"{__name__}.KEY_WRITABLE_ROUTES"]
    role_table.cache_clear()
    yield
    role_table.cache_clear()


@pytest.fixture
def history_request():
    """Put a request into simple-history's context the way HistoryRequestMiddleware does, and take it out again."""

    def install(request):
        HistoricalRecords.context.request = request

    yield install
    if hasattr(HistoricalRecords.context, "request"):
        del HistoricalRecords.context.request


def test_a_persons_change_records_them(cast, client_for):
    response = client_for(cast.owner_a).patch(
        f"/api/v1/companies/alpha/teams/{cast.team_a.pk}/", {"name": "Alpha Payments"}, format="json"
    )

    assert response.status_code == 200
    history = list(cast.team_a.history.all())  # newest first
    assert [record.history_type for record in history] == ["~", "+"]
    latest, created = history
    assert latest.name == "Alpha Payments"
    assert latest.history_user == cast.owner_a
    assert latest.history_api_key_prefix == ""
    assert created.name == "Alpha Checkout"
    assert created.history_user is None  # created by the fixture, outside any request


def test_a_write_key_cannot_edit_teams_today(cast, key_client):
    response = key_client(cast.raw_key_a).patch(
        f"/api/v1/companies/alpha/teams/{cast.team_a.pk}/", {"name": "Renamed By CI"}, format="json"
    )

    assert response.status_code == 403
    assert [record.history_type for record in cast.team_a.history.all()] == ["+"]


def test_an_api_key_change_records_the_key_prefix_through_the_api(cast, key_client, write_keys_may_edit_teams):
    api_key = APIKey.objects.get(company=cast.company_a)

    response = key_client(cast.raw_key_a).patch(
        f"/api/v1/companies/alpha/teams/{cast.team_a.pk}/", {"name": "Renamed By CI"}, format="json"
    )

    assert response.status_code == 200, response.content
    latest = cast.team_a.history.latest()
    assert latest.history_type == "~"
    assert latest.name == "Renamed By CI"
    assert latest.history_user is None
    assert latest.history_api_key_prefix == api_key.prefix
    # Only the public prefix, never the key itself.
    assert latest.history_api_key_prefix == "okr_" + api_key.key_id
    assert latest.history_api_key_prefix != cast.raw_key_a


def test_the_key_prefix_recorder_reads_the_request_in_context(cast, history_request):
    # The receiver on its own: a request as DRF leaves it for an API key (anonymous user, auth = the key).
    api_key = APIKey.objects.get(company=cast.company_a)
    request = RequestFactory().patch("/api/v1/companies/alpha/teams/")
    request.user = AnonymousUser()
    request.auth = api_key  # type: ignore[attr-defined]
    history_request(request)

    team_update(team=cast.team_a, name="Changed In Context")

    latest = cast.team_a.history.latest()
    assert latest.name == "Changed In Context"
    assert latest.history_user is None
    assert latest.history_api_key_prefix == api_key.prefix


def test_the_key_prefix_does_not_outlive_the_request(cast, key_client, write_keys_may_edit_teams):
    key_client(cast.raw_key_a).patch(
        f"/api/v1/companies/alpha/teams/{cast.team_a.pk}/", {"name": "Renamed By CI"}, format="json"
    )

    # A later change outside any request (a task, the shell) is not attributed to the key.
    team_update(team=cast.team_a, name="Renamed By A Task")

    latest = cast.team_a.history.latest()
    assert latest.name == "Renamed By A Task"
    assert latest.history_user is None
    assert latest.history_api_key_prefix == ""


def test_deleting_a_team_keeps_its_history(cast, client_for):
    _free_team_a(cast)
    team_pk = cast.team_a.pk
    team_membership_pk = TeamMembership.objects.get(team=cast.team_a).pk

    response = client_for(cast.owner_a).delete(f"/api/v1/companies/alpha/teams/{team_pk}/")

    assert response.status_code == 204
    assert not Team.objects.filter(pk=team_pk).exists()
    history = list(Team.history.filter(id=team_pk))
    assert [record.history_type for record in history] == ["-", "+"]
    assert history[0].name == "Alpha Checkout"
    assert history[0].history_user == cast.owner_a
    removed = TeamMembership.history.filter(id=team_membership_pk).latest()
    assert removed.history_type == "-"
    assert removed.history_user == cast.owner_a


def test_membership_role_changes_are_in_the_history(cast, client_for):
    membership = Membership.objects.get(user=cast.member_a, company=cast.company_a)

    response = client_for(cast.owner_a).patch(
        f"/api/v1/companies/alpha/members/{membership.pk}/", {"role": Role.ADMIN}, format="json"
    )

    assert response.status_code == 200, response.content
    history = list(membership.history.all())
    assert [(record.history_type, record.role) for record in history] == [("~", Role.ADMIN), ("+", Role.MEMBER)]
    assert history[0].history_user == cast.owner_a


def test_password_is_not_kept_in_user_history(cast):
    user = cast.member_a
    user.set_password("a-brand-new-password-123")
    user.save()

    history_fields = {field.name for field in User.history.model._meta.get_fields()}
    assert "password" not in history_fields
    assert "last_login" not in history_fields
    assert {"email", "full_name", "is_active"} <= history_fields
    latest = user.history.latest()
    assert latest.history_type == "~"
    assert user.password not in [str(value) for value in latest.__dict__.values()]


def test_signing_in_does_not_add_user_history(cast, client_for):
    before = cast.member_a.history.count()

    client_for(cast.member_a)  # a real session sign-in: updates last_login

    cast.member_a.refresh_from_db()
    assert cast.member_a.last_login is not None
    assert cast.member_a.history.count() == before


def _free_team_a(cast):
    """A team with investments or objectives cannot be deleted: clear them out of the way."""
    cast.strategic_a["investment"].delete()
    cast.team_a.objectives.update(team=cast.team_b, company=cast.company_b)
    cast.team_a.epics.update(team=None)

"""The demo data command: converges on the same data, rotates its key, refuses outside DEBUG."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from outcomes.choices import APIKeyScope, Role
from outcomes.models import (
    APIKey,
    BusinessOutcome,
    Company,
    IdentityVersion,
    Investment,
    Measurement,
    Membership,
    Strategy,
    SwotItem,
    Team,
    User,
)

KEY_PATTERN = re.compile(r"API key \(write scope\):\s+(okr_[0-9A-Za-z]{36})\s")
DEMO_TEAMS = ["Checkout", "Data Enablement", "Platform"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_key(output: str) -> str:
    match = KEY_PATTERN.search(output)
    assert match, output
    return match.group(1)


def demo_state() -> dict[str, object]:
    company = Company.objects.get(slug="acme")
    keys = APIKey.objects.filter(company=company)
    return {
        "companies": Company.objects.filter(slug="acme").count(),
        "people": User.objects.count(),
        "members": Membership.objects.filter(company=company).count(),
        "roles": sorted(Membership.objects.filter(company=company).values_list("role", flat=True)),
        "teams": sorted(Team.objects.filter(company=company).values_list("name", flat=True)),
        "team_members": sorted(Team.objects.filter(company=company).values_list("name", "memberships__user__email")),
        "active_keys": keys.filter(revoked_at__isnull=True).count(),
    }


def test_seed_creates_the_demo_company(db, settings):
    settings.DEBUG = True

    output = seed()

    company = Company.objects.get(slug="acme")
    assert company.name == "Acme Analytics"
    assert company.timezone == "Europe/Berlin"
    state = demo_state()
    assert state["members"] == 6
    assert state["roles"] == sorted([Role.OWNER, Role.EXECUTIVE, Role.MEMBER, Role.MEMBER, Role.MEMBER, Role.VIEWER])
    assert state["teams"] == DEMO_TEAMS
    assert state["active_keys"] == 1
    key = APIKey.objects.get(company=company)
    assert key.scope == APIKeyScope.WRITE
    assert key.name == "Demo integration"
    assert printed_key(output).startswith(key.prefix)
    demo = User.objects.get(email="demo@example.com")
    assert demo.is_superuser
    assert demo.is_staff
    assert demo.check_password("outcomes-demo-2026")
    assert "demo@example.com / outcomes-demo-2026" in output


def test_seed_twice_converges_and_rotates_the_key(db, settings):
    settings.DEBUG = True
    first_key = printed_key(seed())
    first_state = demo_state()

    second_key = printed_key(seed())

    assert demo_state() == first_state
    assert second_key != first_key
    company = Company.objects.get(slug="acme")
    keys = APIKey.objects.filter(company=company).order_by("created", "id")
    assert keys.count() == 2
    old, new = keys
    assert old.revoked_at is not None
    assert old.revoked_by == User.objects.get(email="demo@example.com")
    assert new.revoked_at is None
    assert second_key.startswith(new.prefix)


def test_printed_key_reads_the_demo_teams(db, settings, key_client):
    settings.DEBUG = True
    old_key = printed_key(seed())
    new_key = printed_key(seed())

    response = key_client(new_key).get("/api/v1/companies/acme/teams/")
    revoked = key_client(old_key).get("/api/v1/companies/acme/teams/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert sorted(team["name"] for team in body["results"]) == DEMO_TEAMS
    assert revoked.status_code == 401
    assert revoked.json()["detail"] == "This API key has been revoked."


def test_seed_refuses_without_debug(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        seed()

    assert not Company.objects.filter(slug="acme").exists()
    assert not User.objects.filter(email="demo@example.com").exists()


def test_seed_runs_without_debug_when_forced(db, settings):
    settings.DEBUG = False

    output = seed("--force")

    assert demo_state()["teams"] == DEMO_TEAMS
    assert printed_key(output)


def test_seed_leaves_other_companies_alone(cast, settings):
    settings.DEBUG = True
    alpha_keys = set(APIKey.objects.filter(company=cast.company_a).values_list("pk", "revoked_at"))

    seed()
    seed()

    assert set(APIKey.objects.filter(company=cast.company_a).values_list("pk", "revoked_at")) == alpha_keys
    assert list(Team.objects.filter(company=cast.company_a).values_list("name", flat=True)) == ["Alpha Checkout"]
    assert Membership.objects.filter(company=cast.company_a).count() == 5


def test_seed_demo_writes_the_strategy_once(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    company = Company.objects.get(slug="acme")
    counts = {
        model.__name__: model.objects.for_company(company).count()
        for model in (IdentityVersion, SwotItem, Strategy, Investment, BusinessOutcome, Measurement)
    }
    assert counts == {
        "IdentityVersion": 2,
        "SwotItem": 6,
        "Strategy": 3,
        "Investment": 8,
        "BusinessOutcome": 4,
        "Measurement": 32,
    }
    assert [v.number for v in IdentityVersion.objects.for_company(company)] == [2, 1]
    assert Strategy.objects.for_company(company).filter(status="active").count() == 2

"""Load the demo company. Safe to run again: it converges on the same data.

Every run revokes the previous demo API key and issues a new one, because a
key is only ever shown when it is created.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.module_loading import import_string

from outcomes.choices import APIKeyScope, Role, TeamTopology
from outcomes.models import APIKey, Company, Membership, Team, TeamMembership, User
from outcomes.services.api_keys import api_key_create, api_key_revoke
from outcomes.services.companies import company_create
from outcomes.services.teams import team_create, team_member_add, team_update

DEMO_SLUG = "acme"
DEMO_PASSWORD = "outcomes-demo-2026"  # noqa: S105 - demo data, refused outside DEBUG
DEMO_KEY_NAME = "Demo integration"

PEOPLE = [
    ("demo@example.com", "Dana Demo", Role.OWNER),
    ("erin.exec@example.com", "Erin Executive", Role.EXECUTIVE),
    ("paul.pm@example.com", "Paul Product", Role.MEMBER),
    ("lena.lead@example.com", "Lena Lead", Role.MEMBER),
    ("pat.platform@example.com", "Pat Platform", Role.MEMBER),
    ("vic.viewer@example.com", "Vic Viewer", Role.VIEWER),
]

TEAMS = [
    ("Checkout", TeamTopology.STREAM_ALIGNED, "lena.lead@example.com", ["paul.pm@example.com"], Decimal("84000")),
    ("Platform", TeamTopology.PLATFORM, "pat.platform@example.com", [], Decimal("61000")),
    ("Data Enablement", TeamTopology.ENABLING, "erin.exec@example.com", [], Decimal("23000")),
]


class Command(BaseCommand):
    help = "Create or refresh the demo company, its people and teams, and issue a demo API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off (never in production).")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the service answers, for the hint."
        )

    def handle(self, *args: Any, force: bool = False, base_url: str = "http://127.0.0.1:8000", **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates a known password; it runs only with DEBUG on (or --force).")
        with transaction.atomic():
            people = {email: self._person(email, name) for email, name, _ in PEOPLE}
            company = self._company(people["demo@example.com"])
            for email, _, role in PEOPLE:
                Membership.objects.update_or_create(company=company, user=people[email], defaults={"role": role})
            for name, topology, lead, members, cost in TEAMS:
                self._team(company, name, topology, people[lead], [people[m] for m in members], cost)
            for seeder in settings.DEMO_SEEDERS:
                import_string(seeder)(company, people)
            raw_key = self._fresh_key(company, people["demo@example.com"])
        self.stdout.write(
            f"Demo company '{company.name}' ready.\n"
            f"  Sign in (admin, browsable API): demo@example.com / {DEMO_PASSWORD}\n"
            f"  API key (write scope):          {raw_key}\n"
            f"  Try: curl -H 'Authorization: Bearer {raw_key}' {base_url}/api/v1/companies/{DEMO_SLUG}/teams/"
        )

    def _person(self, email: str, name: str) -> User:
        user = User.objects.filter(email__iexact=email).first() or User(email=email)
        user.full_name, user.is_active = name, True
        user.is_staff = user.is_superuser = email == "demo@example.com"  # the demo sign-in may use the admin
        user.set_password(DEMO_PASSWORD)  # the password printed below always works
        user.save()
        return user

    def _company(self, owner: User) -> Company:
        existing = Company.objects.filter(slug=DEMO_SLUG).first()
        if existing is not None:
            return existing
        return company_create(name="Acme Analytics", slug=DEMO_SLUG, timezone="Europe/Berlin", owner=owner)

    def _team(self, company: Company, name: str, topology: str, lead: User, members: list[User], cost: Decimal) -> None:
        fields: dict[str, Any] = {"topology": topology, "lead": lead, "monthly_cost": cost, "cost_currency": "EUR"}
        team = Team.objects.for_company(company).filter(name__iexact=name).first()
        if team is None:
            team_create(company=company, name=name, members=members, **fields)
            return
        team_update(team=team, name=name, **fields)
        for member in members:
            if not TeamMembership.objects.filter(team=team, user=member).exists():
                team_member_add(team=team, user=member)

    def _fresh_key(self, company: Company, owner: User) -> str:
        for old in APIKey.objects.for_company(company).filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
            api_key_revoke(api_key=old, revoked_by=owner)
        issued = api_key_create(company=company, name=DEMO_KEY_NAME, scope=APIKeyScope.WRITE, created_by=owner)
        return issued.raw

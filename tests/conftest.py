"""The test cast and the rules for tests that need real services.

The cast: company A with an owner, a member and a viewer (plus an admin and an
executive for role tests), company B with its owner, and some data in both.
Tests marked ``postgres`` or ``redis`` skip with a reason when the service is
not configured; with ``CI=true`` every skip is a failure instead.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import Model
from django.utils import timezone
from rest_framework.test import APIClient

from epics.models import SuccessMetric
from epics.services import anticipated_outcome_set, contribution_set, epic_create, epic_transition
from okrs.services import (
    check_in_record,
    cycle_close,
    cycle_create,
    key_result_create,
    objective_create,
)
from outcomes.choices import APIKeyScope, Direction, OutcomeCategory, Role, StrategyStatus, SwotKind
from outcomes.models import Company, Team, User
from outcomes.services.api_keys import api_key_create
from outcomes.services.business_outcomes import business_outcome_create, measurement_record
from outcomes.services.identity import identity_update
from outcomes.services.strategy import investment_create, strategy_create, swot_item_create
from outcomes.services.teams import team_create
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

pytest_plugins = ["tests.fake_slack"]  # the fake_slack fixture

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_missing(name: str) -> str | None:
    """Why a service-backed test cannot run here, or None if it can."""
    if name == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if name == "redis" and not os.environ.get("REDIS_URL"):
        return "needs Redis: set REDIS_URL=redis://..."
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name in ("postgres", "redis"):
        if item.get_closest_marker(name) and (reason := service_missing(name)):
            pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which needs every service: {report.longrepr}"


# DNS is the edge of the outside world (and CI has no network): names resolve from this table.
FAKE_DNS = {
    "alpha.atlassian.net": ["104.192.141.1"],
    "bravo.atlassian.net": ["104.192.141.2"],
    "acme.atlassian.net": ["104.192.141.3"],
    "api.github.com": ["140.82.112.6"],
    "gitlab.com": ["172.65.251.78"],
    "gitlab.acme.example": ["93.184.216.34"],
    "api.linear.app": ["104.18.30.46"],
    "hooks.slack.com": ["54.192.7.10"],
    "hooks.alpha.example": ["93.184.216.35"],
    "hooks.bravo.example": ["93.184.216.36"],
    "intranet.acme.example": ["10.0.0.5"],
    "rebind.acme.example": ["93.184.216.34", "127.0.0.1"],
    "v6.acme.example": ["2606:4700::6812:1e2e"],
    "v6-local.acme.example": ["fd00::1"],
}


def fake_resolve(host: str) -> list[str]:
    if host not in FAKE_DNS:
        raise OSError(f"unknown host {host}")
    return FAKE_DNS[host]


@pytest.fixture(autouse=True)
def _fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("integrations.netsafety.resolve", fake_resolve)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@dataclass
class Cast:
    company_a: Company
    company_b: Company
    owner_a: User
    admin_a: User
    executive_a: User
    member_a: User
    viewer_a: User
    owner_b: User
    member_b: User
    team_a: Team
    team_b: Team
    raw_key_a: str
    raw_key_b: str
    by_role_a: dict[str, User] = field(default_factory=dict)
    strategic_a: dict[str, Any] = field(default_factory=dict)  # identity, swot, outcome, strategy, investment
    strategic_b: dict[str, Any] = field(default_factory=dict)

    def of(self, company: str) -> dict[str, Any]:
        """Company A's or B's strategic rows by name."""
        return self.strategic_a if company == "a" else self.strategic_b

    def markers_of_a(self) -> list[str]:
        """Strings that only company A's data contains: none may appear in B's responses."""
        people = [self.owner_a, self.admin_a, self.executive_a, self.member_a, self.viewer_a]
        rows = self.strategic_a
        names = ("swot", "gap", "strategy", "outcome", "objective", "key_result", "epic", "done_epic")
        texts = [rows[name].title for name in names] + [rows["connection"].base_url]
        texts += [rows["identity"].mission, rows["cycle"].name]
        return [self.company_a.name, self.company_a.slug, self.team_a.name, *(p.email for p in people), *texts]


def _member(company: Company, role: str, email: str, name: str) -> User:
    user = UserFactory(email=email, full_name=name)
    MembershipFactory(user=user, company=company, role=role)
    return user


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """Build the cast once per test database; each test's transaction rolls its own changes back."""
    with django_db_blocker.unblock():
        _SESSION_CAST.append(_reload(_pointers(build_cast())))  # read back: the rows as stored


_SESSION_CAST: list[Cast] = []


@pytest.fixture
def cast(db: None) -> Cast:
    """The cast as the database holds it at the start of every test: a copy of the rows read once per
    session (each test's changes are rolled back), or built afresh after a transactional test's flush."""
    pristine = _SESSION_CAST[0] if _SESSION_CAST else None
    if pristine is None or not Company.objects.filter(pk=pristine.company_a.pk).exists():
        return build_cast()
    return copy.deepcopy(pristine)


def _pointers(cast: Cast) -> dict[str, Any]:
    """What it takes to reload the cast: (model, pk) of every row in it, and the raw keys."""
    pointers: dict[str, Any] = {}
    for name, value in vars(cast).items():
        if isinstance(value, Model):
            pointers[name] = (type(value), value.pk)
        elif name in {"by_role_a", "strategic_a", "strategic_b"}:
            pointers[name] = {key: (type(row), row.pk) for key, row in value.items()}
        else:
            pointers[name] = value
    return pointers


def _reload(pointers: dict[str, Any]) -> Cast:
    fields: dict[str, Any] = {}
    for name, value in pointers.items():
        if isinstance(value, tuple):
            fields[name] = value[0].objects.get(pk=value[1])
        elif isinstance(value, dict):
            fields[name] = {key: model.objects.get(pk=pk) for key, (model, pk) in value.items()}
        else:
            fields[name] = value
    return Cast(**fields)


def build_cast() -> Cast:
    a = CompanyFactory(name="Alpha Analytics", slug="alpha")
    b = CompanyFactory(name="Bravo Biotech", slug="bravo")
    people_a = {
        role: _member(a, role, f"{role}.alpha@example.test", f"Alpha {role.title()}")
        for role in (Role.OWNER, Role.ADMIN, Role.EXECUTIVE, Role.MEMBER, Role.VIEWER)
    }
    owner_b = _member(b, Role.OWNER, "owner.bravo@example.test", "Bravo Owner")
    member_b = _member(b, Role.MEMBER, "member.bravo@example.test", "Bravo Member")
    team_a = team_create(company=a, name="Alpha Checkout", lead=people_a[Role.MEMBER], members=[people_a[Role.MEMBER]])
    team_b = team_create(company=b, name="Bravo Lab", lead=member_b, members=[member_b])
    key_a = api_key_create(company=a, name="Alpha CI", scope=APIKeyScope.WRITE, created_by=people_a[Role.OWNER])
    key_b = api_key_create(company=b, name="Bravo CI", scope=APIKeyScope.WRITE, created_by=owner_b)
    strategic_a = _strategic_rows(a, "Alpha", people_a[Role.OWNER], team_a)
    strategic_b = _strategic_rows(b, "Bravo", owner_b, team_b)
    strategic_a |= _okr_rows(a, "Alpha", people_a[Role.OWNER], people_a[Role.MEMBER], team_a, strategic_a)
    strategic_b |= _okr_rows(b, "Bravo", owner_b, member_b, team_b, strategic_b)
    strategic_a |= _epic_rows(a, "Alpha", people_a[Role.MEMBER], team_a, strategic_a)
    strategic_b |= _epic_rows(b, "Bravo", member_b, team_b, strategic_b)
    strategic_a["connection"] = _connection(a, "alpha", people_a[Role.OWNER])
    strategic_b["connection"] = _connection(b, "bravo", owner_b)
    strategic_a["sync_run"] = strategic_a["connection"].sync_runs.get()
    strategic_b["sync_run"] = strategic_b["connection"].sync_runs.get()
    strategic_a["webhook_delivery"] = strategic_a["connection"].webhook_deliveries.get()
    strategic_b["webhook_delivery"] = strategic_b["connection"].webhook_deliveries.get()
    strategic_a |= _notification_rows(a, "alpha", people_a[Role.MEMBER], strategic_a)
    strategic_b |= _notification_rows(b, "bravo", member_b, strategic_b)
    return Cast(
        company_a=a,
        company_b=b,
        owner_a=people_a[Role.OWNER],
        admin_a=people_a[Role.ADMIN],
        executive_a=people_a[Role.EXECUTIVE],
        member_a=people_a[Role.MEMBER],
        viewer_a=people_a[Role.VIEWER],
        owner_b=owner_b,
        member_b=member_b,
        team_a=team_a,
        team_b=team_b,
        raw_key_a=key_a.raw,
        raw_key_b=key_b.raw,
        by_role_a={str(role): user for role, user in people_a.items()},
        strategic_a=strategic_a,
        strategic_b=strategic_b,
    )


def _strategic_rows(company: Company, name: str, owner: User, team: Team) -> dict[str, Any]:
    """Identity, a SWOT threat, a business outcome with a measurement, an active strategy and an investment."""
    identity = identity_update(
        company=company,
        mission=f"{name} mission: shops sell more",
        vision=f"{name} vision",
        values=[{"name": "Candour", "description": "Say it."}],
        author=owner,
    )
    swot = swot_item_create(company=company, kind=SwotKind.THREAT, title=f"{name} rival", impact=4, owner=owner)
    gap = swot_item_create(
        company=company, kind=SwotKind.WEAKNESS, title=f"{name} slow onboarding", impact=3, owner=owner
    )
    outcome = business_outcome_create(
        company=company,
        title=f"{name} conversion",
        category=OutcomeCategory.REVENUE,
        metric_name="Checkout conversion",
        unit="%",
        direction=Direction.INCREASE,
        baseline=Decimal(60),
        target=Decimal(70),
        target_date=date(2026, 12, 31),
        owner=owner,
    )
    measurement_record(outcome=outcome, value=Decimal(62), author=owner)
    strategy = strategy_create(
        company=company,
        title=f"{name} one-click checkout",
        horizon_start=date(2026, 1, 1),
        horizon_end=date(2027, 12, 31),
        status=StrategyStatus.ACTIVE,
        owner=owner,
        swot_items=[swot],
        business_outcomes=[outcome],
    )
    investment = investment_create(
        company=company,
        strategy=strategy,
        team=team,
        amount=Decimal("1000.00"),
        currency="EUR",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 3, 31),
    )
    return {
        "identity": identity,
        "swot": swot,
        "gap": gap,  # a weakness no strategy addresses
        "outcome": outcome,
        "strategy": strategy,
        "investment": investment,
    }


@pytest.fixture
def client_for() -> Callable[[User | None], APIClient]:
    """An API client signed in as a person through a real session (or anonymous)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def key_client() -> Callable[[str], APIClient]:
    """An API client that sends ``Authorization: Bearer <key>``."""

    def make(raw_key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return make


def _okr_rows(
    company: Company, name: str, owner: User, member: User, team: Team, strategic: dict[str, Any]
) -> dict[str, Any]:
    """An active quarter with a company objective, a team objective under it and a key result with a check-in,
    and a closed quarter with one objective owned by the member."""
    cycle = cycle_create(
        company=company, name=f"{name} 2026 Q4", start=date(2026, 10, 1), end=date(2026, 12, 31), status="active"
    )
    objective = objective_create(
        company=company,
        cycle=cycle,
        title=f"{name} wins mid-size shops",
        owner=owner,
        strategies=[strategic["strategy"]],
        business_outcomes=[strategic["outcome"]],
        anticipated_business_outcome=strategic["outcome"],
    )
    team_objective = objective_create(
        company=company,
        cycle=cycle,
        title=f"{name} effortless checkout",
        level="team",
        team=team,
        owner=member,
        parent=objective,
    )
    key_result = key_result_create(
        company=company,
        objective=team_objective,
        title=f"{name} conversion to 70",
        owner=member,
        kind="increase_to",
        baseline=Decimal(60),
        target=Decimal(70),
    )
    check_in_record(key_result=key_result, value=Decimal(64), confidence=Decimal("0.6"), author=member)
    closed = cycle_create(company=company, name=f"{name} 2026 Q2", start=date(2026, 4, 1), end=date(2026, 6, 30))
    closed_objective = objective_create(
        company=company, cycle=closed, title=f"{name} closed quarter goal", level="team", team=team, owner=member
    )
    cycle_close(cycle=closed)
    return {
        "cycle": cycle,
        "objective": objective,
        "team_objective": team_objective,
        "key_result": key_result,
        "closed_cycle": closed,
        "closed_objective": closed_objective,
    }


CONVERSION_METRIC = {
    "name": "Checkout conversion",
    "unit": "%",
    "direction": "increase",
    "baseline": Decimal("61.5"),
    "target": Decimal("66"),
    "data_source": "BI funnel",
    "window_days": 30,
}


def _epic_rows(company: Company, name: str, member: User, team: Team, rows: dict[str, Any]) -> dict[str, Any]:
    """An epic in progress and one delivered (its review pending), both owned by the member and serving the KR."""
    made: dict[str, Any] = {}
    for key, title, final in (
        ("epic", f"{name} one-click pay", "in_progress"),
        ("done_epic", f"{name} saved cards", "done"),
    ):
        epic = epic_create(company=company, title=title, team=team, owner=member, actor=member)
        anticipated_outcome_set(
            epic=epic,
            problem="Carts are lost at payment.",
            expected_results="More orders.",
            metrics=[CONVERSION_METRIC],
        )
        contribution_set(epic=epic, key_result=rows["key_result"], expected_contribution=Decimal(2))
        epic_transition(epic=epic, to_status="in_progress", actor=member)
        if final == "done":
            epic_transition(epic=epic, to_status="done", actor=member)
        epic.refresh_from_db()
        made[key] = epic
    made["done_epic_metric"] = SuccessMetric.objects.get(anticipated_outcome__epic=made["done_epic"])
    return made


def _notification_rows(company: Company, name: str, member: User, rows: dict[str, Any]) -> dict[str, Any]:
    """A reminder sent to the member, a Slack webhook, an outbound endpoint and one event it received."""
    import uuid

    from integrations.models import OutboundDelivery, Reminder, SlackWebhook, WebhookEndpoint
    from integrations.secrets import encrypt

    review = rows["done_epic"].reviews.get()
    now = timezone.now()
    reminder = Reminder.objects.create(
        company=company,
        kind="review_due",
        subject=f"review:{review.pk}",
        review=review,
        due_on=review.due_at.date(),
        recipient=member,
        status="sent",
        attempts=1,
        sent_at=now,
    )
    url = f"https://hooks.slack.invalid/services/T0{name.upper()}/B000/XXXXXXXXXXXXXXXXXXXX"  # resolves nowhere
    slack = SlackWebhook.objects.create(company=company, url_encrypted=encrypt({"url": url}), url_hint="…XXXX")
    endpoint = WebhookEndpoint.objects.create(
        company=company,
        url=f"https://hooks.{name}.invalid/okr",  # resolves nowhere: nothing leaves the machine
        description=f"{name.title()} data warehouse",
        secret_encrypted=encrypt({"secret": f"whsec_{name}-secret"}),
    )
    delivery = OutboundDelivery.objects.create(
        company=company,
        endpoint=endpoint,
        event="outcome.due",
        event_id=uuid.uuid4(),
        key=f"outcome.due:review:{review.pk}:{review.due_at.date()}",
        payload={"id": "", "event": "outcome.due"},
        status="sent",
        attempts=1,
        response_status=200,
        sent_at=now,
    )
    return {"reminder": reminder, "slack_webhook": slack, "webhook_endpoint": endpoint, "outbound_delivery": delivery}


def _connection(company: Company, name: str, owner: User) -> Any:
    """A Jira connection (made directly: the cast is built before any test can fake DNS)."""
    from integrations.models import Connection
    from integrations.secrets import encrypt
    from integrations.status_maps import DEFAULTS

    connection = Connection.objects.create(
        company=company,
        name=f"{name.title()} Jira",
        kind="jira",
        base_url=f"https://{name}.atlassian.net",
        credentials_encrypted=encrypt({"email": f"bot@{name}.example", "api_token": f"{name}-jira-token-0123456789"}),
        credential_hint="…6789",
        scope={"jql": "issuetype = Epic"},
        status_map=DEFAULTS["jira"],
        default_owner=owner,
    )
    now = timezone.now()
    connection.sync_runs.create(status="succeeded", started_at=now, finished_at=now, fetched=3)
    connection.webhook_deliveries.create(
        delivery_id=f"{name}-delivery-1",
        event="jira:issue_updated",
        payload={"webhookEvent": "jira:issue_updated", "issue": {"id": "10001", "key": f"{name.upper()}-1"}},
        status="processed",
        detail="Re-read from the tracker: unchanged.",
        processed_at=now,
    )
    return connection

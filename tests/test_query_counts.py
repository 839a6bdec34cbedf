"""Every list endpoint runs a fixed number of queries, whatever the page size.

The pinned numbers are the contract (documented in docs/api.md); a change that
adds a query per row, or a new fixed query, fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from epics.models import Contribution, Epic, StatusChange
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from outcomes.choices import APIKeyScope, Role
from outcomes.services.api_keys import api_key_create
from outcomes.services.business_outcomes import business_outcome_create, measurement_record
from outcomes.services.identity import identity_update
from outcomes.services.strategy import investment_create, strategy_create, swot_item_create
from outcomes.services.teams import team_create
from tests.api_routes import api_routes, view_of
from tests.conftest import Cast
from tests.factories import CompanyFactory, MembershipFactory, UserFactory


def _members(cast: Cast, n: int) -> None:
    for _ in range(n):
        MembershipFactory(company=cast.company_a, role=Role.MEMBER)


def _teams(cast: Cast, n: int) -> None:
    for i in range(n):
        people = [UserFactory(), UserFactory()]
        for person in people:
            MembershipFactory(company=cast.company_a, user=person)
        team_create(company=cast.company_a, name=f"Squad {i}", lead=people[0], members=people)


def _keys(cast: Cast, n: int) -> None:
    for i in range(n):
        api_key_create(company=cast.company_a, name=f"key {i}", scope=APIKeyScope.READ, created_by=cast.owner_a)


def _companies(cast: Cast, n: int) -> None:
    for _ in range(n):
        MembershipFactory(company=CompanyFactory(), user=cast.owner_a, role=Role.VIEWER)


def _versions(cast: Cast, n: int) -> None:
    for i in range(n):
        identity_update(company=cast.company_a, mission=f"Mission {i}", vision="v", values=[], author=cast.owner_a)


def _swot(cast: Cast, n: int) -> None:
    strategy = cast.strategic_a["strategy"]
    for i in range(n):
        item = swot_item_create(company=cast.company_a, kind="threat", title=f"T{i}", impact=2, owner=cast.owner_a)
        if i % 2:
            strategy.swot_items.add(item)


def _threats(cast: Cast, n: int) -> None:
    for i in range(n):
        swot_item_create(company=cast.company_a, kind="weakness", title=f"W{i}", impact=3, owner=cast.owner_a)


def _strategies(cast: Cast, n: int) -> None:
    rows = cast.strategic_a
    for i in range(n):
        strategy_create(
            company=cast.company_a,
            title=f"S{i}",
            horizon_start=date(2026, 1, 1),
            horizon_end=date(2026, 12, 31),
            owner=cast.owner_a,
            swot_items=[rows["swot"]],
            business_outcomes=[rows["outcome"]],
        )


def _investments(cast: Cast, n: int) -> None:
    for i in range(n):
        investment_create(
            company=cast.company_a,
            strategy=cast.strategic_a["strategy"],
            team=cast.team_a if i % 2 else None,
            amount=Decimal(i),
            currency="EUR",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 3, 31),
        )


def _outcomes(cast: Cast, n: int) -> None:
    for i in range(n):
        outcome = business_outcome_create(
            company=cast.company_a,
            title=f"O{i}",
            category="revenue",
            metric_name="m",
            direction="increase",
            baseline=Decimal(0),
            target=Decimal(10),
            target_date=date(2026, 12, 31),
            owner=cast.owner_a,
        )
        measurement_record(outcome=outcome, value=Decimal(i % 10))
        cast.strategic_a["strategy"].business_outcomes.add(outcome)


def _measurements(cast: Cast, n: int) -> None:
    for i in range(n):
        measurement_record(outcome=cast.strategic_a["outcome"], value=Decimal(i), author=cast.member_a)


def _outcome_path(cast: Cast) -> str:
    return f"/api/v1/companies/alpha/business-outcomes/{cast.strategic_a['outcome'].pk}/measurements/"


def _cycles(cast: Cast, n: int) -> None:
    for i in range(n):
        Cycle.objects.create(company=cast.company_a, name=f"C{i}", start=date(2027, 1, 1), end=date(2027, 3, 31))


def _objectives(cast: Cast, n: int) -> None:
    rows = cast.strategic_a
    for i in range(n):
        objective = Objective.objects.create(
            company=cast.company_a, cycle=rows["cycle"], title=f"O{i}", owner=cast.owner_a, parent=rows["objective"]
        )
        objective.strategies.add(rows["strategy"])
        objective.business_outcomes.add(rows["outcome"])


def _key_results(cast: Cast, n: int) -> None:
    due = cast.strategic_a["key_result"].next_checkin_due
    for i in range(n):
        KeyResult.objects.create(
            company=cast.company_a,
            objective=cast.strategic_a["team_objective"],
            title=f"K{i}",
            owner=cast.member_a,
            kind="milestone",
            target=1,
            next_checkin_due=due,
        )


def _check_ins(cast: Cast, n: int) -> None:
    for i in range(n):
        CheckIn.objects.create(key_result=cast.strategic_a["key_result"], value=Decimal(i), author=cast.member_a)


def _check_ins_path(cast: Cast) -> str:
    return f"/api/v1/companies/alpha/key-results/{cast.strategic_a['key_result'].pk}/check-ins/"


def _epics(cast: Cast, n: int) -> None:
    for i in range(n):
        epic = Epic.objects.create(company=cast.company_a, title=f"E{i}", owner=cast.member_a, team=cast.team_a)
        Contribution.objects.create(epic=epic, key_result=cast.strategic_a["key_result"])


def _status_changes(cast: Cast, n: int) -> None:
    epic = cast.strategic_a["epic"]
    for i in range(n):
        StatusChange.objects.create(
            epic=epic,
            from_status="planned",
            to_status="planned",
            at=timezone.now(),
            reason=f"r{i}",
            actor=cast.member_a,
        )


def _connections(cast: Cast, n: int) -> None:
    from integrations.models import Connection

    for i in range(n):
        Connection.objects.create(
            company=cast.company_a,
            name=f"C{i}",
            kind="linear",
            base_url="https://api.linear.app",
            credentials_encrypted="x",
            default_owner=cast.owner_a,
        )


def _sync_runs(cast: Cast, n: int) -> None:
    connection = cast.strategic_a["connection"]
    for _ in range(n):
        connection.sync_runs.create(status="failed", error="x")


def _deliveries(cast: Cast, n: int) -> None:
    connection = cast.strategic_a["connection"]
    for index in range(n):
        connection.webhook_deliveries.create(delivery_id=f"budget-{index}", event="issues", payload={"n": index})


def _reminders(cast: Cast, n: int) -> None:
    from integrations.models import Reminder

    review = cast.strategic_a["reminder"].review
    Reminder.objects.bulk_create(
        Reminder(
            company=cast.company_a,
            kind="review_due",
            subject=f"review:{review.pk}",
            review=review,
            due_on=date(2026, 1, 1) + timedelta(days=index),
            recipient=cast.member_a,
        )
        for index in range(n)
    )


def _slack_webhooks(cast: Cast, n: int) -> None:
    from integrations.models import SlackWebhook
    from outcomes.models import Team

    for index in range(n):
        team = Team.objects.create(company=cast.company_a, name=f"Budget team {index}")
        SlackWebhook.objects.create(company=cast.company_a, team=team, url_encrypted="x", url_hint="…abcd")


def _endpoints(cast: Cast, n: int) -> None:
    from integrations.models import WebhookEndpoint

    for index in range(n):
        WebhookEndpoint.objects.create(
            company=cast.company_a, url=f"https://hooks.alpha.example/{index}", secret_encrypted="x"
        )


def _outbound(cast: Cast, n: int) -> None:
    import uuid

    from integrations.models import OutboundDelivery

    endpoint = cast.strategic_a["webhook_endpoint"]
    for index in range(n):
        OutboundDelivery.objects.create(
            company=cast.company_a, endpoint=endpoint, event="ping", event_id=uuid.uuid4(), key=f"ping:{index}"
        )


def _history_path(cast: Cast) -> str:
    return f"/api/v1/companies/alpha/epics/{cast.strategic_a['epic'].pk}/status-history/"


A = "/api/v1/companies/alpha"

# list route -> (path, how to add n rows, queries with a signed-in person)
# session + user (2), membership (1), count (1), page (1), then joins and prefetches; a list read by cursor
# has no count.
LISTS: dict[str, tuple[str | Callable[[Cast], str], Callable[[Cast, int], None], int]] = {
    "v1:companies": ("/api/v1/companies/", _companies, 4),
    "v1:member-list": (f"{A}/members/", _members, 5),
    "v1:team-list": (f"{A}/teams/", _teams, 6),
    "v1:api-key-list": (f"{A}/api-keys/", _keys, 5),
    "v1:identity-version-list": (f"{A}/identity/versions/", _versions, 5),
    "v1:swot-item-list": (f"{A}/swot-items/", _swot, 6),  # + strategies
    "v1:swot-item-unaddressed": (f"{A}/swot-items/unaddressed/", _threats, 6),
    "v1:strategy-list": (f"{A}/strategies/", _strategies, 7),  # + swot items + business outcomes
    "v1:investment-list": (f"{A}/investments/", _investments, 5),
    "v1:business-outcome-list": (f"{A}/business-outcomes/", _outcomes, 6),  # + strategies
    "v1:business-outcome-measurements": (_outcome_path, _measurements, 5),  # + the outcome itself; cursor
    "v1:cycle-list": (f"{A}/cycles/", _cycles, 5),
    "v1:objective-list": (f"{A}/objectives/", _objectives, 5),  # strategy and outcome ids read with the page
    "v1:key-result-list": (f"{A}/key-results/", _key_results, 5),
    "v1:key-result-check-ins": (_check_ins_path, _check_ins, 5),  # + the key result itself; cursor
    "v1:epic-list": (f"{A}/epics/", _epics, 7),  # cursor + contributions + live reviews + anticipated outcomes
    "v1:connection-list": (f"{A}/connections/", _connections, 5),
    "v1:sync-run-list": (f"{A}/sync-runs/", _sync_runs, 4),  # cursor
    "v1:webhook-delivery-list": (f"{A}/webhook-deliveries/", _deliveries, 4),  # cursor
    "v1:reminder-list": (f"{A}/reminders/", _reminders, 4),  # cursor
    "v1:slack-webhook-list": (f"{A}/slack-webhooks/", _slack_webhooks, 5),
    "v1:webhook-endpoint-list": (f"{A}/webhook-endpoints/", _endpoints, 5),
    "v1:outbound-delivery-list": (f"{A}/outbound-deliveries/", _outbound, 4),  # cursor
    "v1:epic-status-history": (_history_path, _status_changes, 5),  # + the epic itself; cursor
    "v1:key-results-without-epics": (f"{A}/alignment/key-results-without-epics/", _key_results, 5),
    "v1:objectives-without-epics": (f"{A}/alignment/objectives-without-epics/", _objectives, 5),
}


def _is_paginated_list(route) -> bool:
    view_class, action = view_of(route)
    return route.method == "GET" and action in getattr(view_class, "paginated_actions", set())


def test_every_list_endpoint_has_a_query_budget():
    lists = {r.name for r in api_routes() if _is_paginated_list(r)} | {"v1:companies"}
    assert lists == set(LISTS)


def _count_queries(client, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"page_size": 50})
    assert response.status_code == 200, response.content[:200]
    return len(queries), len(response.json()["results"])


@pytest.mark.parametrize("name", sorted(LISTS))
def test_list_queries_do_not_grow_with_rows(name: str, cast: Cast, client_for):
    path_or_maker, add_rows, budget = LISTS[name]
    path = path_or_maker if isinstance(path_or_maker, str) else path_or_maker(cast)
    client = client_for(cast.owner_a)
    few_queries, few_rows = _count_queries(client, path)
    if few_rows == 0:  # the cast has no such row: measure with one
        add_rows(cast, 1)
        few_queries, few_rows = _count_queries(client, path)
    add_rows(cast, 50)
    many_queries, many_rows = _count_queries(client, path)
    assert many_rows == 50 and few_rows >= 1
    assert few_queries == many_queries == budget


def test_filters_do_not_add_queries_per_row(cast: Cast, client_for):
    _teams(cast, 20)
    client = client_for(cast.owner_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            "/api/v1/companies/alpha/teams/", {"page_size": 50, "member_id": cast.member_a.pk, "q": "a"}
        )
    assert response.status_code == 200
    assert [team["name"] for team in response.json()["results"]] == ["Alpha Checkout"]
    # one extra query: the id filter looks up the person it names (and checks they are in the company)
    assert len(queries) == LISTS["v1:team-list"][2] + 1


def test_api_key_requests_cost_one_lookup(cast: Cast, key_client):
    client = key_client(cast.raw_key_a)
    client.get("/api/v1/companies/alpha/teams/")  # first use records last_used_at
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/companies/alpha/teams/", {"page_size": 50})
    assert response.status_code == 200
    # key lookup (with company) + count + page + prefetch; no membership query for keys
    assert len(queries) == 4, [q["sql"][:80] for q in queries]

"""The epics API as its users rely on it: validation, who may write, filters, cost, the trace and alignment gaps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from epics.choices import ChangeSource, ReviewState
from epics.models import AnticipatedOutcome, Contribution, Epic, OutcomeReview, SuccessMetric
from epics.services import (
    anticipated_outcome_set,
    contribution_set,
    epic_create,
    epic_transition,
    result_record,
    review_waive,
)
from okrs.models import Cycle, KeyResult, Objective
from okrs.services import cycle_create, key_result_create, objective_create, objective_update
from outcomes.models import APIKey, Team, User
from outcomes.services.business_outcomes import business_outcome_create
from outcomes.services.strategy import strategy_update
from outcomes.services.teams import team_create
from tests.conftest import CONVERSION_METRIC, Cast
from tests.factories import UserFactory

A = "/api/v1/companies/alpha"
EPICS = f"{A}/epics/"
KR_GAPS = f"{A}/alignment/key-results-without-epics/"
OBJECTIVE_GAPS = f"{A}/alignment/objectives-without-epics/"
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)

Client = Callable[[User | None], APIClient]


# --- helpers -------------------------------------------------------------------------
def epic_url(epic: Epic | int, suffix: str = "") -> str:
    return f"{EPICS}{epic if isinstance(epic, int) else epic.pk}/{suffix}"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def invalid(response: Any) -> dict[str, list[str]]:
    """The fields a 400 in the one error shape names."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["status"], body["code"], body["detail"]) == (400, "invalid", "Invalid input.")
    return body["fields"]


def forbidden(response: Any) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["status"] == 403


def ids(response: Any) -> list[int]:
    return [row["id"] for row in ok(response)["results"]]


def make_epic(cast: Cast, title: str, **fields: Any) -> Epic:
    fields.setdefault("owner", cast.member_a)
    return epic_create(company=cast.company_a, title=title, actor=fields["owner"], **fields)


def with_outcome(epic: Epic, window_days: int = 30) -> Epic:
    metric = {**CONVERSION_METRIC, "window_days": window_days}
    anticipated_outcome_set(epic=epic, problem="Carts are lost.", expected_results="More orders.", metrics=[metric])
    return epic


def moved(epic: Epic, *statuses: str) -> Epic:
    for status in statuses:
        epic_transition(epic=epic, to_status=status, actor=epic.owner)
    epic.refresh_from_db()
    return epic


def make_key_result(cast: Cast, title: str, objective: Objective | None = None) -> KeyResult:
    return key_result_create(
        company=cast.company_a,
        objective=objective or cast.strategic_a["team_objective"],
        title=title,
        owner=cast.member_a,
        kind="increase_to",
        baseline=Decimal(0),
        target=Decimal(10),
    )


def metric_body(**changes: Any) -> dict[str, Any]:
    metric = {
        "name": "Checkout conversion",
        "unit": "%",
        "direction": "increase",
        "baseline": "61.5",
        "target": "66",
        "window_days": 30,
    }
    return {**metric, **changes}


def outcome_body(**changes: Any) -> dict[str, Any]:
    body = {"problem": "Carts are lost at payment.", "expected_results": "More orders.", "metrics": [metric_body()]}
    return {**body, **changes}


# --- create and update ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(
            lambda c: {"owner": UserFactory().pk}, "owner", id="owner-of-no-company"
        ),  # a person of no company
        pytest.param(lambda c: {"owner": c.owner_b.pk}, "owner", id="owner-of-company-b"),
        pytest.param(lambda c: {"reviewer": c.member_b.pk}, "reviewer", id="reviewer-of-company-b"),
        pytest.param(lambda c: {"team": c.team_b.pk}, "team", id="team-of-company-b"),
        pytest.param(lambda c: {"cost_estimate": "1000.00"}, "cost_currency", id="estimate-without-currency"),
        pytest.param(lambda c: {"cost_currency": "EUR"}, "cost_estimate", id="currency-without-estimate"),
        pytest.param(
            lambda c: {"cost_estimate": "-1.00", "cost_currency": "EUR"}, "cost_estimate", id="negative-estimate"
        ),
        pytest.param(
            lambda c: {"cost_estimate": "1.005", "cost_currency": "EUR"},
            "cost_estimate",
            id="estimate-with-three-decimals",
        ),
        pytest.param(
            lambda c: {"cost_currency": "XXY", "cost_estimate": "1.00"}, "cost_currency", id="unknown-currency"
        ),
        pytest.param(
            lambda c: {"status": "done"}, "status", id="unknown-field-status"
        ),  # an unknown (read-only) body field
        pytest.param(lambda c: {"company": c.company_b.pk}, "company", id="unknown-field-company"),
        pytest.param(lambda c: {"owner": None}, "owner", id="owner-null"),
    ],
)
def test_creating_an_epic_validates_every_field(cast: Cast, client_for: Client, change, field):
    before = Epic.objects.count()
    body = {"title": "Guest checkout", "owner": cast.member_a.pk, "team": cast.team_a.pk, **change(cast)}
    assert set(invalid(client_for(cast.owner_a).post(EPICS, body, format="json"))) == {field}
    assert Epic.objects.count() == before


def test_creating_an_epic_with_an_estimate(cast: Cast, client_for: Client):
    body = {
        "title": "Guest checkout",
        "owner": cast.member_a.pk,
        "reviewer": cast.owner_a.pk,
        "team": cast.team_a.pk,
        "work_type": "debt",
        "external_key": "SHOP-7",
        "cost_estimate": "12500.5",
        "cost_currency": "EUR",
    }
    created = ok(client_for(cast.owner_a).post(EPICS, body, format="json"), 201)
    assert (created["status"], created["work_type"], created["reviewer"]["id"], created["team"]["id"]) == (
        "proposed",
        "debt",
        cast.owner_a.pk,
        cast.team_a.pk,
    )
    assert created["cost"] == {"amount": "12500.50", "currency": "EUR", "basis": "estimate"}
    epic = Epic.objects.get(pk=created["id"])
    assert (epic.company_id, epic.cost_estimate, epic.external_key) == (
        cast.company_a.pk,
        Decimal("12500.50"),
        "SHOP-7",
    )
    assert list(epic.status_changes.values_list("to_status", "actor_id")) == [("proposed", cast.owner_a.pk)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(lambda c: {"owner": c.owner_b.pk}, "owner", id="owner-of-company-b"),
        pytest.param(lambda c: {"reviewer": c.owner_b.pk}, "reviewer", id="reviewer-of-company-b"),
        pytest.param(lambda c: {"team": c.team_b.pk}, "team", id="team-of-company-b"),
        pytest.param(lambda c: {"cost_estimate": "500.00"}, "cost_currency", id="estimate-without-currency"),
        pytest.param(
            lambda c: {"cost_estimate": "-500.00", "cost_currency": "EUR"}, "cost_estimate", id="negative-estimate"
        ),
        pytest.param(lambda c: {"started_at": "2026-10-01T00:00:00Z"}, "started_at", id="read-only-started-at"),
        pytest.param(lambda c: {"title": ""}, "title", id="blank-title"),
    ],
)
def test_updating_an_epic_validates_every_field(cast: Cast, client_for: Client, change, field):
    epic = cast.strategic_a["epic"]
    assert set(invalid(client_for(cast.owner_a).patch(epic_url(epic), change(cast), format="json"))) == {field}
    fresh = Epic.objects.get(pk=epic.pk)
    assert (fresh.owner_id, fresh.team_id, fresh.cost_estimate, fresh.title) == (
        cast.member_a.pk,
        cast.team_a.pk,
        None,
        epic.title,
    )


def test_members_propose_epics_they_own_but_not_for_others(cast: Cast, client_for: Client):
    client = client_for(cast.member_a)
    created = ok(client.post(EPICS, {"title": "Mine", "owner": cast.member_a.pk}, format="json"), 201)
    assert created["owner"]["id"] == cast.member_a.pk
    assert Epic.objects.filter(pk=created["id"], owner=cast.member_a).exists()

    forbidden(client.post(EPICS, {"title": "Theirs", "owner": cast.owner_a.pk}, format="json"))
    assert not Epic.objects.filter(title="Theirs").exists()


def test_members_edit_only_the_epics_they_own_or_review(cast: Cast, client_for: Client):
    client = client_for(cast.member_a)
    own = cast.strategic_a["epic"]
    assert ok(client.patch(epic_url(own), {"work_type": "risk"}, format="json"))["work_type"] == "risk"

    others = make_epic(cast, "The owner's", owner=cast.owner_a)
    forbidden(client.patch(epic_url(others), {"title": "Taken over"}, format="json"))
    forbidden(client.put(epic_url(others, "anticipated-outcome/"), outcome_body(), format="json"))
    forbidden(client.post(epic_url(others, "transition/"), {"status": "cancelled"}, format="json"))
    forbidden(client.delete(epic_url(others)))
    others.refresh_from_db()
    assert (others.title, others.status) == ("The owner's", "proposed")
    assert not AnticipatedOutcome.objects.filter(epic=others).exists()

    reviewed = make_epic(cast, "Reviewed by the member", owner=cast.owner_a, reviewer=cast.member_a)
    assert ok(client.patch(epic_url(reviewed), {"title": "Renamed"}, format="json"))["title"] == "Renamed"
    assert Epic.objects.get(pk=reviewed.pk).title == "Renamed"


def test_only_a_proposed_epic_that_never_started_can_be_deleted(cast: Cast, client_for: Client):
    client = client_for(cast.owner_a)
    fresh = make_epic(cast, "Never started")
    assert client.delete(epic_url(fresh)).status_code == 204
    assert not Epic.objects.filter(pk=fresh.pk).exists()

    in_progress = cast.strategic_a["epic"]
    invalid(client.delete(epic_url(in_progress)))
    assert Epic.objects.get(pk=in_progress.pk).status == "in_progress"

    back = make_epic(cast, "Started, then back to proposed")
    epic_transition(epic=back, to_status="in_progress", source=ChangeSource.SYNC)
    epic_transition(epic=back, to_status="proposed", source=ChangeSource.SYNC)
    invalid(client.delete(epic_url(back)))
    assert Epic.objects.filter(pk=back.pk).exists()


# --- the anticipated outcome ---------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(outcome_body(metrics=[metric_body(window_days=0)]), "metrics.0.window_days", id="window-0"),
        pytest.param(outcome_body(metrics=[metric_body(window_days=366)]), "metrics.0.window_days", id="window-366"),
        pytest.param(
            outcome_body(metrics=[metric_body(), metric_body(window_days=-5)]),
            "metrics.1.window_days",
            id="window-negative-on-second-metric",
        ),
        pytest.param(
            outcome_body(metrics=[metric_body(target="61.5")]),
            "metrics.0.target",
            id="increase-target-equal-to-baseline",
        ),
        pytest.param(
            outcome_body(metrics=[metric_body(target="60")]), "metrics.0.target", id="increase-target-below-baseline"
        ),
        pytest.param(
            outcome_body(metrics=[metric_body(), metric_body(direction="decrease")]),
            "metrics.1.target",
            id="decrease-target-above-baseline",
        ),
        pytest.param(
            outcome_body(metrics=[metric_body(baseline="61.50001")]), "metrics.0.baseline", id="baseline-five-decimals"
        ),
        pytest.param(
            outcome_body(metrics=[metric_body(target="66.12345")]), "metrics.0.target", id="target-five-decimals"
        ),
        pytest.param(
            outcome_body(metrics=[metric_body(direction="sideways")]), "metrics.0.direction", id="unknown-direction"
        ),
        pytest.param(outcome_body(metrics=[metric_body(name="")]), "metrics.0.name", id="blank-name"),
        pytest.param({"expected_results": "More orders.", "metrics": [metric_body()]}, "problem", id="problem-missing"),
        pytest.param(
            {"problem": "Carts.", "metrics": [metric_body()]}, "expected_results", id="expected-results-missing"
        ),
        pytest.param(outcome_body(frozen=True), "frozen", id="unknown-field-frozen"),
    ],
)
def test_the_anticipated_outcome_is_validated(cast: Cast, client_for: Client, body, field):
    epic = make_epic(cast, "Validated")
    fields = invalid(client_for(cast.member_a).put(epic_url(epic, "anticipated-outcome/"), body, format="json"))
    assert set(fields) == {field}
    assert not AnticipatedOutcome.objects.filter(epic=epic).exists()
    assert not SuccessMetric.objects.filter(anticipated_outcome__epic=epic).exists()


def test_an_anticipated_outcome_without_metrics_names_the_metrics_field(cast: Cast, client_for: Client):
    epic = make_epic(cast, "No metrics")
    body = outcome_body(metrics=[])
    response = client_for(cast.member_a).put(epic_url(epic, "anticipated-outcome/"), body, format="json")
    assert not AnticipatedOutcome.objects.filter(epic=epic).exists()
    assert set(invalid(response)) == {"metrics"}


def test_the_anticipated_outcome_is_404_until_written_then_replaced_by_position(cast: Cast, client_for: Client):
    client = client_for(cast.member_a)
    epic = make_epic(cast, "Written later")
    response = client.get(epic_url(epic, "anticipated-outcome/"))
    assert (response.status_code, response.json()["status"]) == (404, 404)

    written = ok(client.put(epic_url(epic, "anticipated-outcome/"), outcome_body(), format="json"))
    first_id = written["metrics"][0]["id"]
    body = outcome_body(
        learning_plan="Interview ten shops.",
        metrics=[
            metric_body(target="70"),
            metric_body(name="Tickets", direction="stay_below", baseline="5", target="5"),
        ],
    )
    rewritten = ok(client.put(epic_url(epic, "anticipated-outcome/"), body, format="json"))
    assert rewritten["learning_plan"] == "Interview ten shops."
    assert [(m["id"] == first_id, m["name"], m["target"]) for m in rewritten["metrics"]] == [
        (True, "Checkout conversion", "70.0000"),
        (False, "Tickets", "5.0000"),
    ]
    assert ok(client.get(epic_url(epic, "anticipated-outcome/"))) == rewritten
    assert SuccessMetric.objects.filter(anticipated_outcome__epic=epic).count() == 2
    assert ok(client.get(epic_url(epic)))["has_anticipated_outcome"] is True


# --- contributions -------------------------------------------------------------------
def test_an_epic_serves_only_key_results_of_its_company(cast: Cast, client_for: Client):
    epic = make_epic(cast, "Serving")
    body = {"key_result": cast.strategic_b["key_result"].pk}
    assert set(invalid(client_for(cast.member_a).post(epic_url(epic, "contributions/"), body, format="json"))) == {
        "key_result"
    }
    assert not Contribution.objects.filter(epic=epic).exists()


def test_linking_a_key_result_twice_updates_the_one_link(cast: Cast, client_for: Client):
    client = client_for(cast.member_a)
    epic = make_epic(cast, "Serving")
    key_result = cast.strategic_a["key_result"]
    first = {"key_result": key_result.pk, "expected_contribution": "2", "note": "main lever"}
    body = ok(client.post(epic_url(epic, "contributions/"), first, format="json"), 201)
    assert (body["key_result"], body["expected_contribution"], body["note"]) == (key_result.pk, "2.0000", "main lever")
    second = {"key_result": key_result.pk, "expected_contribution": "3.5", "note": "bigger"}
    body = ok(client.post(epic_url(epic, "contributions/"), second, format="json"), 201)
    assert (body["key_result"], body["expected_contribution"], body["note"]) == (key_result.pk, "3.5000", "bigger")
    rows = Contribution.objects.filter(epic=epic)
    assert [(r.key_result_id, r.expected_contribution, r.note) for r in rows] == [
        (key_result.pk, Decimal("3.5"), "bigger")
    ]
    assert ok(client.get(epic_url(epic)))["key_results"] == [key_result.pk]


def test_removing_a_link(cast: Cast, client_for: Client):
    client = client_for(cast.member_a)
    epic = cast.strategic_a["epic"]
    key_result = cast.strategic_a["key_result"]
    url = epic_url(epic, f"contributions/{key_result.pk}/")
    assert client.delete(url).status_code == 204
    assert not Contribution.objects.filter(epic=epic).exists()
    assert Contribution.objects.filter(epic=cast.strategic_a["done_epic"], key_result=key_result).exists()
    response = client.delete(url)
    assert (response.status_code, response.json()["status"]) == (404, 404)


# --- recording results ---------------------------------------------------------------
def two_metric_done_epic(cast: Cast) -> tuple[Epic, SuccessMetric, SuccessMetric]:
    epic = make_epic(cast, "Two metrics")
    tickets = {**CONVERSION_METRIC, "name": "Tickets", "unit": "", "direction": "decrease", "baseline": 10, "target": 5}
    anticipated_outcome_set(
        epic=epic, problem="Carts.", expected_results="Orders.", metrics=[CONVERSION_METRIC, tickets]
    )
    moved(epic, "in_progress", "done")
    first, second = SuccessMetric.objects.filter(anticipated_outcome__epic=epic).order_by("position")
    return epic, first, second


@pytest.mark.parametrize(
    ("values", "field"),
    [
        pytest.param(
            lambda own, other: [{"metric": other.pk, "value": "64"}], "metrics.0.metric", id="metric-of-another-epic"
        ),
        pytest.param(
            lambda own, other: [{"metric": own.pk, "value": "64"}, {"metric": own.pk, "value": "65"}],
            "metrics.1.metric",
            id="metric-given-twice",
        ),
        pytest.param(
            lambda own, other: [{"metric": own.pk, "value": "64.00001"}],
            "metrics.0.value",
            id="value-with-five-decimals",
        ),
        pytest.param(
            lambda own, other: [{"metric": own.pk, "evidence_url": "not a url"}],
            "metrics.0.evidence_url",
            id="evidence-url-not-a-url",
        ),
        pytest.param(
            lambda own, other: [{"metric": own.pk, "verdict": "achieved"}],
            "metrics.0.verdict",
            id="unknown-field-verdict",
        ),
    ],
)
def test_recorded_values_are_validated(cast: Cast, client_for: Client, values, field):
    epic, own, _ = two_metric_done_epic(cast)
    other = cast.strategic_a["done_epic_metric"]
    body = {"metrics": values(own, other)}
    assert set(invalid(client_for(cast.member_a).post(epic_url(epic, "results/"), body, format="json"))) == {field}
    assert OutcomeReview.objects.get(epic=epic).state == ReviewState.PENDING
    assert not OutcomeReview.objects.get(epic=epic).results.exists()


def test_a_metric_left_out_of_a_recording_is_inconclusive(cast: Cast, client_for: Client):
    epic, conversion, tickets = two_metric_done_epic(cast)
    body = {"metrics": [{"metric": conversion.pk, "value": "70"}]}
    result = ok(client_for(cast.member_a).post(epic_url(epic, "results/"), body, format="json"), 201)["result"]
    assert [(m["metric"], m["value"], m["verdict"]) for m in result["metric_results"]] == [
        (conversion.pk, "70.0000", "achieved"),
        (tickets.pk, None, "inconclusive"),
    ]
    assert result["overall"] == "partly"  # an unmeasured metric keeps the whole from "achieved"


def test_an_api_key_proposes_and_moves_epics_with_its_prefix_in_the_history(
    cast: Cast, key_client: Callable[[str], APIClient]
):
    client = key_client(cast.raw_key_a)
    created = ok(client.post(EPICS, {"title": "From CI", "owner": cast.owner_a.pk}, format="json"), 201)
    ok(client.post(epic_url(created["id"], "transition/"), {"status": "planned"}, format="json"))
    prefix = APIKey.objects.get(company=cast.company_a).prefix
    assert cast.raw_key_a.startswith(prefix)
    rows = Epic.objects.get(pk=created["id"]).status_changes.order_by("at", "id")
    assert [(r.to_status, r.actor_id, r.actor_api_key_prefix) for r in rows] == [
        ("proposed", None, prefix),
        ("planned", None, prefix),
    ]


# --- filters -------------------------------------------------------------------------
def test_filters_by_status_work_type_owner_and_team(cast: Cast, client_for: Client):
    client = client_for(cast.viewer_a)
    epic, done = cast.strategic_a["epic"], cast.strategic_a["done_epic"]
    proposed = make_epic(cast, "Proposed debt", work_type="debt", owner=cast.owner_a)
    risky = make_epic(cast, "Planned risk", work_type="risk", team=cast.team_a)
    moved(risky, "planned")

    assert set(ids(client.get(EPICS))) == {epic.pk, done.pk, proposed.pk, risky.pk}
    assert ids(client.get(EPICS, {"status": "proposed"})) == [proposed.pk]
    assert set(ids(client.get(EPICS, {"status": ["done", "in_progress"]}))) == {epic.pk, done.pk}
    assert ids(client.get(EPICS, {"status": "cancelled"})) == []
    assert ids(client.get(EPICS, {"work_type": "debt"})) == [proposed.pk]
    assert set(ids(client.get(EPICS, {"work_type": ["debt", "risk"]}))) == {proposed.pk, risky.pk}
    assert ids(client.get(EPICS, {"owner_id": cast.owner_a.pk})) == [proposed.pk]
    assert set(ids(client.get(EPICS, {"team_id": cast.team_a.pk}))) == {epic.pk, done.pk, risky.pk}
    assert set(invalid(client.get(EPICS, {"team_id": cast.team_b.pk}))) == {"team_id"}
    assert set(invalid(client.get(EPICS, {"status": "shipped"}))) == {"status"}


def test_filters_by_key_result_objective_and_cycle(cast: Cast, client_for: Client):
    client = client_for(cast.viewer_a)
    rows = cast.strategic_a
    serving_old = {rows["epic"].pk, rows["done_epic"].pk}
    cycle = cycle_create(company=cast.company_a, name="2027 Q1", start=date(2027, 1, 1), end=date(2027, 3, 31))
    objective = objective_create(company=cast.company_a, cycle=cycle, title="Next quarter", owner=cast.owner_a)
    key_result = make_key_result(cast, "Next quarter KR", objective)
    serving_new = make_epic(cast, "Next quarter epic")
    contribution_set(epic=serving_new, key_result=key_result)
    contribution_set(epic=serving_new, key_result=make_key_result(cast, "Second KR", objective))
    make_epic(cast, "Serving nothing")

    assert set(ids(client.get(EPICS, {"key_result_id": rows["key_result"].pk}))) == serving_old
    assert ids(client.get(EPICS, {"key_result_id": key_result.pk})) == [serving_new.pk]
    assert set(ids(client.get(EPICS, {"objective_id": rows["team_objective"].pk}))) == serving_old
    assert ids(client.get(EPICS, {"objective_id": objective.pk})) == [serving_new.pk]  # once, though two KRs
    assert set(ids(client.get(EPICS, {"cycle_id": rows["cycle"].pk}))) == serving_old
    assert ids(client.get(EPICS, {"cycle_id": cycle.pk})) == [serving_new.pk]
    assert set(invalid(client.get(EPICS, {"key_result_id": cast.strategic_b["key_result"].pk}))) == {"key_result_id"}


def test_filters_by_serving_a_key_result_and_text(cast: Cast, client_for: Client):
    client = client_for(cast.viewer_a)
    rows = cast.strategic_a
    lonely = make_epic(cast, "Lonely ORDER page", external_key="WEB-17")
    keyed = make_epic(cast, "Tracker item", external_key="SHOP-42", description="Nothing about it here.")

    assert set(ids(client.get(EPICS, {"serves_key_result": "false"}))) == {lonely.pk, keyed.pk}
    assert set(ids(client.get(EPICS, {"serves_key_result": "true"}))) == {rows["epic"].pk, rows["done_epic"].pk}
    assert ids(client.get(EPICS, {"q": "order page"})) == [lonely.pk]
    assert ids(client.get(EPICS, {"q": "shop-4"})) == [keyed.pk]
    assert ids(client.get(EPICS, {"q": "web-17"})) == [lonely.pk]
    assert ids(client.get(EPICS, {"q": "nothing about"})) == [keyed.pk]
    assert set(ids(client.get(EPICS, {"q": "one-click"}))) == {rows["epic"].pk}
    assert ids(client.get(EPICS, {"q": "no such text"})) == []


def test_ordering(cast: Cast, client_for: Client):
    client = client_for(cast.viewer_a)
    made = [make_epic(cast, f"{name} ordered") for name in ("Mango", "Apple", "Zucchini")]
    by_title = sorted(made, key=lambda e: e.title)
    assert ids(client.get(EPICS, {"q": "ordered", "ordering": "title"})) == [e.pk for e in by_title]
    assert ids(client.get(EPICS, {"q": "ordered", "ordering": "-title"})) == [e.pk for e in reversed(by_title)]
    assert ids(client.get(EPICS, {"q": "ordered"})) == [e.pk for e in reversed(made)]  # newest first by default
    assert set(invalid(client.get(EPICS, {"ordering": "owner"}))) == {"ordering"}


def delivered(cast: Cast, title: str, at: datetime, window_days: int = 30) -> Epic:
    with time_machine.travel(at, tick=False):
        return moved(with_outcome(make_epic(cast, title), window_days), "in_progress", "done")


def test_filters_by_review_phase_and_overdue(cast: Cast, client_for: Client):
    rows = cast.strategic_a
    now = OutcomeReview.objects.get(epic=rows["done_epic"]).done_at + timedelta(hours=1)  # its review is pending
    pending = delivered(cast, "Pending review", now - 10 * DAY)  # due in 20 days
    due = delivered(cast, "Due review", now - 33 * DAY)  # due 3 days ago
    overdue = delivered(cast, "Overdue review", now - 40 * DAY)  # due 10 days ago
    just_overdue = delivered(cast, "Just overdue", now - 37 * DAY)  # due exactly 7 days ago
    recorded = delivered(cast, "Recorded review", now - 5 * DAY)
    metric = SuccessMetric.objects.get(anticipated_outcome__epic=recorded)
    result_record(epic=recorded, metrics=[{"metric": metric, "value": Decimal(64)}], recorded_by=cast.member_a)
    waived = delivered(cast, "Waived review", now - 50 * DAY)
    review_waive(epic=waived, reason="Measured elsewhere.", actor=cast.member_a)
    proposed = make_epic(cast, "Not delivered")

    expected = {
        "pending": {pending.pk, rows["done_epic"].pk},
        "due": {due.pk},
        "overdue": {overdue.pk, just_overdue.pk},
        "recorded": {recorded.pk},
        "waived": {waived.pk},
        "none": {proposed.pk, rows["epic"].pk},
    }
    everything = set().union(*expected.values())
    with time_machine.travel(now, tick=False):
        client = client_for(cast.viewer_a)
        listed = {row["id"]: row["review"] for row in ok(client.get(EPICS))["results"]}
        assert set(listed) == everything
        for phase, epics in expected.items():
            assert set(ids(client.get(EPICS, {"review": phase}))) == epics, phase
            for pk in epics:
                assert (listed[pk] or {"phase": "none"})["phase"] == phase, (phase, pk)
        assert set(ids(client.get(EPICS, {"overdue": "true"}))) == {overdue.pk, just_overdue.pk}
        assert set(ids(client.get(EPICS, {"overdue": "false"}))) == everything - {overdue.pk, just_overdue.pk}
        assert set(invalid(client.get(EPICS, {"review": "late"}))) == {"review"}


def test_the_review_filter_looks_at_the_latest_delivery_only(cast: Cast, client_for: Client):
    epic = cast.strategic_a["done_epic"]
    metric = cast.strategic_a["done_epic_metric"]
    result_record(epic=epic, metrics=[{"metric": metric, "value": Decimal(66)}], recorded_by=cast.member_a)
    moved(epic, "in_progress", "done")  # reopened and delivered again: a new pending review

    client = client_for(cast.viewer_a)
    assert ok(client.get(epic_url(epic)))["review"]["phase"] == "pending"
    assert epic.pk in ids(client.get(EPICS, {"review": "pending"}))
    assert epic.pk not in ids(client.get(EPICS, {"review": "recorded"}))


def test_filter_missing_anticipated_outcome(cast: Cast, client_for: Client):
    synced = make_epic(cast, "Synced straight to done")
    epic_transition(epic=synced, to_status="done", source=ChangeSource.SYNC)
    make_epic(cast, "Proposed without one")  # not started: nothing is missing yet

    client = client_for(cast.viewer_a)
    assert ids(client.get(EPICS, {"missing_anticipated_outcome": "true"})) == [synced.pk]
    assert synced.pk not in ids(client.get(EPICS, {"missing_anticipated_outcome": "false"}))
    listed = {row["id"]: row for row in ok(client.get(EPICS))["results"]}
    assert (listed[synced.pk]["missing_anticipated_outcome"], listed[synced.pk]["has_anticipated_outcome"]) == (
        True,
        False,
    )


# --- cost ----------------------------------------------------------------------------
@pytest.fixture
def costed_team(cast: Cast) -> Team:
    return team_create(company=cast.company_a, name="Costed", monthly_cost=Decimal("3000.00"), cost_currency="EUR")


def test_cost_is_the_estimate_when_there_is_one(cast: Cast, client_for: Client, costed_team: Team):
    with time_machine.travel(T0, tick=False):
        epic = make_epic(cast, "Estimated", team=costed_team, cost_estimate=Decimal("800.00"), cost_currency="USD")
        moved(with_outcome(epic), "in_progress")
    with time_machine.travel(T0 + 10 * DAY, tick=False):
        body = ok(client_for(cast.viewer_a).get(epic_url(epic)))
    assert body["cost"] == {"amount": "800.00", "currency": "USD", "basis": "estimate"}


def test_cost_is_the_team_cost_over_the_flow_time(cast: Cast, client_for: Client, costed_team: Team):
    def costs_at(moment: datetime) -> dict[int, Any]:
        with time_machine.travel(moment, tick=False):
            return {row["id"]: row["cost"] for row in ok(client_for(cast.viewer_a).get(EPICS))["results"]}

    def team_cost(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": "EUR", "basis": "team_cost"}

    with time_machine.travel(T0, tick=False):
        waiting = make_epic(cast, "Not started", team=costed_team)
        running = moved(with_outcome(make_epic(cast, "Running", team=costed_team)), "in_progress")
        finished = moved(with_outcome(make_epic(cast, "Finished", team=costed_team)), "in_progress")
        no_team = moved(with_outcome(make_epic(cast, "No team")), "in_progress")

    costs = costs_at(T0 + timedelta(days=15, hours=5, minutes=15))  # 15.21875 days: half a month
    assert (costs[waiting.pk], costs[no_team.pk]) == (None, None)
    assert (costs[running.pk], costs[finished.pk]) == (team_cost("1500.00"), team_cost("1500.00"))

    with time_machine.travel(T0 + timedelta(days=60, hours=21), tick=False):  # 60.875 days: two months
        moved(finished, "done")
    costs = costs_at(T0 + timedelta(days=91, hours=7, minutes=30))  # 91.3125 days: three months
    assert (costs[running.pk], costs[finished.pk]) == (team_cost("9000.00"), team_cost("6000.00"))
    assert (costs[waiting.pk], costs[no_team.pk]) == (None, None)


def test_team_cost_is_exact_to_the_cent(cast: Cast, client_for: Client):
    team = team_create(company=cast.company_a, name="Pricey", monthly_cost=Decimal("10000.00"), cost_currency="EUR")
    with time_machine.travel(T0, tick=False):
        epic = moved(with_outcome(make_epic(cast, "Forty-five days", team=team)), "in_progress")
    with time_machine.travel(T0 + 45 * DAY, tick=False):
        moved(epic, "done")
        body = ok(client_for(cast.viewer_a).get(epic_url(epic)))
    exact = (Decimal("10000.00") * Decimal(45) / Decimal("30.4375")).quantize(Decimal("0.01"))
    assert exact == Decimal("14784.39")
    assert body["cost"] == {"amount": "14784.39", "currency": "EUR", "basis": "team_cost"}


# --- trace ---------------------------------------------------------------------------
def test_the_trace_runs_from_the_epic_to_the_identity(cast: Cast, client_for: Client):
    rows = cast.strategic_a
    trace = ok(client_for(cast.viewer_a).get(epic_url(rows["epic"], "trace/")))
    assert trace["epic"]["id"] == rows["epic"].pk
    assert trace["key_results"] == [
        {
            "id": rows["key_result"].pk,
            "title": rows["key_result"].title,
            "objective": rows["team_objective"].pk,
            "unit": "",
        }
    ]
    objective, team_objective = rows["objective"], rows["team_objective"]
    assert [(o["id"], o["parent"], o["cycle"], o["level"]) for o in trace["objectives"]] == [
        (objective.pk, None, rows["cycle"].pk, "company"),
        (team_objective.pk, objective.pk, rows["cycle"].pk, "team"),
    ]
    assert [(o["strategies"], o["business_outcomes"]) for o in trace["objectives"]] == [
        ([rows["strategy"].pk], [rows["outcome"].pk]),
        ([], []),
    ]
    assert trace["strategies"] == [
        {
            "id": rows["strategy"].pk,
            "title": rows["strategy"].title,
            "status": "active",
            "business_outcomes": [rows["outcome"].pk],
        }
    ]
    assert trace["business_outcomes"] == [{"id": rows["outcome"].pk, "title": rows["outcome"].title}]
    assert trace["identity"]["mission"] == rows["identity"].mission
    assert trace["identity"]["number"] == rows["identity"].number


def test_the_trace_reaches_business_outcomes_through_objectives_and_through_strategies(cast: Cast, client_for: Client):
    rows = cast.strategic_a

    def outcome(title: str) -> Any:
        return business_outcome_create(
            company=cast.company_a,
            title=title,
            category="revenue",
            metric_name="Orders",
            unit="",
            direction="increase",
            baseline=Decimal(1),
            target=Decimal(2),
            target_date=date(2027, 6, 30),
            owner=cast.owner_a,
        )

    via_objective, via_strategy = outcome("Via the team objective"), outcome("Via the strategy")
    objective_update(objective=rows["team_objective"], business_outcomes=[via_objective])
    strategy_update(strategy=rows["strategy"], business_outcomes=[rows["outcome"], via_strategy])

    trace = ok(client_for(cast.viewer_a).get(epic_url(rows["epic"], "trace/")))
    assert [b["id"] for b in trace["business_outcomes"]] == sorted(
        [rows["outcome"].pk, via_objective.pk, via_strategy.pk]
    )
    assert trace["objectives"][1]["business_outcomes"] == [via_objective.pk]
    assert trace["strategies"][0]["business_outcomes"] == sorted([rows["outcome"].pk, via_strategy.pk])


def test_an_epic_serving_nothing_traces_to_empty_lists(cast: Cast, client_for: Client):
    epic = make_epic(cast, "Aligned to nothing")
    trace = ok(client_for(cast.viewer_a).get(epic_url(epic, "trace/")))
    assert trace["epic"]["id"] == epic.pk
    assert (trace["key_results"], trace["objectives"], trace["strategies"], trace["business_outcomes"]) == (
        [],
        [],
        [],
        [],
    )


def test_the_trace_takes_the_same_queries_whatever_the_depth(cast: Cast, client_for: Client):
    rows = cast.strategic_a
    chain: list[Objective] = []
    for level in range(6):
        chain.append(
            objective_create(
                company=cast.company_a,
                cycle=rows["cycle"],
                title=f"Level {level + 1}",
                owner=cast.owner_a,
                parent=chain[-1] if chain else None,
                strategies=[rows["strategy"]] if level == 0 else [],
                business_outcomes=[rows["outcome"]] if level == 0 else [],
            )
        )
    deep = make_epic(cast, "Deep")
    for index in range(5):
        contribution_set(epic=deep, key_result=make_key_result(cast, f"Deep KR {index}", chain[-1 - index % 3]))

    client = client_for(cast.viewer_a)
    ok(client.get(epic_url(rows["epic"], "trace/")))  # warm up whatever is cached per process
    with CaptureQueriesContext(connection) as shallow_queries:
        shallow = ok(client.get(epic_url(rows["epic"], "trace/")))
    with CaptureQueriesContext(connection) as deep_queries:
        traced = ok(client.get(epic_url(deep, "trace/")))

    assert (len(shallow["key_results"]), len(shallow["objectives"])) == (1, 2)
    assert len(traced["key_results"]) == 5
    assert [o["id"] for o in traced["objectives"]] == [o.pk for o in chain]
    assert [s["id"] for s in traced["strategies"]] == [rows["strategy"].pk]
    assert len(deep_queries) == len(shallow_queries), [q["sql"] for q in deep_queries.captured_queries]


# --- alignment gaps ------------------------------------------------------------------
def test_key_results_without_epics(cast: Cast, client_for: Client):
    rows = cast.strategic_a
    client = client_for(cast.viewer_a)
    orphan = make_key_result(cast, "Nobody works on this")
    cycle = cycle_create(company=cast.company_a, name="2027 Q1", start=date(2027, 1, 1), end=date(2027, 3, 31))
    later = make_key_result(
        cast,
        "Next quarter",
        objective_create(company=cast.company_a, cycle=cycle, title="Next quarter goal", owner=cast.owner_a),
    )

    listed = ids(client.get(KR_GAPS))
    assert orphan.pk in listed and later.pk in listed
    assert rows["key_result"].pk not in listed
    assert cast.strategic_b["key_result"].pk not in listed
    assert ids(client.get(KR_GAPS, {"cycle_id": rows["cycle"].pk})) == [orphan.pk]
    assert ids(client.get(KR_GAPS, {"cycle_id": cycle.pk})) == [later.pk]

    contribution_set(epic=make_epic(cast, "Now someone does"), key_result=orphan)
    assert orphan.pk not in ids(client.get(KR_GAPS))


def test_objectives_without_epics(cast: Cast, client_for: Client):
    rows = cast.strategic_a
    client = client_for(cast.viewer_a)
    lonely = objective_create(
        company=cast.company_a, cycle=rows["cycle"], title="Nobody works on this", owner=cast.owner_a
    )
    child = objective_create(
        company=cast.company_a, cycle=rows["cycle"], title="Below it", owner=cast.owner_a, parent=lonely
    )
    make_key_result(cast, "Measured but unserved", child)  # a key result without epics is not work

    listed = set(ids(client.get(OBJECTIVE_GAPS)))
    assert {lonely.pk, child.pk, rows["closed_objective"].pk} <= listed
    assert not {rows["objective"].pk, rows["team_objective"].pk} & listed  # work is on or beneath them
    assert not set(Objective.objects.filter(company=cast.company_b).values_list("pk", flat=True)) & listed
    assert set(ids(client.get(OBJECTIVE_GAPS, {"cycle_id": rows["cycle"].pk}))) == {lonely.pk, child.pk}
    assert ids(client.get(OBJECTIVE_GAPS, {"cycle_id": rows["closed_cycle"].pk})) == [rows["closed_objective"].pk]

    grandchild_work = make_key_result(cast, "Served", child)
    contribution_set(epic=make_epic(cast, "Work beneath"), key_result=grandchild_work)
    assert not {lonely.pk, child.pk} & set(ids(client.get(OBJECTIVE_GAPS)))


def test_alignment_gap_filters_only_take_the_company_cycles(cast: Cast, client_for: Client):
    client = client_for(cast.viewer_a)
    foreign = Cycle.objects.filter(company=cast.company_b).first()
    assert foreign is not None
    assert set(invalid(client.get(KR_GAPS, {"cycle_id": foreign.pk}))) == {"cycle_id"}
    assert set(invalid(client.get(OBJECTIVE_GAPS, {"cycle_id": foreign.pk}))) == {"cycle_id"}

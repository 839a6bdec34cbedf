"""Cycles, objectives, key results, check-ins, the roll-up and closing, as their users rely on them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.services import check_in_record, cycle_create, key_result_create, objective_create
from outcomes.models import APIKey, BusinessOutcome, Strategy, Team
from outcomes.services.teams import team_create
from tests.assertions import assert_invalid
from tests.conftest import Cast
from tests.factories import MembershipFactory, UserFactory

A = "/api/v1/companies/alpha"
CYCLES = f"{A}/cycles/"
OBJECTIVES = f"{A}/objectives/"
KEY_RESULTS = f"{A}/key-results/"
BERLIN = ZoneInfo("Europe/Berlin")
AUTH_QUERIES = 3  # session, user, membership
ON_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


def assert_forbidden(response) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["status"] == 403


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def rows(cast: Cast) -> dict[str, Any]:
    return cast.strategic_a


def cycle_url(cycle: Cycle, suffix: str = "") -> str:
    return f"{CYCLES}{cycle.pk}/{suffix}"


def objective_url(objective: Objective, suffix: str = "") -> str:
    return f"{OBJECTIVES}{objective.pk}/{suffix}"


def key_result_url(key_result: KeyResult, suffix: str = "") -> str:
    return f"{KEY_RESULTS}{key_result.pk}/{suffix}"


def day_url(key_result: KeyResult, day: str) -> str:
    return key_result_url(key_result, f"values/{day}/")


def make_objective(cast: Cast, title: str, *, parent: Objective | None = None, **fields: Any) -> Objective:
    fields.setdefault("cycle", rows(cast)["cycle"])
    fields.setdefault("owner", cast.owner_a)
    return objective_create(company=cast.company_a, title=title, parent=parent, **fields)


def make_key_result(cast: Cast, objective: Objective, title: str = "KR", **fields: Any) -> KeyResult:
    fields.setdefault("owner", cast.owner_a)
    fields.setdefault("kind", "increase_to")
    fields.setdefault("baseline", Decimal(0))
    fields.setdefault("target", Decimal(10))
    return key_result_create(company=cast.company_a, objective=objective, title=title, **fields)


def other_team(cast: Cast) -> Team:
    """A team of company A that the member is not on."""
    lead = UserFactory()
    MembershipFactory(company=cast.company_a, user=lead, role="member")
    return team_create(company=cast.company_a, name="Alpha Payments", lead=lead, members=[lead])


# =====================================================================================
# cycles
# =====================================================================================
def test_create_cycle_starts_in_planning(cast, client_for):
    response = client_for(cast.owner_a).post(
        CYCLES, {"name": "2027 Q1", "start": "2027-01-01", "end": "2027-03-31"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "planning"
    assert body["closed_at"] is None
    cycle = Cycle.objects.get(pk=body["id"])
    assert (cycle.company, cycle.name, cycle.start, cycle.end) == (
        cast.company_a,
        "2027 Q1",
        date(2027, 1, 1),
        date(2027, 3, 31),
    )


@pytest.mark.parametrize("end", ["2027-01-01", "2026-12-31"])
def test_cycle_end_must_be_after_start(cast, client_for, end):
    before = Cycle.objects.count()
    response = client_for(cast.owner_a).post(CYCLES, {"name": "Bad", "start": "2027-01-01", "end": end}, format="json")
    assert_invalid(response, "end")
    assert Cycle.objects.count() == before


def test_cycle_end_before_start_on_update_is_refused(cast, client_for):
    cycle = rows(cast)["cycle"]
    response = client_for(cast.owner_a).patch(cycle_url(cycle), {"end": "2026-09-30"}, format="json")
    assert_invalid(response, "end")
    cycle.refresh_from_db()
    assert cycle.end == date(2026, 12, 31)


def test_cycle_cannot_be_created_or_set_closed(cast, client_for):
    client = client_for(cast.owner_a)
    response = client.post(
        CYCLES, {"name": "Done", "start": "2027-01-01", "end": "2027-03-31", "status": "closed"}, format="json"
    )
    assert_invalid(response, "status")
    assert not Cycle.objects.filter(name="Done").exists()
    cycle = rows(cast)["cycle"]
    assert_invalid(client.patch(cycle_url(cycle), {"status": "closed"}, format="json"), "status")
    cycle.refresh_from_db()
    assert (cycle.status, cycle.closed_at) == ("active", None)


def test_cycle_with_objectives_cannot_be_deleted(cast, client_for):
    cycle = rows(cast)["cycle"]
    response = client_for(cast.owner_a).delete(cycle_url(cycle))
    assert_invalid(response, "non_field_errors")
    assert Cycle.objects.filter(pk=cycle.pk).exists()


def test_empty_cycle_is_deleted(cast, client_for):
    cycle = cycle_create(company=cast.company_a, name="Empty", start=date(2027, 1, 1), end=date(2027, 3, 31))
    response = client_for(cast.owner_a).delete(cycle_url(cycle))
    assert response.status_code == 204
    assert not Cycle.objects.filter(pk=cycle.pk).exists()


def test_cycles_filter_by_status_and_active_on(cast, client_for):
    q4, q2 = rows(cast)["cycle"], rows(cast)["closed_cycle"]
    planned = cycle_create(company=cast.company_a, name="2027", start=date(2027, 1, 1), end=date(2027, 12, 31))
    client = client_for(cast.viewer_a)
    assert ids(client.get(CYCLES, {"status": "active"})) == [q4.pk]
    assert ids(client.get(CYCLES, {"status": "closed"})) == [q2.pk]
    assert set(ids(client.get(CYCLES, {"status": ["planning", "active"]}))) == {q4.pk, planned.pk}
    assert ids(client.get(CYCLES, {"active_on": "2026-06-30"})) == [q2.pk]  # the end day is included
    assert ids(client.get(CYCLES, {"active_on": "2026-10-01"})) == [q4.pk]
    assert ids(client.get(CYCLES, {"active_on": "2026-07-15"})) == []
    assert_invalid(client.get(CYCLES, {"status": "finished"}), "status")
    assert_invalid(client.get(CYCLES, {"active_on": "2026-02-30"}), "active_on")


# =====================================================================================
# objectives: rules
# =====================================================================================
def objective_body(cast: Cast, **fields: Any) -> dict[str, Any]:
    return {"cycle": rows(cast)["cycle"].pk, "title": "Sell to enterprises", "owner": cast.owner_a.pk, **fields}


def test_create_company_objective(cast, client_for):
    body = objective_body(
        cast,
        strategies=[rows(cast)["strategy"].pk],
        business_outcomes=[rows(cast)["outcome"].pk],
        weight="2.5",
    )
    response = client_for(cast.executive_a).post(OBJECTIVES, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["level"], data["team"], data["parent"], data["weight"]) == ("company", None, None, "2.500")
    assert data["owner"]["id"] == cast.owner_a.pk
    assert data["strategies"] == [rows(cast)["strategy"].pk]
    assert data["business_outcomes"] == [rows(cast)["outcome"].pk]
    assert (data["progress"], data["status"], data["stale"], data["grade"]) == (None, "", False, None)
    objective = Objective.objects.get(pk=data["id"])
    assert objective.company == cast.company_a
    assert list(objective.strategies.all()) == [rows(cast)["strategy"]]


def _copy(row: Any, title: str) -> Any:
    row.pk = None
    row.title = title
    row.save()
    return row


def test_objectives_list_their_strategies_and_business_outcomes_in_id_order(cast, client_for):
    first_strategy, first_outcome = rows(cast)["strategy"], rows(cast)["outcome"]
    strategies = [first_strategy.pk, _copy(Strategy.objects.get(pk=first_strategy.pk), "Second").pk]
    outcomes = [first_outcome.pk, _copy(BusinessOutcome.objects.get(pk=first_outcome.pk), "Second").pk]
    linked = make_objective(cast, "Linked")
    linked.strategies.set(reversed(strategies))
    linked.business_outcomes.set(reversed(outcomes))
    bare = make_objective(cast, "Bare")
    client = client_for(cast.viewer_a)

    listed = {row["id"]: row for row in client.get(OBJECTIVES, {"page_size": 50}).json()["results"]}
    detail = client.get(objective_url(linked)).json()
    uncovered = client.get("/api/v1/companies/alpha/alignment/objectives-without-epics/").json()["results"]
    assert (listed[linked.pk]["strategies"], listed[linked.pk]["business_outcomes"]) == (strategies, outcomes)
    assert (detail["strategies"], detail["business_outcomes"]) == (strategies, outcomes)
    assert (listed[bare.pk]["strategies"], listed[bare.pk]["business_outcomes"]) == ([], [])
    assert {row["id"]: row["strategies"] for row in uncovered}[linked.pk] == strategies


def test_create_team_objective_aligned_to_a_parent(cast, client_for):
    parent = rows(cast)["objective"]
    body = objective_body(cast, level="team", team=cast.team_a.pk, owner=cast.member_a.pk, parent=parent.pk)
    response = client_for(cast.owner_a).post(OBJECTIVES, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["level"] == "team"
    assert data["team"] == {"id": cast.team_a.pk, "name": cast.team_a.name}
    assert data["parent"] == parent.pk
    assert Objective.objects.get(pk=data["id"]).parent == parent


def test_team_objective_names_its_team(cast, client_for):
    response = client_for(cast.owner_a).post(OBJECTIVES, objective_body(cast, level="team"), format="json")
    assert_invalid(response, "team")
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_company_objective_has_no_team(cast, client_for):
    body = objective_body(cast, level="company", team=cast.team_a.pk)
    assert_invalid(client_for(cast.owner_a).post(OBJECTIVES, body, format="json"), "team")
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_parent_of_another_company_is_refused(cast, client_for):
    body = objective_body(cast, parent=cast.strategic_b["objective"].pk)
    assert_invalid(client_for(cast.owner_a).post(OBJECTIVES, body, format="json"), "parent")
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_objective_cannot_align_to_itself(cast, client_for):
    objective = rows(cast)["objective"]
    response = client_for(cast.owner_a).patch(objective_url(objective), {"parent": objective.pk}, format="json")
    assert_invalid(response, "parent")
    objective.refresh_from_db()
    assert objective.parent is None


def test_objective_cannot_align_to_one_of_its_descendants(cast, client_for):
    a = make_objective(cast, "A")
    b = make_objective(cast, "B", parent=a)
    c = make_objective(cast, "C", parent=b)
    client = client_for(cast.owner_a)
    assert_invalid(client.patch(objective_url(a), {"parent": c.pk}, format="json"), "parent")
    assert_invalid(client.patch(objective_url(a), {"parent": b.pk}, format="json"), "parent")
    a.refresh_from_db()
    assert a.parent is None
    # re-aligning within the tree is fine: C moves up under A
    response = client.patch(objective_url(c), {"parent": a.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["parent"] == a.pk


def chain(cast: Cast, length: int, *, top: Objective | None = None, name: str = "L") -> list[Objective]:
    levels: list[Objective] = []
    parent = top
    for index in range(length):
        parent = make_objective(cast, f"{name}{index + 1}", parent=parent)
        levels.append(parent)
    return levels


def test_objectives_nest_at_most_ten_levels(cast, client_for):
    levels = chain(cast, 9)
    client = client_for(cast.owner_a)
    tenth = client.post(OBJECTIVES, objective_body(cast, title="L10", parent=levels[-1].pk), format="json")
    assert tenth.status_code == 201, tenth.content
    eleventh = client.post(OBJECTIVES, objective_body(cast, title="L11", parent=tenth.json()["id"]), format="json")
    body = assert_invalid(eleventh, "parent")
    assert "10" in body["fields"]["parent"][0]
    assert not Objective.objects.filter(title="L11").exists()


def test_moving_a_subtree_counts_its_height(cast, client_for):
    levels = chain(cast, 8)
    subtree = chain(cast, 3, name="S")  # S1 > S2 > S3: moving S1 under L8 makes 11 levels
    client = client_for(cast.owner_a)
    assert_invalid(client.patch(objective_url(subtree[0]), {"parent": levels[-1].pk}, format="json"), "parent")
    response = client.patch(objective_url(subtree[1]), {"parent": levels[-1].pk}, format="json")  # 8 + 2
    assert response.status_code == 200, response.content
    subtree[0].refresh_from_db()
    assert subtree[0].parent is None


@pytest.mark.parametrize("weight", ["0", "-1"])
def test_objective_weight_must_be_positive(cast, client_for, weight):
    body = objective_body(cast, weight=weight)
    assert_invalid(client_for(cast.owner_a).post(OBJECTIVES, body, format="json"), "weight")


def test_objective_owner_must_be_a_member_of_the_company(cast, client_for):
    client = client_for(cast.owner_a)
    outsider = UserFactory()
    assert_invalid(client.post(OBJECTIVES, objective_body(cast, owner=outsider.pk), format="json"), "owner")
    assert_invalid(client.post(OBJECTIVES, objective_body(cast, owner=cast.owner_b.pk), format="json"), "owner")
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_objective_links_must_be_the_companys(cast, client_for):
    client = client_for(cast.owner_a)
    foreign = cast.strategic_b
    body = objective_body(cast, strategies=[rows(cast)["strategy"].pk, foreign["strategy"].pk])
    assert_invalid(client.post(OBJECTIVES, body, format="json"), "strategies")
    body = objective_body(cast, business_outcomes=[foreign["outcome"].pk])
    assert_invalid(client.post(OBJECTIVES, body, format="json"), "business_outcomes")
    body = objective_body(cast, anticipated_business_outcome=foreign["outcome"].pk)
    assert_invalid(client.post(OBJECTIVES, body, format="json"), "anticipated_business_outcome")
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_objective_cannot_be_created_in_a_closed_cycle(cast, client_for):
    body = objective_body(cast, cycle=rows(cast)["closed_cycle"].pk)
    assert_invalid(client_for(cast.owner_a).post(OBJECTIVES, body, format="json"), "non_field_errors")
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_objective_cannot_move_into_a_closed_cycle(cast, client_for):
    objective = rows(cast)["objective"]
    response = client_for(cast.owner_a).patch(
        objective_url(objective), {"cycle": rows(cast)["closed_cycle"].pk}, format="json"
    )
    assert_invalid(response, "non_field_errors")
    objective.refresh_from_db()
    assert objective.cycle == rows(cast)["cycle"]


def test_objective_with_sub_objectives_or_check_ins_cannot_be_deleted(cast, client_for):
    r = rows(cast)
    client = client_for(cast.owner_a)
    assert_invalid(client.delete(objective_url(r["objective"])), "non_field_errors")  # has a sub-objective
    assert_invalid(client.delete(objective_url(r["team_objective"])), "non_field_errors")  # has check-ins
    assert Objective.objects.filter(pk__in=[r["objective"].pk, r["team_objective"].pk]).count() == 2
    assert KeyResult.objects.filter(pk=r["key_result"].pk).exists()


def test_deleting_an_objective_recomputes_its_parent(cast, client_for):
    r = rows(cast)
    sibling = make_objective(cast, "Sibling", parent=r["objective"])
    key_result = make_key_result(cast, sibling)  # no check-ins: progress 0
    assert Objective.objects.get(pk=r["objective"].pk).progress == Decimal("0.2")
    response = client_for(cast.owner_a).delete(objective_url(sibling))
    assert response.status_code == 204
    assert not Objective.objects.filter(pk=sibling.pk).exists()
    assert not KeyResult.objects.filter(pk=key_result.pk).exists()
    assert Objective.objects.get(pk=r["objective"].pk).progress == Decimal("0.4")


# =====================================================================================
# objectives: who writes
# =====================================================================================
def test_member_creates_a_team_objective_for_their_team(cast, client_for):
    body = objective_body(cast, level="team", team=cast.team_a.pk, owner=cast.member_a.pk)
    response = client_for(cast.member_a).post(OBJECTIVES, body, format="json")
    assert response.status_code == 201, response.content
    assert Objective.objects.get(pk=response.json()["id"]).team == cast.team_a


def test_member_cannot_create_a_company_objective(cast, client_for):
    response = client_for(cast.member_a).post(OBJECTIVES, objective_body(cast), format="json")
    assert_forbidden(response)
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_member_cannot_create_an_objective_for_a_team_they_are_not_on(cast, client_for):
    body = objective_body(cast, level="team", team=other_team(cast).pk)
    assert_forbidden(client_for(cast.member_a).post(OBJECTIVES, body, format="json"))
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_member_cannot_create_a_company_objective_by_naming_themselves_owner(cast, client_for):
    body = objective_body(cast, owner=cast.member_a.pk)
    assert_forbidden(client_for(cast.member_a).post(OBJECTIVES, body, format="json"))
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_member_cannot_create_an_objective_for_another_team_by_naming_themselves_owner(cast, client_for):
    body = objective_body(cast, level="team", team=other_team(cast).pk, owner=cast.member_a.pk)
    assert_forbidden(client_for(cast.member_a).post(OBJECTIVES, body, format="json"))
    assert not Objective.objects.filter(title="Sell to enterprises").exists()


def test_member_edits_the_objective_they_own(cast, client_for):
    objective = make_objective(cast, "Mine", owner=cast.member_a)  # a company objective, owned by the member
    response = client_for(cast.member_a).patch(objective_url(objective), {"title": "Mine, renamed"}, format="json")
    assert response.status_code == 200, response.content
    objective.refresh_from_db()
    assert objective.title == "Mine, renamed"


def test_member_cannot_edit_a_company_objective_of_someone_else(cast, client_for):
    objective = rows(cast)["objective"]
    assert_forbidden(client_for(cast.member_a).patch(objective_url(objective), {"title": "x"}, format="json"))
    objective.refresh_from_db()
    assert objective.title == "Alpha wins mid-size shops"


def test_viewer_cannot_write_objectives(cast, client_for):
    client = client_for(cast.viewer_a)
    assert_forbidden(client.post(OBJECTIVES, objective_body(cast), format="json"))
    assert_forbidden(client.patch(objective_url(rows(cast)["objective"]), {"title": "x"}, format="json"))
    assert not Objective.objects.filter(title__in=["Sell to enterprises", "x"]).exists()


# =====================================================================================
# objectives: lists and computed figures
# =====================================================================================
def test_objectives_filter(cast, client_for):
    r = rows(cast)
    company, team_objective, closed = r["objective"], r["team_objective"], r["closed_objective"]
    mine = make_objective(cast, "Executive goal", owner=cast.executive_a, parent=company)
    client = client_for(cast.viewer_a)
    assert set(ids(client.get(OBJECTIVES, {"cycle_id": r["cycle"].pk}))) == {company.pk, team_objective.pk, mine.pk}
    assert ids(client.get(OBJECTIVES, {"cycle_id": r["closed_cycle"].pk})) == [closed.pk]
    assert set(ids(client.get(OBJECTIVES, {"level": "team"}))) == {team_objective.pk, closed.pk}
    assert set(ids(client.get(OBJECTIVES, {"level": "company"}))) == {company.pk, mine.pk}
    assert set(ids(client.get(OBJECTIVES, {"team_id": cast.team_a.pk}))) == {team_objective.pk, closed.pk}
    assert ids(client.get(OBJECTIVES, {"owner_id": cast.executive_a.pk})) == [mine.pk]
    assert set(ids(client.get(OBJECTIVES, {"parent_id": company.pk}))) == {team_objective.pk, mine.pk}
    assert set(ids(client.get(OBJECTIVES, {"top_level": "true"}))) == {company.pk, closed.pk}
    assert set(ids(client.get(OBJECTIVES, {"top_level": "false"}))) == {team_objective.pk, mine.pk}
    assert ids(client.get(OBJECTIVES, {"strategy_id": r["strategy"].pk})) == [company.pk]
    assert_invalid(client.get(OBJECTIVES, {"cycle_id": cast.strategic_b["cycle"].pk}), "cycle_id")
    assert_invalid(client.get(OBJECTIVES, {"level": "division"}), "level")


def test_objectives_filter_by_computed_status(cast, client_for):
    r = rows(cast)
    client = client_for(cast.viewer_a)
    # the key result's confidence 0.6 makes it and its objective at risk; the company objective has no key
    # results, so its status comes from progress 0.4 against the elapsed share of the quarter
    assert r["team_objective"].pk in ids(client.get(OBJECTIVES, {"status": "at_risk"}))
    assert r["team_objective"].pk not in ids(client.get(OBJECTIVES, {"status": ["on_track", "off_track"]}))
    check_in_record(key_result=r["key_result"], value=Decimal(70), confidence=Decimal("0.9"))
    assert r["team_objective"].pk in ids(client.get(OBJECTIVES, {"status": "on_track"}))
    assert set(ids(client.get(OBJECTIVES, {"status": "on_track", "cycle_id": r["cycle"].pk}))) == {
        r["objective"].pk,
        r["team_objective"].pk,
    }


def test_objectives_filter_by_staleness(cast, client_for):
    r = rows(cast)
    due = r["key_result"].next_checkin_due
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        client = client_for(cast.viewer_a)
        assert r["team_objective"].pk in ids(client.get(OBJECTIVES, {"stale": "false"}))
        assert ids(client.get(OBJECTIVES, {"stale": "true"})) == []
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        client = client_for(cast.viewer_a)
        assert ids(client.get(OBJECTIVES, {"stale": "true"})) == [r["team_objective"].pk]
        assert r["team_objective"].pk not in ids(client.get(OBJECTIVES, {"stale": "false"}))
        assert client.get(objective_url(r["team_objective"])).json()["stale"] is True
        assert client.get(objective_url(r["objective"])).json()["stale"] is False  # no key result of its own


def test_objective_figures_come_from_check_ins(cast, client_for):
    r = rows(cast)
    client = client_for(cast.member_a)
    team = client.get(objective_url(r["team_objective"])).json()
    assert (team["progress"], team["status"], team["stale"]) == (0.4, "at_risk", False)
    assert client.get(objective_url(r["objective"])).json()["progress"] == 0.4

    response = client.post(key_result_url(r["key_result"], "check-ins/"), {"value": "70"}, format="json")
    assert response.status_code == 201, response.content

    team = client.get(objective_url(r["team_objective"])).json()
    assert team["progress"] == 1.0
    assert team["status"] == "on_track"  # no confidence now: 1.0 is ahead of any expected progress
    company = client.get(objective_url(r["objective"])).json()
    assert company["progress"] == 1.0  # its only child
    assert Objective.objects.get(pk=r["objective"].pk).progress == Decimal(1)


def test_objective_progress_weights_its_children(cast, client_for):
    r = rows(cast)
    sibling = make_objective(cast, "Sibling", parent=r["objective"], weight=Decimal(3))
    make_key_result(cast, sibling, kind="milestone", baseline=Decimal(0), target=Decimal(1))  # 0
    data = client_for(cast.viewer_a).get(objective_url(r["objective"])).json()
    assert data["progress"] == 0.1  # (1 * 0.4 + 3 * 0) / 4


# =====================================================================================
# key results
# =====================================================================================
def kr_body(cast: Cast, **fields: Any) -> dict[str, Any]:
    return {
        "objective": rows(cast)["team_objective"].pk,
        "title": "Refunds in a day",
        "owner": cast.member_a.pk,
        "kind": "increase_to",
        "baseline": "10",
        "target": "20",
        **fields,
    }


def test_create_key_result(cast, client_for):
    before = timezone.now()
    response = client_for(cast.member_a).post(KEY_RESULTS, kr_body(cast, unit="%"), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["baseline"], data["target"], data["unit"], data["cadence"]) == ("10.0000", "20.0000", "%", "weekly")
    assert (data["current_value"], data["confidence"], data["progress"], data["stale"]) == (None, None, 0.0, False)
    key_result = KeyResult.objects.get(pk=data["id"])
    assert key_result.next_checkin_due >= before + timedelta(days=7)
    # a new key result at 0 lowers its objective: (0.4 + 0) / 2
    assert Objective.objects.get(pk=rows(cast)["team_objective"].pk).progress == Decimal("0.2")


@pytest.mark.parametrize("target", ["10", "5"])
def test_increase_needs_a_target_above_the_baseline(cast, client_for, target):
    response = client_for(cast.owner_a).post(KEY_RESULTS, kr_body(cast, target=target), format="json")
    assert_invalid(response, "target")
    assert not KeyResult.objects.filter(title="Refunds in a day").exists()


@pytest.mark.parametrize("target", ["10", "15"])
def test_decrease_needs_a_target_below_the_baseline(cast, client_for, target):
    body = kr_body(cast, kind="decrease_to", target=target)
    assert_invalid(client_for(cast.owner_a).post(KEY_RESULTS, body, format="json"), "target")
    assert not KeyResult.objects.filter(title="Refunds in a day").exists()


def test_changing_the_kind_rechecks_the_target(cast, client_for):
    key_result = rows(cast)["key_result"]  # increase_to 60 -> 70
    response = client_for(cast.owner_a).patch(key_result_url(key_result), {"kind": "decrease_to"}, format="json")
    assert_invalid(response, "target")
    key_result.refresh_from_db()
    assert key_result.kind == "increase_to"


def test_milestone_runs_from_zero_to_one_by_default(cast, client_for):
    body = kr_body(cast, kind="milestone")
    del body["baseline"], body["target"]
    response = client_for(cast.owner_a).post(KEY_RESULTS, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["baseline"], data["target"], data["progress"]) == ("0.0000", "1.0000", 0.0)


@pytest.mark.parametrize("kind", ["increase_to", "decrease_to", "stay_above", "stay_below"])
def test_metric_key_result_needs_a_target(cast, client_for, kind):
    body = kr_body(cast, kind=kind)
    del body["target"]
    assert_invalid(client_for(cast.owner_a).post(KEY_RESULTS, body, format="json"), "target")


def test_stay_above_may_target_its_baseline(cast, client_for):
    body = kr_body(cast, kind="stay_above", target="10")
    response = client_for(cast.owner_a).post(KEY_RESULTS, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["progress"] is None  # unknown until a first value


@pytest.mark.parametrize("weight", ["0", "-2"])
def test_key_result_weight_must_be_positive(cast, client_for, weight):
    assert_invalid(client_for(cast.owner_a).post(KEY_RESULTS, kr_body(cast, weight=weight), format="json"), "weight")


def test_key_result_cannot_be_added_to_a_closed_cycle(cast, client_for):
    body = kr_body(cast, objective=rows(cast)["closed_objective"].pk)
    assert_invalid(client_for(cast.owner_a).post(KEY_RESULTS, body, format="json"), "non_field_errors")
    assert not KeyResult.objects.filter(title="Refunds in a day").exists()


def test_key_result_with_check_ins_cannot_be_deleted(cast, client_for):
    key_result = rows(cast)["key_result"]
    assert_invalid(client_for(cast.owner_a).delete(key_result_url(key_result)), "non_field_errors")
    assert KeyResult.objects.filter(pk=key_result.pk).exists()
    assert key_result.check_ins.count() == 1


def test_key_result_without_check_ins_is_deleted_and_its_objective_recomputed(cast, client_for):
    r = rows(cast)
    extra = make_key_result(cast, r["team_objective"])
    assert Objective.objects.get(pk=r["team_objective"].pk).progress == Decimal("0.2")
    response = client_for(cast.owner_a).delete(key_result_url(extra))
    assert response.status_code == 204
    assert not KeyResult.objects.filter(pk=extra.pk).exists()
    assert Objective.objects.get(pk=r["team_objective"].pk).progress == Decimal("0.4")


# =====================================================================================
# check-ins
# =====================================================================================
def check_in(client, key_result: KeyResult, **body: Any):
    return client.post(key_result_url(key_result, "check-ins/"), body, format="json")


@pytest.mark.parametrize("confidence", ["1.01", "-0.1", "7"])
def test_check_in_confidence_is_between_zero_and_one(cast, client_for, confidence):
    key_result = rows(cast)["key_result"]
    response = check_in(client_for(cast.member_a), key_result, value="65", confidence=confidence)
    assert_invalid(response, "confidence")
    assert key_result.check_ins.count() == 1


def test_check_in_cannot_be_dated_in_the_future(cast, client_for):
    key_result = rows(cast)["key_result"]
    client = client_for(cast.member_a)
    later = (timezone.now() + timedelta(days=1, minutes=5)).isoformat()
    assert_invalid(check_in(client, key_result, value="65", as_of=later), "as_of")
    assert key_result.check_ins.count() == 1
    soon = (timezone.now() + timedelta(hours=12)).isoformat()  # clocks differ: a day of tolerance
    assert check_in(client, key_result, value="65", as_of=soon).status_code == 201


def test_check_in_records_value_author_and_source(cast, client_for):
    key_result = rows(cast)["key_result"]
    response = check_in(client_for(cast.member_a), key_result, value="66.5", confidence="0.75", comment="Live")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["value"], data["confidence"], data["comment"]) == ("66.5000", 0.75, "Live")
    assert (data["source"], data["author"]["id"], data["day"]) == ("manual", cast.member_a.pk, None)
    row = CheckIn.objects.get(pk=data["id"])
    assert (row.value, row.confidence, row.author) == (Decimal("66.5"), Decimal("0.75"), cast.member_a)


def test_key_result_figures_follow_the_latest_check_in_by_as_of(cast, client_for):
    key_result = rows(cast)["key_result"]
    client = client_for(cast.member_a)
    assert check_in(client, key_result, value="68", confidence="0.8").status_code == 201
    data = client.get(key_result_url(key_result)).json()
    assert (data["current_value"], data["confidence"], data["progress"], data["status"]) == (
        "68.0000",
        0.8,
        0.8,
        "on_track",
    )
    back_dated = (timezone.now() - timedelta(days=3)).isoformat()
    assert check_in(client, key_result, value="61", confidence="0.1", as_of=back_dated).status_code == 201
    data = client.get(key_result_url(key_result)).json()
    assert (data["current_value"], data["confidence"], data["progress"]) == ("68.0000", 0.8, 0.8)
    listed = client.get(key_result_url(key_result, "check-ins/")).json()["results"]
    assert [row["value"] for row in listed] == ["68.0000", "64.0000", "61.0000"]  # newest first by as_of


@pytest.fixture
def after_the_cast_check_in(cast):
    """An hour after the cast's check-in, with the clock standing still."""
    with time_machine.travel(rows(cast)["key_result"].check_ins.get().as_of + timedelta(hours=1), tick=False):
        yield timezone.now()


def test_next_check_in_is_due_one_cadence_after_the_latest(cast, client_for, after_the_cast_check_in):
    key_result = rows(cast)["key_result"]
    client = client_for(cast.member_a)
    as_of = after_the_cast_check_in - timedelta(minutes=10)
    assert check_in(client, key_result, value="65", as_of=as_of.isoformat()).status_code == 201
    key_result.refresh_from_db()
    assert key_result.next_checkin_due == as_of + timedelta(days=7)
    data = client.get(key_result_url(key_result)).json()
    assert datetime.fromisoformat(data["next_checkin_due"]) == as_of + timedelta(days=7)
    # an older check-in does not bring it forward
    assert check_in(client, key_result, value="62", as_of=(as_of - timedelta(days=5)).isoformat()).status_code == 201
    key_result.refresh_from_db()
    assert key_result.next_checkin_due == as_of + timedelta(days=7)
    # a new cadence counts from the latest check-in too
    response = client.patch(key_result_url(key_result), {"cadence": "monthly"}, format="json")
    assert response.status_code == 200, response.content
    key_result.refresh_from_db()
    assert key_result.next_checkin_due == as_of + timedelta(days=30)


def test_key_result_is_stale_once_its_check_in_is_overdue(cast, client_for):
    key_result = rows(cast)["key_result"]
    due = key_result.next_checkin_due
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        client = client_for(cast.viewer_a)
        assert client.get(key_result_url(key_result)).json()["stale"] is False
        assert key_result.pk not in ids(client.get(KEY_RESULTS, {"stale": "true"}))
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        client = client_for(cast.viewer_a)
        assert client.get(key_result_url(key_result)).json()["stale"] is True
        assert key_result.pk in ids(client.get(KEY_RESULTS, {"stale": "true"}))
        # a check-in makes it current again
        assert check_in(client_for(cast.member_a), key_result, value="65").status_code == 201
        assert client.get(key_result_url(key_result)).json()["stale"] is False


# =====================================================================================
# the idempotent daily value
# =====================================================================================
def test_daily_value_is_idempotent(cast, client_for):
    key_result = rows(cast)["key_result"]
    client = client_for(cast.member_a)
    day = (timezone.now().astimezone(BERLIN).date() - timedelta(days=1)).isoformat()
    first = client.put(day_url(key_result, day), {"value": "65", "confidence": "0.7"}, format="json")
    assert first.status_code == 201, first.content
    data = first.json()
    assert (data["day"], data["value"], data["confidence"], data["source"]) == (day, "65.0000", 0.7, "api")
    assert datetime.fromisoformat(data["as_of"]) == datetime.combine(
        date.fromisoformat(day), datetime.min.time(), BERLIN
    )
    rows_before = CheckIn.objects.count()
    history_before = CheckIn.history.filter(id=data["id"]).count()
    key_result.refresh_from_db()
    due_before = key_result.next_checkin_due

    again = client.put(day_url(key_result, day), {"value": "65.0", "confidence": "0.70"}, format="json")
    assert again.status_code == 200, again.content
    assert again.json() == data
    assert CheckIn.objects.count() == rows_before
    assert CheckIn.history.filter(id=data["id"]).count() == history_before
    key_result.refresh_from_db()
    assert key_result.next_checkin_due == due_before


def test_daily_value_for_the_same_day_replaces_it_and_history_keeps_the_old(cast, client_for):
    key_result = rows(cast)["key_result"]
    client = client_for(cast.member_a)
    day = "2026-10-15"
    first = client.put(day_url(key_result, day), {"value": "65"}, format="json")
    assert first.status_code == 201, first.content
    second = client.put(day_url(key_result, day), {"value": "67", "comment": "recount"}, format="json")
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    assert (second.json()["value"], second.json()["comment"]) == ("67.0000", "recount")
    assert list(
        CheckIn.objects.filter(key_result=key_result, day=date(2026, 10, 15)).values_list("value", flat=True)
    ) == [Decimal("67")]
    old_values = set(CheckIn.history.filter(id=first.json()["id"]).values_list("value", flat=True))
    assert old_values == {Decimal(65), Decimal(67)}


def test_daily_value_counts_from_the_start_of_its_day(cast, client_for):
    key_result = rows(cast)["key_result"]
    client = client_for(cast.member_a)
    tomorrow = timezone.now().astimezone(BERLIN).date() + timedelta(days=1)  # inside the day of tolerance
    assert client.put(day_url(key_result, tomorrow.isoformat()), {"value": "69"}, format="json").status_code == 201
    assert client.put(day_url(key_result, "2026-10-02"), {"value": "61"}, format="json").status_code == 201
    key_result.refresh_from_db()
    assert key_result.current_value == Decimal(64)  # neither tomorrow's value nor an old one is current now
    assert key_result.next_checkin_due == datetime.combine(tomorrow, datetime.min.time(), BERLIN) + timedelta(days=7)
    with time_machine.travel(datetime.combine(tomorrow, datetime.min.time(), BERLIN) + timedelta(minutes=1)):
        doc = client_for(cast.viewer_a).get(cycle_url(rows(cast)["cycle"], "rollup/")).json()
    [kr] = doc["objectives"][0]["children"][0]["key_results"]
    assert (Decimal(kr["current_value"]), kr["progress"]) == (Decimal(69), 0.9)


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-01", "2026-00-10"])
def test_daily_value_with_a_malformed_day_is_refused(cast, client_for, day):
    key_result = rows(cast)["key_result"]
    response = client_for(cast.member_a).put(day_url(key_result, day), {"value": "65"}, format="json")
    assert_invalid(response, "day")
    assert key_result.check_ins.count() == 1


def test_daily_value_in_the_future_is_refused(cast, client_for):
    key_result = rows(cast)["key_result"]
    day = (timezone.now().astimezone(BERLIN).date() + timedelta(days=3)).isoformat()
    # The error names the field the caller sent: the day in the URL.
    assert_invalid(client_for(cast.member_a).put(day_url(key_result, day), {"value": "65"}, format="json"), "day")
    assert key_result.check_ins.count() == 1


def test_write_key_sets_a_daily_value(cast, key_client):
    key_result = rows(cast)["key_result"]
    response = key_client(cast.raw_key_a).put(day_url(key_result, "2026-10-20"), {"value": "63"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    key = APIKey.objects.get(company=cast.company_a, name="Alpha CI")
    assert (data["source"], data["author"], data["author_api_key_prefix"]) == ("api", None, key.prefix)
    assert cast.raw_key_a.startswith(key.prefix)
    row = CheckIn.objects.get(pk=data["id"])
    assert (row.source, row.author, row.author_api_key_prefix, row.value) == ("api", None, key.prefix, Decimal(63))


# =====================================================================================
# the roll-up
# =====================================================================================
def expected_share(cycle: Cycle, at: datetime) -> float:
    begins = datetime.combine(cycle.start, datetime.min.time(), BERLIN)
    ends = datetime.combine(cycle.end + timedelta(days=1), datetime.min.time(), BERLIN)
    share = (at - begins) / (ends - begins)
    return round(min(1.0, max(0.0, share)), 4)


def test_rollup_nests_the_tree_with_its_figures(cast, client_for):
    r = rows(cast)
    cycle = r["cycle"]
    at = r["key_result"].check_ins.get().as_of + timedelta(hours=1)
    with time_machine.travel(at, tick=False):
        response = client_for(cast.viewer_a).get(cycle_url(cycle, "rollup/"))
    assert response.status_code == 200, response.content
    doc = response.json()
    expected = expected_share(cycle, at)
    assert doc["cycle"]["id"] == cycle.pk
    assert datetime.fromisoformat(doc["at"]) == at
    assert doc["expected"] == expected
    assert [o["id"] for o in doc["objectives"]] == [r["objective"].pk]
    top = doc["objectives"][0]
    assert (top["level"], top["parent"], top["key_results"]) == ("company", None, [])
    assert top["owner"]["id"] == cast.owner_a.pk
    assert [child["id"] for child in top["children"]] == [r["team_objective"].pk]
    team = top["children"][0]
    assert team["team"] == {"id": cast.team_a.pk, "name": cast.team_a.name}
    assert (team["parent"], team["children"]) == (r["objective"].pk, [])
    [kr] = team["key_results"]
    assert kr["id"] == r["key_result"].pk
    assert (kr["baseline"], kr["target"], kr["weight"]) == ("60.0000", "70.0000", "1.000")
    assert Decimal(kr["current_value"]) == Decimal(64)
    assert (kr["progress"], kr["confidence"], kr["status"], kr["expected"]) == (0.4, 0.6, "at_risk", expected)
    assert (kr["stale"], kr["trend"]) == (False, 0.4)  # a week ago there was no value: progress 0
    assert (team["progress"], team["confidence"], team["status"]) == (0.4, 0.6, "at_risk")
    assert top["progress"] == 0.4
    assert top["confidence"] is None  # no key results of its own: status from the gap to expected
    gap = 0.4 - expected
    assert top["status"] == ("on_track" if gap >= -0.1 else "at_risk" if gap >= -0.25 else "off_track")
    assert doc["progress"] == top["progress"]
    assert doc["teams"] == [{"id": cast.team_a.pk, "name": cast.team_a.name, "progress": 0.4, "objectives": 1}]
    strategy = r["strategy"]
    assert doc["strategies"] == [{"id": strategy.pk, "name": strategy.title, "progress": 0.4, "objectives": 1}]


def test_rollup_renders_current_value_with_four_places(cast, client_for):
    r = rows(cast)
    doc = client_for(cast.viewer_a).get(cycle_url(r["cycle"], "rollup/")).json()
    [kr] = doc["objectives"][0]["children"][0]["key_results"]
    assert kr["current_value"] == "64.0000"
    assert client_for(cast.viewer_a).get(key_result_url(r["key_result"])).json()["current_value"] == "64.0000"


def test_rollup_cycle_progress_weights_top_level_objectives(cast, client_for):
    r = rows(cast)
    other = make_objective(cast, "Hire", weight=Decimal(3))
    key_result = make_key_result(cast, other, kind="milestone", baseline=Decimal(0), target=Decimal(1))
    check_in_record(key_result=key_result, value=Decimal(1))
    doc = client_for(cast.viewer_a).get(cycle_url(r["cycle"], "rollup/")).json()
    assert {o["id"]: o["progress"] for o in doc["objectives"]} == {r["objective"].pk: 0.4, other.pk: 1.0}
    assert doc["progress"] == 0.85  # (0.4 + 3 * 1) / 4


def test_rollup_includes_children_in_other_cycles(cast, client_for):
    r = rows(cast)
    next_cycle = cycle_create(company=cast.company_a, name="2027 Q1", start=date(2027, 1, 1), end=date(2027, 3, 31))
    child = make_objective(cast, "Next quarter", cycle=next_cycle, parent=r["objective"])
    key_result = make_key_result(cast, child)
    check_in_record(key_result=key_result, value=Decimal(10))
    doc = client_for(cast.viewer_a).get(cycle_url(r["cycle"], "rollup/")).json()
    top = doc["objectives"][0]
    assert {c["id"]: c["progress"] for c in top["children"]} == {r["team_objective"].pk: 0.4, child.pk: 1.0}
    assert top["progress"] == 0.7
    assert doc["teams"][0]["objectives"] == 1  # the per-team totals count the cycle's own objectives
    nested = next(c for c in top["children"] if c["id"] == child.pk)
    assert (nested["cycle"], nested["expected"]) == (next_cycle.pk, 0.0)  # its own cycle has not begun
    # in its own cycle's roll-up it is at the top, pointing to its parent in Q4
    doc = client_for(cast.viewer_a).get(cycle_url(next_cycle, "rollup/")).json()
    assert [(o["id"], o["parent"], o["progress"]) for o in doc["objectives"]] == [(child.pk, r["objective"].pk, 1.0)]
    assert doc["progress"] == 1.0


def test_rollup_trend_compares_with_a_week_ago(cast, client_for):
    r = rows(cast)
    key_result = r["key_result"]
    now = timezone.now()
    check_in_record(key_result=key_result, value=Decimal(62), as_of=now - timedelta(days=8))
    check_in_record(key_result=key_result, value=Decimal(68), as_of=now)
    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        doc = client_for(cast.viewer_a).get(cycle_url(r["cycle"], "rollup/")).json()
    top = doc["objectives"][0]
    team = top["children"][0]
    kr = team["key_results"][0]
    assert (kr["progress"], kr["trend"]) == (0.8, 0.6)  # 0.8 now, 0.2 eight days ago
    assert team["trend"] == 0.6
    assert top["trend"] == 0.6


def _big_tree(cast: Cast) -> None:
    """30 more objectives (some nested three deep) with 100 key results that have check-ins."""
    r = rows(cast)
    due = timezone.now() + timedelta(days=7)
    objectives: list[Objective] = []
    for index in range(30):
        parent = r["objective"] if index % 3 == 0 else objectives[-1]
        objective = Objective.objects.create(
            company=cast.company_a,
            cycle=r["cycle"],
            title=f"O{index}",
            owner=cast.member_a,
            parent=parent,
            level="team" if index % 2 else "company",
            team=cast.team_a if index % 2 else None,
        )
        objective.strategies.add(r["strategy"])
        objectives.append(objective)
    for index in range(100):
        key_result = KeyResult.objects.create(
            company=cast.company_a,
            objective=objectives[index % 30],
            title=f"K{index}",
            owner=cast.member_a,
            kind=["increase_to", "milestone", "stay_above"][index % 3],
            baseline=0,
            target=1,
            next_checkin_due=due,
        )
        for days in (1, 9):
            CheckIn.objects.create(
                key_result=key_result, value=Decimal(index % 2), as_of=timezone.now() - timedelta(days=days)
            )


def test_rollup_queries_do_not_grow_with_the_tree(cast, client_for):
    cycle = rows(cast)["cycle"]
    client = client_for(cast.viewer_a)
    with CaptureQueriesContext(connection) as small:
        response = client.get(cycle_url(cycle, "rollup/"))
    assert response.status_code == 200
    _big_tree(cast)
    with CaptureQueriesContext(connection) as big:
        response = client.get(cycle_url(cycle, "rollup/"))
    assert response.status_code == 200
    doc = response.json()

    def count(nodes: list[dict]) -> tuple[int, int]:
        objectives = key_results = 0
        for node in nodes:
            below = count(node["children"])
            objectives += 1 + below[0]
            key_results += len(node["key_results"]) + below[1]
        return objectives, key_results

    assert count(doc["objectives"]) == (32, 101)
    assert len(big) == len(small)
    # the cycle, then the tree's objectives, its key results and what its objectives serve
    assert len(big) - AUTH_QUERIES == 4, [q["sql"][:100] for q in big]


def test_only_the_list_builds_the_filterset(cast, client_for, monkeypatch):
    """A detail route, a command or a roll-up has no filter parameter to apply: it builds no filterset."""
    from okrs.filtersets import CycleFilterSet

    built: list[str] = []
    real_init = CycleFilterSet.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(kwargs["request"].path)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(CycleFilterSet, "__init__", counting)
    cycle = rows(cast)["cycle"]
    client = client_for(cast.viewer_a)
    for path in (cycle_url(cycle), cycle_url(cycle, "rollup/")):
        assert client.get(path).status_code == 200
    assert built == []
    assert cycle.pk in ids(client.get(CYCLES, {"status": cycle.status}))
    assert built == [CYCLES]


# =====================================================================================
# closing a cycle
# =====================================================================================
@pytest.fixture
def closing(cast):
    """The cast's Q4 with a second key result whose progress has more than four decimals, seen in January."""
    r = rows(cast)
    extra = make_key_result(cast, r["team_objective"], "Uptime", baseline=Decimal(0), target=Decimal(3))
    check_in_record(key_result=extra, value=Decimal(1))  # 1/3
    at = max(datetime(2027, 1, 5, 12, tzinfo=UTC), timezone.now() + timedelta(hours=1))
    with time_machine.travel(at, tick=False):
        yield r | {"extra": extra, "at": at}


def test_closing_reads_each_graded_objective_whole_not_column_by_column(cast, client_for, closing):
    """The tree holds only the columns its readers use; the audit history of a graded objective keeps every
    column, which must not be fetched one query at a time."""
    with CaptureQueriesContext(connection) as queries:
        assert client_for(cast.owner_a).post(cycle_url(closing["cycle"], "close/")).status_code == 200

    one_column = [q["sql"] for q in queries.captured_queries if _reads_one_column(q["sql"], "okrs_objective")]
    assert one_column == []
    history = Objective.history.filter(id=closing["objective"].pk).order_by("-history_date").first()
    assert history is not None and history.description == Objective.objects.get(pk=closing["objective"].pk).description


def _reads_one_column(sql: str, table: str) -> bool:
    """A deferred field being loaded: ``SELECT "t"."id", "t"."<column>" FROM "t" WHERE "t"."id" = ...``."""
    head = f'SELECT "{table}"."id", "{table}".'
    return sql.startswith(head) and f' FROM "{table}" WHERE "{table}"."id" = ' in sql and sql.count(",") == 1


def test_closing_grades_each_objective_with_its_progress(cast, client_for, closing):
    r = closing
    next_cycle = cycle_create(company=cast.company_a, name="2027 Q1", start=date(2027, 1, 1), end=date(2027, 3, 31))
    elsewhere = make_objective(cast, "Next quarter", cycle=next_cycle, parent=r["objective"])
    response = client_for(cast.owner_a).post(cycle_url(r["cycle"], "close/"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    assert datetime.fromisoformat(response.json()["closed_at"]) == r["at"]
    cycle = Cycle.objects.get(pk=r["cycle"].pk)
    assert (cycle.status, cycle.closed_at) == ("closed", r["at"])
    team = Objective.objects.get(pk=r["team_objective"].pk)
    company = Objective.objects.get(pk=r["objective"].pk)
    # (0.4 + 1/3) / 2 = 0.3666...; the company objective: its child, and its child in Q1 without progress
    assert team.progress == Decimal("0.366667")
    assert team.grade == Decimal("0.3667")
    assert company.grade == Decimal("0.3667")
    assert (team.grade_overridden, team.grade_reason) == (False, "")
    elsewhere.refresh_from_db()
    assert elsewhere.grade is None  # another cycle's objective is not graded
    assert Cycle.objects.get(pk=next_cycle.pk).status == "planning"
    data = client_for(cast.viewer_a).get(objective_url(team)).json()
    assert (data["grade"], data["progress"]) == (0.3667, 0.366667)


def test_closed_cycle_is_read_only(cast, client_for, closing):
    r = closing
    client = client_for(cast.owner_a)
    assert client.post(cycle_url(r["cycle"], "close/")).status_code == 200
    assert_invalid(client.patch(objective_url(r["team_objective"]), {"title": "x"}, format="json"), "non_field_errors")
    assert_invalid(client.patch(key_result_url(r["key_result"]), {"target": "80"}, format="json"), "non_field_errors")
    assert_invalid(client.patch(cycle_url(r["cycle"]), {"name": "x"}, format="json"), "non_field_errors")
    assert_invalid(client.delete(key_result_url(r["extra"])), "non_field_errors")
    body = objective_body(cast, parent=r["objective"].pk)
    new_child = client.post(OBJECTIVES, body | {"cycle": r["cycle"].pk}, format="json")
    assert_invalid(new_child, "non_field_errors")
    assert Objective.objects.get(pk=r["team_objective"].pk).title == "Alpha effortless checkout"
    assert KeyResult.objects.get(pk=r["key_result"].pk).target == Decimal(70)
    assert Cycle.objects.get(pk=r["cycle"].pk).name == "Alpha 2026 Q4"


def test_closing_twice_is_refused(cast, client_for, closing):
    client = client_for(cast.owner_a)
    assert client.post(cycle_url(closing["cycle"], "close/")).status_code == 200
    closed_at = Cycle.objects.get(pk=closing["cycle"].pk).closed_at
    assert_invalid(client.post(cycle_url(closing["cycle"], "close/")), "non_field_errors")
    assert Cycle.objects.get(pk=closing["cycle"].pk).closed_at == closed_at
    assert_invalid(client.post(cycle_url(rows(cast)["closed_cycle"], "close/")), "non_field_errors")


def test_late_check_in_must_be_dated_inside_the_closed_cycle(cast, client_for, closing):
    r = closing
    client = client_for(cast.member_a)
    assert client_for(cast.owner_a).post(cycle_url(r["cycle"], "close/")).status_code == 200
    grade = Objective.objects.get(pk=r["team_objective"].pk).grade

    late = check_in(client, r["key_result"], value="70", as_of="2026-12-20T10:00:00Z")
    assert late.status_code == 201, late.content
    # 00:30 on 1 January in Berlin: after the cycle, although still 31 December in UTC
    outside = check_in(client, r["key_result"], value="70", as_of="2026-12-31T23:30:00Z")
    assert_invalid(outside, "as_of")
    assert_invalid(check_in(client, r["key_result"], value="70", as_of="2027-01-02T10:00:00Z"), "as_of")
    # 00:30 on 1 October in Berlin: inside, although still 30 September in UTC
    early = check_in(client, r["key_result"], value="61", as_of="2026-09-30T22:30:00Z")
    assert early.status_code == 201, early.content
    assert r["key_result"].check_ins.count() == 3

    team = Objective.objects.get(pk=r["team_objective"].pk)
    assert team.progress == Decimal("0.666667")  # cached figures follow the late check-in: (1 + 1/3) / 2
    assert team.grade == grade  # the grade recorded at closing stays


def test_late_daily_value_into_a_closed_cycle(cast, client_for, closing):
    r = closing
    client = client_for(cast.member_a)
    assert client_for(cast.owner_a).post(cycle_url(r["cycle"], "close/")).status_code == 200
    assert client.put(day_url(r["key_result"], "2026-12-31"), {"value": "66"}, format="json").status_code == 201
    assert_invalid(client.put(day_url(r["key_result"], "2027-01-01"), {"value": "66"}, format="json"), "day")


def test_owner_of_the_objective_writes_its_closing_record(cast, client_for):
    objective = rows(cast)["closed_objective"]
    body = {"result": "partly", "learnings": "Start earlier.", "decisions": "Keep it."}
    response = client_for(cast.member_a).put(objective_url(objective, "grade/"), body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["result"], data["learnings"], data["decisions"]) == ("partly", "Start earlier.", "Keep it.")
    assert (data["grade"], data["grade_overridden"]) == (None, False)  # no key results: no progress to grade
    objective.refresh_from_db()
    assert (objective.result, objective.learnings, objective.decisions) == ("partly", "Start earlier.", "Keep it.")


def test_overriding_the_grade_needs_a_reason(cast, client_for):
    objective = rows(cast)["closed_objective"]
    client = client_for(cast.member_a)
    url = objective_url(objective, "grade/")
    for reason in ({}, {"grade_reason": "  "}):
        response = client.put(url, {"result": "achieved", "grade": "0.9", **reason}, format="json")
        assert_invalid(response, "grade_reason")
    objective.refresh_from_db()
    assert (objective.grade, objective.grade_overridden, objective.result) == (None, False, "")

    body = {"result": "achieved", "grade": "0.9", "grade_reason": "Shipped, measured late."}
    response = client.put(url, body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["grade"], data["grade_overridden"], data["grade_reason"]) == (0.9, True, "Shipped, measured late.")
    objective.refresh_from_db()
    assert (objective.grade, objective.grade_overridden) == (Decimal("0.9"), True)


@pytest.mark.parametrize("grade", ["1.01", "-0.1"])
def test_grade_is_between_zero_and_one(cast, client_for, grade):
    objective = rows(cast)["closed_objective"]
    body = {"result": "achieved", "grade": grade, "grade_reason": "x"}
    assert_invalid(client_for(cast.owner_a).put(objective_url(objective, "grade/"), body, format="json"), "grade")


def test_overridden_grade_never_loses_its_reason(cast, client_for):
    objective = rows(cast)["closed_objective"]
    client = client_for(cast.member_a)
    url = objective_url(objective, "grade/")
    body = {"result": "achieved", "grade": "0.9", "grade_reason": "Shipped, measured late."}
    assert client.put(url, body, format="json").status_code == 200
    assert client.put(url, {"result": "achieved", "learnings": "More."}, format="json").status_code == 200
    objective.refresh_from_db()
    assert not objective.grade_overridden or objective.grade_reason.strip()


def test_grading_an_objective_of_an_open_cycle_is_refused(cast, client_for):
    objective = rows(cast)["team_objective"]
    response = client_for(cast.owner_a).put(objective_url(objective, "grade/"), {"result": "missed"}, format="json")
    assert_invalid(response, "non_field_errors")
    objective.refresh_from_db()
    assert (objective.result, objective.grade) == ("", None)


def test_viewer_cannot_close_or_grade(cast, client_for):
    client = client_for(cast.viewer_a)
    assert_forbidden(client.post(cycle_url(rows(cast)["cycle"], "close/")))
    objective = rows(cast)["closed_objective"]
    assert_forbidden(client.put(objective_url(objective, "grade/"), {"result": "missed"}, format="json"))
    assert Cycle.objects.get(pk=rows(cast)["cycle"].pk).status == "active"
    objective.refresh_from_db()
    assert objective.result == ""

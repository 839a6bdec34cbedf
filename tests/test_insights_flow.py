"""The Flow insight against a hand-counted history: velocity, flow time, load, efficiency, distribution.

The period is March 2027 as four ISO weeks in Berlin: Monday 1 March 00:00 (CET) to Monday 29 March
00:00 (CEST, the clocks went forward on Sunday the 28th). Every number asserted here is worked out in
the comments from the moves listed in ``history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from epics.models import Epic, StatusChange
from insights.flow import ByType, Efficiency, Flow, FlowTime, flow
from outcomes.models import Company, Team, User
from tests.factories import CompanyFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START, END = datetime(2027, 3, 1, tzinfo=BERLIN), datetime(2027, 3, 29, tzinfo=BERLIN)
NOW = datetime(2027, 4, 5, 12, tzinfo=BERLIN)
WEEKS = [date(2027, 3, 1), date(2027, 3, 8), date(2027, 3, 15), date(2027, 3, 22)]


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=BERLIN)


def types(feature: int = 0, defect: int = 0, risk: int = 0, debt: int = 0) -> ByType:
    return ByType({"feature": feature, "defect": defect, "risk": risk, "debt": debt})


def shares(feature: str, defect: str, risk: str, debt: str) -> dict[str, Decimal | None]:
    return {"feature": Decimal(feature), "defect": Decimal(defect), "risk": Decimal(risk), "debt": Decimal(debt)}


Move = tuple[datetime, str, bool]  # when, the status entered, waiting


def make_epic(company: Company, owner: User, title: str, work_type: str, team: Team | None, moves: list[Move]) -> Epic:
    """An epic whose fields agree with its history, as the lifecycle would have left them."""
    status = moves[-1][1]
    started = [when for when, entered, _ in moves if entered in {"in_progress", "done"}]
    finished = [when for when, entered, _ in moves if entered == "done"]
    epic = Epic.objects.create(
        company=company,
        owner=owner,
        title=title,
        work_type=work_type,
        team=team,
        status=status,
        waiting=moves[-1][2],
        started_at=started[0] if started else None,
        done_at=finished[-1] if status == "done" else None,
    )
    previous = ""
    rows = []
    for when, entered, waiting in moves:
        rows.append(
            StatusChange(epic=epic, from_status=previous, to_status=entered, at=when, source="sync", waiting=waiting)
        )
        previous = entered
    StatusChange.objects.bulk_create(rows)
    return epic


@dataclass
class World:
    company: Company
    owner: User
    one: Team
    two: Team
    epics: dict[str, Epic]


P, W, IP, DONE = "planned", True, "in_progress", "done"


def history(team_one: Team, team_two: Team) -> list[tuple[str, str, Team | None, list[Move]]]:
    """Twelve epics; what each one contributes is noted beside it."""
    return [
        # E1 feature, done Mar 5 (week 1). Flow time 3 days, all active.
        ("E1", "feature", team_one, [(at(2, 20), P, False), (at(3, 2), IP, False), (at(3, 5), DONE, False)]),
        # E2 defect, done Mar 6 (week 1). Flow time 5 days: active Mar 1-2 and Mar 4-6 (3 days), waiting
        # Mar 2-4 (2 days): efficiency 3/5.
        (
            "E2",
            "defect",
            team_one,
            [(at(3, 1), IP, False), (at(3, 2), IP, W), (at(3, 4), IP, False), (at(3, 6), DONE, False)],
        ),
        # E3 feature, reopened: done Mar 10, back in progress Mar 12, done again Mar 16 (week 3), counted
        # once. Flow time from the first start, Mar 8, to the last done: 8 days; in progress 2 + 4 = 6 days.
        (
            "E3",
            "feature",
            team_two,
            [(at(3, 8), IP, False), (at(3, 10), DONE, False), (at(3, 12), IP, False), (at(3, 16), DONE, False)],
        ),
        # E4 risk, no team, started Feb 25 12:00 CET (11:00 UTC), done Sunday Mar 28 12:00 CEST (10:00 UTC,
        # week 4): 31 days less the hour the clocks skipped = 30 d 23 h = 2,674,800 s = 30.96 days.
        ("E4", "risk", None, [(at(2, 25), IP, False), (at(3, 28), DONE, False)]),
        # E5 debt, done Monday Mar 8 00:30 in Berlin (still Sunday in UTC): week 2. Flow time 4 days; it was
        # in progress just before week 1 ended.
        ("E5", "debt", team_one, [(at(3, 4, 0, 30), IP, False), (at(3, 8, 0, 30), DONE, False)]),
        # E6 feature, cancelled Mar 9: never done, in progress at the end of week 1.
        ("E6", "feature", team_one, [(at(3, 2), IP, False), (at(3, 9), "cancelled", False)]),
        # E7 feature, in progress since Mar 10 and waiting since Mar 20: in progress now and at the ends of
        # weeks 2, 3 and 4; not done, so its wait does not make efficiency known for team two.
        ("E7", "feature", team_two, [(at(3, 10), IP, False), (at(3, 20), IP, W)]),
        # E8 defect, done in February: outside everything.
        ("E8", "defect", team_one, [(at(2, 1), IP, False), (at(2, 10), DONE, False)]),
        # E9 feature, started Mar 25, done Apr 2 (after the period): in progress at the end of week 4 only.
        ("E9", "feature", team_one, [(at(3, 25), IP, False), (at(4, 2), DONE, False)]),
        # E10 risk, only planned.
        ("E10", "risk", None, [(at(3, 3), P, False)]),
        # E11 defect, done Mar 3 then reopened Mar 4 and still in progress: not done, in progress throughout.
        ("E11", "defect", team_two, [(at(3, 1), IP, False), (at(3, 3), DONE, False), (at(3, 4), IP, False)]),
        # E12 debt, arrived done from a tracker on Mar 10 (week 2): counted as done, but with no start on
        # record it is left out of flow time (``unknown_start``).
        ("E12", "debt", None, [(at(3, 10), "proposed", False), (at(3, 10), DONE, False)]),
    ]


def build_world() -> World:
    company = CompanyFactory(timezone="Europe/Berlin")
    owner = UserFactory()
    one, two = TeamFactory(company=company, name="One"), TeamFactory(company=company, name="Two")
    epics = {
        title: make_epic(company, owner, title, work_type, team, moves)
        for title, work_type, team, moves in history(one, two)
    }
    return World(company, owner, one, two, epics)


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def result(world: World) -> Flow:
    return flow(world.company, START, END, now=NOW)


# --- the whole company ----------------------------------------------------------------------------------------------


def test_velocity_counts_each_epic_at_its_last_done_in_berlin_weeks(result: Flow):
    # Week 1: E1 feature, E2 defect. Week 2: E5 debt, E12 debt. Week 3: E3 feature. Week 4: E4 risk.
    assert [week.start for week in result.weeks] == WEEKS
    assert [week.done for week in result.weeks] == [types(1, 1), types(debt=2), types(1), types(risk=1)]
    assert [week.done.total for week in result.weeks] == [2, 2, 1, 1]
    assert result.done == types(feature=2, defect=1, risk=1, debt=2)


def test_flow_time_runs_from_the_first_start_to_the_last_done(result: Flow):
    # Sorted: E1 3, E5 4, E2 5, E3 8, E4 30.96. Nearest rank: p50 is the 3rd of 5, p85 the 5th (4.25 -> 5).
    # Mean: (3 + 4 + 5 + 8 + 30.958333) / 5 = 10.19.
    assert result.flow_time == FlowTime(5, Decimal("5.00"), Decimal("30.96"), Decimal("10.19"))
    assert result.unknown_start == 1  # E12
    assert result.flow_time_by_type == {
        # E1 3 and E3 8: p50 is the 1st of 2, p85 the 2nd (1.7 -> 2).
        "feature": FlowTime(2, Decimal("3.00"), Decimal("8.00"), Decimal("5.50")),
        "defect": FlowTime(1, Decimal("5.00"), Decimal("5.00"), Decimal("5.00")),
        "risk": FlowTime(1, Decimal("30.96"), Decimal("30.96"), Decimal("30.96")),
        "debt": FlowTime(1, Decimal("4.00"), Decimal("4.00"), Decimal("4.00")),
    }
    # Week 1 holds E1 (3) and E2 (5).
    assert result.weeks[0].flow_time == FlowTime(2, Decimal("3.00"), Decimal("5.00"), Decimal("4.00"))


def test_load_now_and_at_each_weeks_end(result: Flow):
    assert result.in_progress == types(feature=1, defect=1)  # E7, E11 (E9 is done by now)
    loads = [week.in_progress_at_end for week in result.weeks]
    assert loads == [
        types(feature=1, defect=1, risk=1, debt=1),  # Mar 8 00:00: E6, E11, E4, E5 (done 30 minutes later)
        types(feature=2, defect=1, risk=1),  # Mar 15: E3 (reopened), E7, E11, E4
        types(feature=1, defect=1, risk=1),  # Mar 22: E7 (waiting still counts), E11, E4
        types(feature=2, defect=1),  # Mar 29: E7, E9, E11 (E4 was done on the 28th)
    ]


def test_efficiency_is_active_time_over_time_in_progress(result: Flow):
    # Active: E1 3 + E2 3 + E5 4 + E3 6 + E4 30 d 23 h = 4,057,200 s; waiting: E2 2 days = 172,800 s.
    # 4,057,200 / 4,230,000 = 0.95915.
    assert result.efficiency_known is True
    assert result.efficiency == Efficiency(Decimal("46.96"), Decimal("2.00"), Decimal("0.9591"), True)
    assert result.efficiency_by_type == {
        "feature": Efficiency(Decimal("9.00"), Decimal("0.00"), None, False),  # E1, E3: no wait on record
        "defect": Efficiency(Decimal("3.00"), Decimal("2.00"), Decimal("0.6000"), True),  # E2: 3 / 5
        "risk": Efficiency(Decimal("30.96"), Decimal("0.00"), None, False),
        "debt": Efficiency(Decimal("4.00"), Decimal("0.00"), None, False),  # E12 spent no time in progress
    }
    # Week 1: E1 3 + E2 3 active, 2 waiting: 6 / 8.
    assert result.weeks[0].efficiency.ratio == Decimal("0.7500")
    assert [week.efficiency.ratio for week in result.weeks[1:]] == [None, None, None]


def test_distribution_of_work_types(result: Flow):
    assert result.done_shares == shares("0.3333", "0.1667", "0.1667", "0.3333")  # 2, 1, 1, 2 of 6
    assert result.in_progress_shares == shares("0.5000", "0.5000", "0", "0")  # E7, E11


def test_the_table_has_a_row_per_week(result: Flow):
    header, rows = result.table()
    assert header == [
        "week",
        "done",
        "done_feature",
        "done_defect",
        "done_risk",
        "done_debt",
        "in_progress_at_week_end",
        "flow_time_p50_days",
        "flow_time_p85_days",
        "efficiency",
    ]
    assert rows == [
        ["2027-03-01", 2, 1, 1, 0, 0, 4, Decimal("3.00"), Decimal("5.00"), Decimal("0.7500")],
        ["2027-03-08", 2, 0, 0, 0, 2, 4, Decimal("4.00"), Decimal("4.00"), None],
        ["2027-03-15", 1, 1, 0, 0, 0, 3, Decimal("8.00"), Decimal("8.00"), None],
        ["2027-03-22", 1, 0, 0, 1, 0, 3, Decimal("30.96"), Decimal("30.96"), None],
    ]


# --- one team, another moment, other companies -----------------------------------------------------------------------


def test_a_team_sees_only_its_epics(world: World):
    one = flow(world.company, START, END, team_id=world.one.pk, now=NOW)

    # Team one: E1, E2 (week 1) and E5 (week 2) done; flow times 3, 4, 5; active 3 + 3 + 4, waiting 2.
    assert one.done == types(feature=1, defect=1, debt=1)
    assert one.flow_time == FlowTime(3, Decimal("4.00"), Decimal("5.00"), Decimal("4.00"))
    assert (one.efficiency.ratio, one.efficiency_known) == (Decimal("0.8333"), True)  # 10 / 12
    assert one.in_progress == types()  # E6 cancelled, E9 done
    assert one.in_progress_shares == dict.fromkeys(("feature", "defect", "risk", "debt"))
    assert [week.in_progress_at_end for week in one.weeks] == [types(feature=1, debt=1), types(), types(), types(1)]


def test_without_any_recorded_wait_efficiency_is_unknown(world: World):
    two = flow(world.company, START, END, team_id=world.two.pk, now=NOW)

    # Team two delivered only E3, which never waited (E7's wait is not on a delivered epic).
    assert two.done == types(feature=1)
    assert two.efficiency_known is False
    assert two.efficiency == Efficiency(Decimal("6.00"), Decimal("0.00"), None, False)


def test_weeks_that_have_not_begun_have_no_load(world: World):
    mid = flow(world.company, START, END, now=at(3, 17))

    # Just before Mar 17 12:00: E4, E7 and E11 are in progress (E3 was done on the 16th).
    assert mid.weeks[2].in_progress_at_end == types(feature=1, defect=1, risk=1)
    assert mid.weeks[3].in_progress_at_end is None
    assert mid.table()[1][3][6] is None


def test_an_empty_period_and_an_empty_company(world: World):
    empty = flow(CompanyFactory(timezone="Europe/Berlin"), START, END, now=NOW)
    assert (empty.done.total, empty.flow_time, empty.efficiency_known) == (0, FlowTime(), False)
    assert empty.done_shares == dict.fromkeys(("feature", "defect", "risk", "debt"))
    assert [week.in_progress_at_end for week in empty.weeks] == [types()] * 4
    assert flow(world.company, END, START, now=NOW).weeks == []


def test_other_companies_do_not_count(world: World):
    other = build_world()  # the same history in a second company
    assert flow(world.company, START, END, now=NOW).done == flow(other.company, START, END, now=NOW).done
    assert flow(world.company, START, END, now=NOW).done.total == 6


def test_the_week_follows_the_company_time_zone(world: World):
    Company.objects.filter(pk=world.company.pk).update(timezone="UTC")
    world.company.refresh_from_db()

    utc = flow(world.company, START.replace(tzinfo=UTC), END.replace(tzinfo=UTC), now=NOW)

    # In UTC, E5's done (Sunday Mar 7 23:30) falls in the first week, with E1 and E2.
    assert [week.start for week in utc.weeks] == WEEKS
    assert [week.done for week in utc.weeks][:2] == [types(1, 1, debt=1), types(debt=1)]


# --- cost -------------------------------------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_epics(world: World, django_assert_num_queries):
    with django_assert_num_queries(2):
        flow(world.company, START, END, now=NOW)
    for n in range(20):
        make_epic(
            world.company,
            world.owner,
            f"More {n}",
            "feature",
            world.one,
            [(at(3, 2), IP, False), (at(3, 3), IP, W), (at(3, 4), IP, False), (at(3, 5 + n % 20), DONE, False)],
        )

    with django_assert_num_queries(2):
        more = flow(world.company, START, END, now=NOW)
    assert more.done.total == 26

"""Alignment, investment and calibration against hand-computed fixtures.

Each world is built twice, in two fresh companies of the same shape, and every number is checked
for one of them: a row of the other company counted anywhere would change it. Rows are made
directly (the read models only read), with the dates the scenarios need.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from epics.models import ActualResult, Contribution, Epic, OutcomeReview
from insights.alignment import alignment
from insights.api.serializers import (
    CalibrationSerializer,
    InvestmentReturnSerializer,
    calibration_data,
    investment_data,
)
from insights.calibration import calibration
from insights.investment import investment
from insights.periods import period_of_days
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from outcomes.models import Company, Strategy, SwotItem, Team, User
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

START, END = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
BEFORE = datetime(2026, 12, 1, tzinfo=UTC)  # when the epics were created, unless told otherwise
HALF_MONTH = timedelta(days=15, hours=5, minutes=15)  # half of the 30.4375-day month epic_cost uses
ONE_MONTH = timedelta(days=30, hours=10, minutes=30)


# --- builders ----------------------------------------------------------------------------
def _person(company: Company, name: str) -> User:
    user = UserFactory(email=f"{name}.{company.slug}@example.test")
    MembershipFactory(user=user, company=company)
    return user


def _team(company: Company, name: str, cost: str | None = None, currency: str = "") -> Team:
    return Team.objects.create(
        company=company, name=name, monthly_cost=None if cost is None else Decimal(cost), cost_currency=currency
    )


def _cycle(company: Company, name: str, start: date, end: date) -> Cycle:
    return Cycle.objects.create(company=company, name=name, start=start, end=end, status="active")


def _objective(
    cycle: Cycle, title: str, owner: User, *, team: Team | None = None, strategies: tuple[Strategy, ...] = ()
) -> Objective:
    objective = Objective.objects.create(
        company=cycle.company,
        cycle=cycle,
        title=title,
        owner=owner,
        level="team" if team else "company",
        team=team,
    )
    objective.strategies.set(strategies)
    return objective


def _key_result(objective: Objective, title: str, owner: User, kind: str = "increase_to", **metric: Any) -> KeyResult:
    return KeyResult.objects.create(
        company=objective.company,
        objective=objective,
        title=title,
        owner=owner,
        kind=kind,
        baseline=Decimal(metric.get("baseline", 0)),
        target=Decimal(metric.get("target", 10)),
        next_checkin_due=END,
    )


def _strategy(company: Company, title: str, owner: User, status: str = "active") -> Strategy:
    return Strategy.objects.create(
        company=company,
        title=title,
        owner=owner,
        status=status,
        horizon_start=date(2026, 1, 1),
        horizon_end=date(2027, 12, 31),
    )


def _epic(
    company: Company,
    title: str,
    owner: User,
    *,
    team: Team | None = None,
    status: str = "in_progress",
    estimate: str | None = None,
    currency: str = "",
    started_at: datetime | None = None,
    done_at: datetime | None = None,
    created: datetime = BEFORE,
    serves: tuple[KeyResult, ...] = (),
) -> Epic:
    epic = Epic.objects.create(
        company=company,
        title=title,
        owner=owner,
        team=team,
        status=status,
        cost_estimate=None if estimate is None else Decimal(estimate),
        cost_currency=currency,
        started_at=started_at,
        done_at=done_at,
    )
    Epic.objects.filter(pk=epic.pk).update(created=created)
    for key_result in serves:
        Contribution.objects.create(epic=epic, key_result=key_result)
    return epic


def _review(epic: Epic, done_at: datetime, state: str, *verdicts: tuple[str, str]) -> OutcomeReview:
    """A delivery at ``done_at`` with its result revisions, each (verdict, override), oldest first."""
    review = OutcomeReview.objects.create(epic=epic, state=state, done_at=done_at, due_at=done_at + timedelta(days=30))
    for revision, (verdict, override) in enumerate(verdicts, start=1):
        ActualResult.objects.create(review=review, revision=revision, verdict=verdict, verdict_override=override)
    return review


def _two_companies(tz: str = "UTC") -> tuple[Company, Company]:
    return CompanyFactory(timezone=tz), CompanyFactory(timezone=tz)


# --- alignment ---------------------------------------------------------------------------
def _alignment_world(company: Company) -> dict[str, Any]:
    """Seven epics active in Q1 2027, four outside it; OKRs in Q1 and in the quarters on either side.

    In scope (created before the end, not cancelled, not done before the start):
      "A aligned estimate"    Alpha, estimate 1000 EUR                       serves KR1
      "B aligned team cost"   Alpha 3000 EUR/month, half a month of flow  =  1500 EUR, serves KR3
      "C unaligned Beta"      Beta 1000 USD/month, one month to ``now``   =  1000 USD
      "D unaligned estimate"  Gamma, estimate 500 EUR
      "E aligned, no cost"    Gamma (no team cost), no estimate           serves KR3
      "F unaligned, no team"  no cost at all
      "G done at the start"   estimate 200 USD (done exactly at START: still in scope)
    Out: cancelled, done a second before the start, created exactly at the end.
    """
    owner = _person(company, "owner")
    alpha = _team(company, "Alpha", "3000", "EUR")
    beta = _team(company, "Beta", "1000", "USD")
    gamma = _team(company, "Gamma")
    active = _strategy(company, "Active strategy", owner)
    draft = _strategy(company, "Draft strategy", owner, status="draft")
    q1 = _cycle(company, "2027 Q1", date(2027, 1, 1), date(2027, 3, 31))
    q4 = _cycle(company, "2026 Q4", date(2026, 10, 1), date(2026, 12, 31))
    q2 = _cycle(company, "2027 Q2", date(2027, 4, 1), date(2027, 6, 30))
    o1 = _objective(q1, "O1 grow", owner, strategies=(active,))
    o2 = _objective(q1, "O2 checkout", owner, team=alpha)
    o2.parent = o1
    o2.save()
    o3 = _objective(q1, "O3 platform", owner, team=beta)
    o4 = _objective(q1, "O4 expand", owner, strategies=(active,))
    o5 = _objective(q4, "O5 last quarter", owner)
    o6 = _objective(q2, "O6 next quarter", owner)
    kr1 = _key_result(o1, "KR1 revenue", owner)
    kr2 = _key_result(o1, "KR2 margin", owner)
    kr3 = _key_result(o2, "KR3 conversion", owner)
    kr4 = _key_result(o3, "KR4 latency", owner)
    _key_result(o5, "KR5 old", owner)
    _key_result(o6, "KR6 new", owner)
    epics = {
        "a": _epic(company, "A aligned estimate", owner, team=alpha, estimate="1000", currency="EUR", serves=(kr1,)),
        "b": _epic(
            company,
            "B aligned team cost",
            owner,
            team=alpha,
            status="done",
            started_at=START,
            done_at=START + HALF_MONTH,
            serves=(kr3,),
        ),
        "c": _epic(company, "C unaligned Beta", owner, team=beta, started_at=datetime(2027, 2, 1, tzinfo=UTC)),
        "d": _epic(
            company, "D unaligned estimate", owner, team=gamma, status="planned", estimate="500", currency="EUR"
        ),
        "e": _epic(company, "E aligned, no cost", owner, team=gamma, started_at=START, serves=(kr3,)),
        "f": _epic(company, "F unaligned, no team", owner, status="proposed"),
        "g": _epic(company, "G done at the start", owner, status="done", estimate="200", currency="USD", done_at=START),
        "cancelled": _epic(company, "X cancelled", owner, status="cancelled", estimate="9999", currency="EUR"),
        "earlier": _epic(
            company,
            "Y done before",
            owner,
            status="done",
            estimate="777",
            currency="EUR",
            done_at=START - timedelta(seconds=1),
            serves=(kr1,),
        ),
        "later": _epic(company, "Z created at the end", owner, estimate="888", currency="EUR", created=END),
    }
    addressed = SwotItem.objects.create(company=company, kind="threat", title="T1 addressed", impact=4, owner=owner)
    half = SwotItem.objects.create(company=company, kind="threat", title="T2 only a draft", impact=3, owner=owner)
    bare = SwotItem.objects.create(company=company, kind="threat", title="T3 nobody", impact=5, owner=owner)
    weak = SwotItem.objects.create(company=company, kind="weakness", title="W1 weakness", impact=5, owner=owner)
    active.swot_items.set([addressed])
    draft.swot_items.set([half, addressed])
    return {
        "owner": owner,
        "teams": (alpha, beta, gamma),
        "strategy": active,
        "objectives": (o1, o2, o3, o4),
        "key_results": (kr1, kr2, kr3, kr4),
        "epics": epics,
        "threats": (addressed, half, bare, weak),
    }


NOW = datetime(2027, 2, 1, tzinfo=UTC) + ONE_MONTH  # epic C has run one month by then


def test_alignment_counts_epics_cost_and_gaps():
    a, b = _two_companies()
    world = _alignment_world(a)
    _alignment_world(b)

    result = alignment(a, START, END, now=NOW)

    # In scope: A B C D E F G = 7; aligned: A B E = 3; 3/7 = 0.428571…
    assert (result.epics, result.aligned, result.aligned_share) == (7, 3, Decimal("0.4286"))
    # Unknown cost: E (aligned) and F.
    assert (result.unknown_cost, result.unknown_cost_aligned) == (2, 1)
    eur, usd = result.by_currency
    # EUR: A 1000 + B 1500 (3000 x ½ month) + D 500 = 3000; aligned A + B = 2500; 2500/3000 = 0.8333…
    assert (eur.currency, eur.epics, eur.aligned_epics) == ("EUR", 3, 2)
    assert (eur.cost, eur.aligned_cost, eur.aligned_share) == (
        Decimal("3000.00"),
        Decimal("2500.00"),
        Decimal("0.8333"),
    )
    # USD: C 1000 (1000 x one month up to now) + G 200 = 1200, nothing aligned.
    assert (usd.currency, usd.epics, usd.cost, usd.aligned_cost) == ("USD", 2, Decimal("1200.00"), Decimal(0))
    assert usd.aligned_share == Decimal("0.0000")
    owner = world["owner"].email
    assert [(e.title, e.owner, e.team, e.status) for e in result.unaligned] == [
        ("C unaligned Beta", owner, "Beta", "in_progress"),
        ("D unaligned estimate", owner, "Gamma", "planned"),
        ("F unaligned, no team", owner, "", "proposed"),
        ("G done at the start", owner, "", "done"),
    ]
    # Q1 only (Q4 2026 ends before the start; Q2 starts on the end day, which is exclusive).
    # O1 and O2 have work (KR1, KR3); O3's only key result is idle; O4 has no key result at all.
    assert [(o.title, o.cycle, o.team) for o in result.objectives_without_work] == [
        ("O3 platform", "2027 Q1", "Beta"),
        ("O4 expand", "2027 Q1", ""),
    ]
    assert [(k.title, k.objective) for k in result.key_results_without_work] == [
        ("KR2 margin", "O1 grow"),
        ("KR4 latency", "O3 platform"),
    ]
    # T1 has an active strategy; T2 only a draft one; T3 none; W1 is no threat. Highest impact first.
    assert [(t.title, t.impact) for t in result.unaddressed_threats] == [("T3 nobody", 5), ("T2 only a draft", 3)]
    header, rows = result.table()
    assert header == ["kind", "id", "title", "owner", "team", "detail"]
    assert [row[0] for row in rows] == ["unaligned_epic"] * 4 + ["objective_without_work"] * 2 + [
        "key_result_without_work"
    ] * 2 + ["unaddressed_threat"] * 2
    assert rows[0] == ["unaligned_epic", world["epics"]["c"].pk, "C unaligned Beta", owner, "Beta", "in_progress"]


def test_alignment_filters_by_team_and_strategy():
    a, b = _two_companies()
    world = _alignment_world(a)
    other = _alignment_world(b)
    alpha, beta, _gamma = world["teams"]

    by_alpha = alignment(a, START, END, team_id=alpha.pk, now=NOW)
    by_beta = alignment(a, START, END, team_id=beta.pk, now=NOW)
    by_strategy = alignment(a, START, END, strategy_id=world["strategy"].pk, now=NOW)
    foreign = alignment(a, START, END, team_id=other["teams"][0].pk, now=NOW)

    # Alpha: A and B, both aligned: 2500 EUR of 2500. Its one objective (O2) has work.
    assert (by_alpha.epics, by_alpha.aligned_share) == (2, Decimal("1.0000"))
    assert [(c.currency, c.cost, c.aligned_share) for c in by_alpha.by_currency] == [
        ("EUR", Decimal("2500.00"), Decimal("1.0000"))
    ]
    assert by_alpha.objectives_without_work == [] and by_alpha.key_results_without_work == []
    # Beta: C alone, unaligned; O3 and KR4 are Beta's gaps.
    assert (by_beta.epics, by_beta.aligned, by_beta.aligned_share) == (1, 0, Decimal("0.0000"))
    assert [o.title for o in by_beta.objectives_without_work] == ["O3 platform"]
    assert [k.title for k in by_beta.key_results_without_work] == ["KR4 latency"]
    # The strategy: only A serves it directly (B and E serve KR3 of O2, which links no strategy itself).
    assert (by_strategy.epics, by_strategy.aligned, by_strategy.unaligned) == (1, 1, [])
    assert [o.title for o in by_strategy.objectives_without_work] == ["O4 expand"]
    assert [k.title for k in by_strategy.key_results_without_work] == ["KR2 margin"]
    # Threats belong to the company: no filter changes them.
    assert [t.title for t in by_alpha.unaddressed_threats] == ["T3 nobody", "T2 only a draft"]
    # Another company's team matches nothing here.
    assert (foreign.epics, foreign.aligned_share, foreign.by_currency, foreign.objectives_without_work) == (
        0,
        None,
        [],
        [],
    )


def test_alignment_never_counts_another_company():
    a, b = _two_companies()
    world = _alignment_world(a)
    other = _alignment_world(b)
    mine = {e.pk for e in world["epics"].values()}
    theirs = {e.pk for e in other["epics"].values()}

    result_b = alignment(b, START, END, now=NOW)

    assert (result_b.epics, result_b.aligned) == (7, 3)
    assert {e.id for e in result_b.unaligned} <= theirs and not {e.id for e in result_b.unaligned} & mine
    their_threats = {t.pk for t in other["threats"]}
    assert {t.id for t in result_b.unaddressed_threats} <= their_threats
    their_objectives = {o.pk for o in other["objectives"]}
    assert {o.id for o in result_b.objectives_without_work} <= their_objectives


def test_alignment_of_an_empty_company_has_no_shares():
    (company, _b) = _two_companies()
    owner = _person(company, "owner")

    empty = alignment(company, START, END, now=NOW)
    assert (empty.epics, empty.aligned_share, empty.by_currency, empty.unaligned) == (0, None, [], [])
    assert empty.table() == (["kind", "id", "title", "owner", "team", "detail"], [])

    _epic(company, "Free", owner, estimate="0", currency="EUR")
    free = alignment(company, START, END, now=NOW)
    (eur,) = free.by_currency
    assert (eur.cost, eur.aligned_share, free.aligned_share) == (Decimal("0"), None, Decimal("0.0000"))


def test_alignment_reads_four_queries_whatever_the_rows(django_assert_num_queries):
    a, _b = _two_companies()
    world = _alignment_world(a)
    with django_assert_num_queries(4):  # epics, idle objectives, idle key results, threats
        alignment(a, START, END, now=NOW)

    owner = world["owner"]
    alpha = world["teams"][0]
    for i in range(10):
        objective = _objective(world["objectives"][0].cycle, f"More {i}", owner, team=alpha)
        key_result = _key_result(objective, f"More KR {i}", owner)
        _epic(a, f"More epic {i}", owner, team=alpha, started_at=START, serves=(key_result,) if i % 2 else ())
        SwotItem.objects.create(company=a, kind="threat", title=f"More threat {i}", impact=2, owner=owner)
    with django_assert_num_queries(4):
        grown = alignment(a, START, END, now=NOW)
    assert grown.epics == 17 and len(grown.unaddressed_threats) == 12


# --- investment --------------------------------------------------------------------------
def _investment_world(company: Company) -> dict[str, Any]:
    """Eight epics delivered in Q1 2027 (one of them twice) and three deliveries outside it.

      epic               team (cost)        cost                 outcome                      strategies
      d1 estimate        Alpha              1000 EUR estimate    achieved (done at START)     S1
      d2 team cost       Alpha 3000 EUR/mo  ½ month = 1500 EUR   r1 achieved, r2 missed       S1 S2
      d3 override        Beta               400 USD estimate     missed overridden to partly  S1 S2
      d4 waived          Beta 1000 USD/mo   1 month = 1000 USD   waived                       -
      d5 pending         Alpha              500 EUR estimate     pending                      S1
      d6 unknown cost    Gamma (no cost)    unknown              achieved                     S1
      d7 no team         -                  300 EUR estimate     inconclusive                 -
      d8 twice           Alpha              200 EUR estimate     achieved in Jan, then delivered again in Feb: pending
    Out: a cancelled review, a delivery a second before START, one exactly at END.
    """
    owner = _person(company, "owner")
    alpha = _team(company, "Alpha", "3000", "EUR")
    beta = _team(company, "Beta", "1000", "USD")
    gamma = _team(company, "Gamma")
    s1 = _strategy(company, "S1 grow", owner)
    s2 = _strategy(company, "S2 retain", owner)
    cycle = _cycle(company, "2027 Q1", date(2027, 1, 1), date(2027, 3, 31))
    ka = _key_result(_objective(cycle, "OA", owner, strategies=(s1,)), "KA", owner)
    kb = _key_result(_objective(cycle, "OB", owner, strategies=(s1, s2)), "KB", owner)
    jan, feb = datetime(2027, 1, 20, tzinfo=UTC), datetime(2027, 2, 20, tzinfo=UTC)
    d2_done = START + HALF_MONTH
    d4_started = datetime(2027, 2, 1, tzinfo=UTC)
    epics = {
        "d1": _epic(company, "d1 estimate", owner, team=alpha, estimate="1000", currency="EUR", serves=(ka,)),
        "d2": _epic(company, "d2 team cost", owner, team=alpha, started_at=START, done_at=d2_done, serves=(kb,)),
        "d3": _epic(company, "d3 override", owner, team=beta, estimate="400", currency="USD", serves=(kb,)),
        "d4": _epic(company, "d4 waived", owner, team=beta, started_at=d4_started, done_at=d4_started + ONE_MONTH),
        "d5": _epic(company, "d5 pending", owner, team=alpha, estimate="500", currency="EUR", serves=(ka,)),
        "d6": _epic(company, "d6 unknown cost", owner, team=gamma, started_at=START, done_at=jan, serves=(ka,)),
        "d7": _epic(company, "d7 no team", owner, estimate="300", currency="EUR"),
        "d8": _epic(company, "d8 twice", owner, team=alpha, estimate="200", currency="EUR"),
        "cancelled": _epic(company, "x cancelled", owner, team=alpha, estimate="9999", currency="EUR"),
        "before": _epic(company, "y before", owner, team=alpha, estimate="7777", currency="EUR", serves=(ka,)),
        "at_end": _epic(company, "z at the end", owner, team=alpha, estimate="8888", currency="EUR"),
    }
    _review(epics["d1"], START, "recorded", ("achieved", ""))
    _review(epics["d2"], d2_done, "recorded", ("achieved", ""), ("missed", ""))
    _review(epics["d3"], jan, "recorded", ("missed", "partly"))
    _review(epics["d4"], d4_started + ONE_MONTH, "waived")
    _review(epics["d5"], feb, "pending")
    _review(epics["d6"], jan, "recorded", ("achieved", ""))
    _review(epics["d7"], feb, "recorded", ("inconclusive", ""))
    _review(epics["d8"], datetime(2027, 1, 5, tzinfo=UTC), "recorded", ("achieved", ""))
    _review(epics["d8"], feb, "pending")
    _review(epics["cancelled"], jan, "cancelled")
    _review(epics["before"], START - timedelta(seconds=1), "recorded", ("achieved", ""))
    _review(epics["at_end"], END, "recorded", ("achieved", ""))
    return {"owner": owner, "teams": (alpha, beta, gamma), "strategies": (s1, s2), "epics": epics}


def _spend(group: Any) -> dict[str, tuple[Decimal, dict[str, Decimal], Decimal | None]]:
    return {code: (s.total, s.by_outcome, s.achieved_share) for code, s in group.spend.items()}


def _buckets(achieved: str = "0", partly: str = "0", missed: str = "0", inconclusive: str = "0", unrecorded: str = "0"):
    names = ("achieved", "partly", "missed", "inconclusive", "unrecorded")
    return dict(zip(names, map(Decimal, (achieved, partly, missed, inconclusive, unrecorded)), strict=True))


def test_investment_sets_cost_against_outcome():
    a, b = _two_companies()
    world = _investment_world(a)
    _investment_world(b)

    result = investment(a, START, END)

    total = result.total
    assert (total.epics, total.waived, total.unknown_cost) == (8, 1, 1)
    # EUR: d1 1000 achieved, d2 1500 missed, d5 500 + d8 200 unrecorded, d7 300 inconclusive = 3500.
    # Recorded 1000 + 1500 + 300 = 2800; achieved 1000/2800 = 0.357142…
    # USD: d3 400 partly, d4 1000 unrecorded (waived) = 1400; achieved 0/400.
    assert _spend(total) == {
        "EUR": (
            Decimal("3500.00"),
            _buckets(achieved="1000", missed="1500", inconclusive="300", unrecorded="700"),
            Decimal("0.3571"),
        ),
        "USD": (Decimal("1400.00"), _buckets(partly="400", unrecorded="1000"), Decimal("0.0000")),
    }
    assert (total.spend["EUR"].epics, total.spend["EUR"].recorded) == (5, Decimal("2800.00"))
    teams = {group.name: group for group in result.by_team}
    assert [group.name for group in result.by_team] == ["Alpha", "Beta", "Gamma", "No team"]
    # Alpha: d1, d2, d5, d8 = 3200 EUR; recorded 1000 + 1500; 1000/2500 = 0.4.
    assert _spend(teams["Alpha"]) == {
        "EUR": (Decimal("3200.00"), _buckets(achieved="1000", missed="1500", unrecorded="700"), Decimal("0.4000"))
    }
    assert (teams["Beta"].epics, teams["Beta"].waived) == (2, 1)
    assert (teams["Gamma"].epics, teams["Gamma"].unknown_cost, teams["Gamma"].spend) == (1, 1, {})
    assert _spend(teams["No team"]) == {"EUR": (Decimal("300.00"), _buckets(inconclusive="300"), Decimal("0.0000"))}
    s1, s2 = result.by_strategy
    # S1: d1, d2, d3, d5, d6 (each in full); S2: d2 and d3 (also in full under S1).
    assert (s1.name, s1.epics, s1.unknown_cost) == ("S1 grow", 5, 1)
    assert _spend(s1) == {
        "EUR": (Decimal("3000.00"), _buckets(achieved="1000", missed="1500", unrecorded="500"), Decimal("0.4000")),
        "USD": (Decimal("400.00"), _buckets(partly="400"), Decimal("0.0000")),
    }
    assert (s2.name, s2.epics) == ("S2 retain", 2)
    assert _spend(s2) == {
        "EUR": (Decimal("1500.00"), _buckets(missed="1500"), Decimal("0.0000")),
        "USD": (Decimal("400.00"), _buckets(partly="400"), Decimal("0.0000")),
    }
    rows = {e.title: (e.state, e.verdict, e.amount, e.currency, e.how) for e in result.epics}
    assert rows == {
        "d1 estimate": ("recorded", "achieved", Decimal("1000.00"), "EUR", "estimate"),
        "d2 team cost": ("recorded", "missed", Decimal("1500.00"), "EUR", "team_cost"),
        "d3 override": ("recorded", "partly", Decimal("400.00"), "USD", "estimate"),
        "d4 waived": ("waived", None, Decimal("1000.00"), "USD", "team_cost"),
        "d5 pending": ("pending", None, Decimal("500.00"), "EUR", "estimate"),
        "d6 unknown cost": ("recorded", "achieved", None, None, None),
        "d7 no team": ("recorded", "inconclusive", Decimal("300.00"), "EUR", "estimate"),
        "d8 twice": ("pending", None, Decimal("200.00"), "EUR", "estimate"),
    }
    assert result.epics[0].epic_id == world["epics"]["d1"].pk  # oldest delivery first
    header, table = result.table()
    assert header == [
        "group",
        "key",
        "name",
        "currency",
        "epics",
        "total",
        "achieved",
        "partly",
        "missed",
        "inconclusive",
        "unrecorded",
        "achieved_share",
    ]
    assert table[0] == [
        "total",
        "all",
        "All delivered epics",
        "EUR",
        5,
        Decimal("3500.00"),
        Decimal("1000.00"),
        Decimal(0),
        Decimal("1500.00"),
        Decimal("300.00"),
        Decimal("700.00"),
        Decimal("0.3571"),
    ]
    assert table[2][:5] == ["total", "all", "All delivered epics", "", 1]  # the epic of unknown cost
    # total: EUR, USD, unknown; Alpha; Beta; Gamma: unknown; No team; S1: EUR, USD, unknown; S2: EUR, USD.
    assert len(table) == 3 + 1 + 1 + 1 + 1 + 3 + 2


def test_investment_filters_by_team_and_strategy():
    a, b = _two_companies()
    world = _investment_world(a)
    other = _investment_world(b)
    _alpha, beta, _gamma = world["teams"]

    by_beta = investment(a, START, END, team_id=beta.pk)
    by_s2 = investment(a, START, END, strategy_id=world["strategies"][1].pk)
    foreign = investment(a, START, END, strategy_id=other["strategies"][0].pk)

    assert (by_beta.total.epics, [g.name for g in by_beta.by_team]) == (2, ["Beta"])
    assert _spend(by_beta.total) == {
        "USD": (Decimal("1400.00"), _buckets(partly="400", unrecorded="1000"), Decimal("0.0000"))
    }
    assert [e.title for e in by_s2.epics] == ["d2 team cost", "d3 override"]
    assert _spend(by_s2.total) == {
        "EUR": (Decimal("1500.00"), _buckets(missed="1500"), Decimal("0.0000")),
        "USD": (Decimal("400.00"), _buckets(partly="400"), Decimal("0.0000")),
    }
    assert (foreign.total.epics, foreign.epics, foreign.by_strategy) == (0, [], [])


def test_investment_document_is_what_its_documented_serializer_gives():
    """The answer is built by hand for speed; it must match the serializer the schema documents."""
    a, _b = _two_companies()
    world = _investment_world(a)
    period = period_of_days(a, START.date(), (END - timedelta(days=1)).date())
    whole, by_s2 = investment(a, START, END), investment(a, START, END, strategy_id=world["strategies"][1].pk)
    for result in (whole, by_s2):
        instance = {**vars(result), "period": period}
        assert investment_data(instance) == InvestmentReturnSerializer(instance).data
    data = investment_data({**vars(whole), "period": period})
    eur = next(spend for spend in data["total"]["spend"] if spend["currency"] == "EUR")
    assert set(eur["by_outcome"]) == {"achieved", "partly", "missed", "inconclusive", "unrecorded"}
    assert all(isinstance(amount, str) for amount in eur["by_outcome"].values())  # money as exact strings


def test_investment_never_counts_another_company():
    a, b = _two_companies()
    _investment_world(a)
    other = _investment_world(b)

    result_b = investment(b, START, END)

    assert result_b.total.epics == 8
    assert {e.epic_id for e in result_b.epics} <= {e.pk for e in other["epics"].values()}
    assert {g.key for g in result_b.by_strategy} == {str(s.pk) for s in other["strategies"]}


def test_investment_of_nothing_recorded_has_no_shares():
    company, _b = _two_companies()
    owner = _person(company, "owner")

    empty = investment(company, START, END)
    assert (empty.total.epics, empty.total.spend, empty.by_team, empty.epics) == (0, {}, [], [])
    assert empty.table()[1] == []

    _review(_epic(company, "Waiting", owner, estimate="100", currency="EUR"), START, "pending")
    waiting = investment(company, START, END)
    eur = waiting.total.spend["EUR"]
    assert (eur.total, eur.recorded, eur.achieved_share) == (Decimal("100.00"), Decimal(0), None)


def test_investment_reads_two_queries_whatever_the_rows(django_assert_num_queries):
    a, _b = _two_companies()
    world = _investment_world(a)
    with django_assert_num_queries(2):  # the deliveries with cost and verdict, the strategies they serve
        investment(a, START, END)

    owner, alpha = world["owner"], world["teams"][0]
    key_result = Contribution.objects.filter(epic=world["epics"]["d1"]).get().key_result
    for i in range(10):
        epic = _epic(a, f"more {i}", owner, team=alpha, started_at=START, done_at=START + HALF_MONTH)
        Contribution.objects.create(epic=epic, key_result=key_result)
        _review(epic, START + HALF_MONTH, "recorded", ("achieved", ""), ("missed", "partly"))
    with django_assert_num_queries(2):
        grown = investment(a, START, END)
    assert grown.total.epics == 18


# --- calibration -------------------------------------------------------------------------
# Q1 2027 in Berlin runs from 2026-12-31 23:00 UTC (CET) to 2027-03-31 22:00 UTC (CEST since 28 March):
# 89 days 23 hours, so its midpoint is 44 days 23 h 30 min in, at 2027-02-14 22:30 UTC.
MIDPOINT = datetime(2027, 2, 14, 22, 30, tzinfo=UTC)
CYCLE_ENDS = datetime(2027, 3, 31, 22, 0, tzinfo=UTC)


def _check_in(key_result: KeyResult, at: datetime, value: str, confidence: str | None = None) -> None:
    CheckIn.objects.create(
        key_result=key_result,
        as_of=at,
        value=Decimal(value),
        confidence=None if confidence is None else Decimal(confidence),
    )


def _calibration_world(company: Company) -> dict[str, Any]:
    """Six key results of Q1 2027, four of them scored.

    kr  owner team    kind         confidence by midpoint          grade at the end                (c - g)²
    k1  ann   Alpha   increase_to  0.8 (check-in at the midpoint)  latest value 50 of 0→100: 0.5    0.09
    k2  ann   Beta    decrease_to  0.6 (0.1 came a second late)    4 on 10→5: 1.2, clamped to 1     0.16
    k3  bob   Alpha   milestone    0.7                             reached 1 once: 1                0.09
    k4  bob   -       stay_above   0.9                             99.5 under 99.9: 0               0.81
    k5  bob   Beta    increase_to  none (a value only by then)     -                                unscored
    k6  ann   -       increase_to  none                            no check-in by the end           unscored
    """
    ann, bob = _person(company, "ann"), _person(company, "bob")
    alpha, beta = _team(company, "Alpha"), _team(company, "Beta")
    q1 = _cycle(company, "2027 Q1", date(2027, 1, 1), date(2027, 3, 31))
    oa = _objective(q1, "OA", ann, team=alpha)
    ob = _objective(q1, "OB", ann, team=beta)
    oc = _objective(q1, "OC", bob)
    k1 = _key_result(oa, "k1 revenue", ann, target=100)
    _check_in(k1, datetime(2027, 1, 15, tzinfo=UTC), "10", "0.9")
    _check_in(k1, MIDPOINT, "30", "0.8")
    _check_in(k1, datetime(2027, 3, 20, tzinfo=UTC), "60", "0.5")
    _check_in(k1, CYCLE_ENDS - timedelta(seconds=1), "50")
    k2 = _key_result(ob, "k2 churn", ann, kind="decrease_to", baseline=10, target=5)
    _check_in(k2, datetime(2027, 2, 1, tzinfo=UTC), "9", "0.6")
    _check_in(k2, MIDPOINT + timedelta(seconds=1), "9", "0.1")
    _check_in(k2, datetime(2027, 3, 15, tzinfo=UTC), "4")
    _check_in(k2, CYCLE_ENDS, "10", "0")  # the first instant after the cycle: too late
    k3 = _key_result(oa, "k3 launch", bob, kind="milestone", target=1)
    _check_in(k3, datetime(2027, 1, 20, tzinfo=UTC), "0", "0.7")
    _check_in(k3, datetime(2027, 3, 1, tzinfo=UTC), "1")
    _check_in(k3, datetime(2027, 3, 10, tzinfo=UTC), "0")
    k4 = _key_result(oc, "k4 uptime", bob, kind="stay_above", target=Decimal("99.9"))
    _check_in(k4, datetime(2027, 2, 10, tzinfo=UTC), "99.95", "0.9")
    _check_in(k4, datetime(2027, 3, 30, tzinfo=UTC), "99.5")
    k5 = _key_result(ob, "k5 signups", bob)
    _check_in(k5, datetime(2027, 1, 10, tzinfo=UTC), "2")
    _check_in(k5, datetime(2027, 3, 1, tzinfo=UTC), "5", "0.5")
    k6 = _key_result(oc, "k6 partners", ann)
    _check_in(k6, datetime(2027, 4, 5, tzinfo=UTC), "10", "1")
    q4 = _cycle(company, "2026 Q4", date(2026, 10, 1), date(2026, 12, 31))
    elsewhere = _key_result(_objective(q4, "Old", ann), "old", ann)
    _check_in(elsewhere, datetime(2026, 11, 1, tzinfo=UTC), "0", "1")
    return {"ann": ann, "bob": bob, "teams": (alpha, beta), "cycle": q1, "key_results": (k1, k2, k3, k4, k5, k6)}


def test_calibration_scores_confidence_against_the_grade():
    a, b = _two_companies("Europe/Berlin")
    world = _calibration_world(a)
    _calibration_world(b)

    result = calibration(a, world["cycle"])

    assert (result.midpoint, result.ends) == (MIDPOINT, CYCLE_ENDS)
    total = result.total
    # Confidence 0.8 + 0.6 + 0.7 + 0.9 = 3.0, mean 0.75; grades 0.5 + 1 + 1 + 0 = 2.5, mean 0.625.
    # Brier (0.09 + 0.16 + 0.09 + 0.81) / 4 = 1.15 / 4 = 0.2875; bias 0.75 - 0.625 = 0.125 (over-confident).
    assert (total.scored, total.unscored) == (4, 2)
    assert (total.mean_confidence, total.mean_grade, total.bias, total.brier) == (
        Decimal("0.7500"),
        Decimal("0.6250"),
        Decimal("0.1250"),
        Decimal("0.2875"),
    )
    owners = {s.name: s for s in result.by_owner}
    ann, bob = owners[world["ann"].email], owners[world["bob"].email]
    # ann: k1 (0.8, 0.5), k2 (0.6, 1), k6 unscored: confidence 0.7, grade 0.75, bias -0.05, Brier 0.25/2.
    assert (ann.scored, ann.unscored, ann.mean_confidence, ann.mean_grade, ann.bias, ann.brier) == (
        2,
        1,
        Decimal("0.7000"),
        Decimal("0.7500"),
        Decimal("-0.0500"),
        Decimal("0.1250"),
    )
    # bob: k3 (0.7, 1), k4 (0.9, 0), k5 unscored: confidence 0.8, grade 0.5, bias 0.3, Brier 0.90/2.
    assert (bob.scored, bob.unscored, bob.mean_confidence, bob.mean_grade, bob.bias, bob.brier) == (
        2,
        1,
        Decimal("0.8000"),
        Decimal("0.5000"),
        Decimal("0.3000"),
        Decimal("0.4500"),
    )
    teams = {s.name: (s.scored, s.unscored, s.bias, s.brier) for s in result.by_team}
    assert teams == {
        "Alpha": (2, 0, Decimal("0.0000"), Decimal("0.0900")),  # k1, k3: 0.75 against 0.75; (0.09 + 0.09) / 2
        "Beta": (1, 1, Decimal("-0.4000"), Decimal("0.1600")),  # k2; k5 unscored
        "No team": (1, 1, Decimal("0.9000"), Decimal("0.8100")),  # k4; k6 unscored
    }
    scores = {s.title: (s.confidence, s.grade, s.squared_error) for s in result.key_results}
    assert scores == {
        "k1 revenue": (Decimal("0.8"), Decimal("0.5000"), Decimal("0.0900")),
        "k2 churn": (Decimal("0.6"), Decimal("1.0000"), Decimal("0.1600")),
        "k3 launch": (Decimal("0.7"), Decimal("1.0000"), Decimal("0.0900")),
        "k4 uptime": (Decimal("0.9"), Decimal("0.0000"), Decimal("0.8100")),
        "k5 signups": (None, Decimal("0.5000"), None),
        "k6 partners": (None, None, None),
    }
    header, rows = result.table()
    assert header == ["group", "key", "name", "scored", "unscored", "mean_confidence", "mean_grade", "bias", "brier"]
    assert rows[0] == [
        "total",
        "all",
        "All key results",
        4,
        2,
        *(Decimal(x) for x in ("0.75", "0.625", "0.125", "0.2875")),
    ]
    assert [row[0] for row in rows] == ["total", "owner", "owner", "team", "team", "team"]


def test_calibration_document_is_what_its_documented_serializer_gives():
    """The answer is built by hand for speed; it must match the serializer the schema documents."""
    a, _b = _two_companies("Europe/Berlin")
    world = _calibration_world(a)
    whole, alpha = calibration(a, world["cycle"]), calibration(a, world["cycle"], team_id=world["teams"][0].pk)
    for result in (whole, alpha):
        assert calibration_data(result) == CalibrationSerializer(result).data
    data = calibration_data(whole)
    assert data["midpoint"] == "2027-02-14T22:30:00Z"
    assert {s["name"]: s["unscored"] for s in data["by_team"]} == {"Alpha": 0, "Beta": 1, "No team": 1}
    assert [s["name"] for s in calibration_data(alpha)["by_team"]] == ["Alpha"]


def test_calibration_filters_by_team_and_stays_in_its_company():
    a, b = _two_companies("Europe/Berlin")
    world = _calibration_world(a)
    other = _calibration_world(b)
    alpha = world["teams"][0]

    by_alpha = calibration(a, world["cycle"], team_id=alpha.pk)
    foreign_cycle = calibration(a, other["cycle"])
    result_b = calibration(b, other["cycle"])

    assert (by_alpha.total.scored, by_alpha.total.bias, by_alpha.total.brier) == (2, Decimal(0), Decimal("0.09"))
    assert [s.name for s in by_alpha.by_team] == ["Alpha"]
    assert (foreign_cycle.total.scored, foreign_cycle.total.unscored, foreign_cycle.key_results) == (0, 0, [])
    assert {s.id for s in result_b.key_results} == {k.pk for k in other["key_results"]}
    assert result_b.total.brier == Decimal("0.2875")


def test_calibration_of_an_empty_cycle_has_no_scores():
    company, _b = _two_companies()
    cycle = _cycle(company, "Empty", date(2027, 1, 1), date(2027, 3, 31))

    result = calibration(company, cycle)

    assert (result.total.scored, result.total.brier, result.total.bias, result.total.mean_grade) == (
        0,
        None,
        None,
        None,
    )
    assert result.table()[1] == [["total", "all", "All key results", 0, 0, None, None, None, None]]


def test_calibration_reads_one_query_whatever_the_rows(django_assert_num_queries):
    a, _b = _two_companies("Europe/Berlin")
    world = _calibration_world(a)
    with django_assert_num_queries(1):
        calibration(a, world["cycle"])

    objective = world["key_results"][0].objective
    for i in range(10):
        key_result = _key_result(objective, f"more {i}", world["bob"])
        _check_in(key_result, datetime(2027, 1, 10, tzinfo=UTC), "1", "0.5")
        _check_in(key_result, datetime(2027, 3, 10, tzinfo=UTC), "5")
    with django_assert_num_queries(1):
        grown = calibration(a, world["cycle"])
    assert grown.total.scored == 14

"""Insight numbers against hand-counted fixtures: realisation of delivered epics, and outcome debt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from epics.models import Epic, OutcomeReview
from epics.services import (
    anticipated_outcome_set,
    contribution_set,
    epic_create,
    epic_transition,
    result_record,
    review_waive,
)
from insights.selectors import outcome_debt, realisation
from okrs.services import key_result_create
from tests.conftest import CONVERSION_METRIC, Cast

pytestmark = pytest.mark.django_db

START, END = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)


def _delivered(cast: Cast, title: str, at: datetime, time_machine, *, team=True, strategic=False) -> Epic:
    """An epic of company A delivered at ``at`` (owned by the member, on the team unless told otherwise)."""
    time_machine.move_to(at - timedelta(days=10), tick=False)
    epic = epic_create(
        company=cast.company_a,
        title=title,
        owner=cast.member_a,
        team=cast.team_a if team else None,
        actor=cast.member_a,
    )
    anticipated_outcome_set(epic=epic, problem="p", expected_results="r", metrics=[CONVERSION_METRIC])
    if strategic:
        contribution_set(epic=epic, key_result=_strategic_key_result(cast))
    epic_transition(epic=epic, to_status="in_progress", actor=cast.member_a)
    time_machine.move_to(at, tick=False)
    epic_transition(epic=epic, to_status="done", actor=cast.member_a)
    epic.refresh_from_db()
    return epic


def _strategic_key_result(cast: Cast):
    """A key result of the objective that serves the cast's strategy."""
    objective = cast.strategic_a["objective"]
    found = objective.key_results.first()
    return found or key_result_create(
        company=cast.company_a,
        objective=objective,
        title="Mid-size shops signed",
        owner=cast.owner_a,
        kind="increase_to",
        baseline=Decimal(0),
        target=Decimal(50),
    )


def _record(epic: Epic, value: Decimal | None, cast: Cast, time_machine, **extra) -> None:
    review = OutcomeReview.objects.get(epic=epic, state="pending")
    time_machine.move_to(review.due_at + timedelta(days=1), tick=False)
    metric = epic.anticipated_outcome.metrics.get()
    result_record(epic=epic, metrics=[{"metric": metric, "value": value}], recorded_by=cast.member_a, **extra)


@pytest.fixture
def deliveries(cast: Cast, time_machine) -> dict[str, Epic]:
    """Six deliveries in Q1 2027 and one outside it, counted by hand in the tests below.

    January: achieved (strategic), partly (strategic, no team), waived.
    February: missed, pending.
    March: missed overridden to inconclusive.
    April: achieved, outside the period.
    """
    made = {
        "achieved": _delivered(cast, "Achieved", datetime(2027, 1, 10, tzinfo=UTC), time_machine, strategic=True),
        "partly": _delivered(
            cast, "Partly", datetime(2027, 1, 20, tzinfo=UTC), time_machine, team=False, strategic=True
        ),
        "waived": _delivered(cast, "Waived", datetime(2027, 1, 25, tzinfo=UTC), time_machine),
        "missed": _delivered(cast, "Missed", datetime(2027, 2, 5, tzinfo=UTC), time_machine),
        "pending": _delivered(cast, "Pending", datetime(2027, 2, 15, tzinfo=UTC), time_machine),
        "overridden": _delivered(cast, "Overridden", datetime(2027, 3, 5, tzinfo=UTC), time_machine),
        "later": _delivered(cast, "Later", datetime(2027, 4, 5, tzinfo=UTC), time_machine),
    }
    _record(made["achieved"], Decimal(66), cast, time_machine)
    _record(made["partly"], Decimal(64), cast, time_machine)
    review_waive(epic=made["waived"], reason="Measured elsewhere", actor=cast.owner_a)
    _record(made["missed"], Decimal(60), cast, time_machine)
    _record(
        made["overridden"],
        Decimal(60),
        cast,
        time_machine,
        verdict_override="inconclusive",
        override_reason="The funnel was broken that month.",
    )
    _record(made["later"], Decimal(66), cast, time_machine)
    return made


def test_realisation_counts_what_the_period_delivered(deliveries, cast):
    result = realisation(cast.company_a, START, END)

    total = result.total
    assert (total.delivered, total.recorded, total.waived, total.pending) == (6, 4, 1, 1)
    assert total.verdicts == {"achieved": 1, "partly": 1, "missed": 1, "inconclusive": 1}
    assert total.recorded_share == Decimal("0.6667")
    assert total.verdict_shares()["achieved"] == Decimal("0.2500")
    months = {tally.key: (tally.delivered, tally.recorded) for tally in result.by_month}
    assert months == {"2027-01": (3, 2), "2027-02": (2, 1), "2027-03": (1, 1)}
    teams = {tally.name: (tally.delivered, tally.verdicts["partly"]) for tally in result.by_team}
    assert teams == {"Alpha Checkout": (5, 0), "No team": (1, 1)}
    (strategy,) = result.by_strategy
    assert (strategy.name, strategy.delivered, strategy.recorded) == (cast.strategic_a["strategy"].title, 2, 2)
    assert [tally.name for tally in result.by_owner] == [cast.member_a.email]


def test_realisation_filters_by_team_and_strategy(deliveries, cast):
    by_team = realisation(cast.company_a, START, END, team_id=cast.team_a.pk)
    by_strategy = realisation(cast.company_a, START, END, strategy_id=cast.strategic_a["strategy"].pk)

    assert by_team.total.delivered == 5 and by_team.total.verdicts["partly"] == 0
    assert by_strategy.total.delivered == 2 and by_strategy.total.verdicts["achieved"] == 1


def test_realisation_never_counts_another_company(deliveries, cast):
    result = realisation(cast.company_b, START, END)

    assert result.total.delivered == 0 and result.total.recorded_share is None


def test_realisation_reads_a_fixed_number_of_queries(deliveries, cast):
    with CaptureQueriesContext(connection) as queries:
        realisation(cast.company_a, START, END)
    assert len(queries) == 2  # the deliveries with their verdicts, the strategies they serve


def test_outcome_debt_ages_each_review_and_counts_stale_check_ins(deliveries, cast):
    pending = OutcomeReview.objects.get(epic=deliveries["pending"], state="pending")
    now = pending.due_at + timedelta(days=9, hours=1)

    with CaptureQueriesContext(connection) as queries:
        debt = outcome_debt(cast.company_a, now)

    assert len(queries) == 2
    mine = {d.name: d for d in debt.by_owner}[cast.member_a.email]
    # The pending Q1 delivery (9 days overdue) and the cast's own done epic (its review is due by now).
    assert mine.due == debt.total.due and mine.overdue >= 1 and mine.oldest_days >= 9
    assert mine.stale_check_ins == 1  # the cast's key result has had no check-in since 2026
    assert debt.total.stale_check_ins >= 1
    assert not [d for d in debt.by_owner if d.name.endswith("bravo@example.test")]

"""The demo company's OKRs: this quarter and this year, and last quarter closed and graded.

Cycles are placed around today so the demo always has a live quarter. Running it
again finds what it made (by name and title) and adds nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from okrs.choices import CycleStatus, GradeResult
from okrs.models import Cycle, KeyResult, Objective
from okrs.services import (
    check_in_record,
    cycle_close,
    cycle_create,
    key_result_create,
    objective_create,
    objective_grade,
)
from outcomes.models import BusinessOutcome, Company, Strategy, Team, User

# title, level, team, owner, parent title, strategy, outcome
OBJECTIVES = [
    (
        "Win mid-size shops",
        "company",
        None,
        "erin.exec@example.com",
        None,
        "Win mid-size shops with one-click checkout",
        "More carts become orders",
    ),
    (
        "Make checkout effortless",
        "team",
        "Checkout",
        "paul.pm@example.com",
        "Win mid-size shops",
        "Win mid-size shops with one-click checkout",
        "More carts become orders",
    ),
    (
        "A payments API shops can rely on",
        "team",
        "Platform",
        "pat.platform@example.com",
        "Win mid-size shops",
        None,
        None,
    ),
    (
        "Shops onboard themselves",
        "team",
        "Data Enablement",
        "lena.lead@example.com",
        None,
        "Self-serve onboarding",
        "Shops live in days, not weeks",
    ),
]

# objective, title, owner, kind, unit, baseline, target, weekly values (oldest first), confidences
KEY_RESULTS = [
    (
        "Make checkout effortless",
        "Checkout conversion reaches 70 %",
        "paul.pm@example.com",
        "increase_to",
        "%",
        "61.5",
        "70",
        ["61.5", "62.0", "62.9", "63.4", "64.1", "64.6"],
        ["0.6", "0.6", "0.7", "0.7", "0.7", "0.8"],
    ),
    (
        "Make checkout effortless",
        "One-click pay is live for all shops",
        "lena.lead@example.com",
        "milestone",
        "",
        "0",
        "1",
        ["0", "0", "0", "0", "0", "1"],
        [None, None, "0.5", "0.6", "0.8", "1"],
    ),
    (
        "A payments API shops can rely on",
        "Payments API p95 latency under 300 ms",
        "pat.platform@example.com",
        "decrease_to",
        "ms",
        "520",
        "300",
        ["520", "505", "498", "470", "462", "455"],
        ["0.5", "0.4", "0.4", "0.3", "0.3", "0.3"],
    ),
    (
        "A payments API shops can rely on",
        "Error rate stays below 0.1 %",
        "pat.platform@example.com",
        "stay_below",
        "%",
        "0.1",
        "0.1",
        ["0.08", "0.09", "0.12", "0.07", "0.06", "0.06"],
        [None] * 6,
    ),
    (
        "Shops onboard themselves",
        "Median onboarding time down to 3 days",
        "lena.lead@example.com",
        "decrease_to",
        "days",
        "14",
        "3",
        ["14", "13", "12", "11", "10", "9"],
        ["0.7", "0.7", "0.6", "0.6", "0.5", "0.5"],
    ),
]


def _quarter(day: date, back: int = 0) -> tuple[date, date]:
    first_month = (day.month - 1) // 3 * 3 + 1 - 3 * back
    year = day.year + (first_month - 1) // 12
    first_month = (first_month - 1) % 12 + 1
    start = date(year, first_month, 1)
    next_start = date(year + (first_month + 2) // 12, (first_month + 2) % 12 + 1, 1)
    return start, next_start - timedelta(days=1)


def seed_okrs(company: Company, people: dict[str, User]) -> None:
    today = timezone.localdate()
    start, end = _quarter(today)
    quarter = _cycle(company, f"{start.year} Q{(start.month - 1) // 3 + 1}", start, end)
    _cycle(company, str(today.year), date(today.year, 1, 1), date(today.year, 12, 31))
    objectives: dict[str, Objective] = {}
    for objective_row in OBJECTIVES:
        objectives[objective_row[0]] = _objective(company, quarter, objective_row, objectives, people)
    for key_result_row in KEY_RESULTS:
        _key_result(company, objectives[key_result_row[0]], key_result_row, people, quarter_start=start)
    _last_quarter(company, today, people)


def _cycle(company: Company, name: str, start: date, end: date) -> Cycle:
    existing = Cycle.objects.for_company(company).filter(name=name).first()
    return existing or cycle_create(company=company, name=name, start=start, end=end, status=CycleStatus.ACTIVE)


def _objective(company: Company, cycle: Cycle, row: tuple, done: dict, people: dict) -> Objective:
    title, level, team_name, owner, parent, strategy, outcome = row
    existing = Objective.objects.for_company(company).filter(title=title, cycle=cycle).first()
    if existing is not None:
        return existing
    strategies = Strategy.objects.for_company(company).filter(title=strategy)
    outcomes = BusinessOutcome.objects.for_company(company).filter(title=outcome)
    return objective_create(
        company=company,
        cycle=cycle,
        title=title,
        level=level,
        owner=people[owner],
        team=Team.objects.for_company(company).get(name=team_name) if team_name else None,
        parent=done.get(parent),
        strategies=list(strategies),
        business_outcomes=list(outcomes),
        anticipated_business_outcome=outcomes.first(),
        anticipated_outcome="More shops choose us because paying is effortless.",
    )


def _key_result(company: Company, objective: Objective, row: tuple, people: dict, *, quarter_start: date) -> None:
    _, title, owner, kind, unit, baseline, target, values, confidences = row
    if KeyResult.objects.for_company(company).filter(objective=objective, title=title).exists():
        return
    key_result = key_result_create(
        company=company,
        objective=objective,
        title=title,
        owner=people[owner],
        kind=kind,
        unit=unit,
        baseline=Decimal(baseline),
        target=Decimal(target),
    )
    now = timezone.now()
    for weeks_ago, (value, confidence) in enumerate(zip(reversed(values), reversed(confidences), strict=True)):
        as_of = now - timedelta(weeks=weeks_ago, hours=1)
        if as_of.date() < quarter_start:
            break
        check_in_record(
            key_result=key_result,
            value=Decimal(value),
            confidence=Decimal(confidence) if confidence else None,
            as_of=as_of,
            author=people[owner],
            comment="Weekly check-in",
        )


def _last_quarter(company: Company, today: date, people: dict[str, User]) -> None:
    start, end = _quarter(today, back=1)
    cycle = _cycle(company, f"{start.year} Q{(start.month - 1) // 3 + 1}", start, end)
    if cycle.status == CycleStatus.CLOSED:
        return
    objective = objective_create(
        company=company,
        cycle=cycle,
        title="Cut checkout errors in half",
        level="team",
        team=Team.objects.for_company(company).get(name="Checkout"),
        owner=people["paul.pm@example.com"],
    )
    key_result = key_result_create(
        company=company,
        objective=objective,
        title="Checkout error rate to 1 %",
        owner=people["paul.pm@example.com"],
        kind="decrease_to",
        unit="%",
        baseline=Decimal("2.4"),
        target=Decimal("1"),
    )
    check_in_record(
        key_result=key_result,
        value=Decimal("1.3"),
        confidence=Decimal("0.8"),
        as_of=timezone.make_aware(datetime.combine(end, time(12))),  # the cycle's last day
    )
    cycle_close(cycle=cycle)
    objective.refresh_from_db()
    objective_grade(
        objective=objective,
        result=GradeResult.PARTLY,
        learnings="Retries hid most errors; the rest were card declines.",
        decisions="Show decline reasons to shoppers next quarter.",
    )

"""The demo company's strategy: identity, SWOT, strategies, investments and business outcomes.

Used by ``seed_demo``. Every function converges: running it again finds what it
made before (by title) and adds nothing twice.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from outcomes.choices import Direction, OutcomeCategory, StrategyStatus, SwotKind
from outcomes.models import BusinessOutcome, Company, Investment, Strategy, SwotItem, Team, User
from outcomes.services.business_outcomes import business_outcome_create, measurement_record
from outcomes.services.identity import current_identity, identity_update
from outcomes.services.strategy import investment_create, strategy_create, swot_item_create

VALUES = [
    {"name": "Shop owners first", "description": "We decide by what makes an independent shop sell more."},
    {"name": "Measure, then decide", "description": "An outcome we cannot measure is a wish."},
    {"name": "Small bets, fast learning", "description": "Ship in weeks, review the result, double down or stop."},
]

SWOT = [
    (SwotKind.STRENGTH, "Fastest checkout in the segment", 4),
    (SwotKind.WEAKNESS, "Onboarding takes two weeks", 4),
    (SwotKind.WEAKNESS, "No reporting for finance teams", 2),
    (SwotKind.OPPORTUNITY, "Mid-size shops leaving marketplaces", 5),
    (SwotKind.THREAT, "Marketplaces bundle payments for free", 5),
    (SwotKind.THREAT, "Card-network fee increase in 2027", 3),
]

# title, category, metric, unit, direction, baseline, target, weekly values (oldest first)
OUTCOMES = [
    (
        "More carts become orders",
        OutcomeCategory.REVENUE,
        "Checkout conversion",
        "%",
        Direction.INCREASE,
        "61.5",
        "70",
        ["61.5", "61.9", "62.4", "62.2", "63.1", "63.8", "64.0", "64.6"],
    ),
    (
        "Shops live in days, not weeks",
        OutcomeCategory.TIME_TO_MARKET,
        "Median onboarding time",
        "days",
        Direction.DECREASE,
        "14",
        "3",
        ["14", "13", "12", "12", "10", "9", "9", "8"],
    ),
    (
        "Shops stay with us",
        OutcomeCategory.RETENTION,
        "12-month shop retention",
        "%",
        Direction.STAY_ABOVE,
        "88",
        "90",
        ["88.2", "88.9", "89.5", "90.1", "90.4", "90.2", "90.6", "91.0"],
    ),
    (
        "Support answers quickly",
        OutcomeCategory.CUSTOMER_SATISFACTION,
        "First reply",
        "hours",
        Direction.STAY_BELOW,
        "6",
        "4",
        ["6.1", "5.2", "4.8", "4.1", "3.9", "3.7", "4.2", "3.8"],
    ),
]

# title, status, horizon, swot titles, outcome titles, owner e-mail
STRATEGIES = [
    (
        "Win mid-size shops with one-click checkout",
        StrategyStatus.ACTIVE,
        (date(2026, 1, 1), date(2027, 12, 31)),
        ["Mid-size shops leaving marketplaces", "Marketplaces bundle payments for free"],
        ["More carts become orders", "Shops stay with us"],
        "erin.exec@example.com",
    ),
    (
        "Self-serve onboarding",
        StrategyStatus.ACTIVE,
        (date(2026, 4, 1), date(2027, 3, 31)),
        ["Onboarding takes two weeks"],
        ["Shops live in days, not weeks"],
        "paul.pm@example.com",
    ),
    (
        "Finance reporting suite",
        StrategyStatus.DRAFT,
        (date(2027, 1, 1), date(2027, 12, 31)),
        ["No reporting for finance teams"],
        [],
        "erin.exec@example.com",
    ),
]

# strategy title, team name (or None), amount per quarter (EUR)
INVESTMENTS = [
    ("Win mid-size shops with one-click checkout", "Checkout", "210000"),
    ("Win mid-size shops with one-click checkout", "Platform", "60000"),
    ("Self-serve onboarding", "Data Enablement", "45000"),
    ("Self-serve onboarding", None, "20000"),
]
QUARTERS = [(date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 6, 30))]


def seed_strategy(company: Company, people: dict[str, User]) -> None:
    owner = people["demo@example.com"]
    _identity(company, owner)
    swot = {title: _swot_item(company, kind, title, impact, owner) for kind, title, impact in SWOT}
    outcomes = {row[0]: _outcome(company, row, people["paul.pm@example.com"]) for row in OUTCOMES}
    strategies = {row[0]: _strategy(company, row, swot, outcomes, people) for row in STRATEGIES}
    teams = {team.name: team for team in Team.objects.for_company(company)}
    for strategy_title, team_name, amount in INVESTMENTS:
        for start, end in QUARTERS:
            _investment(company, strategies[strategy_title], teams.get(team_name or ""), Decimal(amount), start, end)


def _identity(company: Company, author: User) -> None:
    if current_identity(company) is not None:
        return
    identity_update(
        company=company,
        mission="Independent online shops sell more through our checkout.",
        vision="Every independent shop in Europe runs its payments on us.",
        values=VALUES[:2],
        change_note="First written at the 2025 offsite.",
        author=author,
    )
    identity_update(
        company=company,
        mission="Independent online shops sell more through our checkout.",
        vision="Every independent shop in Europe runs its payments and its first sale on us.",
        values=VALUES,
        change_note="Added our third value after the 2026 strategy review.",
        author=author,
    )


def _swot_item(company: Company, kind: str, title: str, impact: int, owner: User) -> SwotItem:
    existing = SwotItem.objects.for_company(company).filter(title=title).first()
    return existing or swot_item_create(company=company, kind=kind, title=title, impact=impact, owner=owner)


def _outcome(company: Company, row: tuple, owner: User) -> BusinessOutcome:
    title, category, metric, unit, direction, baseline, target, values = row
    outcome = BusinessOutcome.objects.for_company(company).filter(title=title).first()
    if outcome is None:
        outcome = business_outcome_create(
            company=company,
            title=title,
            category=category,
            metric_name=metric,
            unit=unit,
            direction=direction,
            baseline=Decimal(baseline),
            target=Decimal(target),
            target_date=date(2026, 12, 31),
            owner=owner,
        )
    if not outcome.measurements.exists():
        start = timezone.now() - timedelta(weeks=len(values))
        for week, value in enumerate(values, start=1):
            measurement_record(outcome=outcome, value=Decimal(value), as_of=start + timedelta(weeks=week), author=owner)
    return outcome


def _strategy(company: Company, row: tuple, swot: dict, outcomes: dict, people: dict) -> Strategy:
    title, status, (start, end), swot_titles, outcome_titles, owner_email = row
    existing = Strategy.objects.for_company(company).filter(title=title).first()
    return existing or strategy_create(
        company=company,
        title=title,
        status=status,
        horizon_start=start,
        horizon_end=end,
        owner=people[owner_email],
        rationale="Where our customers lose money today is where we earn our place tomorrow.",
        swot_items=[swot[t] for t in swot_titles],
        business_outcomes=[outcomes[t] for t in outcome_titles],
    )


def _investment(
    company: Company, strategy: Strategy, team: Team | None, amount: Decimal, start: date, end: date
) -> None:
    if not Investment.objects.filter(strategy=strategy, team=team, period_start=start).exists():
        investment_create(
            company=company,
            strategy=strategy,
            team=team,
            amount=amount,
            currency="EUR",
            period_start=start,
            period_end=end,
        )

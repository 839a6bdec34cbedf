"""Executive read models: what the delivered work achieved, and what is still owed.

Each function answers for one company and one period in a fixed number of queries, whatever the
number of epics: rows are read flat and grouped in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf

from epics.choices import ReviewState, Verdict
from epics.models import OVERDUE_AFTER_DAYS, ActualResult, Contribution, OutcomeReview
from okrs.choices import CycleStatus
from okrs.models import KeyResult
from outcomes.models import Company

VERDICTS = tuple(Verdict.values)


def _share(part: int, whole: int) -> Decimal | None:
    return None if whole == 0 else (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


@dataclass
class Tally:
    """Deliveries of one group: how many have a recorded result, and how those results came out."""

    key: str
    name: str
    delivered: int = 0
    recorded: int = 0
    waived: int = 0
    pending: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))

    def add(self, state: str, verdict: str | None) -> None:
        self.delivered += 1
        if state == ReviewState.RECORDED:
            self.recorded += 1
            if verdict in self.verdicts:
                self.verdicts[verdict] += 1
        elif state == ReviewState.WAIVED:
            self.waived += 1
        else:
            self.pending += 1

    @property
    def recorded_share(self) -> Decimal | None:
        return _share(self.recorded, self.delivered)

    def verdict_shares(self) -> dict[str, Decimal | None]:
        return {verdict: _share(count, self.recorded) for verdict, count in self.verdicts.items()}


@dataclass
class Realisation:
    total: Tally
    by_team: list[Tally]
    by_owner: list[Tally]
    by_strategy: list[Tally]
    by_month: list[Tally]


def realisation(
    company: Company, start: datetime, end: datetime, *, team_id: int | None = None, strategy_id: int | None = None
) -> Realisation:
    """Of the epics delivered in [start, end): the share with a recorded result, and how those came out.

    A delivery is a review that was opened (cancelled ones, undone by a reopen, do not count); its
    verdict is the latest revision's, the override winning. An epic serving several strategies
    counts once under each. Three queries.
    """
    latest = ActualResult.objects.filter(review=OuterRef("pk")).order_by("-revision")
    reviews = (
        OutcomeReview.objects.filter(epic__company=company, done_at__gte=start, done_at__lt=end)
        .exclude(state=ReviewState.CANCELLED)
        .annotate(
            verdict=Subquery(latest.values(overall=Coalesce(NullIf("verdict_override", Value("")), "verdict"))[:1])
        )
    )
    if team_id is not None:
        reviews = reviews.filter(epic__team_id=team_id)
    rows = list(
        reviews.values_list(
            "epic_id", "state", "verdict", "done_at", "epic__team_id", "epic__team__name", "epic__owner__email"
        ).order_by("done_at", "pk")
    )
    strategies = _strategies_of({epic_id for epic_id, *_ in rows})
    if strategy_id is not None:
        rows = [row for row in rows if strategy_id in {pk for pk, _ in strategies.get(row[0], [])}]
    zone = ZoneInfo(company.timezone)
    total = Tally("all", "All delivered epics")
    groups: dict[str, dict[str, Tally]] = defaultdict(dict)
    for epic_id, state, verdict, done_at, team, team_name, owner in rows:
        total.add(state, verdict)
        month = f"{done_at.astimezone(zone):%Y-%m}"
        keys = [
            ("team", str(team or ""), team_name or "No team"),
            ("owner", owner, owner),
            ("month", month, month),
            *[("strategy", str(pk), title) for pk, title in strategies.get(epic_id, [])],
        ]
        for group, key, name in keys:
            groups[group].setdefault(key, Tally(key, name)).add(state, verdict)
    return Realisation(
        total=total,
        by_team=_ordered(groups["team"].values()),
        by_owner=_ordered(groups["owner"].values()),
        by_strategy=_ordered(groups["strategy"].values()),
        by_month=sorted(groups["month"].values(), key=lambda tally: tally.key),
    )


def _strategies_of(epic_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    """The strategies each epic serves through its key results' objectives (one query)."""
    pairs = (
        Contribution.objects.filter(epic_id__in=epic_ids, key_result__objective__strategies__isnull=False)
        .values_list("epic_id", "key_result__objective__strategies", "key_result__objective__strategies__title")
        .distinct()
    )
    served: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for epic_id, strategy, title in sorted(pairs):  # distinct rows: each strategy once per epic
        served[epic_id].append((strategy, title))
    return served


def _ordered(tallies: Iterable[Tally]) -> list[Tally]:
    return sorted(tallies, key=lambda tally: (-tally.delivered, tally.name))


# --- outcome debt ------------------------------------------------------------------------
@dataclass
class Debt:
    """Reviews waiting for their result in one group, and how long the oldest has waited."""

    key: str
    name: str
    due: int = 0
    overdue: int = 0
    oldest_days: int = 0
    stale_check_ins: int = 0

    def add_review(self, days: int) -> None:
        self.due += 1
        if days >= OVERDUE_AFTER_DAYS:
            self.overdue += 1
        self.oldest_days = max(self.oldest_days, days)


@dataclass
class OutcomeDebt:
    total: Debt
    by_owner: list[Debt]
    by_team: list[Debt]


def outcome_debt(company: Company, now: datetime, *, team_id: int | None = None) -> OutcomeDebt:
    """Reviews due and overdue with their age, per owner and team; stale check-ins per owner. Two queries."""
    reviews = OutcomeReview.objects.filter(epic__company=company, state=ReviewState.PENDING, due_at__lte=now)
    stale = KeyResult.objects.filter(
        company=company, objective__cycle__status=CycleStatus.ACTIVE, next_checkin_due__lt=now
    )
    if team_id is not None:
        reviews = reviews.filter(epic__team_id=team_id)
        stale = stale.filter(objective__team_id=team_id)
    total = Debt("all", "Everyone")
    owners: dict[str, Debt] = {}
    teams: dict[str, Debt] = {}
    for due_at, owner, team, team_name in reviews.values_list(
        "due_at", "epic__owner__email", "epic__team_id", "epic__team__name"
    ):
        days = (now - due_at) // timedelta(days=1)
        for book, key, name in ((owners, owner, owner), (teams, str(team or ""), team_name or "No team")):
            book.setdefault(key, Debt(key, name)).add_review(days)
        total.add_review(days)
    for (owner,) in stale.values_list("owner__email"):
        owners.setdefault(owner, Debt(owner, owner)).stale_check_ins += 1
        total.stale_check_ins += 1
    return OutcomeDebt(total=total, by_owner=_worst_first(owners.values()), by_team=_worst_first(teams.values()))


def _worst_first(debts: Iterable[Debt]) -> list[Debt]:
    return sorted(debts, key=lambda debt: (-debt.overdue, -debt.due, -debt.stale_check_ins, debt.name))

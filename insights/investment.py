"""Investment and return: what the epics delivered in a period cost, set against the outcome each achieved.

The epics are those delivered in [start, end) as ``realisation`` counts them: a review that was
opened (cancelled ones, undone by a reopen, do not count) with its delivery in the period. An epic
delivered twice in the period counts once, with its latest delivery's review. The outcome is the
latest result revision's verdict, the override winning; a waived or pending review has none and
its cost goes to ``unrecorded``.

Cost follows ``epics.selectors.epic_cost`` (the estimate, or the team's monthly cost over the flow
time). It is summed per currency, never converted; epics whose cost cannot be told are counted
apart. The return is the share of the recorded cost that achieved its outcome: achieved cost over
the cost of the epics with a verdict (achieved, partly, missed or inconclusive).

Groups: the total, each team, and each strategy the epic serves through its key results'
objectives. An epic serving several strategies counts fully under each, so the strategies' sums
can exceed the total. Two queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from epics.choices import ReviewState
from insights.alignment import COST_FIELDS, ZERO, cost_of, ratio
from insights.selectors import VERDICTS, deliveries, strategies_served, with_verdict
from outcomes.models import Company

UNRECORDED = "unrecorded"
BUCKETS = (*VERDICTS, UNRECORDED)


@dataclass
class EpicSpend:
    """One delivered epic: its cost and how it came out."""

    epic_id: int
    title: str
    team: str
    owner: str
    done_at: datetime
    state: str  # the review's state: recorded, waived or pending
    verdict: str | None  # None unless recorded
    amount: Decimal | None
    currency: str | None
    how: str | None  # "estimate", "team_cost", or None when the cost is unknown

    @property
    def bucket(self) -> str:
        return self.verdict if self.verdict in VERDICTS else UNRECORDED


@dataclass
class Spend:
    """The cost of a group's epics in one currency, split by outcome."""

    currency: str
    epics: int = 0
    total: Decimal = ZERO
    by_outcome: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))

    @property
    def recorded(self) -> Decimal:
        return sum((self.by_outcome[verdict] for verdict in VERDICTS), ZERO)

    @property
    def achieved_share(self) -> Decimal | None:
        return ratio(self.by_outcome["achieved"], self.recorded)


@dataclass
class InvestmentGroup:
    """The delivered epics of one group: how many, how many of unknown cost, and the spend per currency."""

    key: str
    name: str
    epics: int = 0
    waived: int = 0
    unknown_cost: int = 0
    spend: dict[str, Spend] = field(default_factory=dict)

    def add(self, epic: EpicSpend) -> None:
        self.epics += 1
        self.waived += epic.state == ReviewState.WAIVED
        if epic.amount is None or epic.currency is None:
            self.unknown_cost += 1
            return
        spend = self.spend.setdefault(epic.currency, Spend(epic.currency))
        spend.epics += 1
        spend.total += epic.amount
        spend.by_outcome[epic.bucket] += epic.amount

    def currencies(self) -> list[Spend]:
        return [self.spend[code] for code in sorted(self.spend)]


@dataclass
class Investment:
    total: InvestmentGroup
    by_team: list[InvestmentGroup]
    by_strategy: list[InvestmentGroup]
    epics: list[EpicSpend]

    def table(self) -> tuple[list[str], list[list[object]]]:
        """One row per group and currency, then one per group with epics of unknown cost (currency blank)."""
        header = ["group", "key", "name", "currency", "epics", "total", *BUCKETS, "achieved_share"]
        rows: list[list[object]] = []
        groups = [("total", self.total)]
        groups += [("team", group) for group in self.by_team] + [("strategy", group) for group in self.by_strategy]
        for kind, group in groups:
            for spend in group.currencies():
                amounts = [spend.by_outcome[bucket] for bucket in BUCKETS]
                rows.append([kind, group.key, group.name, spend.currency, spend.epics, spend.total, *amounts])
                rows[-1].append(spend.achieved_share)
            if group.unknown_cost:
                rows.append([kind, group.key, group.name, "", group.unknown_cost, None, *[None] * len(BUCKETS), None])
        return header, rows


def investment(
    company: Company,
    start: datetime,
    end: datetime,
    *,
    team_id: int | None = None,
    strategy_id: int | None = None,
    now: datetime | None = None,
) -> Investment:
    """The cost of the epics delivered in [start, end) by outcome, per team, strategy and in total. Two queries."""
    now = now or timezone.now()
    delivered = deliveries(company, start, end, team_id=team_id)
    rows = (
        with_verdict(delivered)
        .values_list(
            "epic_id",
            "state",
            "verdict",
            "done_at",
            "epic__title",
            "epic__team_id",
            "epic__team__name",
            "epic__owner__email",
            *(f"epic__{name}" for name in COST_FIELDS),
        )
        .order_by("done_at", "pk")
    )
    latest_delivery: dict[int, tuple[EpicSpend, int | None]] = {}
    for epic_id, state, verdict, done_at, title, team, team_name, owner, *cost_values in rows:
        cost = cost_of(cost_values, now)
        amount, currency, how = cost if cost is not None else (None, None, None)
        spend = EpicSpend(
            epic_id=epic_id,
            title=title,
            team=team_name or "",
            owner=owner,
            done_at=done_at,
            state=state,
            verdict=verdict if state == ReviewState.RECORDED else None,
            amount=amount,
            currency=currency,
            how=how,
        )
        latest_delivery[epic_id] = (spend, team)  # rows come oldest first: the latest delivery wins
    strategies = strategies_served(delivered)
    if strategy_id is not None:
        latest_delivery = {
            epic_id: entry
            for epic_id, entry in latest_delivery.items()
            if strategy_id in {pk for pk, _ in strategies.get(epic_id, [])}
        }
    total = InvestmentGroup("all", "All delivered epics")
    teams: dict[str, InvestmentGroup] = {}
    served: dict[str, InvestmentGroup] = {}
    for epic_id, (spend, team) in latest_delivery.items():
        total.add(spend)
        key = str(team or "")
        teams.setdefault(key, InvestmentGroup(key, spend.team or "No team")).add(spend)
        for pk, title in strategies.get(epic_id, []):
            served.setdefault(str(pk), InvestmentGroup(str(pk), title)).add(spend)
    epics = sorted((spend for spend, _ in latest_delivery.values()), key=lambda s: (s.done_at, s.epic_id))
    return Investment(total=total, by_team=_ordered(teams.values()), by_strategy=_ordered(served.values()), epics=epics)


def _ordered(groups: Iterable[InvestmentGroup]) -> list[InvestmentGroup]:
    return sorted(groups, key=lambda group: (-group.epics, group.name))

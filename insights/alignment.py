"""Alignment: how much of the work in a period serves a key result, and what is left uncovered.

Epics in scope are those active in the period [start, end): not cancelled, created before the end,
and not done before the start (never done, or done at or after the start). An epic is aligned when
it serves at least one key result (a Contribution), whatever that key result's cycle.

Cost is the epic's own cost (``epics.selectors.epic_cost``: the estimate, or the team's monthly cost
over the flow time, an unfinished epic's up to ``now``), not the part spent inside the period.
Currencies differ between teams and estimates, so money is summed and shared per currency; epics
whose cost cannot be told are counted apart.

Beside the share, the gaps: epics aligned to nothing; objectives and key results of the cycles
overlapping the period that no epic serves (the same rule as the orphan lists of the API, so an
epic of any status counts as work); and SWOT threats that no active strategy addresses (a draft or
retired strategy is no answer to a threat).

Filters: ``team_id`` keeps the epics of that team and the objectives of that team (with their key
results); ``strategy_id`` keeps the epics serving that strategy, so every epic left is aligned, and
the objectives linked to that strategy. Threats belong to the company and ignore both filters.
Four queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from epics.choices import EpicStatus
from epics.models import Contribution, Epic
from epics.selectors import epic_cost, key_results_without_epics, objectives_without_epics
from insights.selectors import _share
from okrs.models import KeyResult, Objective
from outcomes.choices import StrategyStatus, SwotKind
from outcomes.models import Company, Strategy, SwotItem

FOUR_PLACES = Decimal("0.0001")
ZERO = Decimal(0)

# What ``cost_of`` needs of an epic row, in this order.
COST_FIELDS = ("cost_estimate", "cost_currency", "team__monthly_cost", "team__cost_currency", "started_at", "done_at")


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole`` to four places, or None when there is no whole: the money twin of ``_share``."""
    return None if whole == 0 else (part / whole).quantize(FOUR_PLACES)


@dataclass(frozen=True, slots=True)
class _TeamCost:
    """The fields of a team that ``epic_cost`` reads."""

    monthly_cost: Decimal
    cost_currency: str


@dataclass(frozen=True, slots=True)
class _EpicCost:
    """The fields of an epic that ``epic_cost`` reads."""

    cost_estimate: Decimal | None
    cost_currency: str
    team: _TeamCost | None
    started_at: datetime | None
    done_at: datetime | None


def cost_of(values: Sequence[Any], now: datetime) -> tuple[Decimal, str, str] | None:
    """(amount, currency, how) of an epic read flat as ``COST_FIELDS``, by the rule of ``epic_cost``.

    The epic and its team are rebuilt in memory as plain records holding just what the rule reads
    (model instances cost several times more, and lists read thousands), so the one rule serves rows
    read in bulk without a query per epic.
    """
    estimate, currency, monthly_cost, team_currency, started_at, done_at = values
    team = None if monthly_cost is None else _TeamCost(monthly_cost, team_currency)
    epic = _EpicCost(estimate, currency, team, started_at, done_at)
    found = epic_cost(cast(Epic, epic), now)
    return None if found is None else (Decimal(found[0]), found[1], found[2])


@dataclass
class CurrencyAlignment:
    """The epics whose cost is known in one currency, and how much of that cost is aligned."""

    currency: str
    epics: int = 0
    aligned_epics: int = 0
    cost: Decimal = ZERO
    aligned_cost: Decimal = ZERO

    @property
    def aligned_share(self) -> Decimal | None:
        return ratio(self.aligned_cost, self.cost)


@dataclass
class UnalignedEpic:
    id: int
    title: str
    owner: str
    team: str
    status: str


@dataclass
class IdleObjective:
    id: int
    title: str
    cycle: str
    owner: str
    team: str


@dataclass
class IdleKeyResult:
    id: int
    title: str
    objective: str
    owner: str
    team: str


@dataclass
class OpenThreat:
    id: int
    title: str
    impact: int
    owner: str


@dataclass
class Alignment:
    """Epics active in the period, how many (and how much of their cost) serve a key result, and the gaps."""

    epics: int = 0
    aligned: int = 0
    unknown_cost: int = 0  # epics whose cost cannot be told: in the counts, not in the money
    unknown_cost_aligned: int = 0
    by_currency: list[CurrencyAlignment] = field(default_factory=list)
    unaligned: list[UnalignedEpic] = field(default_factory=list)
    objectives_without_work: list[IdleObjective] = field(default_factory=list)
    key_results_without_work: list[IdleKeyResult] = field(default_factory=list)
    unaddressed_threats: list[OpenThreat] = field(default_factory=list)

    @property
    def aligned_share(self) -> Decimal | None:
        return _share(self.aligned, self.epics)

    def table(self) -> tuple[list[str], list[list[object]]]:
        """The gaps, one row each: unaligned epics, idle objectives and key results, open threats."""
        header = ["kind", "id", "title", "owner", "team", "detail"]
        rows: list[list[object]] = [
            ["unaligned_epic", e.id, e.title, e.owner, e.team, e.status] for e in self.unaligned
        ]
        rows += [
            ["objective_without_work", o.id, o.title, o.owner, o.team, o.cycle] for o in self.objectives_without_work
        ]
        rows += [
            ["key_result_without_work", k.id, k.title, k.owner, k.team, k.objective]
            for k in self.key_results_without_work
        ]
        rows += [
            ["unaddressed_threat", t.id, t.title, t.owner, "", f"impact {t.impact}"] for t in self.unaddressed_threats
        ]
        return header, rows


def alignment(
    company: Company,
    start: datetime,
    end: datetime,
    *,
    team_id: int | None = None,
    strategy_id: int | None = None,
    now: datetime | None = None,
) -> Alignment:
    """The alignment of the work active in [start, end) (see the module docstring). Four queries."""
    now = now or timezone.now()
    result = Alignment()
    _count_epics(result, company, start, end, team_id, strategy_id, now)
    _find_idle_okrs(result, company, start, end, team_id, strategy_id)
    threats = (
        SwotItem.objects.filter(company=company, kind=SwotKind.THREAT)
        .exclude(
            Exists(
                Strategy.swot_items.through.objects.filter(
                    swotitem_id=OuterRef("pk"), strategy__status=StrategyStatus.ACTIVE
                )
            )
        )
        .order_by("-impact", "title", "id")
    )
    result.unaddressed_threats = [
        OpenThreat(pk, title, impact, owner)
        for pk, title, impact, owner in threats.values_list("id", "title", "impact", "owner__email")
    ]
    return result


def _count_epics(
    result: Alignment,
    company: Company,
    start: datetime,
    end: datetime,
    team_id: int | None,
    strategy_id: int | None,
    now: datetime,
) -> None:
    """Count the epics in scope, their cost per currency, and list the unaligned ones (one query)."""
    epics = (
        Epic.objects.filter(company=company, created__lt=end)
        .filter(Q(done_at__isnull=True) | Q(done_at__gte=start))
        .exclude(status=EpicStatus.CANCELLED)
        .annotate(aligned=Exists(Contribution.objects.filter(epic=OuterRef("pk"))))
    )
    if team_id is not None:
        epics = epics.filter(team_id=team_id)
    if strategy_id is not None:
        serving = Contribution.objects.filter(epic=OuterRef("pk"), key_result__objective__strategies=strategy_id)
        epics = epics.filter(Exists(serving))
    rows = epics.values_list("id", "title", "owner__email", "team__name", "status", "aligned", *COST_FIELDS).order_by(
        "title", "id"
    )
    currencies: dict[str, CurrencyAlignment] = {}
    for pk, title, owner, team, status, aligned, *cost_values in rows:
        aligned = bool(aligned)
        result.epics += 1
        result.aligned += aligned
        if not aligned:
            result.unaligned.append(UnalignedEpic(pk, title, owner, team or "", status))
        cost = cost_of(cost_values, now)
        if cost is None:
            result.unknown_cost += 1
            result.unknown_cost_aligned += aligned
            continue
        amount, currency, _how = cost
        book = currencies.setdefault(currency, CurrencyAlignment(currency))
        book.epics += 1
        book.cost += amount
        if aligned:
            book.aligned_epics += 1
            book.aligned_cost += amount
    result.by_currency = [currencies[code] for code in sorted(currencies)]


def _find_idle_okrs(
    result: Alignment,
    company: Company,
    start: datetime,
    end: datetime,
    team_id: int | None,
    strategy_id: int | None,
) -> None:
    """Objectives and key results of the cycles overlapping the period that no epic serves (two queries).

    A cycle runs from its first day to the end of its last day in the company's time zone, so it
    overlaps [start, end) when it starts on or before the period's last day and ends on or after
    its first.
    """
    zone = ZoneInfo(company.timezone)
    first_day = start.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    objectives = Objective.objects.filter(company=company, cycle__start__lte=last_day, cycle__end__gte=first_day)
    key_results = KeyResult.objects.filter(
        company=company, objective__cycle__start__lte=last_day, objective__cycle__end__gte=first_day
    )
    if team_id is not None:
        objectives = objectives.filter(team_id=team_id)
        key_results = key_results.filter(objective__team_id=team_id)
    if strategy_id is not None:
        objectives = objectives.filter(strategies=strategy_id)
        key_results = key_results.filter(objective__strategies=strategy_id)
    idle_objectives = objectives_without_epics(objectives, company.pk).order_by("cycle__start", "title", "id")
    result.objectives_without_work = [
        IdleObjective(pk, title, cycle, owner, team or "")
        for pk, title, cycle, owner, team in idle_objectives.values_list(
            "id", "title", "cycle__name", "owner__email", "team__name"
        )
    ]
    idle_key_results = key_results_without_epics(key_results).order_by("objective__title", "title", "id")
    result.key_results_without_work = [
        IdleKeyResult(pk, title, objective, owner, team or "")
        for pk, title, objective, owner, team in idle_key_results.values_list(
            "id", "title", "objective__title", "owner__email", "objective__team__name"
        )
    ]

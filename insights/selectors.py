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
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, NullIf

from epics.choices import ReviewState, Verdict
from epics.models import OVERDUE_AFTER_DAYS, ActualResult, Contribution, OutcomeReview
from epics.selectors import review_phase
from okrs.choices import CycleStatus
from okrs.models import Cycle, KeyResult
from okrs.selectors import SUBTREE_OF_CYCLE, CycleTree, cycle_tree
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

    def table(self) -> tuple[list[str], list[list[object]]]:
        header = ["group", "key", "name", "delivered", "recorded", "waived", "pending", "recorded_share", *VERDICTS]
        groups = [("total", [self.total]), ("team", self.by_team), ("owner", self.by_owner)]
        groups += [("strategy", self.by_strategy), ("month", self.by_month)]
        rows: list[list[object]] = [
            [group, t.key, t.name, t.delivered, t.recorded, t.waived, t.pending, t.recorded_share, *t.verdicts.values()]
            for group, tallies in groups
            for t in tallies
        ]
        return header, rows


def realisation(
    company: Company, start: datetime, end: datetime, *, team_id: int | None = None, strategy_id: int | None = None
) -> Realisation:
    """Of the epics delivered in [start, end): the share with a recorded result, and how those came out.

    A delivery is a review that was opened (cancelled ones, undone by a reopen, do not count); its
    verdict is the latest revision's, the override winning. An epic serving several strategies
    counts once under each. Two queries.
    """
    delivered = deliveries(company, start, end, team_id=team_id)
    rows = list(
        with_verdict(delivered)
        .values_list(
            "epic_id", "state", "verdict", "done_at", "epic__team_id", "epic__team__name", "epic__owner__email"
        )
        .order_by("done_at", "pk")
    )
    strategies = strategies_served(delivered)
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


def deliveries(company: Company, start: datetime, end: datetime, *, team_id: int | None) -> QuerySet[OutcomeReview]:
    """The deliveries in [start, end): reviews opened when an epic was done (cancelled ones, undone by a
    reopen, do not count), of one team's epics when ``team_id`` is given."""
    reviews = OutcomeReview.objects.filter(epic__company=company, done_at__gte=start, done_at__lt=end).exclude(
        state=ReviewState.CANCELLED
    )
    return reviews if team_id is None else reviews.filter(epic__team_id=team_id)


def with_verdict(reviews: QuerySet[OutcomeReview]) -> QuerySet[Any]:
    """Annotate ``verdict``: the latest result revision's, the override winning."""
    latest = ActualResult.objects.filter(review=OuterRef("pk")).order_by("-revision")
    return reviews.annotate(
        verdict=Subquery(latest.values(overall=Coalesce(NullIf("verdict_override", Value("")), "verdict"))[:1])
    )


def strategies_served(reviews: QuerySet[OutcomeReview]) -> dict[int, list[tuple[int, str]]]:
    """Epic id -> the strategies it serves through its key results' objectives, for the epics of ``reviews``
    (one query: the epics are a subquery, however many were delivered)."""
    pairs = (
        Contribution.objects.filter(
            epic_id__in=reviews.order_by().values("epic_id"), key_result__objective__strategies__isnull=False
        )
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

    def table(self) -> tuple[list[str], list[list[object]]]:
        header = ["group", "key", "name", "due", "overdue", "oldest_days", "stale_check_ins"]
        groups = [("total", [self.total]), ("owner", self.by_owner), ("team", self.by_team)]
        rows: list[list[object]] = [
            [group, d.key, d.name, d.due, d.overdue, d.oldest_days, d.stale_check_ins]
            for group, debts in groups
            for d in debts
        ]
        return header, rows


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


# --- cycle roll-up with delivery ----------------------------------------------------------
@dataclass(frozen=True)
class EpicLine:
    """An epic as the roll-up shows it under a key result it serves."""

    id: int
    title: str
    status: str
    work_type: str
    owner_id: int
    owner_email: str
    owner_name: str
    team: str
    review_phase: str | None  # None: not delivered yet
    verdict: str | None


@dataclass
class Delivery:
    """A cycle's OKR tree with the epics behind each key result and what the delivered ones achieved.

    ``realisation`` per objective counts the delivered epics under its own key results and under
    those of every objective beneath it (an epic serving several of them counts once).
    """

    tree: CycleTree
    epics: dict[int, list[EpicLine]]  # key result id -> epics serving it
    realisation: dict[int, Tally]  # objective id -> delivered epics beneath it

    def table(self, objectives: set[int] | None = None) -> tuple[list[str], list[list[object]]]:
        """One row per epic under each key result (of ``objectives`` when given); a key result with no
        epic still has its row."""
        header = ["objective_id", "objective", "objective_progress", "achieved_share", "key_result_id"]
        header += ["key_result", "key_result_progress", "key_result_status", "epic_id", "epic", "epic_status"]
        header += ["owner", "review", "verdict"]
        figures = self.tree.rollup
        rows: list[list[object]] = []
        titles = {o.pk: o.title for o in self.tree.objectives}
        for kr in self.tree.key_results:
            if objectives is not None and kr.objective_id not in objectives:
                continue
            objective: list[object] = [kr.objective_id, titles.get(kr.objective_id, "")]
            objective += [figures.objectives[kr.objective_id].progress, self.achieved_share(kr.objective_id)]
            result: list[object] = [kr.pk, kr.title, figures.key_results[kr.pk].progress]
            result.append(figures.key_results[kr.pk].status)
            lines: list[EpicLine | None] = [*self.epics.get(kr.pk, [])] or [None]
            for line in lines:
                epic: list[object] = ["", "", "", "", "", ""]
                if line is not None:
                    epic = [line.id, line.title, line.status, line.owner_email, line.review_phase, line.verdict]
                rows.append([*objective, *result, *epic])
        return header, rows

    def kept(self, *, team_id: int | None = None, strategy_id: int | None = None) -> set[int]:
        """Objectives of the team and serving the strategy (when given), and their ancestors so the
        tree still reads from the top."""
        objectives = self.tree.objectives
        if team_id is None and strategy_id is None:
            return {o.pk for o in objectives}
        parent_of = {o.pk: o.parent_id for o in objectives}
        kept: set[int] = set()
        for objective in objectives:
            if team_id is not None and objective.team_id != team_id:
                continue
            if strategy_id is not None and strategy_id not in {
                x.pk for x in self.tree.strategies_of.get(objective.pk, [])
            }:
                continue
            pk: int | None = objective.pk
            while pk is not None and pk not in kept:
                kept.add(pk)
                pk = parent_of.get(pk)
        return kept

    def achieved_share(self, objective_id: int) -> Decimal | None:
        """Of the recorded results beneath the objective, the share that achieved the anticipated outcome."""
        tally = self.realisation.get(objective_id)
        return None if tally is None else tally.verdict_shares()[Verdict.ACHIEVED]


def cycle_delivery(cycle: Cycle, *, at: datetime | None = None) -> Delivery:
    """The roll-up of ``cycle`` and the epics beneath it: the tree's three queries and two more."""
    tree = cycle_tree(cycle, at=at)
    now = tree.at
    objective_of = {kr.pk: kr.objective_id for kr in tree.key_results}
    # The tree's key results and their epics as subqueries: a big tree's thousands of ids cost more to send
    # and plan as lists of parameters than the database takes to find them again.
    in_tree = RawSQL(SUBTREE_OF_CYCLE, [cycle.pk])  # noqa: S611 - a constant query with bound parameters
    serving = Contribution.objects.filter(
        key_result__in=KeyResult.objects.filter(company_id=cycle.company_id, objective_id__in=in_tree)
    )
    rows = serving.values_list(
        "key_result_id",
        "epic_id",
        "epic__title",
        "epic__status",
        "epic__work_type",
        "epic__owner_id",
        "epic__owner__email",
        "epic__owner__full_name",
        "epic__team__name",
    ).order_by("epic__title", "epic_id")
    served = [row for row in rows if row[0] in objective_of]  # not a key result added since the tree was read
    reviews = _latest_reviews(serving.values("epic_id"))
    epics: dict[int, list[EpicLine]] = defaultdict(list)
    epics_of_objective: dict[int, set[int]] = defaultdict(set)
    for kr_id, epic_id, title, status, work_type, owner_id, email, name, team in served:
        review = reviews.get(epic_id)
        phase = None if review is None else review_phase(review, now)
        verdict = None if review is None else review.verdict
        epics[kr_id].append(
            EpicLine(epic_id, title, status, work_type, owner_id, email, name, team or "", phase, verdict)
        )
        epics_of_objective[objective_of[kr_id]].add(epic_id)
    return Delivery(tree=tree, epics=dict(epics), realisation=_realisation_beneath(tree, epics_of_objective, reviews))


@dataclass(frozen=True, slots=True)
class LatestReview:
    """An epic's latest delivery review as the roll-up reads it: what ``review_phase`` and a tally need."""

    epic_id: int
    state: str
    due_at: datetime
    verdict: str | None


def _latest_reviews(epic_ids: QuerySet[Any]) -> dict[int, LatestReview]:
    """Each epic's latest delivery (not a cancelled one) with its verdict, override winning (one query).

    Read as plain rows: a big cycle has thousands, and model instances cost more than the query."""
    rows = (
        with_verdict(OutcomeReview.objects.filter(epic_id__in=epic_ids).exclude(state=ReviewState.CANCELLED))
        .order_by("epic_id", "-done_at", "-id")
        .values_list("epic_id", "state", "due_at", "verdict")
    )
    found: dict[int, LatestReview] = {}
    for row in rows:
        if row[0] not in found:
            found[row[0]] = LatestReview(*row)
    return found


def _realisation_beneath(
    tree: CycleTree, epics_of_objective: dict[int, set[int]], reviews: dict[int, LatestReview]
) -> dict[int, Tally]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for objective in tree.objectives:
        children[objective.parent_id].append(objective.pk)

    def beneath(objective_id: int) -> set[int]:
        found = set(epics_of_objective.get(objective_id, ()))
        for child in children[objective_id]:
            found |= beneath(child)
        return found

    tallies: dict[int, Tally] = {}
    for objective in tree.objectives:
        tally = Tally(str(objective.pk), objective.title)
        for epic_id in sorted(beneath(objective.pk)):
            review = reviews.get(epic_id)
            if review is not None:
                tally.add(review.state, review.verdict)
        tallies[objective.pk] = tally
    return tallies

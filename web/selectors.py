"""What each page reads, in a fixed number of queries whatever the number of rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet

from epics.choices import EpicStatus, ReviewState
from epics.models import ActualResult, Contribution, Epic, MetricResult, OutcomeReview, StatusChange, SuccessMetric
from epics.selectors import epics_for_lists, epics_missing_outcome, misses_outcome, review_phase
from insights.selectors import Delivery, EpicLine, Tally
from okrs.choices import CycleStatus
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.rollup import Figures
from okrs.selectors import TreeKeyResult, TreeObjective
from outcomes.models import Company, User

CHECK_IN_NOTICE = timedelta(days=1)


# --- roll-up tree ----------------------------------------------------------------------------
@dataclass
class KeyResultNode:
    key_result: TreeKeyResult
    figures: Figures
    epics: list[EpicLine]


@dataclass
class ObjectiveNode:
    objective: TreeObjective
    figures: Figures
    delivery: Tally
    achieved_share: Any
    key_results: list[KeyResultNode]
    children: list[ObjectiveNode] = field(default_factory=list)


def rollup_nodes(delivery: Delivery, team_id: int | None = None) -> list[ObjectiveNode]:
    """The cycle's top-level objectives as a tree (with a team filter: its objectives and their parents)."""
    tree = delivery.tree
    krs_of: dict[int, list[KeyResultNode]] = defaultdict(list)
    for kr in tree.key_results:
        krs_of[kr.objective_id].append(KeyResultNode(kr, tree.rollup.key_results[kr.pk], delivery.epics.get(kr.pk, [])))
    children_of: dict[int | None, list[TreeObjective]] = defaultdict(list)
    for objective in tree.objectives:
        children_of[objective.parent_id].append(objective)
    keep = delivery.kept(team_id=team_id)

    def node(objective: TreeObjective) -> ObjectiveNode:
        return ObjectiveNode(
            objective=objective,
            figures=tree.rollup.objectives[objective.pk],
            delivery=delivery.realisation[objective.pk],
            achieved_share=delivery.achieved_share(objective.pk),
            key_results=krs_of[objective.pk],
            children=[node(child) for child in children_of[objective.pk] if child.pk in keep],
        )

    return [node(objective) for objective in tree.top_level() if objective.pk in keep]


def cycles_of(company: Company) -> list[Cycle]:
    return list(Cycle.objects.filter(company=company).order_by("-start", "-id"))


# --- objective and key result ---------------------------------------------------------------
def objective_page(company: Company, pk: int) -> Objective:
    return (
        Objective.objects.for_company(company)
        .select_related("owner", "team", "cycle", "parent")
        .prefetch_related("strategies", Prefetch("children", queryset=Objective.objects.select_related("owner")))
        .get(pk=pk)
    )


def check_ins_by_key_result(key_result_ids: list[int]) -> dict[int, list[CheckIn]]:
    """Each key result's check-ins, oldest first (one query)."""
    found: dict[int, list[CheckIn]] = defaultdict(list)
    rows = CheckIn.objects.filter(key_result_id__in=key_result_ids).select_related("author").order_by("as_of", "id")
    for check_in in rows:
        found[check_in.key_result_id].append(check_in)
    return found


def key_results_of(objective: Objective) -> list[KeyResult]:
    return list(objective.key_results.select_related("owner").order_by("title", "id"))


def key_result_page(company: Company, pk: int) -> KeyResult:
    return (
        KeyResult.objects.for_company(company)
        .select_related("owner", "objective__cycle", "objective__owner")
        .get(pk=pk)
    )


def epics_serving(key_result_ids: list[int]) -> dict[int, list[Epic]]:
    found: dict[int, list[Epic]] = defaultdict(list)
    rows = Contribution.objects.filter(key_result_id__in=key_result_ids).select_related("epic__owner")
    for contribution in rows.order_by("epic__title", "epic_id"):
        found[contribution.key_result_id].append(contribution.epic)
    return found


# --- epic ------------------------------------------------------------------------------------
@dataclass
class ReviewView:
    review: OutcomeReview
    phase: str
    result: ActualResult | None  # the latest revision
    metric_results: dict[int, MetricResult]  # by success metric id


def epic_page(company: Company, pk: int) -> Epic:
    epic = epics_for_lists(Epic.objects.for_company(company)).get(pk=pk)
    epic.missing_anticipated_outcome = misses_outcome(epic)  # type: ignore[attr-defined]  # for the template
    return epic


def metrics_of(epic: Epic) -> list[SuccessMetric]:
    return list(SuccessMetric.objects.filter(anticipated_outcome__epic=epic).order_by("position", "id"))


def latest_review(epic: Epic, now: datetime) -> ReviewView | None:
    """The latest delivery's review with its latest recorded result, metric by metric (three queries)."""
    review = OutcomeReview.objects.filter(epic=epic).exclude(state=ReviewState.CANCELLED).order_by("-done_at", "-id")
    found = review.first()
    if found is None:
        return None
    result = ActualResult.objects.filter(review=found).select_related("recorded_by").order_by("-revision").first()
    metric_results = {}
    if result is not None:
        metric_results = {row.metric_id: row for row in MetricResult.objects.filter(result=result)}
    return ReviewView(found, review_phase(found, now), result, metric_results)


def status_history(epic: Epic) -> list[StatusChange]:
    return list(StatusChange.objects.filter(epic=epic).select_related("actor").order_by("-at", "-id")[:50])


# --- my work ---------------------------------------------------------------------------------
@dataclass
class MyWork:
    reviews: list[tuple[OutcomeReview, str]]  # due and overdue, oldest first, with the phase
    missing_outcome: list[Epic]  # started or delivered without one
    to_prepare: list[Epic]  # proposed or planned, no anticipated outcome yet: write it before starting
    check_ins: list[KeyResult]  # due within a day, or late

    @property
    def outcomes_to_write(self) -> int:
        return len(self.missing_outcome) + len(self.to_prepare)


def my_work(company: Company, user: User, now: datetime) -> MyWork:
    """What a product manager owes: results to record, outcomes to write, check-ins to post (four queries)."""
    reviews = (
        OutcomeReview.objects.filter(epic__company=company, epic__owner=user, state=ReviewState.PENDING)
        .filter(due_at__lte=now)
        .select_related("epic")
        .order_by("due_at", "id")
    )
    missing = epics_missing_outcome().filter(company=company, owner=user).order_by("title", "id")
    preparing: QuerySet[Epic] = Epic.objects.filter(
        company=company, owner=user, status__in=[EpicStatus.PROPOSED, EpicStatus.PLANNED]
    ).filter(anticipated_outcome__isnull=True)
    check_ins = KeyResult.objects.filter(
        company=company,
        owner=user,
        objective__cycle__status=CycleStatus.ACTIVE,
        next_checkin_due__lte=now + CHECK_IN_NOTICE,
    ).select_related("objective")
    return MyWork(
        reviews=[(review, review_phase(review, now)) for review in reviews],
        missing_outcome=list(missing),
        to_prepare=list(preparing.order_by("title", "id")),
        check_ins=list(check_ins.order_by("next_checkin_due", "id")),
    )

"""Reads of epics: flags and review phases computed in SQL, the trace, and work aligned to nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from epics.choices import EpicStatus, ReviewPhase, ReviewState
from epics.models import OVERDUE_AFTER_DAYS, AnticipatedOutcome, Contribution, Epic, OutcomeReview, SuccessMetric
from okrs.models import KeyResult, Objective
from outcomes.models import BusinessOutcome, IdentityVersion, Strategy

OVERDUE_AFTER = timedelta(days=OVERDUE_AFTER_DAYS)
MONTH_SECONDS = Decimal("30.4375") * 86400  # an average month


class Reviewed(Protocol):
    """What the phase of a review depends on (an ``OutcomeReview`` or a row read for a roll-up)."""

    @property
    def state(self) -> str: ...

    @property
    def due_at(self) -> datetime: ...


def review_phase(review: Reviewed, now: datetime) -> str:
    """pending until due, due for a week, then overdue; or the closed state."""
    if review.state != ReviewState.PENDING:
        return review.state
    if now < review.due_at:
        return ReviewPhase.PENDING
    return ReviewPhase.DUE if now < review.due_at + OVERDUE_AFTER else ReviewPhase.OVERDUE


def live_reviews() -> QuerySet[OutcomeReview]:
    return OutcomeReview.objects.exclude(state=ReviewState.CANCELLED).order_by("-done_at", "-id")


STARTED = (EpicStatus.IN_PROGRESS, EpicStatus.DONE)


def _metrics() -> QuerySet[SuccessMetric]:
    return SuccessMetric.objects.filter(anticipated_outcome__epic=OuterRef("pk"))


def _misses_outcome() -> Q:
    """Under way or delivered with no anticipated outcome (no success metric) to judge it by."""
    return Q(status__in=list(STARTED)) & ~Q(Exists(_metrics()))


def epics_missing_outcome() -> QuerySet[Epic]:
    """Epics under way or delivered with no anticipated outcome (no success metric) to judge them by."""
    return Epic.objects.filter(_misses_outcome())


def epics_for_lists(queryset: QuerySet[Epic]) -> QuerySet[Epic]:
    """Joins and prefetches every epic list and detail shows, in a fixed number of queries per page.

    Whether an epic's anticipated outcome names a success metric comes with the prefetched outcome,
    for the page's epics only: as an annotation of the list, PostgreSQL would hash every metric of
    every company before taking the page.
    """
    outcomes = AnticipatedOutcome.objects.annotate(
        has_metrics=Exists(SuccessMetric.objects.filter(anticipated_outcome=OuterRef("pk")))
    )
    return queryset.select_related("owner", "reviewer", "team").prefetch_related(
        Prefetch("contributions", queryset=Contribution.objects.only("id", "epic_id", "key_result_id")),
        Prefetch("reviews", queryset=live_reviews(), to_attr="live_reviews"),
        Prefetch("anticipated_outcome", queryset=outcomes),
    )


def has_judged_outcome(epic: Epic) -> bool:
    """The epic has an anticipated outcome with a success metric to judge it by (read from the prefetch of
    ``epics_for_lists`` when there is one)."""
    try:
        outcome = epic.anticipated_outcome
    except AnticipatedOutcome.DoesNotExist:
        return False
    found = getattr(outcome, "has_metrics", None)
    return outcome.metrics.exists() if found is None else bool(found)


def misses_outcome(epic: Epic) -> bool:
    """Under way or delivered without an anticipated outcome to judge it by: flagged, never blocked."""
    return epic.status in STARTED and not has_judged_outcome(epic)


def filter_missing_outcome(queryset: QuerySet[Epic], missing: bool) -> QuerySet[Epic]:
    """The epics ``misses_outcome`` flags, or (``missing`` false) all the others."""
    return queryset.filter(_misses_outcome()) if missing else queryset.exclude(_misses_outcome())


def filter_review_phase(queryset: QuerySet[Epic], phase: str, now: datetime | None = None) -> QuerySet[Epic]:
    """Epics whose latest delivery's review is in ``phase`` ("none": no review yet, e.g. not delivered)."""
    now = now or timezone.now()
    latest = Subquery(live_reviews().filter(epic=OuterRef("pk")).values("pk")[:1])
    conditions: dict[str, Q] = {
        ReviewPhase.PENDING: Q(state=ReviewState.PENDING, due_at__gt=now),
        ReviewPhase.DUE: Q(state=ReviewState.PENDING, due_at__lte=now, due_at__gt=now - OVERDUE_AFTER),
        ReviewPhase.OVERDUE: Q(state=ReviewState.PENDING, due_at__lte=now - OVERDUE_AFTER),
        ReviewPhase.RECORDED: Q(state=ReviewState.RECORDED),
        ReviewPhase.WAIVED: Q(state=ReviewState.WAIVED),
    }
    queryset = queryset.annotate(latest_review=latest)
    if phase == "none":
        return queryset.filter(latest_review__isnull=True)
    in_phase = OutcomeReview.objects.filter(conditions[phase], pk=OuterRef("latest_review"))
    return queryset.filter(Exists(in_phase))


# --- trace ---------------------------------------------------------------------------
TABLE = Objective._meta.db_table
_ANCESTORS = f"""
WITH RECURSIVE up(id, parent_id) AS (
    SELECT id, parent_id FROM {TABLE} WHERE id IN ({{seed}})
    UNION
    SELECT p.id, p.parent_id FROM {TABLE} p JOIN up ON p.id = up.parent_id
)
SELECT id FROM up
"""
ANCESTORS_OF_MANY = _ANCESTORS.format(seed="%s")  # the seed ids as one placeholder each
# The objectives with work: those whose key results a company's epic serves, and all their ancestors.
OBJECTIVES_WITH_WORK = _ANCESTORS.format(
    seed=f"""SELECT k.objective_id FROM {KeyResult._meta.db_table} k
        JOIN {Contribution._meta.db_table} c ON c.key_result_id = k.id
        JOIN {Epic._meta.db_table} e ON e.id = c.epic_id WHERE e.company_id = %s"""
)


@dataclass
class Trace:
    epic: Epic
    key_results: list[KeyResult]
    objectives: list[Objective]
    strategies: list[Strategy]
    business_outcomes: list[BusinessOutcome]
    identity: IdentityVersion | None


def _ancestor_ids(objective_ids: list[int]) -> list[int]:
    if not objective_ids:
        return []
    placeholders = ", ".join(["%s"] * len(objective_ids))
    with connection.cursor() as cursor:
        cursor.execute(ANCESTORS_OF_MANY % placeholders, objective_ids)
        return [row[0] for row in cursor.fetchall()]


def epic_trace(epic: Epic) -> Trace:
    """epic -> key results -> objectives up to the top -> strategies -> business outcomes -> identity.

    Six queries whatever the depth: key results, the ancestor walk, objectives with their strategies
    and outcomes (three), the identity.
    """
    key_results = list(
        KeyResult.objects.filter(contributions__epic=epic).select_related("owner").order_by("title", "id")
    )
    objective_ids = _ancestor_ids(sorted({kr.objective_id for kr in key_results}))
    objectives = list(
        Objective.objects.filter(company_id=epic.company_id, id__in=objective_ids)
        .select_related("cycle", "owner")
        .prefetch_related(Prefetch("strategies", queryset=Strategy.objects.prefetch_related("business_outcomes")))
        .prefetch_related("business_outcomes")
        .order_by("id")
    )
    strategies = {s.pk: s for o in objectives for s in o.strategies.all()}
    outcomes = {b.pk: b for o in objectives for b in o.business_outcomes.all()}
    outcomes |= {b.pk: b for s in strategies.values() for b in s.business_outcomes.all()}
    identity = IdentityVersion.objects.filter(company_id=epic.company_id).order_by("-number").first()
    return Trace(
        epic=epic,
        key_results=key_results,
        objectives=objectives,
        strategies=sorted(strategies.values(), key=lambda s: s.pk),
        business_outcomes=sorted(outcomes.values(), key=lambda b: b.pk),
        identity=identity,
    )


# --- orphans -------------------------------------------------------------------------
def key_results_without_epics(queryset: QuerySet[KeyResult]) -> QuerySet[KeyResult]:
    return queryset.exclude(Exists(Contribution.objects.filter(key_result=OuterRef("pk"))))


def objectives_without_epics(queryset: QuerySet[Objective], company_id: int) -> QuerySet[Objective]:
    """Objectives with no epic on their key results nor beneath them (on any descendant's key results), in
    the one query of ``queryset``: the objectives with work are a subquery, not a list of ids sent along."""
    return queryset.exclude(id__in=RawSQL(OBJECTIVES_WITH_WORK, [company_id]))  # noqa: S611 - constant, bound


def epic_cost(epic: Epic, now: datetime | None = None) -> tuple[Any, str, str] | None:
    """(amount, currency, how): the estimate, or the team's monthly cost over the epic's flow time."""
    if epic.cost_estimate is not None:
        return epic.cost_estimate, epic.cost_currency, "estimate"
    team = epic.team
    if team is None or team.monthly_cost is None or epic.started_at is None:
        return None
    ended = epic.done_at or now or timezone.now()
    seconds = Decimal(max((ended - epic.started_at).total_seconds(), 0))
    amount = (team.monthly_cost * seconds / MONTH_SECONDS).quantize(Decimal("0.01"))
    return amount, team.cost_currency, "team_cost"

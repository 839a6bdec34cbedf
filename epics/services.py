"""Every write of the epics layer: the epic, its anticipated outcome, its key results, its status and the loop."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from epics.choices import ChangeSource, EpicStatus, ReviewState
from epics.lifecycle import (
    MANAGERS_ONLY,
    NEEDS_ANTICIPATED_OUTCOME,
    metric_verdict,
    move_problem,
    overall_verdict,
)
from epics.models import (
    ActualResult,
    AnticipatedOutcome,
    Contribution,
    Epic,
    MetricResult,
    OutcomeReview,
    StatusChange,
    SuccessMetric,
)
from okrs.choices import CheckInSource
from okrs.models import CheckIn, KeyResult
from okrs.services import check_in_record
from outcomes.choices import MANAGERS
from outcomes.models import APIKey, Company, User
from outcomes.progress import target_problem
from outcomes.services.common import apply_changes, require_member_fields

EPIC_FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "team",
    "owner",
    "reviewer",
    "work_type",
    "external_key",
    "tracker_url",
)
EPIC_FIELDS += ("cost_estimate", "cost_currency")
DEFAULT_WINDOW_DAYS = 30
MISSING_OUTCOME = "Write the anticipated outcome first: the problem, the expected results and a success metric."


# --- epics ---------------------------------------------------------------------------
@transaction.atomic
def epic_create(
    *,
    company: Company,
    actor: User | None = None,
    api_key: APIKey | None = None,
    source: str = ChangeSource.MANUAL,
    tracker: dict[str, Any] | None = None,
    **fields: Any,
) -> Epic:
    """Propose an epic. Its first status-history row records who proposed it, or the tracker it came from.

    ``tracker`` carries a synced epic's tracker fields: connection id, external id and key, URL and status text.
    """
    epic = Epic(company=company)
    for name, value in (tracker or {}).items():
        setattr(epic, name, value)
    epic = epic_update(epic=epic, **fields)
    _record_change(epic, "", EpicStatus.PROPOSED, source=source, actor=actor, api_key=api_key)
    return epic


@transaction.atomic
def epic_update(*, epic: Epic, **changes: Any) -> Epic:
    apply_changes(epic, EPIC_FIELDS, changes)
    require_member_fields(epic, epic.company, "owner")
    require_member_fields(epic, epic.company, "reviewer")
    if epic.team_id and epic.team and epic.team.company_id != epic.company_id:
        raise ValidationError({"team": "Must belong to the same company."})
    if epic.cost_estimate is not None and not epic.cost_currency:
        raise ValidationError({"cost_currency": "Required when cost_estimate is set."})
    if epic.cost_estimate is None and epic.cost_currency:
        raise ValidationError({"cost_estimate": "Required when cost_currency is set."})
    epic.full_clean()
    epic.save()
    return epic


@transaction.atomic
def epic_delete(*, epic: Epic) -> None:
    if epic.status != EpicStatus.PROPOSED or epic.started_at is not None:
        raise ValidationError("Only a proposed epic that never started can be deleted; cancel it instead.")
    epic.delete()


# --- who may do what (the API and the web pages ask the same questions) -------------------
WRITE_ANY = frozenset({"owner", "admin", "executive"})


def may_write_epic(*, epic: Epic, user: User | None, role: str) -> bool:
    """Owners, admins and executives write any epic; members those they own or review; viewers none."""
    if role in WRITE_ANY:
        return True
    return role == "member" and user is not None and user.pk in {epic.owner_id, epic.reviewer_id}


def may_close_the_loop(*, epic: Epic, user: User | None, role: str) -> bool:
    """The epic's owner or reviewer, or an owner or admin, records its results."""
    if role in MANAGERS:
        return True
    return role != "viewer" and user is not None and user.pk in {epic.owner_id, epic.reviewer_id}


# --- the anticipated outcome ---------------------------------------------------------
@transaction.atomic
def anticipated_outcome_set(
    *, epic: Epic, problem: str, expected_results: str, metrics: list[dict[str, Any]], learning_plan: str = ""
) -> AnticipatedOutcome:
    """Write what the epic is expected to change. Frozen once the epic is done (reopening thaws it)."""
    if epic.status == EpicStatus.DONE:
        raise ValidationError("The epic is done: its anticipated outcome is frozen. Reopen the epic to change it.")
    if not metrics:
        raise ValidationError({"metrics": "At least one success metric."})
    for index, metric in enumerate(metrics):
        problem_text = target_problem(kind=metric["direction"], baseline=metric["baseline"], target=metric["target"])
        if problem_text:
            raise ValidationError({f"metrics.{index}.target": problem_text})
    outcome, _ = AnticipatedOutcome.objects.get_or_create(
        epic=epic, defaults={"problem": problem, "expected_results": expected_results}
    )
    outcome.problem, outcome.expected_results, outcome.learning_plan = problem, expected_results, learning_plan
    outcome.full_clean()
    outcome.save()
    _set_metrics(outcome, metrics)
    return outcome


def _set_metrics(outcome: AnticipatedOutcome, metrics: list[dict[str, Any]]) -> None:
    """Update metrics in place by position, add new ones, and remove the rest (unless results refer to them)."""
    existing = list(outcome.metrics.order_by("position", "id"))
    for position, fields in enumerate(metrics):
        metric = existing[position] if position < len(existing) else SuccessMetric(anticipated_outcome=outcome)
        for name, value in {**fields, "position": position}.items():
            setattr(metric, name, value)
        metric.full_clean()
        metric.save()
    for metric in existing[len(metrics) :]:
        if metric.results.exists():
            raise ValidationError({"metrics": f"Metric {metric.name!r} has recorded results and stays."})
        metric.delete()


def has_anticipated_outcome(epic: Epic) -> bool:
    return SuccessMetric.objects.filter(anticipated_outcome__epic=epic).exists()


# --- contributions -------------------------------------------------------------------
@transaction.atomic
def contribution_set(
    *, epic: Epic, key_result: KeyResult, expected_contribution: Decimal | None = None, note: str = ""
) -> Contribution:
    """Link the epic to a key result it serves (or update the link)."""
    if key_result.company_id != epic.company_id:
        raise ValidationError({"key_result": "Must belong to the same company."})
    contribution, _ = Contribution.objects.get_or_create(epic=epic, key_result=key_result)
    contribution.expected_contribution, contribution.note = expected_contribution, note
    contribution.full_clean()
    contribution.save()
    return contribution


@transaction.atomic
def contribution_remove(*, contribution: Contribution) -> None:
    contribution.delete()


# --- status --------------------------------------------------------------------------
@transaction.atomic
def epic_transition(
    *,
    epic: Epic,
    to_status: str,
    source: str = ChangeSource.MANUAL,
    reason: str = "",
    actor: User | None = None,
    api_key: APIKey | None = None,
    actor_role: str = "",
    tracker_timestamp: datetime | None = None,
) -> StatusChange | None:
    """Move an epic to a status and record it.

    A manual move follows the table in ``epics.lifecycle`` and needs an anticipated outcome to start
    or finish. A tracker move is never refused (the tracker owns delivery status), except that an
    event older than the newest one applied is ignored: it returns None.
    """
    if to_status not in EpicStatus.values:
        raise ValidationError({"status": f"Unknown status {to_status!r}."})
    epic = Epic.objects.select_for_update().get(pk=epic.pk)
    from_status = epic.status
    if source == ChangeSource.MANUAL:
        _check_manual_move(epic, from_status, to_status, actor_role)
    elif from_status == to_status or _is_stale(epic, tracker_timestamp):
        return None
    at = tracker_timestamp if source != ChangeSource.MANUAL and tracker_timestamp else timezone.now()
    change = _record_change(
        epic,
        from_status,
        to_status,
        source=source,
        actor=actor,
        api_key=api_key,
        reason=reason,
        tracker_timestamp=tracker_timestamp,
        at=at,
    )
    _apply_status(epic, from_status, to_status, at)
    return change


def _check_manual_move(epic: Epic, from_status: str, to_status: str, actor_role: str) -> None:
    problem = move_problem(from_status, to_status)
    if problem:
        raise ValidationError({"status": problem})
    if (from_status, to_status) in MANAGERS_ONLY and actor_role not in MANAGERS:
        raise PermissionDenied("Only owners and admins reopen a cancelled epic.")
    if to_status in NEEDS_ANTICIPATED_OUTCOME and not has_anticipated_outcome(epic):
        raise ValidationError({"anticipated_outcome": MISSING_OUTCOME})


def _is_stale(epic: Epic, tracker_timestamp: datetime | None) -> bool:
    if tracker_timestamp is None:
        return False
    newest = epic.status_changes.exclude(tracker_timestamp=None).order_by("-tracker_timestamp").first()
    return newest is not None and newest.tracker_timestamp is not None and newest.tracker_timestamp >= tracker_timestamp


def _record_change(
    epic: Epic,
    from_status: str,
    to_status: str,
    *,
    source: str,
    actor: User | None = None,
    api_key: APIKey | None = None,
    reason: str = "",
    tracker_timestamp: datetime | None = None,
    at: datetime | None = None,
) -> StatusChange:
    return StatusChange.objects.create(
        epic=epic,
        from_status=from_status,
        to_status=to_status,
        at=at or timezone.now(),
        source=source,
        actor=actor,
        actor_api_key_prefix=api_key.prefix if api_key else "",
        reason=reason,
        tracker_timestamp=tracker_timestamp,
    )


OPEN_REVIEW, CANCEL_REVIEWS = "open_review", "cancel_reviews"


def status_effects(epic: Epic, from_status: str, to_status: str, at: datetime) -> str | None:
    """Set the status and its dates on the epic (in memory) and say what happens to its reviews.

    Delivery opens a review (``OPEN_REVIEW``); leaving done cancels the pending one
    (``CANCEL_REVIEWS``). The caller saves and applies the review change, one epic or many at once.
    """
    epic.status = to_status
    epic.waiting = False  # a change of status leaves any wait; a tracker sets it again when it still waits
    if to_status in {EpicStatus.IN_PROGRESS, EpicStatus.DONE} and epic.started_at is None:
        epic.started_at = at
    if to_status == EpicStatus.DONE:
        epic.done_at = at
        return OPEN_REVIEW
    if from_status == EpicStatus.DONE:
        epic.done_at = None
        return CANCEL_REVIEWS
    return None


def _apply_status(epic: Epic, from_status: str, to_status: str, at: datetime) -> None:
    effect = status_effects(epic, from_status, to_status, at)
    if effect == OPEN_REVIEW:
        _open_review(epic, at)
    elif effect == CANCEL_REVIEWS:
        cancel_pending_reviews([epic.pk])
    epic.save(update_fields=["status", "waiting", "started_at", "done_at", "updated"])


def cancel_pending_reviews(epic_ids: Iterable[int]) -> None:
    OutcomeReview.objects.filter(epic_id__in=list(epic_ids), state=ReviewState.PENDING).update(
        state=ReviewState.CANCELLED, closed_at=timezone.now()
    )


def _open_review(epic: Epic, done_at: datetime) -> OutcomeReview:
    return OutcomeReview.objects.create(epic=epic, done_at=done_at, due_at=review_due(done_at, window_days(epic.pk)))


def window_days(epic_id: int) -> int:
    """The longest measurement window of the epic's success metrics (the default without metrics)."""
    windows = SuccessMetric.objects.filter(anticipated_outcome__epic_id=epic_id).values_list("window_days", flat=True)
    return max(windows, default=DEFAULT_WINDOW_DAYS)


def review_due(done_at: datetime, days: int) -> datetime:
    return done_at + timedelta(days=days)


def live_review(epic: Epic) -> OutcomeReview | None:
    """The review of the epic's latest delivery (cancelled ones belong to earlier deliveries)."""
    return epic.reviews.exclude(state=ReviewState.CANCELLED).order_by("-done_at", "-id").first()


# --- the loop: reviews and actual results --------------------------------------------
@transaction.atomic
def review_waive(*, epic: Epic, reason: str, actor: User | None) -> OutcomeReview:
    review = _open_or_recorded_review(epic)
    if review.state != ReviewState.PENDING:
        raise ValidationError(f"The review is already {review.state}.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why no result will be recorded."})
    review.state, review.waived_reason, review.waived_by = ReviewState.WAIVED, reason, actor
    review.closed_at = timezone.now()
    review.save()
    return review


def _open_or_recorded_review(epic: Epic) -> OutcomeReview:
    if epic.status != EpicStatus.DONE:
        raise ValidationError("The epic is not done: results are recorded after delivery.")
    review = live_review(epic)
    if review is None:  # an epic marked done before reviews existed
        review = _open_review(epic, epic.done_at or timezone.now())
    return review


@transaction.atomic
def result_record(
    *,
    epic: Epic,
    metrics: Iterable[dict[str, Any]],
    recorded_by: User | None,
    learnings: str = "",
    next_steps: str = "",
    verdict_override: str = "",
    override_reason: str = "",
    post_check_ins: bool = False,
) -> tuple[ActualResult, list[CheckIn]]:
    """Record what the epic achieved, metric by metric. A second recording is a new revision.

    Verdicts are computed per metric from its direction, baseline and target; the overall verdict
    from those, unless overridden with a reason. With ``post_check_ins``, each measured metric also
    becomes a check-in (source ``outcome``) of every linked key result in the same unit.
    """
    review = _open_or_recorded_review(epic)
    if review.state == ReviewState.WAIVED:
        raise ValidationError("The review was waived; nothing is recorded for it.")
    if verdict_override and not override_reason.strip():
        raise ValidationError({"override_reason": "Say why the verdict differs from the metrics."})
    rows = _measured_values(epic, metrics)
    revision = review.results.count() + 1
    verdicts = [
        metric_verdict(direction=m.direction, baseline=m.baseline, target=m.target, value=g.get("value"))
        for m, g in rows
    ]
    result = ActualResult.objects.create(
        review=review,
        revision=revision,
        verdict=overall_verdict(verdicts),
        verdict_override=verdict_override,
        override_reason=override_reason,
        learnings=learnings,
        next_steps=next_steps,
        recorded_by=recorded_by,
    )
    for (metric, given), verdict in zip(rows, verdicts, strict=True):
        MetricResult.objects.create(
            result=result,
            metric=metric,
            value=given.get("value"),
            verdict=verdict,
            evidence_url=given.get("evidence_url", ""),
            evidence_note=given.get("evidence_note", ""),
        )
    review.state, review.closed_at = ReviewState.RECORDED, timezone.now()
    review.save(update_fields=["state", "closed_at"])
    posted = _post_check_ins(epic, rows, recorded_by) if post_check_ins else []
    return result, posted


def _measured_values(epic: Epic, given: Iterable[dict[str, Any]]) -> list[tuple[SuccessMetric, dict[str, Any]]]:
    metrics = list(SuccessMetric.objects.filter(anticipated_outcome__epic=epic).order_by("position", "id"))
    if not metrics:
        raise ValidationError({"metrics": "The epic has no success metrics to record against."})
    by_id = {metric.pk: metric for metric in metrics}
    values: dict[int, dict[str, Any]] = {}
    for index, entry in enumerate(given):
        metric = entry["metric"]
        if metric.pk not in by_id:
            raise ValidationError({f"metrics.{index}.metric": "Not a success metric of this epic."})
        if metric.pk in values:
            raise ValidationError({f"metrics.{index}.metric": "Given twice."})
        values[metric.pk] = entry
    return [(metric, values.get(metric.pk, {})) for metric in metrics]


def _post_check_ins(epic: Epic, rows: list[tuple[SuccessMetric, dict[str, Any]]], author: User | None) -> list[CheckIn]:
    posted: list[CheckIn] = []
    key_results = list(KeyResult.objects.filter(contributions__epic=epic).select_related("objective__cycle"))
    for metric, given in rows:
        if given.get("value") is None or not metric.unit.strip():
            continue
        for key_result in key_results:
            if key_result.unit.strip().casefold() != metric.unit.strip().casefold():
                continue
            try:
                posted.append(
                    check_in_record(
                        key_result=key_result,
                        value=given["value"],
                        source=CheckInSource.OUTCOME,
                        author=author,
                        comment=f"Actual result of {epic.title}: {metric.name}",
                    )
                )
            except ValidationError:
                continue  # e.g. the key result's cycle is closed: the result stands, the check-in is skipped
    return posted

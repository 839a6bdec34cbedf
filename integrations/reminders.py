"""Chasing actual results: reminders about outcome reviews, planned once and sent once.

Every minute the dispatcher (a beat task that may run twice, on several workers) does two things:

1. **Plan**: for every pending review that is due, add the reminders its stage calls for:
   due → the epic's owner; overdue (7 days past due) → the owner again and the reviewer, or the
   team's lead; escalated (21 days past due) → also the owners of the objectives the epic serves.
   Rows are keyed (kind, review, stage, due date, recipient, channel), so planning twice adds nothing.
   A review first seen late gets only its current stage, not a burst of the ones it skipped.
2. **Send**: each pending reminder is claimed with a conditional update (pending → sending) before
   anything is sent, so only one worker sends it. A reminder whose review was recorded, waived or
   cancelled meanwhile is cancelled instead. A failed send is tried again on the next tick, up to
   three times, then kept as failed with its error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from epics.choices import ReviewState
from epics.models import OVERDUE_AFTER_DAYS, OutcomeReview, SuccessMetric
from integrations.choices import ReminderKind, ReminderStatus
from integrations.models import Reminder
from okrs.models import Objective
from outcomes.models import User

ESCALATE_AFTER_DAYS = 21
MAX_ATTEMPTS = 3
STAGES = (
    (ReminderKind.REVIEW_DUE, 0, timedelta(0)),
    (ReminderKind.REVIEW_OVERDUE, 1, timedelta(days=OVERDUE_AFTER_DAYS)),
    (ReminderKind.REVIEW_ESCALATED, 2, timedelta(days=ESCALATE_AFTER_DAYS)),
)


@dataclass
class Dispatched:
    planned: int = 0
    sent: int = 0
    cancelled: int = 0
    failed: int = 0


def dispatch_reminders(now: datetime | None = None) -> Dispatched:
    now = now or timezone.now()
    outcome = Dispatched(planned=plan_review_reminders(now))
    for reminder_id in Reminder.objects.filter(status=ReminderStatus.PENDING).values_list("pk", flat=True):
        result = send_reminder(reminder_id, now)
        if result == ReminderStatus.SENT:
            outcome.sent += 1
        elif result == ReminderStatus.CANCELLED:
            outcome.cancelled += 1
        elif result == ReminderStatus.FAILED:
            outcome.failed += 1
    return outcome


def _stage(review: OutcomeReview, now: datetime) -> tuple[str, int]:
    reached = [(kind, stage) for kind, stage, after in STAGES if now >= review.due_at + after]
    return reached[-1]


def plan_review_reminders(now: datetime) -> int:
    """Add the reminders due reviews call for now; returns how many were new. A fixed number of queries."""
    reviews = list(
        OutcomeReview.objects.filter(state=ReviewState.PENDING, due_at__lte=now).select_related(
            "epic__owner", "epic__reviewer", "epic__team__lead"
        )
    )
    staged = [(review, *_stage(review, now)) for review in reviews]
    escalated = _objective_owners([review.epic_id for review, _, stage in staged if stage >= 2])
    rows = [
        Reminder(
            company_id=review.epic.company_id,
            kind=kind,
            review=review,
            stage=stage,
            due_on=review.due_at.date(),
            recipient=person,
        )
        for review, kind, stage in staged
        for person in _recipients(review, stage, escalated.get(review.epic_id, []))
    ]
    before = Reminder.objects.count()
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)  # the unique key keeps each one once
    return Reminder.objects.count() - before


def _objective_owners(epic_ids: list[int]) -> dict[int, list[User]]:
    """The owners of the objectives each epic serves (through its key results), in two queries."""
    if not epic_ids:
        return {}
    owners: dict[int, list[User]] = {}
    rows = set(Objective.objects.filter(key_results__epics__in=epic_ids).values_list("key_results__epics", "owner"))
    people = {user.pk: user for user in User.objects.filter(pk__in={owner for _, owner in rows})}
    for epic_id, owner_id in sorted(rows):
        owners.setdefault(epic_id, []).append(people[owner_id])
    return owners


def _recipients(review: OutcomeReview, stage: int, objective_owners: list[User]) -> list[User]:
    epic = review.epic
    people: list[User] = [epic.owner]
    if stage >= 1:
        second = epic.reviewer or (epic.team.lead if epic.team is not None else None)
        if second is not None:
            people.append(second)
    if stage >= 2:
        people += objective_owners
    unique: dict[int, User] = {}
    for person in people:
        unique.setdefault(person.pk, person)
    return list(unique.values())


def send_reminder(reminder_id: int, now: datetime) -> str | None:
    """Send one pending reminder if this caller wins the claim; None when another caller has it."""
    claimed = Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.SENDING, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    reminder = Reminder.objects.select_related("review__epic__owner", "recipient").get(pk=reminder_id)
    review = reminder.review
    if review is None or review.state != ReviewState.PENDING:
        return _finish(reminder, ReminderStatus.CANCELLED, "Nothing is asked any more: the review was closed.")
    subject, body = review_message(reminder, review)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [reminder.recipient.email], fail_silently=False)
    except Exception as error:  # noqa: BLE001 - any transport failure is recorded and retried
        final = reminder.attempts >= MAX_ATTEMPTS
        return _finish(reminder, ReminderStatus.FAILED if final else ReminderStatus.PENDING, str(error)[:500])
    reminder.sent_at = now
    return _finish(reminder, ReminderStatus.SENT, "")


def _finish(reminder: Reminder, status: str, error: str) -> str:
    reminder.status, reminder.error = status, error
    reminder.save(update_fields=["status", "error", "sent_at"])
    return status


def review_message(reminder: Reminder, review: OutcomeReview) -> tuple[str, str]:
    """What is asked, of whom, with the anticipated outcome to compare against (plain text)."""
    epic = review.epic
    asks: dict[str, str] = {
        ReminderKind.REVIEW_DUE: "is due",
        ReminderKind.REVIEW_OVERDUE: f"is overdue ({OVERDUE_AFTER_DAYS}+ days)",
        ReminderKind.REVIEW_ESCALATED: f"is long overdue ({ESCALATE_AFTER_DAYS}+ days)",
    }
    subject = f"Record the actual result of {epic.title}: the outcome review {asks[reminder.kind]}"
    lines = [
        f"{epic.title} was delivered on {review.done_at:%Y-%m-%d}; its outcome review {asks[reminder.kind]} "
        f"since {review.due_at:%Y-%m-%d}.",
        f"Owner: {epic.owner.email}. Please record what it actually achieved, or waive the review with a reason.",
        "",
    ]
    outcome = getattr(epic, "anticipated_outcome", None)
    if outcome is not None:
        lines += [f"Problem: {outcome.problem}", f"Expected: {outcome.expected_results}", "Success metrics:"]
        for metric in SuccessMetric.objects.filter(anticipated_outcome=outcome).order_by("position", "id"):
            lines.append(
                f"  - {metric.name}: baseline {metric.baseline}, target {metric.target} {metric.unit}".rstrip()
            )
    else:
        lines.append("No anticipated outcome was written for this epic: say what it was meant to change.")
    path = reverse("v1:epic-results", kwargs={"company_slug": epic.company.slug, "pk": epic.pk})
    lines += ["", f"Record it: POST {path}"]
    return subject, "\n".join(lines) + "\n"

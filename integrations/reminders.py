"""Chasing what people owe: reminders planned once, held back for quiet hours, sent once.

Every minute the dispatcher (a beat task that may run twice, on several workers) does three things:

1. **Recover**: a reminder left ``sending`` longer than ``SENDING_LEASE`` belongs to a sender that
   stopped (killed, restarted). Whether the message left is unknown, so it is marked ``unknown`` and
   not sent again: a missing reminder is visible and the next stage or digest follows; a duplicate
   would teach people to ignore us.
2. **Plan**: ask the domain apps what is due and add a row per (kind, subject, stage, due date,
   recipient, channel) under a unique key, so planning twice adds nothing:
   - outcome reviews: due → the epic's owner; 7 days overdue → the owner and the reviewer (or the
     team's lead); 21 days → also the owners of the objectives the epic serves. A review first seen
     late gets only the stage it is in, never a burst of the ones it skipped;
   - key result check-ins: a day before one falls due by the cadence → the key result's owner;
   - epics that started without an anticipated outcome → the epic's owner;
   - tracker connections that need attention → the company's owners and admins;
   - weekly digests at each member's digest day and hour: their own due and overdue items, and for
     owners and executives the cycle roll-up.
   Each row is planned for the channels the person chose and held back (``not_before``) until their
   quiet window opens. Only things that fell due within ``LOOKBACK`` are planned: turning reminders
   on, or importing a tracker's history, does not flood anyone.
3. **Send**: each due row is claimed with a conditional update (pending → sending) before anything
   is sent, so only one worker sends it. A row whose reason went away (result recorded, review
   waived, check-in posted, outcome written, connection fixed, digest empty) is cancelled instead,
   and so is an earlier stage once a later one is planned. A transient failure is retried with
   backoff (1, 2, 4 … minutes) up to ``MAX_ATTEMPTS``; a permanent one fails at once with its error.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.utils import timezone

from epics.choices import ReviewState
from epics.models import OVERDUE_AFTER_DAYS, Epic, OutcomeReview
from epics.selectors import epics_missing_outcome
from integrations import slack
from integrations.choices import (
    DIGEST_KINDS,
    ESCALATE_AFTER_DAYS,
    REVIEW_KINDS,
    Channel,
    ReminderKind,
    ReminderStatus,
)
from integrations.messages import Notice, notice_for
from integrations.models import Connection, Reminder, SlackWebhook
from integrations.preferences import Prefs, prefs_for
from okrs.choices import CycleStatus
from okrs.models import KeyResult, Objective
from outcomes.choices import MANAGERS, Role
from outcomes.models import Membership, User

MAX_ATTEMPTS = 3
# A key result's owner hears about its check-in this long before it falls due (then it is stale).
CHECK_IN_NOTICE = timedelta(days=1)
# Events and reminders about things that happened longer ago than this are not sent any more.
LOOKBACK = timedelta(days=3)
# A row left "sending" this long was abandoned by a sender that stopped (killed, restarted).
SENDING_LEASE = timedelta(minutes=15)
# A tick stops claiming after this long (well inside the task's time limit); the rest wait a minute.
SEND_BUDGET_SECONDS = 50.0
STAGES = (
    (ReminderKind.REVIEW_DUE, 0, timedelta(0)),
    (ReminderKind.REVIEW_OVERDUE, 1, timedelta(days=OVERDUE_AFTER_DAYS)),
    (ReminderKind.REVIEW_ESCALATED, 2, timedelta(days=ESCALATE_AFTER_DAYS)),
)
DIGEST_READERS = {Role.OWNER.value, Role.ADMIN.value, Role.EXECUTIVE.value, Role.MEMBER.value}
EXECUTIVES = {Role.OWNER.value, Role.EXECUTIVE.value}
DEFERRED = "deferred"


@dataclass
class Dispatched:
    planned: int = 0
    sent: int = 0
    cancelled: int = 0
    failed: int = 0
    deferred: int = 0
    abandoned: int = 0


def dispatch_reminders(now: datetime | None = None) -> Dispatched:
    now = now or timezone.now()
    outcome = Dispatched(abandoned=mark_abandoned(now), planned=plan_reminders(now))
    started = time.monotonic()
    for reminder_id, kind in due_reminders(now):
        if time.monotonic() - started > SEND_BUDGET_SECONDS:
            break  # the next tick goes on; a task stopped by its time limit would leave rows "sending"
        result = send_reminder(reminder_id, now, kind)
        if result == ReminderStatus.SENT:
            outcome.sent += 1
        elif result == ReminderStatus.CANCELLED:
            outcome.cancelled += 1
        elif result == ReminderStatus.FAILED:
            outcome.failed += 1
        elif result in (DEFERRED, ReminderStatus.PENDING):
            outcome.deferred += 1
    return outcome


def due_reminders(now: datetime) -> list[tuple[int, str]]:
    """(id, kind) of the pending reminders whose time has come, oldest first."""
    ready = Q(not_before__isnull=True) | Q(not_before__lte=now)
    return list(
        Reminder.objects.filter(ready, status=ReminderStatus.PENDING)
        .order_by("created", "id")
        .values_list("pk", "kind")
    )


def mark_abandoned(now: datetime) -> int:
    return Reminder.objects.filter(status=ReminderStatus.SENDING, claimed_at__lt=now - SENDING_LEASE).update(
        status=ReminderStatus.UNKNOWN,
        error="The sender stopped while sending; whether it arrived is unknown, so it is not sent again.",
    )


# --- planning ------------------------------------------------------------------------
@dataclass(frozen=True)
class Want:
    """One reminder someone should get, before channels and preferences are applied."""

    company_id: int
    kind: str
    subject: str
    stage: int
    due_on: date
    recipient_id: int
    links: tuple[tuple[str, int], ...] = ()  # (field, id): review, key_result, epic, connection

    def rows(self, prefs: Prefs, slack_ready: bool, now: datetime) -> Iterator[Reminder]:
        not_before = prefs.deliverable_at(now, self.subject)
        for channel in prefs.channels:
            if channel == Channel.SLACK and not slack_ready:
                continue
            yield Reminder(
                company_id=self.company_id,
                kind=self.kind,
                subject=self.subject,
                stage=self.stage,
                due_on=self.due_on,
                recipient_id=self.recipient_id,
                channel=channel,
                not_before=None if not_before <= now else not_before,
                **{f"{name}_id": pk for name, pk in self.links},
            )


def plan_reminders(now: datetime) -> int:
    """Add the reminders due things call for now; returns how many were new.

    A fixed number of queries whose size follows what fell due lately, not everything ever due:
    each source asks only for what reached its stage within ``LOOKBACK``, and the keys planned
    lately are read once so that only new rows are written.
    """
    members = list(Membership.objects.filter(role__in=DIGEST_READERS).values_list("company_id", "user_id", "role"))
    wants = [
        *review_wants(now),
        *check_in_wants(now),
        *missing_outcome_wants(now),
        *connection_wants(now),
    ]
    prefs = prefs_for([(w.company_id, w.recipient_id) for w in wants] + [(c, u) for c, u, _ in members], now)
    wants += digest_wants(now, members, prefs)
    with_slack = set(SlackWebhook.objects.values_list("company_id", flat=True).distinct())
    planned = set(
        Reminder.objects.filter(created__gte=now - LOOKBACK - CHECK_IN_NOTICE).values_list(
            "kind", "subject", "stage", "due_on", "recipient_id", "channel"
        )
    )
    rows = [
        row
        for want in wants
        for row in want.rows(prefs[(want.company_id, want.recipient_id)], want.company_id in with_slack, now)
        if (row.kind, row.subject, row.stage, row.due_on, row.recipient_id, row.channel) not in planned
    ]
    # The unique key keeps each one once, whatever a racing planner wrote meanwhile.
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _stage(review: OutcomeReview, now: datetime) -> tuple[str, int]:
    reached = [(kind, stage) for kind, stage, after in STAGES if now >= review.due_at + after]
    return reached[-1]


def review_wants(now: datetime) -> list[Want]:
    """Pending reviews whose current stage began within ``LOOKBACK``: each stage is planned once, on time."""
    recently = Q()
    for _, _, after in STAGES:
        recently |= Q(due_at__lte=now - after, due_at__gt=now - after - LOOKBACK)
    reviews = list(OutcomeReview.objects.filter(recently, state=ReviewState.PENDING).select_related("epic__team"))
    staged = [(review, *_stage(review, now)) for review in reviews]
    escalated = _objective_owners([review.epic_id for review, _, stage in staged if stage >= 2])
    return [
        Want(
            review.epic.company_id,
            kind,
            f"review:{review.pk}",
            stage,
            review.due_at.date(),
            person,
            (("review", review.pk),),
        )
        for review, kind, stage in staged
        for person in _review_recipients(review, stage, escalated.get(review.epic_id, []))
    ]


def _objective_owners(epic_ids: list[int]) -> dict[int, list[int]]:
    """The owners of the objectives each epic serves (through its key results), in one query."""
    if not epic_ids:
        return {}
    owners: dict[int, list[int]] = {}
    rows = set(Objective.objects.filter(key_results__epics__in=epic_ids).values_list("key_results__epics", "owner"))
    for epic_id, owner_id in sorted(rows):
        owners.setdefault(epic_id, []).append(owner_id)
    return owners


def _review_recipients(review: OutcomeReview, stage: int, objective_owners: list[int]) -> list[int]:
    epic = review.epic
    people: list[int] = [epic.owner_id]
    if stage >= 1:
        second = epic.reviewer_id or (epic.team.lead_id if epic.team is not None else None)
        if second is not None:
            people.append(second)
    if stage >= 2:
        people += objective_owners
    return list(dict.fromkeys(people))


def check_in_wants(now: datetime) -> list[Want]:
    """A check-in falling due by the cadence (a day's notice), once per due date, in active cycles."""
    key_results = KeyResult.objects.filter(
        objective__cycle__status=CycleStatus.ACTIVE,
        next_checkin_due__lte=now + CHECK_IN_NOTICE,
        next_checkin_due__gt=now - LOOKBACK,
    ).values_list("pk", "company_id", "owner_id", "next_checkin_due")
    return [
        Want(company, ReminderKind.CHECK_IN_DUE, f"key_result:{pk}", 0, due.date(), owner, (("key_result", pk),))
        for pk, company, owner, due in key_results
    ]


def missing_outcome_wants(now: datetime) -> list[Want]:
    epics = epics_missing_outcome().filter(started_at__gt=now - LOOKBACK, started_at__lte=now)
    return [
        Want(company, ReminderKind.OUTCOME_MISSING, f"epic:{pk}", 0, (started or now).date(), owner, (("epic", pk),))
        for pk, company, owner, started in epics.values_list("pk", "company_id", "owner_id", "started_at")
    ]


def connection_wants(now: datetime) -> list[Want]:
    """A flagged connection, once per day it failed, to its company's owners and admins."""
    flagged = list(
        Connection.objects.filter(needs_attention=True, enabled=True, last_error_at__gt=now - LOOKBACK).values_list(
            "pk", "company_id", "last_error_at"
        )
    )
    managers: dict[int, list[int]] = {}
    for company, user in Membership.objects.filter(
        company__in={company for _, company, _ in flagged}, role__in=MANAGERS
    ).values_list("company_id", "user_id"):
        managers.setdefault(company, []).append(user)
    return [
        Want(
            company,
            ReminderKind.CONNECTION_ATTENTION,
            f"connection:{pk}",
            0,
            (failed or now).date(),
            user,
            (("connection", pk),),
        )
        for pk, company, failed in flagged
        for user in managers.get(company, [])
    ]


def digest_wants(now: datetime, members: list[tuple[int, int, str]], prefs: dict[tuple[int, int], Prefs]) -> list[Want]:
    """This week's digests whose local day and hour have come (and not long ago)."""
    wants = []
    for company, user, role in members:
        mine = prefs[(company, user)]
        moment = mine.digest_moment(now)
        if not mine.digest or not (moment <= now < moment + LOOKBACK):
            continue
        subject = f"company:{company}"
        wants.append(Want(company, ReminderKind.DIGEST_MEMBER, subject, 0, moment.date(), user))
        if role in EXECUTIVES:
            wants.append(Want(company, ReminderKind.DIGEST_EXECUTIVE, subject, 0, moment.date(), user))
    return wants


# --- sending -------------------------------------------------------------------------
# What a reminder of each kind reads besides its company and recipient. Joining only those keeps the
# load cheap to plan: joining every kind's rows at once cost PostgreSQL more to plan than to run.
RELATED_BY_KIND: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        REVIEW_KINDS, ("review__epic__owner", "review__epic__company", "review__epic__anticipated_outcome")
    ),
    ReminderKind.CHECK_IN_DUE: ("key_result__objective__cycle", "key_result__company"),
    ReminderKind.OUTCOME_MISSING: ("epic__company",),
    ReminderKind.CONNECTION_ATTENTION: ("connection__company",),
}


def send_reminder(reminder_id: int, now: datetime, kind: str) -> str | None:
    """Send one pending reminder of ``kind`` if this caller wins the claim; None when another caller has it."""
    claimed = Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.SENDING, claimed_at=now
    )
    if not claimed:
        return None
    related = RELATED_BY_KIND.get(kind, ())
    reminder = Reminder.objects.select_related("company", "recipient", *related).get(pk=reminder_id)
    reason = no_longer_asked(reminder, now)
    if reason:
        return _finish(reminder, ReminderStatus.CANCELLED, reason)
    prefs = prefs_for([(reminder.company_id, reminder.recipient_id)], now)[(reminder.company_id, reminder.recipient_id)]
    if reminder.channel not in prefs.channels:
        return _finish(reminder, ReminderStatus.CANCELLED, "The recipient turned this channel off.")
    deliverable = prefs.deliverable_at(now, reminder.subject)
    if deliverable > now:  # quiet hours, a pause or a snooze: back in line, no attempt spent
        reminder.not_before = deliverable
        _finish(reminder, ReminderStatus.PENDING, reminder.error)
        return DEFERRED
    notice = notice_for(reminder, now)
    if notice is None:
        return _finish(reminder, ReminderStatus.CANCELLED, "Nothing to report this week.")
    reminder.attempts += 1
    try:
        deliver(reminder, notice)
    except slack.SendError as error:
        if error.transient and reminder.attempts < MAX_ATTEMPTS:
            backoff = timedelta(minutes=2 ** (reminder.attempts - 1))
            reminder.not_before = now + max(backoff, timedelta(seconds=error.retry_after or 0))
            return _finish(reminder, ReminderStatus.PENDING, str(error)[:500])
        return _finish(reminder, ReminderStatus.FAILED, str(error)[:500])
    reminder.sent_at = now
    return _finish(reminder, ReminderStatus.SENT, "")


def _finish(reminder: Reminder, status: str, error: str) -> str:
    reminder.status, reminder.error = status, error
    reminder.save(update_fields=["status", "error", "sent_at", "attempts", "not_before"])
    return status


def no_longer_asked(reminder: Reminder, now: datetime) -> str:
    """Why the reminder should not go out any more, or "" when it still should."""
    if reminder.kind in REVIEW_KINDS:
        review = reminder.review
        if review is None or review.state != ReviewState.PENDING:
            return "Nothing is asked any more: the review was closed."
        later = Reminder.objects.filter(
            subject=reminder.subject,
            recipient=reminder.recipient_id,
            channel=reminder.channel,
            kind__in=REVIEW_KINDS,
            stage__gt=reminder.stage,
        )
        if later.exists():
            return "Superseded by a later stage of the same review."
    elif reminder.kind == ReminderKind.CHECK_IN_DUE:
        key_result = reminder.key_result
        if key_result is None or key_result.next_checkin_due.date() != reminder.due_on:
            return "Nothing is asked any more: the check-in arrived."
        if key_result.objective.cycle.status != CycleStatus.ACTIVE:
            return "Nothing is asked any more: the cycle is no longer active."
    elif reminder.kind == ReminderKind.OUTCOME_MISSING:
        epic = reminder.epic
        if epic is None or not epics_missing_outcome().filter(pk=epic.pk).exists():
            return "Nothing is asked any more: the anticipated outcome was written."
    elif reminder.kind == ReminderKind.CONNECTION_ATTENTION:
        connection = reminder.connection
        if connection is None or not connection.needs_attention or not connection.enabled:
            return "Nothing is asked any more: the connection works again."
    elif reminder.kind in DIGEST_KINDS and now - reminder.created > LOOKBACK:
        return "Too late: the week's digest is out of date."
    if not Membership.objects.filter(company=reminder.company_id, user=reminder.recipient_id).exists():
        return "The recipient is no longer a member of the company."
    return ""


def deliver(reminder: Reminder, notice: Notice) -> None:
    """Send through the reminder's channel; raise ``slack.SendError`` (transient or not) when it fails."""
    if reminder.channel == Channel.SLACK:
        url = slack.webhook_for(reminder.company_id, _team_of(reminder))
        if url is None:
            raise slack.SendError("The company has no Slack webhook any more.", transient=False)
        mention = reminder.recipient.full_name or reminder.recipient.email
        slack.post(url, text=f"For {mention}: {notice.subject}", blocks=notice.blocks())
        return
    send_email(reminder.recipient, notice)


def _team_of(reminder: Reminder) -> int | None:
    epic: Epic | None = reminder.epic or (reminder.review.epic if reminder.review is not None else None)
    if epic is not None:
        return epic.team_id
    if reminder.key_result is not None:
        return reminder.key_result.objective.team_id
    return None


def send_email(person: User, notice: Notice) -> None:
    if not person.email:
        raise slack.SendError("The recipient has no e-mail address.", transient=False)
    message = EmailMultiAlternatives(notice.subject, notice.text(), settings.DEFAULT_FROM_EMAIL, [person.email])
    message.attach_alternative(notice.html(), "text/html")
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as error:
        raise slack.SendError(f"The mail server refused the address: {error}", transient=False) from error
    except Exception as error:  # any other transport failure is worth another try
        raise slack.SendError(f"{type(error).__name__}: {error}", transient=True) from error

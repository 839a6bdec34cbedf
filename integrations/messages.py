"""What each reminder says: one ``Notice`` per reminder, rendered as plain text, HTML and Slack blocks.

Every notice says what is asked, of whom, by when, and links to where it is done: the API path
always, and the web page when the web pages have one for it. Review reminders carry the anticipated
outcome (problem, expected results, metrics with baseline and target) so the owner compares the
actual result against what was promised, not against memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from epics.choices import ReviewState
from epics.models import OVERDUE_AFTER_DAYS, ActualResult, Epic, OutcomeReview, SuccessMetric
from epics.selectors import epics_missing_outcome
from integrations.choices import ESCALATE_AFTER_DAYS, REVIEW_KINDS, ReminderKind
from integrations.models import Connection, Reminder
from okrs.choices import CycleStatus
from okrs.models import Cycle, KeyResult, Objective

SLACK_TEXT_LIMIT = 2900  # a section block's text must stay under 3,000 characters


@dataclass
class Section:
    heading: str
    lines: list[str] = field(default_factory=list)


@dataclass
class Notice:
    """A message before it is rendered for a channel."""

    subject: str
    lead: str
    sections: list[Section] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, absolute URL)

    def text(self) -> str:
        parts = [self.lead, ""]
        for section in self.sections:
            parts.append(f"{section.heading}:")
            parts += [f"  - {line}" for line in section.lines] or ["  (none)"]
            parts.append("")
        parts += [f"{label}: {url}" for label, url in self.links]
        return "\n".join(parts).rstrip() + "\n"

    def html(self) -> str:
        return render_to_string("integrations/email/notice.html", {"notice": self})

    def blocks(self) -> list[dict[str, Any]]:
        """Slack Block Kit: a header, the lead, one section per part, buttons for the links."""
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(self.lead)}},
        ]
        for section in self.sections:
            body = "\n".join(f"• {_mrkdwn(line)}" for line in section.lines) or "_none_"
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"*{_mrkdwn(section.heading)}*\n{body}"[:SLACK_TEXT_LIMIT]},
                }
            )
        if self.links:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": label[:75]}, "url": url}
                        for label, url in self.links[:5]
                    ],
                }
            )
        return blocks


def _mrkdwn(text: str) -> str:
    """Slack treats &, < and > as markup: escape them so titles show as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def absolute(path: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + path


def _api(name: str, slug: str, pk: int) -> str:
    return absolute(reverse(f"v1:{name}", kwargs={"company_slug": slug, "pk": pk}))


def _web(name: str, **kwargs: Any) -> list[tuple[str, str]]:
    """A link to the web page for the item, when the web pages have one."""
    try:
        return [("Open", absolute(reverse(f"web:{name}", kwargs=kwargs)))]
    except NoReverseMatch:
        return []


def _day(moment: datetime | None) -> str:
    return "-" if moment is None else f"{timezone.localtime(moment):%Y-%m-%d}"


def _number(value: Any) -> str:
    return "-" if value is None else f"{value.normalize():f}" if hasattr(value, "normalize") else str(value)


# --- one notice per kind ---------------------------------------------------------------
def notice_for(reminder: Reminder, now: datetime) -> Notice | None:
    """The notice a reminder sends, or None when there is nothing to say (an empty digest).

    Days in it are the company's days (a check-in due 00:30 in Berlin is due that day, not the one before).
    """
    with timezone.override(ZoneInfo(reminder.company.timezone)):
        return _notice(reminder, now)


def _notice(reminder: Reminder, now: datetime) -> Notice | None:
    kind = reminder.kind
    if kind in REVIEW_KINDS:
        assert reminder.review is not None
        return review_notice(reminder, reminder.review)
    if kind == ReminderKind.CHECK_IN_DUE:
        assert reminder.key_result is not None
        return check_in_notice(reminder.key_result)
    if kind == ReminderKind.OUTCOME_MISSING:
        assert reminder.epic is not None
        return missing_outcome_notice(reminder.epic)
    if kind == ReminderKind.CONNECTION_ATTENTION:
        assert reminder.connection is not None
        return connection_notice(reminder.connection)
    if kind == ReminderKind.DIGEST_MEMBER:
        return member_digest(reminder, now)
    return executive_digest(reminder, now)


REVIEW_ASKS: dict[str, str] = {
    ReminderKind.REVIEW_DUE: "is due",
    ReminderKind.REVIEW_OVERDUE: f"is overdue ({OVERDUE_AFTER_DAYS}+ days)",
    ReminderKind.REVIEW_ESCALATED: f"is long overdue ({ESCALATE_AFTER_DAYS}+ days)",
}


def review_notice(reminder: Reminder, review: OutcomeReview) -> Notice:
    epic = review.epic
    slug = epic.company.slug
    asks = REVIEW_ASKS[reminder.kind]
    notice = Notice(
        subject=f"Record the actual result of {epic.title}: the outcome review {asks}",
        lead=(
            f"{epic.title} was delivered on {_day(review.done_at)}; its outcome review {asks} since "
            f"{_day(review.due_at)}. Owner: {epic.owner.email}. Please record what it actually achieved, "
            "or waive the review with a reason."
        ),
        links=[
            *_web("epic", company_slug=slug, pk=epic.pk),
            ("Record the result (API)", _api("epic-results", slug, epic.pk)),
        ],
    )
    outcome = getattr(epic, "anticipated_outcome", None)
    if outcome is None:
        notice.sections.append(
            Section("Anticipated outcome", ["None was written for this epic: say what it was meant to change."])
        )
        return notice
    metrics = SuccessMetric.objects.filter(anticipated_outcome=outcome).order_by("position", "id")
    notice.sections += [
        Section("Problem", [outcome.problem]),
        Section("Expected", [outcome.expected_results]),
        Section(
            "Success metrics",
            [
                f"{metric.name}: baseline {_number(metric.baseline)}, target {_number(metric.target)} "
                f"{metric.unit}".rstrip()
                for metric in metrics
            ],
        ),
    ]
    return notice


def check_in_notice(key_result: KeyResult) -> Notice:
    slug = key_result.company.slug
    due = key_result.next_checkin_due
    return Notice(
        subject=f"Check in on {key_result.title}: due {_day(due)}",
        lead=(
            f"The {key_result.get_cadence_display().lower()} check-in of {key_result.title} "
            f"(objective: {key_result.objective.title}) is due on {_day(due)}. Post its current value "
            "and your confidence, so the roll-up shows where it stands."
        ),
        sections=[
            Section(
                "Where it stands",
                [
                    f"Baseline {_number(key_result.baseline)}, target {_number(key_result.target)} "
                    f"{key_result.unit}".rstrip(),
                    f"Current value {_number(key_result.current_value)}",
                ],
            )
        ],
        links=[
            *_web("key-result", company_slug=slug, pk=key_result.pk),
            ("Post a check-in (API)", _api("key-result-check-ins", slug, key_result.pk)),
        ],
    )


def missing_outcome_notice(epic: Epic) -> Notice:
    slug = epic.company.slug
    return Notice(
        subject=f"Write the anticipated outcome of {epic.title}",
        lead=(
            f"{epic.title} started on {_day(epic.started_at)} without an anticipated outcome. Say what problem it "
            "solves, what results you expect and how you will measure them (metrics with baseline and target), "
            "so that after it ships we can tell whether it worked."
        ),
        links=[
            *_web("epic", company_slug=slug, pk=epic.pk),
            ("Write it (API)", _api("epic-anticipated-outcome", slug, epic.pk)),
        ],
    )


def connection_notice(connection: Connection) -> Notice:
    slug = connection.company.slug
    return Notice(
        subject=f"{connection.name}: the tracker refused our requests",
        lead=(
            f"The {connection.get_kind_display()} connection {connection.name!r} of {connection.company.name} needs "
            f"attention: {connection.last_error}"
        ),
        sections=[
            Section(
                "What to do",
                [
                    "Syncing is paused for it. Check its base URL, credentials and their rights, then save the "
                    "connection or ask for a sync: the next successful run clears the flag."
                ],
            )
        ],
        links=[("The connection (API)", _api("connection-detail", slug, connection.pk))],
    )


# --- digests -----------------------------------------------------------------------------
def member_digest(reminder: Reminder, now: datetime) -> Notice | None:
    """The recipient's own due and overdue items in the company; None when there are none."""
    company_id, person = reminder.company_id, reminder.recipient_id
    reviews = list(
        OutcomeReview.objects.filter(
            epic__company_id=company_id, epic__owner_id=person, state=ReviewState.PENDING, due_at__lte=now
        )
        .select_related("epic")
        .order_by("due_at", "id")
    )
    key_results = list(
        KeyResult.objects.filter(
            company_id=company_id,
            owner_id=person,
            objective__cycle__status=CycleStatus.ACTIVE,
            next_checkin_due__lte=now + timedelta(days=7),
        ).order_by("next_checkin_due", "id")
    )
    missing = list(epics_missing_outcome().filter(company_id=company_id, owner_id=person).order_by("title", "id"))
    if not (reviews or key_results or missing):
        return None
    overdue = now - timedelta(days=OVERDUE_AFTER_DAYS)
    review_lines = [
        f"{review.epic.title}: {'overdue' if review.due_at <= overdue else 'due'} since {_day(review.due_at)}"
        for review in reviews
    ]
    check_in_lines = [
        f"{kr.title}: {'stale since' if kr.next_checkin_due <= now else 'due'} {_day(kr.next_checkin_due)}"
        for kr in key_results
    ]
    return Notice(
        subject=f"Your week: {len(reviews)} results to record, {len(key_results)} check-ins, "
        f"{len(missing)} outcomes to write",
        lead=f"What is asked of you in {reminder.company.name} this week.",
        sections=[
            Section("Actual results to record", review_lines),
            Section("Key result check-ins", check_in_lines),
            Section("Epics started without an anticipated outcome", [epic.title for epic in missing]),
        ],
        links=_web("my-work", company_slug=reminder.company.slug),
    )


def executive_digest(reminder: Reminder, now: datetime) -> Notice | None:
    """The active cycles' roll-up, the week's movement, results recorded and missed, and outcome debt."""
    company = reminder.company
    week_ago = now - timedelta(days=7)
    cycles = list(Cycle.objects.filter(company=company, status=CycleStatus.ACTIVE).order_by("start", "id"))
    objectives = list(
        Objective.objects.filter(company=company, cycle__in=cycles, parent__isnull=True)
        .select_related("owner")
        .order_by("cycle_id", "title", "id")
    )
    results = ActualResult.objects.filter(review__epic__company=company, recorded_at__gt=week_ago)
    verdicts = {
        row["verdict_override"] or row["verdict"]: row["n"]
        for row in results.values("verdict", "verdict_override").annotate(n=Count("id"))
    }
    debt = OutcomeReview.objects.filter(epic__company=company, state=ReviewState.PENDING, due_at__lte=now).aggregate(
        due=Count("id"),
        overdue=Count("id", filter=Q(due_at__lte=now - timedelta(days=OVERDUE_AFTER_DAYS))),
        missed=Count("id", filter=Q(due_at__lte=now - timedelta(days=ESCALATE_AFTER_DAYS))),
    )
    delivered = Epic.objects.filter(company=company, done_at__gt=week_ago).count()
    if not cycles and not debt["due"] and not verdicts and not delivered:
        return None
    cycle_lines = [
        f"{objective.title} ({objective.owner.email}): "
        f"{'-' if objective.progress is None else f'{objective.progress * 100:.0f}%'} {objective.status or ''}".rstrip()
        for objective in objectives
    ]
    recorded = sum(verdicts.values())
    return Notice(
        subject=f"{company.name} this week: {recorded} results recorded, {debt['overdue']} overdue",
        lead=f"The roll-up of {', '.join(cycle.name for cycle in cycles) or 'no active cycle'} on {_day(now)}.",
        sections=[
            Section("Objectives", cycle_lines),
            Section(
                "This week",
                [
                    f"{delivered} epics delivered",
                    f"{recorded} actual results recorded"
                    + (f": {', '.join(f'{n} {v}' for v, n in sorted(verdicts.items()))}" if verdicts else ""),
                ],
            ),
            Section(
                "Outcome debt",
                [
                    f"{debt['due']} reviews waiting for a result",
                    f"{debt['overdue']} overdue ({OVERDUE_AFTER_DAYS}+ days)",
                    f"{debt['missed']} long overdue ({ESCALATE_AFTER_DAYS}+ days)",
                ],
            ),
        ],
        links=[
            *_web("rollup", company_slug=company.slug),
            *[("Cycle roll-up (API)", _api("cycle-rollup", company.slug, cycle.pk)) for cycle in cycles[:1]],
        ],
    )

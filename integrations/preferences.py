"""When a person may be messaged: their channels, digest time, quiet window and pause.

A member with no ``NotificationPreference`` row gets the defaults: e-mail, a digest on Monday at
09:00, nothing before 08:00 or from 18:00 on, nothing at weekends, all in the company's time zone.
Machines (outbound webhooks) have no quiet hours; only people do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations.choices import Channel
from integrations.models import NotificationPreference, ReminderSnooze, default_channels
from outcomes.models import Company, Membership

SNOOZE_DAYS = 7
MAX_PAUSE_DAYS = 366
LATEST_PAUSE = date(9000, 1, 1)  # a pause set past it (not through the API) still leaves dates to compute
FIELDS = ("channels", "digest", "digest_weekday", "digest_hour", "quiet_before", "quiet_after", "weekdays_only")


@dataclass(frozen=True)
class Prefs:
    """One person's preferences in one company, with the company's time zone."""

    tz: ZoneInfo
    channels: tuple[str, ...] = (Channel.EMAIL.value,)
    digest: bool = True
    digest_weekday: int = 0
    digest_hour: int = 9
    quiet_before: int = 8
    quiet_after: int = 18
    weekdays_only: bool = True
    paused_until: date | None = None
    snoozed: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, row: NotificationPreference | None, tz: ZoneInfo) -> Prefs:
        if row is None:
            return cls(tz=tz)
        return cls(
            tz=tz,
            channels=tuple(row.channels),
            digest=row.digest,
            digest_weekday=row.digest_weekday,
            digest_hour=row.digest_hour,
            quiet_before=row.quiet_before,
            quiet_after=row.quiet_after,
            weekdays_only=row.weekdays_only,
            paused_until=row.paused_until,
        )

    def deliverable_at(self, now: datetime, subject: str = "") -> datetime:
        """The first moment at or after ``now`` when a message may reach this person."""
        earliest = now
        if subject in self.snoozed:
            earliest = max(earliest, self.snoozed[subject])
        local = earliest.astimezone(self.tz)
        paused = None if self.paused_until is None else min(self.paused_until, LATEST_PAUSE)
        if paused is not None and local.date() <= paused:
            local = _real(datetime.combine(paused + timedelta(days=1), time.min, tzinfo=self.tz))
        for _ in range(8):  # a week at most, then the window is open on some day
            opens = _real(datetime.combine(local.date(), time(hour=self.quiet_before), tzinfo=self.tz))
            allowed_day = not (self.weekdays_only and local.weekday() >= 5)
            if allowed_day and local < opens:
                return opens
            if allowed_day and local.hour < self.quiet_after:
                return local
            local = _real(datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=self.tz))
        return local  # pragma: no cover - every week has an allowed day

    def digest_moment(self, now: datetime) -> datetime:
        """This week's digest time (which may still be ahead of ``now``), in local time."""
        local = now.astimezone(self.tz)
        monday = local.date() - timedelta(days=local.weekday())
        day = monday + timedelta(days=self.digest_weekday)
        return _real(datetime.combine(day, time(hour=self.digest_hour), tzinfo=self.tz))


def _real(moment: datetime) -> datetime:
    """The same instant as a wall-clock time that exists (02:30 on a spring-forward day is 03:30)."""
    return moment.astimezone(UTC).astimezone(moment.tzinfo)


def prefs_for(pairs: Iterable[tuple[int, int]], now: datetime) -> dict[tuple[int, int], Prefs]:
    """Preferences (and live snoozes) of each (company id, user id), in three queries."""
    pairs = set(pairs)
    if not pairs:
        return {}
    companies = {company_id for company_id, _ in pairs}
    users = {user_id for _, user_id in pairs}
    zones = {pk: ZoneInfo(name) for pk, name in Company.objects.filter(pk__in=companies).values_list("pk", "timezone")}
    rows = {
        (row.company_id, row.user_id): row
        for row in NotificationPreference.objects.filter(company__in=companies, user__in=users)
    }
    snoozes: dict[tuple[int, int], dict[str, datetime]] = {}
    for snooze in ReminderSnooze.objects.filter(company__in=companies, recipient__in=users, until__gt=now):
        snoozes.setdefault((snooze.company_id, snooze.recipient_id), {})[snooze.subject] = snooze.until
    result = {}
    for pair in pairs:
        prefs = Prefs.of(rows.get(pair), zones.get(pair[0], ZoneInfo("UTC")))
        if pair in snoozes:
            prefs = replace(prefs, snoozed=snoozes[pair])
        result[pair] = prefs
    return result


# --- services ------------------------------------------------------------------------
def preference_get(*, company: Company, user_id: int) -> NotificationPreference:
    """The member's preferences, or an unsaved row with the defaults."""
    row = NotificationPreference.objects.filter(company=company, user_id=user_id).first()
    return row or NotificationPreference(company=company, user_id=user_id, channels=default_channels())


@transaction.atomic
def preference_update(*, company: Company, user_id: int, data: dict[str, object]) -> NotificationPreference:
    """Save the member's preferences: only the given fields change; the window must not be empty."""
    if not Membership.objects.filter(company=company, user_id=user_id).exists():
        raise ValidationError({"user": "Not a member of this company."})
    row = NotificationPreference.objects.select_for_update().filter(
        company=company, user_id=user_id
    ).first() or preference_get(company=company, user_id=user_id)
    for name, value in data.items():
        setattr(row, name, value)
    channels = list(row.channels or [])
    unknown = sorted(set(map(str, channels)) - set(Channel.values))
    if unknown:
        raise ValidationError({"channels": f"Unknown channel(s): {', '.join(unknown)}. Use any of email, slack."})
    if len(set(channels)) != len(channels):
        raise ValidationError({"channels": "Name each channel once."})
    if row.paused_until is not None and row.paused_until > timezone.localdate() + timedelta(days=MAX_PAUSE_DAYS):
        raise ValidationError({"paused_until": f"Pause for at most {MAX_PAUSE_DAYS} days; turn channels off instead."})
    if row.quiet_before >= row.quiet_after:
        raise ValidationError({"quiet_after": "Must be later than quiet_before: the window would be empty."})
    row.full_clean(exclude=["company", "user"])
    row.save()
    return row


def reminder_snooze(*, company: Company, recipient_id: int, subject: str, now: datetime) -> ReminderSnooze:
    """Hold back every message about ``subject`` to this person for a week (a second snooze extends it)."""
    until = now + timedelta(days=SNOOZE_DAYS)
    snooze, _ = ReminderSnooze.objects.update_or_create(
        recipient_id=recipient_id, subject=subject, defaults={"company": company, "until": until}
    )
    return snooze

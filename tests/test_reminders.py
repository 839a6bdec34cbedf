"""Reminders: each stage of each chase sent once, at a time the person accepts, and never after it stops mattering."""

from __future__ import annotations

import smtplib
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from epics.models import Epic, OutcomeReview
from epics.services import anticipated_outcome_set, epic_create, epic_transition, review_waive
from integrations.models import Connection, NotificationPreference, Reminder, ReminderSnooze, SlackWebhook
from integrations.reminders import dispatch_reminders, plan_reminders
from integrations.slack import slack_webhook_save
from okrs.models import KeyResult
from okrs.services import check_in_record
from outcomes.models import Company, Membership
from tests.conftest import CONVERSION_METRIC, Cast
from tests.fake_slack import FakeSlack

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")  # the cast's companies' time zone
TUESDAY_9 = datetime(2027, 3, 2, 9, tzinfo=BERLIN)  # due dates in these walks fall in working hours


@pytest.fixture(autouse=True)
def _no_sample_reminders(cast: Cast) -> None:
    """The cast holds a sent reminder for the API tests; these walks start from none."""
    Reminder.objects.all().delete()


@pytest.fixture
def review(cast: Cast) -> OutcomeReview:
    """Company A's delivered epic, with a reviewer, whose review falls due on a Tuesday at 09:00."""
    epic: Epic = cast.strategic_a["done_epic"]
    Epic.objects.filter(pk=epic.pk).update(reviewer=cast.admin_a)
    pending = OutcomeReview.objects.get(epic=epic, state="pending")
    OutcomeReview.objects.filter(pk=pending.pk).update(due_at=TUESDAY_9)
    pending.refresh_from_db()
    return pending


def _at(time_machine, moment: datetime) -> None:
    time_machine.move_to(moment, tick=False)


def _sent_to(title: str) -> list[str]:
    """Who got a message whose subject names ``title``."""
    return sorted(message.to[0] for message in mail.outbox if title in message.subject)


# --- outcome reviews ----------------------------------------------------------------------
def test_a_review_is_chased_at_each_stage_once(review, cast, time_machine):
    title = review.epic.title
    objective_owner = cast.strategic_a["key_result"].objective.owner
    _at(time_machine, review.due_at - timedelta(hours=1))
    dispatch_reminders()
    assert not Reminder.objects.filter(review=review).exists() and _sent_to(title) == []

    _at(time_machine, review.due_at + timedelta(hours=1))
    dispatch_reminders()
    dispatch_reminders()  # a second tick, or a second beat
    assert _sent_to(title) == [cast.member_a.email]  # the epic's owner

    mail.outbox.clear()
    _at(time_machine, review.due_at + timedelta(days=7, hours=1))
    dispatch_reminders()
    dispatch_reminders()
    assert _sent_to(title) == sorted([cast.member_a.email, cast.admin_a.email])  # the owner again and the reviewer

    mail.outbox.clear()
    _at(time_machine, review.due_at + timedelta(days=21, hours=1))
    dispatch_reminders()
    assert _sent_to(title) == sorted({cast.member_a.email, cast.admin_a.email, objective_owner.email})
    assert all("long overdue" in m.subject for m in mail.outbox if title in m.subject)

    mail.outbox.clear()
    _at(time_machine, review.due_at + timedelta(days=41))
    dispatch_reminders()
    assert _sent_to(title) == []  # every stage was sent once


def test_the_message_shows_what_was_expected_and_where_to_record(review, cast, time_machine, settings):
    settings.PUBLIC_URL = "https://okr.example.com"
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()

    (message,) = [m for m in mail.outbox if review.epic.title in m.subject]
    metric = cast.strategic_a["done_epic_metric"]
    link = f"https://okr.example.com/api/v1/companies/alpha/epics/{review.epic_id}/results/"
    assert isinstance(message, EmailMultiAlternatives)
    assert message.subject == f"Record the actual result of {review.epic.title}: the outcome review is due"
    for text in (metric.name, "61.5", "66", "Carts are lost at payment.", link):
        assert text in message.body
    (html, mimetype) = message.alternatives[0]
    assert isinstance(html, str) and mimetype == "text/html"
    assert f'href="{link}"' in html and "Checkout conversion: baseline 61.5, target 66 %" in html
    assert "<script" not in html


def test_titles_are_escaped_in_html(review, cast, time_machine):
    Epic.objects.filter(pk=review.epic_id).update(title="<b>Saved</b> cards & more")
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()

    (message,) = [m for m in mail.outbox if "Saved" in m.subject]
    assert isinstance(message, EmailMultiAlternatives)
    html = message.alternatives[0][0]
    assert isinstance(html, str)
    assert "&lt;b&gt;Saved&lt;/b&gt; cards &amp; more" in html and "<b>Saved</b>" not in html


def test_reminders_stop_once_the_review_is_waived(review, cast, time_machine):
    _at(time_machine, review.due_at + timedelta(days=7, hours=1))
    dispatch_reminders()
    mail.outbox.clear()
    Reminder.objects.filter(review=review).update(status="pending")  # as if not sent yet

    review_waive(epic=review.epic, reason="Superseded by the checkout rewrite", actor=cast.owner_a)
    _at(time_machine, review.due_at + timedelta(days=8, hours=1))
    outcome = dispatch_reminders()

    assert _sent_to(review.epic.title) == []
    assert outcome.cancelled == 2
    assert set(Reminder.objects.filter(review=review).values_list("status", flat=True)) == {"cancelled"}


def test_a_review_first_seen_late_gets_its_current_stage_not_a_burst(review, cast, time_machine):
    _at(time_machine, review.due_at + timedelta(days=22))

    dispatch_reminders()

    assert set(Reminder.objects.filter(review=review).values_list("kind", flat=True)) == {"review_escalated"}
    assert cast.member_a.email in _sent_to(review.epic.title)


def test_a_failing_mail_server_is_retried_with_backoff_then_recorded(review, time_machine, monkeypatch):
    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    start = review.due_at + timedelta(hours=1)
    _at(time_machine, start)
    dispatch_reminders()
    (reminder,) = Reminder.objects.filter(review=review)
    assert (reminder.status, reminder.attempts, reminder.not_before) == ("pending", 1, start + timedelta(minutes=1))

    dispatch_reminders()  # the same minute: still backing off
    reminder.refresh_from_db()
    assert reminder.attempts == 1

    _at(time_machine, start + timedelta(minutes=1))
    dispatch_reminders()
    reminder.refresh_from_db()
    assert (reminder.attempts, reminder.not_before) == (2, start + timedelta(minutes=3))

    _at(time_machine, start + timedelta(minutes=3))
    dispatch_reminders()
    _at(time_machine, start + timedelta(minutes=30))
    dispatch_reminders()
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("failed", 3)
    assert "smtp down" in reminder.error


def test_a_refused_address_fails_at_once(review, time_machine, monkeypatch):
    def refuse(self, fail_silently=False):
        raise smtplib.SMTPRecipientsRefused({"member@a.example": (550, b"No such user")})

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()

    (reminder,) = Reminder.objects.filter(review=review)
    assert (reminder.status, reminder.attempts) == ("failed", 1)
    assert "refused the address" in reminder.error


def test_reminders_belong_to_the_reviews_company(review, cast, time_machine):
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()

    assert Reminder.objects.for_company(cast.company_a).filter(review=review).count() == 1
    assert not Reminder.objects.for_company(cast.company_b).filter(review=review).exists()


def test_a_sender_that_stopped_mid_send_is_not_repeated(review, time_machine):
    _at(time_machine, review.due_at + timedelta(hours=1))
    dispatch_reminders()
    (reminder,) = Reminder.objects.filter(review=review)
    claimed = review.due_at + timedelta(hours=2)
    Reminder.objects.filter(pk=reminder.pk).update(status="sending", claimed_at=claimed)  # killed mid-send
    mail.outbox.clear()

    _at(time_machine, claimed + timedelta(minutes=14))
    assert dispatch_reminders().abandoned == 0
    _at(time_machine, claimed + timedelta(minutes=16))
    assert dispatch_reminders().abandoned == 1

    reminder.refresh_from_db()
    assert reminder.status == "unknown" and "not sent again" in reminder.error
    assert _sent_to(review.epic.title) == []


def test_a_tick_out_of_time_leaves_the_rest_to_the_next(review, cast, time_machine, monkeypatch):
    _at(time_machine, review.due_at + timedelta(days=7, hours=1))
    monkeypatch.setattr("integrations.reminders.SEND_BUDGET_SECONDS", -1.0)
    outcome = dispatch_reminders()
    assert outcome.planned >= 2 and outcome.sent == 0  # the two overdue reminders, and the week's digests
    assert list(Reminder.objects.filter(review=review).values_list("status", flat=True)) == ["pending", "pending"]

    monkeypatch.setattr("integrations.reminders.SEND_BUDGET_SECONDS", 50.0)
    dispatch_reminders()

    assert _sent_to(review.epic.title) == sorted([cast.member_a.email, cast.admin_a.email])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dispatchers_racing_on_postgresql_send_one_message_per_key(cast, time_machine):
    epic: Epic = cast.strategic_a["done_epic"]
    OutcomeReview.objects.filter(epic=epic, state="pending").update(due_at=TUESDAY_9)
    _at(time_machine, TUESDAY_9 + timedelta(days=7, hours=1))
    Epic.objects.filter(pk=epic.pk).update(reviewer=cast.admin_a)
    barrier = threading.Barrier(8)

    def tick() -> None:
        try:
            barrier.wait(timeout=10)
            dispatch_reminders()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert _sent_to(epic.title) == sorted([cast.member_a.email, cast.admin_a.email])
    assert len(mail.outbox) == Reminder.objects.filter(status="sent").count()


# --- Slack ------------------------------------------------------------------------------------
def test_slack_people_get_blocks_in_their_teams_channel(review, cast, time_machine, fake_slack, httpserver):
    team_channel = FakeSlack.serve(httpserver, "/services/T000/B111/YYYYYYYYYYYYYYYYYYYYYYYY")
    slack_webhook_save(company=cast.company_a, url=fake_slack.url)
    slack_webhook_save(company=cast.company_a, team=cast.team_a, url=team_channel.url)
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, channels=["slack"], digest=False)
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()
    dispatch_reminders()

    assert _sent_to(review.epic.title) == []  # Slack only, no e-mail
    (post,) = team_channel.posts  # the epic's team's channel, not the company's
    assert fake_slack.posts == []
    assert post["text"] == f"For {cast.member_a.full_name or cast.member_a.email}: Record the actual result of " + (
        f"{review.epic.title}: the outcome review is due"
    )
    kinds = [block["type"] for block in post["blocks"]]
    assert kinds[0] == "header" and kinds[-1] == "actions"
    assert any(
        "Checkout conversion: baseline 61.5, target 66 %" in b.get("text", {}).get("text", "") for b in post["blocks"]
    )
    (button,) = [e for e in post["blocks"][-1]["elements"] if "results" in e["url"]]
    assert button["url"].endswith(f"/api/v1/companies/alpha/epics/{review.epic_id}/results/")


def test_a_revoked_slack_webhook_fails_the_reminder_with_what_to_do(review, cast, time_machine, fake_slack):
    slack_webhook_save(company=cast.company_a, url=fake_slack.url)
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, channels=["slack"], digest=False)
    fake_slack.fail_next(404, "no_service")
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()

    (reminder,) = Reminder.objects.filter(review=review)
    assert (reminder.status, reminder.attempts) == ("failed", 1)
    assert "no_service" in reminder.error and fake_slack.url not in reminder.error


def test_slack_asking_to_wait_is_honoured(review, cast, time_machine, fake_slack):
    slack_webhook_save(company=cast.company_a, url=fake_slack.url)
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, channels=["slack"], digest=False)
    fake_slack.fail_next(429, "rate_limited", {"Retry-After": "600"})
    start = review.due_at + timedelta(hours=1)
    _at(time_machine, start)

    dispatch_reminders()
    (reminder,) = Reminder.objects.filter(review=review)
    assert (reminder.status, reminder.not_before) == ("pending", start + timedelta(seconds=600))
    _at(time_machine, start + timedelta(minutes=10))
    dispatch_reminders()

    reminder.refresh_from_db()
    assert reminder.status == "sent" and len(fake_slack.posts) == 1


def test_slack_is_not_planned_without_a_webhook(review, cast, time_machine):
    SlackWebhook.objects.all().delete()
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, channels=["email", "slack"])
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()

    assert list(Reminder.objects.filter(review=review).values_list("channel", flat=True)) == ["email"]


def test_a_review_long_past_every_stage_is_left_to_the_digest(review, cast, time_machine):
    """A tracker import of old deliveries does not send a burst of escalations (the weekly digest lists them)."""
    _at(time_machine, review.due_at + timedelta(days=30))

    dispatch_reminders()

    assert not Reminder.objects.filter(review=review).exists()


def test_planning_reads_a_fixed_number_of_queries_however_many_reviews_are_due(review, cast, time_machine):
    _at(time_machine, review.due_at + timedelta(days=7, hours=1))
    plan_reminders(timezone.now())  # the first plan writes; the next ones only read
    with CaptureQueriesContext(connection) as few:
        plan_reminders(timezone.now())
    for index in range(30):
        copy = epic_create(company=cast.company_a, title=f"Copy {index}", owner=cast.member_a, actor=cast.member_a)
        OutcomeReview.objects.create(epic=copy, done_at=review.done_at, due_at=review.due_at)
    with CaptureQueriesContext(connection) as many:
        assert plan_reminders(timezone.now()) == 30
    with CaptureQueriesContext(connection) as again:
        assert plan_reminders(timezone.now()) == 0

    assert len(few) == len(again) and len(many) == len(few) + 1  # + the one bulk insert


def test_sending_loads_a_reminder_with_only_the_rows_its_kind_reads(review, cast, time_machine):
    _at(time_machine, review.due_at + timedelta(hours=1))
    plan_reminders(timezone.now())
    with CaptureQueriesContext(connection) as queries:
        outcome = dispatch_reminders()

    assert outcome.sent >= 1
    loads = [q["sql"] for q in queries.captured_queries if 'FROM "integrations_reminder"' in q["sql"]]
    loads = [sql for sql in loads if " JOIN " in sql]
    assert len(loads) >= outcome.sent
    for sql in loads:  # at most a review reminder's: company, recipient, review, epic, its owner, company, outcome
        assert sql.count(" JOIN ") <= 7, sql
        assert not ("epics_outcomereview" in sql and "okrs_keyresult" in sql), sql


# --- quiet hours, time zones, preferences, snooze ---------------------------------------------
def test_nothing_is_sent_outside_working_hours_in_the_company_time_zone(review, cast, time_machine):
    Company.objects.filter(pk=cast.company_a.pk).update(timezone="America/New_York")
    _at(time_machine, review.due_at + timedelta(hours=1))  # 09:00 UTC is 04:00 in New York

    dispatch_reminders()

    (reminder,) = Reminder.objects.filter(review=review)
    assert _sent_to(review.epic.title) == []
    assert reminder.not_before == datetime(2027, 3, 2, 13, tzinfo=UTC)  # 08:00 in New York
    _at(time_machine, datetime(2027, 3, 2, 12, 59, tzinfo=UTC))
    dispatch_reminders()
    assert _sent_to(review.epic.title) == []
    _at(time_machine, datetime(2027, 3, 2, 13, tzinfo=UTC))
    dispatch_reminders()
    assert _sent_to(review.epic.title) == [cast.member_a.email]


def test_a_weekend_due_date_waits_for_monday(review, cast, time_machine):
    saturday = datetime(2027, 3, 6, 11, tzinfo=BERLIN)
    OutcomeReview.objects.filter(pk=review.pk).update(due_at=saturday)
    _at(time_machine, saturday + timedelta(minutes=1))
    dispatch_reminders()
    _at(time_machine, saturday + timedelta(days=1))
    dispatch_reminders()
    assert _sent_to(review.epic.title) == []

    _at(time_machine, datetime(2027, 3, 8, 8, tzinfo=BERLIN))
    dispatch_reminders()
    assert _sent_to(review.epic.title) == [cast.member_a.email]


def test_a_person_who_works_weekends_and_late_gets_it_then(review, cast, time_machine):
    NotificationPreference.objects.create(
        company=cast.company_a, user=cast.member_a, quiet_before=0, quiet_after=24, weekdays_only=False
    )
    saturday_night = datetime(2027, 3, 6, 23, tzinfo=BERLIN)
    OutcomeReview.objects.filter(pk=review.pk).update(due_at=saturday_night)
    _at(time_machine, saturday_night + timedelta(minutes=1))

    dispatch_reminders()

    assert _sent_to(review.epic.title) == [cast.member_a.email]


def test_a_pause_holds_everything_until_the_day_after(review, cast, time_machine):
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, paused_until=date(2027, 3, 3))
    _at(time_machine, review.due_at + timedelta(hours=1))
    dispatch_reminders()
    _at(time_machine, datetime(2027, 3, 3, 17, tzinfo=BERLIN))
    dispatch_reminders()
    assert _sent_to(review.epic.title) == []

    _at(time_machine, datetime(2027, 3, 4, 8, tzinfo=BERLIN))
    dispatch_reminders()
    assert _sent_to(review.epic.title) == [cast.member_a.email]


def test_no_channels_means_no_reminders(review, cast, time_machine):
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, channels=[])
    _at(time_machine, review.due_at + timedelta(hours=1))

    dispatch_reminders()

    assert not Reminder.objects.filter(review=review).exists()


def test_a_snooze_holds_a_week_then_only_the_latest_stage_goes_out(review, cast, time_machine):
    _at(time_machine, review.due_at + timedelta(hours=1))
    dispatch_reminders()
    mail.outbox.clear()
    ReminderSnooze.objects.create(
        company=cast.company_a,
        recipient=cast.member_a,
        subject=f"review:{review.pk}",
        until=review.due_at + timedelta(days=8, hours=1),
    )

    _at(time_machine, review.due_at + timedelta(days=7, hours=1))  # overdue: the reviewer hears, the owner waits
    dispatch_reminders()
    assert _sent_to(review.epic.title) == [cast.admin_a.email]

    _at(time_machine, review.due_at + timedelta(days=8, hours=1))
    dispatch_reminders()
    assert _sent_to(review.epic.title) == sorted([cast.admin_a.email, cast.member_a.email])


def test_a_later_stage_replaces_an_earlier_one_still_waiting(review, cast, time_machine):
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, paused_until=date(2027, 3, 20))
    for days in (0, 7, 14):
        _at(time_machine, review.due_at + timedelta(days=days, hours=1))
        dispatch_reminders()

    _at(time_machine, datetime(2027, 3, 22, 9, tzinfo=BERLIN))
    dispatch_reminders()

    mine = Reminder.objects.filter(review=review, recipient=cast.member_a)
    assert dict(mine.values_list("kind", "status")) == {"review_due": "cancelled", "review_overdue": "sent"}
    assert [m.subject for m in mail.outbox if m.to == [cast.member_a.email] and review.epic.title in m.subject] == [
        f"Record the actual result of {review.epic.title}: the outcome review is overdue (7+ days)"
    ]


def test_someone_who_left_the_company_is_not_reminded(review, cast, time_machine):
    OutcomeReview.objects.filter(pk=review.pk).update(due_at=datetime(2027, 3, 2, 6, tzinfo=BERLIN))
    _at(time_machine, datetime(2027, 3, 2, 7, tzinfo=BERLIN))
    dispatch_reminders()  # planned, held until 08:00
    Membership.objects.filter(company=cast.company_a, user=cast.member_a).delete()

    _at(time_machine, datetime(2027, 3, 2, 8, tzinfo=BERLIN))
    dispatch_reminders()

    (reminder,) = Reminder.objects.filter(review=review)
    assert reminder.status == "cancelled" and "no longer a member" in reminder.error
    assert _sent_to(review.epic.title) == []


# --- check-ins, missing outcomes ---------------------------------------------------------------
@pytest.fixture
def key_result(cast: Cast) -> KeyResult:
    """Company A's key result, its next check-in due on a Tuesday at 10:00."""
    kr: KeyResult = cast.strategic_a["key_result"]
    KeyResult.objects.filter(pk=kr.pk).update(next_checkin_due=datetime(2026, 12, 1, 10, tzinfo=BERLIN))
    kr.refresh_from_db()
    return kr


def test_a_check_in_is_asked_for_a_day_before_it_falls_due(key_result, cast, time_machine):
    _at(time_machine, datetime(2026, 11, 30, 9, 59, tzinfo=BERLIN))
    dispatch_reminders()
    assert _sent_to(key_result.title) == []

    _at(time_machine, datetime(2026, 11, 30, 10, tzinfo=BERLIN))
    dispatch_reminders()
    dispatch_reminders()
    assert _sent_to(key_result.title) == [cast.member_a.email]
    (message,) = [m for m in mail.outbox if key_result.title in m.subject]
    assert message.subject == f"Check in on {key_result.title}: due 2026-12-01"
    assert f"/key-results/{key_result.pk}/check-ins/" in message.body


def test_a_check_in_that_arrived_cancels_its_reminder(key_result, cast, time_machine):
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, quiet_before=12)
    _at(time_machine, datetime(2026, 11, 30, 10, tzinfo=BERLIN))
    dispatch_reminders()  # planned, held until noon

    check_in_record(key_result=key_result, value=Decimal(66), confidence=Decimal("0.7"), author=cast.member_a)
    _at(time_machine, datetime(2026, 11, 30, 12, tzinfo=BERLIN))
    dispatch_reminders()

    assert _sent_to(key_result.title) == []
    (reminder,) = Reminder.objects.filter(key_result=key_result)
    assert reminder.status == "cancelled" and "check-in arrived" in reminder.error


def test_an_epic_started_without_an_anticipated_outcome_asks_its_owner(cast, time_machine):
    _at(time_machine, datetime(2027, 3, 2, 10, tzinfo=BERLIN))
    epic = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    epic_transition(epic=epic, to_status="in_progress", source="sync")  # a tracker moves it: never refused
    written = epic_create(company=cast.company_a, title="Express checkout", owner=cast.member_a, actor=cast.member_a)
    anticipated_outcome_set(epic=written, problem="p", expected_results="r", metrics=[CONVERSION_METRIC])
    epic_transition(epic=written, to_status="in_progress", actor=cast.member_a)

    dispatch_reminders()
    dispatch_reminders()

    assert _sent_to("Guest checkout") == [cast.member_a.email]
    assert _sent_to("Express checkout") == []
    (message,) = [m for m in mail.outbox if "Guest checkout" in m.subject]
    assert message.subject == "Write the anticipated outcome of Guest checkout"
    assert f"/epics/{epic.pk}/anticipated-outcome/" in message.body


def test_writing_the_outcome_before_the_reminder_leaves_cancels_it(cast, time_machine):
    _at(time_machine, datetime(2027, 3, 2, 7, tzinfo=BERLIN))  # before working hours
    epic = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    epic_transition(epic=epic, to_status="in_progress", source="sync")  # a tracker moves it: never refused
    dispatch_reminders()
    anticipated_outcome_set(epic=epic, problem="p", expected_results="r", metrics=[CONVERSION_METRIC])

    _at(time_machine, datetime(2027, 3, 2, 8, tzinfo=BERLIN))
    dispatch_reminders()

    assert _sent_to("Guest checkout") == []
    assert Reminder.objects.get(epic=epic).status == "cancelled"


def test_old_history_does_not_flood_anyone(cast, time_machine):
    """Epics imported long after they started, and long-stale check-ins, are left to the digest."""
    epic = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    epic_transition(epic=epic, to_status="in_progress", source="sync")  # a tracker moves it: never refused
    _at(time_machine, datetime(2027, 3, 2, 10, tzinfo=BERLIN))

    dispatch_reminders()

    assert not Reminder.objects.filter(kind__in=["outcome_missing", "check_in_due"]).exists()


# --- connections ------------------------------------------------------------------------------
def test_a_connection_that_works_again_is_not_reported(cast, time_machine):
    connection: Connection = cast.strategic_a["connection"]
    _at(time_machine, datetime(2027, 3, 2, 7, tzinfo=BERLIN))
    Connection.objects.filter(pk=connection.pk).update(
        needs_attention=True, last_error_at=datetime(2027, 3, 2, 6, tzinfo=BERLIN), last_error="401 Unauthorized"
    )
    dispatch_reminders()
    assert Reminder.objects.filter(connection=connection).count() == 2  # the owner and the admin, held till 08:00

    Connection.objects.filter(pk=connection.pk).update(needs_attention=False)
    _at(time_machine, datetime(2027, 3, 2, 8, tzinfo=BERLIN))
    dispatch_reminders()

    assert not [m for m in mail.outbox if connection.name in m.subject]
    assert set(Reminder.objects.filter(connection=connection).values_list("status", flat=True)) == {"cancelled"}


# --- digests ----------------------------------------------------------------------------------
MONDAY_9 = datetime(2027, 3, 8, 9, tzinfo=BERLIN)


def test_the_weekly_digest_lists_a_members_own_items_once(review, cast, time_machine):
    _at(time_machine, MONDAY_9 - timedelta(minutes=1))
    dispatch_reminders()
    assert not [m for m in mail.outbox if m.subject.startswith("Your week")]

    _at(time_machine, MONDAY_9)
    dispatch_reminders()
    _at(time_machine, MONDAY_9 + timedelta(hours=2))
    dispatch_reminders()

    digests = [m for m in mail.outbox if m.subject.startswith("Your week")]
    mine = [m for m in digests if m.to == [cast.member_a.email]]
    assert len(mine) == 1
    assert {m.to[0] for m in digests} <= {cast.member_a.email, cast.member_b.email}  # the others have nothing due
    assert mine[0].subject == "Your week: 1 results to record, 1 check-ins, 0 outcomes to write"
    assert f"{review.epic.title}: due since 2027-03-02" in mine[0].body
    assert "Bravo" not in mine[0].body
    skipped = Reminder.objects.filter(kind="digest_member", status="cancelled")
    assert set(skipped.values_list("error", flat=True)) == {"Nothing to report this week."}


def test_executives_get_the_cycle_rollup_at_their_chosen_hour(review, cast, time_machine):
    NotificationPreference.objects.create(company=cast.company_a, user=cast.owner_a, digest_weekday=4, digest_hour=16)
    friday_4pm = datetime(2027, 3, 12, 16, tzinfo=BERLIN)
    _at(time_machine, friday_4pm - timedelta(minutes=1))
    dispatch_reminders()
    assert not [m for m in mail.outbox if m.to == [cast.owner_a.email] and "this week" in m.subject]

    _at(time_machine, friday_4pm)
    dispatch_reminders()

    (rollup,) = [m for m in mail.outbox if m.to == [cast.owner_a.email] and "this week" in m.subject]
    assert rollup.subject == "Alpha Analytics this week: 0 results recorded, 1 overdue"
    assert cast.strategic_a["objective"].title in rollup.body
    assert "1 reviews waiting for a result" in rollup.body
    executives = {m.to[0] for m in mail.outbox if "this week" in m.subject}
    assert cast.member_a.email not in executives and cast.owner_b.email not in executives

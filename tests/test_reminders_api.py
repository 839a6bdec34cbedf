"""Reminders and notification preferences over the API, and the rules that decide when a person may be messaged.

Who sees which reminders, who may snooze them and what a snooze does to the dispatcher; each person's own
preferences with their validation; and ``Prefs.deliverable_at`` / ``digest_moment`` as plain table tests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from epics.models import Epic, OutcomeReview
from epics.services import epic_create, epic_transition
from integrations.models import NotificationPreference, Reminder, ReminderSnooze
from integrations.preferences import Prefs
from integrations.reminders import dispatch_reminders
from outcomes.choices import APIKeyScope
from outcomes.models import User
from outcomes.services.api_keys import api_key_create
from tests.assertions import assert_invalid
from tests.conftest import Cast
from tests.factories import UserFactory

A = "/api/v1/companies/alpha"
B = "/api/v1/companies/bravo"
REMINDERS = f"{A}/reminders/"
PREFS = f"{A}/notification-preferences/me/"
BERLIN = ZoneInfo("Europe/Berlin")  # the cast's companies' time zone
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
T0 = datetime(2027, 3, 2, 8, tzinfo=UTC)  # a Tuesday, 09:00 in Berlin

NOT_FOUND = {"status": 404, "code": "not_found", "detail": "Not found."}
ROLE_REFUSED = {"status": 403, "code": "permission_denied", "detail": "Your role does not allow this."}
NOT_YOURS = {"status": 403, "code": "permission_denied", "detail": "Only the recipient can snooze a reminder."}
DEFAULTS = {
    "channels": ["email"],
    "digest": True,
    "digest_weekday": 0,
    "digest_hour": 9,
    "quiet_before": 8,
    "quiet_after": 18,
    "weekdays_only": True,
    "paused_until": None,
    "timezone": "Europe/Berlin",
}


# --- helpers -------------------------------------------------------------------------
def reminder_url(reminder: Reminder | int, suffix: str = "", base: str = A) -> str:
    pk = reminder if isinstance(reminder, int) else reminder.pk
    return f"{base}/reminders/{pk}/{suffix}"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def refused(response: Any, status: int, body: dict[str, Any]) -> None:
    assert response.status_code == status, response.content
    assert response.json() == body


def ids(response: Any) -> list[int]:
    return [row["id"] for row in ok(response)["results"]]


def _reminder(company: Any, recipient: User, created: datetime, **fields: Any) -> Reminder:
    row = Reminder.objects.create(company=company, recipient=recipient, **fields)
    Reminder.objects.filter(pk=row.pk).update(created=created)  # created is auto_now_add: set it afterwards
    row.refresh_from_db()
    return row


@pytest.fixture
def cast(cast: Cast) -> Cast:
    """The shared cast, without saved preferences or snoozes: these tests count them."""
    NotificationPreference.objects.all().delete()
    ReminderSnooze.objects.all().delete()
    return cast


@pytest.fixture
def rows(cast: Cast) -> dict[str, Reminder]:
    """Reminders of company A to five people in five states, created a minute apart, and one of company B."""
    Reminder.objects.all().delete()  # the cast's own reminders would only blur these lists
    a, minute = cast.company_a, timedelta(minutes=1)
    return {
        "member_sent": _reminder(
            a,
            cast.member_a,
            T0,
            kind="review_due",
            subject="review:101",
            due_on=date(2027, 3, 1),
            status="sent",
            attempts=1,
            sent_at=T0 + timedelta(seconds=30),
        ),
        "admin_failed": _reminder(
            a,
            cast.admin_a,
            T0 + minute,
            kind="connection",
            subject="connection:102",
            due_on=date(2027, 2, 27),
            status="failed",
            attempts=3,
            error="SMTPServerDisconnected: smtp down",
        ),
        "viewer_cancelled": _reminder(
            a,
            cast.viewer_a,
            T0 + 2 * minute,
            kind="outcome_missing",
            subject="epic:103",
            due_on=date(2027, 3, 5),
            status="cancelled",
            error="Nothing is asked any more: the anticipated outcome was written.",
        ),
        "owner_unknown": _reminder(
            a,
            cast.owner_a,
            T0 + 3 * minute,
            kind="digest_executive",
            subject=f"company:{a.pk}",
            due_on=date(2027, 3, 1),
            status="unknown",
            attempts=1,
        ),
        "member_slack": _reminder(
            a,
            cast.member_a,
            T0 + 4 * minute,
            kind="check_in_due",
            subject="key_result:104",
            due_on=date(2027, 3, 3),
            channel="slack",
            not_before=datetime(2027, 3, 3, 7, tzinfo=UTC),
        ),
        "b_member": _reminder(
            cast.company_b,
            cast.member_b,
            T0 + 5 * minute,
            kind="review_due",
            subject="review:105",
            due_on=date(2027, 3, 1),
        ),
    }


def _pk(rows: dict[str, Reminder], *names: str) -> list[int]:
    return [rows[name].pk for name in names]


A_NEWEST_FIRST = ("member_slack", "owner_unknown", "viewer_cancelled", "admin_failed", "member_sent")


# --- reminders: who sees what --------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "admin", "executive"])
def test_owners_admins_and_executives_see_every_reminder_of_their_company(role, cast, rows, client_for):
    body = ok(client_for(cast.by_role_a[role]).get(REMINDERS))

    assert (set(body), body["next"], body["previous"]) == ({"next", "previous", "results"}, None, None)
    assert [row["id"] for row in body["results"]] == _pk(rows, *A_NEWEST_FIRST)  # newest first
    failed = next(row for row in body["results"] if row["id"] == rows["admin_failed"].pk)
    assert failed == {
        "id": rows["admin_failed"].pk,
        "kind": "connection",
        "subject": "connection:102",
        "stage": 0,
        "due_on": "2027-02-27",
        "recipient": cast.admin_a.pk,
        "recipient_email": "admin.alpha@example.test",
        "channel": "email",
        "status": "failed",
        "attempts": 3,
        "error": "SMTPServerDisconnected: smtp down",
        "created": "2027-03-02T08:01:00Z",
        "not_before": None,
        "sent_at": None,
        "review": None,
        "key_result": None,
        "epic": None,
        "connection": None,
    }


@pytest.mark.parametrize(
    ("role", "names"),
    [
        ("member", ("member_slack", "member_sent")),
        ("viewer", ("viewer_cancelled",)),
    ],
)
def test_members_and_viewers_see_only_their_own(role, names, cast, rows, client_for):
    client = client_for(cast.by_role_a[role])

    body = ok(client.get(REMINDERS))

    assert [row["id"] for row in body["results"]] == _pk(rows, *names)
    assert {row["recipient_email"] for row in body["results"]} == {cast.by_role_a[role].email}
    others = [rows[name] for name in A_NEWEST_FIRST if name not in names]
    for other in others:
        refused(client.get(reminder_url(other)), 404, NOT_FOUND)


def test_the_detail_shows_one_reminder_in_full(cast, rows, client_for):
    reminder = rows["member_slack"]

    body = ok(client_for(cast.member_a).get(reminder_url(reminder)))

    assert body == {
        "id": reminder.pk,
        "kind": "check_in_due",
        "subject": "key_result:104",
        "stage": 0,
        "due_on": "2027-03-03",
        "recipient": cast.member_a.pk,
        "recipient_email": "member.alpha@example.test",
        "channel": "slack",
        "status": "pending",
        "attempts": 0,
        "error": "",
        "created": "2027-03-02T08:04:00Z",
        "not_before": "2027-03-03T07:00:00Z",
        "sent_at": None,
        "review": None,
        "key_result": None,
        "epic": None,
        "connection": None,
    }
    assert ok(client_for(cast.owner_a).get(reminder_url(reminder))) == body


@pytest.mark.parametrize("scope", [APIKeyScope.WRITE, APIKeyScope.READ])
def test_an_api_key_sees_no_reminder(scope, cast, rows, key_client):
    key = api_key_create(company=cast.company_a, name=f"Reminders {scope}", scope=scope, created_by=cast.owner_a)
    client = key_client(key.raw)

    assert ok(client.get(REMINDERS)) == {"next": None, "previous": None, "results": []}
    refused(client.get(reminder_url(rows["member_sent"])), 404, NOT_FOUND)


def test_company_b_never_sees_company_a_reminders(cast, rows, client_for, key_client):
    owner_b = client_for(cast.owner_b)

    assert ids(owner_b.get(f"{B}/reminders/")) == _pk(rows, "b_member")
    for name in A_NEWEST_FIRST:
        refused(owner_b.get(reminder_url(rows[name], base=B)), 404, NOT_FOUND)  # A's id under B's slug
        refused(owner_b.get(reminder_url(rows[name])), 404, NOT_FOUND)  # A's slug: not a member
    refused(owner_b.get(REMINDERS), 404, NOT_FOUND)
    refused(key_client(cast.raw_key_b).get(REMINDERS), 404, NOT_FOUND)
    refused(client_for(cast.owner_a).get(reminder_url(rows["b_member"])), 404, NOT_FOUND)
    assert ids(client_for(cast.owner_a).get(f"{REMINDERS}?subject=review:105")) == []


def test_a_person_who_is_no_member_gets_404_and_anonymous_401(cast, rows, client_for):
    refused(client_for(UserFactory()).get(REMINDERS), 404, NOT_FOUND)
    response = client_for(None).get(REMINDERS)
    assert response.status_code == 401, response.content
    assert response.json()["status"] == 401


# --- reminders: filters, ordering, pagination ----------------------------------------
@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("status=failed", ("admin_failed",)),
        ("status=failed&status=sent", ("admin_failed", "member_sent")),
        ("status=pending&status=unknown&status=cancelled", ("member_slack", "owner_unknown", "viewer_cancelled")),
        ("status=sending", ()),
        ("kind=review_due", ("member_sent",)),
        ("kind=digest_executive&kind=connection", ("owner_unknown", "admin_failed")),
        ("channel=slack", ("member_slack",)),
        ("channel=email", ("owner_unknown", "viewer_cancelled", "admin_failed", "member_sent")),
        ("subject=epic:103", ("viewer_cancelled",)),
        ("subject=epic:999", ()),
        ("due_on_after=2027-03-03", ("member_slack", "viewer_cancelled")),
        ("due_on_before=2027-03-01", ("owner_unknown", "admin_failed", "member_sent")),
        ("due_on_after=2027-03-01&due_on_before=2027-03-03", ("member_slack", "owner_unknown", "member_sent")),
        ("ordering=created", tuple(reversed(A_NEWEST_FIRST))),
        ("ordering=-created", A_NEWEST_FIRST),
        (
            "ordering=due_on&status=failed&status=sent&status=pending&status=cancelled",
            ("admin_failed", "member_sent", "member_slack", "viewer_cancelled"),
        ),
        ("ordering=-due_on&channel=email&kind=outcome_missing&kind=connection", ("viewer_cancelled", "admin_failed")),
        ("ordering=sent_at&status=sent", ("member_sent",)),
    ],
)
def test_filters_and_ordering(query, names, cast, rows, client_for):
    assert ids(client_for(cast.owner_a).get(f"{REMINDERS}?{query}")) == _pk(rows, *names)


def test_the_recipient_filter(cast, rows, client_for):
    owner = client_for(cast.owner_a)

    assert ids(owner.get(f"{REMINDERS}?recipient_id={cast.member_a.pk}")) == _pk(rows, "member_slack", "member_sent")
    assert_invalid(owner.get(f"{REMINDERS}?recipient_id={cast.member_b.pk}"), "recipient_id")  # B's person
    member = client_for(cast.member_a)
    assert ids(member.get(f"{REMINDERS}?recipient_id={cast.admin_a.pk}")) == []  # a filter cannot widen the view
    assert ids(member.get(f"{REMINDERS}?recipient_id={cast.member_a.pk}&channel=email")) == _pk(rows, "member_sent")


def test_a_fractional_recipient_is_a_400(cast, rows, client_for):
    response = client_for(cast.owner_a).get(f"{REMINDERS}?recipient_id={cast.member_a.pk}.7")

    assert_invalid(response, "recipient_id")


def test_an_out_of_range_recipient_is_a_400(cast, rows, client_for):
    response = client_for(cast.owner_a).get(f"{REMINDERS}?recipient_id=99999999999999999999")

    assert_invalid(response, "recipient_id")


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("status=late", {"status": ["Select a valid choice. late is not one of the available choices."]}),
        ("kind=nag", {"kind": ["Select a valid choice. nag is not one of the available choices."]}),
        ("channel=fax", {"channel": ["Select a valid choice. fax is not one of the available choices."]}),
        ("ordering=error", {"ordering": ["Select a valid choice. error is not one of the available choices."]}),
        (
            "recipient_id=me",
            {"recipient_id": ["Select a valid choice. That choice is not one of the available choices."]},
        ),
        ("due_on_after=soon", {"due_on_after": ["Enter a valid date."]}),
        ("due_on_before=2027-02-30", {"due_on_before": ["Enter a valid date."]}),
        ("recipient_email=admin.alpha@example.test", {"recipient_email": ["Unknown query parameter."]}),
        (
            "statuses=failed&sort=created",
            {"statuses": ["Unknown query parameter."], "sort": ["Unknown query parameter."]},
        ),
        ("page_size=0", {"page_size": ["Must be a whole number between 1 and 100."]}),
        ("page_size=101", {"page_size": ["Must be a whole number between 1 and 100."]}),
        ("page=2", {"page": ["Unknown query parameter."]}),
        ("cursor=two", {"cursor": ["Not a cursor this list handed out; start again without it."]}),
    ],
)
def test_bad_list_parameters_are_a_400(query, fields, cast, rows, client_for):
    body = assert_invalid(client_for(cast.owner_a).get(f"{REMINDERS}?{query}"), *fields)

    assert body["fields"] == fields


def test_detail_and_snooze_refuse_the_list_parameters(cast, rows, client_for):
    client = client_for(cast.member_a)
    reminder = rows["member_slack"]

    body = assert_invalid(client.get(f"{reminder_url(reminder)}?status=pending"), "status")
    assert body["fields"] == {"status": ["Unknown query parameter."]}
    body = assert_invalid(client.post(f"{reminder_url(reminder, 'snooze/')}?days=14"), "days")
    assert body["fields"] == {"days": ["Unknown query parameter."]}
    assert not ReminderSnooze.objects.exists()


def test_pagination(cast, rows, client_for):
    client = client_for(cast.executive_a)

    first = ok(client.get(f"{REMINDERS}?page_size=2"))
    second = ok(client.get(first["next"]))
    last = ok(client.get(second["next"]))

    assert first["previous"] is None and last["next"] is None
    assert first["next"].startswith(f"http://testserver{REMINDERS}?cursor=")
    assert first["next"].endswith("&page_size=2")
    pages = [row["id"] for page in (first, second, last) for row in page["results"]]
    assert pages == _pk(rows, *A_NEWEST_FIRST)
    assert ok(client.get(last["previous"]))["results"] == second["results"]
    assert ok(client.get(second["previous"]))["results"] == first["results"]
    filtered = ok(client.get(f"{REMINDERS}?status=failed&status=sent&page_size=1"))
    filtered = ok(client.get(filtered["next"]))
    assert [row["id"] for row in filtered["results"]] == _pk(rows, "member_sent")
    assert filtered["next"] is None


# --- snooze --------------------------------------------------------------------------
def test_the_recipient_snoozes_for_a_week_and_again_extends_it(cast, rows, client_for, time_machine):
    reminder = rows["member_slack"]
    time_machine.move_to(T0, tick=False)

    body = ok(client_for(cast.member_a).post(reminder_url(reminder, "snooze/")))

    assert body == {"subject": "key_result:104", "until": "2027-03-09T08:00:00Z"}
    snooze = ReminderSnooze.objects.get()
    assert (snooze.company, snooze.recipient, snooze.subject, snooze.until) == (
        cast.company_a,
        cast.member_a,
        "key_result:104",
        T0 + timedelta(days=7),
    )

    time_machine.move_to(T0 + timedelta(days=2, hours=3), tick=False)
    again = ok(client_for(cast.member_a).post(reminder_url(reminder, "snooze/")))  # a fresh session: 12 h max

    assert again == {"subject": "key_result:104", "until": "2027-03-11T11:00:00Z"}
    assert list(ReminderSnooze.objects.values_list("subject", "until")) == [
        ("key_result:104", T0 + timedelta(days=9, hours=3))
    ]
    reminder.refresh_from_db()
    assert (reminder.status, reminder.not_before) == ("pending", datetime(2027, 3, 3, 7, tzinfo=UTC))  # untouched


def test_a_snooze_covers_the_subject_not_only_the_row(cast, rows, client_for, time_machine):
    """Snoozing the sent reminder of a subject snoozes the subject: the row asked about may be any of them."""
    time_machine.move_to(T0, tick=False)

    body = ok(client_for(cast.member_a).post(reminder_url(rows["member_sent"], "snooze/")))

    assert body == {"subject": "review:101", "until": "2027-03-09T08:00:00Z"}
    assert list(ReminderSnooze.objects.values_list("recipient", "subject")) == [(cast.member_a.pk, "review:101")]


@pytest.mark.parametrize("role", ["owner", "admin", "executive"])
def test_someone_else_cannot_snooze_even_an_owner(role, cast, rows, client_for):
    refused(client_for(cast.by_role_a[role]).post(reminder_url(rows["member_slack"], "snooze/")), 403, NOT_YOURS)

    assert not ReminderSnooze.objects.exists()


def test_a_member_cannot_even_find_another_persons_reminder_to_snooze(cast, rows, client_for):
    refused(client_for(cast.member_a).post(reminder_url(rows["viewer_cancelled"], "snooze/")), 404, NOT_FOUND)
    refused(client_for(cast.viewer_a).post(reminder_url(rows["member_slack"], "snooze/")), 404, NOT_FOUND)

    assert not ReminderSnooze.objects.exists()


def test_the_viewer_snoozes_their_own(cast, rows, client_for):
    body = ok(client_for(cast.viewer_a).post(reminder_url(rows["viewer_cancelled"], "snooze/")))

    assert body["subject"] == "epic:103"
    assert ReminderSnooze.objects.get().recipient == cast.viewer_a


def test_an_api_key_cannot_snooze(cast, rows, key_client):
    refused(key_client(cast.raw_key_a).post(reminder_url(rows["member_slack"], "snooze/")), 403, ROLE_REFUSED)
    refused(key_client(cast.raw_key_b).post(reminder_url(rows["member_slack"], "snooze/")), 404, NOT_FOUND)

    assert not ReminderSnooze.objects.exists()


def test_another_companys_reminder_cannot_be_snoozed(cast, rows, client_for):
    b_reminder = rows["b_member"]

    refused(client_for(cast.member_b).post(reminder_url(b_reminder, "snooze/", base=A)), 404, NOT_FOUND)
    refused(client_for(cast.owner_a).post(reminder_url(b_reminder, "snooze/", base=A)), 404, NOT_FOUND)
    refused(client_for(cast.member_b).post(reminder_url(rows["member_slack"], "snooze/", base=B)), 404, NOT_FOUND)
    refused(client_for(cast.member_a).post(reminder_url(rows["member_slack"], "snooze/", base=B)), 404, NOT_FOUND)
    refused(client_for(cast.member_a).post(reminder_url(999999, "snooze/")), 404, NOT_FOUND)

    assert not ReminderSnooze.objects.exists()


def test_snooze_takes_only_post(cast, rows, client_for):
    response = client_for(cast.member_a).get(reminder_url(rows["member_slack"], "snooze/"))

    assert response.status_code == 405, response.content
    assert response.json()["status"] == 405


TUESDAY_9 = datetime(2027, 3, 2, 9, tzinfo=BERLIN)


@pytest.fixture
def review(cast: Cast) -> OutcomeReview:
    """Company A's delivered epic (owned by the member), reviewed by the admin, its review due Tuesday 09:00."""
    epic: Epic = cast.strategic_a["done_epic"]
    Epic.objects.filter(pk=epic.pk).update(reviewer=cast.admin_a)
    pending = OutcomeReview.objects.get(epic=epic, state="pending")
    OutcomeReview.objects.filter(pk=pending.pk).update(due_at=TUESDAY_9)
    pending.refresh_from_db()
    return pending


def _sent_to(title: str) -> list[str]:
    return sorted(message.to[0] for message in mail.outbox if title in message.subject)


def test_a_snooze_through_the_api_holds_the_dispatcher_for_that_person_only(review, cast, client_for, time_machine):
    title = review.epic.title
    time_machine.move_to(TUESDAY_9 + timedelta(hours=1), tick=False)
    dispatch_reminders()
    assert _sent_to(title) == [cast.member_a.email]
    first = Reminder.objects.get(review=review, recipient=cast.member_a, due_on=date(2027, 3, 2))

    body = ok(client_for(cast.member_a).post(reminder_url(first, "snooze/")))

    assert body == {"subject": f"review:{review.pk}", "until": "2027-03-09T09:00:00Z"}  # Tuesday 10:00 in Berlin
    mail.outbox.clear()

    # A week later the review is overdue: the reviewer hears at once, the snoozing owner does not ...
    time_machine.move_to(TUESDAY_9 + timedelta(days=7, minutes=30), tick=False)
    other = epic_create(company=cast.company_a, title="Guest checkout", owner=cast.member_a, actor=cast.member_a)
    epic_transition(epic=other, to_status="in_progress", source="sync")
    dispatch_reminders()
    dispatch_reminders()

    assert _sent_to(title) == [cast.admin_a.email]
    assert _sent_to("Guest checkout") == [cast.member_a.email]  # ... though about other things they do
    held = Reminder.objects.get(review=review, recipient=cast.member_a, stage=1)
    assert (held.status, held.attempts, held.not_before) == ("pending", 0, datetime(2027, 3, 9, 9, tzinfo=UTC))

    time_machine.move_to(datetime(2027, 3, 9, 9, 59, tzinfo=BERLIN), tick=False)
    dispatch_reminders()
    assert _sent_to(title) == [cast.admin_a.email]

    time_machine.move_to(datetime(2027, 3, 9, 10, tzinfo=BERLIN), tick=False)  # the snooze ends
    dispatch_reminders()

    assert _sent_to(title) == sorted([cast.admin_a.email, cast.member_a.email])
    held.refresh_from_db()
    assert (held.status, held.attempts) == ("sent", 1)


# --- notification preferences ------------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "admin", "executive", "member", "viewer"])
def test_without_saved_preferences_get_shows_the_defaults_and_writes_nothing(role, cast, client_for):
    client = client_for(cast.by_role_a[role])

    assert ok(client.get(PREFS)) == DEFAULTS
    assert ok(client.get(PREFS)) == DEFAULTS
    assert not NotificationPreference.objects.exists()


def test_put_saves_every_field_and_returns_it(cast, client_for):
    client = client_for(cast.member_a)
    body = {
        "channels": ["slack", "email"],
        "digest": False,
        "digest_weekday": 4,
        "digest_hour": 16,
        "quiet_before": 7,
        "quiet_after": 20,
        "weekdays_only": False,
        "paused_until": "2027-04-30",
    }

    saved = ok(client.put(PREFS, body))

    assert saved == {**body, "timezone": "Europe/Berlin"}
    assert ok(client.get(PREFS)) == saved
    row = NotificationPreference.objects.get()
    assert (row.company, row.user, row.channels, row.paused_until, row.quiet_after) == (
        cast.company_a,
        cast.member_a,
        ["slack", "email"],
        date(2027, 4, 30),
        20,
    )


def test_patch_changes_only_the_fields_given(cast, client_for):
    client = client_for(cast.viewer_a)

    first = ok(client.patch(PREFS, {"digest_hour": 7}))
    refused = client.patch(PREFS, {"channels": [], "timezone": "UTC"})  # the zone is the company's: read-only
    second = ok(client.patch(PREFS, {"channels": [], "paused_until": "2027-03-10"}))

    assert first == {**DEFAULTS, "digest_hour": 7}
    assert assert_invalid(refused, "timezone")["fields"] == {"timezone": ["Unknown field."]}
    assert second == {**DEFAULTS, "digest_hour": 7, "channels": [], "paused_until": "2027-03-10"}
    cleared = ok(client.patch(PREFS, {"paused_until": None, "quiet_before": 0, "quiet_after": 24}))
    assert cleared == {**DEFAULTS, "digest_hour": 7, "channels": [], "quiet_before": 0, "quiet_after": 24}
    assert NotificationPreference.objects.count() == 1


def test_put_needs_the_channels(cast, client_for):
    body = assert_invalid(client_for(cast.member_a).put(PREFS, {"digest": False}), "channels")

    assert body["fields"] == {"channels": ["This field is required."]}
    assert not NotificationPreference.objects.exists()


def test_each_person_sees_and_changes_only_their_own(cast, client_for):
    ok(client_for(cast.member_a).patch(PREFS, {"digest_weekday": 3}))
    ok(client_for(cast.owner_a).patch(PREFS, {"quiet_before": 6}))
    ok(client_for(cast.member_b).patch(f"{B}/notification-preferences/me/", {"digest_hour": 11}))

    assert ok(client_for(cast.member_a).get(PREFS)) == {**DEFAULTS, "digest_weekday": 3}
    assert ok(client_for(cast.owner_a).get(PREFS)) == {**DEFAULTS, "quiet_before": 6}
    assert ok(client_for(cast.viewer_a).get(PREFS)) == DEFAULTS
    assert ok(client_for(cast.member_b).get(f"{B}/notification-preferences/me/")) == {**DEFAULTS, "digest_hour": 11}
    assert set(NotificationPreference.objects.values_list("company__slug", "user__email")) == {
        ("alpha", cast.member_a.email),
        ("alpha", cast.owner_a.email),
        ("bravo", cast.member_b.email),
    }


BAD_PREFERENCES = [
    ({"channels": ["fax"]}, {"channels.0": ['"fax" is not a valid choice.']}),
    ({"channels": ["email", "email"]}, {"channels": ["Name each channel once."]}),
    ({"channels": ["slack", "email", "slack"]}, {"channels": ["Ensure this field has no more than 2 elements."]}),
    ({"channels": "email"}, {"channels": ['Expected a list of items but got type "str".']}),
    ({"channels": None}, {"channels": ["This field may not be null."]}),
    ({"digest_weekday": 7}, {"digest_weekday": ["Ensure this value is less than or equal to 6."]}),
    ({"digest_weekday": -1}, {"digest_weekday": ["Ensure this value is greater than or equal to 0."]}),
    ({"digest_hour": 24}, {"digest_hour": ["Ensure this value is less than or equal to 23."]}),
    ({"quiet_before": 18}, {"quiet_after": ["Must be later than quiet_before: the window would be empty."]}),
    (
        {"quiet_before": 12, "quiet_after": 9},
        {"quiet_after": ["Must be later than quiet_before: the window would be empty."]},
    ),
    ({"quiet_after": 8}, {"quiet_after": ["Must be later than quiet_before: the window would be empty."]}),
    ({"quiet_after": 0}, {"quiet_after": ["Ensure this value is greater than or equal to 1."]}),
    ({"quiet_after": 25}, {"quiet_after": ["Ensure this value is less than or equal to 24."]}),
    ({"quiet_before": 24}, {"quiet_before": ["Ensure this value is less than or equal to 23."]}),
    (
        {"paused_until": "next week"},
        {"paused_until": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
    ),
    (
        {"paused_until": "2027-03-10T09:00:00Z"},
        {"paused_until": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
    ),
    (
        {"digest": "sometimes", "digest_hour": "nine", "weekdays_only": [True]},
        {
            "digest": ["Must be a valid boolean."],
            "digest_hour": ["A valid integer is required."],
            "weekdays_only": ["Must be a valid boolean."],
        },
    ),
    ({"digest_hour": 9.5}, {"digest_hour": ["A valid integer is required."]}),
    ({"digest": None}, {"digest": ["This field may not be null."]}),
]


@pytest.mark.parametrize(("body", "fields"), BAD_PREFERENCES)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_bad_preferences_are_a_400_and_nothing_is_saved(method, body, fields, cast, client_for):
    client = client_for(cast.member_a)
    if method == "put":
        body = {"channels": ["email"], **body}

    answer = assert_invalid(getattr(client, method)(PREFS, body), *fields)

    assert answer["fields"] == fields
    assert not NotificationPreference.objects.exists()


@pytest.mark.parametrize(("body", "fields"), BAD_PREFERENCES)
def test_bad_preferences_leave_saved_ones_untouched(body, fields, cast, client_for):
    client = client_for(cast.member_a)
    saved = ok(client.put(PREFS, {"channels": ["slack"], "digest_hour": 14, "paused_until": "2027-05-01"}))

    answer = assert_invalid(client.patch(PREFS, {"weekdays_only": False, **body}), *fields)

    assert answer["fields"] == fields
    assert ok(client.get(PREFS)) == saved
    row = NotificationPreference.objects.get()
    assert (row.channels, row.digest_hour, row.weekdays_only) == (["slack"], 14, True)


def test_an_api_key_has_no_preferences(cast, key_client):
    for method in ("get", "put", "patch"):
        refused(getattr(key_client(cast.raw_key_a), method)(PREFS, {"channels": ["email"]}), 403, ROLE_REFUSED)
    refused(key_client(cast.raw_key_b).get(PREFS), 404, NOT_FOUND)

    assert not NotificationPreference.objects.exists()


def test_a_non_member_and_another_companys_slug_are_404(cast, client_for):
    stranger = client_for(UserFactory())
    for method in ("get", "put", "patch"):
        refused(getattr(stranger, method)(PREFS, {"channels": ["email"]}), 404, NOT_FOUND)
        refused(
            getattr(client_for(cast.member_a), method)(f"{B}/notification-preferences/me/", {"channels": ["email"]}),
            404,
            NOT_FOUND,
        )
    refused(client_for(cast.owner_b).get(PREFS), 404, NOT_FOUND)

    assert not NotificationPreference.objects.exists()


def test_preferences_take_no_query_parameters(cast, client_for):
    client = client_for(cast.member_a)

    body = assert_invalid(client.get(f"{PREFS}?page=1"), "page")
    assert body["fields"] == {"page": ["Unknown query parameter."]}
    assert_invalid(client.patch(f"{PREFS}?user={cast.owner_a.pk}", {"digest": False}), "user")
    assert not NotificationPreference.objects.exists()


def test_a_pause_until_the_end_of_time_does_not_stop_everyone_elses_reminders(review, cast, client_for, time_machine):
    time_machine.move_to(TUESDAY_9 + timedelta(days=7, hours=1), tick=False)  # overdue: the owner and the reviewer
    response = client_for(cast.member_a).patch(PREFS, {"paused_until": "9999-12-31"})
    assert_invalid(response, "paused_until")
    NotificationPreference.objects.create(company=cast.company_a, user=cast.member_a, paused_until=date(9999, 12, 31))

    dispatch_reminders()

    assert _sent_to(review.epic.title) == [cast.admin_a.email]


# --- Prefs.deliverable_at as a table -----------------------------------------------------
def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[arg-type,misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


SNOOZES = {"review:1": berlin(2027, 3, 4, 11, 30)}
# 2027-03-01 is a Monday; 2027-03-28 and 2027-10-31 are the Sundays Berlin changes its clocks.
DELIVERABLE = [
    # (zone, preferences, now, subject, expected)
    ("inside the window", BERLIN, {}, berlin(2027, 3, 2, 10, 15), "", berlin(2027, 3, 2, 10, 15)),
    ("the minute it opens", BERLIN, {}, berlin(2027, 3, 2, 8), "", berlin(2027, 3, 2, 8)),
    ("the last second", BERLIN, {}, berlin(2027, 3, 2, 17, 59, 59), "", berlin(2027, 3, 2, 17, 59, 59)),
    ("before it opens", BERLIN, {}, berlin(2027, 3, 2, 6, 30), "", berlin(2027, 3, 2, 8)),
    ("just after midnight", BERLIN, {}, berlin(2027, 3, 2, 0, 1), "", berlin(2027, 3, 2, 8)),
    ("the minute it closes", BERLIN, {}, berlin(2027, 3, 2, 18), "", berlin(2027, 3, 3, 8)),
    ("after it closes", BERLIN, {}, berlin(2027, 3, 2, 22), "", berlin(2027, 3, 3, 8)),
    ("friday evening", BERLIN, {}, berlin(2027, 3, 5, 18, 30), "", berlin(2027, 3, 8, 8)),
    ("saturday", BERLIN, {}, berlin(2027, 3, 6, 11), "", berlin(2027, 3, 8, 8)),
    ("sunday evening", BERLIN, {}, berlin(2027, 3, 7, 23, 59), "", berlin(2027, 3, 8, 8)),
    (
        "saturday, weekends allowed",
        BERLIN,
        {"weekdays_only": False},
        berlin(2027, 3, 6, 11),
        "",
        berlin(2027, 3, 6, 11),
    ),
    (
        "saturday early, weekends allowed",
        BERLIN,
        {"weekdays_only": False},
        berlin(2027, 3, 6, 6),
        "",
        berlin(2027, 3, 6, 8),
    ),
    (
        "friday evening, weekends allowed",
        BERLIN,
        {"weekdays_only": False},
        berlin(2027, 3, 5, 19),
        "",
        berlin(2027, 3, 6, 8),
    ),
    (
        "a narrow window",
        BERLIN,
        {"quiet_before": 10, "quiet_after": 16},
        berlin(2027, 3, 2, 16),
        "",
        berlin(2027, 3, 3, 10),
    ),
    (
        "always open",
        BERLIN,
        {"quiet_before": 0, "quiet_after": 24},
        berlin(2027, 3, 2, 23, 59),
        "",
        berlin(2027, 3, 2, 23, 59),
    ),
    (
        "always open but saturday",
        BERLIN,
        {"quiet_before": 0, "quiet_after": 24},
        berlin(2027, 3, 6, 1),
        "",
        berlin(2027, 3, 8, 0),
    ),
    (
        "paused until wednesday",
        BERLIN,
        {"paused_until": date(2027, 3, 3)},
        berlin(2027, 3, 2, 10),
        "",
        berlin(2027, 3, 4, 8),
    ),
    (
        "paused until today",
        BERLIN,
        {"paused_until": date(2027, 3, 2)},
        berlin(2027, 3, 2, 10),
        "",
        berlin(2027, 3, 3, 8),
    ),
    (
        "paused until yesterday",
        BERLIN,
        {"paused_until": date(2027, 3, 1)},
        berlin(2027, 3, 2, 10),
        "",
        berlin(2027, 3, 2, 10),
    ),
    (
        "paused until friday",
        BERLIN,
        {"paused_until": date(2027, 3, 5)},
        berlin(2027, 3, 2, 10),
        "",
        berlin(2027, 3, 8, 8),
    ),
    (
        "paused until friday, weekends allowed",
        BERLIN,
        {"paused_until": date(2027, 3, 5), "weekdays_only": False},
        berlin(2027, 3, 2, 10),
        "",
        berlin(2027, 3, 6, 8),
    ),
    (
        "paused, a late window",
        BERLIN,
        {"paused_until": date(2027, 3, 3), "quiet_before": 13},
        berlin(2027, 3, 2, 10),
        "",
        berlin(2027, 3, 4, 13),
    ),
    ("snoozed subject", BERLIN, {"snoozed": SNOOZES}, berlin(2027, 3, 2, 10), "review:1", berlin(2027, 3, 4, 11, 30)),
    ("another subject", BERLIN, {"snoozed": SNOOZES}, berlin(2027, 3, 2, 10), "review:2", berlin(2027, 3, 2, 10)),
    ("no subject", BERLIN, {"snoozed": SNOOZES}, berlin(2027, 3, 2, 10), "", berlin(2027, 3, 2, 10)),
    ("snooze over", BERLIN, {"snoozed": SNOOZES}, berlin(2027, 3, 4, 12), "review:1", berlin(2027, 3, 4, 12)),
    (
        "snooze ends after hours",
        BERLIN,
        {"snoozed": {"review:1": berlin(2027, 3, 4, 19)}},
        berlin(2027, 3, 2, 10),
        "review:1",
        berlin(2027, 3, 5, 8),
    ),
    (
        "snooze ends friday night",
        BERLIN,
        {"snoozed": {"review:1": berlin(2027, 3, 5, 19)}},
        berlin(2027, 3, 2, 10),
        "review:1",
        berlin(2027, 3, 8, 8),
    ),
    (
        "snooze then a pause",
        BERLIN,
        {"snoozed": SNOOZES, "paused_until": date(2027, 3, 4)},
        berlin(2027, 3, 2, 10),
        "review:1",
        berlin(2027, 3, 5, 8),
    ),
    (
        "a pause then a snooze",
        BERLIN,
        {"snoozed": SNOOZES, "paused_until": date(2027, 3, 2)},
        berlin(2027, 3, 2, 10),
        "review:1",
        berlin(2027, 3, 4, 11, 30),
    ),
    # Los Angeles (UTC-8 until 2027-03-14): the UTC day and the local day differ in the evening.
    ("LA before it opens", LOS_ANGELES, {}, utc(2027, 3, 1, 15), "", utc(2027, 3, 1, 16)),
    ("LA inside", LOS_ANGELES, {}, utc(2027, 3, 1, 17), "", utc(2027, 3, 1, 17)),
    ("LA after it closes (UTC: tuesday)", LOS_ANGELES, {}, utc(2027, 3, 2, 2, 30), "", utc(2027, 3, 2, 16)),
    ("LA friday evening (UTC: saturday)", LOS_ANGELES, {}, utc(2027, 3, 6, 3), "", utc(2027, 3, 8, 16)),
    ("LA sunday (UTC: monday)", LOS_ANGELES, {}, utc(2027, 3, 8, 0, 30), "", utc(2027, 3, 8, 16)),
    ("LA paused", LOS_ANGELES, {"paused_until": date(2027, 3, 1)}, utc(2027, 3, 2, 3), "", utc(2027, 3, 2, 16)),
    (
        "LA its own DST day, weekends allowed",
        LOS_ANGELES,
        {"weekdays_only": False},
        utc(2027, 3, 14, 9),
        "",
        utc(2027, 3, 14, 15),
    ),
    # Tokyo (UTC+9): the local day starts the UTC evening before.
    ("Tokyo before it opens (UTC: sunday)", TOKYO, {}, utc(2027, 2, 28, 22), "", utc(2027, 2, 28, 23)),
    ("Tokyo inside", TOKYO, {}, utc(2027, 3, 1, 23, 30), "", utc(2027, 3, 1, 23, 30)),
    ("Tokyo friday evening", TOKYO, {}, utc(2027, 3, 5, 9, 30), "", utc(2027, 3, 7, 23)),
    ("Tokyo saturday (UTC: friday)", TOKYO, {}, utc(2027, 3, 5, 16), "", utc(2027, 3, 7, 23)),
    (
        "Tokyo paused until tuesday",
        TOKYO,
        {"paused_until": date(2027, 3, 2)},
        utc(2027, 3, 2, 0, 30),
        "",
        utc(2027, 3, 2, 23),
    ),
    # Berlin's clocks go forward on Sunday 2027-03-28 (02:00 CET -> 03:00 CEST) and back on 2027-10-31.
    ("DST: saturday evening", BERLIN, {"weekdays_only": False}, utc(2027, 3, 27, 18), "", utc(2027, 3, 28, 6)),
    ("DST: before the change", BERLIN, {"weekdays_only": False}, utc(2027, 3, 28, 0, 30), "", utc(2027, 3, 28, 6)),
    ("DST: before it opens", BERLIN, {"weekdays_only": False}, utc(2027, 3, 28, 5), "", utc(2027, 3, 28, 6)),
    (
        "DST: 17:59 summer time",
        BERLIN,
        {"weekdays_only": False},
        utc(2027, 3, 28, 15, 59),
        "",
        utc(2027, 3, 28, 15, 59),
    ),
    ("DST: 18:00 summer time", BERLIN, {"weekdays_only": False}, utc(2027, 3, 28, 16), "", utc(2027, 3, 29, 6)),
    ("DST: friday to monday", BERLIN, {}, utc(2027, 3, 26, 17, 30), "", utc(2027, 3, 29, 6)),
    (
        "DST: paused until the sunday",
        BERLIN,
        {"paused_until": date(2027, 3, 28)},
        utc(2027, 3, 26, 9),
        "",
        utc(2027, 3, 29, 6),
    ),
    ("DST: back in october", BERLIN, {"weekdays_only": False}, utc(2027, 10, 30, 17), "", utc(2027, 10, 31, 7)),
    (
        "DST: the repeated hour",
        BERLIN,
        {"weekdays_only": False, "quiet_before": 2},
        utc(2027, 10, 31, 1, 10),  # 02:10 CET, the second time
        "",
        utc(2027, 10, 31, 1, 10),
    ),
]


@pytest.mark.parametrize(
    ("zone", "preferences", "now", "subject", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in DELIVERABLE],
)
def test_deliverable_at(zone, preferences, now, subject, expected):
    prefs = Prefs(tz=zone, **preferences)

    result = prefs.deliverable_at(now, subject)

    # Compared in UTC: Python's == between zones is False for a local time in a fold, even at the same instant.
    assert result.astimezone(UTC) == expected.astimezone(UTC)
    assert result.utcoffset() == expected.astimezone(zone).utcoffset()  # told in the zone's real offset
    assert result.astimezone(zone).replace(tzinfo=None) == expected.astimezone(zone).replace(tzinfo=None)


def test_deliverable_at_is_now_itself_inside_the_window():
    now = utc(2027, 3, 2, 10)

    result = Prefs(tz=BERLIN).deliverable_at(now)

    assert result == now and result.tzinfo is BERLIN


def test_a_window_opening_in_the_skipped_hour_opens_when_the_clocks_jump():
    """02:00 does not exist on 2027-03-28 in Berlin; the window opens at the jump, 03:00 CEST (01:00 UTC)."""
    prefs = Prefs(tz=BERLIN, weekdays_only=False, quiet_before=2)

    result = prefs.deliverable_at(utc(2027, 3, 28, 0, 30))

    assert result.astimezone(UTC) == utc(2027, 3, 28, 1)
    assert not result > utc(2027, 3, 28, 1) and not result < utc(2027, 3, 28, 1)


def test_a_window_opening_in_the_skipped_hour_is_a_real_local_time():
    prefs = Prefs(tz=BERLIN, weekdays_only=False, quiet_before=2)

    result = prefs.deliverable_at(utc(2027, 3, 28, 0, 30))

    assert (result.hour, result.utcoffset()) == (3, timedelta(hours=2))


# --- digest_moment -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        (0, utc(2027, 3, 1, 6)),
        (1, utc(2027, 3, 2, 6)),
        (2, utc(2027, 3, 3, 6)),
        (3, utc(2027, 3, 4, 6)),
        (4, utc(2027, 3, 5, 6)),
        (5, utc(2027, 3, 6, 6)),
        (6, utc(2027, 3, 7, 6)),
    ],
)
def test_digest_moment_is_the_weeks_day_and_hour_in_the_company_zone(weekday, expected):
    prefs = Prefs(tz=BERLIN, digest_weekday=weekday, digest_hour=7)

    for now in (berlin(2027, 3, 1, 0), berlin(2027, 3, 3, 12), berlin(2027, 3, 7, 23, 59)):
        moment = prefs.digest_moment(now)
        assert moment == expected
        assert (moment.tzinfo, moment.weekday(), moment.hour) == (BERLIN, weekday, 7)


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        (0, utc(2027, 3, 22, 8)),
        (1, utc(2027, 3, 23, 8)),
        (2, utc(2027, 3, 24, 8)),
        (3, utc(2027, 3, 25, 8)),
        (4, utc(2027, 3, 26, 8)),
        (5, utc(2027, 3, 27, 8)),
        (6, utc(2027, 3, 28, 7)),  # 09:00 summer time
    ],
)
def test_digest_moment_across_the_dst_change(weekday, expected):
    moment = Prefs(tz=BERLIN, digest_weekday=weekday).digest_moment(berlin(2027, 3, 24, 12))

    assert moment == expected
    assert moment.utcoffset() == expected.astimezone(BERLIN).utcoffset()


@pytest.mark.parametrize(
    ("zone", "now", "weekday", "expected"),
    [
        pytest.param(BERLIN, utc(2027, 3, 7, 23, 30), 0, utc(2027, 3, 8, 8), id="Berlin monday 00:30, UTC sunday"),
        pytest.param(BERLIN, utc(2027, 3, 7, 22, 30), 6, utc(2027, 3, 7, 8), id="Berlin sunday 23:30"),
        pytest.param(LOS_ANGELES, utc(2027, 3, 8, 3), 0, utc(2027, 3, 1, 17), id="LA sunday, UTC monday"),
        pytest.param(LOS_ANGELES, utc(2027, 3, 8, 3), 6, utc(2027, 3, 7, 17), id="LA sunday itself"),
        pytest.param(TOKYO, utc(2027, 3, 7, 16), 0, utc(2027, 3, 8, 0), id="Tokyo monday, UTC sunday"),
        pytest.param(TOKYO, utc(2027, 3, 7, 14, 59), 4, utc(2027, 3, 5, 0), id="Tokyo sunday 23:59"),
    ],
)
def test_digest_moment_the_week_is_the_companys_not_utcs(zone, now, weekday, expected):
    moment = Prefs(tz=zone, digest_weekday=weekday).digest_moment(now)

    assert moment == expected
    assert moment.tzinfo is zone

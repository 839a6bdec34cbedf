"""Chasing actual results: one message per person per stage of a review, however often the dispatcher runs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from epics.models import Epic, OutcomeReview
from epics.services import review_waive
from integrations.models import Reminder
from integrations.reminders import dispatch_reminders
from tests.conftest import Cast

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(cast: Cast) -> OutcomeReview:
    """Company A's delivered epic, with a reviewer, whose review falls due in a day."""
    epic: Epic = cast.strategic_a["done_epic"]
    Epic.objects.filter(pk=epic.pk).update(reviewer=cast.admin_a)
    pending = OutcomeReview.objects.get(epic=epic, state="pending")
    OutcomeReview.objects.filter(pk=pending.pk).update(due_at=timezone.now() + timedelta(days=1))
    pending.refresh_from_db()
    return pending


def _sent_to(review: OutcomeReview) -> list[str]:
    """Who got a message about the review's epic (company B's review falls due later in these walks)."""
    return sorted(message.to[0] for message in mail.outbox if review.epic.title in message.subject)


def test_a_review_is_chased_at_each_stage_once(review, cast, time_machine):
    objective_owner = cast.strategic_a["key_result"].objective.owner
    time_machine.move_to(review.due_at - timedelta(hours=1))
    assert dispatch_reminders().planned == 0 and _sent_to(review) == []

    time_machine.move_to(review.due_at + timedelta(hours=1))
    dispatch_reminders()
    dispatch_reminders()  # a second tick, or a second beat
    assert _sent_to(review) == [cast.member_a.email]  # the epic's owner

    mail.outbox.clear()
    time_machine.move_to(review.due_at + timedelta(days=7, hours=1))
    dispatch_reminders()
    dispatch_reminders()
    assert _sent_to(review) == sorted([cast.member_a.email, cast.admin_a.email])  # the owner again and the reviewer

    mail.outbox.clear()
    time_machine.move_to(review.due_at + timedelta(days=21, hours=1))
    dispatch_reminders()
    assert _sent_to(review) == sorted({cast.member_a.email, cast.admin_a.email, objective_owner.email})
    assert "long overdue" in mail.outbox[0].subject

    mail.outbox.clear()
    time_machine.move_to(review.due_at + timedelta(days=40))
    dispatch_reminders()
    assert _sent_to(review) == []  # every stage was sent once


def test_the_message_shows_what_was_expected_and_where_to_record(review, cast, time_machine):
    time_machine.move_to(review.due_at + timedelta(hours=1))

    dispatch_reminders()

    (message,) = [m for m in mail.outbox if review.epic.title in m.subject]
    metric = cast.strategic_a["done_epic_metric"]
    assert review.epic.title in message.subject
    assert metric.name in message.body and str(metric.baseline) in message.body and str(metric.target) in message.body
    assert f"/api/v1/companies/alpha/epics/{review.epic_id}/results/" in message.body


def test_reminders_stop_once_the_review_is_waived(review, cast, time_machine):
    time_machine.move_to(review.due_at + timedelta(days=7, hours=1))
    dispatch_reminders()
    mail.outbox.clear()
    Reminder.objects.filter(review=review).update(status="pending")  # as if not sent yet

    review_waive(epic=review.epic, reason="Superseded by the checkout rewrite", actor=cast.owner_a)
    time_machine.move_to(review.due_at + timedelta(days=30))
    outcome = dispatch_reminders()

    assert _sent_to(review) == []
    assert outcome.cancelled == 2
    assert set(Reminder.objects.filter(review=review).values_list("status", flat=True)) == {"cancelled"}


def test_a_review_first_seen_late_gets_its_current_stage_not_a_burst(review, cast, time_machine):
    time_machine.move_to(review.due_at + timedelta(days=30))

    dispatch_reminders()

    assert set(Reminder.objects.filter(review=review).values_list("kind", flat=True)) == {"review_escalated"}
    assert cast.member_a.email in _sent_to(review)


def test_a_failing_mail_server_is_tried_three_times_then_recorded(review, time_machine, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("integrations.reminders.send_mail", refuse)
    time_machine.move_to(review.due_at + timedelta(hours=1))

    for _ in range(5):
        dispatch_reminders()

    (reminder,) = Reminder.objects.filter(review=review)
    assert (reminder.status, reminder.attempts) == ("failed", 3)
    assert "smtp down" in reminder.error


def test_reminders_belong_to_the_reviews_company(review, cast, time_machine):
    time_machine.move_to(review.due_at + timedelta(hours=1))

    dispatch_reminders()

    assert set(Reminder.objects.values_list("company", flat=True)) <= {cast.company_a.pk, cast.company_b.pk}
    assert Reminder.objects.for_company(cast.company_a).filter(review=review).count() == 1
    assert not Reminder.objects.for_company(cast.company_b).filter(review=review).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dispatchers_racing_on_postgresql_send_one_message_per_key(cast, time_machine):
    epic: Epic = cast.strategic_a["done_epic"]
    review = OutcomeReview.objects.get(epic=epic, state="pending")
    time_machine.move_to(review.due_at + timedelta(days=7, hours=1))
    Epic.objects.filter(pk=epic.pk).update(reviewer=cast.admin_a)
    barrier = threading.Barrier(4)

    def tick() -> None:
        try:
            barrier.wait(timeout=10)
            dispatch_reminders()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    sent = [m.to[0] for m in mail.outbox if epic.title in m.subject]
    assert sorted(sent) == sorted([cast.member_a.email, cast.admin_a.email])

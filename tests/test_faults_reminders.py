"""A real Celery worker killed in the middle of sending reminders: nothing is sent twice, the rest goes out.

Six outcome reviews fall due for one person, who takes reminders on Slack. A worker on Redis runs the
beat's reminder dispatcher; the fake Slack webhook takes the first two messages and holds the third
until the worker's whole process group is SIGKILLed. What Slack received is what the person saw.

The next beat tick, on a second worker, sends the three never tried, and never the one whose sender
died: that one stays ``sending`` until its lease (15 minutes) runs out, then becomes ``unknown``, and
still is not sent again (docs/notifications.md, "A sender killed mid-send"): a reminder may go
missing in that window, visibly, but never arrives twice.
"""

# ruff: noqa: F811 - fixtures imported from the modules that define them
from __future__ import annotations

import os
import signal
import threading
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import OutcomeReview
from epics.services import epic_create
from integrations.models import NotificationPreference, Reminder
from integrations.slack import slack_webhook_save
from okrs.models import KeyResult
from tests.conftest import Cast
from tests.fake_slack import FakeSlack
from tests.test_celery import _wait_for, _worker_env, start_worker  # noqa: F401
from tests.test_sync_worker import _database_url, _forget_queue

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

DUE = 6
HANG_ON = 3  # the message Slack holds until the worker is dead


class HangingSlack:
    """The fake Slack webhook, holding one message (received: the channel shows it) until released."""

    def __init__(self, server: HTTPServer) -> None:
        self.slack = FakeSlack(server)
        self.hanging, self.release = threading.Event(), threading.Event()
        server.expect_request(self.slack.path, method="POST").respond_with_handler(self.answer)

    def answer(self, request: Request) -> Response:
        response = self.slack.answer(request)
        if len(self.slack.posts) == HANG_ON and not self.release.is_set():
            self.hanging.set()
            self.release.wait(timeout=60)  # the sender dies while it waits for this answer
        return response

    def titles(self) -> Counter[str]:
        """How many messages arrived about each epic."""
        return Counter(title for post in self.slack.posts for title in TITLES if title in post["text"])


TITLES = [f"Killed-sender epic {n}" for n in range(1, DUE + 1)]


@pytest.fixture
def due_reviews(cast: Cast, settings: Any) -> list[OutcomeReview]:
    """Six reviews due an hour ago for company A's member, who takes reminders on Slack at any hour."""
    settings.TRACKER_ALLOW_PRIVATE_URLS = True  # the fake Slack listens on loopback
    KeyResult.objects.update(next_checkin_due=timezone.now() + timedelta(days=30))  # no check-in reminders
    NotificationPreference.objects.create(
        company=cast.company_a,
        user=cast.member_a,
        channels=["slack"],
        digest=False,
        quiet_before=0,
        quiet_after=24,
        weekdays_only=False,
    )
    now = timezone.now()
    reviews = []
    for title in TITLES:
        epic = epic_create(company=cast.company_a, title=title, owner=cast.member_a, actor=cast.member_a)
        reviews.append(
            OutcomeReview.objects.create(epic=epic, done_at=now - timedelta(days=31), due_at=now - timedelta(hours=1))
        )
    return reviews


def reminders() -> Any:
    return Reminder.objects.filter(review__epic__title__in=TITLES)


def test_a_worker_killed_mid_dispatch_sends_nothing_twice_and_the_next_tick_sends_the_rest(
    httpserver, cast, due_reviews, start_worker, tmp_path, settings, request
):
    slack = HangingSlack(httpserver)
    slack_webhook_save(company=cast.company_a, url=slack.slack.url)
    redis_url = os.environ["REDIS_URL"]
    queue = f"test-reminders-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: _forget_queue(redis_url, queue))
    request.addfinalizer(slack.release.set)
    env = _worker_env(
        tmp_path,
        REDIS_URL=redis_url,
        DATABASE_URL=_database_url(),
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        TRACKER_ALLOW_PRIVATE_URLS="true",
    )
    beat = Celery(broker=redis_url)

    def tick() -> None:
        beat.send_task("integrations.tasks.dispatch_reminders_task", queue=queue)

    first = start_worker(env, "--queues", queue)
    tick()
    if not slack.hanging.wait(timeout=90):
        os.killpg(first.pid, signal.SIGKILL)
        output = first.stdout.read().decode() if first.stdout else ""
        pytest.fail(f"the worker never sent the third reminder:\n{output[-3000:]}")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    slack.release.set()

    states = Counter(reminders().values_list("status", flat=True))
    assert states == {"sent": HANG_ON - 1, "sending": 1, "pending": DUE - HANG_ON}  # what a dead sender leaves
    assert sum(slack.titles().values()) == HANG_ON  # the held message reached the channel all the same
    in_flight = reminders().get(status="sending")

    second = start_worker(env, "--queues", queue)
    tick()  # the next beat tick
    _wait_for(lambda: reminders().filter(status="sent").count() == DUE - 1, second, timeout=90)

    assert slack.titles() == dict.fromkeys(TITLES, 1)  # every due reminder arrived, and exactly once
    assert Counter(reminders().values_list("status", flat=True)) == {"sent": DUE - 1, "sending": 1}
    assert reminders().filter(status="sent", attempts=1).count() == DUE - 1

    # 15 minutes on, the dispatcher gives the dead sender's reminder up as unknown, and does not send it
    Reminder.objects.filter(pk=in_flight.pk).update(claimed_at=timezone.now() - timedelta(minutes=16))
    tick()
    _wait_for(lambda: Reminder.objects.filter(pk=in_flight.pk, status="unknown").exists(), second, timeout=60)

    assert slack.titles() == dict.fromkeys(TITLES, 1)
    assert len(slack.slack.attempts) == DUE  # and nothing else was posted
    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.sent_at) == ("unknown", None)
    assert "not sent again" in in_flight.error

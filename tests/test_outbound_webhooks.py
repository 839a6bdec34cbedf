"""Outbound webhooks over real HTTP: a local receiver checks every request with the endpoint's secret.

Time is walked with time_machine (frozen at each stop, so retry times are exact); the dispatcher is
called as the minute beat would call it, often twice in a row, and the receiver counts what arrived.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic, OutcomeReview
from epics.services import epic_transition, result_record
from integrations import outbound
from integrations.models import OutboundDelivery, WebhookEndpoint
from integrations.outbound import (
    MAX_ATTEMPTS,
    dispatch_outbound,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_update,
    plan_events,
    redeliver,
    send_test,
    sign,
    verify_signature,
)
from integrations.reminders import SENDING_LEASE
from okrs.models import Cycle, KeyResult
from tests.assertions import assert_invalid
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

A = "/api/v1/companies/alpha"
REVIEW_EVENTS = ["outcome.due", "outcome.overdue"]


# --- the receiver ----------------------------------------------------------------------------------
@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool  # the signature verified with the endpoint's secret, within the time tolerance

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def event(self) -> str:
        return self.headers["X-Outcomes-Event"]


@dataclass
class Receiver:
    """One company URL: verifies each request with its secret, records it, then answers as told."""

    server: HTTPServer
    path: str
    secret: str = ""
    status: int = 200
    answer: Callable[[Request], Response] | None = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(self.path, method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    def _handle(self, request: Request) -> Response:
        body = request.get_data()
        headers = {name: request.headers.get(name, "") for name in HEADERS}
        valid = verify_signature(
            self.secret, headers["X-Outcomes-Timestamp"], body, headers["X-Outcomes-Signature-256"]
        )
        self.received.append(Received(headers, body, valid))
        if self.answer is not None:
            return self.answer(request)
        return Response("thanks" if self.status < 300 else "receiver exploded", status=self.status)

    def events(self) -> list[str]:
        return [request.event for request in self.received]


HEADERS = (
    "Content-Type",
    "User-Agent",
    "X-Outcomes-Event",
    "X-Outcomes-Delivery",
    "X-Outcomes-Timestamp",
    "X-Outcomes-Signature-256",
)


@pytest.fixture(autouse=True)
def _only_the_endpoints_each_test_makes(cast: Cast) -> None:
    """The cast's endpoints would hear of the same events; each test here counts what its own receive."""
    WebhookEndpoint.objects.all().delete()


@dataclass
class Hook:
    endpoint: WebhookEndpoint
    receiver: Receiver
    secret: str


@pytest.fixture
def hook(httpserver: HTTPServer, settings: Any, cast: Cast) -> Callable[..., Hook]:
    """An endpoint of company A (or B) pointing at its own path of the local receiver."""
    settings.TRACKER_ALLOW_PRIVATE_URLS = True  # the receiver listens on a local http address
    made: list[Hook] = []

    def make(*, events: list[str] | None = None, company: str = "a", active: bool = True) -> Hook:
        receiver = Receiver(httpserver, f"/hooks/{len(made)}")
        endpoint, secret = endpoint_create(
            company=cast.company_a if company == "a" else cast.company_b,
            url=receiver.url,
            description=f"receiver {len(made)}",
            events=events,
            active=active,
        )
        receiver.secret = secret
        made.append(Hook(endpoint, receiver, secret))
        return made[-1]

    return make


@pytest.fixture
def review(cast: Cast) -> OutcomeReview:
    """Company A's delivered epic, whose review falls due in a day."""
    pending = OutcomeReview.objects.get(epic=cast.strategic_a["done_epic"], state="pending")
    OutcomeReview.objects.filter(pk=pending.pk).update(due_at=timezone.now() + timedelta(days=1))
    pending.refresh_from_db()
    return pending


@pytest.fixture
def walk(time_machine: Any) -> Callable[[datetime], datetime]:
    """Stop the clock at a moment (frozen, so times computed from it are exact)."""

    def to(moment: datetime) -> datetime:
        time_machine.move_to(moment, tick=False)
        return moment

    return to


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _delivery(endpoint: WebhookEndpoint, event: str | None = None) -> OutboundDelivery:
    rows = OutboundDelivery.objects.filter(endpoint=endpoint)
    return (rows.filter(event=event) if event else rows).get()


# --- signing ---------------------------------------------------------------------------------------
def test_a_signature_verifies_and_tampering_a_wrong_secret_or_an_old_timestamp_fail():
    now = timezone.now().replace(microsecond=0)
    stamp = str(int(now.timestamp()))
    body = b'{"event":"ping","id":"1"}'
    header = sign("whsec_right", stamp, body)

    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature("whsec_right", stamp, body, header, now=now)
    assert verify_signature("whsec_right", stamp, body, header, now=now + timedelta(seconds=300))
    assert not verify_signature("whsec_right", stamp, body + b" ", header, now=now)  # tampered body
    assert not verify_signature("whsec_wrong", stamp, body, header, now=now)
    assert not verify_signature("whsec_right", stamp, body, header, now=now + timedelta(seconds=301))  # replayed
    assert not verify_signature("whsec_right", stamp, body, header, now=now - timedelta(seconds=301))
    assert not verify_signature("whsec_right", str(int(stamp) + 1), body, header, now=now)  # timestamp is signed
    assert not verify_signature("whsec_right", "yesterday", body, header, now=now)
    assert not verify_signature("whsec_right", stamp, body, header.removeprefix("sha256="), now=now)


def test_a_test_delivery_arrives_signed_with_its_id_in_the_header(hook):
    made = hook()

    delivery = send_test(endpoint=made.endpoint)

    (request,) = made.receiver.received
    assert request.valid
    assert request.event == "ping"
    assert request.headers["X-Outcomes-Delivery"] == request.payload["id"] == str(delivery.event_id)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "okr-outcomes-webhooks"
    assert request.payload["company"] == "alpha" and request.payload["event"] == "ping"
    assert request.body == outbound.payload_body(delivery.payload)  # the exact bytes that were signed
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status, delivery.attempts) == ("sent", 200, 1)
    assert delivery.sent_at is not None and delivery.error == ""


def test_a_secret_is_stored_encrypted_and_rotating_it_signs_with_the_new_one(hook):
    made = hook()
    stored = WebhookEndpoint.objects.get(pk=made.endpoint.pk).secret_encrypted
    assert made.secret.startswith("whsec_") and made.secret not in stored

    new_secret = endpoint_rotate_secret(endpoint=made.endpoint)
    send_test(endpoint=made.endpoint)

    assert new_secret != made.secret
    assert not made.receiver.received[-1].valid  # the receiver still holds the old secret
    made.receiver.secret = new_secret
    send_test(endpoint=made.endpoint)
    assert made.receiver.received[-1].valid


# --- planning: what happened, once, at the right moment ----------------------------------------------
def test_a_review_is_announced_due_then_overdue_once_each(hook, review, walk):
    made = hook(events=REVIEW_EVENTS)

    walk(review.due_at - timedelta(hours=1))
    assert dispatch_outbound()["planned"] == 0
    assert made.receiver.received == []

    walk(review.due_at + timedelta(minutes=1))
    dispatch_outbound()
    dispatch_outbound()  # a second tick, or a second beat
    assert made.receiver.events() == ["outcome.due"]

    walk(review.due_at + timedelta(days=7) - timedelta(minutes=1))
    dispatch_outbound()
    assert made.receiver.events() == ["outcome.due"]

    walk(review.due_at + timedelta(days=7, minutes=1))
    dispatch_outbound()
    dispatch_outbound()
    assert made.receiver.events() == ["outcome.due", "outcome.overdue"]

    walk(review.due_at + timedelta(days=30))
    dispatch_outbound()
    assert made.receiver.events() == ["outcome.due", "outcome.overdue"]
    assert all(request.valid for request in made.receiver.received)
    assert set(OutboundDelivery.objects.filter(endpoint=made.endpoint).values_list("key", flat=True)) == {
        f"outcome.due:review:{review.pk}:{review.due_at.date()}",
        f"outcome.overdue:review:{review.pk}:{review.due_at.date()}",
    }


def test_a_review_event_carries_what_a_receiver_needs(hook, review, walk, cast):
    made = hook(events=["outcome.due"])
    moment = walk(review.due_at + timedelta(minutes=5))

    dispatch_outbound()

    payload = made.receiver.received[0].payload
    epic = cast.strategic_a["done_epic"]
    assert payload["event"] == "outcome.due" and payload["company"] == "alpha"
    assert payload["created"] == moment.isoformat()
    data = payload["data"]
    assert data["review"]["id"] == review.pk and data["review"]["state"] == "pending"
    assert data["review"]["due_at"] == review.due_at.isoformat()
    assert data["epic"] == {
        "id": epic.pk,
        "title": epic.title,
        "owner_email": cast.member_a.email,
        "external_key": "",
        "tracker_url": "",
    }
    assert data["links"]["epic"] == reverse("v1:epic-detail", kwargs={"company_slug": "alpha", "pk": epic.pk})
    assert data["links"]["results"] == f"{A}/epics/{epic.pk}/results/"


def test_an_endpoint_created_after_an_event_does_not_hear_of_it(hook, review, walk):
    walk(review.due_at + timedelta(hours=2))
    made = hook(events=REVIEW_EVENTS)  # the review fell due two hours ago

    dispatch_outbound()
    assert made.receiver.received == []

    walk(review.due_at + timedelta(days=7, hours=1))  # overdue happens after the endpoint was created
    dispatch_outbound()
    assert made.receiver.events() == ["outcome.overdue"]


def test_events_older_than_the_lookback_are_not_sent(hook, review, walk):
    walk(review.due_at - timedelta(days=1))
    made = hook(events=["outcome.due"])

    walk(review.due_at + outbound.LOOKBACK + timedelta(minutes=1))  # the dispatcher was down for days
    dispatch_outbound()

    assert made.receiver.received == []


def test_a_recorded_result_is_announced_once_per_revision(hook, cast, walk):
    made = hook(events=["outcome.recorded"])
    epic: Epic = cast.strategic_a["done_epic"]
    metric = cast.strategic_a["done_epic_metric"]
    walk(timezone.now() + timedelta(minutes=1))
    result_record(epic=epic, metrics=[{"metric": metric, "value": Decimal(64)}], recorded_by=cast.member_a)

    walk(timezone.now() + timedelta(minutes=1))
    dispatch_outbound()
    dispatch_outbound()

    (request,) = made.receiver.received
    assert request.event == "outcome.recorded"
    assert request.payload["data"]["review"]["state"] == "recorded"
    assert request.payload["data"]["result"]["revision"] == 1
    assert request.payload["data"]["result"]["verdict"] == "partly"  # 64 on the way from 61.5 to 66

    result_record(
        epic=epic,
        metrics=[{"metric": metric, "value": Decimal(67)}],
        recorded_by=cast.member_a,
        verdict_override="missed",
        override_reason="The metric moved for another reason.",
    )
    walk(timezone.now() + timedelta(minutes=1))
    dispatch_outbound()
    assert made.receiver.events() == ["outcome.recorded", "outcome.recorded"]
    assert made.receiver.received[1].payload["data"]["result"] == {
        "revision": 2,
        "verdict": "missed",
        "recorded_at": made.receiver.received[1].payload["data"]["result"]["recorded_at"],
    }


def test_a_delivered_epic_is_announced_once_and_earlier_deliveries_are_not(hook, cast, walk):
    made = hook(events=["epic.delivered"])
    epic: Epic = cast.strategic_a["epic"]  # in progress; the cast's done epic was delivered before the endpoint
    walk(timezone.now() + timedelta(minutes=1))

    epic_transition(epic=epic, to_status="done", actor=cast.member_a)
    dispatch_outbound()
    dispatch_outbound()

    (request,) = made.receiver.received
    assert request.event == "epic.delivered"
    assert request.payload["data"]["epic"]["id"] == epic.pk
    assert request.payload["data"]["review"]["state"] == "pending"


def test_a_key_result_check_in_is_announced_due_then_stale_once_each(hook, cast, walk):
    key_result: KeyResult = cast.strategic_a["key_result"]
    due = timezone.now() + timedelta(days=2)
    KeyResult.objects.filter(pk=key_result.pk).update(next_checkin_due=due)
    made = hook(events=["key_result.check_in_due", "key_result.stale"])

    walk(due - timedelta(days=1, minutes=1))
    dispatch_outbound()
    assert made.receiver.received == []

    walk(due - timedelta(days=1) + timedelta(minutes=1))
    dispatch_outbound()
    dispatch_outbound()
    assert made.receiver.events() == ["key_result.check_in_due"]

    walk(due + timedelta(minutes=1))
    dispatch_outbound()
    dispatch_outbound()
    assert made.receiver.events() == ["key_result.check_in_due", "key_result.stale"]
    data = made.receiver.received[1].payload["data"]
    assert data["key_result"]["id"] == key_result.pk and data["key_result"]["owner_email"] == cast.member_a.email
    assert data["key_result"]["next_checkin_due"] == due.isoformat()
    assert data["objective"] == {"id": key_result.objective_id, "title": key_result.objective.title}
    assert data["links"]["key_result"] == f"{A}/key-results/{key_result.pk}/"


def test_key_results_of_cycles_that_are_not_active_are_not_announced(hook, cast, walk):
    key_result: KeyResult = cast.strategic_a["key_result"]
    due = timezone.now() + timedelta(hours=1)
    KeyResult.objects.filter(pk=key_result.pk).update(next_checkin_due=due)
    Cycle.objects.filter(pk=key_result.objective.cycle_id).update(status="planning")
    made = hook(events=["key_result.check_in_due", "key_result.stale"])

    walk(due + timedelta(minutes=1))
    dispatch_outbound()

    assert made.receiver.received == []


def test_unsubscribed_inactive_and_other_companies_endpoints_hear_nothing(hook, review, walk):
    unsubscribed = hook(events=["key_result.stale"])
    inactive = hook(events=REVIEW_EVENTS, active=False)
    other_company = hook(events=REVIEW_EVENTS, company="b")

    walk(review.due_at + timedelta(minutes=1))
    dispatch_outbound()

    for made in (unsubscribed, inactive, other_company):
        assert made.receiver.received == []
    assert not OutboundDelivery.objects.exists()


def test_each_endpoint_gets_its_own_delivery_and_repeated_planning_adds_nothing(hook, review, walk):
    first, second = hook(events=["outcome.due"]), hook(events=["outcome.due"])
    walk(review.due_at + timedelta(minutes=1))

    assert plan_events(timezone.now()) == 2
    assert plan_events(timezone.now()) == 0
    for _ in range(3):
        dispatch_outbound()

    assert first.receiver.events() == second.receiver.events() == ["outcome.due"]
    ids = {made.receiver.received[0].payload["id"] for made in (first, second)}
    assert len(ids) == 2  # one event id per delivery


def test_planning_takes_a_fixed_number_of_queries(hook, cast, walk):
    made = hook()
    for _ in range(5):
        epic = Epic.objects.create(company=cast.company_a, title="Spare", owner=cast.member_a, status="done")
        OutcomeReview.objects.create(epic=epic, done_at=timezone.now(), due_at=timezone.now() + timedelta(days=30))
    walk(timezone.now() + timedelta(minutes=1))

    with CaptureQueriesContext(connection) as queries:
        planned = plan_events(timezone.now())

    assert planned == 5
    assert len(queries) <= 5, [query["sql"][:80] for query in queries]
    assert made.receiver.received == []  # planned, not yet sent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dispatchers_racing_on_postgresql_send_one_post_per_key(hook, cast, walk):
    review = OutcomeReview.objects.get(epic=cast.strategic_a["done_epic"], state="pending")
    OutcomeReview.objects.filter(pk=review.pk).update(due_at=timezone.now() + timedelta(days=1))
    review.refresh_from_db()
    hooks = [hook(events=["outcome.due", "epic.delivered"]) for _ in range(2)]
    epic: Epic = cast.strategic_a["epic"]
    walk(review.due_at + timedelta(minutes=1))
    epic_transition(epic=epic, to_status="done", actor=cast.member_a)
    barrier = threading.Barrier(4)

    def tick() -> None:
        try:
            barrier.wait(timeout=10)
            dispatch_outbound()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    for made in hooks:
        assert sorted(made.receiver.events()) == ["epic.delivered", "outcome.due"]
        assert all(request.valid for request in made.receiver.received)
    assert OutboundDelivery.objects.filter(status="sent").count() == 4


# --- sending: failures, retries and refusals ----------------------------------------------------------
def test_a_failing_receiver_is_retried_with_backoff_then_the_delivery_fails(hook, review, walk):
    made = hook(events=["outcome.due"])
    made.receiver.status = 500
    moment = walk(review.due_at + timedelta(minutes=1))
    waits = []

    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert dispatch_outbound()["retrying" if attempt < MAX_ATTEMPTS else "failed"] == 1
        delivery = _delivery(made.endpoint)
        assert delivery.attempts == attempt
        if attempt == MAX_ATTEMPTS:
            break
        next_attempt = delivery.next_attempt_at
        assert next_attempt is not None
        waits.append(next_attempt - moment)
        walk(next_attempt - timedelta(seconds=1))
        assert dispatch_outbound()["retrying"] == 0  # not before its time
        moment = walk(next_attempt)

    assert waits == [timedelta(minutes=2**n) for n in range(MAX_ATTEMPTS - 1)]  # 1, 2, 4 … 64 minutes
    assert len(made.receiver.received) == MAX_ATTEMPTS
    assert len({request.headers["X-Outcomes-Delivery"] for request in made.receiver.received}) == 1
    delivery = _delivery(made.endpoint)
    assert (delivery.status, delivery.response_status, delivery.next_attempt_at) == ("failed", 500, None)
    assert delivery.error == "HTTP 500: receiver exploded"
    walk(moment + timedelta(hours=12))
    dispatch_outbound()
    assert len(made.receiver.received) == MAX_ATTEMPTS


def test_backoff_doubles_up_to_six_hours_and_honours_retry_after():
    assert [outbound.backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert outbound.backoff(12) == outbound.backoff(30) == timedelta(hours=6)
    assert outbound.backoff(1, timedelta(minutes=10)) == timedelta(minutes=10)
    assert outbound.backoff(1, timedelta(days=2)) == timedelta(hours=6)


def test_a_busy_receivers_retry_after_is_honoured(hook, review, walk):
    made = hook(events=["outcome.due"])
    made.receiver.answer = lambda request: Response("slow down", status=429, headers={"Retry-After": "600"})
    moment = walk(review.due_at + timedelta(minutes=1))

    dispatch_outbound()

    delivery = _delivery(made.endpoint)
    assert (delivery.status, delivery.next_attempt_at) == ("pending", moment + timedelta(minutes=10))
    assert delivery.error == "HTTP 429: slow down"


def test_a_receiver_that_times_out_is_retried(hook, review, walk, monkeypatch):
    made = hook(events=["outcome.due"])
    monkeypatch.setattr(outbound, "TIMEOUT", (2.0, 0.2))

    def too_slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response("late")

    made.receiver.answer = too_slow
    moment = walk(review.due_at + timedelta(minutes=1))

    assert dispatch_outbound()["retrying"] == 1

    delivery = _delivery(made.endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert delivery.next_attempt_at == moment + timedelta(minutes=1)
    assert "timed out" in delivery.error.lower()


def test_a_refused_connection_is_retried(hook, review, walk, cast):
    made = hook(events=["outcome.due"])
    endpoint_update(endpoint=made.endpoint, url=f"http://127.0.0.1:{_free_port()}/hooks/closed")
    walk(review.due_at + timedelta(minutes=1))

    assert dispatch_outbound()["retrying"] == 1

    delivery = _delivery(made.endpoint)
    assert (delivery.status, delivery.response_status) == ("pending", None)
    assert delivery.error.startswith("ConnectionError")


def test_gone_fails_at_once_and_switches_the_endpoint_off(hook, review, walk):
    made = hook(events=REVIEW_EVENTS)
    made.receiver.status = 410
    walk(review.due_at + timedelta(minutes=1))

    assert dispatch_outbound()["failed"] == 1

    delivery = _delivery(made.endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 410)
    assert "switched off" in delivery.error
    made.endpoint.refresh_from_db()
    assert not made.endpoint.active
    walk(review.due_at + timedelta(days=7, minutes=1))
    dispatch_outbound()
    assert made.receiver.events() == ["outcome.due"]  # nothing more is planned for it


def test_a_redirect_is_not_followed(hook, review, walk, httpserver):
    made = hook(events=["outcome.due"])
    elsewhere = Receiver(httpserver, "/elsewhere")
    made.receiver.answer = lambda request: Response("", status=302, headers={"Location": elsewhere.url})
    walk(review.due_at + timedelta(minutes=1))

    assert dispatch_outbound()["retrying"] == 1

    assert len(made.receiver.received) == 1 and elsewhere.received == []
    delivery = _delivery(made.endpoint)
    assert (delivery.status, delivery.response_status) == ("pending", 302)
    assert "redirects are not followed" in delivery.error and elsewhere.url in delivery.error


def test_a_url_that_turns_private_is_refused_at_send_time(cast, review, walk, monkeypatch, settings):
    settings.TRACKER_ALLOW_PRIVATE_URLS = False
    dns = {"hooks.alpha.example": ["93.184.216.34"]}
    monkeypatch.setattr("integrations.netsafety.resolve", lambda host: dns[host])
    posted: list[str] = []
    monkeypatch.setattr("requests.post", lambda url, **kwargs: posted.append(url))
    endpoint, _ = endpoint_create(
        company=cast.company_a, url="https://hooks.alpha.example/outcomes", events=["outcome.due"]
    )
    dns["hooks.alpha.example"] = ["10.0.0.5"]  # the company's DNS now points inside our network
    walk(review.due_at + timedelta(minutes=1))

    assert dispatch_outbound()["retrying"] == 1
    ping = send_test(endpoint=endpoint)

    assert posted == []
    delivery = _delivery(endpoint, "outcome.due")
    assert delivery.status == "pending" and "private" in delivery.error
    assert ping.status == "failed" and "private" in ping.error


def test_a_delivery_left_sending_past_the_lease_is_sent_again_with_the_same_id(hook, review, walk):
    abandoned, busy = hook(events=["outcome.due"]), hook(events=["outcome.due"])
    moment = walk(review.due_at + timedelta(minutes=1))
    plan_events(moment)
    OutboundDelivery.objects.filter(endpoint=abandoned.endpoint).update(
        status="sending", attempts=1, claimed_at=moment - SENDING_LEASE - timedelta(seconds=1)
    )
    OutboundDelivery.objects.filter(endpoint=busy.endpoint).update(
        status="sending", attempts=1, claimed_at=moment - timedelta(minutes=1)
    )

    dispatch_outbound()

    event_id = str(_delivery(abandoned.endpoint).event_id)
    assert [request.headers["X-Outcomes-Delivery"] for request in abandoned.receiver.received] == [event_id]
    assert (_delivery(abandoned.endpoint).status, _delivery(abandoned.endpoint).attempts) == ("sent", 2)
    assert busy.receiver.received == [] and _delivery(busy.endpoint).status == "sending"  # its sender is alive


def test_a_switched_off_endpoint_keeps_its_pending_deliveries_until_it_is_on_again(hook, review, walk):
    made = hook(events=["outcome.due"])
    walk(review.due_at + timedelta(minutes=1))
    plan_events(timezone.now())
    endpoint_update(endpoint=made.endpoint, active=False)

    dispatch_outbound()
    assert made.receiver.received == []

    endpoint_update(endpoint=made.endpoint, active=True)
    dispatch_outbound()
    assert made.receiver.events() == ["outcome.due"]


def test_redelivery_sends_the_same_event_again(hook, review, walk):
    made = hook(events=["outcome.due"])
    walk(review.due_at + timedelta(minutes=1))
    dispatch_outbound()
    delivery = _delivery(made.endpoint)

    redeliver(delivery=delivery)
    dispatch_outbound()

    first, second = made.receiver.received
    assert first.headers["X-Outcomes-Delivery"] == second.headers["X-Outcomes-Delivery"]
    assert first.body == second.body and second.valid
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


# --- the API -----------------------------------------------------------------------------------------
def _endpoint_url(pk: int, suffix: str = "") -> str:
    return f"{A}/webhook-endpoints/{pk}/{suffix}"


def test_creating_an_endpoint_shows_its_secret_once(cast, client_for, httpserver, settings):
    settings.TRACKER_ALLOW_PRIVATE_URLS = True
    receiver = Receiver(httpserver, "/api-made")
    client = client_for(cast.owner_a)

    response = client.post(
        f"{A}/webhook-endpoints/",
        {"url": receiver.url, "description": "Warehouse", "events": ["outcome.due"]},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert body["events"] == ["outcome.due"] and body["active"] is True
    assert body["secret_hint"] == "…" + secret[-4:]
    detail = client.get(_endpoint_url(body["id"])).json()
    listed = client.get(f"{A}/webhook-endpoints/").json()["results"]
    for shown in (detail, *listed):
        assert "secret" not in shown and secret not in str(shown)
    assert detail["secret_hint"] == body["secret_hint"]

    receiver.secret = secret
    tested = client.post(_endpoint_url(body["id"], "test/"))
    assert tested.status_code == 200, tested.content
    assert tested.json()["status"] == "sent" and tested.json()["event"] == "ping"
    assert receiver.received[0].valid


def test_omitted_events_mean_all_of_them(cast, client_for):
    response = client_for(cast.admin_a).post(
        f"{A}/webhook-endpoints/", {"url": "https://gitlab.acme.example/hooks"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["events"] == list(outbound.SUBSCRIBABLE)


def test_rotating_the_secret_shows_the_new_one_once(cast, client_for, hook):
    made = hook()
    client = client_for(cast.owner_a)

    response = client.post(_endpoint_url(made.endpoint.pk, "rotate-secret/"))

    assert response.status_code == 200, response.content
    new_secret = response.json()["secret"]
    assert new_secret != made.secret and new_secret.startswith("whsec_")
    assert "secret" not in client.get(_endpoint_url(made.endpoint.pk)).json()
    made.receiver.secret = new_secret
    assert client.post(_endpoint_url(made.endpoint.pk, "test/")).json()["status"] == "sent"
    assert made.receiver.received[-1].valid


BAD_ENDPOINTS = [
    ({"url": "https://10.0.0.5/hook"}, "url"),
    ({"url": "https://127.0.0.1/hook"}, "url"),
    ({"url": "https://[::1]/hook"}, "url"),
    ({"url": "https://localhost/hook"}, "url"),
    ({"url": "https://intranet.acme.example/hook"}, "url"),  # resolves to 10.0.0.5
    ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
    ({"url": "http://gitlab.acme.example/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"events": ["outcome.exploded"]}, "events"),
    ({"events": []}, "events"),
    ({"events": ["outcome.due", "outcome.due"]}, "events"),
    ({"events": ["ping"]}, "events"),
    ({"events": "outcome.due"}, "events"),
    ({"description": "x" * 201}, "description"),
    ({"secret": "mine"}, "secret"),
]


@pytest.mark.parametrize(("change", "field_name"), BAD_ENDPOINTS, ids=[str(change) for change, _ in BAD_ENDPOINTS])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(change, field_name, cast, client_for):
    body = {"url": "https://gitlab.acme.example/hooks", "events": ["outcome.due"], **change}

    response = client_for(cast.owner_a).post(f"{A}/webhook-endpoints/", body, format="json")

    assert_invalid(response, field_name)
    assert not WebhookEndpoint.objects.exists()


def test_changing_an_endpoint_checks_what_changed(cast, client_for, hook):
    made = hook(events=["outcome.due"])
    client = client_for(cast.owner_a)

    assert_invalid(client.patch(_endpoint_url(made.endpoint.pk), {"events": ["nope"]}, format="json"), "events")
    response = client.patch(_endpoint_url(made.endpoint.pk), {"events": REVIEW_EVENTS, "active": False}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["events"], response.json()["active"]) == (REVIEW_EVENTS, False)
    replaced = client.put(
        _endpoint_url(made.endpoint.pk), {"url": "https://gitlab.acme.example/new", "description": "New"}, format="json"
    )
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["events"] == list(outbound.SUBSCRIBABLE) and replaced.json()["active"] is True
    assert client.delete(_endpoint_url(made.endpoint.pk)).status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=made.endpoint.pk).exists()


def test_the_delivery_log_filters_by_endpoint_event_and_status(cast, client_for, hook, review, walk):
    reviews, checks = hook(events=REVIEW_EVENTS), hook(events=["key_result.stale"])
    checks.receiver.status = 500
    KeyResult.objects.filter(pk=cast.strategic_a["key_result"].pk).update(next_checkin_due=review.due_at)
    walk(review.due_at + timedelta(minutes=1))
    dispatch_outbound()
    client = client_for(cast.owner_a)
    log = f"{A}/outbound-deliveries/"

    def events(**filters: Any) -> list[str]:
        response = client.get(log, filters)
        assert response.status_code == 200, response.content
        return [row["event"] for row in response.json()["results"]]

    assert sorted(events()) == ["key_result.stale", "outcome.due"]
    assert events(endpoint_id=reviews.endpoint.pk) == ["outcome.due"]
    assert events(event="key_result.stale") == ["key_result.stale"]
    assert events(status="pending") == ["key_result.stale"]
    assert events(status="sent") == ["outcome.due"]
    row = client.get(log, {"status": "pending"}).json()["results"][0]
    assert row["attempts"] == 1 and row["response_status"] == 500 and row["error"] == "HTTP 500: receiver exploded"
    assert row["payload"]["id"] == row["event_id"]
    detail = client.get(f"{log}{row['id']}/").json()
    assert detail["key"].startswith("key_result.stale:key_result:")
    assert_invalid(client.get(log, {"event": "nope"}), "event")
    assert_invalid(client.get(log, {"endpoint": reviews.endpoint.pk}), "endpoint")  # the filter is endpoint_id


def test_redeliver_through_the_api(cast, client_for, hook, review, walk):
    made = hook(events=["outcome.due"])
    made.receiver.status = 410
    walk(review.due_at + timedelta(minutes=1))
    dispatch_outbound()
    delivery = _delivery(made.endpoint)
    client = client_for(cast.owner_a)
    path = f"{A}/outbound-deliveries/{delivery.pk}/redeliver/"

    assert_invalid(client.post(path), "non_field_errors")  # Gone switched the endpoint off
    client.patch(_endpoint_url(made.endpoint.pk), {"active": True}, format="json")
    made.receiver.status = 200
    response = client.post(path)

    assert response.status_code == 202, response.content
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 0)
    assert_invalid(client.post(path), "non_field_errors")  # already queued
    dispatch_outbound()
    assert [r.headers["X-Outcomes-Delivery"] for r in made.receiver.received] == [str(delivery.event_id)] * 2


def test_another_companys_endpoints_and_deliveries_are_404(cast, client_for, hook):
    made = hook()
    delivery = send_test(endpoint=made.endpoint)
    client = client_for(cast.owner_b)
    b_paths = [
        f"/api/v1/companies/bravo/webhook-endpoints/{made.endpoint.pk}/",
        f"/api/v1/companies/bravo/outbound-deliveries/{delivery.pk}/",
    ]

    for path in [_endpoint_url(made.endpoint.pk), f"{A}/outbound-deliveries/{delivery.pk}/", *b_paths]:
        assert client.get(path).status_code == 404, path
    for path in (_endpoint_url(made.endpoint.pk, "test/"), _endpoint_url(made.endpoint.pk, "rotate-secret/")):
        assert client.post(path).status_code == 404
    assert client.post(f"/api/v1/companies/bravo/outbound-deliveries/{delivery.pk}/redeliver/").status_code == 404
    assert client.get("/api/v1/companies/bravo/webhook-endpoints/").json()["results"] == []
    foreign = client.get("/api/v1/companies/bravo/outbound-deliveries/", {"endpoint_id": made.endpoint.pk})
    assert_invalid(foreign, "endpoint_id")
    assert len(made.receiver.received) == 1


@pytest.mark.parametrize("role", ["member", "viewer", "executive"])
def test_only_owners_and_admins_manage_webhooks(role, cast, client_for, hook):
    made = hook()
    client = client_for(cast.by_role_a[role])

    assert client.get(f"{A}/webhook-endpoints/").status_code == 403
    assert client.get(f"{A}/outbound-deliveries/").status_code == 403
    assert (
        client.post(f"{A}/webhook-endpoints/", {"url": "https://gitlab.acme.example/x"}, format="json").status_code
        == 403
    )
    assert client.post(_endpoint_url(made.endpoint.pk, "test/")).status_code == 403
    assert client.post(_endpoint_url(made.endpoint.pk, "rotate-secret/")).status_code == 403
    assert made.receiver.received == []
    assert client_for(cast.admin_a).get(f"{A}/webhook-endpoints/").status_code == 200


@pytest.mark.parametrize("route", ["webhook-endpoints", "outbound-deliveries"])
def test_list_queries_do_not_grow_with_rows(route, cast, client_for, hook):
    client = client_for(cast.owner_a)

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{A}/{route}/", {"page_size": 50})
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    send_test(endpoint=hook().endpoint)
    few = count()
    for _ in range(10):
        send_test(endpoint=hook().endpoint)
    many = count()

    assert (few[1], many[1]) == (1, 11)
    assert few[0] == many[0]

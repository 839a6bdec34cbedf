"""Outbound webhooks: a company's own URLs receive our events, signed with HMAC-SHA256.

Every minute the dispatcher (a beat task that may run twice, on several workers) does two things:

1. **Plan**: ask the domain what happened (a review fell due or overdue, a result was recorded, an
   epic was delivered, a key result's check-in is near or past due) and add one ``OutboundDelivery``
   per (active endpoint subscribed to the event, key). The unique (endpoint, key) makes planning
   again, a second beat tick or a racing dispatcher add nothing. Only what happened within
   ``LOOKBACK`` and not before the endpoint was created is planned: a new endpoint is not flooded
   with history, and an outage of the dispatcher longer than ``LOOKBACK`` drops what it missed.
2. **Send**: each due delivery is claimed with a conditional update (pending → sending), so one
   caller sends it. The URL is checked again (DNS may point elsewhere since it was saved), the JSON
   body POSTed without following redirects, and the answer decides: 2xx is sent; 410 Gone is failed
   and switches the endpoint off; anything else is tried again after 1, 2, 4, 8 … minutes (at most
   six hours, longer when the receiver's Retry-After asks for it) and failed after ``MAX_ATTEMPTS``.
   A row left ``sending`` past ``SENDING_LEASE`` (its sender was killed) is sent again.

Receivers get every event at least once, with the same id each time: they dedupe on
``X-Outcomes-Delivery``, which equals the payload's ``id``. Order is not guaranteed; ``created``
says when the event was planned.

Signing: ``X-Outcomes-Signature-256: sha256=<hex>`` is the HMAC-SHA256, under the endpoint's secret,
of ``X-Outcomes-Timestamp`` (unix seconds), a ``.``, and the body exactly as received. A receiver
recomputes it, compares in constant time and refuses a timestamp more than five minutes from its
clock, so a captured request cannot be replayed later: :func:`verify_signature` does all three.
A rotated secret signs every later attempt, retries of older events included.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from secrets import token_urlsafe
from typing import Any

import requests
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from epics.choices import ReviewState
from epics.models import OVERDUE_AFTER_DAYS, ActualResult, OutcomeReview
from integrations.choices import OutboundEvent, OutboundStatus
from integrations.models import OutboundDelivery, WebhookEndpoint, default_events
from integrations.netsafety import validate_public_url
from integrations.reminders import CHECK_IN_NOTICE, LOOKBACK, SENDING_LEASE
from integrations.secrets import CredentialsUnreadable, decrypt, encrypt
from okrs.choices import CycleStatus
from okrs.models import KeyResult
from outcomes.models import Company
from outcomes.services.common import apply_changes

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=6)
TIMEOUT = (5.0, 10.0)  # seconds to connect, seconds to wait for each part of the answer
SEND_BUDGET_SECONDS = 50.0  # a tick stops claiming after this; the next tick goes on
SEND_BATCH = 500
MAX_ERROR_BODY = 500
SIGNATURE_TOLERANCE = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - a public marker in front of every secret
USER_AGENT = "okr-outcomes-webhooks"
OVERDUE_AFTER = timedelta(days=OVERDUE_AFTER_DAYS)
SUBSCRIBABLE = tuple(event.value for event in OutboundEvent if event != OutboundEvent.PING)
FIELDS = ("url", "description", "events", "active")
ABANDONED = "The sender stopped while sending (killed or restarted); sent again with the same event id."
UNREADABLE = "The endpoint's secret cannot be decrypted with the configured keys: rotate the secret."
COUNTS = {OutboundStatus.SENT: "sent", OutboundStatus.FAILED: "failed", OutboundStatus.PENDING: "retrying"}


# --- endpoints ---------------------------------------------------------------------------------
@transaction.atomic
def endpoint_create(
    *, company: Company, url: str, description: str = "", events: list[str] | None = None, active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret in plain text: the only time anyone sees it."""
    endpoint = WebhookEndpoint(company=company)
    secret = _new_secret(endpoint)
    events = default_events() if events is None else events
    endpoint_update(endpoint=endpoint, url=url, description=description, events=events, active=active)
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change an endpoint. The URL and events are checked when they change (or on creation), so an
    endpoint whose host turned private can still be switched off or described."""
    apply_changes(endpoint, FIELDS, changes)
    if "url" in changes or endpoint.pk is None:
        endpoint.url = _checked_url(endpoint.url)
    if "events" in changes or endpoint.pk is None:
        endpoint.events = _checked_events(endpoint.events)
    endpoint.full_clean(exclude=["secret_encrypted"])
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret, returned once; the old one stops signing at once (retries use the new one)."""
    secret = _new_secret(endpoint)
    endpoint.save(update_fields=["secret_encrypted", "updated"])
    return secret


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    """The plaintext secret, for signing; raises CredentialsUnreadable when no key decrypts it."""
    return str(decrypt(endpoint.secret_encrypted).get("secret", ""))


def _new_secret(endpoint: WebhookEndpoint) -> str:
    secret = SECRET_PREFIX + token_urlsafe(32)
    endpoint.secret_encrypted = encrypt({"secret": secret})
    return secret


def _checked_url(url: str) -> str:
    try:
        return validate_public_url(url)
    except ValidationError as error:
        raise ValidationError({"url": error.messages}) from error


def _checked_events(events: Any) -> list[str]:
    if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
        raise ValidationError({"events": "A list of event names."})
    if not events:
        raise ValidationError({"events": f"Choose at least one of: {', '.join(SUBSCRIBABLE)}."})
    if OutboundEvent.PING in events:
        raise ValidationError({"events": "ping is only sent by the test command; it cannot be subscribed to."})
    unknown = sorted(set(events) - set(SUBSCRIBABLE))
    if unknown:
        raise ValidationError({"events": f"Unknown events: {', '.join(unknown)}. Known: {', '.join(SUBSCRIBABLE)}."})
    twice = sorted({name for name in events if events.count(name) > 1})
    if twice:
        raise ValidationError({"events": f"List each event once: {', '.join(twice)} appears more than once."})
    return list(events)


# --- planning ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """Something that happened, once per key; endpoints of its company created before ``at`` hear of it."""

    company_id: int
    name: str
    key: str
    at: datetime
    data: dict[str, Any]


def plan_events(now: datetime) -> int:
    """Add the deliveries that what happened calls for; returns how many were new. Five queries at most.

    1. The active endpoints (none: nothing to do).
    2. One query over reviews and one over key results for events that happened since the earliest
       endpoint was created, and within ``LOOKBACK``.
    3. Pair each event with the endpoints of its company that subscribe to it and existed then.
    4. Leave out the (endpoint, key) pairs already planned and insert the rest, ignoring conflicts,
       so a planner racing this one adds nothing twice.
    """
    endpoints = list(WebhookEndpoint.objects.filter(active=True).select_related("company"))
    if not endpoints:
        return 0
    since = max(now - LOOKBACK, min(endpoint.created for endpoint in endpoints))
    company_ids = {endpoint.company_id for endpoint in endpoints}
    events = [*_review_events(now, since, company_ids), *_key_result_events(now, since, company_ids)]
    rows = [
        _delivery(endpoint, event.name, event.key, event.data, now)
        for event in events
        for endpoint in endpoints
        if endpoint.company_id == event.company_id and event.name in endpoint.events and endpoint.created <= event.at
    ]
    return _insert_new(rows)


def _insert_new(rows: list[OutboundDelivery]) -> int:
    if not rows:
        return 0
    planned = set(
        OutboundDelivery.objects.filter(
            endpoint_id__in={row.endpoint_id for row in rows}, key__in={row.key for row in rows}
        ).values_list("endpoint_id", "key")
    )
    new = [row for row in rows if (row.endpoint_id, row.key) not in planned]
    OutboundDelivery.objects.bulk_create(new, ignore_conflicts=True)  # the unique (endpoint, key) keeps each once
    return len(new)


def _delivery(endpoint: WebhookEndpoint, event: str, key: str, data: dict[str, Any], now: datetime) -> OutboundDelivery:
    event_id = uuid.uuid4()
    payload = {
        "id": str(event_id),
        "event": event,
        "created": _iso(now),
        "company": endpoint.company.slug,
        "data": data,
    }
    return OutboundDelivery(
        company_id=endpoint.company_id, endpoint=endpoint, event=event, event_id=event_id, key=key, payload=payload
    )


def _review_events(now: datetime, since: datetime, company_ids: set[int]) -> Iterator[Event]:
    """Due, overdue, recorded and delivered, from one query over the reviews that may have any of them."""
    latest = ActualResult.objects.filter(review=OuterRef("pk")).order_by("-revision")
    reviews = (
        OutcomeReview.objects.filter(epic__company_id__in=company_ids)
        .filter(
            Q(state=ReviewState.PENDING, due_at__gte=since - OVERDUE_AFTER, due_at__lte=now)
            | Q(state=ReviewState.RECORDED, closed_at__gte=since, closed_at__lte=now)
            | (Q(created__gte=since, created__lte=now, done_at__lte=now) & ~Q(state=ReviewState.CANCELLED))
        )
        .select_related("epic__company", "epic__owner")
        .annotate(
            revision=Subquery(latest.values("revision")[:1]),
            verdict=Subquery(latest.values("verdict")[:1]),
            verdict_override=Subquery(latest.values("verdict_override")[:1]),
        )
    )
    for review in reviews:
        yield from _events_of_review(review, now, since)


def _events_of_review(review: Any, now: datetime, since: datetime) -> Iterator[Event]:
    data = _review_data(review)
    company_id, subject = review.epic.company_id, f"review:{review.pk}"
    due_on = review.due_at.astimezone(UTC).date()
    if review.state == ReviewState.PENDING:
        for name, at in ((OutboundEvent.OUTCOME_DUE, review.due_at), (OutboundEvent.OUTCOME_OVERDUE, _overdue(review))):
            if since <= at <= now:
                yield Event(company_id, name, f"{name}:{subject}:{due_on}", at, data)
    if review.state == ReviewState.RECORDED and review.closed_at is not None and since <= review.closed_at <= now:
        result = {
            "revision": review.revision,
            "verdict": review.verdict_override or review.verdict,
            "recorded_at": _iso(review.closed_at),
        }
        name = OutboundEvent.OUTCOME_RECORDED
        yield Event(
            company_id, name, f"{name}:{subject}:r{review.revision or 0}", review.closed_at, data | {"result": result}
        )
    # A delivery counts from when we learned of it: a sync may bring a done date from days ago.
    if review.state != ReviewState.CANCELLED and since <= review.created <= now and review.done_at <= now:
        name = OutboundEvent.EPIC_DELIVERED
        yield Event(company_id, name, f"{name}:{subject}", review.created, data)


def _overdue(review: OutcomeReview) -> datetime:
    return review.due_at + OVERDUE_AFTER


def _review_data(review: OutcomeReview) -> dict[str, Any]:
    epic = review.epic
    ids = {"company_slug": epic.company.slug, "pk": epic.pk}
    return {
        "review": {
            "id": review.pk,
            "state": review.state,
            "done_at": _iso(review.done_at),
            "due_at": _iso(review.due_at),
            "overdue_at": _iso(_overdue(review)),
        },
        "epic": {
            "id": epic.pk,
            "title": epic.title,
            "owner_email": epic.owner.email,
            "external_key": epic.external_key,
            "tracker_url": epic.tracker_url,
        },
        "links": {
            "epic": reverse("v1:epic-detail", kwargs=ids),
            "review": reverse("v1:epic-review", kwargs=ids),
            "results": reverse("v1:epic-results", kwargs=ids),
        },
    }


def _key_result_events(now: datetime, since: datetime, company_ids: set[int]) -> Iterator[Event]:
    """Check-in due (``CHECK_IN_NOTICE`` ahead) and stale (past due), for key results of active cycles."""
    key_results = KeyResult.objects.filter(
        company_id__in=company_ids,
        objective__cycle__status=CycleStatus.ACTIVE,
        next_checkin_due__gte=since,
        next_checkin_due__lte=now + CHECK_IN_NOTICE,
    ).select_related("company", "owner", "objective__cycle")
    for key_result in key_results:
        due = key_result.next_checkin_due
        moments = ((OutboundEvent.CHECK_IN_DUE, due - CHECK_IN_NOTICE), (OutboundEvent.KEY_RESULT_STALE, due))
        data = _key_result_data(key_result)
        for name, at in moments:
            if since <= at <= now:
                key = f"{name}:key_result:{key_result.pk}:{due.astimezone(UTC).date()}"
                yield Event(key_result.company_id, name, key, at, data)


def _key_result_data(key_result: KeyResult) -> dict[str, Any]:
    objective, slug = key_result.objective, key_result.company.slug
    return {
        "key_result": {
            "id": key_result.pk,
            "title": key_result.title,
            "owner_email": key_result.owner.email,
            "next_checkin_due": _iso(key_result.next_checkin_due),
            "cadence": key_result.cadence,
            "status": key_result.status,
        },
        "objective": {"id": objective.pk, "title": objective.title},
        "cycle": {"id": objective.cycle_id, "name": objective.cycle.name},
        "links": {
            "key_result": reverse("v1:key-result-detail", kwargs={"company_slug": slug, "pk": key_result.pk}),
            "check_ins": reverse("v1:key-result-check-ins", kwargs={"company_slug": slug, "pk": key_result.pk}),
            "objective": reverse("v1:objective-detail", kwargs={"company_slug": slug, "pk": objective.pk}),
        },
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# --- signing -------------------------------------------------------------------------------------
def payload_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed and signed: compact JSON with sorted keys, the same on every attempt."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``f"{timestamp}."`` followed by the body."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    now: datetime | None = None,
    tolerance: int = SIGNATURE_TOLERANCE,
) -> bool:
    """What a receiver checks: the timestamp is within ``tolerance`` seconds of its clock and the
    signature header matches, compared in constant time."""
    try:
        sent_at = int(str(timestamp))
    except ValueError:
        return False
    if abs((now or timezone.now()).timestamp() - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), header.strip().encode())


def signed_headers(secret: str, payload: dict[str, Any], body: bytes, timestamp: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Outcomes-Event": str(payload.get("event", "")),
        "X-Outcomes-Delivery": str(payload.get("id", "")),
        "X-Outcomes-Timestamp": timestamp,
        "X-Outcomes-Signature-256": sign(secret, timestamp, body),
    }


# --- sending -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """What one POST came to: the receiver's status code (None without an answer) and what to record."""

    status: int | None
    error: str = ""
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def dispatch_outbound(now: datetime | None = None) -> dict[str, int]:
    """Every minute: plan what happened, then send what is due. Two ticks at once send nothing twice."""
    now = now or timezone.now()
    return {"planned": plan_events(now), **send_due(now)}


def send_due(now: datetime) -> dict[str, int]:
    """Send the due deliveries this caller wins the claim of; counts of sent, failed and retrying."""
    _release_abandoned(now)
    counts = dict.fromkeys(COUNTS.values(), 0)
    started = time.monotonic()
    for delivery_id in _due_ids(now):
        if time.monotonic() - started > SEND_BUDGET_SECONDS:
            break
        delivery = _claim(delivery_id, now)
        if delivery is not None:
            counts[COUNTS[OutboundStatus(_send(delivery, retry=True))]] += 1
    return counts


def _due(now: datetime) -> Q:
    return Q(status=OutboundStatus.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def _due_ids(now: datetime) -> list[int]:
    """Due deliveries of active endpoints (a switched-off endpoint's wait until it is on again)."""
    due = OutboundDelivery.objects.filter(_due(now), endpoint__active=True).order_by("id")
    return list(due.values_list("pk", flat=True)[:SEND_BATCH])


def _release_abandoned(now: datetime) -> None:
    """Rows left sending past the lease go back to pending, or fail if they had their last try."""
    stuck = OutboundDelivery.objects.filter(status=OutboundStatus.SENDING, claimed_at__lt=now - SENDING_LEASE)
    stuck.filter(attempts__gte=MAX_ATTEMPTS).update(status=OutboundStatus.FAILED, error=ABANDONED)
    stuck.update(status=OutboundStatus.PENDING, next_attempt_at=None, error=ABANDONED)


def _claim(delivery_id: int, now: datetime) -> OutboundDelivery | None:
    """Pending and still due → sending, in one conditional update; None when another caller has it.

    Re-checking "due" stops a caller with an old list from sending a row that another caller has
    just tried and put back with a later attempt time.
    """
    claimed = OutboundDelivery.objects.filter(_due(now), pk=delivery_id).update(
        status=OutboundStatus.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return OutboundDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def _send(delivery: OutboundDelivery, *, retry: bool) -> str:
    try:
        secret = endpoint_secret(delivery.endpoint)
    except CredentialsUnreadable:
        return _settle(delivery, Attempt(None, UNREADABLE), retry=False)
    return _settle(delivery, post_event(delivery.endpoint.url, secret, delivery.payload), retry=retry)


def post_event(url: str, secret: str, payload: dict[str, Any]) -> Attempt:
    """POST the signed payload once. Network failures become an Attempt; nothing is raised.

    The answer is streamed and at most ``MAX_ERROR_BODY`` bytes of it read, so a receiver that sends
    a huge or endless body cannot hold the sender.
    """
    try:
        target = validate_public_url(url)
    except ValidationError as refused:
        return Attempt(None, _clip("Not sent, the URL is refused now: " + " ".join(refused.messages)))
    body = payload_body(payload)
    headers = signed_headers(secret, payload, body, str(int(timezone.now().timestamp())))
    try:
        with requests.post(
            target, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True
        ) as response:
            return _answer(response)
    except requests.RequestException as error:
        return Attempt(None, _clip(f"{type(error).__name__}: {error}"))


def _answer(response: requests.Response) -> Attempt:
    code = response.status_code
    if 200 <= code < 300:
        return Attempt(code)
    if 300 <= code < 400:
        location = response.headers.get("Location", "")[:200]
        return Attempt(code, _clip(f"HTTP {code}: redirects are not followed (Location: {location})."))
    return Attempt(code, _clip(f"HTTP {code}: {_head(response)}".rstrip(": ")), _retry_after(response))


def _head(response: requests.Response) -> str:
    try:
        chunk = next(response.iter_content(chunk_size=MAX_ERROR_BODY), b"")
    except requests.RequestException:
        return ""
    return bytes(chunk)[:MAX_ERROR_BODY].decode("utf-8", errors="replace").strip()


def _retry_after(response: requests.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "").strip()
    return timedelta(seconds=int(value)) if value.isdigit() else None


def _clip(text: str) -> str:
    return text[:MAX_ERROR_BODY]


def backoff(attempts: int, retry_after: timedelta | None = None) -> timedelta:
    """The wait after the ``attempts``-th failed try: 1, 2, 4, 8 … minutes, at most six hours.

    No jitter: retries already fall on whole dispatcher ticks, and tests walk exact times.
    """
    delay = timedelta(minutes=2 ** min(max(attempts, 1) - 1, 16))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_BACKOFF)


def _settle(delivery: OutboundDelivery, attempt: Attempt, *, retry: bool) -> str:
    """Record the attempt on the row this caller claimed; returns the delivery's new status."""
    clock = timezone.now()
    changes: dict[str, Any] = {"response_status": attempt.status, "error": attempt.error, "next_attempt_at": None}
    if attempt.ok:
        changes |= {"status": OutboundStatus.SENT, "sent_at": clock}
    elif attempt.status == 410:
        changes |= {
            "status": OutboundStatus.FAILED,
            "error": _clip(f"Gone: the endpoint was switched off. {attempt.error}"),
        }
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(active=False, updated=clock)
    elif retry and delivery.attempts < MAX_ATTEMPTS:
        changes |= {
            "status": OutboundStatus.PENDING,
            "next_attempt_at": clock + backoff(delivery.attempts, attempt.retry_after),
        }
    else:
        changes["status"] = OutboundStatus.FAILED
    OutboundDelivery.objects.filter(
        pk=delivery.pk, status=OutboundStatus.SENDING, claimed_at=delivery.claimed_at
    ).update(**changes)
    for name, value in changes.items():
        setattr(delivery, name, value)
    return str(changes["status"])


# --- commands ------------------------------------------------------------------------------------
def send_test(*, endpoint: WebhookEndpoint, now: datetime | None = None) -> OutboundDelivery:
    """A ``ping`` sent at once, whether the endpoint is on or off; tried once, returned with its result."""
    now = now or timezone.now()
    data = {
        "endpoint": {"id": endpoint.pk, "url": endpoint.url, "description": endpoint.description},
        "message": "A test delivery from OKR Outcomes: verify its signature with the endpoint's secret.",
    }
    delivery = _delivery(endpoint, OutboundEvent.PING, "", data, now)
    delivery.key = f"{OutboundEvent.PING}:{delivery.event_id}"
    delivery.status, delivery.attempts, delivery.claimed_at = OutboundStatus.SENDING, 1, timezone.now()
    delivery.save()
    _send(delivery, retry=False)
    return delivery


@transaction.atomic
def redeliver(*, delivery: OutboundDelivery) -> OutboundDelivery:
    """Queue a sent or failed delivery again, with the same event id and body, from a fresh count of tries."""
    if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, active=True).exists():
        raise ValidationError("The endpoint is switched off: turn it on before redelivering.")
    queued = OutboundDelivery.objects.filter(
        pk=delivery.pk, status__in=[OutboundStatus.SENT, OutboundStatus.FAILED]
    ).update(
        status=OutboundStatus.PENDING,
        attempts=0,
        next_attempt_at=None,
        claimed_at=None,
        response_status=None,
        error="",
        sent_at=None,
    )
    if not queued:
        raise ValidationError(f"The delivery is {delivery.get_status_display().lower()}: it is sent anyway.")
    delivery.refresh_from_db()
    return delivery

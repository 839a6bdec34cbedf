"""Webhook deliveries: stored once when authentic, then processed by a task that re-reads the item.

A delivery only says *something happened to this item*. Processing asks the tracker for the
item's current state and applies it the way a sync does, so stale, repeated or out-of-order
deliveries cannot move an epic backwards. A delivery saying an item was deleted or moved
marks the epic, which stays with its history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from epics.choices import ChangeSource, TrackerAbsence
from epics.models import Epic
from epics.tracking import tracked_epics_mark_missing
from integrations import secrets, webhooks
from integrations.choices import DeliveryStatus
from integrations.models import Connection, WebhookDelivery
from integrations.queueing import resend_stranded, send_on_commit
from integrations.sync import Client, apply_items, client_for
from integrations.trackers.base import TrackerError, TransientTrackerError

logger = structlog.get_logger(__name__)

STRANDED_AFTER = timedelta(minutes=20)


@dataclass(frozen=True)
class Received:
    delivery: WebhookDelivery
    duplicate: bool


def webhook_secret(connection: Connection) -> str:
    """The plaintext secret; CredentialsUnreadable when no configured key decrypts it."""
    return str(secrets.decrypt(connection.webhook_secret_encrypted).get("secret", ""))


def delivery_receive(*, connection: Connection, headers: Mapping[str, str], body: bytes, now_ms: int) -> Received:
    """Store an authentic delivery once (raises SignatureRefused otherwise) and queue its processing.

    A delivery id seen before is a retry or a replay: the stored delivery is returned, nothing queued.
    """
    webhooks.verify(connection.kind, webhook_secret(connection), headers, body, now_ms=now_ms)
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    event, action = webhooks.event_name(connection.kind, headers, payload)
    fields: dict[str, Any] = {"event": event, "action": action, "payload": payload if payload is not None else {}}
    if payload is None:
        fields |= {"status": DeliveryStatus.IGNORED, "detail": "The body is not JSON."}
    elif not connection.enabled:
        fields |= {"status": DeliveryStatus.IGNORED, "detail": "The connection is disabled."}
    identifier = webhooks.delivery_id(connection.kind, headers, body)
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(connection=connection, delivery_id=identifier, **fields)
    except IntegrityError:
        stored = WebhookDelivery.objects.get(connection=connection, delivery_id=identifier)
        if stored.status == DeliveryStatus.RECEIVED and stored.sent_at is None:  # the broker was away the first time
            resend_stranded(_task(), WebhookDelivery.objects.filter(pk=stored.pk), now=timezone.now())
        return Received(stored, duplicate=True)
    if delivery.status == DeliveryStatus.RECEIVED:
        send_on_commit(_task(), delivery)
    return Received(delivery, duplicate=False)


def _task() -> Any:
    from integrations.tasks import process_delivery_task  # the task module imports this one

    return process_delivery_task


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Process a stored delivery again (after fixing the connection, say). Its item is re-read as usual."""
    delivery.status, delivery.detail, delivery.error, delivery.processed_at = DeliveryStatus.RECEIVED, "", "", None
    delivery.sent_at = timezone.now()
    delivery.save(update_fields=["status", "detail", "error", "processed_at", "sent_at"])
    send_on_commit(_task(), delivery)
    return delivery


def resend_stranded_deliveries(now: datetime | None = None) -> int:
    """Send again the received deliveries whose task the broker never took, or took so long ago that it
    is lost (a busy tracker's retries wait 15 minutes in all, so a longer silence means no retry is coming)."""
    now = now or timezone.now()
    waiting = WebhookDelivery.objects.filter(status=DeliveryStatus.RECEIVED)
    return resend_stranded(_task(), waiting, now=now, sent_before=now - STRANDED_AFTER)


def delivery_process(
    delivery_pk: int, *, client: Client | None = None, retry_transient: bool = False
) -> WebhookDelivery:
    """Act on a received delivery: re-read its item from the tracker and apply it, or mark it gone.

    The delivery's row stays locked while it is processed, so a redelivered task waits and then
    finds it done; deliveries already processed or ignored are left alone. With ``retry_transient``
    a busy tracker leaves the delivery ``received`` (with the error) for the task to try again later.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("connection__company", "connection__default_owner")
            .get(pk=delivery_pk)
        )
        if delivery.status != DeliveryStatus.RECEIVED:
            return delivery
        delivery.attempts += 1
        connection = delivery.connection
        hint = webhooks.read(connection.kind, delivery.event, delivery.payload)
        delivery.error = ""
        try:
            with transaction.atomic():  # a failure undoes what processing wrote, never the delivery's record
                status, detail, epic = _act(connection, hint, client)
        except TransientTrackerError as error:
            status, detail, epic = DeliveryStatus.RECEIVED if retry_transient else DeliveryStatus.FAILED, "", None
            delivery.error = str(error)
        except TrackerError as error:
            status, detail, epic = DeliveryStatus.FAILED, "", None
            delivery.error = str(error)
        except Exception:
            logger.exception("webhook_delivery_failed", delivery=delivery.pk)
            status, detail, epic = DeliveryStatus.FAILED, "", None
            delivery.error = "Processing failed unexpectedly; the error is in the service's log."
        delivery.status, delivery.detail, delivery.epic = status, detail[:500], epic
        delivery.processed_at = None if status == DeliveryStatus.RECEIVED else timezone.now()
        if status == DeliveryStatus.RECEIVED:
            delivery.sent_at = timezone.now()  # the task queues its next try
        delivery.save(update_fields=["status", "detail", "epic", "error", "processed_at", "attempts", "sent_at"])
    return delivery


def _act(connection: Connection, hint: webhooks.Hint, client: Client | None) -> tuple[str, str, Epic | None]:
    if hint.ignore:
        return DeliveryStatus.IGNORED, hint.ignore, None
    known = _known(connection, hint.external_id, hint.key)
    if hint.gone:
        if known is None:
            return DeliveryStatus.IGNORED, "The item is not one of our epics.", None
        _mark(connection, known, hint.gone)
        return DeliveryStatus.PROCESSED, f"Marked {hint.gone}.", known
    item = (client or client_for(connection)).fetch_item(scope=connection.scope, ref=hint.ref)
    if item is None:
        if known is None:
            return DeliveryStatus.IGNORED, "The tracker does not list the item as an epic in scope.", None
        _mark(connection, known, TrackerAbsence.MOVED)
        return DeliveryStatus.PROCESSED, "The tracker no longer lists it in scope: marked moved.", known
    applied = apply_items(connection, [item], source=ChangeSource.WEBHOOK)
    epic = _known(connection, item.external_id)
    outcome = "created" if applied.created else "updated" if applied.updated else "unchanged"
    return DeliveryStatus.PROCESSED, f"Re-read {item.key or item.external_id} from the tracker: {outcome}.", epic


def _known(connection: Connection, external_id: str, key: str = "") -> Epic | None:
    epics = Epic.objects.filter(company=connection.company, tracker_connection_id=connection.pk)
    found = epics.filter(external_id=external_id).first() if external_id else None
    return found or (epics.filter(external_key=key).first() if key else None)


def _mark(connection: Connection, epic: Epic, reason: str) -> None:
    tracked_epics_mark_missing(
        company=connection.company, connection_id=connection.pk, external_ids=[epic.external_id], reason=reason
    )

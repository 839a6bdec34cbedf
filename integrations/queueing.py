"""Handing work to the broker so that none is lost while the broker is away.

A unit of work is a row first (a ``SyncRun``, a ``WebhookDelivery``) and a task message second.
The row is committed whatever the broker does; the message is sent after the commit. When the
broker cannot take it (Redis down, restarting, unreachable), the request that asked for the work
still succeeds, the row's ``sent_at`` is cleared and a dispatcher sends the task again once the
broker is back (``resend_stranded``). The same dispatcher sends again the rows whose message was
taken but never acted on within a while, as when a Redis without persistence restarts and forgets
its queue. Tasks claim their row with a conditional update, so a message sent twice acts once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import kombu.exceptions
import redis
import structlog
from celery import Task
from django.db import transaction
from django.db.models import Model, Q, QuerySet

logger = structlog.get_logger(__name__)

BROKER_ERRORS: tuple[type[Exception], ...] = (kombu.exceptions.OperationalError, redis.RedisError)
RESEND_BATCH = 500  # rows sent again per dispatcher tick at most; the next tick takes the rest


def send(task: Task, row_id: int) -> bool:
    """Queue ``task(row_id)`` now; False (and a warning) when the broker cannot take it."""
    try:
        task.delay(row_id)
    except BROKER_ERRORS as error:
        logger.warning("task_not_queued", task=task.name, row=row_id, error=str(error))
        return False
    return True


def send_on_commit(task: Task, row: Model) -> None:
    """Queue ``task(row.pk)`` once the current transaction commits; if the broker cannot take it, clear the
    row's ``sent_at`` so that the dispatcher sends it later."""
    model: Any = type(row)
    row_id = row.pk

    def _send() -> None:
        if not send(task, row_id):
            model._default_manager.filter(pk=row_id).update(sent_at=None)

    transaction.on_commit(_send)


def resend_stranded(task: Task, waiting: QuerySet[Any], *, now: datetime, sent_before: datetime | None = None) -> int:
    """Send ``task`` again for each row of ``waiting`` whose message never left (or, with ``sent_before``,
    left before then); stops at the first refusal, since the broker is still away. The number sent."""
    never_sent = Q(sent_at__isnull=True)
    stranded = waiting.filter(never_sent if sent_before is None else never_sent | Q(sent_at__lt=sent_before))
    sent: list[int] = []
    for row_id in stranded.order_by("pk").values_list("pk", flat=True)[:RESEND_BATCH]:
        if not send(task, row_id):
            break
        sent.append(row_id)
    if sent:
        waiting.model._default_manager.filter(pk__in=sent).update(sent_at=now)
        logger.info("tasks_sent_again", task=task.name, rows=len(sent))
    return len(sent)

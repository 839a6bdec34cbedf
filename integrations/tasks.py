"""Tracker sync, webhook and notification tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import Task, shared_task

from integrations.choices import DeliveryStatus
from integrations.deliveries import delivery_process, resend_stranded_deliveries
from integrations.outbound import dispatch_outbound
from integrations.reminders import dispatch_reminders
from integrations.sync import dispatch_due_syncs, sync_run


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1740)
def sync_connection_task(run_id: int) -> str:
    """Perform a queued sync run. Claiming is a conditional update, so a redelivered message does nothing."""
    return sync_run(run_id).status


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def dispatch_due_syncs_task() -> int:
    """Every minute: queue the connections whose interval has passed. A duplicate tick queues nothing more."""
    return dispatch_due_syncs()


@shared_task(bind=True, acks_late=True, time_limit=120, soft_time_limit=100, max_retries=4)
def process_delivery_task(self: Task, delivery_id: int) -> str:
    """Act on a stored webhook delivery; a busy tracker is tried again with growing waits (1, 2, 4, 8 min).

    A delivery already acted on is left alone, so redelivery is safe.
    """
    last_try = self.request.retries >= (self.max_retries or 0)
    delivery = delivery_process(delivery_id, retry_transient=not last_try)
    if delivery.status == DeliveryStatus.RECEIVED:
        raise self.retry(countdown=60 * 2**self.request.retries)
    return delivery.status


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def resend_stranded_deliveries_task() -> int:
    """Every minute: queue again the webhook deliveries whose task the broker never took or lost."""
    return resend_stranded_deliveries()


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def dispatch_reminders_task() -> int:
    """Every minute: plan due reminders and send the pending ones. Two ticks at once send nothing twice."""
    return dispatch_reminders().sent


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def dispatch_outbound_task() -> int:
    """Every minute: plan the companies' webhook events and send the due ones. Two ticks send nothing twice."""
    return dispatch_outbound().get("sent", 0)

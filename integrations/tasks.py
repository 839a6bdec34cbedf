"""Tracker sync tasks: they take a run id and call one service."""

from __future__ import annotations

from celery import shared_task

from integrations.deliveries import delivery_process
from integrations.sync import dispatch_due_syncs, sync_run


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1740)
def sync_connection_task(run_id: int) -> str:
    """Perform a queued sync run. Claiming is a conditional update, so a redelivered message does nothing."""
    return sync_run(run_id).status


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def dispatch_due_syncs_task() -> int:
    """Every minute: queue the connections whose interval has passed. A duplicate tick queues nothing more."""
    return dispatch_due_syncs()


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def process_delivery_task(delivery_id: int) -> str:
    """Act on a stored webhook delivery. A delivery already acted on is left alone, so redelivery is safe."""
    return delivery_process(delivery_id).status

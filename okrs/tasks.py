"""Keep the cached OKR figures current: statuses move with time even when no one checks in."""

from __future__ import annotations

from celery import shared_task

from okrs.choices import CycleStatus
from okrs.models import Cycle
from okrs.services import refresh_cycles


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def refresh_open_cycles() -> int:
    """Recompute every cycle that is not closed; idempotent, so a duplicate beat tick is harmless."""
    ids = Cycle.objects.exclude(status=CycleStatus.CLOSED).values_list("pk", flat=True)
    return refresh_cycles(list(ids))

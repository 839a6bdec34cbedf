"""Housekeeping tasks. Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.utils import timezone

from config.api.views import WORKER_HEARTBEAT_CACHE_KEY

HEARTBEAT_TTL_SECONDS = 15 * 60


@shared_task(acks_late=True, time_limit=30, soft_time_limit=20)
def record_worker_heartbeat() -> str:
    """Tell the health endpoint that a worker and beat are alive."""
    now = timezone.now().isoformat()
    cache.set(WORKER_HEARTBEAT_CACHE_KEY, now, HEARTBEAT_TTL_SECONDS)
    return now


@shared_task(acks_late=True, time_limit=300, soft_time_limit=270)
def clear_expired_sessions() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted

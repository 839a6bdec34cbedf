"""The Celery app and its one beat schedule.

Each periodic entry is a small dispatcher that finds due work in our own
tables; later apps add their dispatchers here.
"""

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_process_init, worker_ready
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("okr_outcomes")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "worker-heartbeat": {
        "task": "outcomes.tasks.record_worker_heartbeat",
        "schedule": float(settings.WORKER_HEARTBEAT_SECONDS),
    },
    "dispatch-tracker-syncs": {"task": "integrations.tasks.dispatch_due_syncs_task", "schedule": 60.0},
    "resend-stranded-deliveries": {"task": "integrations.tasks.resend_stranded_deliveries_task", "schedule": 60.0},
    "dispatch-reminders": {"task": "integrations.tasks.dispatch_reminders_task", "schedule": 60.0},
    "dispatch-outbound-webhooks": {"task": "integrations.tasks.dispatch_outbound_task", "schedule": 60.0},
    "refresh-okr-figures": {"task": "okrs.tasks.refresh_open_cycles", "schedule": crontab(minute=7)},
    "clear-expired-sessions": {"task": "outcomes.tasks.clear_expired_sessions", "schedule": crontab(hour=3, minute=17)},
}


@worker_process_init.connect
def _tune_collector(**kwargs: Any) -> None:
    """Each pool process, once it has loaded the service (see config/collector.py)."""
    from config.collector import tune_collector

    tune_collector()


@worker_ready.connect
def _report_in_at_start(sender: Any = None, **kwargs: Any) -> None:
    """Report a heartbeat as soon as a worker starts, not only at the first beat tick."""
    app.tasks["outcomes.tasks.record_worker_heartbeat"]()

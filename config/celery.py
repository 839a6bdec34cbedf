"""The Celery app and its one beat schedule.

Each periodic entry is a small dispatcher that finds due work in our own
tables; later apps add their dispatchers here.
"""

import os

from celery import Celery
from celery.schedules import crontab
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
    "clear-expired-sessions": {"task": "outcomes.tasks.clear_expired_sessions", "schedule": crontab(hour=3, minute=17)},
}

"""The garbage collector's settings in the service's processes (config/collector.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from config.collector import tune_collector

ROOT = Path(__file__).resolve().parent.parent


def test_tuning_freezes_what_is_alive_and_leaves_the_thresholds():
    threshold = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_freeze_count() > 10_000  # the loaded code and settings
        assert gc.get_threshold() == threshold
        cycle: list[object] = []
        cycle.append(cycle)  # cyclic garbage made afterwards is still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()


def test_the_web_application_tunes_the_collector_once_its_routes_are_loaded():
    probe = (
        "import gc, sys; import config.wsgi; "
        "sys.stdout.write(f'{gc.get_freeze_count()} {\"okrs.api.views\" in sys.modules}')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    found = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    frozen, views_loaded = found.stdout.split()
    assert int(frozen) > 50_000 and views_loaded == "True"


def test_each_celery_pool_process_tunes_the_collector():
    from celery.signals import worker_process_init

    from config import celery

    assert celery._tune_collector in [ref() for _, ref in worker_process_init.receivers]

"""The garbage collector's settings in the service's processes (config/collector.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from config.collector import GEN0_THRESHOLD, tune_collector

ROOT = Path(__file__).resolve().parent.parent


def test_tuning_freezes_what_is_alive_and_collects_the_young_less_often():
    threshold = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        tune_collector()
        assert gc.get_freeze_count() > 10_000  # the loaded code and settings
        assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
        cycle: list[object] = []
        cycle.append(cycle)  # cyclic garbage is still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_higher_threshold_set_elsewhere_is_kept():
    threshold = gc.get_threshold()
    try:
        gc.set_threshold(GEN0_THRESHOLD * 5, 10, 10)
        tune_collector()
        assert gc.get_threshold()[0] == GEN0_THRESHOLD * 5
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_web_application_tunes_the_collector_once_its_routes_are_loaded():
    probe = (
        "import gc, sys; import config.wsgi; "
        "sys.stdout.write(f'{gc.get_freeze_count()} {gc.get_threshold()[0]} {\"okrs.api.views\" in sys.modules}')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    found = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    frozen, threshold, views_loaded = found.stdout.split()
    assert int(frozen) > 50_000 and int(threshold) == GEN0_THRESHOLD and views_loaded == "True"


def test_each_celery_pool_process_tunes_the_collector():
    from celery.signals import worker_process_init

    from config import celery

    assert celery._tune_collector in [ref() for _, ref in worker_process_init.receivers]

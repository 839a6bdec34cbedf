"""Background work: task hygiene, and a real worker running tasks in both modes.

The embedded mode (no Redis) runs a worker with beat on the file-system broker;
production mode runs it on Redis. Both are real ``celery worker`` processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache

from config.api.views import WORKER_HEARTBEAT_CACHE_KEY
from config.celery import app

app.loader.import_default_modules()  # what a worker does at start: import every app's tasks
OUR_APPS = ("outcomes.", "okrs.", "epics.", "integrations.", "insights.")
OUR_TASKS = {name: task for name, task in app.tasks.items() if name.startswith(OUR_APPS)}


def test_our_tasks_are_registered():
    assert {"outcomes.tasks.record_worker_heartbeat", "outcomes.tasks.clear_expired_sessions"} <= set(OUR_TASKS)


@pytest.mark.parametrize("name", sorted(OUR_TASKS))
def test_every_task_acks_late_and_has_time_limits(name: str):
    task = OUR_TASKS[name]
    assert task.acks_late is True
    assert task.time_limit and task.soft_time_limit and task.soft_time_limit < task.time_limit


def test_beat_schedule_names_registered_tasks():
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} <= set(OUR_TASKS)


def test_worker_settings_survive_a_lost_worker():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


# --- real worker processes -------------------------------------------------------------
def _worker_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="true", DATA_DIR=str(data_dir), LOG_LEVEL="WARNING")
    env.update(extra)
    return env


@pytest.fixture
def start_worker() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", *args]
        process = subprocess.Popen(
            command,
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_for(read: Callable[[], Any], process: subprocess.Popen[bytes], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"worker exited with {process.returncode}:\n{output[-3000:]}")
        time.sleep(0.25)
    pytest.fail("the worker did not do the work in time")


def test_embedded_worker_with_beat_runs_the_schedule_without_redis(tmp_path, start_worker):
    """`make run` without services: beat fires the heartbeat on its own and the worker runs it."""
    env = _worker_env(tmp_path, WORKER_HEARTBEAT_SECONDS="2")
    worker = start_worker(env, "--beat", "--schedule", str(tmp_path / "beat-schedule"))
    cache = FileBasedCache(str(tmp_path / "cache"), {})
    at_start = _wait_for(lambda: cache.get(WORKER_HEARTBEAT_CACHE_KEY), worker)  # reported at start-up
    from_beat = _wait_for(lambda: (value := cache.get(WORKER_HEARTBEAT_CACHE_KEY)) != at_start and value, worker)
    assert from_beat > at_start


def test_embedded_worker_runs_a_task_sent_through_the_file_broker(tmp_path, start_worker):
    broker_dir = tmp_path / "celery-broker"
    (broker_dir / "processed").mkdir(parents=True)
    worker = start_worker(_worker_env(tmp_path))
    folders = {
        "data_folder_in": str(broker_dir),
        "data_folder_out": str(broker_dir),
        "control_folder": str(broker_dir / "control"),
    }
    sender = Celery(broker="filesystem://", broker_transport_options=folders)
    cache = FileBasedCache(str(tmp_path / "cache"), {})
    _wait_for(lambda: cache.get(WORKER_HEARTBEAT_CACHE_KEY), worker)  # the worker is up and reported in
    cache.delete(WORKER_HEARTBEAT_CACHE_KEY)
    sender.send_task("outcomes.tasks.record_worker_heartbeat")
    assert _wait_for(lambda: cache.get(WORKER_HEARTBEAT_CACHE_KEY), worker)


@pytest.mark.redis
@pytest.mark.worker
def test_redis_worker_runs_a_task(tmp_path, start_worker):
    redis_url = os.environ["REDIS_URL"]
    queue = f"test-{uuid.uuid4().hex[:8]}"  # a queue of our own: other workers on this Redis won't take it
    worker = start_worker(_worker_env(tmp_path, REDIS_URL=redis_url), "--queues", queue)
    cache = RedisCache(redis_url, {})
    _wait_for(lambda: cache.get(WORKER_HEARTBEAT_CACHE_KEY), worker)  # the worker is up and reported in
    cache.delete(WORKER_HEARTBEAT_CACHE_KEY)
    sender = Celery(broker=redis_url)
    sender.send_task("outcomes.tasks.record_worker_heartbeat", queue=queue)
    heartbeat = _wait_for(lambda: cache.get(WORKER_HEARTBEAT_CACHE_KEY), worker)
    assert heartbeat.startswith(str(time.gmtime().tm_year))

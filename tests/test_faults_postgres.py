"""PostgreSQL restarted under a running service: the next requests and tasks reconnect, none fails.

Production keeps database connections open between requests (``CONN_MAX_AGE``, 60 s by default)
and checks a kept connection before reusing it (``CONN_HEALTH_CHECKS``, always on): a connection cut
by a restart is replaced instead of failing the request. Each test copies its database into a
PostgreSQL cluster of its own (initdb in a temporary directory, a free port) and runs the service
under gunicorn against it, with the production settings; ``pg_ctl restart -m fast`` then cuts every
connection, as a failover or a maintenance restart would. The shared server is never touched.
"""

# ruff: noqa: F811 - fixtures imported from the modules that define them
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from tests.conftest import Cast
from tests.test_celery import _wait_for, _worker_env, start_worker  # noqa: F401
from tests.test_faults_services import (  # noqa: F401
    AppServer,
    PrivatePostgres,
    app_env,
    browser_session,
    private_postgres,
    start_app,
)
from tests.test_sync_worker import _database_url, _forget_queue

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

EPICS = "/api/v1/companies/alpha/epics/"
COPY = "okr_copy"


def app_backends(cluster: PrivatePostgres) -> set[str]:
    """The server processes serving the app's connections (not this query's own)."""
    rows = cluster.psql(
        COPY,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    return set(rows.split())


@pytest.fixture
def copied(private_postgres: PrivatePostgres, cast: Cast) -> tuple[PrivatePostgres, str]:
    """This test's database (with the cast and the owner's session) copied into the private cluster."""
    session = browser_session(cast.owner_a)
    private_postgres.copy_database(_database_url(), COPY)
    return private_postgres, session


def serve(start_app: Any, tmp_path: Path, cluster: PrivatePostgres, session: str, **extra: str) -> AppServer:
    (tmp_path / "app").mkdir(exist_ok=True)
    app: AppServer = start_app(app_env(tmp_path / "app", database_url=cluster.url(COPY), **extra))
    app.use_session(session)
    return app


def test_the_service_reconnects_after_a_restart_without_a_failed_request(copied, start_app, tmp_path, cast):
    cluster, session = copied
    app = serve(start_app, tmp_path, cluster, session)
    assert [app.get(EPICS).status_code for _ in range(3)] == [200, 200, 200]
    kept = app_backends(cluster)
    assert len(kept) == 1  # one gunicorn worker, one connection kept between requests
    assert [app.get(EPICS).status_code for _ in range(2)] == [200, 200] and app_backends(cluster) == kept

    cluster.restart()
    after = [
        app.get(EPICS).status_code,
        app.post(EPICS, json={"title": "Written after the restart", "owner": cast.owner_a.pk}).status_code,
        app.get(EPICS, params={"page_size": 100}).status_code,
        app.get("/api/v1/health/").status_code,
    ]

    assert after == [200, 201, 200, 200], app.output()
    assert app_backends(cluster).isdisjoint(kept)  # a new connection, not a restarted service
    assert app.process.poll() is None
    titles = {epic["title"] for epic in app.get(EPICS, params={"page_size": 100}).json()["results"]}
    assert "Written after the restart" in titles


def test_without_health_checks_the_first_request_after_a_restart_would_fail(copied, start_app, tmp_path):
    """What the setting buys: the same service with the check switched off loses the first request."""
    cluster, session = copied
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    (overrides / "settings_without_health_checks.py").write_text(
        "from config.settings import *  # noqa: F403\n"
        "from config.settings import DATABASES\n\n"
        'DATABASES["default"]["CONN_HEALTH_CHECKS"] = False\n'
    )
    pythonpath = os.pathsep.join(filter(None, [str(overrides), os.environ.get("PYTHONPATH", "")]))
    app = serve(
        start_app,
        tmp_path,
        cluster,
        session,
        DJANGO_SETTINGS_MODULE="settings_without_health_checks",
        PYTHONPATH=pythonpath,
    )
    assert app.get(EPICS).status_code == 200

    cluster.restart()

    assert [app.get(EPICS).status_code for _ in range(3)] == [500, 200, 200]


@pytest.mark.redis
@pytest.mark.worker
def test_a_worker_keeps_working_across_a_restart(copied, start_worker, tmp_path, settings, request):
    cluster, _ = copied
    redis_url = os.environ["REDIS_URL"]
    queue = f"test-pg-restart-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: _forget_queue(redis_url, queue))
    env = _worker_env(
        tmp_path,
        REDIS_URL=redis_url,
        DATABASE_URL=cluster.url(COPY),
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
    )
    worker = start_worker(env, "--queues", queue)
    sender = Celery(broker=redis_url)

    def sweep_removes(key: str) -> None:
        """Queue the session sweep and wait until it removed an expired session made for it."""
        insert = "INSERT INTO django_session VALUES (:'key', 'x', now() - interval '1 day')"
        cluster.psql(COPY, insert, key=key)
        sender.send_task("outcomes.tasks.clear_expired_sessions", queue=queue)
        left = "SELECT count(*) FROM django_session WHERE session_key = :'key'"
        _wait_for(lambda: cluster.psql(COPY, left, key=key) == "0", worker, timeout=90)

    sweep_removes("expired-before-the-restart")
    cluster.restart()
    sweep_removes("expired-after-the-restart")

    assert worker.poll() is None  # the same worker process did both

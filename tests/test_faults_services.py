"""Private services for the fault tests: a Redis, a PostgreSQL cluster and the web app, ours to break.

Nothing here touches the shared servers (PostgreSQL on 5432, Redis on 6379): each fault test starts
its own Redis or PostgreSQL on a free loopback port, points a real ``gunicorn`` (production settings,
read from the environment as in a deployment) and real Celery workers at it, and then stops, kills or
restarts only what it started. Every process is stopped in the fixture's teardown.

This module holds no tests; the fault tests import its fixtures.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.conf import settings
from django.test import Client

from outcomes.models import User


def _server_binaries() -> Path:
    """PostgreSQL's server programs (initdb, pg_ctl): $PG_BIN, else Debian's newest installed version."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else Path("/usr/lib/postgresql/bin")


PG_BIN = _server_binaries()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(read: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_group(process: subprocess.Popen[Any], *, grace: float = 15) -> None:
    """Stop a process started in its own session, and everything it started; kill what lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- Redis ------------------------------------------------------------------------------------------------
@dataclass
class PrivateRedis:
    """A redis-server of our own, configured as production should be: append-only file, no eviction.

    ``stop`` shuts it down (the append-only file keeps what it held, as on a deployment's restart) and
    ``start`` brings it back on the same port with the same data.
    """

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
        wait_until(self._answers, timeout=20, what=f"the private Redis on port {self.port}")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"the private Redis exited with {self.process.returncode}:\n{log}")
        try:
            return bool(self.client().ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        """Shut the server down as an operator would (SIGTERM): clients get connection refused from now on."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def down(self) -> bool:
        try:
            self.client().ping()
        except redis.exceptions.ConnectionError:
            return True
        return False


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on the PATH to start a private Redis")  # a failure under CI=true
    directory = Path(tempfile.mkdtemp(prefix="okr-faults-redis-"))
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            stop_group(server.process)
        shutil.rmtree(directory, ignore_errors=True)


# --- PostgreSQL -------------------------------------------------------------------------------------------
def _as_postgres(*command: str) -> list[str]:
    """A command run as the ``postgres`` OS user (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return list(command)
    runner = shutil.which("runuser")
    return [runner, "-u", "postgres", "--", *command] if runner else ["su", "postgres", "-c", " ".join(command)]


@dataclass
class PrivatePostgres:
    """A PostgreSQL 15 cluster of our own in a temporary directory: trust auth, loopback, its own socket dir."""

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        command = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"))
        subprocess.run([*command, "-o", options, "-w", "-t", "60", *args], check=True, capture_output=True)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, user="postgres", group="postgres")
        initdb = _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        subprocess.run([*initdb, "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        self._pg_ctl("start")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every open connection is cut, the server comes back on the same port."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("-m", "immediate", "stop")

    def psql(self, database: str, sql: str, **variables: str) -> str:
        """Run SQL on the cluster; ``:'name'`` in it is the quoted value of a keyword argument."""
        given = [f"--variable={name}={value}" for name, value in variables.items()]
        result = subprocess.run(
            ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", *given, self.url(database)],
            input=sql,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def copy_database(self, source_url: str, database: str) -> None:
        """A copy of a database of the shared server (read with pg_dump) as ``database`` on this cluster."""
        self.psql("postgres", f'CREATE DATABASE "{database}"')
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", source_url], check=True, capture_output=True
        ).stdout
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url(database)],
            input=dump,
            check=True,
            capture_output=True,
        )


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists() or shutil.which("pg_dump") is None:
        pytest.skip(
            f"needs PostgreSQL's server binaries (initdb in {PG_BIN}; set PG_BIN) and pg_dump"
        )  # a failure under CI=true
    directory = Path(tempfile.mkdtemp(prefix="okr-faults-pg-"))
    cluster = PrivatePostgres(directory)
    try:
        cluster.init()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


# --- the web app ------------------------------------------------------------------------------------------
def app_env(data_dir: Path, *, database_url: str, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a production deployment of this service, with the test's keys and services."""
    dropped = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_CONN_MAX_AGE"}
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=settings.SECRET_KEY,
        API_KEY_PEPPER=settings.API_KEY_PEPPER,
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        TRACKER_ALLOW_PRIVATE_URLS="true",
        DATABASE_URL=database_url,
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def browser_session(user: User) -> str:
    """A signed-in session for the person, stored in this test's database; its key is the cookie's value."""
    browser = Client()
    browser.force_login(user)
    return str(browser.cookies[settings.SESSION_COOKIE_NAME].value)


@dataclass
class AppServer:
    """The service under gunicorn in a process group of its own; ``session`` is a signed-in browser."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), timeout=30, **kwargs)

    def sign_in(self, user: User) -> None:
        """Sign the person in, in the database this test uses (which the app reads)."""
        self.use_session(browser_session(user))

    def use_session(self, session_key: str) -> None:
        """Send the session cookie, and a CSRF cookie and header pair for writes."""
        token = secrets.token_hex(16)  # 32 characters: a valid CSRF secret
        self.session.cookies.set(settings.SESSION_COOKIE_NAME, session_key)
        self.session.cookies.set(settings.CSRF_COOKIE_NAME, token)
        self.session.headers.update({"X-CSRFToken": token, "Referer": self.url("/")})

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_app() -> Iterator[Callable[[dict[str, str]], AppServer]]:
    started: list[AppServer] = []

    def start(env: dict[str, str]) -> AppServer:
        port = free_port()
        log = Path(env["DATA_DIR"]) / f"gunicorn-{port}.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--error-logfile",
            "-",
        ]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command, env=env, cwd=settings.BASE_DIR, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = AppServer(process, port, log)
        started.append(server)

        def answers() -> bool:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{server.output()}")
            try:
                return requests.get(server.url("/api/v1/health/"), timeout=30).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                return False

        wait_until(answers, timeout=90, what="the web app to answer its health check", every=0.5)
        return server

    yield start
    for server in started:
        stop_group(server.process)

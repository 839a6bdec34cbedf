"""Benchmark: tracker webhook intake under load, through the real service and a real Redis broker.

    python bench/intake.py [--deliveries 5000] [--duplicates 250] [--concurrency 8]

Runs the service as production does (gunicorn, 2 sync workers, DEBUG off, throw-away secrets,
PostgreSQL, Redis as cache and Celery broker) and posts signed deliveries from the four trackers
(real fixture payloads with their ids varied) over loopback. No Celery worker runs: every task the
intake queues stays in the Redis list of the ``celery`` queue, where it is counted. Reports:

* throughput (deliveries/s) and latency percentiles seen by the client, and every non-2xx answer;
* nothing lost: stored deliveries == unique deliveries sent, each retried delivery id stored once,
  one queued task per stored delivery (the queued delivery ids are read back from Redis);
* queries per delivery (new, retried, refused), measured once in-process;
* the client's own ceiling (the same client against a stub server that answers at once) and its
  CPU time, to show the client is not what limits the figures.

The service answers plain http on loopback with ``BEHIND_TLS_PROXY=true`` and the
``X-Forwarded-Proto: https`` header a TLS proxy adds, exactly as in production behind one.

Uses ``BENCH_BG_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/okr_bench_bg``; created
if missing, emptied at every run, so its name must start with ``okr_bench``) and ``BENCH_REDIS_URL``
(default ``redis://127.0.0.1:6379/9``; the whole Redis database is flushed before and after).
Writes the tables to ``var/bench/intake.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import logging
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, free_port, service_env, table

FIXTURES = ROOT / "tests" / "fixtures" / "trackers"
OUT = ROOT / "var" / "bench"
DATABASE_URL = os.environ.get("BENCH_BG_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/okr_bench_bg")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


# The proxy's X-Forwarded-Proto: https makes plain http on loopback secure.
os.environ.update(service_env(DATABASE_URL, REDIS_URL, BEHIND_TLS_PROXY="true", LOG_FORMAT="json"))
ensure_database(DATABASE_URL)

import warnings

import django

warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")  # static files
django.setup()

import redis
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.models import Connection, WebhookDelivery
from integrations.secrets import encrypt
from integrations.status_maps import DEFAULTS
from outcomes.models import Company, Membership, User

SIGNATURES: dict[str, Any] = json.loads((FIXTURES / "webhook_signatures.json").read_bytes())
BODIES = {
    "github": json.loads((FIXTURES / "github_webhook_issues_closed.json").read_bytes()),
    "jira": json.loads((FIXTURES / "jira_webhook_issue_updated.json").read_bytes()),
    "gitlab": json.loads((FIXTURES / "gitlab_webhook_issue.json").read_bytes()),
    "linear": json.loads((FIXTURES / "linear_webhook_issue_update.json").read_bytes()),
}
SECRETS = {
    "github": SIGNATURES["github"]["secret"],
    "jira": SIGNATURES["jira"]["secret"],
    "gitlab": SIGNATURES["gitlab"]["secret_token"],
    "linear": SIGNATURES["linear"]["secret"],
}
KINDS = tuple(BODIES)
QUEUE = "celery"  # the default queue: the Redis list every process_delivery_task message lands in


# --- the deliveries ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    """One delivery as a tracker sends it: a connection, a delivery id and the n-th item of that tracker."""

    kind: str
    connection_id: int
    delivery_id: str
    n: int
    retry: bool = False

    def request(self) -> tuple[bytes, dict[str, str]]:
        """Body and headers, signed now (Linear signs the time it sent the delivery)."""
        payload = json.loads(json.dumps(BODIES[self.kind]))
        secret = SECRETS[self.kind]
        headers = {"Content-Type": "application/json", "Host": "127.0.0.1", "X-Forwarded-Proto": "https"}
        if self.kind == "github":
            payload["issue"].update(id=500_000_000 + self.n, number=self.n)
            body = json.dumps(payload).encode()
            headers |= {
                "X-GitHub-Event": "issues",
                "X-GitHub-Delivery": self.delivery_id,
                "X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body),
                "User-Agent": "GitHub-Hookshot/044aadd",
            }
        elif self.kind == "jira":
            payload["issue"].update(id=str(200_000 + self.n), key=f"PROJ-{self.n}")
            body = json.dumps(payload).encode()
            headers |= {
                "X-Atlassian-Webhook-Identifier": self.delivery_id,
                "X-Hub-Signature": "sha256=" + hex_hmac(secret, body),
            }
        elif self.kind == "gitlab":
            payload["object_attributes"].update(id=300_000 + self.n, iid=self.n)
            body = json.dumps(payload).encode()
            headers |= {"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": secret, "Idempotency-Key": self.delivery_id}
        else:
            payload["data"]["id"] = str(uuid.UUID(int=self.n))
            payload["webhookTimestamp"] = int(time.time() * 1000)
            body = json.dumps(payload).encode()
            headers |= {
                "Linear-Event": "Issue",
                "Linear-Delivery": self.delivery_id,
                "Linear-Signature": hex_hmac(secret, body),
            }
        return body, headers


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def plan(connections: dict[str, int], unique: int, retries: int, seed: int = 7) -> list[Delivery]:
    """``unique`` deliveries spread over the trackers, and ``retries`` of them sent again later in the stream.

    A retry lands anywhere after its original, often right behind it, so that some race it on
    another connection.
    """
    rng = random.Random(seed)
    kinds = [KINDS[n % len(KINDS)] for n in range(unique)]
    originals = [
        Delivery(kind, connections[kind], str(uuid.UUID(int=rng.getrandbits(128), version=4)), n)
        for n, kind in enumerate(kinds)
    ]
    placed = [(float(n), d) for n, d in enumerate(originals)]
    for n in rng.sample(range(unique), retries):
        gap = rng.choice([1.5, 2.5, 3.5, rng.uniform(1, max(1.0, unique - n))])
        placed.append((n + gap, Delivery(**{**originals[n].__dict__, "retry": True})))
    return [d for _, d in sorted(placed, key=lambda pair: pair[0])]


# --- the data ------------------------------------------------------------------------------------------------
def setup() -> dict[str, int]:
    """An empty database with one company and a connection per tracker, each with its webhook secret."""
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    company = Company.objects.create(name="Bench intake", slug="bench-intake")
    owner = User.objects.create_user("owner@bench-intake.example")
    Membership.objects.create(user=owner, company=company, role="owner")
    credentials = {
        "github": {"token": "ghp_bench_token_0123456789"},
        "jira": {"email": "bot@bench-intake.example", "api_token": "bench-jira-token-0123"},
        "gitlab": {"token": "glpat-bench-token-0123456789"},
        "linear": {"api_key": "lin_api_bench_key_0123456789"},
    }
    scopes = {
        "github": {"repositories": ["Codertocat/Hello-World"], "label": "epic"},
        "jira": {"jql": "project = PROJ AND issuetype = Epic"},
        "gitlab": {"group": "7"},
        "linear": {},
    }
    made = {}
    for kind in KINDS:
        made[kind] = Connection.objects.create(
            company=company,
            name=f"Bench {kind}",
            kind=kind,
            base_url="https://tracker.bench.example",
            credentials_encrypted=encrypt(credentials[kind]),
            webhook_secret_encrypted=encrypt({"secret": SECRETS[kind]}),
            scope=scopes[kind],
            status_map=DEFAULTS[kind],
            default_owner=owner,
        ).pk
    return made


# --- queries per delivery, in-process ------------------------------------------------------------------------
TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def queries_per_delivery(connections: dict[str, int]) -> dict[str, tuple[str, str, str]]:
    """(new, retried, refused) queries of one delivery per tracker, through the whole Django stack.

    Each as "queries (statements)": statements leave out the transaction's BEGIN and COMMIT or ROLLBACK.
    """
    client = Client()
    counts = {}
    logging.disable(logging.WARNING)  # the refused deliveries' log lines
    for n, kind in enumerate(KINDS):
        delivery = Delivery(kind, connections[kind], f"in-process-{kind}", 1_000_000 + n)
        post(client, delivery)  # warm: the first request of a process loads what later ones reuse
        fresh = Delivery(kind, connections[kind], f"in-process-{kind}-2", 1_000_100 + n)
        measured = []
        for target, tamper, expected in ((fresh, False, 202), (fresh, False, 200), (fresh, True, 401)):
            with CaptureQueriesContext(connection) as queries:
                status = post(client, target, tamper=tamper)
            assert status == expected, (kind, status, expected)
            statements = [q for q in queries.captured_queries if not q["sql"].startswith(TRANSACTION)]
            measured.append(f"{len(queries)} ({len(statements)})")
        counts[kind] = (measured[0], measured[1], measured[2])
    logging.disable(logging.NOTSET)
    WebhookDelivery.objects.all().delete()
    return counts


def post(client: Client, delivery: Delivery, *, tamper: bool = False) -> int:
    body, headers = delivery.request()
    if tamper and delivery.kind == "gitlab":
        headers["X-Gitlab-Token"] += "x"  # GitLab sends the secret itself
    elif tamper:
        body = body.replace(b"{", b"{ ", 1)  # one byte more than was signed
    extra = {name: value for name, value in headers.items() if name not in {"Content-Type", "Host"}}
    response = client.post(
        f"/api/v1/hooks/{delivery.connection_id}/",
        data=body,
        content_type=headers["Content-Type"],
        headers=extra,
        HTTP_HOST="127.0.0.1",
    )
    return response.status_code


# --- the load ------------------------------------------------------------------------------------------------
@dataclass
class Answer:
    delivery: Delivery
    status: int
    seconds: float
    duplicate: bool | None


@dataclass
class Load:
    answers: list[Answer] = field(default_factory=list)
    wall: float = 0.0
    client_cpu: float = 0.0
    connects: int = 0

    @property
    def rate(self) -> float:
        return len(self.answers) / self.wall

    def percentile(self, q: float) -> float:
        ordered = sorted(a.seconds for a in self.answers)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def fire(port: int, stream: list[Delivery], concurrency: int) -> Load:
    """Send the stream over ``concurrency`` persistent connections, each request as soon as the last answered."""
    work: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
    for delivery in stream:
        work.put(delivery)
    for _ in range(concurrency):
        work.put(None)
    load = Load()
    lock = threading.Lock()

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connects, mine = 0, []
        while (delivery := work.get()) is not None:
            body, headers = delivery.request()
            if conn.sock is None:
                connects += 1
            started = time.perf_counter()
            try:
                conn.request("POST", f"/api/v1/hooks/{delivery.connection_id}/", body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (ConnectionError, http.client.HTTPException):  # the server closed a kept-alive connection
                conn.close()
                connects += 1
                conn.request("POST", f"/api/v1/hooks/{delivery.connection_id}/", body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            elapsed = time.perf_counter() - started
            duplicate = json.loads(raw).get("duplicate") if response.status in (200, 202) else None
            mine.append(Answer(delivery, response.status, elapsed, duplicate))
            if response.will_close:
                conn.close()
        conn.close()
        with lock:
            load.answers += mine
            load.connects += connects

    threads = [threading.Thread(target=sender) for _ in range(concurrency)]
    cpu, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.wall = time.perf_counter() - started
    load.client_cpu = time.process_time() - cpu
    return load


# --- the client's ceiling ------------------------------------------------------------------------------------
class _Instant(BaseHTTPRequestHandler):
    """Answers every POST at once, as a service that did nothing would; keeps connections open."""

    protocol_version = "HTTP/1.1"
    body = b'{"delivery_id": "x", "status": "received", "duplicate": false}'

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        head = f"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
        self.wfile.write(head.encode() + self.body)  # one segment: no wait on the client's delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        return


def _serve_instantly(listener: socket.socket) -> None:
    server = ThreadingHTTPServer(listener.getsockname(), _Instant, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.serve_forever()


def ceiling(stream: list[Delivery], concurrency: int) -> Load:
    """The same client against a stub in another process: how fast the client alone can go."""
    listener = socket.create_server(("127.0.0.1", 0))
    stub = get_context("fork").Process(target=_serve_instantly, args=(listener,), daemon=True)
    stub.start()
    try:
        return fire(listener.getsockname()[1], stream, concurrency)
    finally:
        stub.terminate()
        stub.join()
        listener.close()


# --- the service ---------------------------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of a process so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def backends(database: str) -> list[int]:
    """PostgreSQL server processes serving ``database`` (their process title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
                found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds the service's processes spend while the load runs, sampled from /proc.

    Processes that start during the run (a database connection renewed after its maximum age)
    count from when they are first seen; ones that end count up to their last sample.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                seconds = cpu_of(pid)
                if seconds is not None:
                    self.first.setdefault((name, pid), seconds)
                    self.last[(name, pid)] = seconds

    def _run(self) -> None:
        while not self.done.wait(0.25):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._sample()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self._sample()

    def seconds(self, name: str) -> float:
        return sum(self.last[key] - self.first[key] for key in self.last if key[0] == name)


def gunicorn(port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    with log.open("wb") as output:
        env = os.environ | {"LOG_LEVEL": "INFO"}  # the level production runs at
        server = subprocess.Popen(  # noqa: S603 - our own command line
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped at start:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health/", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def warm(port: int, connections: dict[str, int]) -> None:
    """A few deliveries so both workers have loaded the app and opened their connections; then forgotten."""
    extra = [Delivery(kind, connections[kind], f"warm-{kind}-{n}", 2_000_000 + n) for n in range(8) for kind in KINDS]
    load = fire(port, extra, 4)
    assert all(a.status == 202 for a in load.answers), Counter(a.status for a in load.answers)


# --- what reached Redis --------------------------------------------------------------------------------------
def queued_delivery_pks(broker: redis.Redis) -> list[int]:
    """The delivery id of every process_delivery_task message waiting in the queue (and its priority lists)."""
    pks: list[int] = []
    for key in broker.scan_iter(match=f"{QUEUE}*"):
        if broker.type(key) != b"list":
            continue
        for raw in broker.lrange(key, 0, -1):
            message = json.loads(raw)
            assert message["headers"]["task"] == "integrations.tasks.process_delivery_task", message["headers"]
            args, _, _ = json.loads(_decode(message["body"], message["properties"].get("body_encoding")))
            pks.append(int(args[0]))
    return pks


def _decode(body: str, encoding: str | None) -> bytes:
    import base64

    return base64.b64decode(body) if encoding == "base64" else body.encode()


# --- the report ----------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=5_000, help="Unique deliveries (spread over 4 trackers).")
    parser.add_argument("--duplicates", type=int, default=None, help="Deliveries sent twice (default: 5%%).")
    parser.add_argument("--concurrency", type=int, default=8, help="Client connections sending at once.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers.")
    parser.add_argument("--out", type=Path, default=OUT / "intake.md")
    args = parser.parse_args()
    retries = args.deliveries // 20 if args.duplicates is None else args.duplicates

    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    connections = setup()
    per_delivery = queries_per_delivery(connections)
    broker.flushdb()
    stream = plan(connections, args.deliveries, retries)

    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = gunicorn(port, args.workers, OUT / "intake-gunicorn.log")
    try:
        warm(port, connections)
        WebhookDelivery.objects.all().delete()
        broker.delete(*list(broker.scan_iter(match=f"{QUEUE}*")) or ["-"])
        database = str(connection.settings_dict["NAME"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            mine = cursor.fetchone()[0]
        meter = CpuMeter(
            {"web": lambda: children(server.pid), "database": lambda: [p for p in backends(database) if p != mine]}
        )
        with meter:
            load = fire(port, stream, args.concurrency)
    finally:
        stop(server)
    stub = ceiling(stream, args.concurrency)

    statuses = Counter(a.status for a in load.answers)
    non_2xx = sum(n for status, n in statuses.items() if not 200 <= status < 300)
    stored = WebhookDelivery.objects.count()
    unique_ids = {(d.connection_id, d.delivery_id) for d in stream}
    stored_ids = set(WebhookDelivery.objects.values_list("connection_id", "delivery_id"))
    retried = {(d.connection_id, d.delivery_id) for d in stream if d.retry}
    retried_rows = Counter(
        (c, i)
        for c, i in WebhookDelivery.objects.filter(delivery_id__in=[i for _, i in retried]).values_list(
            "connection_id", "delivery_id"
        )
    )
    pks = queued_delivery_pks(broker)
    stored_pks = set(WebhookDelivery.objects.values_list("pk", flat=True))
    broker.flushdb()
    answered_new = sum(1 for a in load.answers if a.duplicate is False)
    answered_dup = sum(1 for a in load.answers if a.duplicate is True)
    checks = [
        ("answers received", len(stream), len(load.answers)),
        ("non-2xx answers", 0, non_2xx),
        ("stored deliveries == unique deliveries sent", len(unique_ids), stored),
        ("stored (connection, delivery id) == those sent", len(unique_ids), len(stored_ids & unique_ids)),
        ("retried delivery ids stored once", len(retried), sum(1 for n in retried_rows.values() if n == 1)),
        ("answered 202 new / 200 duplicate", f"{len(unique_ids)} / {retries}", f"{answered_new} / {answered_dup}"),
        ("tasks queued in Redis == stored deliveries", stored, len(pks)),
        ("queued delivery pks == stored pks, each once", len(stored_pks), len(set(pks) & stored_pks)),
    ]
    ok = all(str(want) == str(got) for _, want, got in checks) and len(set(pks)) == len(pks)

    by_kind = Counter(d.kind for d in stream)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Webhook intake (`bench/intake.py`)",
        "",
        f"{when}; gunicorn {args.workers} sync workers, DEBUG off, PostgreSQL "
        f"{getattr(connection, 'pg_version', 0) // 10000}, Redis broker (no worker: tasks stay queued); client "
        f"{args.concurrency} connections (Python threads, http.client) on the same 2 shared cores.",
        "",
        *table(
            ["sent", "of which retries", "trackers", "wall", "deliveries/s", "p50", "p95", "p99", "max", "non-2xx"],
            [
                [
                    f"{len(stream):,}",
                    f"{retries:,}",
                    ", ".join(f"{k} {by_kind[k]:,}" for k in KINDS),
                    f"{load.wall:.1f} s",
                    f"{load.rate:,.0f}",
                    f"{load.percentile(0.50):.1f} ms",
                    f"{load.percentile(0.95):.1f} ms",
                    f"{load.percentile(0.99):.1f} ms",
                    f"{load.percentile(1.0):.1f} ms",
                    f"{non_2xx}",
                ]
            ],
            right_from=3,
        ),
        "",
        *table(["check", "expected", "measured"], [[name, f"{w}", f"{g}"] for name, w, g in checks]),
        "",
        *table(
            ["tracker", "queries (statements): new delivery", "retried delivery", "refused (bad signature)"],
            [[kind, *per_delivery[kind]] for kind in KINDS],
        ),
        "",
        *table(
            ["client check", "deliveries/s", "p50", "client CPU / wall"],
            [
                [
                    "against the service",
                    f"{load.rate:,.0f}",
                    f"{load.percentile(0.5):.1f} ms",
                    f"{load.client_cpu:.1f} s / {load.wall:.1f} s ({load.client_cpu / load.wall:.0%} of a core)",
                ],
                [
                    "against a stub that answers at once",
                    f"{stub.rate:,.0f}",
                    f"{stub.percentile(0.5):.1f} ms",
                    f"{stub.client_cpu:.1f} s / {stub.wall:.1f} s ({stub.client_cpu / stub.wall:.0%} of a core)",
                ],
            ],
        ),
        "",
        f"Service CPU per delivery: gunicorn workers {meter.seconds('web') / len(stream) * 1000:.1f} ms, "
        f"PostgreSQL {meter.seconds('database') / len(stream) * 1000:.1f} ms "
        f"({meter.seconds('web') + meter.seconds('database'):.1f} s of CPU in {load.wall:.1f} s of wall on 2 cores). "
        f"Connections opened by the client: {load.connects:,} for {len(stream):,} requests "
        "(gunicorn's sync workers close the connection after each answer).",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    args.out.write_text(report)
    print(f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if not ok:
        raise SystemExit("intake lost, duplicated or refused deliveries: see the checks above")


if __name__ == "__main__":
    main()

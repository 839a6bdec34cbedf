"""Benchmark: the read API on PostgreSQL, in-process and over HTTP on gunicorn, at three sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/okr_bench_api REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/api.py [--sizes S,M,L] [--runs 15] [--duration 5] [--profile]

The database is emptied first (its name must contain "bench"), then one company per size is built
(``bench/data.py``). Per size:

* the cycle roll-up and every insight: the queries of one request; the in-process time of a request
  through Django's test client (middleware, API-key authentication, throttle, view, JSON) against its
  **floor** (``bench/floors.py``: the same rows with plain SQL, dumped to JSON), both sampled in turn;
  and the latency over HTTP, sequential requests after a warm-up;
* list endpoints (objectives, key results, a key result's check-ins, epics) at page_size 10 and 50,
  and a trivial DRF route (``bench/urls.py``), under a bounded concurrent load with wrk: throughput
  and p50/p95/p99 latency; any non-2xx answer or socket error fails the run;
* deep pages of the lists read by cursor (epics, newest first and by finish date, unknown last): a page
  half-way through the list against the first page, in-process, and what page numbers would cost at the
  same depth (``COUNT(*)`` and ``OFFSET``, plain SQL only);
* the peak resident memory (VmHWM) of each gunicorn worker after the runs.

Then how each cost grows from S to M to L against the growth of the data. The tables are printed as
markdown and written to var/bench/api.md; with ``--profile``, a cProfile of every endpoint over 3x its
floor goes to var/bench/profiles/.

The server: gunicorn, 2 sync workers, on 127.0.0.1 and a free port, with the production settings read
from the environment (DEBUG off, throw-away SECRET_KEY and API_KEY_PEPPER, ALLOWED_HOSTS=127.0.0.1,
persistent database connections, Redis for the cache and throttles when REDIS_URL is set). There is
no TLS proxy on loopback, so SECURE_SSL_REDIRECT is off; the throttle runs with a budget no run reaches.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import itertools
import json
import os
import platform
import pstats
import re
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "bench"
WORKERS = 2

if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    raise SystemExit(
        "bench/api.py measures on PostgreSQL: set DATABASE_URL=postgres://…/<a database whose name contains 'bench'>"
        " (e.g. createdb -h 127.0.0.1 -U postgres okr_bench_api)"
    )
# The benchmark process and its server share these, so the API key made here is valid there.
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "API_KEY_PEPPER": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_CONN_MAX_AGE": "600",
        "API_THROTTLE_AUTHENTICATED": "100000/s",
    }
)

import django
from django.conf import settings

django.setup()
settings.ROOT_URLCONF = "bench.urls"  # as in bench/wsgi.py, the server's application

import gunicorn  # type: ignore[import-untyped]
import psycopg
import rest_framework
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone

from bench.common import free_port, table
from bench.data import SIZES, BenchCompany, build_company, describe, reset_database
from bench.floors import FLOORS, Scope
from config.collector import tune_collector
from epics.models import Epic
from insights.periods import default_period

get_resolver().url_patterns  # noqa: B018 - the routes loaded, as in the server's workers (bench/wsgi.py)
tune_collector()  # the collector as the server's workers have it (config/collector.py)

INSIGHTS = ["rollup", "realisation", "outcome-debt", "alignment", "flow", "investment", "calibration"]
LISTS = ["objectives", "key-results", "check-ins", "epics"]
PAGE_SIZES = [10, 50]
TARGET_RATIO = 3.0

WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d p50=%d p95=%d p99=%d max=%d connect=%d read=%d "
    .. "write=%d status=%d timeout=%d\\n", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


# --- results --------------------------------------------------------------------------------------
@dataclass
class Read:
    """One read endpoint at one size."""

    size: str
    name: str
    queries: int = 0
    kib: float = 0.0
    inprocess: list[float] = field(default_factory=list)  # ms
    floor: list[float] = field(default_factory=list)
    http: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return p(self.inprocess, 50) / p(self.floor, 50)


@dataclass
class Load:
    """One URL under wrk at one size."""

    size: str
    name: str
    page_size: int | None
    queries: int | None
    requests: int = 0
    seconds: float = 0.0
    p50: float = 0.0  # ms
    p95: float = 0.0
    p99: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Deep:
    """A page of a cursor list far from its start, against its first page."""

    size: str
    name: str
    depth: int  # rows before the deep page
    first: list[float] = field(default_factory=list)  # ms, in-process
    deep: list[float] = field(default_factory=list)
    offset: list[float] = field(default_factory=list)  # ms, COUNT(*) + OFFSET at the same depth, SQL only
    first_queries: int = 0
    deep_queries: int = 0


@dataclass
class Run:
    companies: dict[str, BenchCompany] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)
    deeps: list[Deep] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    memory: dict[str, list[int]] = field(default_factory=dict)  # size -> VmHWM of each worker, KiB
    baseline: dict[str, float] = field(default_factory=dict)  # size -> in-process p50 of the company detail, ms
    failures: list[str] = field(default_factory=list)


def p(samples: list[float], percent: int) -> float:
    """Percentile, interpolated between the samples around it (p50 is the median)."""
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def ms(seconds: float) -> float:
    return seconds * 1000


# --- in-process -----------------------------------------------------------------------------------
def client_for(bench: BenchCompany) -> Client:
    return Client(headers={"Authorization": f"Bearer {bench.api_key}", "Host": "127.0.0.1"})


def read_paths(bench: BenchCompany) -> dict[str, str]:
    base = f"/api/v1/companies/{bench.company.slug}"
    paths = {"rollup": f"{base}/cycles/{bench.cycle.pk}/rollup/"}
    paths |= {f"insights/{name}": f"{base}/insights/{name}/" for name in INSIGHTS}
    return paths


def list_paths(bench: BenchCompany, page_size: int) -> dict[str, str]:
    base = f"/api/v1/companies/{bench.company.slug}"
    paths = {
        "objectives": f"{base}/objectives/",
        "key-results": f"{base}/key-results/",
        "check-ins": f"{base}/key-results/{bench.busiest_key_result}/check-ins/",
        "epics": f"{base}/epics/",
    }
    return {name: f"{path}?page_size={page_size}" for name, path in paths.items()}


def get_ok(client: Client, path: str) -> bytes:
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.content[:300]!r}")
    return response.content


def count_queries(client: Client, path: str) -> int:
    get_ok(client, path)  # warm: the key's last use is recorded at most once a minute
    with CaptureQueriesContext(connection) as queries:
        get_ok(client, path)
    return len(queries)


def measure_in_process(bench: BenchCompany, runs: int, run: Run) -> None:
    client = client_for(bench)
    company = bench.company
    scope = Scope(company, bench.cycle, default_period(company, timezone.localdate(timezone=_zone(bench))))
    # What any company request costs before its read model: middleware, key, company, throttle, a tiny JSON.
    baseline = f"/api/v1/companies/{company.slug}/"
    get_ok(client, baseline)
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        get_ok(client, baseline)
        samples.append(ms(time.perf_counter() - began))
    run.baseline[bench.size] = p(samples, 50)
    for name, path in read_paths(bench).items():
        floor = FLOORS[name]
        read = Read(bench.size, name, queries=count_queries(client, path))
        read.kib = len(get_ok(client, path)) / 1024
        floor(scope)  # warm
        for _ in range(runs):  # in turn, so both see the same load on the machine
            began = time.perf_counter()
            get_ok(client, path)
            read.inprocess.append(ms(time.perf_counter() - began))
            began = time.perf_counter()
            floor(scope)
            read.floor.append(ms(time.perf_counter() - began))
        run.reads.append(read)


DEEP_PAGE_SIZE = 50
DEEP_LISTS = {"epics": "", "epics by done_at": "&ordering=done_at"}
OFFSET_ORDER = {"epics": "created DESC, id DESC", "epics by done_at": "done_at ASC NULLS LAST, id ASC"}


def measure_deep_pages(bench: BenchCompany, runs: int, run: Run) -> None:
    """The page half-way through each list, reached by following ``next`` as a client does."""
    client = client_for(bench)
    base = f"/api/v1/companies/{bench.company.slug}/epics/?page_size={DEEP_PAGE_SIZE}"
    table_name = Epic._meta.db_table
    company = bench.company.pk
    depth = Epic.objects.filter(company=company).count() // 2 // DEEP_PAGE_SIZE * DEEP_PAGE_SIZE
    for name, extra in DEEP_LISTS.items():
        first_path = base + extra
        path = first_path
        for _ in range(depth // DEEP_PAGE_SIZE):
            path = json.loads(get_ok(client, path))["next"].removeprefix("http://127.0.0.1")
        deep = Deep(bench.size, name, depth)
        deep.first_queries, deep.deep_queries = count_queries(client, first_path), count_queries(client, path)
        page_numbers = [  # what PageNumberPagination runs for the same page
            (f"SELECT COUNT(*) FROM {table_name} WHERE company_id = %s", [company]),
            (
                f"SELECT * FROM {table_name} WHERE company_id = %s ORDER BY {OFFSET_ORDER[name]} LIMIT %s OFFSET %s",
                [company, DEEP_PAGE_SIZE, depth],
            ),
        ]
        for _ in range(runs):
            for target, samples in ((first_path, deep.first), (path, deep.deep)):
                began = time.perf_counter()
                get_ok(client, target)
                samples.append(ms(time.perf_counter() - began))
            began = time.perf_counter()
            with connection.cursor() as cursor:
                for statement, args in page_numbers:
                    cursor.execute(statement, args)
                    cursor.fetchall()
            deep.offset.append(ms(time.perf_counter() - began))
        run.deeps.append(deep)


def settle() -> None:
    """Write the freshly loaded pages out before measuring, so that the first size measured does not
    share the machine with the checkpointer flushing the bulk load."""
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    time.sleep(2)


def _zone(bench: BenchCompany) -> ZoneInfo:
    return ZoneInfo(bench.company.timezone)


def profile(bench: BenchCompany, name: str, path: str) -> Path:
    """cProfile of one in-process request: where the time goes."""
    client = client_for(bench)
    get_ok(client, path)
    profiler = cProfile.Profile()
    profiler.enable()
    get_ok(client, path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    target = OUT / "profiles" / f"{bench.size}-{name.replace('/', '-')}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(out.getvalue())
    return target


# --- the server -----------------------------------------------------------------------------------
class Server:
    """gunicorn with the benchmark's settings, on 127.0.0.1 and a free port."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bench.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--timeout",
                "300",
                "--chdir",
                str(ROOT),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn stopped at start: see {log}")
            try:
                if self.get("/bench/ping/", "")[0] == 200 and len(self.workers()) == WORKERS:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer within 60 s: see {log}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, key: str) -> tuple[int, float, bytes]:
        """One request on a new connection (sync workers close each one): status, seconds, body."""
        began = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        return response.status, time.perf_counter() - began, body

    def workers(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    found.append(int(entry.name))
        return sorted(found)

    def peak_memory(self) -> list[int]:
        """VmHWM (peak resident set, KiB) of each worker."""
        peaks = []
        for pid in self.workers():
            status = Path(f"/proc/{pid}/status").read_text()
            found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            peaks.append(int(found.group(1)) if found else 0)
        return peaks

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def measure_http(server: Server, bench: BenchCompany, runs: int, run: Run) -> None:
    reads = {read.name: read for read in run.reads if read.size == bench.size}
    for name, path in read_paths(bench).items():
        for attempt in range(2 + runs):  # two to warm each worker's code paths
            status, seconds, body = server.get(path, bench.api_key)
            if status != 200:
                run.failures.append(f"{bench.size} {name}: HTTP {status} {body[:200]!r}")
                break
            if attempt >= 2:
                reads[name].http.append(ms(seconds))


def wrk(server: Server, path: str, key: str, duration: int, connections: int, script: Path) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "30s"]
    command += ["-s", str(script), "-H", f"Authorization: Bearer {key}", server.base + path]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    found = re.search(r"^BENCH (.*)$", output, re.MULTILINE)
    if found is None:
        raise SystemExit(f"wrk printed no summary:\n{output}")
    figures = {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    figures["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    figures["socket"] = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return figures


def measure_load(server: Server, bench: BenchCompany, duration: int, connections: int, run: Run) -> None:
    script = OUT / "wrk-summary.lua"
    script.write_text(WRK_SCRIPT)
    client = client_for(bench)
    targets: list[tuple[str, int | None, str, int | None]] = [("ping", None, "/bench/ping/", 0)]
    for size_of_page in PAGE_SIZES:
        for name, path in list_paths(bench, size_of_page).items():
            targets.append((name, size_of_page, path, count_queries(client, path)))
    for name, page_size, path, queries in targets:
        for _ in range(2 * WORKERS):  # warm each worker
            server.get(path, bench.api_key)
        figures = wrk(server, path, bench.api_key, duration, connections, script)
        errors = {
            kind: figures[kind]
            for kind in ("non_2xx", "socket", "connect", "read", "write", "status", "timeout")
            if figures[kind]
        }
        load = Load(
            size=bench.size,
            name=name,
            page_size=page_size,
            queries=queries,
            requests=figures["requests"],
            seconds=figures["duration_us"] / 1e6,
            p50=figures["p50"] / 1000,
            p95=figures["p95"] / 1000,
            p99=figures["p99"] / 1000,
            errors=errors,
        )
        if errors or not load.requests:
            run.failures.append(f"{bench.size} {name} page_size={page_size}: {errors or 'no requests'}")
        run.loads.append(load)


# --- report ---------------------------------------------------------------------------------------
def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    found = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    memory = int(found.group(1)) if found else 0
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()  # noqa: S607
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [
        f"{os.cpu_count()} cores ({cpu}), {memory / 2**20:.0f} GiB, {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, Django {django.get_version()}, DRF {rest_framework.VERSION}, "
        f"gunicorn {gunicorn.__version__} ({WORKERS} sync workers), psycopg {psycopg.__version__}, "
        f"PostgreSQL {postgres} on loopback, wrk {wrk_version[1] if len(wrk_version) > 1 else '?'}",
        f"cache and throttles: {cache}; DEBUG off; CONN_MAX_AGE {connection.settings_dict['CONN_MAX_AGE']} s",
    ]


def _f(value: float, places: int = 1) -> str:
    return f"{value:,.{places}f}"


def report(run: Run, args: argparse.Namespace, facts: list[str], seconds: float) -> str:
    sizes = list(run.companies)
    lines = [
        "# API benchmark (bench/api.py)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min; "
        f"load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}.",
        "",
        *(f"- {fact}" for fact in facts),
        f"- runs: {args.runs} per read endpoint (in-process and HTTP); wrk -t1 -c{args.connections} "
        f"-d{args.duration}s per list",
        "",
        "## Data",
        "",
    ]
    kinds = list(next(iter(run.companies.values())).counts)
    rows = [[kind, *(f"{run.companies[s].counts[kind]:,}" for s in sizes)] for kind in kinds]
    rows.append(["**all rows**", *(f"**{run.companies[s].rows:,}**" for s in sizes)])
    rows.append(["build (s)", *(_f(run.companies[s].seconds) for s in sizes)])
    lines += table(["rows", *sizes], rows)
    lines += ["", "## Read endpoints", ""]
    lines += [
        "In-process: a request through Django's test client (middleware, API key, throttle, view, JSON). Floor: "
        "the same rows with plain SQL, dumped to JSON, sampled in turn with it. Net: the in-process time less the "
        "baseline, a request for the company itself (`GET companies/{slug}/`: what any company request costs "
        "before its read model). HTTP: sequential requests to gunicorn. Times in ms, p50 unless named; p95 "
        "interpolated between samples.",
        "",
    ]
    rows = []
    verdicts: list[str] = []
    for read in run.reads:
        baseline = run.baseline[read.size]
        net = (p(read.inprocess, 50) - baseline) / p(read.floor, 50)
        verdict = "within 3x" if read.ratio <= TARGET_RATIO else "net within 3x" if net <= TARGET_RATIO else "over 3x"
        verdicts.append(verdict)
        rows.append(
            [
                read.size,
                read.name,
                str(read.queries),
                _f(read.kib),
                _f(p(read.inprocess, 50)),
                _f(p(read.floor, 50)),
                f"{read.ratio:.1f}",
                f"{net:.1f}",
                _f(p(read.http, 50)) if read.http else "-",
                _f(p(read.http, 95)) if read.http else "-",
                verdict,
            ]
        )
    header = ["size", "endpoint", "queries", "KiB", "in-process", "floor", "ratio", "net ratio", "HTTP p50"]
    lines += table([*header, "HTTP p95", "3x target"], rows, right_from=2)
    lines += [
        "",
        "Baseline (company detail, in-process p50): "
        + ", ".join(f"{size} {_f(ms_)} ms" for size, ms_ in run.baseline.items())
        + ".",
        "",
        f"The 3x target: {len(verdicts) - verdicts.count('over 3x')} of {len(verdicts)} reads meet it, "
        f"{verdicts.count('within 3x')} of them as measured and {verdicts.count('net within 3x')} net of the "
        "baseline, which the floor does not pay (it matters where a floor is no bigger than the baseline); "
        f"{verdicts.count('over 3x')} over it.",
    ]
    lines += ["", "## Deep pages of the cursor lists", ""]
    lines += [
        f"In-process p50 in ms of a page of {DEEP_PAGE_SIZE}: the first, and the one half-way through the list, "
        "reached by following `next`. The last column is what page numbers would cost at that depth in SQL "
        "alone (`COUNT(*)` of the company's epics, then `OFFSET` to the page), before any serializing.",
        "",
    ]
    rows = [
        [
            deep.size,
            deep.name,
            f"{deep.depth:,}",
            f"{deep.first_queries} / {deep.deep_queries}",
            _f(p(deep.first, 50)),
            _f(p(deep.deep, 50)),
            f"{p(deep.deep, 50) / p(deep.first, 50):.2f}",
            _f(p(deep.offset, 50)),
        ]
        for deep in run.deeps
    ]
    header = ["size", "list", "rows before", "queries first / deep", "first page", "deep page", "deep / first"]
    lines += table([*header, "COUNT + OFFSET (SQL)"], rows, right_from=2)
    lines += ["", "## Lists under load", ""]
    lines += [
        f"wrk -t1 -c{args.connections} -d{args.duration}s against gunicorn; `ping` is a DRF route with no "
        "authentication, throttle or database. Latency in ms.",
        "",
    ]
    rows = [
        [
            load.size,
            load.name,
            "-" if load.page_size is None else str(load.page_size),
            "-" if load.queries is None else str(load.queries),
            _f(load.throughput),
            _f(load.p50),
            _f(load.p95),
            _f(load.p99),
            f"{load.requests:,}",
            str(sum(load.errors.values())),
        ]
        for load in run.loads
    ]
    lines += table(
        ["size", "endpoint", "page_size", "queries", "req/s", "p50", "p95", "p99", "requests", "errors"],
        rows,
        right_from=2,
    )
    lines += ["", "## Memory of the web workers", ""]
    rows = [
        [size, *(f"{kib / 1024:.0f} MiB" for kib in peaks), f"{max(peaks) / 1024:.0f} MiB"]
        for size, peaks in run.memory.items()
        if peaks
    ]
    lines += table(["size", *(f"worker {n + 1} VmHWM" for n in range(WORKERS)), "peak"], rows)
    lines += ["", "## Growth", ""]
    lines += [
        "Each cost's growth from size to size against the data's (all rows of the company). The verdict reads "
        f"the last step, where fixed costs weigh least, with {GROWTH_TOLERANCE - 1:.0%} allowed for the noise of "
        "a shared machine.",
        "",
    ]
    lines += growth(run, sizes)
    if run.failures:
        lines += ["", "## Failures", "", *(f"- {failure}" for failure in run.failures)]
    return "\n".join(lines) + "\n"


GROWTH_TOLERANCE = 1.15  # timings on a shared machine: a step within 15% of the data's counts as keeping pace


def growth(run: Run, sizes: list[str]) -> list[str]:
    """Each cost's growth from size to size next to the data's.

    The verdict reads the last step (the largest sizes, where fixed costs weigh least): a cost whose growth
    exceeds the data's by more than the tolerance grows faster than the data.
    """
    if len(sizes) < 2:
        return ["(one size: nothing to compare)"]
    steps = list(itertools.pairwise(sizes))
    data = [run.companies[b].rows / run.companies[a].rows for a, b in steps]
    costs: list[tuple[str, dict[str, float]]] = []
    for name in dict.fromkeys(read.name for read in run.reads):
        by = {r.size: r for r in run.reads if r.name == name}
        costs.append((f"{name}: in-process p50", {s: p(r.inprocess, 50) for s, r in by.items()}))
        costs.append((f"{name}: its floor p50", {s: p(r.floor, 50) for s, r in by.items()}))
        costs.append((f"{name}: HTTP p50", {s: p(r.http, 50) for s, r in by.items() if r.http}))
        costs.append((f"{name}: queries", {s: float(r.queries) for s, r in by.items()}))
    for load in run.loads:
        if load.size == sizes[0]:
            label = load.name if load.page_size is None else f"{load.name} page_size={load.page_size}"
            by_size = {x.size: x for x in run.loads if (x.name, x.page_size) == (load.name, load.page_size)}
            costs.append((f"{label}: p50 under load", {s: x.p50 for s, x in by_size.items()}))
            costs.append((f"{label}: 1 / throughput", {s: 1 / x.throughput for s, x in by_size.items() if x.requests}))
    for name in DEEP_LISTS:
        by_deep = {d.size: d for d in run.deeps if d.name == name}
        costs.append((f"{name}: deep page p50", {s: p(d.deep, 50) for s, d in by_deep.items()}))
        costs.append((f"{name}: COUNT + OFFSET at that depth", {s: p(d.offset, 50) for s, d in by_deep.items()}))
    costs.append(("web workers: peak memory", {s: float(max(m)) for s, m in run.memory.items() if m}))
    header = ["cost", *(f"{a}→{b}" for a, b in steps), f"{sizes[0]}→{sizes[-1]}", "verdict"]
    whole = run.companies[sizes[-1]].rows / run.companies[sizes[0]].rows
    rows = [["**data (all rows)**", *(f"**{g:.1f}x**" for g in data), f"**{whole:.1f}x**", ""]]
    for label, values in costs:
        if not all(values.get(s) for s in sizes):
            continue
        grown = [values[b] / values[a] for a, b in steps]
        verdict = "**faster than the data**" if grown[-1] > data[-1] * GROWTH_TOLERANCE else "keeps pace or slower"
        rows.append([label, *(f"{g:.1f}x" for g in grown), f"{values[sizes[-1]] / values[sizes[0]]:.1f}x", verdict])
    return table(header, rows)


# --- main -----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--runs", type=int, default=11, help="Samples per read endpoint, in-process and over HTTP.")
    parser.add_argument("--duration", type=int, default=5, help="Seconds of wrk per list URL.")
    parser.add_argument("--connections", type=int, default=8, help="wrk's concurrent connections.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="Profile every endpoint over 3x its floor.")
    args = parser.parse_args()
    sizes = [size.strip().upper() for size in args.sizes.split(",")]
    if unknown := [size for size in sizes if size not in SIZES]:
        raise SystemExit(f"unknown sizes {unknown}: choose from {', '.join(SIZES)}")
    began = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns without it; the API serves none
    facts = machine()
    print("\n".join(facts))
    reset_database()
    run = Run()
    for size in sizes:
        run.companies[size] = build_company(size, seed=args.seed)
        print(describe(run.companies[size]), flush=True)
    settle()
    log = OUT / "gunicorn.log"
    for size in sizes:
        bench = run.companies[size]
        measure_in_process(bench, args.runs, run)
        measure_deep_pages(bench, args.runs, run)
        print(f"{size}: in-process done", flush=True)
        server = Server(log)
        try:
            measure_http(server, bench, args.runs, run)
            print(f"{size}: HTTP done", flush=True)
            measure_load(server, bench, args.duration, args.connections, run)
            run.memory[size] = server.peak_memory()
            print(f"{size}: load done", flush=True)
        finally:
            server.stop()
        if args.profile:
            paths = read_paths(bench)
            for read in run.reads:
                if read.size == size and read.ratio > TARGET_RATIO:
                    print(f"profile: {profile(bench, read.name, paths[read.name])}")
    text = report(run, args, facts, time.perf_counter() - began)
    (OUT / "api.md").write_text(text)
    print()
    print(text)
    print(f"written to {(OUT / 'api.md').relative_to(ROOT)}")
    if run.failures:
        raise SystemExit(f"{len(run.failures)} failure(s): see above")


if __name__ == "__main__":
    main()

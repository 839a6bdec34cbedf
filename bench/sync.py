"""Benchmark: a full sync of many epics from a local fake Jira, against just fetching the same pages.

    python bench/sync.py [--epics 10000] [--runs 3]

Uses the database in DATABASE_URL (a throw-away SQLite file in var/ by default) and a fake Jira
over real HTTP on 127.0.0.1 serving pages of 100 issues in the shape of the search API. Reports:

* fetch: the Jira client reading and parsing every page, writing nothing (the floor);
* full sync into an empty connection: time, ratio to the fetch, queries per epic, peak Python memory;
* full sync again with nothing changed (every item compared, nothing written);
* an incremental run with nothing changed (the tracker answers an empty page).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["TRACKER_ALLOW_PRIVATE_URLS"] = "true"

import logging

import django

django.setup()
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fake tracker's request log

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic
from integrations.models import Connection, SyncRun
from integrations.secrets import encrypt
from integrations.status_maps import DEFAULTS
from integrations.sync import sync_run
from integrations.trackers.jira import PAGE_SIZE, JiraClient
from outcomes.models import Company, Membership, User

SEARCH = "/rest/api/3/search/jql"
CATEGORIES = [("new", "To Do", None), ("indeterminate", "In Progress", None), ("done", "Done", "Done")]


def issue(n: int, base: datetime) -> dict[str, Any]:
    category, name, resolution = CATEGORIES[n % 3]
    updated = (base + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return {
        "id": str(100_000 + n),
        "key": f"BENCH-{n}",
        "fields": {
            "summary": f"Bench epic {n}: make checkout faster for returning customers",
            "status": {"name": name, "statusCategory": {"key": category}},
            "resolution": {"name": resolution} if resolution else None,
            "assignee": {"emailAddress": f"person{n % 50}@bench.example"},
            "updated": updated,
            "statuscategorychangedate": updated,
            "issuetype": {"name": "Epic"},
        },
    }


def pages(epics: int) -> dict[str | None, bytes]:
    """Every page's JSON, keyed by the token that asks for it (None: the first page)."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    out: dict[str | None, bytes] = {}
    starts = list(range(0, epics, PAGE_SIZE))
    for index, start in enumerate(starts):
        last = index == len(starts) - 1
        body: dict[str, Any] = {"issues": [issue(n, base) for n in range(start, min(start + PAGE_SIZE, epics))]}
        paging: dict[str, Any] = {"isLast": True} if last else {"isLast": False, "nextPageToken": f"page-{index + 1}"}
        body |= paging
        out[None if index == 0 else f"page-{index}"] = json.dumps(body).encode()
    return out


def serve(server: HTTPServer, by_token: dict[str | None, bytes], latency: float) -> None:
    empty = json.dumps({"issues": [], "isLast": True}).encode()

    def handler(request: Request) -> Response:
        time.sleep(latency)  # the tracker's own time to answer a page
        if "updated >=" in request.args.get("jql", ""):
            return Response(empty, content_type="application/json")  # nothing changed since the cursor
        return Response(by_token[request.args.get("nextPageToken")], content_type="application/json")

    server.expect_request(SEARCH).respond_with_handler(handler)


def setup_connection(base_url: str) -> Connection:
    Company.objects.filter(slug="bench-sync").delete()
    company = Company.objects.create(name="Bench sync", slug="bench-sync")
    owner = User.objects.filter(email="owner@bench-sync.example").first() or User.objects.create_user(
        "owner@bench-sync.example"
    )
    Membership.objects.create(user=owner, company=company, role="owner")
    for n in range(50):  # assignees who are members
        person = User.objects.filter(email=f"person{n}@bench.example").first() or User.objects.create_user(
            f"person{n}@bench.example"
        )
        Membership.objects.get_or_create(user=person, company=company, defaults={"role": "member"})
    return Connection.objects.create(
        company=company,
        name="Bench Jira",
        kind="jira",
        base_url=base_url,
        credentials_encrypted=encrypt({"email": "bot@bench.example", "api_token": TOKEN}),
        scope={"project_keys": ["BENCH"]},
        status_map=DEFAULTS["jira"],
        default_owner=owner,
    )


def timed(action: Callable[[], Any], *, memory: bool = False) -> tuple[float, int, int, Any]:
    """Seconds and queries of one call; with ``memory``, the peak traced Python memory (bytes) instead of time."""
    if memory:
        tracemalloc.start()
    connection.queries_log.clear()  # the log keeps 9,000 queries: counting across its end gives nonsense
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
    peak = 0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, len(queries), peak, result


TOKEN = "bench-token-0123456789"  # noqa: S105 - the fake tracker's


def fetch_only(base_url: str) -> int:
    client = JiraClient(base_url=base_url, email="bot@bench.example", api_token=TOKEN)
    return sum(len(page) for page in client.epics(scope={"project_keys": ["BENCH"]}))


def run(connection_: Connection, *, full: bool) -> SyncRun:
    result = sync_run(SyncRun.objects.create(connection=connection_, full=full).pk)
    if result.status != "succeeded":
        raise SystemExit(f"the sync did not succeed: {result.status} {result.error}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epics", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0, help="The fake tracker's time to answer a page.")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    serve(server, pages(args.epics), args.latency_ms / 1000)
    base_url = server.url_for("").rstrip("/")
    report: dict[str, list[tuple[float, int]]] = {"fetch": [], "full": [], "again": [], "incremental": []}
    peaks: dict[str, int] = {}
    try:
        for attempt in range(args.runs + 1):  # the last pass only traces memory (tracing slows everything)
            memory = attempt == args.runs
            seconds, _, peak, fetched = timed(lambda: fetch_only(base_url), memory=memory)
            assert fetched == args.epics
            target = setup_connection(base_url)
            results: dict[str, tuple[float, int, int]] = {"fetch": (seconds, 0, peak)}
            for name, full in (("full", True), ("again", True), ("incremental", False)):
                results[name] = timed(partial(run, target, full=full), memory=memory)[:3]
            created = Epic.objects.filter(tracker_connection_id=target.pk).count()
            assert created == args.epics, created
            for name, (seconds, queries, peak) in results.items():
                if memory:
                    peaks[name] = peak
                else:
                    report[name].append((seconds, queries))
    finally:
        server.stop()
    fetch = statistics.median(s for s, _ in report["fetch"])
    median: Callable[[Any], float] = statistics.median
    print(
        f"{args.epics} epics, {connection.vendor}, pages of {PAGE_SIZE} answered in {args.latency_ms:g} ms, "
        f"median of {args.runs} runs"
    )
    for name, rows in report.items():
        took, asked = median(s for s, _ in rows), median(q for _, q in rows)
        print(
            f"{name:12} {took:8.2f} s  {took / fetch:5.2f}x fetch  {asked:7.0f} queries "
            f"({asked / args.epics:.3f}/epic)  peak {peaks[name] / 2**20:6.1f} MiB"
        )


if __name__ == "__main__":
    main()

"""Benchmark: the reminder dispatcher over many outcome reviews, and a real worker's memory peak.

    python bench/reminders.py [--reviews 10000,100000] [--spread-days 1825] [--no-worker]

For each size, builds four companies in four time zones (the big tables written with COPY) whose
delivered epics have outcome reviews in every phase: not yet due, due, overdue, escalated, past
every stage, recorded or waived. People have preferences (e-mail, Slack or both, some paused, a
few with the weekly digest due now); two companies have a Slack webhook, served by a local stand-in
that answers "ok".
Then it runs the dispatcher (``integrations.reminders.dispatch_reminders``, what
``dispatch_reminders_task`` runs every minute) in-process, e-mail to Django's in-memory outbox:

* the first tick: plans every reminder the reviews call for and sends for up to its 50-second budget;
* further ticks until nothing due is left (the time to drain), then an idle tick (nothing new);
* per tick: time, queries, reminders planned and sent, queries and milliseconds per reminder sent;
* checks: what was planned equals what the data calls for (computed here independently), every
  sendable reminder sent once (e-mails in the outbox and posts to the Slack stand-in counted).

Then, at the largest size, a real ``celery -A config worker -c 1 -P prefork`` on Redis runs the
first tick again (reminders reset) and, in a fresh worker, the 10,000-epic full sync of
``bench/sync.py`` (its fake Jira); the pool process's peak resident memory (VmHWM) is read from
/proc before and after each.

Uses ``BENCH_BG_REMINDERS_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/okr_bench_bg_reminders``; created if missing, emptied at every
size, so its name must start with ``okr_bench``) and ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/9``, flushed). Writes the tables to ``var/bench/reminders.md``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import get_context
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, service_env, table

OUT = ROOT / "var" / "bench"
DATABASE_URL = os.environ.get(
    "BENCH_BG_REMINDERS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/okr_bench_bg_reminders"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


SERVICE_ENV = service_env(
    DATABASE_URL,
    REDIS_URL,
    PUBLIC_URL="https://okr.bench.example",
    TRACKER_ALLOW_PRIVATE_URLS="true",  # the Slack stand-in and the fake Jira listen on loopback
    LOG_LEVEL="WARNING",
)
os.environ.update(SERVICE_ENV)
ensure_database(DATABASE_URL)

import django

django.setup()

import redis
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.sync import pages, serve, setup_connection
from epics.choices import EpicStatus, ReviewState
from epics.models import AnticipatedOutcome, Contribution, Epic, OutcomeReview, SuccessMetric
from integrations.choices import ESCALATE_AFTER_DAYS, Channel, ReminderStatus
from integrations.models import NotificationPreference, Reminder, SlackWebhook, SyncRun
from integrations.reminders import LOOKBACK, SEND_BUDGET_SECONDS, Dispatched, dispatch_reminders, due_reminders
from integrations.secrets import encrypt
from integrations.tasks import dispatch_reminders_task, sync_connection_task
from okrs.choices import CycleStatus
from okrs.models import Cycle, KeyResult, Objective
from outcomes.models import Company, Membership, Team, User

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
REVIEWS_PER_PERSON = 50  # epics each person owns over the years
STAGE_STARTS = (timedelta(0), timedelta(days=7), timedelta(days=ESCALATE_AFTER_DAYS))
SLACK_PATH = "/services/T000/B000/BENCHBENCHBENCH"


# --- the data ------------------------------------------------------------------------------------------------
@dataclass
class Person:
    pk: int
    company: int
    role: str
    channels: tuple[str, ...]
    paused: bool
    digest: bool
    epics_without_outcome: int = 0
    key_results: int = 0  # whose check-ins fall due within the digest's week


@dataclass
class Review:
    company: int
    due_at: datetime
    state: str
    owner: int
    second: int | None  # the reviewer, else the team's lead
    objective_owner: int


@dataclass
class World:
    """What was generated, kept to compute independently what the dispatcher should plan."""

    now: datetime
    people: dict[int, Person] = field(default_factory=dict)
    reviews: list[Review] = field(default_factory=list)
    with_slack: set[int] = field(default_factory=set)


OUTCOME = {
    "problem": "Returning customers abandon checkout when asked for their card again.",
    "expected_results": "More returning customers finish checkout within a month of release.",
}
METRIC = {
    "name": "Checkout conversion (returning)",
    "unit": "%",
    "direction": "increase",
    "baseline": Decimal("61.5"),
    "target": Decimal(66),
}


class Ids:
    """Primary keys handed out here for rows written with COPY; ``close`` moves each table's sequence past them."""

    def __init__(self) -> None:
        self.last: dict[type[Any], int] = {}

    def next(self, model: type[Any]) -> int:
        if model not in self.last:
            self.last[model] = model.objects.aggregate(top=Max("pk"))["top"] or 0
        self.last[model] += 1
        return self.last[model]

    def close(self) -> None:
        with connection.cursor() as cursor:
            for model, last in self.last.items():
                table = model._meta.db_table
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, last])


def copy_into(model: type[Any], rows: list[dict[str, Any]], now: datetime) -> None:
    """Write rows with COPY (many times faster than INSERT); a column not given takes the model field's default."""
    fields = model._meta.concrete_fields
    base: dict[str, Any] = {}
    for f in fields:
        stamped = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        base[f.attname] = now if stamped else f.get_default()  # blank text: "", no default: None
    columns = ", ".join(f'"{f.column}"' for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([_plain(row.get(f.attname, base[f.attname])) for f in fields])


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, str) else value  # choices are str subclasses


def bulk(model: Any, rows: list[Any]) -> list[Any]:
    return list(model.objects.bulk_create(rows, batch_size=2_000))


def build(size: int, spread_days: int, seed: int = 11) -> World:
    """Four companies sharing ``size`` delivered epics, each with one outcome review in some phase."""
    rng = random.Random(seed)
    now = timezone.now()
    world = World(now=now)
    ids = Ids()
    per_company = size // len(ZONES)
    for index, zone in enumerate(ZONES):
        company = Company.objects.create(
            name=f"Bench reminders {index}", slug=f"bench-reminders-{index}", timezone=zone
        )
        local = now.astimezone(ZoneInfo(zone))
        count = max(20, per_company // REVIEWS_PER_PERSON)
        users = bulk(
            User,
            [User(email=f"p{n}@c{index}.bench-reminders.example", password="!") for n in range(count)],  # noqa: S106 - unusable
        )
        roles = ["owner", "executive", "executive", "admin"] + ["member"] * (count - 4)
        bulk(Membership, [Membership(user=u, company=company, role=r) for u, r in zip(users, roles, strict=True)])
        prefs = []
        for n, user in enumerate(users):
            draw = rng.random()
            channels = (
                ("email",) if draw < 0.85 else ("email", "slack") if draw < 0.95 else ("slack",) if draw < 0.98 else ()
            )
            paused = rng.random() < 0.03
            digest = roles[n] in {"owner", "executive"} or rng.random() < 0.05
            world.people[user.pk] = Person(user.pk, company.pk, roles[n], channels, paused, digest)
            prefs.append(
                NotificationPreference(
                    company=company,
                    user=user,
                    channels=list(channels),
                    digest=digest,
                    digest_weekday=local.weekday(),  # this week's digest is due this hour
                    digest_hour=local.hour,
                    quiet_before=0,
                    quiet_after=24,
                    weekdays_only=False,
                    paused_until=local.date() + timedelta(days=30) if paused else None,
                )
            )
        bulk(NotificationPreference, prefs)
        if index < 2:
            SlackWebhook.objects.create(company=company, url_encrypted=encrypt({"url": slack_url()}), url_hint="…BENCH")
            world.with_slack.add(company.pk)
        teams = bulk(Team, [Team(company=company, name=f"Team {t}", lead=users[10 + t]) for t in range(10)])
        cycle = Cycle.objects.create(
            company=company,
            name="This quarter",
            start=local.date() - timedelta(days=40),
            end=local.date() + timedelta(days=50),
            status=CycleStatus.ACTIVE,
        )
        objectives = bulk(
            Objective,
            [Objective(company=company, cycle=cycle, title=f"Objective {o}", owner=users[4 + o]) for o in range(5)],
        )
        key_results = bulk(
            KeyResult,
            [
                KeyResult(
                    company=company,
                    objective=objective,
                    title=f"KR {o}.{k}",
                    owner=users[4 + o],
                    kind="increase_to",
                    target=Decimal(100),
                    next_checkin_due=now + timedelta(days=5),
                )
                for o, objective in enumerate(objectives)
                for k in range(4)
            ],
        )
        for key_result in key_results:
            world.people[key_result.owner_id].key_results += 1
        epics, reviews, contributions, outcomes, metrics = [], [], [], [], []
        for n in range(per_company):
            owner = rng.choice(users)
            team = rng.choice(teams) if rng.random() < 0.8 else None
            reviewer = rng.choice(users) if rng.random() < 0.3 else None
            reviewer = None if reviewer == owner else reviewer
            draw = rng.random()
            if draw < 0.10:  # not due yet
                due = now + timedelta(hours=rng.randrange(1, 60 * 24), minutes=30)
                state = ReviewState.PENDING
            else:  # due some time in the last spread_days; whole hours and a half keep clear of stage boundaries
                due = now - timedelta(hours=rng.randrange(0, spread_days * 24), minutes=30)
                state = (
                    ReviewState.RECORDED if draw < 0.15 else ReviewState.WAIVED if draw < 0.20 else ReviewState.PENDING
                )
            done = due - timedelta(days=30)
            epic = ids.next(Epic)
            epics.append(
                {
                    "id": epic,
                    "company_id": company.pk,
                    "title": f"Bench epic {index}-{n}: faster checkout for returning customers",
                    "team_id": team.pk if team else None,
                    "owner_id": owner.pk,
                    "reviewer_id": reviewer.pk if reviewer else None,
                    "status": EpicStatus.DONE,
                    "started_at": done - timedelta(days=45),
                    "done_at": done,
                }
            )
            reviews.append(
                {
                    "id": ids.next(OutcomeReview),
                    "epic_id": epic,
                    "state": state,
                    "done_at": done,
                    "due_at": due,
                    "closed_at": None if state == ReviewState.PENDING else due + timedelta(days=2),
                    "waived_reason": "Superseded by a new pricing page." if state == ReviewState.WAIVED else "",
                }
            )
            key_result = rng.choice(key_results)
            contributions.append({"id": ids.next(Contribution), "epic_id": epic, "key_result_id": key_result.pk})
            if n % 2 == 0:  # half the epics have an anticipated outcome with a success metric
                outcome = ids.next(AnticipatedOutcome)
                outcomes.append({"id": outcome, "epic_id": epic, **OUTCOME})
                metrics.append({"id": ids.next(SuccessMetric), "anticipated_outcome_id": outcome, **METRIC})
            else:
                world.people[owner.pk].epics_without_outcome += 1
            second = reviewer.pk if reviewer else team.lead_id if team else None
            world.reviews.append(Review(company.pk, due, state, owner.pk, second, key_result.owner_id))
        for model, rows in (
            (Epic, epics),
            (OutcomeReview, reviews),
            (Contribution, contributions),
            (AnticipatedOutcome, outcomes),
            (SuccessMetric, metrics),
        ):
            copy_into(model, rows, now)
    ids.close()
    return world


def phases(world: World) -> Counter[str]:
    """How the reviews spread over the phases the dispatcher tells apart (at generation time)."""
    counts: Counter[str] = Counter()
    for review in world.reviews:
        age = world.now - review.due_at
        if review.state != ReviewState.PENDING:
            counts["recorded or waived"] += 1
        elif age < timedelta(0):
            counts["not due yet"] += 1
        elif age >= STAGE_STARTS[2] + LOOKBACK:
            counts["past every stage (left to the digest)"] += 1
        else:
            stage = max(s for s, start in enumerate(STAGE_STARTS) if age >= start)
            fresh = age < STAGE_STARTS[stage] + LOOKBACK
            name = ("due", "overdue", "escalated")[stage]
            counts[f"{name}, stage began within 3 days" if fresh else f"{name}, stage began earlier"] += 1
    return counts


def expected(world: World) -> tuple[Counter[tuple[str, str]], int, int]:
    """(rows by (kind, channel), rows held back for a pause, digests with nothing to say) the data calls for."""
    rows: Counter[tuple[str, str]] = Counter()
    held = empty = 0

    def plan(person: Person, kind: str) -> None:
        nonlocal held
        for channel in person.channels:
            if channel == Channel.SLACK and person.company not in world.with_slack:
                continue
            rows[(kind, channel)] += 1
            held += person.paused

    for review in world.reviews:
        age = world.now - review.due_at
        if review.state != ReviewState.PENDING or age < timedelta(0):
            continue
        stage = max(s for s, start in enumerate(STAGE_STARTS) if age >= start)
        if age >= STAGE_STARTS[stage] + LOOKBACK:
            continue
        people = [review.owner]
        if stage >= 1 and review.second is not None:
            people.append(review.second)
        if stage >= 2:
            people.append(review.objective_owner)
        for pk in dict.fromkeys(people):
            plan(world.people[pk], ("review_due", "review_overdue", "review_escalated")[stage])
    owing = {r.owner for r in world.reviews if r.state == ReviewState.PENDING and r.due_at <= world.now}
    for person in world.people.values():
        if person.digest:
            plan(person, "digest_member")
            sendable = [c for c in person.channels if c != Channel.SLACK or person.company in world.with_slack]
            if not (person.paused or person.pk in owing or person.epics_without_outcome or person.key_results):
                empty += len(sendable)
            if person.role in {"owner", "executive"}:
                plan(person, "digest_executive")
    return rows, held, empty


# --- the Slack stand-in --------------------------------------------------------------------------------------
class _SlackOk(BaseHTTPRequestHandler):
    """Answers every post as Slack's incoming webhooks do when they take a message."""

    posts: Synchronized[int]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.posts.get_lock():
            self.posts.value += 1
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        )

    def log_message(self, format: str, *args: Any) -> None:
        return


SLACK_LISTENER = socket.create_server(("127.0.0.1", 0))
SLACK_POSTS: Synchronized[int] = get_context("fork").Value("q", 0)


def slack_url() -> str:
    return f"http://127.0.0.1:{SLACK_LISTENER.getsockname()[1]}{SLACK_PATH}"


def _serve_slack(listener: socket.socket, posts: Synchronized[int]) -> None:
    handler = type("Handler", (_SlackOk,), {"posts": posts})
    server = ThreadingHTTPServer(listener.getsockname(), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.serve_forever()


# --- ticks ---------------------------------------------------------------------------------------------------
TABLE = re.compile(r'(?:FROM|UPDATE|INTO) "(\w+)"')


def shape(sql: str) -> str:
    """A query's kind, main table and joins: "SELECT integrations_reminder +14 joins"."""
    verb = "EXISTS" if sql.startswith("SELECT 1 AS") else sql.split(None, 1)[0]
    found = TABLE.search(sql)
    joins = sql.count(" JOIN ")
    return f"{verb} {found.group(1) if found else ''}{f' +{joins} joins' if joins else ''}".strip()


class Queries:
    """Counts and times the queries of this thread's connection, by shape.

    Django's query log keeps only the last 9,000 queries, too few for a tick; this keeps no SQL.
    """

    def __init__(self, keep: bool = False) -> None:
        self.n = 0
        self.by_shape: dict[str, list[float]] = {}
        self.sample: dict[str, tuple[str, Any]] = {}  # one statement of each shape, to EXPLAIN
        self.kept: list[tuple[str, str, Any]] = []  # every statement, when asked to keep them
        self.keep = keep

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.n += 1
            kind = shape(sql)
            self.by_shape.setdefault(kind, []).append(time.perf_counter() - started)
            self.sample.setdefault(kind, (sql, params))
            if self.keep:
                self.kept.append((kind, sql, params))

    @property
    def seconds(self) -> float:
        return sum(sum(times) for times in self.by_shape.values())


@dataclass
class Tick:
    name: str
    seconds: float
    cpu: float  # this process: the dispatcher's Python, not the database's work
    queries: Queries
    result: Dispatched
    emails: int
    slack: int


def tick(name: str, keep: bool = False) -> Tick:
    mail.outbox = []
    posts = SLACK_POSTS.value
    queries = Queries(keep)
    with connection.execute_wrapper(queries):
        cpu, started = time.process_time(), time.perf_counter()
        result = dispatch_reminders()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Tick(name, seconds, cpu, queries, result, len(mail.outbox), SLACK_POSTS.value - posts)


def run_size(size: int, spread_days: int) -> dict[str, Any]:
    """Build the data of one size and dispatch until nothing is due, then once more."""
    call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    world = build(size, spread_days)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # statistics as autovacuum keeps them in a live database
    built = time.perf_counter() - started
    note(f"{size:,} reviews built in {built:.1f} s; dispatching")
    ticks = [tick("first tick")]
    while due_reminders(timezone.now()):
        ticks.append(tick(f"tick {len(ticks) + 1}"))
        if len(ticks) > 50:
            raise SystemExit("the dispatcher does not drain: more than 50 ticks")
    with CaptureQueriesContext(connection) as idle_log:
        ticks.append(tick("idle tick (nothing new)", keep=True))
    note(f"{size:,}: " + ", ".join(f"{t.name} {t.seconds:.1f} s sent {t.result.sent}" for t in ticks))
    rows, held, empty = expected(world)
    by_kind = Counter(Reminder.objects.values_list("kind", "channel"))
    statuses = Counter(Reminder.objects.values_list("status", flat=True))
    keys = Reminder.objects.values_list("kind", "subject", "stage", "due_on", "recipient_id", "channel")
    sent_by_channel = Counter(Reminder.objects.filter(status=ReminderStatus.SENT).values_list("channel", flat=True))
    planned = sum(t.result.planned for t in ticks)
    sent = sum(t.result.sent for t in ticks)
    checks = [
        ("reminders planned == what the data calls for", sum(rows.values()), planned),
        ("planned by (kind, channel) as called for", "equal", "equal" if by_kind == rows else f"{by_kind - rows}"),
        ("each reminder key once", planned, len(set(keys))),
        ("held back (recipient paused) == paused recipients' rows", held, statuses.get(ReminderStatus.PENDING, 0)),
        ("digests with nothing to say cancelled", empty, statuses.get(ReminderStatus.CANCELLED, 0)),
        ("sent == planned - held back - empty digests", planned - held - empty, sent),
        ("e-mails in the outbox == sent by e-mail", sent_by_channel[Channel.EMAIL], sum(t.emails for t in ticks)),
        ("posts to Slack == sent to Slack", sent_by_channel[Channel.SLACK], sum(t.slack for t in ticks)),
        ("failed or unknown", 0, statuses.get(ReminderStatus.FAILED, 0) + statuses.get(ReminderStatus.UNKNOWN, 0)),
        ("idle tick: planned, sent", "0, 0", f"{ticks[-1].result.planned}, {ticks[-1].result.sent}"),
        ("idle tick: queries (execute wrapper == query log)", ticks[-1].queries.n, len(idle_log)),
    ]
    return {
        "size": size,
        "built": built,
        "world": world,
        "phases": phases(world),
        "ticks": ticks,
        "checks": checks,
        "sent": sent,
        "planned": planned,
        "people": len(world.people),
        "kinds": Counter(Reminder.objects.values_list("kind", "channel", "status")),
        "reads": reads(ticks[-1].queries),
    }


def reads(queries: Queries) -> list[tuple[str, int, str, int, int, str]]:
    """What each read of a tick took from its largest table, from PostgreSQL's own account (EXPLAIN ANALYZE).

    (query, rows returned, table, rows read from it, rows in it, how it was read), one per SELECT.
    """
    found = []
    with connection.cursor() as cursor:
        for kind, sql, params in queries.kept:
            if not sql.startswith("SELECT") or "FOR UPDATE" in sql:
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            ((plan,),) = cursor.fetchall()
            tables: dict[str, list[Any]] = {}
            scans(plan[0]["Plan"], tables)
            if not tables:
                continue
            name, (read, how) = max(tables.items(), key=lambda item: item[1][0])
            cursor.execute(f'SELECT count(*) FROM "{name}"')
            (total,) = cursor.fetchone()
            found.append((kind, int(plan[0]["Plan"]["Actual Rows"]), name, read, total, ", ".join(sorted(how))))
    return found


def scans(node: dict[str, Any], tables: dict[str, list[Any]]) -> None:
    """Rows each table gave the plan, those kept and those its filters threw away, over every loop."""
    if "Relation Name" in node:
        kept = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        read = int(kept + node.get("Rows Removed by Index Recheck", 0)) * int(node.get("Actual Loops", 1))
        entry = tables.setdefault(node["Relation Name"], [0, set()])
        entry[0] += read
        entry[1].add(node["Node Type"])
    for child in node.get("Plans", []):
        scans(child, tables)


# --- a real worker -------------------------------------------------------------------------------------------
def memory_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise LookupError(field_name)


def pool_child(pid: int) -> int:
    (child,) = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return child


@dataclass
class WorkerRun:
    job: str
    seconds: float
    result: str
    baseline_kib: int
    peak_kib: int


class Worker:
    """``celery -A config worker -c 1 -P prefork`` on the benchmark's Redis database, its log in a file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        env = os.environ | SERVICE_ENV | {"EMAIL_URL": "dummymail://", "LOG_LEVEL": "INFO"}
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", "1", "-P", "prefork"]
        command += ["--loglevel", "INFO", "-n", f"bench-{secrets.token_hex(4)}@%h"]
        with log.open("wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_for(re.compile(r"ready\."), 120)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = pattern.search(self.log.read_text(errors="replace"))
            if found:
                return found
            if self.process.poll() is not None:
                raise SystemExit(f"the worker stopped:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise SystemExit(f"the worker did not get there in {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def run(self, job: str, send: Callable[[], str], timeout: float) -> WorkerRun:
        child = pool_child(self.process.pid)
        baseline = memory_kib(child, "VmHWM")
        task_id = send()
        done = self.wait_for(re.compile(rf"\[{task_id}\] succeeded in ([0-9.]+)s: (.*)"), timeout)
        return WorkerRun(job, float(done.group(1)), done.group(2), baseline, memory_kib(child, "VmHWM"))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def worker_runs(sync_epics: int) -> list[WorkerRun]:
    """The first dispatch tick over the largest data, then a full sync, each in a fresh worker."""
    from pytest_httpserver import HTTPServer

    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    runs = []
    Reminder.objects.all().delete()  # the tick plans and sends what the in-process first tick did
    worker = Worker(OUT / "reminders-worker.log")
    try:
        runs.append(worker.run("dispatch_reminders_task (first tick)", lambda: dispatch_reminders_task.delay().id, 600))
    finally:
        worker.stop()
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        serve(server, pages(sync_epics), 0)
        target = setup_connection(server.url_for("").rstrip("/"))
        run = SyncRun.objects.create(connection=target, full=True)
        worker = Worker(OUT / "sync-worker.log")
        try:
            job = f"sync_connection_task ({sync_epics:,} epics, full)"
            runs.append(worker.run(job, lambda: sync_connection_task.delay(run.pk).id, 900))
        finally:
            worker.stop()
        run.refresh_from_db()
        assert run.status == "succeeded" and run.created == sync_epics, (run.status, run.created, run.error)
    finally:
        server.stop()
        broker.flushdb()
    return runs


# --- the report ----------------------------------------------------------------------------------------------
def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def per(value: float, count: int, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if not count else f"{value / count * scale:.{digits}f}"


def report(results: list[dict[str, Any]], workers: list[WorkerRun], spread_days: int) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Reminder dispatcher (`bench/reminders.py`)",
        "",
        f"{when}; PostgreSQL {getattr(connection, 'pg_version', 0) // 10000}, in-process, DEBUG off, e-mail to "
        f"the in-memory outbox, Slack to a local stand-in; pending reviews fell due over the last {spread_days} "
        f"days; send budget {SEND_BUDGET_SECONDS:.0f} s per tick; the 2 cores were shared with other work.",
        "",
    ]
    names = sorted({name for r in results for name in r["phases"]}, key=_phase_order)
    lines += table(
        ["reviews", *[f"{r['size']:,}" for r in results]],
        [
            ["companies / people", *[f"{len(ZONES)} / {r['people']:,}" for r in results]],
            ["built in (COPY, ANALYZE)", *[f"{r['built']:.1f} s" for r in results]],
            *[[name, *[f"{r['phases'].get(name, 0):,}" for r in results]] for name in names],
        ],
    )
    lines.append("")
    rows = []
    for r in results:
        for t in r["ticks"]:
            res = t.result
            rows.append(
                [
                    f"{r['size']:,}",
                    t.name,
                    f"{t.seconds:.2f} s",
                    f"{t.queries.n:,}",
                    f"{res.planned:,}",
                    f"{res.sent:,}",
                    f"{res.cancelled:,} / {res.deferred:,}",
                    per(t.queries.n, res.sent, digits=2),
                    per(t.seconds, res.sent, 1000, 2),
                ]
            )
    lines += table(
        ["reviews", "tick", "time", "queries", "planned", "sent", "cancelled / deferred", "queries/sent", "ms/sent"],
        rows,
        right_from=2,
    )
    lines.append("")
    kinds = sorted({(kind, channel) for r in results for kind, channel, _ in r["kinds"]})
    lines += table(
        ["reminders (kind, channel)", *[f"{r['size']:,}: planned / sent" for r in results]],
        [
            [
                f"{kind}, {channel}",
                *[
                    f"{sum(n for (k, c, _), n in r['kinds'].items() if (k, c) == (kind, channel)):,} / "
                    f"{r['kinds'].get((kind, channel, ReminderStatus.SENT), 0):,}"
                    for r in results
                ],
            ]
            for kind, channel in kinds
        ],
    )
    lines.append("")
    lines += [
        "What each read of the idle tick took from its largest table (EXPLAIN ANALYZE; rows read include those "
        "a filter threw away):",
        "",
    ]
    lines += table(
        ["idle tick query", "largest table", *[f"{r['size']:,}: returned / read of rows (how)" for r in results]],
        [
            [f"`{results[-1]['reads'][i][0]}`", results[-1]["reads"][i][2]]
            + [
                f"{r['reads'][i][1]:,} / {r['reads'][i][3]:,} of {r['reads'][i][4]:,} ({r['reads'][i][5]})"
                if i < len(r["reads"])
                else ""
                for r in results
            ]
            for i in range(len(results[-1]["reads"]))
        ],
        right_from=2,
    )
    lines.append("")
    lines += breakdown(results[-1])
    lines.append("")
    check_names = [name for name, _, _ in results[0]["checks"]]
    lines += table(
        ["check", *[f"{r['size']:,}: expected / measured" for r in results]],
        [
            [name, *[f"{r['checks'][i][1]} / {r['checks'][i][2]}" for r in results]]
            for i, name in enumerate(check_names)
        ],
    )
    if len(results) > 1:
        small, large = results[0], results[-1]

        def drain(r: dict[str, Any]) -> float:
            return float(sum(t.seconds for t in r["ticks"][:-1]))

        def ratio(a: float, b: float) -> str:
            return "-" if not a else f"{b / a:.1f}x"

        first_small, first_large = small["ticks"][0], large["ticks"][0]
        idle_small, idle_large = small["ticks"][-1], large["ticks"][-1]
        lines.append("")
        lines += table(
            ["growth", f"{small['size']:,}", f"{large['size']:,}", "ratio"],
            [
                ["reviews", f"{small['size']:,}", f"{large['size']:,}", ratio(small["size"], large["size"])],
                ["reminders sent", f"{small['sent']:,}", f"{large['sent']:,}", ratio(small["sent"], large["sent"])],
                ["ticks to drain", f"{len(small['ticks']) - 1}", f"{len(large['ticks']) - 1}", ""],
                ["time to drain", f"{drain(small):.1f} s", f"{drain(large):.1f} s", ratio(drain(small), drain(large))],
                [
                    "first tick: queries per reminder sent",
                    per(first_small.queries.n, first_small.result.sent, digits=2),
                    per(first_large.queries.n, first_large.result.sent, digits=2),
                    "",
                ],
                [
                    "idle tick: time",
                    f"{idle_small.seconds * 1000:.0f} ms",
                    f"{idle_large.seconds * 1000:.0f} ms",
                    ratio(idle_small.seconds, idle_large.seconds),
                ],
                ["idle tick: queries", f"{idle_small.queries.n}", f"{idle_large.queries.n}", ""],
            ],
        )
    if workers:
        lines.append("")
        lines += table(
            ["in a real worker (prefork, 1 process)", "task time", "returned", "pool VmHWM before", "after", "growth"],
            [
                [
                    w.job,
                    f"{w.seconds:.1f} s",
                    w.result,
                    f"{w.baseline_kib / 1024:.0f} MiB",
                    f"{w.peak_kib / 1024:.0f} MiB",
                    f"{(w.peak_kib - w.baseline_kib) / 1024:.0f} MiB",
                ]
                for w in workers
            ],
        )
    return "\n".join(lines) + "\n"


def breakdown(result: dict[str, Any]) -> list[str]:
    """Where the first tick's time went at one size: each query shape, then everything outside queries."""
    first: Tick = result["ticks"][0]
    sent = first.result.sent
    shapes = sorted(first.queries.by_shape.items(), key=lambda item: -sum(item[1]))
    rows = [
        [
            f"`{name}`",
            f"{len(times):,}",
            per(len(times), sent, digits=2),
            f"{sum(times) / len(times) * 1000:.2f} ms",
            f"{sum(times):.2f} s",
            f"{sum(times) / first.seconds:.0%}",
        ]
        for name, times in shapes[:10]
    ]
    rest = shapes[10:]
    if rest:
        times = [t for _, ts in rest for t in ts]
        rows.append(
            [
                f"{len(rest)} other shapes",
                f"{len(times):,}",
                per(len(times), sent, digits=2),
                "",
                f"{sum(times):.2f} s",
                "",
            ]
        )
    outside = first.seconds - first.queries.seconds
    rows.append(
        [
            "outside queries: rendering, e-mail, Slack posts",
            "",
            "",
            "",
            f"{outside:.2f} s",
            f"{outside / first.seconds:.0%}",
        ]
    )
    rows.append(
        ["this process's CPU (all of the above)", "", "", "", f"{first.cpu:.2f} s", f"{first.cpu / first.seconds:.0%}"]
    )
    slowest = next((name for name, _ in shapes if name.startswith("SELECT")), None)
    planning = explain(*first.queries.sample[slowest]) if slowest else None
    after = (
        []
        if planning is None
        else [
            "",
            f"`{slowest}` alone (EXPLAIN ANALYZE of one of those statements, median of 20): planning "
            f"{planning[0]:.2f} ms, execution {planning[1]:.2f} ms.",
        ]
    )
    idle: Tick = result["ticks"][-1]
    idle_shapes = sorted(idle.queries.by_shape.items(), key=lambda item: -sum(item[1]))
    after += [
        "",
        f"The idle tick's {idle.seconds * 1000:.0f} ms at {result['size']:,} reviews: {idle.queries.n} queries taking "
        f"{idle.queries.seconds * 1000:.0f} ms, the largest "
        + ", ".join(f"`{name}` {sum(times) * 1000:.0f} ms" for name, times in idle_shapes[:3])
        + f"; the rest is Python ({idle.cpu * 1000:.0f} ms of CPU in all).",
    ]
    return [
        f"Where the first tick's {first.seconds:.1f} s went at {result['size']:,} reviews ({sent:,} reminders sent); "
        "query time is the round trip seen from here (PostgreSQL's planning and execution, the driver):",
        "",
        *table(["query", "calls", "per reminder", "per call", "total", "share"], rows),
        *after,
    ]


def explain(sql: str, params: Any) -> tuple[float, float]:
    """Median (planning, execution) milliseconds PostgreSQL reports for a read-only statement."""
    plans, runs = [], []
    with connection.cursor() as cursor:
        for _ in range(20):
            cursor.execute("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + sql, params)
            (result,) = cursor.fetchone()
            plans.append(result[0]["Planning Time"])
            runs.append(result[0]["Execution Time"])
    return statistics.median(plans), statistics.median(runs)


def _phase_order(name: str) -> tuple[int, str]:
    order = ["not due", "due,", "overdue", "escalated", "past", "recorded"]
    return next((i for i, prefix in enumerate(order) if name.startswith(prefix)), len(order)), name


def sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=sizes, default=[10_000, 100_000], help="Sizes, comma-separated.")
    parser.add_argument("--spread-days", type=int, default=1825, help="Pending reviews fell due over this many days.")
    parser.add_argument("--worker", action=argparse.BooleanOptionalAction, default=True, help="Measure a real worker.")
    parser.add_argument("--sync-epics", type=int, default=10_000, help="Epics of the full sync run in the worker.")
    parser.add_argument("--out", type=Path, default=OUT / "reminders.md")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    slack = get_context("fork").Process(target=_serve_slack, args=(SLACK_LISTENER, SLACK_POSTS), daemon=True)
    slack.start()
    try:
        results = [run_size(size, args.spread_days) for size in args.reviews]
        workers = worker_runs(args.sync_epics) if args.worker else []
    finally:
        slack.terminate()
        slack.join()
    text = report(results, workers, args.spread_days)
    print(text)
    args.out.write_text(text)
    print(f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    failed = [(r["size"], name) for r in results for name, want, got in r["checks"] if str(want) != str(got)]
    if failed:
        raise SystemExit(f"checks failed: {failed}")


if __name__ == "__main__":
    main()

"""Reproducible benchmark data: one company at size S, M or L, written in bulk.

    from bench.data import build_company, reset_database
    reset_database()                      # only for databases whose name contains "bench"
    company = build_company("M", seed=1)  # BenchCompany: company, cycle, owner, api_key, counts

A company has people and teams (with monthly costs), an identity, SWOT items, business outcomes with
measurements, strategies and investments; one active quarter around today with a forest of objectives
five levels deep, key results of every kind and check-ins spread over the quarter so far (a few key
results fed daily by an integration, the rest checked in by hand, some gone quiet); and a year of
epics synced from a tracker or kept by hand, each with its status history (waits included), an
anticipated outcome with success metrics, the key results it serves, and for every delivery an
outcome review: pending, waived or recorded with its metric results and verdict, reopened ones
cancelled. Every insight (roll-up, alignment, realisation, outcome debt, flow, investment,
calibration) has real figures to show.

Rows are what the services would write (statuses, dates and reviews follow ``epics.services``;
cached OKR figures are computed as ``okrs.services.refresh_cycles`` does), written in bulk (COPY on
PostgreSQL, ``bulk_create`` elsewhere) so the largest company builds in seconds. Audit history is not
written: nothing measured reads it. The same size and seed give the same rows; dates are placed around
the day of the run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.management import call_command
from django.db import connection, models, transaction
from django.utils import timezone

from epics.choices import ChangeSource, EpicStatus, ReviewState, Verdict, WorkType
from epics.lifecycle import metric_verdict, overall_verdict
from epics.models import (
    ActualResult,
    AnticipatedOutcome,
    Contribution,
    Epic,
    MetricResult,
    OutcomeReview,
    StatusChange,
    SuccessMetric,
)
from epics.services import DEFAULT_WINDOW_DAYS
from integrations.models import Connection
from integrations.status_maps import DEFAULTS
from okrs.choices import CADENCE_DAYS, Cadence, CheckInSource, CycleStatus, KeyResultKind, ObjectiveLevel
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.selectors import cycle_tree
from okrs.services import KEY_RESULT_CACHE, OBJECTIVE_CACHE, cache_changes, refresh_cycles
from outcomes.choices import (
    APIKeyScope,
    Direction,
    MeasurementSource,
    OutcomeCategory,
    Role,
    StrategyStatus,
    SwotKind,
    TeamTopology,
)
from outcomes.models import (
    BusinessOutcome,
    Company,
    IdentityVersion,
    Investment,
    Measurement,
    Membership,
    Strategy,
    SwotItem,
    Team,
    TeamMembership,
    User,
)
from outcomes.services.api_keys import api_key_create

BATCH = 2000
TIME_ZONE = "Europe/Berlin"
CYCLE_DAYS_BEFORE_TODAY = 70  # the quarter started ten weeks ago
CYCLE_LENGTH_DAYS = 91
EPIC_HISTORY_DAYS = 365  # epics were created over the last year
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Size:
    objectives: int
    key_results: int
    check_ins: int
    epics: int
    people: int
    teams: int
    strategies: int


SIZES: dict[str, Size] = {
    "S": Size(objectives=20, key_results=100, check_ins=2_000, epics=800, people=10, teams=4, strategies=3),
    "M": Size(objectives=100, key_results=500, check_ins=10_000, epics=4_000, people=40, teams=10, strategies=6),
    "L": Size(objectives=500, key_results=2_500, check_ins=50_000, epics=20_000, people=200, teams=30, strategies=12),
}


@dataclass
class BenchCompany:
    """A generated company and what a benchmark needs to call its API."""

    size: str
    seed: int
    company: Company
    cycle: Cycle
    owner: User
    api_key: str  # the plaintext of a read key, for ``Authorization: Bearer``
    busiest_key_result: int  # the key result with the most check-ins (its list fills a page of 50)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # time to build

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


# --- database -------------------------------------------------------------------------------------
def database_name() -> str:
    return str(connection.settings_dict["NAME"])


def reset_database() -> None:
    """Migrate, then empty every table (flush). Refused unless the database's name contains "bench"."""
    name = database_name()
    if "bench" not in name.rsplit("/", 1)[-1].lower():
        raise SystemExit(f"refusing to empty database {name!r}: use one whose name contains 'bench'")
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


@contextmanager
def _stamped_by_hand(model: type[models.Model]) -> Iterator[list[Any]]:
    """Let inserts keep the creation and change times we give (a year of history) instead of now."""
    switched = [
        f for f in model._meta.concrete_fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    saved = [(f.auto_now, f.auto_now_add) for f in switched]  # type: ignore[attr-defined]
    for f in switched:
        f.auto_now = f.auto_now_add = False  # type: ignore[attr-defined]
    try:
        yield switched
    finally:
        for f, (now, now_add) in zip(switched, saved, strict=True):
            f.auto_now, f.auto_now_add = now, now_add  # type: ignore[attr-defined]


def _insert(model: type[models.Model], rows: list[Any]) -> list[Any]:
    """Write new rows and give them their ids. Times left empty are now, as on save.

    PostgreSQL takes the rows through COPY with ids drawn from the table's sequence beforehand (several
    times faster than INSERT for tens of thousands of rows); other databases through ``bulk_create``.
    """
    if not rows:
        return rows
    meta = model._meta
    now = timezone.now()
    with _stamped_by_hand(model) as stamped:
        for stamp in stamped:
            for row in rows:
                if getattr(row, stamp.attname) is None:
                    setattr(row, stamp.attname, now)
        if connection.vendor != "postgresql":
            return model.objects.bulk_create(rows, batch_size=BATCH)  # type: ignore[attr-defined]
    table, quote = meta.db_table, connection.ops.quote_name
    fresh = [row for row in rows if row.pk is None]
    with connection.cursor() as cursor:
        if fresh:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, meta.pk.column, len(fresh)],
            )
            for row, (pk,) in zip(fresh, cursor.fetchall(), strict=True):
                row.pk = pk
        fields = meta.concrete_fields
        columns = ", ".join(quote(f.column) for f in fields)
        with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([getattr(row, f.attname) for f in fields])
    for row in rows:
        row._state.adding = False
    return rows


# --- words ----------------------------------------------------------------------------------------
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kemal", "Lena", "Mara"]
LAST = ["Adler", "Berg", "Costa", "Dahl", "Engel", "Fischer", "Gruber", "Hahn", "Ivanova", "Jung", "Keller", "Lind"]
TEAM_NAMES = ["Checkout", "Payments", "Search", "Onboarding", "Platform", "Data", "Mobile", "Growth", "Billing"]
VERBS = ["Grow", "Cut", "Speed up", "Simplify", "Win", "Secure", "Automate", "Open", "Rebuild", "Scale"]
THINGS = [
    "mid-market revenue",
    "checkout conversion",
    "time to first value",
    "support load",
    "self-serve onboarding",
    "partner integrations",
    "platform reliability",
    "search relevance",
    "mobile retention",
    "billing accuracy",
]
EPIC_THINGS = [
    "one-click pay",
    "saved cards",
    "faster search index",
    "guided setup",
    "usage-based invoices",
    "offline mode",
    "SSO for admins",
    "audit export",
    "smarter reminders",
    "bulk import",
    "status page",
    "fraud checks",
]
UNITS = ["%", "EUR", "ms", "days", "NPS", "shops", ""]


def _title(rng: random.Random, n: int, words: list[str]) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(words)} #{n}"


def _money(rng: random.Random, low: int, high: int, step: int) -> Decimal:
    return Decimal(rng.randrange(low, high, step))


def _places(value: float, places: int = 4) -> Decimal:
    return Decimal(f"{value:.{places}f}")


# --- the company ----------------------------------------------------------------------------------
@dataclass
class _Ctx:
    """What the builders share while one company is written."""

    rng: random.Random
    size: Size
    company: Company
    now: datetime
    zone: ZoneInfo
    people: list[User] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    strategies: list[Strategy] = field(default_factory=list)
    outcomes: list[BusinessOutcome] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def person(self) -> User:
        return self.rng.choice(self.people)

    def count(self, name: str, rows: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + rows


def build_company(size: str, seed: int = 1, *, slug: str | None = None) -> BenchCompany:
    """Write one company of ``size`` (S, M or L). The same size and seed give the same rows."""
    spec = SIZES[size]
    slug = slug or f"bench-{size.lower()}"
    if Company.objects.filter(slug=slug).exists():
        raise SystemExit(f"company {slug!r} exists already: start from an empty database (reset_database)")
    began = time.perf_counter()
    rng = random.Random(f"bench-{size}-{seed}")
    with transaction.atomic():
        company = Company.objects.create(name=f"Bench {size}", slug=slug, timezone=TIME_ZONE)
        ctx = _Ctx(rng=rng, size=spec, company=company, now=timezone.now(), zone=ZoneInfo(TIME_ZONE))
        _people_and_teams(ctx)
        _strategy(ctx)
        cycle = _cycle(ctx)
        key_results, busiest = _okrs(ctx, cycle)
        _epics(ctx, cycle, key_results)
    _cache_figures(cycle, ctx.now)
    owner = ctx.people[0]
    issued = api_key_create(company=company, name="Benchmark", scope=APIKeyScope.READ, created_by=owner)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Fresh statistics and visibility map, as autovacuum keeps them in a live database after a bulk
            # load: counts and index-only scans read the index, not every row of the table.
            cursor.execute("VACUUM ANALYZE")
    return BenchCompany(
        size=size,
        seed=seed,
        company=company,
        cycle=cycle,
        owner=owner,
        api_key=issued.raw,
        busiest_key_result=busiest,
        counts=ctx.counts,
        seconds=time.perf_counter() - began,
    )


def _cache_figures(cycle: Cycle, at: datetime) -> None:
    """The cached progress and status columns, as ``okrs.services.refresh_cycles`` computes them after
    check-ins; on PostgreSQL written in one pipelined batch instead of its CASE-per-row updates."""
    if connection.vendor != "postgresql":
        refresh_cycles([cycle.pk], at=at)
        return
    tree = cycle_tree(Cycle.objects.select_related("company").get(pk=cycle.pk), at=at)
    objectives, key_results = cache_changes(tree)
    _update(Objective, objectives, OBJECTIVE_CACHE)
    _update(KeyResult, key_results, KEY_RESULT_CACHE)


def _update(model: type[models.Model], rows: list[Any], names: list[str]) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    fields: list[Any] = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE id = %s",
            [[getattr(row, f.attname) for f in fields] + [row.pk] for row in rows],
        )


def _people_and_teams(ctx: _Ctx) -> None:
    rng, slug = ctx.rng, ctx.company.slug
    ctx.people = _insert(
        User,
        [
            User(
                email=f"person{n}@{slug}.example",
                full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                password=f"{UNUSABLE_PASSWORD_PREFIX}bench",
            )
            for n in range(ctx.size.people)
        ],
    )
    roles = [Role.OWNER, Role.ADMIN, Role.EXECUTIVE] + [Role.MEMBER] * (ctx.size.people - 3)
    _insert(
        Membership, [Membership(user=p, company=ctx.company, role=r) for p, r in zip(ctx.people, roles, strict=True)]
    )
    ctx.teams = _insert(
        Team,
        [
            Team(
                company=ctx.company,
                name=f"{TEAM_NAMES[n % len(TEAM_NAMES)]} {n // len(TEAM_NAMES) + 1}",
                topology=rng.choice(TeamTopology.values),
                lead=ctx.person(),
                monthly_cost=(cost := _money(rng, 40_000, 160_000, 1_000) if rng.random() < 0.8 else None),
                cost_currency="" if cost is None else ("USD" if rng.random() < 0.2 else "EUR"),
            )
            for n in range(ctx.size.teams)
        ],
    )
    _insert(TeamMembership, [TeamMembership(team=rng.choice(ctx.teams), user=p) for p in ctx.people[3:]])
    ctx.count("people", len(ctx.people))
    ctx.count("teams", len(ctx.teams))


def _strategy(ctx: _Ctx) -> None:
    rng, company, n = ctx.rng, ctx.company, ctx.size.strategies
    today = ctx.now.astimezone(ctx.zone).date()
    owner = ctx.people[0]
    IdentityVersion.objects.create(
        company=company,
        number=1,
        mission="Shops sell more with less effort.",
        vision="Every shop runs on us.",
        values=[{"name": "Candour", "description": "Say it."}],
        author=owner,
    )
    swot = _insert(
        SwotItem,
        [
            SwotItem(
                company=company,
                kind=kind,
                title=f"{kind.title()} {k}",
                impact=rng.randint(1, 5),
                owner=ctx.person(),
            )
            for kind in SwotKind.values
            for k in range(n if kind == SwotKind.THREAT else max(1, n // 2))
        ],
    )
    threats = [item for item in swot if item.kind == SwotKind.THREAT]
    ctx.outcomes = _insert(
        BusinessOutcome,
        [
            BusinessOutcome(
                company=company,
                title=f"{rng.choice(THINGS).capitalize()} {k}",
                category=rng.choice(OutcomeCategory.values),
                metric_name=rng.choice(THINGS),
                unit=rng.choice(UNITS),
                direction=Direction.INCREASE,
                baseline=Decimal(rng.randint(10, 60)),
                target=Decimal(rng.randint(70, 120)),
                target_date=today + timedelta(days=rng.randint(90, 540)),
                owner=ctx.person(),
            )
            for k in range(n)
        ],
    )
    _insert(
        Measurement,
        [
            Measurement(
                business_outcome=outcome,
                value=Decimal(rng.randint(10, 90)),
                as_of=ctx.now - timedelta(days=30 * month),
                source=MeasurementSource.IMPORT,
            )
            for outcome in ctx.outcomes
            for month in range(6)
        ],
    )
    statuses = [StrategyStatus.ACTIVE] * max(1, n - 2) + [StrategyStatus.DRAFT, StrategyStatus.RETIRED][: n - 1]
    ctx.strategies = _insert(
        Strategy,
        [
            Strategy(
                company=company,
                title=f"Strategy {k}: {rng.choice(THINGS)}",
                horizon_start=today - timedelta(days=rng.randint(100, 300)),
                horizon_end=today + timedelta(days=rng.randint(200, 700)),
                status=status,
                owner=ctx.person(),
            )
            for k, status in enumerate(statuses)
        ],
    )
    # Half the threats have an answer; the rest show up as unaddressed.
    _insert(
        Strategy.swot_items.through,
        [
            Strategy.swot_items.through(strategy_id=ctx.strategies[k % n].pk, swotitem_id=threat.pk)
            for k, threat in enumerate(threats[: max(1, len(threats) // 2)])
        ],
    )
    _insert(
        Strategy.business_outcomes.through,
        [
            Strategy.business_outcomes.through(strategy_id=s.pk, businessoutcome_id=ctx.outcomes[k].pk)
            for k, s in enumerate(ctx.strategies)
        ],
    )
    _insert(
        Investment,
        [
            Investment(
                company=company,
                strategy=s,
                team=rng.choice(ctx.teams),
                amount=_money(rng, 50_000, 500_000, 5_000),
                currency="EUR",
                period_start=today - timedelta(days=70),
                period_end=today + timedelta(days=20),
            )
            for s in ctx.strategies
        ],
    )
    ctx.count("strategy rows", 1 + len(swot) + 7 * len(ctx.outcomes) + 2 * len(ctx.strategies))


def _cycle(ctx: _Ctx) -> Cycle:
    today = ctx.now.astimezone(ctx.zone).date()
    start = today - timedelta(days=CYCLE_DAYS_BEFORE_TODAY)
    return Cycle.objects.create(
        company=ctx.company,
        name=f"Quarter from {start:%Y-%m-%d}",
        start=start,
        end=start + timedelta(days=CYCLE_LENGTH_DAYS - 1),
        status=CycleStatus.ACTIVE,
    )


# --- OKRs ------------------------------------------------------------------------------------------
KINDS = KeyResultKind.values


def _objectives(ctx: _Ctx, cycle: Cycle) -> list[Objective]:
    """A forest five levels deep: roots, then each level's objectives under one of the level above."""
    rng, total = ctx.rng, ctx.size.objectives
    per_level = max(1, total // 5)
    made: list[Objective] = []
    above: list[Objective] = []
    depth = 0
    while len(made) < total:
        count = min(per_level, total - len(made)) if depth < 4 else total - len(made)
        team_level = depth >= 2
        level = [
            Objective(
                company=ctx.company,
                cycle=cycle,
                title=_title(rng, len(made) + k, THINGS),
                level=ObjectiveLevel.TEAM if team_level else ObjectiveLevel.COMPANY,
                team=rng.choice(ctx.teams) if team_level else None,
                owner=ctx.person(),
                parent=rng.choice(above) if above else None,
                weight=Decimal(rng.choice([1, 1, 1, 2, 3])),
                anticipated_outcome="Shops notice within a quarter." if rng.random() < 0.3 else "",
                anticipated_business_outcome=rng.choice(ctx.outcomes) if depth == 0 else None,
            )
            for k in range(count)
        ]
        made += _insert(Objective, level)
        above, depth = level, depth + 1
    # The upper levels serve strategies and business outcomes; team objectives inherit them.
    upper = [o for o in made if o.level == ObjectiveLevel.COMPANY]
    _insert(
        Objective.strategies.through,
        [
            Objective.strategies.through(objective_id=o.pk, strategy_id=s.pk)
            for o in upper
            for s in rng.sample(ctx.strategies, k=min(len(ctx.strategies), rng.randint(1, 2)))
        ],
    )
    _insert(
        Objective.business_outcomes.through,
        [
            Objective.business_outcomes.through(objective_id=o.pk, businessoutcome_id=rng.choice(ctx.outcomes).pk)
            for o in upper
        ],
    )
    ctx.count("objectives", len(made))
    return made


def _metric(rng: random.Random, kind: str) -> tuple[Decimal, Decimal, str]:
    """(baseline, target, unit) that the key result rules accept for ``kind``."""
    if kind == KeyResultKind.INCREASE_TO:
        baseline = rng.randint(0, 60)
        return Decimal(baseline), Decimal(baseline + rng.randint(10, 100)), rng.choice(["%", "shops", "EUR"])
    if kind == KeyResultKind.DECREASE_TO:
        baseline = rng.randint(60, 200)
        return Decimal(baseline), Decimal(baseline - rng.randint(10, 50)), rng.choice(["ms", "days", "tickets"])
    if kind == KeyResultKind.STAY_ABOVE:
        return Decimal(rng.randint(96, 99)), Decimal(95), "%"
    if kind == KeyResultKind.STAY_BELOW:
        return Decimal(rng.randint(150, 200)), Decimal(250), "ms"
    return Decimal(0), Decimal(1), ""


@dataclass
class _Plan:
    """A key result's check-ins before they are written: (as of, value, confidence, day or None)."""

    kind: str
    baseline: Decimal
    target: Decimal
    unit: str
    quality: float  # how well it goes: 1 reaches the target by the end of the quarter
    confidence: float
    rows: list[tuple[datetime, Decimal, Decimal | None, date | None]] = field(default_factory=list)

    def value(self, rng: random.Random, share: float) -> Decimal:
        """The value reached after ``share`` of the quarter, with some noise."""
        low, high = float(self.baseline), float(self.target)
        if self.kind == KeyResultKind.MILESTONE:
            return Decimal(1) if share * self.quality > 0.6 else Decimal(0)
        if self.kind in (KeyResultKind.STAY_ABOVE, KeyResultKind.STAY_BELOW):
            return _places(low + rng.gauss(0, 3))
        return _places(low + (high - low) * share * self.quality + rng.gauss(0, abs(high - low) * 0.03))


def _okrs(ctx: _Ctx, cycle: Cycle) -> tuple[list[KeyResult], int]:
    rng, size = ctx.rng, ctx.size
    objectives = _objectives(ctx, cycle)
    begins = datetime.combine(cycle.start, clock.min, tzinfo=ctx.zone)
    ends = datetime.combine(cycle.end + DAY, clock.min, tzinfo=ctx.zone)
    length = (ends - begins).total_seconds()
    plans = []
    for _ in range(size.key_results):
        kind = rng.choice(KINDS)
        baseline, target, unit = _metric(rng, kind)
        plans.append(_Plan(kind, baseline, target, unit, rng.uniform(0.3, 1.4), rng.uniform(0.2, 0.95)))
    # A few key results are fed daily by an integration (one value per day, as of midnight); the rest
    # are checked in by hand at random times, and one in ten stopped three weeks ago.
    daily = max(1, size.key_results // 50)
    days = (ctx.now.astimezone(ctx.zone).date() - cycle.start).days
    for plan in plans[:daily]:
        for d in range(days):
            day = cycle.start + timedelta(days=d)
            at = datetime.combine(day, clock.min, tzinfo=ctx.zone)
            plan.rows.append((at, plan.value(rng, (at - begins).total_seconds() / length), None, day))
    by_hand = plans[daily:]
    quiet = {id(p) for p in by_hand if rng.random() < 0.1}
    for _ in range(size.check_ins - daily * days):
        plan = rng.choice(by_hand)
        latest = ctx.now - (timedelta(days=21) if id(plan) in quiet else timedelta(0))
        at = begins + timedelta(seconds=rng.uniform(0, max(1.0, (latest - begins).total_seconds())))
        confidence = _places(min(1, max(0, rng.gauss(plan.confidence, 0.1))), 2) if rng.random() < 0.85 else None
        plan.rows.append((at, plan.value(rng, (at - begins).total_seconds() / length), confidence, None))
    key_results = []
    for n, plan in enumerate(plans):
        cadence = rng.choices(Cadence.values, weights=[7, 2, 1])[0]
        last = max((at for at, *_ in plan.rows), default=None)
        step = timedelta(days=CADENCE_DAYS[Cadence(cadence)])
        key_results.append(
            KeyResult(
                company=ctx.company,
                objective=rng.choice(objectives),
                title=f"KR {n}: {rng.choice(THINGS)}",
                owner=ctx.person(),
                kind=plan.kind,
                unit=plan.unit,
                baseline=plan.baseline,
                target=plan.target,
                weight=Decimal(rng.choice([1, 1, 2])),
                cadence=cadence,
                next_checkin_due=(last if last is not None else max(begins, ctx.now)) + step,
            )
        )
    _insert(KeyResult, key_results)
    check_ins = [
        CheckIn(
            key_result=kr,
            value=value,
            confidence=confidence,
            as_of=at,
            day=day,
            source=CheckInSource.API if day else CheckInSource.MANUAL,
            author=None if day else kr.owner,
        )
        for kr, plan in zip(key_results, plans, strict=True)
        for at, value, confidence, day in sorted(plan.rows, key=lambda row: row[0])
    ]
    _insert(CheckIn, check_ins)
    ctx.count("key results", len(key_results))
    ctx.count("check-ins", len(check_ins))
    busiest = max(zip(key_results, plans, strict=True), key=lambda pair: len(pair[1].rows))[0]
    return key_results, busiest.pk


# --- epics ----------------------------------------------------------------------------------------
FATES = [EpicStatus.PROPOSED, EpicStatus.PLANNED, EpicStatus.IN_PROGRESS, EpicStatus.DONE, EpicStatus.CANCELLED]
FATE_WEIGHTS = [18, 12, 15, 45, 10]
WORK_TYPES = WorkType.values
WORK_WEIGHTS = [60, 20, 8, 12]
TRACKER_STATUS = {
    EpicStatus.PROPOSED: "Backlog",
    EpicStatus.PLANNED: "To Do",
    EpicStatus.IN_PROGRESS: "In Progress",
    EpicStatus.DONE: "Done",
    EpicStatus.CANCELLED: "Won't Do",
}


@dataclass
class _Story:
    """One epic's life as a list of moves (time, from, to, waiting), oldest first."""

    created: datetime
    moves: list[tuple[datetime, str, str, bool]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.moves[-1][2]

    def move(self, at: datetime, to: str, *, waiting: bool = False) -> None:
        self.moves.append((at, self.status if self.moves else "", to, waiting))


def _story(rng: random.Random, now: datetime) -> _Story:
    """Proposed, maybe planned, started (with waits), done (sometimes reopened and done again), or cancelled."""
    created = now - timedelta(seconds=rng.uniform(12 * 3600, EPIC_HISTORY_DAYS * 86400))
    story = _Story(created)
    story.move(created, EpicStatus.PROPOSED)
    fate = rng.choices(FATES, weights=FATE_WEIGHTS)[0]
    at = created

    def later(low_days: float, high_days: float) -> datetime | None:
        nonlocal at
        step = at + timedelta(days=rng.uniform(low_days, high_days))
        if step >= now:
            return None
        at = step
        return at

    if fate == EpicStatus.CANCELLED:
        if (when := later(1, 60)) is not None:
            story.move(when, EpicStatus.CANCELLED)
        return story
    if fate == EpicStatus.PROPOSED or (when := later(0.1, 14)) is None:
        return story
    story.move(when, EpicStatus.PLANNED)
    if fate == EpicStatus.PLANNED or (when := later(0.5, 21)) is None:
        return story
    story.move(when, EpicStatus.IN_PROGRESS)
    deliveries = 2 if rng.random() < 0.05 else 1
    for delivery in range(deliveries):
        if rng.random() < 0.3:  # blocked for a while
            if (when := later(1, 15)) is None:
                return story
            story.move(when, EpicStatus.IN_PROGRESS, waiting=True)
            if (when := later(1, 10)) is None:
                return story
            story.move(when, EpicStatus.IN_PROGRESS)
        if fate != EpicStatus.DONE or (when := later(2, 50)) is None:
            return story
        story.move(when, EpicStatus.DONE)
        if delivery + 1 < deliveries:
            if (when := later(1, 10)) is None:
                return story
            story.move(when, EpicStatus.IN_PROGRESS)  # reopened
    return story


def _epics(ctx: _Ctx, cycle: Cycle, key_results: list[KeyResult]) -> None:
    rng, company, now = ctx.rng, ctx.company, ctx.now
    tracker = Connection.objects.create(
        company=company,
        name="Bench Jira",
        kind="jira",
        base_url="https://bench.atlassian.net",
        scope={"project_keys": ["BEN"]},
        status_map=DEFAULTS["jira"],
        default_owner=ctx.people[0],
        enabled=False,  # nothing to pull: the epics below are as the last sync left them
    )
    cycle_begins = datetime.combine(cycle.start, clock.min, tzinfo=ctx.zone)
    stories = [_story(rng, now) for _ in range(ctx.size.epics)]
    epics: list[Epic] = []
    synced: list[bool] = []
    for n, story in enumerate(stories):
        status = story.status
        starts = [at for at, _, to, _ in story.moves if to in (EpicStatus.IN_PROGRESS, EpicStatus.DONE)]
        done_at = story.moves[-1][0] if status == EpicStatus.DONE else None
        from_tracker = rng.random() < 0.7
        team = rng.choice(ctx.teams) if rng.random() < 0.85 else None
        estimate = _money(rng, 5_000, 250_000, 500) if rng.random() < 0.4 else None
        synced.append(from_tracker)
        epics.append(
            Epic(
                company=company,
                title=f"{rng.choice(EPIC_THINGS).capitalize()} #{n}",
                team=team,
                owner=ctx.person(),
                reviewer=ctx.person() if rng.random() < 0.3 else None,
                work_type=rng.choices(WORK_TYPES, weights=WORK_WEIGHTS)[0],
                status=status,
                waiting=status == EpicStatus.IN_PROGRESS and story.moves[-1][3],
                tracker_connection_id=tracker.pk if from_tracker else None,
                external_id=str(10_000 + n) if from_tracker else "",
                external_key=f"BEN-{n}" if from_tracker else "",
                tracker_status=TRACKER_STATUS[EpicStatus(status)] if from_tracker else "",
                tracker_url=f"https://bench.atlassian.net/browse/BEN-{n}" if from_tracker else "",
                tracker_updated_at=story.moves[-1][0] if from_tracker else None,
                cost_estimate=estimate,
                cost_currency="" if estimate is None else ("USD" if rng.random() < 0.15 else "EUR"),
                started_at=starts[0] if starts else None,
                done_at=done_at,
                created=story.created,
                updated=story.moves[-1][0],
            )
        )
    _insert(Epic, epics)
    ctx.count("epics", len(epics))

    # Status history, exactly as the moves were applied.
    changes = [
        StatusChange(
            epic=epic,
            from_status=from_status,
            to_status=to_status,
            at=at,
            source=ChangeSource.SYNC if from_tracker else ChangeSource.MANUAL,
            actor=None if from_tracker else epic.owner,
            tracker_timestamp=at if from_tracker else None,
            waiting=waiting,
        )
        for epic, story, from_tracker in zip(epics, stories, synced, strict=True)
        for at, from_status, to_status, waiting in story.moves
    ]
    _insert(StatusChange, changes)
    ctx.count("status changes", len(changes))

    # Anticipated outcomes: every epic that started (a synced one now and then without), some planned ones.
    outcomes: list[AnticipatedOutcome] = []
    outcome_epics: list[Epic] = []
    for epic, from_tracker in zip(epics, synced, strict=True):
        started = epic.started_at is not None
        wanted = (started and not (from_tracker and rng.random() < 0.05)) or (
            not started and rng.random() < (0.5 if epic.status == EpicStatus.PLANNED else 0.15)
        )
        if wanted:
            outcome_epics.append(epic)
            outcomes.append(
                AnticipatedOutcome(
                    epic=epic,
                    problem=f"Shops struggle where {epic.title.lower()} should help.",
                    expected_results="The metrics below move within their windows.",
                    learning_plan="Look at the metrics after the window; if they miss, talk to five shops.",
                )
            )
    _insert(AnticipatedOutcome, outcomes)
    metrics: list[SuccessMetric] = []
    metrics_of: dict[int, list[SuccessMetric]] = {}
    for outcome, epic in zip(outcomes, outcome_epics, strict=True):
        own = []
        for position in range(rng.choice([1, 1, 2, 3])):
            direction = rng.choice([Direction.INCREASE, Direction.INCREASE, Direction.DECREASE, Direction.STAY_ABOVE])
            baseline = Decimal(rng.randint(20, 80))
            target = baseline + (-1 if direction == Direction.DECREASE else 1) * Decimal(rng.randint(2, 20))
            if direction == Direction.STAY_ABOVE:
                target = baseline - 5
            own.append(
                SuccessMetric(
                    anticipated_outcome=outcome,
                    position=position,
                    name=rng.choice(THINGS).capitalize(),
                    unit=rng.choice(UNITS),
                    direction=direction,
                    baseline=baseline,
                    target=target,
                    data_source="BI dashboard",
                    window_days=rng.choice([14, 30, 30, 60]),
                )
            )
        metrics_of[epic.pk] = own
        metrics += own
    _insert(SuccessMetric, metrics)
    ctx.count("anticipated outcomes", len(outcomes))
    ctx.count("success metrics", len(metrics))

    # The work of this quarter serves its key results; most of it, not all.
    contributions = []
    for epic in epics:
        finished_before = epic.done_at is not None and epic.done_at < cycle_begins
        cancelled_before = epic.status == EpicStatus.CANCELLED and epic.updated < cycle_begins
        if finished_before or cancelled_before or rng.random() < 0.2:
            continue
        for key_result in rng.sample(key_results, k=1 if rng.random() < 0.7 else 2):
            contributions.append(
                Contribution(
                    epic=epic,
                    key_result=key_result,
                    expected_contribution=_places(rng.uniform(1, 10)) if rng.random() < 0.6 else None,
                )
            )
    _insert(Contribution, contributions)
    ctx.count("contributions", len(contributions))
    _reviews(ctx, epics, stories, metrics_of)


def _reviews(ctx: _Ctx, epics: list[Epic], stories: list[_Story], metrics_of: dict[int, list[SuccessMetric]]) -> None:
    """A review per delivery, due after the longest metric window; leaving done cancels it. The review of
    an epic still done is recorded (with metric results and a verdict), waived or still pending."""
    rng, now = ctx.rng, ctx.now
    reviews: list[OutcomeReview] = []
    recorded: list[tuple[OutcomeReview, Epic, int]] = []  # review, epic, revisions
    for epic, story in zip(epics, stories, strict=True):
        metrics = metrics_of.get(epic.pk, [])
        window = timedelta(days=max((m.window_days for m in metrics), default=DEFAULT_WINDOW_DAYS))
        deliveries = [at for at, _, to, _ in story.moves if to == EpicStatus.DONE]
        reopened = [at for at, frm, to, _ in story.moves if frm == EpicStatus.DONE and to == EpicStatus.IN_PROGRESS]
        for k, done_at in enumerate(deliveries):
            review = OutcomeReview(epic=epic, done_at=done_at, due_at=done_at + window, created=done_at)
            reviews.append(review)
            if k < len(reopened):
                review.state, review.closed_at = ReviewState.CANCELLED, reopened[k]
                continue
            if review.due_at >= now:
                continue  # the measurement window is still open
            draw = rng.random()
            closed = min(now, review.due_at + timedelta(days=rng.uniform(0, 20)))
            if draw < 0.6 and metrics:
                review.state, review.closed_at = ReviewState.RECORDED, closed
                recorded.append((review, epic, 2 if rng.random() < 0.1 else 1))
            elif draw < 0.7:
                review.state, review.closed_at = ReviewState.WAIVED, closed
                review.waived_reason, review.waived_by = "The metric is no longer tracked.", epic.owner
    _insert(OutcomeReview, reviews)
    results: list[ActualResult] = []
    measured: list[tuple[ActualResult, list[tuple[SuccessMetric, Decimal | None, str]]]] = []
    for review, epic, revisions in recorded:
        luck = rng.random()
        for revision in range(1, revisions + 1):
            values = []
            for metric in metrics_of[epic.pk]:
                value = _measured(rng, metric, luck) if rng.random() > 0.05 else None
                verdict = metric_verdict(
                    direction=metric.direction, baseline=metric.baseline, target=metric.target, value=value
                )
                values.append((metric, value, verdict))
            overridden = rng.random() < 0.05
            assert review.closed_at is not None
            result = ActualResult(
                review=review,
                revision=revision,
                verdict=overall_verdict([verdict for *_, verdict in values]),
                verdict_override=Verdict.ACHIEVED if overridden else "",
                override_reason="The metric lagged; support tickets show it worked." if overridden else "",
                learnings="Returning shops used it; new ones did not find it.",
                next_steps="Show it during onboarding.",
                recorded_by=epic.owner,
                recorded_at=review.closed_at + timedelta(days=revision - 1),
            )
            results.append(result)
            measured.append((result, values))
    _insert(ActualResult, results)
    metric_results = [
        MetricResult(result=result, metric=metric, value=value, verdict=verdict, evidence_url="https://bi.example.com")
        for result, values in measured
        for metric, value, verdict in values
    ]
    _insert(MetricResult, metric_results)
    ctx.count("reviews", len(reviews))
    ctx.count("actual results", len(results))
    ctx.count("metric results", len(metric_results))


def _measured(rng: random.Random, metric: SuccessMetric, luck: float) -> Decimal:
    """A measured value: lucky epics reach the target, others move part of the way or not at all."""
    baseline, target = float(metric.baseline), float(metric.target)
    if metric.direction == Direction.STAY_ABOVE:
        return _places(target + (3 if luck > 0.3 else -3))
    reach = 1.2 if luck > 0.55 else 0.5 if luck > 0.2 else -0.2
    return _places(baseline + (target - baseline) * reach + rng.gauss(0, 0.5))


def describe(bench: BenchCompany) -> str:
    """One line: the size and its row counts."""
    parts = ", ".join(f"{count:,} {name}" for name, count in bench.counts.items())
    return f"{bench.size}: {bench.rows:,} rows in {bench.seconds:.1f} s ({parts})"

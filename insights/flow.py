"""Flow: how work moves, read from the status history the trackers feed.

The Flow Framework's measures for one company (or one team) over a period:

* velocity: items done per ISO week (Monday start, in the company's time zone);
* flow time: from the first start (entry into in progress) to done;
* load: work in progress now, and at the end of each week;
* efficiency: active time over active plus waiting time while in progress;
* distribution: the share of features, defects, risks and debt.

An epic is done at its last move into done, and only while it is still done: a reopened epic
counts when it is done again, once. Cancelled epics never count as done. Two queries, whatever
the number of epics: the epics, then their status history, read flat and grouped here.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from epics.choices import EpicStatus, WorkType
from epics.models import Epic, StatusChange
from insights.selectors import _share
from outcomes.models import Company

TYPES: tuple[str, ...] = tuple(WorkType.values)
IN_PROGRESS, DONE = EpicStatus.IN_PROGRESS.value, EpicStatus.DONE.value
SECOND = timedelta(seconds=1)
DAY_SECONDS = Decimal(86400)
HUNDREDTH = Decimal("0.01")


# --- results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ByType:
    """A count per work type (all four, zeros included) and their total."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPES, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def shares(self) -> dict[str, Decimal | None]:
        """Each type's share of the total (None when there is nothing to share)."""
        return {kind: _share(count, self.total) for kind, count in self.counts.items()}


@dataclass(frozen=True)
class FlowTime:
    """Days from start to done: the median and 85th percentile (nearest rank), and the mean."""

    count: int = 0
    p50_days: Decimal | None = None
    p85_days: Decimal | None = None
    mean_days: Decimal | None = None


@dataclass(frozen=True)
class Efficiency:
    """Time in progress split into active and waiting; ``ratio`` is active / (active + waiting).

    ``ratio`` is None when none of the epics ever recorded a wait: without marked wait states every
    epic would look fully efficient.
    """

    active_days: Decimal = Decimal("0.00")
    wait_days: Decimal = Decimal("0.00")
    ratio: Decimal | None = None
    known: bool = False


@dataclass(frozen=True)
class Week:
    """One ISO week: what was done in it, and what was in progress at its end (None if not begun)."""

    start: date
    done: ByType
    in_progress_at_end: ByType | None
    flow_time: FlowTime
    efficiency: Efficiency


@dataclass
class Flow:
    """Flow measures for one company (or team) over [start, end)."""

    start: datetime
    end: datetime
    team_id: int | None
    weeks: list[Week]  # velocity and load over time, every ISO week touching the period
    done: ByType  # done in the period
    flow_time: FlowTime
    flow_time_by_type: dict[str, FlowTime]
    unknown_start: int  # done in the period with no start on record: left out of flow time
    in_progress: ByType  # now
    efficiency: Efficiency
    efficiency_known: bool  # False: no wait state was ever recorded for the epics done, so no ratio
    efficiency_by_type: dict[str, Efficiency]
    done_shares: dict[str, Decimal | None]
    in_progress_shares: dict[str, Decimal | None]

    def table(self) -> tuple[list[str], list[list[object]]]:
        """One row per week: done (total and per type), in progress at the week's end, flow time, efficiency."""
        header = ["week", "done", *(f"done_{kind}" for kind in TYPES), "in_progress_at_week_end"]
        header += ["flow_time_p50_days", "flow_time_p85_days", "efficiency"]
        rows: list[list[object]] = [
            [
                week.start.isoformat(),
                week.done.total,
                *week.done.counts.values(),
                None if week.in_progress_at_end is None else week.in_progress_at_end.total,
                week.flow_time.p50_days,
                week.flow_time.p85_days,
                week.efficiency.ratio,
            ]
            for week in self.weeks
        ]
        return header, rows


# --- one epic's history -----------------------------------------------------------------
@dataclass
class _Epic:
    """An epic's current state and its history as (time, status entered, waiting) rows, oldest first."""

    pk: int
    work_type: str
    status: str
    started_at: datetime | None
    done_at_field: datetime | None
    history: list[tuple[datetime, str, bool]] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)

    def done_at(self) -> datetime | None:
        """The last move into done, while the epic is still done."""
        if self.status != DONE:
            return None
        moves = [at for at, status, _ in self.history if status == DONE]
        return moves[-1] if moves else self.done_at_field

    def start(self, done_at: datetime) -> datetime | None:
        """The first move into in progress before done; else the lifecycle's start date if it precedes done."""
        for at, status, _ in self.history:
            if status == IN_PROGRESS and at <= done_at:
                return at
        return self.started_at if self.started_at is not None and self.started_at < done_at else None

    def state_before(self, moment: datetime) -> tuple[str, bool] | None:
        """The status (and wait flag) held just before ``moment``; None before the first row."""
        index = bisect_left(self.times, moment)
        if index == 0:
            return None
        _, status, waiting = self.history[index - 1]
        return status, waiting

    def in_progress_seconds(self, until: datetime) -> tuple[int, int]:
        """Seconds spent in progress before ``until``: (active, waiting)."""
        active = waiting = 0
        ends = [*self.times[1:], until]
        for (at, status, wait), end in zip(self.history, ends, strict=True):
            if status != IN_PROGRESS or at >= until:
                continue
            seconds = (min(end, until) - at) // SECOND
            if wait:
                waiting += seconds
            else:
                active += seconds
        return active, waiting

    def ever_waited(self) -> bool:
        return any(wait for _, _, wait in self.history)


@dataclass(frozen=True)
class _Done:
    """An epic done in the period: when, how long from its start (None: unknown), time in progress."""

    epic: _Epic
    at: datetime
    seconds: int | None
    active: int
    waiting: int


# --- the read model ---------------------------------------------------------------------
def flow(
    company: Company, start: datetime, end: datetime, *, team_id: int | None = None, now: datetime | None = None
) -> Flow:
    """Flow velocity, time, load, efficiency and distribution of the company's epics over [start, end).

    Two queries. Percentiles are nearest-rank: the smallest value with at least p% of the values at
    or below it. Load at a week's end is the state just before the next Monday (or the period's end,
    or now, when sooner); cancelled epics count there while they were in progress.
    """
    now = now or timezone.now()
    zone = ZoneInfo(company.timezone)
    epics = _read(company, start, team_id)
    delivered = [d for epic in epics if (d := _done(epic)) is not None and start <= d.at < end]
    done = _count(d.epic for d in delivered)
    in_progress = _count(e for e in epics if e.status == IN_PROGRESS)
    efficiency = _efficiency(delivered)
    return Flow(
        start=start,
        end=end,
        team_id=team_id,
        weeks=_weeks(epics, delivered, start, end, now, zone),
        done=done,
        flow_time=_flow_time(delivered),
        flow_time_by_type={kind: _flow_time([d for d in delivered if d.epic.work_type == kind]) for kind in TYPES},
        unknown_start=sum(d.seconds is None for d in delivered),
        in_progress=in_progress,
        efficiency=efficiency,
        efficiency_known=efficiency.known,
        efficiency_by_type={kind: _efficiency([d for d in delivered if d.epic.work_type == kind]) for kind in TYPES},
        done_shares=done.shares(),
        in_progress_shares=in_progress.shares(),
    )


def _scope(company: Company, start: datetime, team_id: int | None) -> QuerySet[Epic]:
    """The company's epics that can matter: not those done before the period and still done."""
    epics = Epic.objects.filter(company=company).filter(~Q(status=DONE) | Q(done_at__gte=start))
    return epics if team_id is None else epics.filter(team_id=team_id)


def _read(company: Company, start: datetime, team_id: int | None) -> list[_Epic]:
    """The epics in scope with their status history (two queries)."""
    scope = _scope(company, start, team_id)
    epics = {
        pk: _Epic(pk, work_type, status, started_at, done_at)
        for pk, work_type, status, started_at, done_at in scope.order_by("pk").values_list(
            "pk", "work_type", "status", "started_at", "done_at"
        )
    }
    rows = (
        StatusChange.objects.filter(epic__in=scope)
        .order_by("epic_id", "at", "pk")
        .values_list("epic_id", "at", "to_status", "waiting")
    )
    for epic_id, at, status, waiting in rows:
        epic = epics[epic_id]
        epic.history.append((at, status, waiting))
        epic.times.append(at)
    return list(epics.values())


def _done(epic: _Epic) -> _Done | None:
    done_at = epic.done_at()
    if done_at is None:
        return None
    started = epic.start(done_at)
    active, waiting = epic.in_progress_seconds(done_at)
    seconds = None if started is None else (done_at - started) // SECOND
    return _Done(epic, done_at, seconds, active, waiting)


def _count(epics: Iterable[_Epic]) -> ByType:
    counts = dict.fromkeys(TYPES, 0)
    for epic in epics:
        counts[epic.work_type] = counts.get(epic.work_type, 0) + 1
    return ByType(counts)


def _days(seconds: int | Decimal) -> Decimal:
    return (Decimal(seconds) / DAY_SECONDS).quantize(HUNDREDTH)


def _nearest_rank(ordered: list[int], percent: int) -> int:
    rank = -(-percent * len(ordered) // 100)  # ceil without floats
    return ordered[max(rank, 1) - 1]


def _flow_time(delivered: list[_Done]) -> FlowTime:
    seconds = sorted(d.seconds for d in delivered if d.seconds is not None)
    if not seconds:
        return FlowTime()
    return FlowTime(
        count=len(seconds),
        p50_days=_days(_nearest_rank(seconds, 50)),
        p85_days=_days(_nearest_rank(seconds, 85)),
        mean_days=_days(Decimal(sum(seconds)) / len(seconds)),
    )


def _efficiency(delivered: list[_Done]) -> Efficiency:
    active = sum(d.active for d in delivered)
    waiting = sum(d.waiting for d in delivered)
    known = any(d.epic.ever_waited() for d in delivered)
    ratio = _share(active, active + waiting) if known else None
    return Efficiency(active_days=_days(active), wait_days=_days(waiting), ratio=ratio, known=known)


def _monday(moment: datetime, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def _weeks(
    epics: list[_Epic], delivered: list[_Done], start: datetime, end: datetime, now: datetime, zone: ZoneInfo
) -> list[Week]:
    """Every ISO week touching [start, end), with its deliveries and the load at its end."""
    if end <= start:
        return []
    by_week: dict[date, list[_Done]] = {}
    for d in delivered:
        by_week.setdefault(_monday(d.at, zone), []).append(d)
    weeks = []
    monday, last = _monday(start, zone), _monday(end - timedelta(microseconds=1), zone)
    while monday <= last:
        begins = datetime.combine(monday, time(), tzinfo=zone)
        ends = datetime.combine(monday + timedelta(days=7), time(), tzinfo=zone)
        done = by_week.get(monday, [])
        weeks.append(
            Week(
                start=monday,
                done=_count(d.epic for d in done),
                in_progress_at_end=None if now < max(begins, start) else _load(epics, min(ends, end, now)),
                flow_time=_flow_time(done),
                efficiency=_efficiency(done),
            )
        )
        monday += timedelta(days=7)
    return weeks


def _load(epics: list[_Epic], moment: datetime) -> ByType:
    """Epics whose state just before ``moment`` was in progress.

    ``moment`` is taken in UTC, the zone the history is read in: the same instant, but comparing times of
    one zone skips a UTC-offset lookup per comparison, and there are weeks x epics x log(moves) of them.
    """
    moment = moment.astimezone(UTC)
    states = (epic.state_before(moment) for epic in epics)
    return _count(epic for epic, state in zip(epics, states, strict=True) if state and state[0] == IN_PROGRESS)

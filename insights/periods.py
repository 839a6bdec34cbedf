"""The period an insight covers: a cycle's dates, or dates given, as instants in the company's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from okrs.choices import CycleStatus
from okrs.models import Cycle
from outcomes.models import Company

DEFAULT_DAYS = 90  # without a cycle or dates, and no active cycle: the last 90 days
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)  # days a period may name
MAX_DAYS = 3 * 366  # a longer period is refused: the answer would say little and cost much


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, the first day's midnight in the company's time zone
    end: datetime  # exclusive, the midnight after the last day
    first_day: date
    last_day: date
    cycle: Cycle | None = None


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def period_of_days(company: Company, first_day: date, last_day: date, cycle: Cycle | None = None) -> Period:
    zone = ZoneInfo(company.timezone)
    end = _midnight(last_day + timedelta(days=1), zone)
    return Period(_midnight(first_day, zone), end, first_day, last_day, cycle)


def current_cycle(company: Company, today: date) -> Cycle | None:
    """The active cycle that holds today, else the latest active one, else the latest that started."""
    cycles = list(Cycle.objects.filter(company=company, start__lte=today).order_by("-start", "-id")[:20])
    active = [c for c in cycles if c.status == CycleStatus.ACTIVE]
    holding = [c for c in active if c.start <= today <= c.end]
    found = holding or active or cycles
    return found[0] if found else None


def default_period(company: Company, today: date) -> Period:
    cycle = current_cycle(company, today)
    if cycle is not None:
        return period_of_days(company, cycle.start, cycle.end, cycle)
    return period_of_days(company, today - timedelta(days=DEFAULT_DAYS - 1), today)

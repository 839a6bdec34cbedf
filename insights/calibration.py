"""Calibration: did the confidence owners stated mid-cycle match how their key results ended?

For each key result of the cycle (its objective's cycle; its team is the objective's team):

- *confidence* is the one stated at mid-cycle: that of the latest check-in, as of the cycle's
  midpoint or earlier, that carries a confidence (a check-in without one, such as a value fed by
  a recorded outcome, states nothing and is passed over);
- *grade* is the progress at the end of the cycle, by the roll-up's own rule
  (``okrs.rollup.key_result_progress`` over ``outcomes.progress``) from the check-ins made by then:
  the latest value, or for a milestone the highest value reached. It lies in [0, 1].

The cycle runs from its first day 00:00 to the end of its last day in the company's time zone;
the midpoint is half way in elapsed time (so a daylight-saving change moves it by the hour it
should). A key result without a confidence by the midpoint, or without a check-in by the end, or
whose progress cannot be told, is ``unscored``.

Over the scored key results of a group: the Brier score is the mean of (confidence - grade)²,
0 for perfect calibration and 1 for the worst; the bias is mean confidence - mean grade, positive
when owners were over-confident. Groups: each owner (by e-mail), each team, and the total.
One query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery

from insights.alignment import FOUR_PLACES, ZERO
from okrs.models import CheckIn, Cycle, KeyResult
from okrs.rollup import KeyResultFacts, key_result_progress
from okrs.selectors import for_milestones, highest_of
from outcomes.models import Company
from outcomes.progress import clamp


def _mean(total: Decimal, count: int) -> Decimal | None:
    return None if count == 0 else (total / count).quantize(FOUR_PLACES)


def _exact(value: object) -> Decimal | None:
    """A database number as an exact Decimal (SQLite may hand back an aggregate as float or text)."""
    return None if value is None else value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass
class Score:
    """The calibration of one group's key results."""

    key: str
    name: str
    scored: int = 0
    unscored: int = 0
    confidence_sum: Decimal = ZERO
    grade_sum: Decimal = ZERO
    squared_error_sum: Decimal = ZERO

    def add(self, confidence: Decimal | None, grade: Decimal | None) -> None:
        if confidence is None or grade is None:
            self.unscored += 1
            return
        self.scored += 1
        self.confidence_sum += confidence
        self.grade_sum += grade
        self.squared_error_sum += (confidence - grade) ** 2

    @property
    def mean_confidence(self) -> Decimal | None:
        return _mean(self.confidence_sum, self.scored)

    @property
    def mean_grade(self) -> Decimal | None:
        return _mean(self.grade_sum, self.scored)

    @property
    def bias(self) -> Decimal | None:
        """Mean confidence - mean grade: positive when over-confident."""
        return _mean(self.confidence_sum - self.grade_sum, self.scored)

    @property
    def brier(self) -> Decimal | None:
        return _mean(self.squared_error_sum, self.scored)


@dataclass
class KeyResultScore:
    id: int
    title: str
    owner: str
    team: str
    kind: str
    confidence: Decimal | None  # stated by the midpoint
    grade: Decimal | None  # progress at the end, to four places

    @property
    def squared_error(self) -> Decimal | None:
        if self.confidence is None or self.grade is None:
            return None
        return ((self.confidence - self.grade) ** 2).quantize(FOUR_PLACES)


@dataclass
class Calibration:
    cycle_id: int
    midpoint: datetime
    ends: datetime
    total: Score
    by_owner: list[Score] = field(default_factory=list)
    by_team: list[Score] = field(default_factory=list)
    key_results: list[KeyResultScore] = field(default_factory=list)

    def table(self) -> tuple[list[str], list[list[object]]]:
        """One row per group: the total, then each owner, then each team."""
        header = ["group", "key", "name", "scored", "unscored", "mean_confidence", "mean_grade", "bias", "brier"]
        groups = [("total", self.total), *(("owner", s) for s in self.by_owner), *(("team", s) for s in self.by_team)]
        rows: list[list[object]] = [
            [kind, s.key, s.name, s.scored, s.unscored, s.mean_confidence, s.mean_grade, s.bias, s.brier]
            for kind, s in groups
        ]
        return header, rows


def cycle_bounds(cycle: Cycle, tz: str) -> tuple[datetime, datetime, datetime]:
    """(begins, midpoint, ends) of a cycle in UTC: its first day 00:00 to the day after its last, local time."""
    zone = ZoneInfo(tz)
    begins = datetime.combine(cycle.start, time.min, tzinfo=zone).astimezone(UTC)
    ends = datetime.combine(cycle.end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return begins, begins + (ends - begins) / 2, ends


def calibration(company: Company, cycle: Cycle, *, team_id: int | None = None) -> Calibration:
    """Mid-cycle confidence against the end-of-cycle grade of the cycle's key results. One query."""
    _begins, midpoint, ends = cycle_bounds(cycle, company.timezone)
    check_ins = CheckIn.objects.filter(key_result=OuterRef("pk"))
    stated = check_ins.filter(as_of__lte=midpoint, confidence__isnull=False).order_by("-as_of", "-id")
    by_end = check_ins.filter(as_of__lt=ends)
    key_results = KeyResult.objects.filter(company=company, objective__cycle=cycle).annotate(
        stated_confidence=Subquery(stated.values("confidence")[:1]),
        final_value=Subquery(by_end.order_by("-as_of", "-id").values("value")[:1]),
        highest_value=for_milestones(highest_of(by_end)),
    )
    if team_id is not None:
        key_results = key_results.filter(objective__team_id=team_id)
    rows = key_results.values_list(
        "id",
        "title",
        "kind",
        "baseline",
        "target",
        "weight",
        "objective_id",
        "owner__email",
        "objective__team_id",
        "objective__team__name",
        "stated_confidence",
        "final_value",
        "highest_value",
    ).order_by("title", "id")
    total = Score("all", "All key results")
    owners: dict[str, Score] = {}
    teams: dict[str, Score] = {}
    scores: list[KeyResultScore] = []
    for pk, title, kind, baseline, target, weight, objective, owner, team, team_name, *figures in rows:
        confidence, final, highest_value = (_exact(value) for value in figures)
        grade = None
        if final is not None:
            facts = KeyResultFacts(pk, objective, kind, baseline, target, weight, current=final, highest=highest_value)
            found = key_result_progress(facts)
            grade = None if found is None else clamp(found)
        team_label = team_name or "No team"
        for book, key, name in ((owners, owner, owner), (teams, str(team or ""), team_label)):
            book.setdefault(key, Score(key, name)).add(confidence, grade)
        total.add(confidence, grade)
        shown = None if grade is None else grade.quantize(FOUR_PLACES)
        scores.append(KeyResultScore(pk, title, owner, team_name or "", kind, confidence, shown))
    return Calibration(
        cycle_id=cycle.pk,
        midpoint=midpoint,
        ends=ends,
        total=total,
        by_owner=_by_name(owners.values()),
        by_team=_by_name(teams.values()),
        key_results=scores,
    )


def _by_name(scores: Iterable[Score]) -> list[Score]:
    return sorted(scores, key=lambda score: score.name)

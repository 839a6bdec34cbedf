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

from config.db import fields, select
from insights.alignment import FOUR_PLACES, ZERO
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.rollup import KeyResultFacts, key_result_progress
from outcomes.models import Company, Team, User
from outcomes.progress import MILESTONE, clamp


def _mean(total: Decimal, count: int) -> Decimal | None:
    return None if count == 0 else (total / count).quantize(FOUR_PLACES)


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


_CHECK_INS = CheckIn._meta.db_table

# The cycle's key results (their objective's cycle) with the confidence stated by the midpoint, and the
# latest value and, for milestones only, the highest value by the end: index lookups on (key result, as of).
KEY_RESULTS = f"""
SELECT k.id, k.title, k.kind, k.baseline, k.target, k.weight, k.objective_id, u.email, o.team_id, t.name,
    (SELECT c.confidence FROM {_CHECK_INS} c WHERE c.key_result_id = k.id AND c.as_of <= %(midpoint)s
        AND c.confidence IS NOT NULL ORDER BY c.as_of DESC, c.id DESC LIMIT 1),
    (SELECT c.value FROM {_CHECK_INS} c WHERE c.key_result_id = k.id AND c.as_of < %(ends)s
        ORDER BY c.as_of DESC, c.id DESC LIMIT 1),
    CASE WHEN k.kind = %(milestone)s THEN
        (SELECT MAX(c.value) FROM {_CHECK_INS} c WHERE c.key_result_id = k.id AND c.as_of < %(ends)s) END
FROM {KeyResult._meta.db_table} k
JOIN {Objective._meta.db_table} o ON o.id = k.objective_id
JOIN {User._meta.db_table} u ON u.id = k.owner_id
LEFT JOIN {Team._meta.db_table} t ON t.id = o.team_id
WHERE k.company_id = %(company)s AND o.cycle_id = %(cycle)s {{team}}
ORDER BY k.title, k.id
"""  # noqa: S608 - the table names are the models'; every value is a bound parameter
_KEY_RESULTS = KEY_RESULTS.format(team="")
_KEY_RESULTS_OF_TEAM = KEY_RESULTS.format(team="AND o.team_id = %(team)s")
_COLUMNS = [
    *fields(KeyResult, "id", "title", "kind", "baseline", "target", "weight", "objective"),
    *fields(User, "email"),
    *fields(Team, "id", "name"),
    *fields(CheckIn, "confidence", "value", "value"),
]


def calibration(company: Company, cycle: Cycle, *, team_id: int | None = None) -> Calibration:
    """Mid-cycle confidence against the end-of-cycle grade of the cycle's key results. One query."""
    _begins, midpoint, ends = cycle_bounds(cycle, company.timezone)
    params = {"company": company.pk, "cycle": cycle.pk, "midpoint": midpoint, "ends": ends, "milestone": MILESTONE}
    if team_id is None:
        rows = select(_KEY_RESULTS, params, _COLUMNS)
    else:
        rows = select(_KEY_RESULTS_OF_TEAM, params | {"team": team_id}, _COLUMNS)
    total = Score("all", "All key results")
    owners: dict[str, Score] = {}
    teams: dict[str, Score] = {}
    scores: list[KeyResultScore] = []
    for pk, title, kind, baseline, target, weight, objective, owner, team, team_name, *figures in rows:
        confidence, final, highest_value = figures
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

"""The roll-up arithmetic of okrs.rollup on plain records: formulas, thresholds, time zones and properties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okrs.rollup import (
    KeyResultFacts,
    ObjectiveFacts,
    Rollup,
    compute,
    cycle_progress,
    expected_progress,
    key_result_progress,
    status_of,
    weighted_mean,
)

D = Decimal
CYCLE = 1
ON_TRACK, AT_RISK, OFF_TRACK = "on_track", "at_risk", "off_track"


def kr(
    id: int = 1,
    objective_id: int = 1,
    *,
    kind: str = "increase_to",
    baseline: str = "0",
    target: str = "10",
    weight: str = "1",
    **values: Any,
) -> KeyResultFacts:
    return KeyResultFacts(
        id=id, objective_id=objective_id, kind=kind, baseline=D(baseline), target=D(target), weight=D(weight), **values
    )


def obj(id: int, parent_id: int | None = None, *, weight: str = "1", cycle_id: int = CYCLE) -> ObjectiveFacts:
    return ObjectiveFacts(id=id, parent_id=parent_id, cycle_id=cycle_id, weight=D(weight))


def run(objectives: list[ObjectiveFacts], key_results: list[KeyResultFacts], expected: str = "0.5") -> Rollup:
    return compute(objectives, key_results, expected_by_cycle={CYCLE: D(expected)})


# =====================================================================================
# key_result_progress
# =====================================================================================
@pytest.mark.parametrize(
    ("kind", "baseline", "target", "current", "progress"),
    [
        ("increase_to", "60", "70", "64", D("0.4")),
        ("increase_to", "60", "70", None, D(0)),  # no value yet: current = baseline
        ("increase_to", "60", "70", "85", D(1)),  # overshooting counts as 1
        ("increase_to", "60", "70", "50", D(0)),  # falling behind the baseline counts as 0
        ("increase_to", "-10", "10", "-5", D("0.25")),
        ("decrease_to", "10", "0", "4", D("0.6")),
        ("decrease_to", "10", "0", None, D(0)),
        ("decrease_to", "10", "0", "-3", D(1)),
        ("decrease_to", "10", "0", "12", D(0)),
        ("stay_above", "0", "5", "5", D(1)),
        ("stay_above", "0", "5", "4.99", D(0)),
        ("stay_above", "5", "5", "7", D(1)),  # a target equal to the baseline is fine
        ("stay_above", "0", "5", None, None),  # unknown until there is a value
        ("stay_below", "9", "5", "5", D(1)),
        ("stay_below", "9", "5", "5.01", D(0)),
        ("stay_below", "9", "5", None, None),
    ],
)
def test_key_result_progress_follows_the_metric_formula(kind, baseline, target, current, progress):
    facts = kr(kind=kind, baseline=baseline, target=target, current=None if current is None else D(current))
    assert key_result_progress(facts) == progress


@pytest.mark.parametrize(
    ("highest", "progress"),
    [(None, D(0)), (D(0), D(0)), (D("0.99"), D(0)), (D(1), D(1)), (D(5), D(1))],
)
def test_milestone_progress_is_one_once_a_value_of_one_was_recorded(highest, progress):
    assert key_result_progress(kr(kind="milestone", baseline="0", target="1", highest=highest)) == progress


def test_milestone_reached_then_a_later_zero_still_counts_one():
    facts = kr(kind="milestone", baseline="0", target="1", current=D(0), highest=D(1))
    assert key_result_progress(facts) == D(1)


def test_before_variant_uses_the_values_of_a_week_ago():
    metric = kr(kind="increase_to", baseline="0", target="10", current=D(8), current_before=D(3))
    assert key_result_progress(metric) == D("0.8")
    assert key_result_progress(metric, before=True) == D("0.3")
    milestone = kr(kind="milestone", baseline="0", target="1", highest=D(1), highest_before=D(0), current=D(1))
    assert key_result_progress(milestone) == D(1)
    assert key_result_progress(milestone, before=True) == D(0)
    unknown = kr(kind="stay_above", baseline="0", target="5", current=D(6))
    assert key_result_progress(unknown, before=True) is None


# =====================================================================================
# weighted_mean
# =====================================================================================
def test_weighted_mean_counts_each_value_with_its_weight():
    assert weighted_mean([(D(1), D(1)), (D(3), D(0))]) == D("0.25")
    assert weighted_mean([(D(2), D("0.5"))]) == D("0.5")


def test_weighted_mean_leaves_out_missing_values_and_their_weights():
    assert weighted_mean([(D(1), D("0.8")), (D(100), None), (D(3), D("0.4"))]) == D("0.5")


@pytest.mark.parametrize("items", [[], [(D(1), None)], [(D(1), None), (D(5), None)]])
def test_weighted_mean_of_nothing_known_is_none(items):
    assert weighted_mean(items) is None


# =====================================================================================
# compute(): objectives from key results and children
# =====================================================================================
def test_objective_is_the_weighted_mean_of_its_key_results_and_child_objectives():
    objectives = [obj(1), obj(2, 1, weight="3")]
    key_results = [
        kr(10, 1, current=D(10), weight="1"),  # 1.0
        kr(20, 2, current=D(2), weight="1"),  # 0.2
        kr(21, 2, current=D(6), weight="3"),  # 0.6
    ]
    rollup = run(objectives, key_results)
    assert rollup.key_results[20].progress == D("0.2")
    assert rollup.objectives[2].progress == D("0.5")  # (0.2 + 3 * 0.6) / 4
    assert rollup.objectives[1].progress == D("0.625")  # (1 * 1.0 + 3 * 0.5) / 4


def test_child_with_unknown_progress_is_left_out():
    objectives = [obj(1), obj(2, 1, weight="5"), obj(3, 1, weight="2")]
    key_results = [
        kr(10, 1, current=D(4)),  # 0.4
        kr(20, 2, kind="stay_above", target="5"),  # no value: None, so objective 2 is None
    ]
    rollup = run(objectives, key_results)
    assert rollup.objectives[2].progress is None
    assert rollup.objectives[3].progress is None  # nothing at all
    assert rollup.objectives[1].progress == D("0.4")


def test_objective_without_key_results_or_children_has_no_progress_nor_status():
    rollup = run([obj(1)], [])
    figures = rollup.objectives[1]
    assert (figures.progress, figures.progress_before, figures.confidence, figures.status) == (None, None, None, None)
    assert figures.trend is None
    assert figures.stale is False


def test_ten_level_chain_rolls_up_to_the_root():
    chain = [obj(1)] + [obj(i, i - 1) for i in range(2, 11)]
    rollup = run(list(reversed(chain)), [kr(100, 10, current=D(7))])  # input order does not matter
    assert [rollup.objectives[i].progress for i in range(1, 11)] == [D("0.7")] * 10


def test_ten_level_chain_mixes_siblings_at_every_level():
    chain = [obj(1)] + [obj(i, i - 1, weight="3") for i in range(2, 11)]
    key_results = [kr(100, 10, current=D(10))] + [kr(100 + i, i, current=D(0)) for i in range(1, 10)]
    rollup = run(chain, key_results)
    expected = D(1)
    assert rollup.objectives[10].progress == expected
    for level in range(9, 0, -1):
        expected = (3 * expected + 0) / 4  # child weight 3, own key result 0 with weight 1
        assert rollup.objectives[level].progress == expected


def test_objective_whose_parent_is_not_in_the_input_is_a_root():
    rollup = run([obj(2, 999), obj(3, 2)], [kr(30, 3, current=D(5))])
    assert rollup.objectives[3].progress == D("0.5")
    assert rollup.objectives[2].progress == D("0.5")


def test_cycle_progress_is_the_weighted_mean_of_top_level_objectives():
    objectives = [obj(1, weight="1"), obj(2, weight="3")]
    rollup = run(objectives, [kr(10, 1, current=D(10)), kr(20, 2, current=D(2))])
    assert cycle_progress(rollup, objectives) == D("0.4")  # (1 + 3 * 0.2) / 4


# =====================================================================================
# status
# =====================================================================================
@pytest.mark.parametrize(
    ("confidence", "status"),
    [("1", ON_TRACK), ("0.7", ON_TRACK), ("0.69", AT_RISK), ("0.4", AT_RISK), ("0.39", OFF_TRACK), ("0", OFF_TRACK)],
)
def test_status_from_confidence_with_inclusive_thresholds(confidence, status):
    # whatever the gap to expected progress says, a known confidence decides
    assert status_of(progress=D(0), expected=D(1), confidence=D(confidence)) == status
    assert status_of(progress=D(1), expected=D(0), confidence=D(confidence)) == status
    assert status_of(progress=None, expected=None, confidence=D(confidence)) == status


@pytest.mark.parametrize(
    ("progress", "expected", "status"),
    [
        ("0.5", "0.5", ON_TRACK),
        ("0.9", "0.5", ON_TRACK),
        ("0.4", "0.5", ON_TRACK),  # gap -0.1
        ("0.39", "0.5", AT_RISK),
        ("0.25", "0.5", AT_RISK),  # gap -0.25
        ("0.24", "0.5", OFF_TRACK),
        ("0", "1", OFF_TRACK),
    ],
)
def test_status_without_confidence_from_the_gap_to_expected(progress, expected, status):
    assert status_of(progress=D(progress), expected=D(expected), confidence=None) == status


@pytest.mark.parametrize(("progress", "expected"), [(None, D("0.5")), (D("0.5"), None), (None, None)])
def test_status_unknown_without_confidence_progress_or_expected(progress, expected):
    assert status_of(progress=progress, expected=expected, confidence=None) is None


def test_compute_statuses_use_confidence_else_the_cycle_expected_progress():
    objectives = [obj(1), obj(2, 1)]
    key_results = [
        kr(10, 1, current=D(0), confidence=D("0.7")),  # far behind but confident
        kr(20, 2, current=D(3)),  # 0.3 against 0.5 expected, no confidence: gap -0.2
    ]
    rollup = run(objectives, key_results, expected="0.5")
    assert rollup.key_results[10].status == ON_TRACK
    assert rollup.key_results[20].status == AT_RISK
    assert rollup.objectives[2].status == AT_RISK
    assert rollup.objectives[2].expected == D("0.5")
    assert rollup.objectives[1].status == ON_TRACK  # its own key result's confidence
    assert run(objectives, key_results, expected="0.56").key_results[20].status == OFF_TRACK


def test_objective_in_another_cycle_uses_its_own_expected_progress():
    objectives = [obj(1), obj(2, 1, cycle_id=2)]
    rollup = compute(
        objectives, [kr(20, 2, current=D(5))], expected_by_cycle={CYCLE: D("0.9"), 2: D("0.5")}
    )  # 0.5 is on track for cycle 2, off track for cycle 1
    assert rollup.key_results[20].status == ON_TRACK
    assert rollup.objectives[2].status == ON_TRACK
    assert rollup.objectives[1].status == OFF_TRACK


def test_objective_confidence_is_the_weighted_mean_of_its_key_results_that_have_one():
    key_results = [
        kr(10, 1, confidence=D("0.8"), weight="1"),
        kr(11, 1, confidence=None, weight="3"),
        kr(12, 1, confidence=D("0.4"), weight="3"),
    ]
    rollup = run([obj(1), obj(2, 1)], [*key_results, kr(20, 2, confidence=D("0.1"))])
    assert rollup.objectives[1].confidence == D("0.5")  # (1 * 0.8 + 3 * 0.4) / 4; children do not count
    assert rollup.objectives[2].confidence == D("0.1")


def test_objective_without_confidences_has_none():
    rollup = run([obj(1)], [kr(10, 1, current=D(5))])
    assert rollup.objectives[1].confidence is None


# =====================================================================================
# trend and staleness
# =====================================================================================
def test_trend_is_progress_minus_progress_a_week_ago():
    rollup = run([obj(1), obj(2, 1)], [kr(10, 2, current=D(6), current_before=D(4))])
    assert rollup.key_results[10].trend == D("0.2")
    assert rollup.objectives[2].trend == D("0.2")
    assert rollup.objectives[1].trend == D("0.2")


def test_trend_is_none_when_either_side_is_unknown():
    rollup = run(
        [obj(1), obj(2)],
        [
            kr(10, 1, kind="stay_above", target="5", current=D(6)),  # no value a week ago
            kr(20, 2, kind="stay_above", target="5", current_before=D(6)),  # no value now
        ],
    )
    assert rollup.key_results[10].progress == D(1)
    assert rollup.key_results[10].trend is None
    assert rollup.objectives[1].trend is None
    assert rollup.key_results[20].progress_before == D(1)
    assert rollup.objectives[2].trend is None


def test_objective_is_stale_when_any_of_its_key_results_is():
    rollup = run(
        [obj(1), obj(2)],
        [kr(10, 1, stale=False), kr(11, 1, stale=True), kr(20, 2, stale=False)],
    )
    assert rollup.key_results[11].stale is True
    assert rollup.objectives[1].stale is True
    assert rollup.objectives[2].stale is False


# =====================================================================================
# expected_progress
# =====================================================================================
def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_expected_is_zero_before_the_start():
    assert expected_progress(start=date(2026, 1, 1), end=date(2026, 1, 10), at=at(2025, 12, 31, 23)) == 0


def test_expected_is_zero_at_the_start_and_one_after_the_last_day():
    start, end = date(2026, 1, 1), date(2026, 1, 10)
    assert expected_progress(start=start, end=end, at=at(2026, 1, 1)) == 0
    assert expected_progress(start=start, end=end, at=at(2026, 1, 10, 23, 59)) < 1  # the end day is included
    assert expected_progress(start=start, end=end, at=at(2026, 1, 11)) == 1
    assert expected_progress(start=start, end=end, at=at(2027, 6, 1)) == 1


def test_expected_is_the_elapsed_share():
    start, end = date(2026, 1, 1), date(2026, 1, 10)  # ten whole days
    assert expected_progress(start=start, end=end, at=at(2026, 1, 6)) == D("0.5")
    assert expected_progress(start=start, end=end, at=at(2026, 1, 2)) == D("0.1")


def test_expected_respects_the_company_time_zone():
    start, end = date(2026, 10, 1), date(2026, 10, 10)
    instant = at(2026, 10, 1)  # midnight in UTC, 13:00 in Auckland (NZDT, UTC+13)
    assert expected_progress(start=start, end=end, at=instant, tz="UTC") == 0
    auckland = expected_progress(start=start, end=end, at=instant, tz="Pacific/Auckland")
    assert auckland == D(13) / D(240)
    # the Auckland cycle is over 13 hours before the UTC one
    assert expected_progress(start=start, end=end, at=at(2026, 10, 10, 11), tz="Pacific/Auckland") == 1
    assert expected_progress(start=start, end=end, at=at(2026, 10, 10, 11), tz="UTC") < 1


# =====================================================================================
# properties
# =====================================================================================
KINDS = ["increase_to", "decrease_to", "stay_above", "stay_below", "milestone"]
values = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000)
weights = st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=D("0.001"), max_value=1000)
MAX_DEPTH = 10
OUTSIDE = 99_999  # a parent id that is not in the input: its children are roots
confidences = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=1)


@dataclass(frozen=True)
class Forest:
    objectives: list[ObjectiveFacts]
    key_results: list[KeyResultFacts]


@st.composite
def forests(draw: st.DrawFn) -> Forest:
    count = draw(st.integers(min_value=1, max_value=25))
    deep = draw(st.booleans())  # chains: each objective aligns to the one before while depth allows
    depth: dict[int, int] = {}
    objectives: list[ObjectiveFacts] = []
    for index in range(count):
        oid = 1000 + index
        candidates = [other for other in depth if depth[other] < MAX_DEPTH]
        parent: int | None
        if deep and objectives and depth[objectives[-1].id] < MAX_DEPTH:
            parent = objectives[-1].id
        elif candidates:
            parent = draw(st.one_of(st.none(), st.just(OUTSIDE), st.sampled_from(candidates)))
        else:
            parent = draw(st.sampled_from([None, OUTSIDE]))
        depth[oid] = depth[parent] + 1 if parent in depth else 1
        objectives.append(ObjectiveFacts(oid, parent, CYCLE, draw(weights)))
    key_results = []
    for index in range(draw(st.integers(min_value=0, max_value=40))):
        kind = draw(st.sampled_from(KINDS))
        baseline, target = draw(values), draw(values)
        if kind == "milestone":
            baseline, target = D(0), D(1)
        elif kind == "increase_to" and target <= baseline:
            target = baseline + draw(st.integers(min_value=1, max_value=100))
        elif kind == "decrease_to" and target >= baseline:
            target = baseline - draw(st.integers(min_value=1, max_value=100))
        optional = st.one_of(st.none(), values)
        key_results.append(
            KeyResultFacts(
                id=index + 1,
                objective_id=draw(st.sampled_from(objectives)).id,
                kind=kind,
                baseline=baseline,
                target=target,
                weight=draw(weights),
                current=draw(optional),
                highest=draw(optional),
                confidence=draw(st.one_of(st.none(), confidences)),
                current_before=draw(optional),
                highest_before=draw(optional),
                stale=draw(st.booleans()),
            )
        )
    shuffled = draw(st.permutations(objectives))
    return Forest(objectives=list(shuffled), key_results=key_results)


def _metric_progress(facts: KeyResultFacts) -> Decimal | None:
    """The published per-metric rules, written out again."""
    if facts.kind == "milestone":
        return D(1) if facts.highest is not None and facts.highest >= 1 else D(0)
    if facts.kind in {"increase_to", "decrease_to"}:
        value = facts.baseline if facts.current is None else facts.current
        share = (value - facts.baseline) / (facts.target - facts.baseline)
        return min(D(1), max(D(0), share))
    if facts.current is None:
        return None
    if facts.kind == "stay_above":
        return D(1) if facts.current >= facts.target else D(0)
    return D(1) if facts.current <= facts.target else D(0)


def _recompute(forest: Forest) -> dict[int, Decimal | None]:
    """Each objective: the weighted mean over its key results and children, unknown ones left out."""
    known_ids = {o.id for o in forest.objectives}

    def of(objective: ObjectiveFacts) -> Decimal | None:
        parts = [(k.weight, _metric_progress(k)) for k in forest.key_results if k.objective_id == objective.id]
        parts += [(child.weight, of(child)) for child in forest.objectives if child.parent_id == objective.id]
        known = [(w, p) for w, p in parts if p is not None]
        if not known:
            return None
        return sum((w * p for w, p in known), D(0)) / sum((w for w, _ in known), D(0))

    assert all(o.parent_id is None or o.parent_id in known_ids or o.parent_id == OUTSIDE for o in forest.objectives)
    return {o.id: of(o) for o in forest.objectives}


def _in_unit_range(value: Decimal | None) -> bool:
    return value is None or (not value.is_nan() and D(0) <= value <= D(1))


@settings(max_examples=200, deadline=None)
@given(forests(), confidences)
def test_property_every_progress_is_none_or_within_zero_and_one(forest, expected):
    rollup = compute(forest.objectives, forest.key_results, expected_by_cycle={CYCLE: expected})
    assert set(rollup.objectives) == {o.id for o in forest.objectives}
    assert set(rollup.key_results) == {k.id for k in forest.key_results}
    for figures in [*rollup.objectives.values(), *rollup.key_results.values()]:
        assert _in_unit_range(figures.progress)
        assert _in_unit_range(figures.progress_before)
        assert _in_unit_range(figures.confidence)
        assert figures.status in {None, ON_TRACK, AT_RISK, OFF_TRACK}
        assert (figures.status is None) == (figures.confidence is None and figures.progress is None)


@settings(max_examples=200, deadline=None)
@given(forests())
def test_property_objective_progress_equals_a_plain_recursive_recomputation(forest):
    rollup = compute(forest.objectives, forest.key_results, expected_by_cycle={CYCLE: D("0.5")})
    recomputed = _recompute(forest)
    for objective_id, expected in recomputed.items():
        actual = rollup.objectives[objective_id].progress
        if expected is None:
            assert actual is None, objective_id
        else:
            assert actual is not None, objective_id
            assert abs(actual - expected) <= D("1e-20"), (objective_id, actual, expected)
    for facts in forest.key_results:
        assert rollup.key_results[facts.id].progress == _metric_progress(facts)

"""The shared progress formula (docs/progress.md): every kind, its edge cases, and properties for any input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from outcomes.progress import ALL_KINDS, progress, target_problem

D = Decimal
MOVING_UP = ("increase", "increase_to")
MOVING_DOWN = ("decrease", "decrease_to")
MOVING = MOVING_UP + MOVING_DOWN


def p(kind: str, baseline, target, current) -> Decimal | None:
    return progress(kind=kind, baseline=D(baseline), target=D(target), current=None if current is None else D(current))


# --- increase / decrease (and the key results' increase_to / decrease_to) ---------------
@pytest.mark.parametrize("kind", MOVING_UP)
@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("60", "0"),
        ("62", "0.2"),
        ("65", "0.5"),
        ("70", "1"),
        ("75", "1"),  # overshoot counts as done
        ("55", "0"),  # behind the baseline counts as nothing
        ("-1000", "0"),
        (None, "0"),  # no value yet: current = baseline
    ],
)
def test_increasing_metric(kind, current, expected):
    result = p(kind, "60", "70", current)

    assert isinstance(result, Decimal)
    assert result == D(expected)


@pytest.mark.parametrize("kind", MOVING_DOWN)
@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("10", "0"),
        ("7", "0.6"),
        ("5", "1"),
        ("4", "1"),  # overshoot
        ("12", "0"),  # worse than the baseline
        (None, "0"),
    ],
)
def test_decreasing_metric(kind, current, expected):
    assert p(kind, "10", "5", current) == D(expected)


def test_decreasing_metric_below_zero():
    assert p("decrease", "0", "-8", "-2") == D("0.25")


def test_the_documented_example():
    result = p("increase", "61.5", "70", "64.6")

    assert result is not None
    assert round(result, 4) == D("0.3647")


def test_progress_is_not_rounded_by_the_formula():
    assert p("increase", "0", "3", "1") == D(1) / D(3)


@pytest.mark.parametrize("kind", MOVING)
@pytest.mark.parametrize("current", [None, "0", "5", "-5"])
def test_equal_target_and_baseline_give_none_instead_of_dividing_by_zero(kind, current):
    assert p(kind, "5", "5", current) is None


@pytest.mark.parametrize(("kind", "other"), [("increase", "increase_to"), ("decrease", "decrease_to")])
@pytest.mark.parametrize("current", [None, "0", "3", "6.5", "9", "12"])
def test_business_outcome_and_key_result_kinds_agree(kind, other, current):
    baseline, target = ("2", "10") if kind == "increase" else ("10", "2")

    assert p(kind, baseline, target, current) == p(other, baseline, target, current)


# --- stay above / stay below ---------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "expected"),
    [("95", D(1)), ("95.0001", D(1)), ("94.9999", D(0)), ("-1", D(0)), (None, None)],
)
def test_stay_above(current, expected):
    assert p("stay_above", "90", "95", current) == expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [("150", D(1)), ("149.9999", D(1)), ("150.0001", D(0)), ("1000", D(0)), (None, None)],
)
def test_stay_below(current, expected):
    assert p("stay_below", "200", "150", current) == expected


@pytest.mark.parametrize("kind", ["stay_above", "stay_below"])
def test_stay_kinds_work_with_target_equal_to_baseline(kind):
    assert p(kind, "3", "3", "3") == D(1)
    assert p(kind, "3", "3", None) is None


def test_stay_kinds_ignore_the_baseline():
    assert p("stay_above", "1000", "95", "96") == D(1)
    assert p("stay_below", "-1000", "150", "149") == D(1)


# --- milestone -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "expected"),
    [(None, "0"), ("0", "0"), ("0.99", "0"), ("0.9999", "0"), ("1", "1"), ("2", "1"), ("-1", "0")],
)
def test_milestone(current, expected):
    assert p("milestone", "0", "1", current) == D(expected)


def test_milestone_ignores_baseline_and_target():
    assert p("milestone", "5", "5", "1") == D(1)
    assert p("milestone", "10", "0", "0.5") == D(0)


# --- unknown kinds -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["Increase", "up", ""])
def test_unknown_kind_is_an_error(kind):
    with pytest.raises(ValueError, match="unknown metric kind"):
        p(kind, "0", "1", "0.5")


# --- target_problem ------------------------------------------------------------------
@pytest.mark.parametrize("kind", MOVING_UP)
@pytest.mark.parametrize(("baseline", "target", "bad"), [("60", "70", False), ("60", "60", True), ("60", "59", True)])
def test_target_problem_for_increasing_metrics(kind, baseline, target, bad):
    problem = target_problem(kind=kind, baseline=D(baseline), target=D(target))

    assert (problem is not None) is bad
    if bad:
        assert problem == "An increasing metric needs a target above its baseline."


@pytest.mark.parametrize("kind", MOVING_DOWN)
@pytest.mark.parametrize(("baseline", "target", "bad"), [("10", "5", False), ("10", "10", True), ("10", "11", True)])
def test_target_problem_for_decreasing_metrics(kind, baseline, target, bad):
    problem = target_problem(kind=kind, baseline=D(baseline), target=D(target))

    assert (problem is not None) is bad
    if bad:
        assert problem == "A decreasing metric needs a target below its baseline."


@pytest.mark.parametrize("kind", ["stay_above", "stay_below", "milestone"])
@pytest.mark.parametrize(("baseline", "target"), [("3", "3"), ("3", "4"), ("4", "3")])
def test_target_problem_accepts_any_pair_for_other_kinds(kind, baseline, target):
    assert target_problem(kind=kind, baseline=D(baseline), target=D(target)) is None


# --- properties ----------------------------------------------------------------------
values = st.decimals(
    min_value=D("-1000000000000"), max_value=D("1000000000000"), places=4, allow_nan=False, allow_infinity=False
)


@given(kind=st.sampled_from(sorted(ALL_KINDS)), baseline=values, target=values, current=st.none() | values)
def test_progress_is_none_or_between_zero_and_one_never_nan(kind, baseline, target, current):
    result = progress(kind=kind, baseline=baseline, target=target, current=current)

    assert result is None or isinstance(result, Decimal)
    if result is not None:
        assert not result.is_nan()
        assert D(0) <= result <= D(1)


@given(kind=st.sampled_from(MOVING), baseline=values, target=values, first=values, second=values)
def test_moving_towards_the_target_never_lowers_progress(kind, baseline, target, first, second):
    assume(target_problem(kind=kind, baseline=baseline, target=target) is None)
    going_up = target > baseline
    before, after = sorted((first, second), reverse=not going_up)  # ``after`` is the one nearer the target

    earlier = progress(kind=kind, baseline=baseline, target=target, current=before)
    later = progress(kind=kind, baseline=baseline, target=target, current=after)

    assert earlier is not None
    assert later is not None
    assert later >= earlier


@given(kind=st.sampled_from(MOVING), baseline=values, target=values)
def test_reaching_the_target_is_one_and_staying_at_the_baseline_is_zero(kind, baseline, target):
    assume(target_problem(kind=kind, baseline=baseline, target=target) is None)

    assert progress(kind=kind, baseline=baseline, target=target, current=target) == D(1)
    assert progress(kind=kind, baseline=baseline, target=target, current=baseline) == D(0)
    assert progress(kind=kind, baseline=baseline, target=target, current=None) == D(0)

"""The cached OKR figures (used by list filters) always equal the live roll-up."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import time_machine
from django.utils import timezone

from okrs.models import KeyResult, Objective
from okrs.selectors import cycle_tree
from okrs.services import check_in_record, key_result_create, objective_update, refresh_cycles
from okrs.tasks import refresh_open_cycles
from tests.conftest import Cast


def _assert_cache_matches_live(cast: Cast) -> None:
    cycle = cast.strategic_a["cycle"]
    tree = cycle_tree(cycle)
    for objective in Objective.objects.filter(pk__in=[o.pk for o in tree.objectives]):
        live = tree.rollup.objectives[objective.pk]
        expected = None if live.progress is None else live.progress.quantize(Decimal("0.000001"))
        assert (objective.progress, objective.status) == (expected, live.status or ""), objective.title
    for key_result in KeyResult.objects.filter(pk__in=[kr.pk for kr in tree.key_results]):
        live = tree.rollup.key_results[key_result.pk]
        assert key_result.status == (live.status or ""), key_result.title
        assert key_result.confidence == live.confidence


def test_cache_follows_check_ins_up_the_tree(cast: Cast):
    rows = cast.strategic_a
    check_in_record(key_result=rows["key_result"], value=Decimal(70), confidence=Decimal("0.9"), author=cast.member_a)

    _assert_cache_matches_live(cast)
    team_objective = Objective.objects.get(pk=rows["team_objective"].pk)
    company_objective = Objective.objects.get(pk=rows["objective"].pk)
    assert team_objective.progress == company_objective.progress == Decimal(1)
    assert KeyResult.objects.get(pk=rows["key_result"].pk).current_value == Decimal(70)


def test_cache_follows_new_key_results_and_re_parenting(cast: Cast):
    rows = cast.strategic_a
    key_result_create(
        company=cast.company_a,
        objective=rows["objective"],
        title="Extra",
        owner=cast.owner_a,
        kind="increase_to",
        baseline=Decimal(0),
        target=Decimal(10),
    )
    _assert_cache_matches_live(cast)

    objective_update(objective=rows["team_objective"], parent=None)

    _assert_cache_matches_live(cast)
    assert Objective.objects.get(pk=rows["objective"].pk).progress == Decimal(0)  # only its new KR is left


def test_hourly_refresh_is_idempotent_and_moves_status_with_time(cast: Cast):
    rows = cast.strategic_a
    # A key result without confidence: its status comes from progress against the elapsed share of the cycle.
    plain = key_result_create(
        company=cast.company_a,
        objective=rows["objective"],
        title="Plain",
        owner=cast.owner_a,
        kind="increase_to",
        baseline=Decimal(0),
        target=Decimal(100),
    )
    at_start = timezone.make_aware(datetime(2026, 10, 2, 9))
    check_in_record(key_result=plain, value=Decimal(5), as_of=at_start)

    with time_machine.travel(at_start + timedelta(hours=1), tick=False):
        refresh_open_cycles()
        early = KeyResult.objects.get(pk=plain.pk).status
        assert refresh_cycles([rows["cycle"].pk]) == 0  # a second run changes nothing
    with time_machine.travel(timezone.make_aware(datetime(2026, 12, 20, 9)), tick=False):
        refresh_open_cycles()
        late = KeyResult.objects.get(pk=plain.pk).status

    assert (early, late) == ("on_track", "off_track")

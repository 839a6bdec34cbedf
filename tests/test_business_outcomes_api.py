"""Business outcomes and their measurements as users rely on them: targets, current values and progress."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from outcomes.choices import APIKeyScope, Direction, MeasurementSource, OutcomeCategory
from outcomes.models import APIKey, BusinessOutcome, Measurement
from outcomes.services.api_keys import api_key_create
from outcomes.services.business_outcomes import business_outcome_create, measurement_record
from outcomes.services.strategy import strategy_create
from tests.assertions import assert_invalid

A = "/api/v1/companies/alpha"
OUTCOMES = f"{A}/business-outcomes/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def measurements_url(outcome: BusinessOutcome | int) -> str:
    pk = outcome if isinstance(outcome, int) else outcome.pk
    return f"{OUTCOMES}{pk}/measurements/"


def outcome_body(cast, **overrides) -> dict:
    return {
        "title": "Fewer refunds",
        "description": "Refunds hurt margins.",
        "category": "cost",
        "metric_name": "Refund rate",
        "unit": "%",
        "direction": "decrease",
        "baseline": "4.5",
        "target": "2.25",
        "target_date": "2026-12-31",
        "owner": cast.member_a.pk,
        **overrides,
    }


def make_outcome(cast, direction: str = Direction.INCREASE, baseline="0", target="10", **fields) -> BusinessOutcome:
    values = {
        "title": f"Alpha {direction} metric",
        "category": OutcomeCategory.OTHER,
        "metric_name": "A number",
        "direction": direction,
        "baseline": Decimal(baseline),
        "target": Decimal(target),
        "target_date": date(2026, 12, 31),
        "owner": cast.owner_a,
        **fields,
    }
    return business_outcome_create(company=cast.company_a, **values)


def detail(client, outcome: BusinessOutcome) -> dict:
    response = client.get(f"{OUTCOMES}{outcome.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


# =====================================================================================
# Outcomes: create, targets, delete
# =====================================================================================
@pytest.mark.parametrize(
    ("direction", "baseline", "target", "progress"),
    [
        ("increase", "60", "70.5", 0.0),
        ("decrease", "4.5", "2.25", 0.0),
        ("stay_above", "90", "95", None),
        ("stay_below", "200", "150", None),
    ],
)
def test_create_an_outcome_of_each_direction(cast, client_for, direction, baseline, target, progress):
    body = outcome_body(cast, direction=direction, baseline=baseline, target=target)

    response = client_for(cast.executive_a).post(OUTCOMES, body)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["direction"] == direction
    assert created["baseline"] == f"{Decimal(baseline):.4f}"
    assert created["target"] == f"{Decimal(target):.4f}"
    assert created["current_value"] is None
    assert created["current_as_of"] is None
    assert created["progress"] == progress
    assert created["strategies"] == []
    assert created["owner"]["id"] == cast.member_a.pk
    outcome = BusinessOutcome.objects.get(pk=created["id"])
    assert (outcome.company, outcome.direction) == (cast.company_a, direction)
    assert (outcome.baseline, outcome.target) == (Decimal(baseline), Decimal(target))


@pytest.mark.parametrize(
    ("direction", "baseline", "target"),
    [
        ("increase", "60", "60"),
        ("increase", "60", "59.9999"),
        ("decrease", "4.5", "4.5"),
        ("decrease", "4.5", "4.5001"),
    ],
)
def test_a_target_on_the_wrong_side_of_the_baseline_is_refused(cast, client_for, direction, baseline, target):
    body = outcome_body(cast, direction=direction, baseline=baseline, target=target)

    response = client_for(cast.owner_a).post(OUTCOMES, body)

    assert_invalid(response, "target")
    assert BusinessOutcome.objects.filter(company=cast.company_a).count() == 1


@pytest.mark.parametrize("direction", ["stay_above", "stay_below"])
def test_stay_above_and_below_allow_a_target_equal_to_the_baseline(cast, client_for, direction):
    body = outcome_body(cast, direction=direction, baseline="3", target="3")

    response = client_for(cast.owner_a).post(OUTCOMES, body)

    assert response.status_code == 201, response.content
    assert response.json()["target"] == "3.0000"


def test_patching_the_direction_checks_the_stored_baseline_and_target(cast, client_for):
    outcome = cast.strategic_a["outcome"]  # increase 60 -> 70

    response = client_for(cast.owner_a).patch(f"{OUTCOMES}{outcome.pk}/", {"direction": "decrease"})

    assert_invalid(response, "target")
    outcome.refresh_from_db()
    assert outcome.direction == Direction.INCREASE


def test_patching_the_target_keeps_the_measurements_and_recomputes_progress(cast, client_for):
    outcome = cast.strategic_a["outcome"]  # increase 60 -> 70, current 62

    response = client_for(cast.owner_a).patch(f"{OUTCOMES}{outcome.pk}/", {"target": "64"})

    assert response.status_code == 200, response.content
    assert response.json()["target"] == "64.0000"
    assert response.json()["current_value"] == "62.0000"
    assert response.json()["progress"] == 0.5
    assert outcome.measurements.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"baseline": "1.23456"}, "baseline"),
        ({"target": "9.00001"}, "target"),
        ({"baseline": "12345678901234567"}, "baseline"),
        ({"baseline": "NaN"}, "baseline"),
        ({"baseline": "Infinity"}, "baseline"),
        ({"direction": "sideways"}, "direction"),
        ({"category": "vanity"}, "category"),
        ({"target_date": "31.12.2026"}, "target_date"),
        ({"owner": 999999}, "owner"),
        ({"current_value": "3"}, "current_value"),
    ],
)
def test_outcome_bad_input_is_refused(cast, client_for, overrides, field):
    response = client_for(cast.owner_a).post(OUTCOMES, outcome_body(cast, **overrides))

    assert_invalid(response, field)
    assert BusinessOutcome.objects.filter(company=cast.company_a).count() == 1


def test_fifteen_digit_metric_values_are_kept_exactly_and_longer_ones_refused(cast, client_for):
    # 15 significant digits (11 before the point, 4 after): exact on every supported database.
    client = client_for(cast.owner_a)
    body = outcome_body(cast, baseline="12345678901.1234", target="99999999999.9999", direction="increase")
    kept = client.post(OUTCOMES, body)
    too_long = client.post(OUTCOMES, outcome_body(cast, baseline="1234567890123456.1234", target="0.0001"))

    assert kept.status_code == 201, kept.content
    assert (kept.json()["baseline"], kept.json()["target"]) == ("12345678901.1234", "99999999999.9999")
    assert BusinessOutcome.objects.get(pk=kept.json()["id"]).baseline == Decimal("12345678901.1234")
    assert_invalid(too_long, "baseline")


def test_outcome_owner_from_another_company_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post(OUTCOMES, outcome_body(cast, owner=cast.owner_b.pk))

    assert_invalid(response, "owner")


def test_deleting_an_outcome_with_measurements_is_refused(cast, client_for):
    outcome = cast.strategic_a["outcome"]

    response = client_for(cast.owner_a).delete(f"{OUTCOMES}{outcome.pk}/")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert BusinessOutcome.objects.filter(pk=outcome.pk).exists()
    assert outcome.measurements.count() == 1
    assert list(outcome.strategies.all()) == [cast.strategic_a["strategy"]]


def test_deleting_an_outcome_without_measurements_works_and_unlinks_it(cast, client_for):
    outcome = make_outcome(cast)
    strategy = cast.strategic_a["strategy"]
    strategy.business_outcomes.add(outcome)

    response = client_for(cast.owner_a).delete(f"{OUTCOMES}{outcome.pk}/")

    assert response.status_code == 204
    assert not BusinessOutcome.objects.filter(pk=outcome.pk).exists()
    assert list(strategy.business_outcomes.all()) == [cast.strategic_a["outcome"]]


def test_outcome_shows_the_strategies_that_target_it(cast, client_for):
    outcome = cast.strategic_a["outcome"]

    assert detail(client_for(cast.viewer_a), outcome)["strategies"] == [cast.strategic_a["strategy"].pk]


# =====================================================================================
# Current value and progress
# =====================================================================================
def test_current_value_is_the_latest_measurement_by_as_of(cast, client_for):
    outcome = make_outcome(cast, baseline="60", target="70", owner=cast.member_a)
    client = client_for(cast.member_a)
    now = timezone.now().replace(microsecond=0)
    newer = client.post(measurements_url(outcome), {"value": "66", "as_of": (now - timedelta(hours=1)).isoformat()})
    older = client.post(measurements_url(outcome), {"value": "61", "as_of": (now - timedelta(days=2)).isoformat()})
    assert (newer.status_code, older.status_code) == (201, 201)

    body = detail(client, outcome)

    assert body["current_value"] == "66.0000"
    assert parse_time(body["current_as_of"]) == now - timedelta(hours=1)
    assert body["progress"] == 0.6


def test_current_value_ties_on_as_of_go_to_the_later_record(cast, client_for):
    outcome = make_outcome(cast, baseline="60", target="70")
    as_of = timezone.now() - timedelta(hours=3)
    measurement_record(outcome=outcome, value=Decimal(64), as_of=as_of, author=cast.owner_a)
    correction = measurement_record(outcome=outcome, value=Decimal(63), as_of=as_of, author=cast.owner_a)

    body = detail(client_for(cast.viewer_a), outcome)

    assert body["current_value"] == "63.0000"
    assert parse_time(body["current_as_of"]) == correction.as_of
    assert body["progress"] == 0.3


def test_the_list_shows_each_outcomes_own_current_value(cast, client_for):
    fresh = make_outcome(cast, title="Alpha fresh metric", target_date=date(2027, 6, 30))

    rows = client_for(cast.viewer_a).get(OUTCOMES).json()["results"]

    assert [(row["id"], row["current_value"], row["progress"]) for row in rows] == [
        (cast.strategic_a["outcome"].pk, "62.0000", 0.2),
        (fresh.pk, None, 0.0),
    ]


@pytest.mark.parametrize(
    ("direction", "baseline", "target", "value", "progress"),
    [
        ("increase", "60", "70", "62", 0.2),
        ("increase", "60", "70", "75", 1.0),
        ("increase", "60", "70", "55", 0.0),
        ("increase", "0", "3", "1", 0.3333),
        ("increase", "61.5", "70", "64.6", 0.3647),  # the example in docs/progress.md
        ("decrease", "10", "5", "7", 0.6),
        ("decrease", "10", "5", "4", 1.0),
        ("decrease", "10", "5", "12", 0.0),
        ("decrease", "0", "-8", "-2", 0.25),
        ("stay_above", "90", "95", "95", 1.0),
        ("stay_above", "90", "95", "94.9999", 0.0),
        ("stay_below", "200", "150", "150", 1.0),
        ("stay_below", "200", "150", "150.0001", 0.0),
    ],
)
def test_progress_follows_the_direction(cast, client_for, direction, baseline, target, value, progress):
    outcome = make_outcome(cast, direction, baseline, target)
    measurement_record(outcome=outcome, value=Decimal(value), author=cast.owner_a)

    body = detail(client_for(cast.viewer_a), outcome)

    assert body["progress"] == progress
    assert body["current_value"] == f"{Decimal(value):.4f}"


@pytest.mark.parametrize(
    ("direction", "baseline", "target", "progress"),
    [
        ("increase", "60", "70", 0.0),
        ("decrease", "10", "5", 0.0),
        ("stay_above", "90", "95", None),
        ("stay_below", "200", "150", None),
    ],
)
def test_progress_without_any_measurement(cast, client_for, direction, baseline, target, progress):
    outcome = make_outcome(cast, direction, baseline, target)

    body = detail(client_for(cast.viewer_a), outcome)

    assert body["current_value"] is None
    assert body["progress"] == progress


# =====================================================================================
# Measurements
# =====================================================================================
def owned_by_member(cast) -> BusinessOutcome:
    """Members record measurements of the outcomes they own: hand the cast's outcome to the member."""
    outcome = cast.strategic_a["outcome"]
    BusinessOutcome.objects.filter(pk=outcome.pk).update(owner=cast.member_a)
    outcome.refresh_from_db()
    return outcome


def test_a_member_records_a_measurement_of_an_outcome_they_own(cast, client_for):
    outcome = owned_by_member(cast)
    as_of = (timezone.now() - timedelta(minutes=5)).replace(microsecond=0)

    response = client_for(cast.member_a).post(
        measurements_url(outcome), {"value": "63.2", "as_of": as_of.isoformat(), "comment": "From the BI dashboard."}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["value"] == "63.2000"
    assert parse_time(body["as_of"]) == as_of
    assert body["source"] == "manual"
    assert body["comment"] == "From the BI dashboard."
    assert body["author"] == {"id": cast.member_a.pk, "email": cast.member_a.email, "full_name": "Alpha Member"}
    assert body["author_api_key_prefix"] == ""
    measurement = Measurement.objects.get(pk=body["id"])
    assert (measurement.business_outcome, measurement.value, measurement.author) == (
        outcome,
        Decimal("63.2"),
        cast.member_a,
    )


def test_a_measurement_without_as_of_is_as_of_now(cast, client_for):
    outcome = cast.strategic_a["outcome"]
    before = timezone.now()

    response = client_for(cast.executive_a).post(measurements_url(outcome), {"value": "64"})

    assert response.status_code == 201
    assert before <= parse_time(response.json()["as_of"]) <= timezone.now()
    assert detail(client_for(cast.viewer_a), outcome)["current_value"] == "64.0000"


def test_a_write_key_records_a_measurement_as_the_api(cast, key_client):
    outcome = cast.strategic_a["outcome"]
    api_key = APIKey.objects.get(company=cast.company_a, name="Alpha CI")

    response = key_client(cast.raw_key_a).post(measurements_url(outcome), {"value": "65"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "api"
    assert body["author"] is None
    assert body["author_api_key_prefix"] == api_key.prefix
    assert cast.raw_key_a.startswith(api_key.prefix)
    measurement = Measurement.objects.get(pk=body["id"])
    assert (measurement.source, measurement.author, measurement.author_api_key_prefix) == (
        MeasurementSource.API,
        None,
        api_key.prefix,
    )


def test_a_write_key_may_name_its_source(cast, key_client):
    response = key_client(cast.raw_key_a).post(
        measurements_url(cast.strategic_a["outcome"]), {"value": "65", "source": "sync"}
    )

    assert response.status_code == 201
    assert response.json()["source"] == "sync"


def test_a_viewer_cannot_record_a_measurement(cast, client_for):
    outcome = cast.strategic_a["outcome"]

    response = client_for(cast.viewer_a).post(measurements_url(outcome), {"value": "99"})

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert outcome.measurements.count() == 1


def test_a_read_key_cannot_record_a_measurement(cast, key_client):
    outcome = cast.strategic_a["outcome"]
    issued = api_key_create(company=cast.company_a, name="Dashboard", scope=APIKeyScope.READ, created_by=cast.owner_a)

    response = key_client(issued.raw).post(measurements_url(outcome), {"value": "99"})

    assert response.status_code == 403
    assert outcome.measurements.count() == 1


def test_as_of_more_than_a_day_in_the_future_is_refused(cast, client_for):
    outcome = owned_by_member(cast)
    client = client_for(cast.member_a)
    now = timezone.now().replace(microsecond=0)
    one_day_on = now + timedelta(days=1)

    with time_machine.travel(now, tick=False):
        too_late = client.post(
            measurements_url(outcome), {"value": "70", "as_of": (one_day_on + timedelta(seconds=1)).isoformat()}
        )
        just_in_time = client.post(measurements_url(outcome), {"value": "69", "as_of": one_day_on.isoformat()})

    assert_invalid(too_late, "as_of")
    assert just_in_time.status_code == 201, just_in_time.content
    assert sorted(outcome.measurements.values_list("value", flat=True)) == [Decimal(62), Decimal(69)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "1.23456"}, "value"),
        ({"value": "12345678901234567"}, "value"),
        ({"value": "lots"}, "value"),
        ({}, "value"),
        ({"value": "1", "as_of": "yesterday"}, "as_of"),
        ({"value": "1", "source": "guess"}, "source"),
        ({"value": "1", "author": 1}, "author"),
        ({"value": "1", "source": "api"}, "source"),  # only integrations say a value came from them
        ({"value": "1", "source": "sync"}, "source"),
    ],
)
def test_measurement_bad_input_is_refused(cast, client_for, body, field):
    outcome = owned_by_member(cast)

    response = client_for(cast.member_a).post(measurements_url(outcome), body)

    assert_invalid(response, field)
    assert outcome.measurements.count() == 1


def test_measurements_are_listed_newest_first_and_paginated(cast, client_for):
    outcome = make_outcome(cast, baseline="60", target="70")
    now = timezone.now()
    recorded = [
        measurement_record(outcome=outcome, value=Decimal(60 + days), as_of=now - timedelta(days=days))
        for days in (3, 1, 4, 2)
    ]
    by_day = {days: m.pk for days, m in zip((3, 1, 4, 2), recorded, strict=True)}
    client = client_for(cast.viewer_a)

    first = client.get(measurements_url(outcome), {"page_size": 3})
    second = client.get(first.json()["next"])

    assert set(first.json()) == {"next", "previous", "results"}
    assert ids(first) == [by_day[1], by_day[2], by_day[3]]
    assert first.json()["next"]
    assert ids(second) == [by_day[4]]
    assert second.json()["next"] is None
    assert [row["value"] for row in first.json()["results"]] == ["61.0000", "62.0000", "63.0000"]


def test_measurements_are_read_by_cursor_not_by_page_number(cast, client_for):
    client = client_for(cast.viewer_a)
    url = measurements_url(cast.strategic_a["outcome"])

    assert assert_invalid(client.get(url, {"page": 2}), "page")["fields"] == {"page": ["Unknown query parameter."]}
    assert assert_invalid(client.get(url, {"cursor": "bm9wZQ"}), "cursor")["fields"] == {
        "cursor": ["Not a cursor this list handed out; start again without it."]
    }


def test_measurements_list_refuses_filters_it_does_not_take(cast, client_for):
    response = client_for(cast.viewer_a).get(measurements_url(cast.strategic_a["outcome"]), {"direction": "increase"})

    assert_invalid(response, "direction")


def test_measurements_of_another_companys_outcome_are_404_under_alpha(cast, client_for, key_client):
    foreign = cast.strategic_b["outcome"]

    read = client_for(cast.owner_a).get(measurements_url(foreign))
    write = client_for(cast.owner_a).post(measurements_url(foreign), {"value": "1"})
    by_key = key_client(cast.raw_key_a).post(measurements_url(foreign), {"value": "1"})

    for response in (read, write, by_key):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert "Bravo" not in response.content.decode()
    assert foreign.measurements.count() == 1


def test_measurements_of_an_unknown_outcome_are_404(cast, client_for):
    response = client_for(cast.owner_a).get(measurements_url(999999))

    assert response.status_code == 404


# =====================================================================================
# List filters
# =====================================================================================
@pytest.fixture
def outcomes(cast):
    """The cast's conversion outcome (revenue, increase, 2026-12-31) plus two more."""
    churn = make_outcome(
        cast,
        Direction.DECREASE,
        "5",
        "3",
        title="Alpha churn",
        description="Shops that leave.",
        category=OutcomeCategory.RETENTION,
        metric_name="Monthly churn",
        target_date=date(2026, 6, 30),
        owner=cast.executive_a,
    )
    uptime = make_outcome(
        cast,
        Direction.STAY_ABOVE,
        "99.9",
        "99.95",
        title="Alpha uptime",
        category=OutcomeCategory.QUALITY,
        metric_name="Checkout availability",
        target_date=date(2027, 12, 31),
    )
    strategy_create(
        company=cast.company_a,
        title="Alpha reliability",
        horizon_start=date(2026, 1, 1),
        horizon_end=date(2026, 12, 31),
        owner=cast.owner_a,
        business_outcomes=[uptime],
    )
    return {"conversion": cast.strategic_a["outcome"], "churn": churn, "uptime": uptime}


def pks(outcomes, *names: str) -> list[int]:
    return [outcomes[name].pk for name in names]


def test_outcome_list_is_ordered_by_target_date(cast, client_for, outcomes):
    assert ids(client_for(cast.viewer_a).get(OUTCOMES)) == pks(outcomes, "churn", "conversion", "uptime")


def test_outcome_list_filters_by_category_and_direction(cast, client_for, outcomes):
    client = client_for(cast.viewer_a)

    assert ids(client.get(OUTCOMES, {"category": "revenue"})) == pks(outcomes, "conversion")
    assert ids(client.get(OUTCOMES, {"category": ["quality", "retention"]})) == pks(outcomes, "churn", "uptime")
    assert ids(client.get(OUTCOMES, {"direction": "decrease"})) == pks(outcomes, "churn")
    assert ids(client.get(OUTCOMES, {"direction": "stay_below"})) == []


def test_outcome_list_filters_by_owner_and_strategy(cast, client_for, outcomes):
    client = client_for(cast.viewer_a)
    reliability = outcomes["uptime"].strategies.get()

    assert ids(client.get(OUTCOMES, {"owner_id": cast.executive_a.pk})) == pks(outcomes, "churn")
    assert ids(client.get(OUTCOMES, {"strategy_id": cast.strategic_a["strategy"].pk})) == pks(outcomes, "conversion")
    assert ids(client.get(OUTCOMES, {"strategy_id": reliability.pk})) == pks(outcomes, "uptime")


def test_outcome_list_filters_by_target_date(cast, client_for, outcomes):
    client = client_for(cast.viewer_a)

    assert ids(client.get(OUTCOMES, {"target_date_before": "2026-12-31"})) == pks(outcomes, "churn", "conversion")
    assert ids(client.get(OUTCOMES, {"target_date_after": "2027-01-01"})) == pks(outcomes, "uptime")


def test_outcome_list_searches_title_description_and_metric(cast, client_for, outcomes):
    client = client_for(cast.viewer_a)

    assert ids(client.get(OUTCOMES, {"q": "CHURN"})) == pks(outcomes, "churn")
    assert ids(client.get(OUTCOMES, {"q": "shops that leave"})) == pks(outcomes, "churn")
    assert ids(client.get(OUTCOMES, {"q": "checkout"})) == pks(outcomes, "conversion", "uptime")  # metric names


def test_outcome_list_orders_by_title_descending(cast, client_for, outcomes):
    response = client_for(cast.viewer_a).get(OUTCOMES, {"ordering": "-title"})

    assert ids(response) == pks(outcomes, "uptime", "conversion", "churn")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"direction": "up"}, "direction"),
        ({"category": "vanity"}, "category"),
        ({"target_date_before": "2026-02-30"}, "target_date_before"),
        ({"strategy_id": "x"}, "strategy_id"),
        ({"progress_min": "0.5"}, "progress_min"),
    ],
)
def test_outcome_list_refuses_bad_filters(cast, client_for, params, field):
    assert_invalid(client_for(cast.viewer_a).get(OUTCOMES, params), field)


def test_outcome_list_filter_by_another_companys_strategy_is_refused(cast, client_for):
    response = client_for(cast.viewer_a).get(OUTCOMES, {"strategy_id": cast.strategic_b["strategy"].pk})

    assert_invalid(response, "strategy_id")


def test_a_member_cannot_record_for_an_outcome_someone_else_owns(cast, client_for):
    outcome = cast.strategic_a["outcome"]  # owned by owner_a

    response = client_for(cast.member_a).post(measurements_url(outcome), {"value": "70"})

    assert response.status_code == 403
    assert outcome.measurements.count() == 1


def test_an_integration_may_say_its_values_come_from_a_sync(cast, key_client):
    outcome = cast.strategic_a["outcome"]

    response = key_client(cast.raw_key_a).post(measurements_url(outcome), {"value": "70", "source": "sync"})

    assert response.status_code == 201, response.content
    assert response.json()["source"] == "sync"

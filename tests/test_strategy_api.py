"""SWOT items, strategies and investments as their users rely on them: rules, history and bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from outcomes.choices import StrategyStatus, SwotKind
from outcomes.models import Investment, Strategy, SwotItem
from outcomes.services.strategy import investment_create, strategy_create, swot_item_create
from tests.assertions import assert_invalid
from tests.factories import UserFactory

A = "/api/v1/companies/alpha"
SWOT = f"{A}/swot-items/"
UNADDRESSED = f"{A}/swot-items/unaddressed/"
STRATEGIES = f"{A}/strategies/"
INVESTMENTS = f"{A}/investments/"
TOTALS = f"{A}/investments/totals/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


# =====================================================================================
# SWOT items
# =====================================================================================
@pytest.fixture
def swot(cast):
    """Company A's SWOT items: the cast's threat (addressed) and weakness (the gap), plus a strength and an
    opportunity owned by the executive."""
    rows = cast.strategic_a
    strength = swot_item_create(
        company=cast.company_a,
        kind=SwotKind.STRENGTH,
        title="Alpha brand",
        description="Shops trust our name.",
        impact=5,
        owner=cast.executive_a,
    )
    opportunity = swot_item_create(
        company=cast.company_a,
        kind=SwotKind.OPPORTUNITY,
        title="Alpha marketplace",
        description="A marketplace wants a checkout partner.",
        impact=2,
        owner=cast.executive_a,
    )
    return {"threat": rows["swot"], "gap": rows["gap"], "strength": strength, "opportunity": opportunity}


def swot_body(cast, **overrides) -> dict:
    return {
        "kind": "threat",
        "title": "A marketplace bundles payments for free",
        "description": "Shops may not pay for a separate checkout.",
        "impact": 4,
        "owner": cast.member_a.pk,
        **overrides,
    }


def test_swot_item_create_returns_it_with_owner_and_no_strategies(cast, client_for):
    response = client_for(cast.executive_a).post(SWOT, swot_body(cast))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "threat"
    assert body["title"] == "A marketplace bundles payments for free"
    assert body["impact"] == 4
    assert body["owner"] == {"id": cast.member_a.pk, "email": cast.member_a.email, "full_name": "Alpha Member"}
    assert body["strategies"] == []
    item = SwotItem.objects.get(pk=body["id"])
    assert (item.company, item.kind, item.impact, item.owner) == (cast.company_a, "threat", 4, cast.member_a)


def test_swot_list_is_ordered_by_kind_then_impact(cast, client_for, swot):
    response = client_for(cast.viewer_a).get(SWOT)

    assert titles(response) == ["Alpha marketplace", "Alpha brand", "Alpha rival", "Alpha slow onboarding"]
    assert response.json()["count"] == 4


def test_swot_list_filters_by_several_kinds(cast, client_for, swot):
    response = client_for(cast.viewer_a).get(SWOT, {"kind": ["threat", "weakness"]})

    assert ids(response) == [swot["threat"].pk, swot["gap"].pk]


def test_swot_list_filters_by_owner(cast, client_for, swot):
    response = client_for(cast.viewer_a).get(SWOT, {"owner_id": cast.executive_a.pk})

    assert ids(response) == [swot["opportunity"].pk, swot["strength"].pk]


def test_swot_list_filters_by_minimum_impact(cast, client_for, swot):
    response = client_for(cast.viewer_a).get(SWOT, {"impact_min": 4})

    assert ids(response) == [swot["strength"].pk, swot["threat"].pk]


def test_swot_list_filters_by_strategy(cast, client_for, swot):
    response = client_for(cast.viewer_a).get(SWOT, {"strategy_id": cast.strategic_a["strategy"].pk})

    assert ids(response) == [swot["threat"].pk]


def test_swot_list_searches_title_and_description(cast, client_for, swot):
    client = client_for(cast.viewer_a)

    assert ids(client.get(SWOT, {"q": "ONBOARD"})) == [swot["gap"].pk]
    assert ids(client.get(SWOT, {"q": "checkout partner"})) == [swot["opportunity"].pk]
    assert ids(client.get(SWOT, {"q": "nothing like this"})) == []


def test_swot_list_orders_by_impact_descending(cast, client_for, swot):
    response = client_for(cast.viewer_a).get(SWOT, {"ordering": "-impact"})

    assert [row["impact"] for row in response.json()["results"]] == [5, 4, 3, 2]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "danger"}, "kind"),
        ({"impact_min": "high"}, "impact_min"),
        ({"owner_id": "999999"}, "owner_id"),
        ({"ordering": "owner"}, "ordering"),
        ({"impact": "4"}, "impact"),
    ],
)
def test_swot_list_refuses_bad_filters(cast, client_for, params, field):
    assert_invalid(client_for(cast.viewer_a).get(SWOT, params), field)


@pytest.mark.parametrize("impact", [0, 6, -1])
def test_swot_impact_outside_one_to_five_is_refused(cast, client_for, impact):
    response = client_for(cast.owner_a).post(SWOT, swot_body(cast, impact=impact))

    assert_invalid(response, "impact")
    assert SwotItem.objects.filter(company=cast.company_a).count() == 2


@pytest.mark.parametrize("impact", [1, 5])
def test_swot_impact_bounds_are_allowed(cast, client_for, impact):
    response = client_for(cast.owner_a).post(SWOT, swot_body(cast, impact=impact))

    assert response.status_code == 201
    assert response.json()["impact"] == impact


def test_swot_owner_from_another_company_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post(SWOT, swot_body(cast, owner=cast.owner_b.pk))

    assert_invalid(response, "owner")
    assert SwotItem.objects.filter(company=cast.company_a).count() == 2


def test_swot_kind_must_be_one_of_the_four(cast, client_for):
    assert_invalid(client_for(cast.owner_a).post(SWOT, swot_body(cast, kind="risk")), "kind")


def test_swot_create_refuses_unknown_fields(cast, client_for):
    response = client_for(cast.owner_a).post(SWOT, swot_body(cast, strategies=[cast.strategic_a["strategy"].pk]))

    body = assert_invalid(response, "strategies")
    assert body["fields"]["strategies"] == ["Unknown field."]


def test_swot_strategies_field_lists_the_strategies_that_address_it(cast, client_for):
    threat = cast.strategic_a["swot"]
    first = cast.strategic_a["strategy"]
    second = strategy_create(
        company=cast.company_a,
        title="Alpha partner programme",
        horizon_start=date(2027, 1, 1),
        horizon_end=date(2027, 6, 30),
        owner=cast.owner_a,
        swot_items=[threat],
    )

    response = client_for(cast.viewer_a).get(f"{SWOT}{threat.pk}/")

    assert response.status_code == 200
    assert sorted(response.json()["strategies"]) == sorted([first.pk, second.pk])
    gap = client_for(cast.viewer_a).get(f"{SWOT}{cast.strategic_a['gap'].pk}/")
    assert gap.json()["strategies"] == []


def test_deleting_a_swot_item_a_strategy_addresses_is_refused_and_it_stays(cast, client_for):
    threat = cast.strategic_a["swot"]

    response = client_for(cast.owner_a).delete(f"{SWOT}{threat.pk}/")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert SwotItem.objects.filter(pk=threat.pk).exists()
    assert list(cast.strategic_a["strategy"].swot_items.all()) == [threat]


def test_deleting_a_swot_item_a_retired_strategy_addressed_is_refused_too(cast, client_for):
    threat = cast.strategic_a["swot"]
    client = client_for(cast.owner_a)
    client.patch(f"{STRATEGIES}{cast.strategic_a['strategy'].pk}/", {"status": "retired"})

    response = client.delete(f"{SWOT}{threat.pk}/")

    assert response.status_code == 400
    assert SwotItem.objects.filter(pk=threat.pk).exists()


def test_deleting_a_swot_item_no_strategy_addresses_works(cast, client_for):
    gap = cast.strategic_a["gap"]

    response = client_for(cast.owner_a).delete(f"{SWOT}{gap.pk}/")

    assert response.status_code == 204
    assert not SwotItem.objects.filter(pk=gap.pk).exists()


def test_swot_item_patch_changes_only_the_given_fields(cast, client_for):
    gap = cast.strategic_a["gap"]

    response = client_for(cast.owner_a).patch(f"{SWOT}{gap.pk}/", {"impact": 5})

    assert response.status_code == 200
    gap.refresh_from_db()
    assert (gap.kind, gap.title, gap.impact, gap.owner) == ("weakness", "Alpha slow onboarding", 5, cast.owner_a)


# --- unaddressed ---------------------------------------------------------------------
def test_unaddressed_lists_the_gap_but_not_the_addressed_threat(cast, client_for, swot):
    response = client_for(cast.viewer_a).get(UNADDRESSED)

    assert ids(response) == [swot["gap"].pk]


def test_retiring_the_strategy_makes_its_threat_unaddressed(cast, client_for, swot):
    strategy = cast.strategic_a["strategy"]

    retired = client_for(cast.owner_a).patch(f"{STRATEGIES}{strategy.pk}/", {"status": "retired"})

    assert retired.status_code == 200
    assert ids(client_for(cast.viewer_a).get(UNADDRESSED)) == [swot["threat"].pk, swot["gap"].pk]


def test_a_draft_strategy_does_not_address_anything_yet(cast, client_for, swot):
    strategy_create(
        company=cast.company_a,
        title="Alpha onboarding rework",
        horizon_start=date(2027, 1, 1),
        horizon_end=date(2027, 12, 31),
        status=StrategyStatus.DRAFT,
        owner=cast.owner_a,
        swot_items=[swot["gap"]],
    )

    assert ids(client_for(cast.viewer_a).get(UNADDRESSED)) == [swot["gap"].pk]


def test_an_active_strategy_addressing_the_gap_removes_it_from_unaddressed(cast, client_for, swot):
    response = client_for(cast.owner_a).post(
        STRATEGIES,
        {
            "title": "Alpha onboarding rework",
            "horizon_start": "2027-01-01",
            "horizon_end": "2027-12-31",
            "status": "active",
            "owner": cast.owner_a.pk,
            "swot_items": [swot["gap"].pk],
        },
    )
    assert response.status_code == 201

    assert ids(client_for(cast.viewer_a).get(UNADDRESSED)) == []


def test_unaddressed_never_lists_strengths_or_opportunities(cast, client_for, swot):
    strategy = cast.strategic_a["strategy"]
    client_for(cast.owner_a).patch(f"{STRATEGIES}{strategy.pk}/", {"status": "retired"})

    listed = ids(client_for(cast.viewer_a).get(UNADDRESSED))

    assert swot["strength"].pk not in listed
    assert swot["opportunity"].pk not in listed
    assert ids(client_for(cast.viewer_a).get(UNADDRESSED, {"kind": ["strength", "opportunity"]})) == []


def test_unaddressed_takes_the_list_filters(cast, client_for, swot):
    client_for(cast.owner_a).patch(f"{STRATEGIES}{cast.strategic_a['strategy'].pk}/", {"status": "retired"})
    client = client_for(cast.viewer_a)

    assert ids(client.get(UNADDRESSED, {"kind": "threat"})) == [swot["threat"].pk]
    assert ids(client.get(UNADDRESSED, {"impact_min": 4})) == [swot["threat"].pk]
    assert_invalid(client.get(UNADDRESSED, {"addressed": "false"}), "addressed")


# =====================================================================================
# Strategies
# =====================================================================================
def strategy_body(cast, **overrides) -> dict:
    return {
        "title": "Win mid-size shops with one-click checkout",
        "description": "Mid-size shops first.",
        "rationale": "Mid-size shops lose most carts at payment.",
        "risks_and_assumptions": "Assumes card networks keep tokenisation fees flat.",
        "horizon_start": "2027-01-01",
        "horizon_end": "2027-12-31",
        "status": "active",
        "owner": cast.executive_a.pk,
        "swot_items": [cast.strategic_a["gap"].pk, cast.strategic_a["swot"].pk],
        "business_outcomes": [cast.strategic_a["outcome"].pk],
        **overrides,
    }


def links_of(strategy: Strategy) -> tuple[set[int], set[int]]:
    return (
        set(strategy.swot_items.values_list("pk", flat=True)),
        set(strategy.business_outcomes.values_list("pk", flat=True)),
    )


def test_strategy_create_with_links(cast, client_for):
    rows = cast.strategic_a

    response = client_for(cast.executive_a).post(STRATEGIES, strategy_body(cast))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Win mid-size shops with one-click checkout"
    assert body["status"] == "active"
    assert (body["horizon_start"], body["horizon_end"]) == ("2027-01-01", "2027-12-31")
    assert body["owner"]["id"] == cast.executive_a.pk
    assert sorted(body["swot_items"]) == sorted([rows["gap"].pk, rows["swot"].pk])
    assert body["business_outcomes"] == [rows["outcome"].pk]
    strategy = Strategy.objects.get(pk=body["id"])
    assert strategy.company == cast.company_a
    assert links_of(strategy) == ({rows["gap"].pk, rows["swot"].pk}, {rows["outcome"].pk})


def test_strategy_create_defaults_to_a_draft_without_links(cast, client_for):
    body = strategy_body(cast)
    for name in ("status", "swot_items", "business_outcomes", "description", "rationale", "risks_and_assumptions"):
        del body[name]

    response = client_for(cast.owner_a).post(STRATEGIES, body)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "draft"
    assert created["swot_items"] == []
    assert created["business_outcomes"] == []
    assert created["rationale"] == ""


@pytest.mark.parametrize("end", ["2027-01-01", "2026-12-31"])
def test_strategy_horizon_end_must_be_after_its_start(cast, client_for, end):
    response = client_for(cast.owner_a).post(STRATEGIES, strategy_body(cast, horizon_end=end))

    assert_invalid(response, "horizon_end")
    assert Strategy.objects.filter(company=cast.company_a).count() == 1


def test_strategy_patch_checks_the_horizon_against_the_stored_start(cast, client_for):
    strategy = cast.strategic_a["strategy"]

    response = client_for(cast.owner_a).patch(f"{STRATEGIES}{strategy.pk}/", {"horizon_end": "2025-12-31"})

    assert_invalid(response, "horizon_end")
    strategy.refresh_from_db()
    assert strategy.horizon_end == date(2027, 12, 31)


def test_strategy_owner_from_another_company_is_refused(cast, client_for):
    response = client_for(cast.owner_a).post(STRATEGIES, strategy_body(cast, owner=cast.owner_b.pk))

    assert_invalid(response, "owner")
    assert Strategy.objects.filter(company=cast.company_a).count() == 1


def test_strategy_owner_who_belongs_to_no_company_is_refused(cast, client_for):
    stranger = UserFactory()

    response = client_for(cast.owner_a).post(STRATEGIES, strategy_body(cast, owner=stranger.pk))

    assert_invalid(response, "owner")


@pytest.mark.parametrize(("field", "row"), [("swot_items", "swot"), ("business_outcomes", "outcome")])
def test_strategy_links_to_another_companys_rows_are_refused(cast, client_for, field, row):
    foreign = cast.strategic_b[row].pk

    response = client_for(cast.owner_a).post(STRATEGIES, strategy_body(cast, **{field: [foreign]}))

    assert_invalid(response, field)
    assert Strategy.objects.filter(company=cast.company_a).count() == 1
    assert not cast.strategic_b[row].strategies.filter(company=cast.company_a).exists()


def test_strategy_patch_linking_another_companys_swot_item_keeps_the_old_links(cast, client_for):
    strategy = cast.strategic_a["strategy"]

    response = client_for(cast.owner_a).patch(
        f"{STRATEGIES}{strategy.pk}/", {"swot_items": [cast.strategic_a["gap"].pk, cast.strategic_b["swot"].pk]}
    )

    assert_invalid(response, "swot_items")
    assert links_of(strategy) == ({cast.strategic_a["swot"].pk}, {cast.strategic_a["outcome"].pk})


def test_strategy_put_without_links_empties_them(cast, client_for):
    strategy = cast.strategic_a["strategy"]
    body = strategy_body(cast, title="Alpha one-click checkout, rethought")
    del body["swot_items"], body["business_outcomes"]

    response = client_for(cast.owner_a).put(f"{STRATEGIES}{strategy.pk}/", body)

    assert response.status_code == 200, response.content
    assert response.json()["swot_items"] == []
    assert response.json()["business_outcomes"] == []
    assert links_of(strategy) == (set(), set())
    strategy.refresh_from_db()
    assert strategy.title == "Alpha one-click checkout, rethought"


def test_strategy_put_resets_optional_text_fields(cast, client_for):
    strategy = cast.strategic_a["strategy"]
    client = client_for(cast.owner_a)
    client.patch(f"{STRATEGIES}{strategy.pk}/", {"rationale": "Carts die at payment."})
    body = strategy_body(cast)
    del body["rationale"]

    response = client.put(f"{STRATEGIES}{strategy.pk}/", body)

    assert response.status_code == 200
    assert response.json()["rationale"] == ""
    strategy.refresh_from_db()
    assert strategy.rationale == ""


def test_strategy_patch_without_links_keeps_them(cast, client_for):
    strategy = cast.strategic_a["strategy"]

    response = client_for(cast.owner_a).patch(f"{STRATEGIES}{strategy.pk}/", {"title": "Alpha checkout in one click"})

    assert response.status_code == 200
    assert response.json()["swot_items"] == [cast.strategic_a["swot"].pk]
    assert response.json()["business_outcomes"] == [cast.strategic_a["outcome"].pk]
    assert links_of(strategy) == ({cast.strategic_a["swot"].pk}, {cast.strategic_a["outcome"].pk})


def test_strategy_patch_with_an_empty_list_clears_those_links_only(cast, client_for):
    strategy = cast.strategic_a["strategy"]

    response = client_for(cast.owner_a).patch(f"{STRATEGIES}{strategy.pk}/", {"swot_items": []})

    assert response.status_code == 200
    assert links_of(strategy) == (set(), {cast.strategic_a["outcome"].pk})


def test_retiring_a_strategy_keeps_its_links_and_its_history(cast, client_for):
    strategy = cast.strategic_a["strategy"]
    threat, outcome = cast.strategic_a["swot"], cast.strategic_a["outcome"]
    records_before = strategy.history.count()

    response = client_for(cast.executive_a).patch(f"{STRATEGIES}{strategy.pk}/", {"status": "retired"})

    assert response.status_code == 200
    assert response.json()["status"] == "retired"
    assert response.json()["swot_items"] == [threat.pk]
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.RETIRED
    assert links_of(strategy) == ({threat.pk}, {outcome.pk})
    history = list(strategy.history.all())  # newest first
    assert len(history) == records_before + 1
    latest = history[0]
    assert (latest.history_type, latest.status, latest.history_user) == ("~", "retired", cast.executive_a)
    assert {record.status for record in history[1:]} == {"active"}
    # simple-history keeps the links as they were at each record (m2m_fields).
    assert [row.swotitem_id for row in latest.swot_items.all()] == [threat.pk]
    assert [row.businessoutcome_id for row in latest.business_outcomes.all()] == [outcome.pk]


def test_changing_links_is_recorded_and_earlier_records_keep_the_old_links(cast, client_for):
    strategy = cast.strategic_a["strategy"]
    threat, gap = cast.strategic_a["swot"], cast.strategic_a["gap"]
    before = strategy.history.latest()
    assert [row.swotitem_id for row in before.swot_items.all()] == [threat.pk]

    response = client_for(cast.owner_a).patch(f"{STRATEGIES}{strategy.pk}/", {"swot_items": [gap.pk]})

    assert response.status_code == 200
    latest = strategy.history.latest()
    assert latest.pk != before.pk
    assert [row.swotitem_id for row in latest.swot_items.all()] == [gap.pk]
    before.refresh_from_db()
    assert [row.swotitem_id for row in before.swot_items.all()] == [threat.pk]


def test_deleting_an_active_strategy_is_refused(cast, client_for):
    strategy = cast.strategic_a["strategy"]

    response = client_for(cast.owner_a).delete(f"{STRATEGIES}{strategy.pk}/")

    assert_invalid(response, "status")
    assert Strategy.objects.filter(pk=strategy.pk).exists()
    assert links_of(strategy) == ({cast.strategic_a["swot"].pk}, {cast.strategic_a["outcome"].pk})


def test_an_active_strategy_cannot_be_deleted_by_moving_it_back_to_draft(cast, client_for):
    strategy = strategy_create(
        company=cast.company_a,
        title="Alpha live plan",
        horizon_start=date(2026, 1, 1),
        horizon_end=date(2026, 12, 31),
        status=StrategyStatus.ACTIVE,
        owner=cast.owner_a,
        swot_items=[cast.strategic_a["gap"]],
    )
    client = client_for(cast.owner_a)

    client.patch(f"{STRATEGIES}{strategy.pk}/", {"status": "draft"})
    client.delete(f"{STRATEGIES}{strategy.pk}/")

    assert Strategy.objects.filter(pk=strategy.pk).exists()  # docs/api.md: retired, not deleted, once active


def test_deleting_a_retired_strategy_is_refused(cast, client_for):
    strategy = strategy_create(
        company=cast.company_a,
        title="Alpha old plan",
        horizon_start=date(2024, 1, 1),
        horizon_end=date(2024, 12, 31),
        status=StrategyStatus.RETIRED,
        owner=cast.owner_a,
    )

    response = client_for(cast.owner_a).delete(f"{STRATEGIES}{strategy.pk}/")

    assert_invalid(response, "status")
    assert Strategy.objects.filter(pk=strategy.pk).exists()


def test_deleting_a_draft_with_investments_is_refused(cast, client_for):
    draft = strategy_create(
        company=cast.company_a,
        title="Alpha draft",
        horizon_start=date(2027, 1, 1),
        horizon_end=date(2027, 12, 31),
        owner=cast.owner_a,
    )
    investment_create(
        company=cast.company_a,
        strategy=draft,
        amount=Decimal("10.00"),
        currency="EUR",
        period_start=date(2027, 1, 1),
        period_end=date(2027, 1, 31),
    )

    response = client_for(cast.owner_a).delete(f"{STRATEGIES}{draft.pk}/")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Strategy.objects.filter(pk=draft.pk).exists()
    assert draft.investments.count() == 1


def test_deleting_a_plain_draft_works_and_keeps_what_it_linked(cast, client_for):
    gap, outcome = cast.strategic_a["gap"], cast.strategic_a["outcome"]
    draft = strategy_create(
        company=cast.company_a,
        title="Alpha draft",
        horizon_start=date(2027, 1, 1),
        horizon_end=date(2027, 12, 31),
        owner=cast.owner_a,
        swot_items=[gap],
        business_outcomes=[outcome],
    )

    response = client_for(cast.owner_a).delete(f"{STRATEGIES}{draft.pk}/")

    assert response.status_code == 204
    assert not Strategy.objects.filter(pk=draft.pk).exists()
    assert SwotItem.objects.filter(pk=gap.pk).exists()
    assert list(outcome.strategies.all()) == [cast.strategic_a["strategy"]]
    assert draft.history.filter(history_type="-").count() == 1


# --- strategy filters ----------------------------------------------------------------
@pytest.fixture
def strategies(cast):
    """The cast's active strategy (2026-2027) plus a draft (2028) and a retired one (2025)."""
    rows = cast.strategic_a
    draft = strategy_create(
        company=cast.company_a,
        title="Alpha marketplace partnership",
        description="Partner with a marketplace.",
        horizon_start=date(2028, 1, 1),
        horizon_end=date(2028, 12, 31),
        status=StrategyStatus.DRAFT,
        owner=cast.executive_a,
        swot_items=[rows["gap"]],
    )
    retired = strategy_create(
        company=cast.company_a,
        title="Alpha cheaper hosting",
        rationale="Cut cost before growth.",
        horizon_start=date(2025, 1, 1),
        horizon_end=date(2026, 6, 30),
        status=StrategyStatus.RETIRED,
        owner=cast.owner_a,
        business_outcomes=[rows["outcome"]],
    )
    return {"active": rows["strategy"], "draft": draft, "retired": retired}


def test_strategy_list_default_order_is_newest_horizon_first(cast, client_for, strategies):
    response = client_for(cast.viewer_a).get(STRATEGIES)

    assert ids(response) == [strategies["draft"].pk, strategies["active"].pk, strategies["retired"].pk]


def test_strategy_list_filters_by_status(cast, client_for, strategies):
    client = client_for(cast.viewer_a)

    assert ids(client.get(STRATEGIES, {"status": "active"})) == [strategies["active"].pk]
    assert ids(client.get(STRATEGIES, {"status": ["draft", "retired"]})) == [
        strategies["draft"].pk,
        strategies["retired"].pk,
    ]


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2026-06-01", ["active", "retired"]), ("2026-07-01", ["active"]), ("2028-12-31", ["draft"]), ("2030-01-01", [])],
)
def test_strategy_list_filters_by_the_day_a_horizon_covers(cast, client_for, strategies, day, expected):
    response = client_for(cast.viewer_a).get(STRATEGIES, {"active_on": day})

    assert ids(response) == [strategies[name].pk for name in expected]


def test_strategy_list_filters_by_horizon_bounds(cast, client_for, strategies):
    client = client_for(cast.viewer_a)

    assert ids(client.get(STRATEGIES, {"horizon_start_after": "2026-01-01"})) == [
        strategies["draft"].pk,
        strategies["active"].pk,
    ]
    assert ids(client.get(STRATEGIES, {"horizon_start_before": "2025-12-31"})) == [strategies["retired"].pk]
    assert ids(client.get(STRATEGIES, {"horizon_end_before": "2027-12-31"})) == [
        strategies["active"].pk,
        strategies["retired"].pk,
    ]


def test_strategy_list_filters_by_swot_item_and_business_outcome(cast, client_for, strategies):
    client = client_for(cast.viewer_a)
    rows = cast.strategic_a

    assert ids(client.get(STRATEGIES, {"swot_item_id": rows["gap"].pk})) == [strategies["draft"].pk]
    assert ids(client.get(STRATEGIES, {"swot_item_id": rows["swot"].pk})) == [strategies["active"].pk]
    assert ids(client.get(STRATEGIES, {"business_outcome_id": rows["outcome"].pk})) == [
        strategies["active"].pk,
        strategies["retired"].pk,
    ]


def test_strategy_list_filters_by_owner_and_text(cast, client_for, strategies):
    client = client_for(cast.viewer_a)

    assert ids(client.get(STRATEGIES, {"owner_id": cast.executive_a.pk})) == [strategies["draft"].pk]
    assert ids(client.get(STRATEGIES, {"q": "cut cost"})) == [strategies["retired"].pk]  # in the rationale
    assert ids(client.get(STRATEGIES, {"q": "MARKETPLACE"})) == [strategies["draft"].pk]


def test_strategy_list_orders_by_title_and_by_horizon_end(cast, client_for, strategies):
    client = client_for(cast.viewer_a)

    assert titles(client.get(STRATEGIES, {"ordering": "title"})) == [
        "Alpha cheaper hosting",
        "Alpha marketplace partnership",
        "Alpha one-click checkout",
    ]
    assert ids(client.get(STRATEGIES, {"ordering": "-horizon_end"})) == [
        strategies["draft"].pk,
        strategies["active"].pk,
        strategies["retired"].pk,
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"active_on": "2026-13-01"}, "active_on"),
        ({"active_on": "yesterday"}, "active_on"),
        ({"horizon_start_after": "01.06.2026"}, "horizon_start_after"),
        ({"status": "paused"}, "status"),
        ({"swot_item_id": "abc"}, "swot_item_id"),
        ({"ordering": "owner"}, "ordering"),
        ({"horizon": "2026"}, "horizon"),
    ],
)
def test_strategy_list_refuses_bad_filters(cast, client_for, params, field):
    assert_invalid(client_for(cast.viewer_a).get(STRATEGIES, params), field)


def test_strategy_filter_by_another_companys_swot_item_is_refused(cast, client_for):
    response = client_for(cast.viewer_a).get(STRATEGIES, {"swot_item_id": cast.strategic_b["swot"].pk})

    assert_invalid(response, "swot_item_id")


# =====================================================================================
# Investments
# =====================================================================================
def investment_body(cast, **overrides) -> dict:
    return {
        "strategy": cast.strategic_a["strategy"].pk,
        "team": cast.team_a.pk,
        "amount": "120000.50",
        "currency": "USD",
        "period_start": "2026-04-01",
        "period_end": "2026-06-30",
        "note": "Q2 of the checkout team.",
        **overrides,
    }


def test_investment_create_returns_names_and_exact_amount(cast, client_for):
    response = client_for(cast.executive_a).post(INVESTMENTS, investment_body(cast))

    assert response.status_code == 201, response.content
    body = response.json()
    strategy = cast.strategic_a["strategy"]
    assert body["strategy"] == {"id": strategy.pk, "title": "Alpha one-click checkout"}
    assert body["team"] == {"id": cast.team_a.pk, "name": "Alpha Checkout"}
    assert body["amount"] == "120000.50"
    assert body["currency"] == "USD"
    assert (body["period_start"], body["period_end"]) == ("2026-04-01", "2026-06-30")
    investment = Investment.objects.get(pk=body["id"])
    assert investment.amount == Decimal("120000.50")
    assert investment.company == cast.company_a


def test_investment_without_team_and_with_a_one_day_period(cast, client_for):
    body = investment_body(cast, period_start="2026-05-01", period_end="2026-05-01", amount="0")
    del body["team"]

    response = client_for(cast.owner_a).post(INVESTMENTS, body)

    assert response.status_code == 201, response.content
    assert response.json()["team"] is None
    assert response.json()["amount"] == "0.00"


def test_fifteen_digit_amounts_are_kept_exactly_and_longer_ones_refused(cast, client_for):
    # 15 significant digits: what every supported database, SQLite included, stores exactly.
    client = client_for(cast.owner_a)
    kept = client.post(INVESTMENTS, investment_body(cast, amount="1234567890123.45"))
    too_long = client.post(INVESTMENTS, investment_body(cast, amount="12345678901234.56"))

    assert kept.status_code == 201, kept.content
    assert kept.json()["amount"] == "1234567890123.45"
    assert Investment.objects.get(pk=kept.json()["id"]).amount == Decimal("1234567890123.45")
    assert_invalid(too_long, "amount")


def test_investment_list_is_newest_period_first(cast, client_for):
    later = investment_create(
        company=cast.company_a,
        strategy=cast.strategic_a["strategy"],
        amount=Decimal("5.00"),
        currency="EUR",
        period_start=date(2026, 7, 1),
        period_end=date(2026, 9, 30),
    )

    response = client_for(cast.viewer_a).get(INVESTMENTS)

    assert ids(response) == [later.pk, cast.strategic_a["investment"].pk]
    assert [row["amount"] for row in response.json()["results"]] == ["5.00", "1000.00"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "-0.01"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"amount": "not money"}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"period_end": "2026-03-31"}, "period_end"),
        ({"period_start": "2026-02-30"}, "period_start"),
        ({"strategy": None}, "strategy"),
    ],
)
def test_investment_bad_input_is_refused(cast, client_for, overrides, field):
    response = client_for(cast.owner_a).post(INVESTMENTS, investment_body(cast, **overrides))

    assert_invalid(response, field)
    assert Investment.objects.filter(company=cast.company_a).count() == 1


@pytest.mark.parametrize(("field", "foreign"), [("strategy", "strategy"), ("team", "team")])
def test_investment_in_another_companys_strategy_or_team_is_refused(cast, client_for, field, foreign):
    foreign_id = cast.strategic_b["strategy"].pk if foreign == "strategy" else cast.team_b.pk

    response = client_for(cast.owner_a).post(INVESTMENTS, investment_body(cast, **{field: foreign_id}))

    assert_invalid(response, field)
    assert Investment.objects.count() == 2  # one per company, from the cast


def test_investment_patch_checks_the_period_against_the_stored_start(cast, client_for):
    investment = cast.strategic_a["investment"]

    response = client_for(cast.owner_a).patch(f"{INVESTMENTS}{investment.pk}/", {"period_end": "2025-12-31"})

    assert_invalid(response, "period_end")
    investment.refresh_from_db()
    assert investment.period_end == date(2026, 3, 31)


def test_investment_delete_removes_it(cast, client_for):
    investment = cast.strategic_a["investment"]

    response = client_for(cast.owner_a).delete(f"{INVESTMENTS}{investment.pk}/")

    assert response.status_code == 204
    assert not Investment.objects.filter(pk=investment.pk).exists()


# --- totals --------------------------------------------------------------------------
@pytest.fixture
def allocations(cast):
    """Company A's money: the cast's 1000.00 EUR (checkout, team, Q1) plus EUR and USD allocations."""
    checkout = cast.strategic_a["strategy"]
    partner = strategy_create(
        company=cast.company_a,
        title="Alpha partner programme",
        horizon_start=date(2026, 1, 1),
        horizon_end=date(2026, 12, 31),
        owner=cast.owner_a,
    )

    def invest(strategy, team, amount, currency, start, end):
        return investment_create(
            company=cast.company_a,
            strategy=strategy,
            team=team,
            amount=Decimal(amount),
            currency=currency,
            period_start=start,
            period_end=end,
        )

    q1, q1_end, q2, q2_end = date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 1), date(2026, 6, 30)
    invest(checkout, None, "250.25", "EUR", q1, q1_end)
    invest(checkout, cast.team_a, "0.10", "EUR", q2, q2_end)
    invest(checkout, cast.team_a, "0.20", "EUR", q2, q2_end)
    invest(checkout, cast.team_a, "99.99", "USD", q2, q2_end)
    invest(partner, cast.team_a, "12345678901.01", "USD", q2, q2_end)
    invest(partner, None, "0.01", "USD", q1, q1_end)
    return {"checkout": checkout, "partner": partner}


NESTED = {
    "strategy_id": ("strategy", "id"),
    "strategy_title": ("strategy", "title"),
    "team_id": ("team", "id"),
    "team_name": ("team", "name"),
}


def _value(row: dict, key: str):
    if key not in NESTED:
        return row[key]
    group, field = NESTED[key]
    return None if row[group] is None else row[group][field]


def total_rows(response, *keys: str) -> list[tuple]:
    assert response.status_code == 200, response.content
    return [tuple(_value(row, key) for key in keys) for row in response.json()["results"]]


def test_totals_by_strategy_sum_per_currency(cast, client_for, allocations):
    response = client_for(cast.viewer_a).get(TOTALS, {"group_by": "strategy"})

    assert response.json()["group_by"] == "strategy"
    checkout, partner = allocations["checkout"], allocations["partner"]
    expected = [
        (checkout.pk, "Alpha one-click checkout", "EUR", "1250.55", 4),
        (checkout.pk, "Alpha one-click checkout", "USD", "99.99", 1),
        (partner.pk, "Alpha partner programme", "USD", "12345678901.02", 2),
    ]
    assert total_rows(response, "strategy_id", "strategy_title", "currency", "total", "allocations") == expected


def test_totals_group_by_strategy_is_the_default(cast, client_for, allocations):
    client = client_for(cast.member_a)

    default = client.get(TOTALS)

    assert default.status_code == 200
    assert default.json() == client.get(TOTALS, {"group_by": "strategy"}).json()


def test_totals_by_team_have_a_group_for_money_without_team(cast, client_for, allocations):
    response = client_for(cast.viewer_a).get(TOTALS, {"group_by": "team"})

    assert response.json()["group_by"] == "team"
    rows = total_rows(response, "team_id", "team_name", "currency", "total", "allocations")
    # Where the no-team group sorts depends on the database's NULL ordering; compare without order.
    assert sorted(rows, key=repr) == sorted(
        [
            (cast.team_a.pk, "Alpha Checkout", "EUR", "1000.30", 3),
            (cast.team_a.pk, "Alpha Checkout", "USD", "12345679001.00", 2),
            (None, None, "EUR", "250.25", 1),
            (None, None, "USD", "0.01", 1),
        ],
        key=repr,
    )


def test_totals_by_period(cast, client_for, allocations):
    response = client_for(cast.viewer_a).get(TOTALS, {"group_by": "period"})

    assert total_rows(response, "period_start", "period_end", "currency", "total", "allocations") == [
        ("2026-01-01", "2026-03-31", "EUR", "1250.25", 2),
        ("2026-01-01", "2026-03-31", "USD", "0.01", 1),
        ("2026-04-01", "2026-06-30", "EUR", "0.30", 2),
        ("2026-04-01", "2026-06-30", "USD", "12345679001.00", 2),
    ]


def test_totals_rows_carry_only_the_keys_of_their_grouping(cast, client_for, allocations):
    client = client_for(cast.viewer_a)
    keys = {
        "strategy": {"strategy", "currency", "total", "allocations"},
        "team": {"team", "currency", "total", "allocations"},
        "period": {"period_start", "period_end", "currency", "total", "allocations"},
    }

    for group_by, expected in keys.items():
        rows = client.get(TOTALS, {"group_by": group_by}).json()["results"]
        assert {frozenset(row) for row in rows} == {frozenset(expected)}, group_by


def test_totals_take_the_list_filters(cast, client_for, allocations):
    client = client_for(cast.viewer_a)

    by_partner = client.get(TOTALS, {"strategy_id": allocations["partner"].pk, "group_by": "team"})
    assert sorted(total_rows(by_partner, "team_id", "currency", "total", "allocations"), key=repr) == sorted(
        [(cast.team_a.pk, "USD", "12345678901.01", 1), (None, "USD", "0.01", 1)], key=repr
    )
    in_euro = client.get(TOTALS, {"currency": "EUR"})
    assert total_rows(in_euro, "strategy_id", "currency", "total", "allocations") == [
        (allocations["checkout"].pk, "EUR", "1250.55", 4)
    ]
    q2 = client.get(TOTALS, {"period_from": "2026-04-01", "team_id": cast.team_a.pk})
    assert total_rows(q2, "strategy_id", "currency", "total") == [
        (allocations["checkout"].pk, "EUR", "0.30"),
        (allocations["checkout"].pk, "USD", "99.99"),
        (allocations["partner"].pk, "USD", "12345678901.01"),
    ]


def test_totals_of_no_investments_are_an_empty_list(cast, client_for):
    response = client_for(cast.viewer_a).get(TOTALS, {"currency": "JPY"})

    assert response.status_code == 200
    assert response.json() == {"group_by": "strategy", "results": []}


def test_totals_never_include_another_companys_money(cast, client_for):
    response = client_for(cast.owner_b).get("/api/v1/companies/bravo/investments/totals/")

    assert total_rows(response, "strategy_id", "currency", "total", "allocations") == [
        (cast.strategic_b["strategy"].pk, "EUR", "1000.00", 1)
    ]


def test_totals_group_by_must_be_known(cast, client_for):
    response = client_for(cast.viewer_a).get(TOTALS, {"group_by": "bogus"})

    assert_invalid(response, "group_by")


@pytest.mark.parametrize("param", ["groupby", "page", "ordering_by"])
def test_totals_refuse_unknown_query_params(cast, client_for, param):
    response = client_for(cast.viewer_a).get(TOTALS, {param: "1"})

    body = assert_invalid(response, param)
    assert body["fields"][param] == ["Unknown query parameter."]


def test_group_by_is_not_a_list_parameter(cast, client_for):
    assert_invalid(client_for(cast.viewer_a).get(INVESTMENTS, {"group_by": "team"}), "group_by")


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_can_read_totals(cast, client_for, role):
    response = client_for(cast.by_role_a[role]).get(TOTALS)

    assert total_rows(response, "strategy_id", "currency", "total", "allocations") == [
        (cast.strategic_a["strategy"].pk, "EUR", "1000.00", 1)
    ]


def test_a_write_key_can_read_totals(cast, key_client):
    response = key_client(cast.raw_key_a).get(TOTALS, {"group_by": "team"})

    assert total_rows(response, "team_id", "currency", "total") == [(cast.team_a.pk, "EUR", "1000.00")]

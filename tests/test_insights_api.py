"""The insight routes over HTTP: who may read them, their figures against hand-counted worlds, CSV, bad input.

The worlds are the read models' own (tests/test_insights.py and tests/test_insights_more.py), built
through their helpers, so each figure asserted here was counted by hand there; the API must hand the
same figures back (shares as floats, money as strings with two places) and echo the period it read.
The clock is frozen wherever a figure or the default period depends on it; clients are made after the
clock moves (a session made earlier would have expired by then).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from drf_spectacular.generators import SchemaGenerator

from epics.models import ActualResult, Contribution, Epic, OutcomeReview, StatusChange
from epics.services import review_waive
from insights import selectors
from insights.api import serializers as s
from insights.api.views import InsightViewSet
from insights.periods import MAX_DAYS, period_of_days
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from outcomes.choices import APIKeyScope
from outcomes.models import Company, SwotItem
from outcomes.services.api_keys import api_key_create
from tests.assertions import assert_invalid
from tests.conftest import Cast
from tests.factories import CompanyFactory, MembershipFactory
from tests.test_insights import _delivered, _record
from tests.test_insights_flow import NOW as FLOW_NOW
from tests.test_insights_flow import build_world as build_flow_world
from tests.test_insights_more import (
    CYCLE_ENDS,
    MIDPOINT,
    NOW,
    _alignment_world,
    _calibration_world,
    _cycle,
    _epic,
    _investment_world,
    _key_result,
    _objective,
    _person,
    _review,
    _strategy,
    _team,
    _two_companies,
)

pytestmark = pytest.mark.django_db

BASE_ROUTES = ("rollup", "realisation", "outcome-debt", "alignment", "investment", "calibration")


def url(name: str, slug: str = "alpha") -> str:
    return reverse(f"v1:insight-{name}", kwargs={"company_slug": slug})


def _has(name: str) -> bool:
    try:
        url(name)
    except NoReverseMatch:
        return False
    return True


ROUTES = BASE_ROUTES + (("flow",) if _has("flow") else ())  # flow joins every route-wide test once it is routed


def accepted(name: str) -> frozenset[str]:
    """The query parameters a route takes, as the view declares them."""
    return InsightViewSet.extra_query_params.get(name.replace("-", "_"), frozenset())


def taking(*params: str) -> list[str]:
    return [name for name in ROUTES if set(params) <= accepted(name)]


ROLES = ("owner", "admin", "executive", "member", "viewer")
NOT_FOUND = {"status": 404, "code": "not_found", "detail": "Not found."}
NO_CYCLE = {"status": 404, "code": "not_found", "detail": "This company has no cycle yet."}
Q1 = {"start": "2027-01-01", "end": "2027-03-31"}
VERDICTS = ("achieved", "partly", "missed", "inconclusive")
# CSV asked for by the query string or by the Accept header: (query, headers).
ASKED_AS = {"query": ({"format": "csv"}, {}), "accept": ({}, {"HTTP_ACCEPT": "text/csv"})}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    return response.json()


def freeze(time_machine: Any, at: datetime) -> None:
    time_machine.move_to(at, tick=False)


# --- 1. who may read --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ROUTES)
def test_every_role_and_every_key_of_the_company_reads_the_insight(name, cast, client_for, key_client):
    for role in ROLES:
        response = client_for(cast.by_role_a[role]).get(url(name))
        assert response.status_code == 200, (role, response.content)
    reader = api_key_create(
        company=cast.company_a, name="Insight reader", scope=APIKeyScope.READ, created_by=cast.owner_a
    )
    assert key_client(reader.raw).get(url(name)).status_code == 200
    assert key_client(cast.raw_key_a).get(url(name)).status_code == 200  # a write key reads too


@pytest.mark.parametrize("name", ROUTES)
def test_signed_out_is_401_and_another_company_is_404(name, cast, client_for, key_client):
    signed_out = client_for(None).get(url(name))
    assert signed_out.status_code == 401
    assert signed_out.json()["code"] == "not_authenticated"
    for response in (
        client_for(cast.member_b).get(url(name)),
        client_for(cast.owner_b).get(url(name), {"format": "csv"}),
        client_for(cast.member_b).get(url(name), HTTP_ACCEPT="text/csv"),
        key_client(cast.raw_key_b).get(url(name)),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == NOT_FOUND
    assert client_for(cast.member_b).get(url(name, "bravo")).status_code == 200  # B reads its own


# --- 2. realisation ---------------------------------------------------------------------------
def _tally(key: str, name: str, counts: tuple[int, int, int, int], share: float | None, verdicts, shares):
    delivered, recorded, waived, pending = counts
    return {
        "key": key,
        "name": name,
        "delivered": delivered,
        "recorded": recorded,
        "waived": waived,
        "pending": pending,
        "recorded_share": share,
        "verdicts": dict(zip(VERDICTS, verdicts, strict=True)),
        "verdict_shares": dict(zip(VERDICTS, shares, strict=True)),
    }


@pytest.fixture
def deliveries(cast: Cast, time_machine) -> dict[str, Epic]:
    """The hand-counted deliveries of tests/test_insights.py, made with its helpers (company A, Berlin).

    January: achieved (strategic), partly (strategic, no team), waived. February: missed, pending.
    March: missed overridden to inconclusive. April: achieved, outside Q1.
    """
    at = {
        "achieved": datetime(2027, 1, 10, tzinfo=UTC),
        "partly": datetime(2027, 1, 20, tzinfo=UTC),
        "waived": datetime(2027, 1, 25, tzinfo=UTC),
        "missed": datetime(2027, 2, 5, tzinfo=UTC),
        "pending": datetime(2027, 2, 15, tzinfo=UTC),
        "overridden": datetime(2027, 3, 5, tzinfo=UTC),
        "later": datetime(2027, 4, 5, tzinfo=UTC),
    }
    made = {
        name: _delivered(
            cast,
            name.title(),
            when,
            time_machine,
            team=name != "partly",
            strategic=name in {"achieved", "partly"},
        )
        for name, when in at.items()
    }
    _record(made["achieved"], Decimal(66), cast, time_machine)
    _record(made["partly"], Decimal(64), cast, time_machine)
    review_waive(epic=made["waived"], reason="Measured elsewhere", actor=cast.owner_a)
    _record(made["missed"], Decimal(60), cast, time_machine)
    _record(
        made["overridden"],
        Decimal(60),
        cast,
        time_machine,
        verdict_override="inconclusive",
        override_reason="The funnel was broken that month.",
    )
    _record(made["later"], Decimal(66), cast, time_machine)
    return made


def _realisation_figures(cast: Cast) -> dict[str, Any]:
    quarter = (0.25, 0.25, 0.25, 0.25)
    email = cast.member_a.email
    strategy = cast.strategic_a["strategy"]
    return {
        # Six delivered in Q1: four recorded (one of each verdict), one waived, one pending.
        "total": _tally("all", "All delivered epics", (6, 4, 1, 1), 0.6667, (1, 1, 1, 1), quarter),
        "by_team": [
            # achieved, waived, missed, pending, overridden: recorded 3 of 5.
            _tally(str(cast.team_a.pk), "Alpha Checkout", (5, 3, 1, 1), 0.6, (1, 0, 1, 1), (0.3333, 0, 0.3333, 0.3333)),
            _tally("", "No team", (1, 1, 0, 0), 1.0, (0, 1, 0, 0), (0, 1.0, 0, 0)),
        ],
        "by_owner": [_tally(email, email, (6, 4, 1, 1), 0.6667, (1, 1, 1, 1), quarter)],
        "by_strategy": [_tally(str(strategy.pk), strategy.title, (2, 2, 0, 0), 1.0, (1, 1, 0, 0), (0.5, 0.5, 0, 0))],
        "by_month": [
            _tally("2027-01", "2027-01", (3, 2, 1, 0), 0.6667, (1, 1, 0, 0), (0.5, 0.5, 0, 0)),
            _tally("2027-02", "2027-02", (2, 1, 0, 1), 0.5, (0, 0, 1, 0), (0, 0, 1.0, 0)),
            _tally("2027-03", "2027-03", (1, 1, 0, 0), 1.0, (0, 0, 0, 1), (0, 0, 0, 1.0)),
        ],
    }


def test_realisation_through_the_api_is_the_hand_count(deliveries, cast, client_for, time_machine):
    q1 = Cycle.objects.create(
        company=cast.company_a, name="Alpha 2027 Q1", start=date(2027, 1, 1), end=date(2027, 3, 31), status="active"
    )
    freeze(time_machine, datetime(2027, 3, 15, 12, tzinfo=UTC))  # Alpha 2027 Q1 is the current cycle
    client = client_for(cast.viewer_a)
    figures = _realisation_figures(cast)

    by_dates = ok(client.get(url("realisation"), Q1))
    by_cycle = ok(client.get(url("realisation"), {"cycle": q1.pk}))
    by_default = ok(client.get(url("realisation")))

    assert by_dates == {"period": {**Q1, "cycle": None}, **figures}
    assert by_cycle == {"period": {**Q1, "cycle": q1.pk}, **figures}
    assert by_default == by_cycle
    # And the same as the read model asked directly for the period.
    period = period_of_days(cast.company_a, date(2027, 1, 1), date(2027, 3, 31))
    direct = selectors.realisation(cast.company_a, period.start, period.end)
    assert s.RealisationSerializer({"period": period, **vars(direct)}).data == by_dates


def test_realisation_filters_through_the_api(deliveries, cast, client_for):
    client = client_for(cast.owner_a)
    strategy = cast.strategic_a["strategy"]

    by_team = ok(client.get(url("realisation"), {**Q1, "team": cast.team_a.pk}))
    by_strategy = ok(client.get(url("realisation"), {**Q1, "strategy": strategy.pk}))

    assert (by_team["total"]["delivered"], by_team["total"]["verdicts"]["partly"]) == (5, 0)
    assert [t["name"] for t in by_team["by_team"]] == ["Alpha Checkout"]
    assert (by_strategy["total"]["delivered"], by_strategy["total"]["verdicts"]["achieved"]) == (2, 1)
    assert by_strategy["total"]["verdict_shares"]["achieved"] == 0.5


def test_without_any_cycle_a_period_insight_reads_the_last_90_days(client_for, time_machine):
    freeze(time_machine, datetime(2027, 3, 15, 12, tzinfo=UTC))
    company, _other = _two_companies()
    client = client_for(_person(company, "lonely"))

    for name in ("realisation", "alignment", "investment"):
        assert ok(client.get(url(name, company.slug)))["period"] == {
            "start": "2026-12-16",  # 90 days, today included
            "end": "2027-03-15",
            "cycle": None,
        }


# --- 2. alignment -----------------------------------------------------------------------------
@pytest.fixture
def alignment_world(time_machine) -> dict[str, Any]:
    """tests/test_insights_more.py's alignment world in a fresh company (beside a twin), at its ``NOW``."""
    freeze(time_machine, NOW)  # epic C has run one month by then: 1000 USD
    company, twin = _two_companies()
    world = _alignment_world(company)
    world["twin"] = _alignment_world(twin)
    world["company"] = company
    return world


def test_alignment_through_the_api_is_the_hand_count(alignment_world, client_for):
    world = alignment_world
    company, owner = world["company"], world["owner"].email
    q1 = world["objectives"][0].cycle
    o3, o4 = world["objectives"][2:]
    kr2, kr4 = world["key_results"][1], world["key_results"][3]
    _addressed, draft_only, bare, _weakness = world["threats"]
    epics = world["epics"]
    client = client_for(world["owner"])

    by_cycle = ok(client.get(url("alignment", company.slug), {"cycle": q1.pk}))

    assert by_cycle == {
        "period": {**Q1, "cycle": q1.pk},
        # In scope: A B C D E F G = 7; aligned A B E: 3/7.
        "epics": 7,
        "aligned": 3,
        "aligned_share": 0.4286,
        "unknown_cost": 2,  # E (aligned) and F
        "unknown_cost_aligned": 1,
        "by_currency": [
            # A 1000 + B 1500 (3000 a month for half a month) + D 500; aligned A + B.
            {
                "currency": "EUR",
                "epics": 3,
                "aligned_epics": 2,
                "cost": "3000.00",
                "aligned_cost": "2500.00",
                "aligned_share": 0.8333,
            },
            # C 1000 (a month of Beta) + G 200, none aligned.
            {
                "currency": "USD",
                "epics": 2,
                "aligned_epics": 0,
                "cost": "1200.00",
                "aligned_cost": "0.00",
                "aligned_share": 0.0,
            },
        ],
        "unaligned": [
            {"id": epics[key].pk, "title": epics[key].title, "owner": owner, "team": team, "status": status}
            for key, team, status in (
                ("c", "Beta", "in_progress"),
                ("d", "Gamma", "planned"),
                ("f", "", "proposed"),
                ("g", "", "done"),
            )
        ],
        "objectives_without_work": [
            {"id": o3.pk, "title": "O3 platform", "cycle": "2027 Q1", "owner": owner, "team": "Beta"},
            {"id": o4.pk, "title": "O4 expand", "cycle": "2027 Q1", "owner": owner, "team": ""},
        ],
        "key_results_without_work": [
            {"id": kr2.pk, "title": "KR2 margin", "objective": "O1 grow", "owner": owner, "team": ""},
            {"id": kr4.pk, "title": "KR4 latency", "objective": "O3 platform", "owner": owner, "team": "Beta"},
        ],
        "unaddressed_threats": [
            {"id": bare.pk, "title": "T3 nobody", "impact": 5, "owner": owner},
            {"id": draft_only.pk, "title": "T2 only a draft", "impact": 3, "owner": owner},
        ],
    }
    by_dates = ok(client.get(url("alignment", company.slug), Q1))
    by_default = ok(client.get(url("alignment", company.slug)))  # NOW lies in 2027 Q1
    assert by_dates == {**by_cycle, "period": {**Q1, "cycle": None}}
    assert by_default == by_cycle


def test_alignment_filters_through_the_api(alignment_world, client_for):
    world = alignment_world
    alpha, beta, _gamma = world["teams"]
    client = client_for(world["owner"])
    path = url("alignment", world["company"].slug)

    by_alpha = ok(client.get(path, {**Q1, "team": alpha.pk}))
    by_beta = ok(client.get(path, {**Q1, "team": beta.pk}))
    by_strategy = ok(client.get(path, {**Q1, "strategy": world["strategy"].pk}))

    assert (by_alpha["epics"], by_alpha["aligned_share"], by_alpha["objectives_without_work"]) == (2, 1.0, [])
    assert [(c["currency"], c["cost"], c["aligned_share"]) for c in by_alpha["by_currency"]] == [
        ("EUR", "2500.00", 1.0)
    ]
    assert (by_beta["epics"], by_beta["aligned"], by_beta["aligned_share"]) == (1, 0, 0.0)
    assert [o["title"] for o in by_beta["objectives_without_work"]] == ["O3 platform"]
    assert (by_strategy["epics"], by_strategy["aligned"], by_strategy["unaligned"]) == (1, 1, [])
    assert [k["title"] for k in by_strategy["key_results_without_work"]] == ["KR2 margin"]


# --- 2. investment ----------------------------------------------------------------------------
@pytest.fixture
def investment_world(time_machine) -> dict[str, Any]:
    freeze(time_machine, datetime(2027, 3, 20, 12, tzinfo=UTC))  # inside 2027 Q1, the world's one cycle
    company, twin = _two_companies()
    world = _investment_world(company)
    world["twin"] = _investment_world(twin)
    world["company"] = company
    world["cycle"] = Cycle.objects.get(company=company)
    return world


def _spend(currency: str, epics: int, total: str, share: float | None, **buckets: str) -> dict[str, Any]:
    names = (*VERDICTS, "unrecorded")
    return {
        "currency": currency,
        "epics": epics,
        "total": total,
        "by_outcome": {name: buckets.get(name, "0.00") for name in names},
        "achieved_share": share,
    }


def _group(key: str, name: str, epics: int, waived: int, unknown: int, *spend: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "name": name, "epics": epics, "waived": waived, "unknown_cost": unknown, "spend": list(spend)}


def test_investment_through_the_api_is_the_hand_count(investment_world, client_for):
    world = investment_world
    company = world["company"]
    alpha, beta, gamma = world["teams"]
    s1, s2 = world["strategies"]
    client = client_for(world["owner"])

    by_cycle = ok(client.get(url("investment", company.slug), {"cycle": world["cycle"].pk}))

    assert by_cycle["period"] == {**Q1, "cycle": world["cycle"].pk}
    # EUR: d1 1000 achieved, d2 1500 missed, d5 500 + d8 200 unrecorded, d7 300 inconclusive; 1000 / 2800.
    # USD: d3 400 partly, d4 1000 waived (unrecorded); 0 / 400. d6's cost is unknown.
    assert by_cycle["total"] == _group(
        "all",
        "All delivered epics",
        8,
        1,
        1,
        _spend(
            "EUR",
            5,
            "3500.00",
            0.3571,
            achieved="1000.00",
            missed="1500.00",
            inconclusive="300.00",
            unrecorded="700.00",
        ),
        _spend("USD", 2, "1400.00", 0.0, partly="400.00", unrecorded="1000.00"),
    )
    assert by_cycle["by_team"] == [
        _group(
            str(alpha.pk),
            "Alpha",
            4,
            0,
            0,
            _spend("EUR", 4, "3200.00", 0.4, achieved="1000.00", missed="1500.00", unrecorded="700.00"),
        ),
        _group(str(beta.pk), "Beta", 2, 1, 0, _spend("USD", 2, "1400.00", 0.0, partly="400.00", unrecorded="1000.00")),
        _group(str(gamma.pk), "Gamma", 1, 0, 1),
        _group("", "No team", 1, 0, 0, _spend("EUR", 1, "300.00", 0.0, inconclusive="300.00")),
    ]
    assert by_cycle["by_strategy"] == [
        _group(
            str(s1.pk),
            "S1 grow",
            5,
            0,
            1,
            _spend("EUR", 3, "3000.00", 0.4, achieved="1000.00", missed="1500.00", unrecorded="500.00"),
            _spend("USD", 1, "400.00", 0.0, partly="400.00"),
        ),
        _group(
            str(s2.pk),
            "S2 retain",
            2,
            0,
            0,
            _spend("EUR", 1, "1500.00", 0.0, missed="1500.00"),
            _spend("USD", 1, "400.00", 0.0, partly="400.00"),
        ),
    ]
    rows = {e["title"]: (e["state"], e["verdict"], e["amount"], e["currency"], e["how"]) for e in by_cycle["epics"]}
    assert rows == {
        "d1 estimate": ("recorded", "achieved", "1000.00", "EUR", "estimate"),
        "d2 team cost": ("recorded", "missed", "1500.00", "EUR", "team_cost"),
        "d3 override": ("recorded", "partly", "400.00", "USD", "estimate"),
        "d4 waived": ("waived", None, "1000.00", "USD", "team_cost"),
        "d5 pending": ("pending", None, "500.00", "EUR", "estimate"),
        "d6 unknown cost": ("recorded", "achieved", None, None, None),
        "d7 no team": ("recorded", "inconclusive", "300.00", "EUR", "estimate"),
        "d8 twice": ("pending", None, "200.00", "EUR", "estimate"),
    }
    assert by_cycle["epics"][0]["epic_id"] == world["epics"]["d1"].pk  # oldest delivery first
    by_dates = ok(client.get(url("investment", company.slug), Q1))
    by_default = ok(client.get(url("investment", company.slug)))
    assert by_dates == {**by_cycle, "period": {**Q1, "cycle": None}}
    assert by_default == by_cycle


def test_investment_filters_through_the_api(investment_world, client_for):
    world = investment_world
    _alpha, beta, _gamma = world["teams"]
    client = client_for(world["owner"])
    path = url("investment", world["company"].slug)

    by_beta = ok(client.get(path, {**Q1, "team": beta.pk}))
    by_s2 = ok(client.get(path, {**Q1, "strategy": world["strategies"][1].pk}))

    assert (by_beta["total"]["epics"], [g["name"] for g in by_beta["by_team"]]) == (2, ["Beta"])
    assert [e["title"] for e in by_s2["epics"]] == ["d2 team cost", "d3 override"]
    assert [(sp["currency"], sp["total"]) for sp in by_s2["total"]["spend"]] == [("EUR", "1500.00"), ("USD", "400.00")]


# --- 2. calibration ---------------------------------------------------------------------------
@pytest.fixture
def calibration_world(time_machine) -> dict[str, Any]:
    freeze(time_machine, datetime(2027, 4, 10, 12, tzinfo=UTC))  # after Q1: still the latest active cycle
    company, twin = _two_companies("Europe/Berlin")
    world = _calibration_world(company)
    world["twin"] = _calibration_world(twin)
    world["company"] = company
    return world


def _score(key: str, name: str, scored: int, unscored: int, *figures: float | None) -> dict[str, Any]:
    names = ("mean_confidence", "mean_grade", "bias", "brier")
    return {"key": key, "name": name, "scored": scored, "unscored": unscored, **dict(zip(names, figures, strict=True))}


def test_calibration_through_the_api_is_the_hand_count(calibration_world, client_for):
    world = calibration_world
    company, cycle = world["company"], world["cycle"]
    ann, bob = world["ann"].email, world["bob"].email
    alpha, beta = world["teams"]
    client = client_for(world["bob"])

    by_cycle = ok(client.get(url("calibration", company.slug), {"cycle": cycle.pk}))

    assert by_cycle == {
        "cycle": cycle.pk,
        "midpoint": MIDPOINT.isoformat().replace("+00:00", "Z"),
        "ends": CYCLE_ENDS.isoformat().replace("+00:00", "Z"),
        # Confidence mean 0.75, grade mean 0.625; Brier (0.09 + 0.16 + 0.09 + 0.81) / 4.
        "total": _score("all", "All key results", 4, 2, 0.75, 0.625, 0.125, 0.2875),
        "by_owner": [
            _score(ann, ann, 2, 1, 0.7, 0.75, -0.05, 0.125),
            _score(bob, bob, 2, 1, 0.8, 0.5, 0.3, 0.45),
        ],
        "by_team": [
            _score(str(alpha.pk), "Alpha", 2, 0, 0.75, 0.75, 0.0, 0.09),
            _score(str(beta.pk), "Beta", 1, 1, 0.6, 1.0, -0.4, 0.16),
            _score("", "No team", 1, 1, 0.9, 0.0, 0.9, 0.81),
        ],
        "key_results": [
            {
                "id": kr.pk,
                "title": kr.title,
                "owner": kr.owner.email,
                "team": team,
                "confidence": confidence,
                "grade": grade,
                "squared_error": error,
            }
            for kr, team, confidence, grade, error in zip(
                world["key_results"],
                ("Alpha", "Beta", "Alpha", "", "Beta", ""),
                (0.8, 0.6, 0.7, 0.9, None, None),
                (0.5, 1.0, 1.0, 0.0, 0.5, None),
                (0.09, 0.16, 0.09, 0.81, None, None),
                strict=True,
            )
        ],
    }
    assert ok(client.get(url("calibration", company.slug))) == by_cycle  # the current cycle by default
    by_alpha = ok(client.get(url("calibration", company.slug), {"cycle": cycle.pk, "team": alpha.pk}))
    assert by_alpha["total"] == _score("all", "All key results", 2, 0, 0.75, 0.75, 0.0, 0.09)
    assert [t["name"] for t in by_alpha["by_team"]] == ["Alpha"]


# --- 2. flow --------------------------------------------------------------------------------------
MARCH = {"start": "2027-03-01", "end": "2027-03-28"}  # the four Berlin weeks of tests/test_insights_flow.py


def _by_type(feature: int = 0, defect: int = 0, risk: int = 0, debt: int = 0) -> dict[str, int]:
    return {"feature": feature, "defect": defect, "risk": risk, "debt": debt, "total": feature + defect + risk + debt}


def _flow_time(count: int, p50: float | None, p85: float | None, mean: float | None) -> dict[str, Any]:
    return {"count": count, "p50_days": p50, "p85_days": p85, "mean_days": mean}


def _efficiency(active: float, wait: float, ratio: float | None) -> dict[str, Any]:
    return {"active_days": active, "wait_days": wait, "ratio": ratio, "known": ratio is not None}


@pytest.fixture
def flow_world(time_machine) -> Any:
    freeze(time_machine, FLOW_NOW)
    world = build_flow_world()
    MembershipFactory(user=world.owner, company=world.company, role="viewer")
    return world


def test_flow_through_the_api_is_the_hand_count(flow_world, client_for):
    world = flow_world
    march = Cycle.objects.create(
        company=world.company, name="March", start=date(2027, 3, 1), end=date(2027, 3, 28), status="active"
    )
    client = client_for(world.owner)
    path = url("flow", world.company.slug)

    by_dates = ok(client.get(path, MARCH))

    assert by_dates["period"] == {**MARCH, "cycle": None}
    # The figures tests/test_insights_flow.py works out from its twelve epics' moves.
    assert [week["start"] for week in by_dates["weeks"]] == ["2027-03-01", "2027-03-08", "2027-03-15", "2027-03-22"]
    assert [week["done"] for week in by_dates["weeks"]] == [
        _by_type(feature=1, defect=1),
        _by_type(debt=2),
        _by_type(feature=1),
        _by_type(risk=1),
    ]
    assert [week["in_progress_at_end"] for week in by_dates["weeks"]] == [
        _by_type(1, 1, 1, 1),
        _by_type(2, 1, 1),
        _by_type(1, 1, 1),
        _by_type(2, 1),
    ]
    assert by_dates["weeks"][0]["flow_time"] == _flow_time(2, 3.0, 5.0, 4.0)
    assert by_dates["weeks"][0]["efficiency"] == _efficiency(6.0, 2.0, 0.75)
    assert by_dates["done"] == _by_type(feature=2, defect=1, risk=1, debt=2)
    assert by_dates["flow_time"] == _flow_time(5, 5.0, 30.96, 10.19)
    assert by_dates["flow_time_by_type"] == {
        "feature": _flow_time(2, 3.0, 8.0, 5.5),
        "defect": _flow_time(1, 5.0, 5.0, 5.0),
        "risk": _flow_time(1, 30.96, 30.96, 30.96),
        "debt": _flow_time(1, 4.0, 4.0, 4.0),
    }
    assert by_dates["unknown_start"] == 1
    assert by_dates["in_progress"] == _by_type(feature=1, defect=1)
    assert by_dates["efficiency"] == _efficiency(46.96, 2.0, 0.9591)
    assert by_dates["efficiency_by_type"]["defect"] == _efficiency(3.0, 2.0, 0.6)
    assert by_dates["efficiency_by_type"]["feature"] == _efficiency(9.0, 0.0, None)
    assert by_dates["done_shares"] == {"feature": 0.3333, "defect": 0.1667, "risk": 0.1667, "debt": 0.3333}
    assert by_dates["in_progress_shares"] == {"feature": 0.5, "defect": 0.5, "risk": 0.0, "debt": 0.0}
    by_cycle = ok(client.get(path, {"cycle": march.pk}))
    assert by_cycle == {**by_dates, "period": {**MARCH, "cycle": march.pk}}
    assert ok(client.get(path)) == by_cycle  # March is the company's latest active cycle on 5 April
    by_team = ok(client.get(path, {**MARCH, "team": world.one.pk}))
    assert by_team["done"] == _by_type(feature=1, defect=1, debt=1)  # E1, E2, E5


@pytest.mark.parametrize("asked_as", ASKED_AS)
def test_flow_csv_has_the_json_weeks(asked_as, flow_world, client_for):
    world = flow_world
    client = client_for(world.owner)
    path = url("flow", world.company.slug)
    document = ok(client.get(path, MARCH))

    rows = _csv(client, path, MARCH, asked_as, f"{world.company.slug}-flow.csv")

    assert len(rows) == len(document["weeks"]) == 4
    for row, week in zip(rows, document["weeks"], strict=True):
        expected = {
            "week": week["start"],
            "done": week["done"]["total"],
            **{f"done_{kind}": week["done"][kind] for kind in ("feature", "defect", "risk", "debt")},
            "in_progress_at_week_end": week["in_progress_at_end"]["total"],
            "flow_time_p50_days": week["flow_time"]["p50_days"],
            "flow_time_p85_days": week["flow_time"]["p85_days"],
            "efficiency": week["efficiency"]["ratio"],
        }
        _assert_row(row, expected)


# --- 3. roll-up with delivery -----------------------------------------------------------------
@pytest.fixture
def delivery_world(time_machine) -> dict[str, Any]:
    """A cycle with a parent objective, a team child and a second team's objective.

      P grow (company)       KP revenue      E1 achieved
        O checkout (Alpha)   K1 conversion   E1 achieved (recorded), E2 missed (recorded; partly, then missed)
      Q platform (Beta)      K2 latency      E3 waiting (delivered, review pending), E4 building (in progress)

    O serves the strategy S, Q serves T. P's delivery counts E1 once (it serves KP and K1) and E2 (from O).
    """
    freeze(time_machine, datetime(2027, 3, 15, 12, tzinfo=UTC))
    company, twin = _two_companies()
    owner = _person(company, "owner")
    alpha, beta = _team(company, "Alpha"), _team(company, "Beta")
    serve, other = _strategy(company, "S checkout", owner), _strategy(company, "T platform", owner)
    cycle = _cycle(company, "2027 Q1", date(2027, 1, 1), date(2027, 3, 31))
    parent = _objective(cycle, "P grow", owner)
    child = _objective(cycle, "O checkout", owner, team=alpha, strategies=(serve,))
    Objective.objects.filter(pk=child.pk).update(parent=parent)
    platform = _objective(cycle, "Q platform", owner, team=beta, strategies=(other,))
    kp, k1 = _key_result(parent, "KP revenue", owner), _key_result(child, "K1 conversion", owner)
    k2 = _key_result(platform, "K2 latency", owner)
    jan, feb, mar = (datetime(2027, month, 5, tzinfo=UTC) for month in (1, 2, 3))
    epics = {
        "e1": _epic(company, "E1 achieved", owner, team=alpha, status="done", done_at=jan, serves=(k1, kp)),
        "e2": _epic(company, "E2 missed", owner, team=alpha, status="done", done_at=feb, serves=(k1,)),
        "e3": _epic(company, "E3 waiting", owner, team=beta, status="done", done_at=mar, serves=(k2,)),
        "e4": _epic(company, "E4 building", owner, team=beta, serves=(k2,)),
    }
    _review(epics["e1"], jan, "recorded", ("achieved", ""))
    _review(epics["e2"], feb, "recorded", ("partly", ""), ("missed", ""))
    _review(epics["e3"], mar, "pending")  # due on 4 April: still pending on 15 March
    _twin_world(twin)
    return {
        "company": company,
        "owner": owner,
        "teams": (alpha, beta),
        "strategies": (serve, other),
        "cycle": cycle,
        "objectives": (parent, child, platform),
        "key_results": (kp, k1, k2),
        "epics": epics,
    }


def _twin_world(company: Company) -> None:
    """Another company's cycle with a delivered epic: counted anywhere, it would change every tally."""
    owner = _person(company, "owner")
    cycle = _cycle(company, "2027 Q1", date(2027, 1, 1), date(2027, 3, 31))
    kr = _key_result(_objective(cycle, "P grow", owner), "KP revenue", owner)
    epic = _epic(company, "E1 achieved", owner, status="done", done_at=datetime(2027, 1, 5, tzinfo=UTC), serves=(kr,))
    _review(epic, datetime(2027, 1, 5, tzinfo=UTC), "recorded", ("achieved", ""))


def _line(epic: Epic, status: str, phase: str | None, verdict: str | None) -> dict[str, Any]:
    return {
        "id": epic.pk,
        "title": epic.title,
        "status": status,
        "work_type": "feature",
        "owner": {"id": epic.owner.pk, "email": epic.owner.email, "full_name": epic.owner.full_name},
        "team": epic.team.name if epic.team else "",
        "review_phase": phase,
        "verdict": verdict,
    }


HALF_EACH = _tally("", "", (2, 2, 0, 0), 1.0, (1, 0, 1, 0), (0.5, 0.0, 0.5, 0.0))
ONE_PENDING = _tally("", "", (1, 0, 0, 1), 0.0, (0, 0, 0, 0), (None, None, None, None))


def _delivery(objective: Objective, tally: dict[str, Any]) -> dict[str, Any]:
    return {**tally, "key": str(objective.pk), "name": objective.title}


def _tree(document: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """(title, children) of the objectives, for the shape of the tree."""

    def node(objective: dict[str, Any]) -> tuple[str, list[Any]]:
        return objective["title"], [node(child) for child in objective["children"]]

    return [node(objective) for objective in document["objectives"]]


def _objectives(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(objective: dict[str, Any]) -> None:
        found[objective["title"]] = objective
        for child in objective["children"]:
            walk(child)

    for objective in document["objectives"]:
        walk(objective)
    return found


def test_rollup_shows_the_epics_under_each_key_result_and_the_delivery_of_each_objective(delivery_world, client_for):
    world = delivery_world
    e1, e2, e3, e4 = world["epics"].values()
    parent, child, platform = world["objectives"]
    client = client_for(world["owner"])

    document = ok(client.get(url("rollup", world["company"].slug), {"cycle": world["cycle"].pk}))

    assert document["cycle"]["id"] == world["cycle"].pk
    assert (document["team"], document["strategy"]) == (None, None)
    assert _tree(document) == [("P grow", [("O checkout", [])]), ("Q platform", [])]
    objectives = _objectives(document)
    (k1,) = objectives["O checkout"]["key_results"]
    assert k1["title"] == "K1 conversion"
    assert k1["epics"] == [_line(e1, "done", "recorded", "achieved"), _line(e2, "done", "recorded", "missed")]
    assert objectives["O checkout"]["delivery"] == _delivery(child, HALF_EACH)
    (kp,) = objectives["P grow"]["key_results"]
    assert kp["epics"] == [_line(e1, "done", "recorded", "achieved")]
    # The parent counts its child's epics, and E1 (serving both KP and K1) once.
    assert objectives["P grow"]["delivery"] == _delivery(parent, HALF_EACH)
    (k2,) = objectives["Q platform"]["key_results"]
    assert k2["epics"] == [_line(e3, "done", "pending", None), _line(e4, "in_progress", None, None)]
    assert objectives["Q platform"]["delivery"] == _delivery(platform, ONE_PENDING)
    assert ok(client.get(url("rollup", world["company"].slug))) == document  # the current cycle by default


def test_rollup_team_and_strategy_filters_keep_the_matching_objectives_and_their_parents(delivery_world, client_for):
    world = delivery_world
    alpha, beta = world["teams"]
    serve, other = world["strategies"]
    client = client_for(world["owner"])
    path = url("rollup", world["company"].slug)
    cycle = world["cycle"].pk

    by_alpha = ok(client.get(path, {"cycle": cycle, "team": alpha.pk}))
    by_beta = ok(client.get(path, {"cycle": cycle, "team": beta.pk}))
    by_serve = ok(client.get(path, {"cycle": cycle, "strategy": serve.pk}))
    by_other = ok(client.get(path, {"cycle": cycle, "strategy": other.pk}))
    by_both = ok(client.get(path, {"cycle": cycle, "team": alpha.pk, "strategy": other.pk}))

    assert _tree(by_alpha) == [("P grow", [("O checkout", [])])]  # Alpha's objective and its parent
    assert (by_alpha["team"], by_alpha["strategy"]) == (alpha.pk, None)
    assert _objectives(by_alpha)["O checkout"]["delivery"]["delivered"] == 2
    assert _tree(by_beta) == [("Q platform", [])]
    assert _tree(by_serve) == [("P grow", [("O checkout", [])])]
    assert (by_serve["team"], by_serve["strategy"]) == (None, serve.pk)
    assert _tree(by_other) == [("Q platform", [])]
    assert _tree(by_both) == []


# --- 4. CSV ------------------------------------------------------------------------------------


def _csv(client: Any, path: str, params: dict[str, Any], asked_as: str, filename: str) -> list[dict[str, str]]:
    query, headers = ASKED_AS[asked_as]
    response = client.get(path, {**params, **query}, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def _same(cell: str, value: Any) -> bool:
    """A CSV cell against the JSON value: numbers compared as numbers, blank for null."""
    if value is None:
        return cell == ""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    if isinstance(value, int | float):
        return Decimal(cell) == Decimal(str(value))
    try:
        return Decimal(cell) == Decimal(value)
    except ArithmeticError:
        return cell == value


def _assert_row(row: dict[str, str], expected: dict[str, Any]) -> None:
    assert set(expected) <= set(row), (row, expected)
    assert all(_same(row[name], value) for name, value in expected.items()), (row, expected)


@pytest.mark.parametrize("asked_as", ASKED_AS)
def test_realisation_csv_has_the_json_figures(asked_as, deliveries, cast, client_for):
    client = client_for(cast.member_a)
    document = ok(client.get(url("realisation"), Q1))

    rows = _csv(client, url("realisation"), Q1, asked_as, "alpha-realisation.csv")

    groups = [("total", [document["total"]])] + [
        (group, document[f"by_{group}"]) for group in ("team", "owner", "strategy", "month")
    ]
    expected = [
        {
            "group": group,
            **{k: v for k, v in tally.items() if k not in {"verdicts", "verdict_shares"}},
            **tally["verdicts"],
        }
        for group, tallies in groups
        for tally in tallies
    ]
    assert len(rows) == len(expected) == 1 + 2 + 1 + 1 + 3
    assert list(rows[0]) == [
        "group",
        "key",
        "name",
        "delivered",
        "recorded",
        "waived",
        "pending",
        "recorded_share",
        *VERDICTS,
    ]
    for row, want in zip(rows, expected, strict=True):
        _assert_row(row, want)
    assert rows[0]["recorded_share"] == "0.6667"


@pytest.mark.parametrize("asked_as", ASKED_AS)
def test_alignment_csv_lists_the_json_gaps(asked_as, alignment_world, client_for):
    world = alignment_world
    client = client_for(world["owner"])
    path = url("alignment", world["company"].slug)
    document = ok(client.get(path, Q1))

    rows = _csv(client, path, Q1, asked_as, f"{world['company'].slug}-alignment.csv")

    expected = [
        *({"kind": "unaligned_epic", **e, "detail": e["status"]} for e in document["unaligned"]),
        *({"kind": "objective_without_work", **o, "detail": o["cycle"]} for o in document["objectives_without_work"]),
        *(
            {"kind": "key_result_without_work", **k, "detail": k["objective"]}
            for k in document["key_results_without_work"]
        ),
        *(
            {"kind": "unaddressed_threat", **t, "team": "", "detail": f"impact {t['impact']}"}
            for t in document["unaddressed_threats"]
        ),
    ]
    assert len(rows) == len(expected) == 4 + 2 + 2 + 2
    columns = ("kind", "id", "title", "owner", "team", "detail")
    for row, want in zip(rows, expected, strict=True):
        _assert_row(row, {name: want[name] for name in columns})


@pytest.mark.parametrize("asked_as", ASKED_AS)
def test_investment_csv_has_the_json_figures(asked_as, investment_world, client_for):
    world = investment_world
    client = client_for(world["owner"])
    path = url("investment", world["company"].slug)
    document = ok(client.get(path, Q1))

    rows = _csv(client, path, Q1, asked_as, f"{world['company'].slug}-investment.csv")

    expected: list[dict[str, Any]] = []
    groups = [("total", [document["total"]]), ("team", document["by_team"]), ("strategy", document["by_strategy"])]
    for kind, members in groups:
        for group in members:
            head = {"group": kind, "key": group["key"], "name": group["name"]}
            for spend in group["spend"]:
                figures = {k: spend[k] for k in ("currency", "epics", "total", "achieved_share")}
                expected.append({**head, **figures, **spend["by_outcome"]})
            if group["unknown_cost"]:
                expected.append({**head, "currency": "", "epics": group["unknown_cost"], "total": None})
    assert len(rows) == len(expected) == 3 + 1 + 1 + 1 + 1 + 3 + 2
    for row, want in zip(rows, expected, strict=True):
        _assert_row(row, want)
    assert rows[0]["total"] == "3500" and rows[0]["achieved_share"] == "0.3571"


@pytest.mark.parametrize("asked_as", ASKED_AS)
def test_calibration_csv_has_the_json_figures(asked_as, calibration_world, client_for):
    world = calibration_world
    client = client_for(world["ann"])
    path = url("calibration", world["company"].slug)
    params = {"cycle": world["cycle"].pk}
    document = ok(client.get(path, params))

    rows = _csv(client, path, params, asked_as, f"{world['company'].slug}-calibration.csv")

    groups = [("total", [document["total"]]), ("owner", document["by_owner"]), ("team", document["by_team"])]
    expected = [{"group": kind, **score} for kind, scores in groups for score in scores]
    assert len(rows) == len(expected) == 1 + 2 + 3
    for row, want in zip(rows, expected, strict=True):
        _assert_row(row, want)
    assert [rows[0][k] for k in ("mean_confidence", "mean_grade", "bias", "brier")] == [
        "0.75",
        "0.625",
        "0.125",
        "0.2875",
    ]


def _rollup_rows(document: dict[str, Any]) -> set[tuple[Any, ...]]:
    """(objective, key result, epic, status, owner, review, verdict, achieved share) from the JSON tree."""
    found = set()
    for objective in _objectives(document).values():
        share = objective["delivery"]["verdict_shares"]["achieved"]
        for kr in objective["key_results"]:
            for epic in kr["epics"] or [None]:
                line: tuple[Any, ...] = ("", "", "", "", "")
                if epic is not None:
                    line = (str(epic["id"]), epic["status"], epic["owner"]["email"])
                    line += (epic["review_phase"] or "", epic["verdict"] or "")
                found.add((str(objective["id"]), str(kr["id"]), *line, share))
    return found


def _csv_rollup_rows(rows: list[dict[str, str]]) -> set[tuple[Any, ...]]:
    names = ("objective_id", "key_result_id", "epic_id", "epic_status", "owner", "review", "verdict")
    return {
        (*(row[n] for n in names), None if row["achieved_share"] == "" else float(row["achieved_share"]))
        for row in rows
    }


@pytest.mark.parametrize("asked_as", ASKED_AS)
def test_rollup_csv_has_a_row_per_epic_under_each_key_result(asked_as, delivery_world, client_for):
    world = delivery_world
    client = client_for(world["owner"])
    path = url("rollup", world["company"].slug)
    params = {"cycle": world["cycle"].pk}
    document = ok(client.get(path, params))

    rows = _csv(client, path, params, asked_as, f"{world['company'].slug}-rollup.csv")

    assert list(rows[0])[:5] == ["objective_id", "objective", "objective_progress", "achieved_share", "key_result_id"]
    assert len(rows) == 5  # KP: E1; K1: E1, E2; K2: E3, E4
    assert _csv_rollup_rows(rows) == _rollup_rows(document)
    by_epic = {(row["key_result_id"], row["epic"]): row for row in rows}
    e1 = by_epic[(str(world["key_results"][1].pk), "E1 achieved")]
    assert (e1["objective"], e1["achieved_share"], e1["review"], e1["verdict"]) == (
        "O checkout",
        "0.5",
        "recorded",
        "achieved",
    )


def test_rollup_csv_keeps_only_the_filtered_objectives(delivery_world, client_for):
    world = delivery_world
    _alpha, beta = world["teams"]
    client = client_for(world["owner"])
    path = url("rollup", world["company"].slug)
    params = {"cycle": world["cycle"].pk, "team": beta.pk}
    document = ok(client.get(path, params))

    rows = _csv(client, path, params, "query", f"{world['company'].slug}-rollup.csv")

    assert _csv_rollup_rows(rows) == _rollup_rows(document)  # Q platform's two epics only


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize("asked_as", ASKED_AS)
def test_a_bad_request_asked_as_csv_answers_json_errors(name, asked_as, cast, client_for):
    query, headers = ASKED_AS[asked_as]
    param = "team" if "team" in accepted(name) else "bogus"

    response = client_for(cast.owner_a).get(url(name), {param: "abc", **query}, **headers)

    assert response["Content-Type"] == "application/json"
    body = assert_invalid(response, param)
    assert set(body) == {"status", "code", "detail", "fields"}


@pytest.mark.parametrize("name", ROUTES)
def test_every_route_answers_csv_with_its_filename(name, cast, client_for):
    response = client_for(cast.owner_a).get(url(name), {"format": "csv"})

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="alpha-{name}.csv"'
    header, *_rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert header and all(header)


# --- 5. bad input ------------------------------------------------------------------------------
def _foreign(cast: Cast, param: str) -> Any:
    return {"cycle": cast.strategic_b["cycle"], "team": cast.team_b, "strategy": cast.strategic_b["strategy"]}[param]


ID_CASES = [(name, param) for name in ROUTES for param in ("cycle", "team", "strategy") if param in accepted(name)]


@pytest.mark.parametrize(("name", "param"), ID_CASES)
def test_an_id_of_company_b_is_refused_exactly_like_one_that_does_not_exist(name, param, cast, client_for):
    foreign = _foreign(cast, param)
    missing = type(foreign).objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000
    client = client_for(cast.owner_a)

    for pk in (foreign.pk, missing):
        body = assert_invalid(client.get(url(name), {param: pk}), param)
        assert body["fields"][param] == [f'Invalid pk "{pk}" - object does not exist.']
    body = assert_invalid(client.get(url(name), {param: 10**30}), param)  # past any integer column: no 500
    assert body["fields"][param] == [f'Invalid pk "{10**30}" - object does not exist.']


@pytest.mark.parametrize(("name", "param"), ID_CASES)
@pytest.mark.parametrize("value", ["abc", "1.5", "0x10", "1e3"])
def test_a_non_numeric_id_is_a_field_error(name, param, value, cast, client_for):
    body = assert_invalid(client_for(cast.owner_a).get(url(name), {param: value}), param)
    assert body["fields"][param] == ["Incorrect type. Expected pk value, received str."]


PERIOD_ERRORS = [
    pytest.param({"start": "2027-01-01"}, "end", "Give start and end together.", id="start-without-end"),
    pytest.param({"end": "2027-01-01"}, "start", "Give start and end together.", id="end-without-start"),
    pytest.param({"start": "2027-02-01", "end": "2027-01-31"}, "end", "Must not be before start.", id="end-first"),
    pytest.param(
        {"start": "2027-01-01", "end": str(date(2027, 1, 1) + timedelta(days=MAX_DAYS))},
        "end",
        f"A period is at most {MAX_DAYS} days.",
        id="too-long",
    ),
    pytest.param({"start": "2026-13-01", "end": "2027-01-01"}, "start", None, id="month-13"),
    pytest.param({"start": "2026-01-01", "end": "2026-02-30"}, "end", None, id="february-30"),
    pytest.param({"start": "01/02/2026", "end": "2026-03-01"}, "start", None, id="not-iso"),
    pytest.param({"start": "2026-01-01T00:00", "end": "2026-03-01"}, "start", None, id="a-datetime"),
    pytest.param({"start": "2027-01-01", "end": "2027-03-31", "cycle": "CYCLE"}, "cycle", None, id="cycle-and-dates"),
    pytest.param({"end": "2027-03-31", "cycle": "CYCLE"}, "cycle", None, id="cycle-and-end"),
]


@pytest.mark.parametrize("name", taking("start", "end"))
@pytest.mark.parametrize(("params", "field", "message"), PERIOD_ERRORS)
def test_a_bad_period_is_a_field_error(name, params, field, message, cast, client_for):
    params = {k: cast.strategic_a["cycle"].pk if v == "CYCLE" else v for k, v in params.items()}

    body = assert_invalid(client_for(cast.owner_a).get(url(name), params), field)

    if message is not None:
        assert body["fields"][field] == [message]


@pytest.mark.parametrize("name", taking("start", "end"))
def test_a_period_of_exactly_max_days_is_answered(name, cast, client_for):
    last = date(2027, 1, 1) + timedelta(days=MAX_DAYS - 1)

    document = ok(client_for(cast.owner_a).get(url(name), {"start": "2027-01-01", "end": str(last)}))

    assert document["period"] == {"start": "2027-01-01", "end": str(last), "cycle": None}


@pytest.mark.parametrize("name", taking("start", "end"))
@pytest.mark.parametrize(
    "edge",
    [
        pytest.param(("0001-01-01", "0001-01-01"), id="first-day"),
        pytest.param(("9999-12-31", "9999-12-31"), id="last-day"),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_refused_not_a_500(name, edge, cast, client_for):
    client = client_for(cast.owner_a)
    client.raise_request_exception = False
    start, end = edge

    response = client.get(url(name), {"start": start, "end": end})

    assert response.status_code == 400, response.content
    assert set(response.json()["fields"]) == {"start", "end"}


@pytest.mark.parametrize("name", ROUTES)
def test_an_unknown_or_undeclared_parameter_is_a_field_error(name, cast, client_for):
    client = client_for(cast.owner_a)

    body = assert_invalid(client.get(url(name), {"bogus": "1"}), "bogus")
    assert body["fields"] == {"bogus": ["Unknown query parameter."]}
    undeclared = sorted({"cycle", "start", "end", "team", "strategy", "page"} - accepted(name))
    body = assert_invalid(client.get(url(name), dict.fromkeys(undeclared, "1")), *undeclared)
    assert all(messages == ["Unknown query parameter."] for messages in body["fields"].values())


@pytest.mark.parametrize("name", ["rollup", "calibration"])
def test_a_cycle_insight_of_a_company_without_a_cycle_is_404(name, client_for):
    company = CompanyFactory()
    client = client_for(_person(company, "newcomer"))

    response = client.get(url(name, company.slug))

    assert response.status_code == 404
    assert response.json() == NO_CYCLE
    assert client.get(url(name, company.slug), {"format": "csv"}).json() == NO_CYCLE


# --- 6. query counts ---------------------------------------------------------------------------
GROW_AT = datetime(2026, 12, 1, 12, tzinfo=UTC)  # in the cast's active cycle, Alpha 2026 Q4


def _grow(cast: Cast, n: int, tag: str) -> None:
    """``n`` more of everything the insights read, in company A's current cycle: an objective under the
    cast's, with a key result and check-ins, an epic serving it with its status history, delivered and
    reviewed (every other one recorded, the rest pending and due), and a SWOT threat."""
    company, member = cast.company_a, cast.member_a
    parent = cast.strategic_a["objective"]
    for i in range(n):
        objective = Objective.objects.create(
            company=company,
            cycle=parent.cycle,
            parent=parent,
            title=f"{tag} objective {i}",
            owner=member,
            level="team",
            team=cast.team_a,
        )
        objective.strategies.set([cast.strategic_a["strategy"]])
        kr = KeyResult.objects.create(
            company=company,
            objective=objective,
            title=f"{tag} KR {i}",
            owner=member,
            kind="increase_to",
            baseline=Decimal(0),
            target=Decimal(10),
            next_checkin_due=GROW_AT - timedelta(days=3),
        )
        CheckIn.objects.create(
            key_result=kr, as_of=datetime(2026, 11, 2, tzinfo=UTC), value=Decimal(3), confidence=Decimal("0.5")
        )
        CheckIn.objects.create(key_result=kr, as_of=datetime(2026, 11, 25, tzinfo=UTC), value=Decimal(6))
        started, done = datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 10 + i % 10, tzinfo=UTC)
        epic = Epic.objects.create(
            company=company,
            title=f"{tag} epic {i}",
            owner=member,
            team=cast.team_a,
            status="done",
            cost_estimate=Decimal(100 + i),
            cost_currency="EUR",
            started_at=started,
            done_at=done,
        )
        Contribution.objects.create(epic=epic, key_result=kr)
        StatusChange.objects.create(epic=epic, from_status="planned", to_status="in_progress", at=started)
        StatusChange.objects.create(epic=epic, from_status="in_progress", to_status="done", at=done)
        state = "recorded" if i % 2 else "pending"
        review = OutcomeReview.objects.create(epic=epic, state=state, done_at=done, due_at=done + timedelta(days=5))
        if state == "recorded":
            ActualResult.objects.create(review=review, revision=1, verdict=("achieved", "missed")[i % 4 // 2])
        SwotItem.objects.create(company=company, kind="threat", title=f"{tag} threat {i}", impact=2, owner=member)


def _filters(cast: Cast, name: str) -> dict[str, Any]:
    found = {"team": cast.team_a.pk, "strategy": cast.strategic_a["strategy"].pk}
    return {k: v for k, v in found.items() if k in accepted(name)}


def _count(client: Any, path: str, params: dict[str, Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return len(queries), response


# Queries per route on SQLite and PostgreSQL alike (session auth included, caches warm), the same with 1 row of
# each and with 16; filtered by team, and by strategy where the route takes it: one query each to validate the id.
QUERIES = {
    "rollup": (10, 12),
    "realisation": (6, 8),
    "outcome-debt": (5, 6),
    "alignment": (8, 10),
    "investment": (6, 8),
    "calibration": (5, 6),
    "flow": (6, 7),
}


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize("filtered", [False, True], ids=["plain", "filtered"])
def test_query_count_does_not_grow_with_rows(name, filtered, cast, client_for, time_machine):
    freeze(time_machine, GROW_AT)
    _grow(cast, 1, "small")
    client = client_for(cast.owner_a)
    params = _filters(cast, name) if filtered else {}
    path = url(name)
    client.get(path, params)  # warm the per-process caches (content types and the like)

    small, before = _count(client, path, params)
    _grow(cast, 15, "more")
    grown, after = _count(client, path, params)

    assert before.content != after.content  # the rows were read
    assert small == grown == QUERIES[name][filtered], (small, grown)


# --- 7. schema ---------------------------------------------------------------------------------
COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"
ANSWERS = {
    "rollup": {"cycle", "objectives", "team", "strategy"},
    "realisation": {"period", "total", "by_team", "by_owner", "by_strategy", "by_month"},
    "outcome-debt": {"at", "total", "by_owner", "by_team"},
    "alignment": {"period", "epics", "aligned", "aligned_share", "by_currency", "unaligned"},
    "investment": {"period", "total", "by_team", "by_strategy", "epics"},
    "calibration": {"cycle", "midpoint", "ends", "total", "by_owner", "by_team", "key_results"},
}


def _path(name: str) -> str:
    return f"/api/v1/companies/{{company_slug}}/insights/{name}/"


@pytest.fixture(scope="module")
def generated_schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(params=["generated", "committed"])
def schema(request, generated_schema) -> dict[str, Any]:
    """The schema generated here, and the committed docs/openapi.yaml once it documents the insight routes
    (until it is regenerated it does not, and the generated one stands in for it)."""
    if request.param == "committed":
        committed = yaml.safe_load(COMMITTED.read_text())
        if all(_path(name) in committed["paths"] for name in ROUTES):
            return committed
    return generated_schema


def _component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


@pytest.mark.parametrize("name", ROUTES)
def test_each_insight_documents_json_and_csv_answers(name, schema):
    operation = schema["paths"][_path(name)]["get"]

    content = operation["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(content)
    assert content["text/csv"]["schema"]["type"] == "string"
    assert {"400", "401", "404"} <= set(operation["responses"])
    documented = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert documented == set(accepted(name)), "the documented query parameters are the ones the route takes"
    format_param = next(p for p in operation["parameters"] if p["name"] == "format")
    assert set(format_param["schema"]["enum"]) == {"json", "csv"}
    if name in ANSWERS:
        answer = _component(schema, content["application/json"]["schema"]["$ref"])
        assert ANSWERS[name] <= set(answer["properties"])


def test_the_insight_investment_component_leaves_the_strategy_investment_alone(generated_schema):
    # Both serializers were once named InvestmentSerializer: one component 'Investment' documented both routes.
    schema = generated_schema
    detail = schema["paths"]["/api/v1/companies/{company_slug}/investments/{id}/"]["get"]
    strategy_investment = _component(
        schema, detail["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    insight = schema["paths"][_path("investment")]["get"]["responses"]["200"]["content"]["application/json"]

    assert {"id", "strategy", "amount", "currency"} <= set(strategy_investment["properties"])
    assert {"period", "total", "by_strategy"} <= set(_component(schema, insight["schema"]["$ref"])["properties"])

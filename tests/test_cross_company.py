"""Object-level authorisation across companies: company B can neither see nor touch company A.

Every operation of the API is called by B's owner (and B's API key) with A's
slug and A's ids: company routes answer 404, bodies and filters naming A's
rows answer 400, no response contains A's data, and A's rows are unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config.api.roles import SIGNATURE
from outcomes.api.permissions import role_table
from outcomes.models import Company
from tests.api_routes import (
    FOREIGN_ID_BODIES,
    FOREIGN_ID_FILTERS,
    VALID_BODIES,
    Route,
    api_routes,
    id_filter_names,
    related_field_names,
    request_serializer_fields,
    url_for,
)
from tests.conftest import Cast

ROUTES = api_routes()
COMPANY_ROUTES = [route for route in ROUTES if route.is_company_route]
OTHER_ROUTES = [route for route in ROUTES if not route.is_company_route]
WRITES_WITH_IDS = [
    r for r in ROUTES if r.method in {"POST", "PUT", "PATCH"} and related_field_names(request_serializer_fields(r))
]
LISTS_WITH_ID_FILTERS = [r for r in ROUTES if r.method == "GET" and id_filter_names(r)]


def company_models() -> list[Any]:
    """Every model with company-scoped rows (those whose querysets have ``for_company``)."""
    return [m for m in apps.get_models() if hasattr(m._default_manager.get_queryset(), "for_company")]


def snapshot_of(company: Company) -> str:
    """Every row that belongs to ``company``, and every link between them, in a stable order."""
    rows: list[Any] = []
    for model in company_models():
        owned = model._default_manager.get_queryset().for_company(company)
        rows.append(list(owned.order_by("pk").values()))
        for m2m in model._meta.many_to_many:
            links = m2m.remote_field.through.objects.filter(**{f"{m2m.m2m_field_name()}__in": owned})
            rows.append(list(links.order_by("pk").values()))
    return json.dumps(rows, default=str, sort_keys=True)


def test_the_snapshot_covers_every_company_model():
    names = {model.__name__ for model in company_models()}
    assert {"Company", "Membership", "Team", "APIKey", "IdentityVersion", "Strategy", "Measurement"} <= names


def _call(client: APIClient, route: Route, url: str, body: dict[str, Any] | None) -> Any:
    data = "" if body is None else json.dumps(body)
    return client.generic(route.method, url, data=data, content_type="application/json")


def _assert_no_a_data(response: Any, cast: Cast) -> None:
    text = response.content.decode()
    leaked = [marker for marker in cast.markers_of_a() if marker in text]
    assert leaked == [], f"{response.status_code}: company A's data in B's response: {leaked}"


def test_every_schema_operation_is_covered():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = sum(1 for ops in schema["paths"].values() for method in ops if method != "parameters")
    documented = [r for r in ROUTES if r.name.startswith("v1:")]
    assert len(documented) == operations


@pytest.mark.parametrize("as_key", [False, True], ids=["owner_b", "key_b"])
@pytest.mark.parametrize("route", COMPANY_ROUTES, ids=str)
def test_b_gets_404_on_every_route_of_a(route: Route, as_key: bool, cast: Cast, client_for, key_client):
    client = key_client(cast.raw_key_b) if as_key else client_for(cast.owner_b)
    url = url_for(route, cast, company="a")
    before = snapshot_of(cast.company_a)
    body = VALID_BODIES[route.key](cast) if route.key in VALID_BODIES else None
    response = _call(client, route, url, body)
    assert response.status_code == 404, (route, response.status_code, response.content[:200])
    _assert_no_a_data(response, cast)
    assert snapshot_of(cast.company_a) == before


@pytest.mark.parametrize("route", [r for r in COMPANY_ROUTES if "pk" in r.kwargs], ids=str)
def test_b_gets_404_for_ids_of_a_under_its_own_slug(route: Route, cast: Cast, client_for):
    url = url_for(route, cast, company="b", ids_of="a")
    before = snapshot_of(cast.company_a)
    body = VALID_BODIES[route.key](cast) if route.key in VALID_BODIES else None
    response = _call(client_for(cast.owner_b), route, url, body)
    assert response.status_code == 404, (route, response.status_code, response.content[:200])
    _assert_no_a_data(response, cast)
    assert snapshot_of(cast.company_a) == before


def test_every_write_with_ids_has_a_foreign_id_body():
    missing = [str(r) for r in WRITES_WITH_IDS if r.key not in FOREIGN_ID_BODIES]
    assert missing == [], f"Add these to tests/api_routes.py FOREIGN_ID_BODIES: {missing}"


@pytest.mark.parametrize("route", WRITES_WITH_IDS, ids=str)
def test_ids_of_a_in_bodies_are_a_400(route: Route, cast: Cast, client_for):
    client = client_for(cast.owner_b)
    before_a, before_b = snapshot_of(cast.company_a), snapshot_of(cast.company_b)
    body = FOREIGN_ID_BODIES[route.key](cast)
    response = _call(client, route, url_for(route, cast, company="b"), body)
    assert response.status_code == 400, (route, response.status_code, response.content[:300])
    named = set(response.json()["fields"])
    assert named & set(body), f"the error should name the offending field: {named}"
    _assert_no_a_data(response, cast)
    assert (snapshot_of(cast.company_a), snapshot_of(cast.company_b)) == (before_a, before_b)


@pytest.mark.parametrize("route", LISTS_WITH_ID_FILTERS, ids=str)
def test_ids_of_a_in_filters_are_a_400(route: Route, cast: Cast, client_for):
    params = FOREIGN_ID_FILTERS[route.name](cast)
    assert set(params) == set(id_filter_names(route)), "cover every id filter of the route"
    response = client_for(cast.owner_b).get(url_for(route, cast, company="b"), params)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == set(params)
    _assert_no_a_data(response, cast)


@pytest.mark.parametrize("route", OTHER_ROUTES, ids=str)
def test_routes_outside_companies_show_b_nothing_of_a(route: Route, cast: Cast, client_for):
    body = VALID_BODIES[route.key](cast) if route.key in VALID_BODIES else None
    before = snapshot_of(cast.company_a)
    response = _call(client_for(cast.owner_b), route, url_for(route, cast), body)
    if role_table()[route.key] == SIGNATURE:  # A's webhook takes nothing from B's session
        assert response.status_code == 401
    else:
        assert response.status_code < 400
    _assert_no_a_data(response, cast)
    assert snapshot_of(cast.company_a) == before

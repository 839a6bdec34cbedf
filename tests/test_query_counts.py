"""Every list endpoint runs a fixed number of queries, whatever the page size.

The pinned numbers are the contract (documented in docs/api.md); a change that
adds a query per row, or a new fixed query, fails here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.choices import APIKeyScope, Role
from outcomes.services.api_keys import api_key_create
from outcomes.services.teams import team_create
from tests.api_routes import api_routes
from tests.conftest import Cast
from tests.factories import CompanyFactory, MembershipFactory, UserFactory


def _members(cast: Cast, n: int) -> None:
    for _ in range(n):
        MembershipFactory(company=cast.company_a, role=Role.MEMBER)


def _teams(cast: Cast, n: int) -> None:
    for i in range(n):
        people = [UserFactory(), UserFactory()]
        for person in people:
            MembershipFactory(company=cast.company_a, user=person)
        team_create(company=cast.company_a, name=f"Squad {i}", lead=people[0], members=people)


def _keys(cast: Cast, n: int) -> None:
    for i in range(n):
        api_key_create(company=cast.company_a, name=f"key {i}", scope=APIKeyScope.READ, created_by=cast.owner_a)


def _companies(cast: Cast, n: int) -> None:
    for _ in range(n):
        MembershipFactory(company=CompanyFactory(), user=cast.owner_a, role=Role.VIEWER)


# list route -> (path, how to add n rows, queries with a signed-in person)
# session + user (2), membership (1), count (1), page (1), prefetches.
LISTS: dict[str, tuple[str, Callable[[Cast, int], None], int]] = {
    "v1:companies": ("/api/v1/companies/", _companies, 4),
    "v1:member-list": ("/api/v1/companies/alpha/members/", _members, 5),
    "v1:team-list": ("/api/v1/companies/alpha/teams/", _teams, 6),
    "v1:api-key-list": ("/api/v1/companies/alpha/api-keys/", _keys, 5),
}


def test_every_list_endpoint_has_a_query_budget():
    lists = {
        r.name for r in api_routes() if r.method == "GET" and (r.name.endswith("-list") or r.name == "v1:companies")
    }
    assert lists == set(LISTS)


def _count_queries(client, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"page_size": 50})
    assert response.status_code == 200, response.content[:200]
    return len(queries), len(response.json()["results"])


@pytest.mark.parametrize("name", sorted(LISTS))
def test_list_queries_do_not_grow_with_rows(name: str, cast: Cast, client_for):
    path, add_rows, budget = LISTS[name]
    client = client_for(cast.owner_a)
    few_queries, few_rows = _count_queries(client, path)
    add_rows(cast, 50)
    many_queries, many_rows = _count_queries(client, path)
    assert many_rows == 50 and few_rows >= 1
    assert few_queries == many_queries == budget


def test_filters_do_not_add_queries_per_row(cast: Cast, client_for):
    _teams(cast, 20)
    client = client_for(cast.owner_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            "/api/v1/companies/alpha/teams/", {"page_size": 50, "member_id": cast.member_a.pk, "q": "a"}
        )
    assert response.status_code == 200
    assert [team["name"] for team in response.json()["results"]] == ["Alpha Checkout"]
    # one extra query: the id filter looks up the person it names (and checks they are in the company)
    assert len(queries) == LISTS["v1:team-list"][2] + 1


def test_api_key_requests_cost_one_lookup(cast: Cast, key_client):
    client = key_client(cast.raw_key_a)
    client.get("/api/v1/companies/alpha/teams/")  # first use records last_used_at
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/companies/alpha/teams/", {"page_size": 50})
    assert response.status_code == 200
    # key lookup (with company) + count + page + prefetch; no membership query for keys
    assert len(queries) == 4, [q["sql"][:80] for q in queries]

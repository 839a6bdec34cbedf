"""``ordering`` on every list: ties are broken by id, so paging a sorted list shows every row once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_filters import OrderingFilter

from config.api.filters import CompanyFilterSet, StableOrderingFilter
from config.api.pagination import nullable
from okrs.filtersets import KeyResultFilterSet
from okrs.models import KeyResult
from outcomes.choices import APIKeyScope
from outcomes.models import APIKey
from outcomes.services.api_keys import api_key_create
from tests.api_routes import api_routes, view_of
from tests.test_query_counts import _key_results


def _filtersets() -> dict[str, Any]:
    found = {}
    for route in api_routes():
        view_class, _action = view_of(route)
        filterset = getattr(view_class, "filterset_class", None)
        if route.method == "GET" and filterset is not None and "ordering" in filterset.base_filters:
            found[filterset.__name__] = filterset
    return found


FILTERSETS = _filtersets()


def test_lists_have_orderings_to_check():
    assert len(FILTERSETS) >= 15


@pytest.mark.parametrize("name", sorted(FILTERSETS))
def test_every_ordering_ends_on_the_id_in_the_first_columns_direction(name, cast):
    filterset_class = FILTERSETS[name]
    ordering = filterset_class.base_filters["ordering"]
    assert isinstance(ordering, StableOrderingFilter)
    model = filterset_class._meta.model

    for choice, _label in ordering.field.choices:
        if not choice:
            continue
        scoped = {"company": cast.company_a} if issubclass(filterset_class, CompanyFilterSet) else {}
        filterset = filterset_class({"ordering": choice}, queryset=model.objects.all(), **scoped)
        assert filterset.is_valid(), filterset.errors
        order = [_term(term) for term in filterset.qs.query.order_by]
        path = ordering.get_ordering_value(choice).lstrip("-")
        assert order[-1] == ("pk", choice.startswith("-"), False), (name, choice, order)
        assert order[:-1] == [(path, choice.startswith("-"), nullable(model, path))], (name, choice, order)


def _term(term: Any) -> tuple[str, bool, bool]:
    """(column, descending, unknown values last) of one term of a queryset's ordering."""
    if isinstance(term, str):
        return term.lstrip("-"), term.startswith("-"), False
    return term.expression.name, term.descending, bool(term.nulls_last)


def test_an_ordering_that_names_the_id_gets_no_second_one(cast):
    class ById(KeyResultFilterSet):
        ordering = StableOrderingFilter(fields=("title", "id"))

    filterset = ById({"ordering": "title,-id"}, queryset=KeyResult.objects.all(), company=cast.company_a)

    assert list(filterset.qs.query.order_by) == ["title", "-id"]


def test_without_the_tie_break_the_order_is_whatever_the_database_returns(cast):
    plain = OrderingFilter(fields=("weight",))

    assert list(plain.filter(KeyResult.objects.all(), ["weight"]).query.order_by) == ["weight"]


@pytest.mark.parametrize("ordering", ["next_checkin_due", "-next_checkin_due", "progress", "-progress"])
def test_paging_a_sorted_list_of_ties_shows_every_row_once(ordering, cast, client_for):
    _key_results(cast, 23)  # same due date and progress: the sort is all ties
    client = client_for(cast.viewer_a)
    url = "/api/v1/companies/alpha/key-results/"
    total = client.get(url, {"page_size": 100}).json()["count"]

    seen: list[int] = []
    for page in range(1, total // 4 + 2):
        response = client.get(url, {"ordering": ordering, "page_size": 4, "page": page})
        if response.status_code == 404:
            break
        seen += [row["id"] for row in response.json()["results"]]

    assert len(seen) == len(set(seen)) == total
    expected = sorted(seen, reverse=ordering.startswith("-"))
    tied = KeyResult.objects.filter(company=cast.company_a, title__startswith="K").values_list("pk", flat=True)
    assert [pk for pk in seen if pk in set(tied)] == [pk for pk in expected if pk in set(tied)]


@pytest.mark.parametrize("ordering", ["last_used_at", "-last_used_at"])
def test_unknown_values_come_last_in_either_direction(ordering, cast, client_for):
    now = timezone.now()
    issued = {
        name: api_key_create(company=cast.company_a, name=name, scope=APIKeyScope.READ, created_by=cast.owner_a)
        for name in ("used earlier", "used later", "never used")
    }
    APIKey.objects.filter(pk=issued["used earlier"].api_key.pk).update(last_used_at=now - timedelta(days=2))
    APIKey.objects.filter(pk=issued["used later"].api_key.pk).update(last_used_at=now - timedelta(days=1))
    APIKey.objects.filter(company=cast.company_a).exclude(
        pk__in=[issued["used earlier"].api_key.pk, issued["used later"].api_key.pk]
    ).update(last_used_at=None)

    response = client_for(cast.owner_a).get(
        "/api/v1/companies/alpha/api-keys/", {"ordering": ordering, "page_size": 100}
    )

    names = [row["name"] for row in response.json()["results"]]
    used = ["used earlier", "used later"] if ordering == "last_used_at" else ["used later", "used earlier"]
    assert names[:2] == used
    assert "never used" in names[2:]
    never = APIKey.objects.filter(company=cast.company_a, last_used_at__isnull=True).order_by("pk")
    expected_tail = [key.name for key in never] if ordering == "last_used_at" else [key.name for key in never][::-1]
    assert names[2:] == expected_tail  # ties among the unknown broken by id, in the first column's direction

"""Cursor pagination of the lists that grow with activity: every row exactly once in every ordering,
in both directions, while rows come and go; hostile cursors are a 400; no count is ever taken."""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.api.pagination import INVALID_CURSOR, MAX_CURSOR_LENGTH, OTHER_ORDER
from epics.models import Epic
from tests.api_routes import api_routes, view_of
from tests.assertions import assert_invalid
from tests.conftest import Cast
from tests.test_query_counts import LISTS

EPICS = "/api/v1/companies/alpha/epics/"
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return response.json()


def token(payload: Any) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def walk_forwards(client, url: str, params: dict[str, Any]) -> list[list[int]]:
    pages: list[list[int]] = []
    body = ok(client.get(url, params))
    assert body["previous"] is None
    while True:
        pages.append([row["id"] for row in body["results"]])
        if body["next"] is None:
            return pages
        body = ok(client.get(body["next"]))


def walk_backwards(client, last_page: Any) -> list[list[int]]:
    pages: list[list[int]] = []
    body = last_page
    while True:
        pages.insert(0, [row["id"] for row in body["results"]])
        if body["previous"] is None:
            return pages
        body = ok(client.get(body["previous"]))


# --- a company whose epics tie and lack dates in every way an ordering can meet ------------------------
def _epics(cast: Cast) -> list[Epic]:
    """Fourteen epics: titles, statuses and creation times that tie, start and finish dates that are often
    unknown. Titles are lower-case letters so that every collation sorts them alike."""
    specs = [
        # title, status, created (hours after T0), started (hours), done (hours)
        ("delta", "proposed", 0, None, None),
        ("alpha", "in_progress", 0, 5, None),
        ("alpha", "done", 0, 5, 9),
        ("charlie", "done", 1, 2, 9),
        ("bravo", "proposed", 1, None, None),
        ("echo", "in_progress", 2, 7, None),
        ("alpha", "proposed", 2, None, None),
        ("foxtrot", "done", 3, 1, 4),
        ("bravo", "done", 3, 5, 4),
        ("golf", "planned", 3, None, None),
        ("hotel", "in_progress", 4, 5, None),
        ("delta", "done", 4, 2, 9),
        ("india", "planned", 5, None, None),
        ("juliet", "proposed", 5, None, None),
    ]
    Epic.objects.filter(company=cast.company_a).delete()
    epics = []
    for title, status, created, started, done in specs:
        epic = Epic.objects.create(company=cast.company_a, title=title, owner=cast.member_a, status=status)
        Epic.objects.filter(pk=epic.pk).update(
            created=T0 + timedelta(hours=created),
            started_at=None if started is None else T0 + timedelta(hours=started, microseconds=1),
            done_at=None if done is None else T0 + timedelta(hours=done, microseconds=999_999),
        )
        epic.refresh_from_db()
        epics.append(epic)
    return epics


def expected_order(epics: list[Epic], ordering: str | None) -> list[int]:
    """The order a reader expects: the columns asked for, unknown values last either way, then the id
    in the direction of the first column."""
    tokens = (ordering or "-created").split(",")
    columns = [(t.lstrip("-"), t.startswith("-")) for t in tokens] + [("pk", tokens[0].startswith("-"))]

    def compare(a: Epic, b: Epic) -> int:
        for name, descending in columns:
            x, y = getattr(a, name), getattr(b, name)
            if x == y:
                continue
            if x is None or y is None:
                return 1 if x is None else -1  # unknown last, whichever the direction
            return (x < y) * -1 + (x > y) * 1 if not descending else (x > y) * -1 + (x < y) * 1
        return 0

    return [epic.pk for epic in sorted(epics, key=functools.cmp_to_key(compare))]


ORDERINGS = [
    None,
    "created",
    "-created",
    "title",
    "-title",
    "status",
    "-status",
    "started_at",
    "-started_at",
    "done_at",
    "-done_at",
    "title,-done_at",
    "-done_at,title",
    "status,started_at",
]


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("size", [1, 3, 5])
def test_every_ordering_reads_every_epic_once_forwards_and_backwards(ordering, size, cast, client_for):
    epics = _epics(cast)
    client = client_for(cast.viewer_a)
    params = {"page_size": size} | ({"ordering": ordering} if ordering else {})

    forwards = walk_forwards(client, EPICS, params)
    last = ok(client.get(EPICS, params))
    while last["next"]:
        last = ok(client.get(last["next"]))
    backwards = walk_backwards(client, last)

    expected = expected_order(epics, ordering)
    assert [pk for page in forwards for pk in page] == expected
    assert all(len(page) == size for page in forwards[:-1]) and 1 <= len(forwards[-1]) <= size
    assert backwards == forwards  # the previous links step back through the very same pages


def test_one_page_holding_everything_has_no_links(cast, client_for):
    epics = _epics(cast)

    body = ok(client_for(cast.viewer_a).get(EPICS, {"page_size": 100}))

    assert (body["next"], body["previous"]) == (None, None)
    assert [row["id"] for row in body["results"]] == expected_order(epics, None)
    assert set(body) == {"next", "previous", "results"}  # no count: the list is never counted


def test_rows_added_and_removed_between_pages_are_neither_repeated_nor_skipped(cast, client_for):
    epics = _epics(cast)
    order = expected_order(epics, "title")
    by_pk = {epic.pk: epic for epic in epics}
    client = client_for(cast.member_a)

    first = ok(client.get(EPICS, {"ordering": "title", "page_size": 4}))
    assert [row["id"] for row in first["results"]] == order[:4]
    Epic.objects.filter(pk__in=[order[3], order[5]]).delete()  # the row the cursor points at, and one ahead
    early = Epic.objects.create(company=cast.company_a, title="aaa", owner=cast.member_a)  # sorts first
    late = Epic.objects.create(company=cast.company_a, title="zulu", owner=cast.member_a)  # sorts last
    rest = walk_forwards_from(client, first["next"])

    remaining = [pk for pk in order[4:] if pk != order[5]]
    assert [pk for page in rest for pk in page] == [*remaining, late.pk]
    assert by_pk[order[3]].title == by_pk[order[4]].title == "bravo"  # the cursor sat inside a run of ties
    back = ok(client.get(ok(client.get(first["next"]))["previous"]))
    assert [row["id"] for row in back["results"]] == [early.pk, *order[:3]]


def walk_forwards_from(client, url: str) -> list[list[int]]:
    pages: list[list[int]] = []
    while url:
        body = ok(client.get(url))
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]
    return pages


def test_a_previous_link_to_rows_since_deleted_starts_the_list_over(cast, client_for):
    epics = _epics(cast)
    order = expected_order(epics, None)
    client = client_for(cast.member_a)
    second = ok(client.get(ok(client.get(EPICS, {"page_size": 3}))["next"]))

    Epic.objects.filter(pk__in=order[:3]).delete()
    empty = ok(client.get(second["previous"]))

    assert (empty["results"], empty["previous"]) == ([], None)
    assert empty["next"] == f"http://testserver{EPICS}?page_size=3"
    assert [row["id"] for row in ok(client.get(empty["next"]))["results"]] == order[3:6]


def test_filters_are_kept_in_the_links(cast, client_for):
    epics = _epics(cast)
    done = [epic for epic in epics if epic.status == "done"]
    client = client_for(cast.viewer_a)

    pages = walk_forwards(client, EPICS, {"status": "done", "ordering": "-done_at", "page_size": 2})

    assert [pk for page in pages for pk in page] == expected_order(done, "-done_at")


def test_the_page_size_is_bounded(cast, client_for):
    _epics(cast)
    client = client_for(cast.viewer_a)

    for bad in ("0", "101", "ten", "-1", "1.5"):
        body = assert_invalid(client.get(EPICS, {"page_size": bad}), "page_size")
        assert body["fields"] == {"page_size": ["Must be a whole number between 1 and 100."]}
    assert len(ok(client.get(EPICS, {"page_size": 100}))["results"]) == 14
    assert len(ok(client.get(EPICS))["results"]) == 14  # the default page holds them all


# --- hostile cursors ---------------------------------------------------------------------------------------
DEFAULT = ["-created", "-id"]
WHEN = "2027-03-01T10:00:00+00:00"


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("", INVALID_CURSOR),
        ("not a cursor!", INVALID_CURSOR),
        ("%%%%", INVALID_CURSOR),
        ("a", INVALID_CURSOR),  # one base64 character is never whole bytes
        (token(b"not json"), INVALID_CURSOR),
        (token(b"\xff\xfe\x00"), INVALID_CURSOR),
        (token([]), INVALID_CURSOR),
        (token("o"), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN, 1]}), INVALID_CURSOR),  # no direction
        (token({"o": DEFAULT, "p": {"a": 1}, "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN, 1], "b": "yes"}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN], "b": False}), INVALID_CURSOR),  # too few positions
        (token({"o": DEFAULT, "p": [WHEN, 1, 2], "b": False}), INVALID_CURSOR),  # too many
        (token({"o": DEFAULT, "p": [WHEN, 2**70], "b": False}), INVALID_CURSOR),  # beyond bigint
        (token({"o": DEFAULT, "p": [WHEN, -(2**64)], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN, True], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN, 1.5], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN, "1\x00"], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN, "one"], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [None, 1], "b": False}), INVALID_CURSOR),  # created is never unknown
        (token({"o": DEFAULT, "p": ["2027-03-01T10:00:00", 1], "b": False}), INVALID_CURSOR),  # no offset
        (token({"o": DEFAULT, "p": ["yesterday", 1], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": ["2027-02-30T10:00:00+00:00", 1], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [{"$gt": ""}, 1], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [[WHEN], 1], "b": False}), INVALID_CURSOR),
        (token({"o": DEFAULT, "p": [WHEN, 1], "b": False, "x": "y" * MAX_CURSOR_LENGTH}), INVALID_CURSOR),
        (token({"o": ["title", "id"], "p": ["a", 1], "b": False}), OTHER_ORDER),
        (token({"o": ["-created"], "p": [WHEN], "b": False}), OTHER_ORDER),
        (token({"o": ["-owner__password", "-id"], "p": ["x", 1], "b": False}), OTHER_ORDER),
        (token({"o": "-created", "p": [WHEN, 1], "b": False}), OTHER_ORDER),
    ],
)
def test_a_cursor_the_list_did_not_hand_out_is_a_400(cursor, message, cast, client_for):
    body = assert_invalid(client_for(cast.viewer_a).get(EPICS, {"cursor": cursor}), "cursor")

    assert body["fields"] == {"cursor": [message]}


def test_a_cursor_only_continues_the_ordering_it_was_handed_out_for(cast, client_for):
    _epics(cast)
    client = client_for(cast.viewer_a)
    by_title = ok(client.get(EPICS, {"ordering": "title", "page_size": 2}))["next"]
    cursor = by_title.split("cursor=")[1].split("&")[0]

    body = assert_invalid(client.get(EPICS, {"cursor": cursor, "ordering": "-title"}), "cursor")

    assert body["fields"] == {"cursor": [OTHER_ORDER]}
    assert ok(client.get(EPICS, {"cursor": cursor, "ordering": "title"}))["results"]


def test_a_well_formed_position_between_rows_reads_on_from_there(cast, client_for):
    epics = _epics(cast)
    later = [epic.pk for epic in epics if epic.created < T0 + timedelta(hours=2, minutes=30)]
    cursor = token({"o": DEFAULT, "p": ["2027-03-01T11:30:00+00:00", 2**62], "b": False})

    body = ok(client_for(cast.viewer_a).get(EPICS, {"cursor": cursor, "page_size": 100}))

    assert [row["id"] for row in body["results"]] == expected_order([e for e in epics if e.pk in later], None)


# --- tenancy ------------------------------------------------------------------------------------------------
def test_a_cursor_from_another_company_shows_only_your_own_rows(cast, client_for):
    _epics(cast)
    a_ids = set(Epic.objects.filter(company=cast.company_a).values_list("pk", flat=True))
    first = ok(client_for(cast.owner_a).get(EPICS, {"page_size": 1}))
    cursor = first["next"].split("cursor=")[1].split("&")[0]

    owner_b = client_for(cast.owner_b)
    body = ok(owner_b.get("/api/v1/companies/bravo/epics/", {"cursor": cursor, "page_size": 100}))
    refused = owner_b.get(EPICS, {"cursor": cursor})

    assert body["results"] and not {row["id"] for row in body["results"]} & a_ids
    assert {row["id"] for row in body["results"]} <= set(
        Epic.objects.filter(company=cast.company_b).values_list("pk", flat=True)
    )
    assert refused.status_code == 404


# --- cost ---------------------------------------------------------------------------------------------------
def test_no_page_counts_the_list_and_a_deep_page_costs_what_the_first_does(cast, client_for):
    _epics(cast)
    client = client_for(cast.viewer_a)
    with CaptureQueriesContext(connection) as first_queries:
        first = ok(client.get(EPICS, {"page_size": 2, "ordering": "-done_at"}))
    url = first["next"]
    for _ in range(4):
        url = ok(client.get(url))["next"]
    with CaptureQueriesContext(connection) as deep_queries:
        ok(client.get(url))

    assert len(first_queries) == len(deep_queries)
    for query in [*first_queries, *deep_queries]:
        assert "COUNT(" not in query["sql"].upper()
        assert " OFFSET " not in query["sql"].upper()


# --- every cursor list --------------------------------------------------------------------------------------
def _cursor_lists() -> list[str]:
    names = []
    for route in api_routes():
        view_class, action = view_of(route)
        if route.method == "GET" and action in getattr(view_class, "cursor_actions", ()):
            names.append(route.name)
    return sorted(names)


CURSOR_LISTS = [
    "v1:business-outcome-measurements",
    "v1:epic-list",
    "v1:epic-status-history",
    "v1:key-result-check-ins",
    "v1:outbound-delivery-list",
    "v1:reminder-list",
    "v1:sync-run-list",
    "v1:webhook-delivery-list",
]


def test_the_lists_that_grow_with_activity_are_read_by_cursor():
    assert _cursor_lists() == CURSOR_LISTS


@pytest.mark.parametrize("name", CURSOR_LISTS)
def test_each_cursor_list_reads_page_by_page_what_one_big_page_holds(name, cast, client_for):
    path_or_maker, add_rows, _ = LISTS[name]
    path = path_or_maker if isinstance(path_or_maker, str) else path_or_maker(cast)
    add_rows(cast, 7)
    client = client_for(cast.owner_a)

    whole = [row["id"] for row in ok(client.get(path, {"page_size": 100}))["results"]]
    pages = walk_forwards(client, path, {"page_size": 2})

    assert len(whole) >= 7
    assert [pk for page in pages for pk in page] == whole
    assert len(pages) == (len(whole) + 1) // 2
    refused = assert_invalid(client.get(path, {"page": 2}), "page")
    assert refused["fields"] == {"page": ["Unknown query parameter."]}


def test_page_number_lists_refuse_a_cursor(cast, client_for):
    body = assert_invalid(
        client_for(cast.viewer_a).get("/api/v1/companies/alpha/objectives/", {"cursor": "x"}), "cursor"
    )

    assert body["fields"] == {"cursor": ["Unknown query parameter."]}

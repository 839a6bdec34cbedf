"""Wait states: status-map rules that mark in-progress work as waiting, and the history rows they make.

Flow efficiency needs the time an epic spent blocked or on hold apart from the time it was worked
on. Only the tracker knows, so a rule of the status map says so, and a sync records each start and
end of a wait as a status-history row, even when our status stays in progress.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from epics.models import Epic, OutcomeReview, StatusChange
from epics.services import epic_transition
from epics.tracking import TrackedItem, tracked_epics_apply
from integrations.models import Connection
from integrations.secrets import encrypt
from integrations.status_maps import DEFAULTS, Mapped, map_item, map_status, validate_map
from integrations.sync import apply_items
from integrations.trackers.base import TrackerItem
from tests.assertions import assert_invalid
from tests.conftest import Cast
from tests.test_connections import PREVIEW, A, jira_body, snapshot

pytestmark = pytest.mark.django_db

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
BLOCKED = {"match": {"category": "indeterminate", "status": "Blocked"}, "status": "in_progress", "wait": True}


# --- the rule -----------------------------------------------------------------------------------------------------


def test_a_wait_rule_is_kept_in_the_clean_copy():
    rules = [BLOCKED, {"match": {"category": "indeterminate"}, "status": "in_progress", "wait": False}]
    assert validate_map("jira", rules) == rules


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ([{**BLOCKED, "wait": "yes"}], "status_map.0.wait"),
        ([{**BLOCKED, "wait": 1}], "status_map.0.wait"),
        ([{**BLOCKED, "wait": None}], "status_map.0.wait"),
        ([BLOCKED, {"match": {"category": "done"}, "status": "done", "wait": True}], "status_map.1.wait"),
        ([{"match": {"category": "new"}, "status": "planned", "wait": False}], "status_map.0.wait"),
        ([{**BLOCKED, "waiting": True}], "status_map.0"),
        ([{"match": {"category": "done"}, "wait": True}], "status_map.0"),
        ([{**BLOCKED, "status": "blocked"}], "status_map.0.status"),
    ],
)
def test_a_broken_wait_rule_is_refused_naming_the_rule(rules, path):
    with pytest.raises(ValidationError) as error:
        validate_map("jira", rules)
    assert set(error.value.message_dict) == {path}


def test_a_connection_with_a_broken_wait_rule_is_refused(cast: Cast, client_for):
    before = snapshot()
    bad = [{"match": {"category": "done"}, "status": "done", "wait": True}]
    response = client_for(cast.owner_a).post(A, jira_body(status_map=bad), format="json")
    assert_invalid(response, "status_map.0.wait")
    assert snapshot() == before


def test_a_connection_stores_its_wait_rule(cast: Cast, client_for):
    rules = [BLOCKED, {"match": {"category": "indeterminate"}, "status": "in_progress"}]
    response = client_for(cast.owner_a).post(A, jira_body(status_map=rules), format="json")
    assert response.status_code == 201, response.content
    assert Connection.objects.get(pk=response.json()["id"]).status_map == rules


def test_a_connection_cannot_be_changed_to_a_broken_wait_rule(cast: Cast, client_for):
    connection = cast.strategic_a["connection"]
    before = snapshot()
    bad = [{**BLOCKED, "wait": "true"}]
    response = client_for(cast.owner_a).patch(f"{A}{connection.pk}/", {"status_map": bad}, format="json")
    assert_invalid(response, "status_map.0.wait")
    assert snapshot() == before


def test_the_preview_refuses_a_broken_wait_rule(cast: Cast, client_for):
    bad = [{"match": {"type": "completed"}, "status": "done", "wait": True}]
    response = client_for(cast.owner_a).post(PREVIEW, {"kind": "linear", "status_map": bad}, format="json")
    assert_invalid(response, "status_map.0.wait")


# --- the defaults -------------------------------------------------------------------------------------------------

WAITING = [
    ("jira", {"category": "indeterminate", "status": "Blocked"}),
    ("jira", {"category": "indeterminate", "status": "on hold"}),
    ("jira", {"category": "indeterminate", "status": "Waiting"}),
    ("github", {"state": "open", "label": ["epic", "Blocked"]}),
    ("github", {"state": "open", "label": ["epic", "in progress", "blocked"]}),  # blocked wins
    ("gitlab", {"state": "opened", "label": ["workflow::blocked"]}),
    ("linear", {"type": "paused"}),
]
ACTIVE = [
    ("jira", {"category": "indeterminate", "status": "In Progress"}),
    ("github", {"state": "open", "label": ["epic", "status: in progress"]}),
    ("github", {"state": "open", "work": "started"}),
    ("gitlab", {"state": "opened", "label": ["workflow::in review"]}),
    ("linear", {"type": "started"}),
]


@pytest.mark.parametrize(("kind", "item"), WAITING)
def test_the_default_maps_mark_blocked_work_as_waiting(kind, item):
    mapped = map_item(DEFAULTS[kind], item)
    assert (mapped.status, mapped.waiting) == ("in_progress", True)
    assert map_status(DEFAULTS[kind], item) == (mapped.status, mapped.rule)


@pytest.mark.parametrize(("kind", "item"), ACTIVE)
def test_the_default_maps_keep_other_work_in_progress_active(kind, item):
    mapped = map_item(DEFAULTS[kind], item)
    assert (mapped.status, mapped.waiting) == ("in_progress", False)


@pytest.mark.parametrize(
    ("kind", "item"),
    [
        ("jira", {"category": "done", "status": "Blocked"}),  # a done status named Blocked is done
        ("github", {"state": "closed", "label": ["blocked"]}),
        ("gitlab", {"state": "closed", "label": ["workflow::blocked"]}),
    ],
)
def test_a_closed_item_with_a_wait_signal_is_not_waiting(kind, item):
    assert map_item(DEFAULTS[kind], item).waiting is False


@pytest.mark.parametrize("kind", ["jira", "github", "gitlab", "linear"])
def test_the_default_maps_are_valid_and_wait_only_in_progress(kind):
    assert validate_map(kind, DEFAULTS[kind]) == DEFAULTS[kind]
    waiting = [rule for rule in DEFAULTS[kind] if rule.get("wait")]
    assert waiting and all(rule["status"] == "in_progress" for rule in waiting)


def test_an_unknown_item_is_not_waiting():
    assert map_item(DEFAULTS["linear"], {"type": "archived"}) == Mapped(None, None, False)


# --- the history a sync writes ------------------------------------------------------------------------------------


@pytest.fixture
def connection(cast: Cast) -> Connection:
    return Connection.objects.create(
        company=cast.company_a,
        name="Waiting Jira",
        kind="jira",
        base_url="https://alpha.atlassian.net",
        credentials_encrypted=encrypt({"email": "bot@alpha.example", "api_token": "wait-jira-token-0123"}),
        scope={"jql": "issuetype = Epic"},
        status_map=DEFAULTS["jira"],
        default_owner=cast.owner_a,
    )


def _apply(connection: Connection, status: str | None, at: datetime, *, waiting: bool = False) -> Epic:
    assert connection.default_owner is not None
    item = TrackedItem(
        external_id="10042",
        key="SHOP-42",
        title="Faster checkout",
        url="https://alpha.atlassian.net/browse/SHOP-42",
        status_text=f"{status} {waiting}",
        status=status,
        at=at,
        owner=connection.default_owner,
        updated_at=at,
        waiting=waiting,
    )
    tracked_epics_apply(company=connection.company, connection_id=connection.pk, items=[item])
    return Epic.objects.get(tracker_connection_id=connection.pk, external_id="10042")


def _history(epic: Epic) -> list[tuple[str, str, bool, datetime]]:
    rows = StatusChange.objects.filter(epic=epic).order_by("at", "pk")
    return [(row.from_status, row.to_status, row.waiting, row.at) for row in rows]


def _days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_starting_and_stopping_to_wait_in_progress_writes_rows_with_the_flag(connection):
    _apply(connection, "planned", _days(0))
    _apply(connection, "in_progress", _days(1))
    blocked = _apply(connection, "in_progress", _days(3), waiting=True)
    assert blocked.waiting is True
    _apply(connection, "in_progress", _days(4), waiting=True)  # still blocked: nothing new
    resumed = _apply(connection, "in_progress", _days(5))
    done = _apply(connection, "done", _days(6))

    assert resumed.waiting is False and done.waiting is False
    assert _history(done) == [
        ("", "proposed", False, _days(0)),
        ("proposed", "planned", False, _days(0)),
        ("planned", "in_progress", False, _days(1)),
        ("in_progress", "in_progress", True, _days(3)),
        ("in_progress", "in_progress", False, _days(5)),
        ("in_progress", "done", False, _days(6)),
    ]
    assert (done.started_at, done.done_at) == (_days(1), _days(6))  # the wait rows moved no dates


def test_a_wait_flip_leaves_dates_and_reviews_alone(connection):
    _apply(connection, "in_progress", _days(1))
    before = Epic.objects.get(tracker_connection_id=connection.pk)
    audited = before.history.count()

    after = _apply(connection, "in_progress", _days(2), waiting=True)

    assert (after.status, after.started_at, after.done_at) == ("in_progress", before.started_at, None)
    assert not OutcomeReview.objects.filter(epic=after).exists()
    assert after.history.count() == audited + 1  # the audit trail shows the flag
    assert after.history.first().waiting is True


def test_an_epic_that_arrives_waiting_enters_in_progress_waiting(connection):
    epic = _apply(connection, "in_progress", _days(1), waiting=True)

    assert epic.waiting is True
    assert _history(epic)[-1] == ("proposed", "in_progress", True, _days(1))


def test_moving_from_waiting_to_another_status_clears_the_flag(connection):
    _apply(connection, "in_progress", _days(1), waiting=True)

    epic = _apply(connection, "planned", _days(2))

    assert epic.waiting is False
    assert _history(epic)[-1] == ("in_progress", "planned", False, _days(2))


def test_an_out_of_order_wait_event_changes_nothing(connection):
    _apply(connection, "in_progress", _days(1))
    _apply(connection, "in_progress", _days(5), waiting=True)
    rows = _history(Epic.objects.get(tracker_connection_id=connection.pk))
    item = TrackedItem(
        external_id="10042",
        key="SHOP-42",
        title="Faster checkout",
        url="",
        status_text="In Progress",
        status="in_progress",
        at=_days(3),  # older than the applied wait
        owner=connection.default_owner,
        waiting=False,
    )

    tracked_epics_apply(company=connection.company, connection_id=connection.pk, items=[item])

    epic = Epic.objects.get(tracker_connection_id=connection.pk)
    assert epic.waiting is True and _history(epic) == rows


def test_a_waiting_flag_outside_in_progress_is_ignored(connection):
    epic = _apply(connection, "planned", _days(1), waiting=True)

    assert epic.waiting is False
    assert [row[2] for row in _history(epic)] == [False, False]


def test_done_reopened_waiting_and_done_again_keeps_the_review_rules(connection):
    _apply(connection, "in_progress", _days(1))
    _apply(connection, "done", _days(2))
    first = OutcomeReview.objects.get(epic__tracker_connection_id=connection.pk)

    reopened = _apply(connection, "in_progress", _days(3), waiting=True)
    first.refresh_from_db()
    assert first.state == "cancelled"
    assert (reopened.waiting, reopened.done_at) == (True, None)

    _apply(connection, "in_progress", _days(4))
    again = _apply(connection, "done", _days(5))

    reviews = OutcomeReview.objects.filter(epic=again).order_by("pk")
    assert [(r.state, r.done_at) for r in reviews] == [("cancelled", _days(2)), ("pending", _days(5))]
    assert (again.started_at, again.done_at, again.waiting) == (_days(1), _days(5), False)
    assert [(row[0], row[1], row[2]) for row in _history(again)][2:] == [
        ("in_progress", "done", False),
        ("done", "in_progress", True),
        ("in_progress", "in_progress", False),
        ("in_progress", "done", False),
    ]


def _jira_item(status: str, at: datetime, category: str = "indeterminate") -> TrackerItem:
    return TrackerItem(
        external_id="10077",
        key="SHOP-77",
        title="Gift cards",
        url="https://alpha.atlassian.net/browse/SHOP-77",
        signals={"category": category, "status": status, "resolution": ""},
        status_text=status,
        status_changed_at=at,
        updated_at=at,
    )


def test_a_sync_under_the_default_map_records_jira_blocked_as_waiting(connection):
    for status, day in (("In Progress", 1), ("Blocked", 2), ("In Progress", 4)):
        apply_items(connection, [_jira_item(status, _days(day))])

    epic = Epic.objects.get(tracker_connection_id=connection.pk, external_id="10077")
    assert epic.tracker_status == "In Progress" and epic.waiting is False
    assert [(row[1], row[2], row[3]) for row in _history(epic)][1:] == [
        ("in_progress", False, _days(1)),
        ("in_progress", True, _days(2)),
        ("in_progress", False, _days(4)),
    ]


def test_a_manual_move_records_no_wait(cast: Cast):
    epic = cast.strategic_a["epic"]  # in progress, with an anticipated outcome

    change = epic_transition(epic=epic, to_status="done", actor=cast.member_a)

    assert change is not None and change.waiting is False
    assert not StatusChange.objects.filter(epic=epic, waiting=True).exists()


def test_tracked_items_are_not_waiting_unless_told(connection):
    fields: dict[str, Any] = {
        "external_id": "1",
        "key": "K-1",
        "title": "t",
        "url": "",
        "status_text": "",
        "status": "in_progress",
        "at": T0,
        "owner": connection.default_owner,
    }
    assert TrackedItem(**fields).waits is False
    assert TrackedItem(**fields, waiting=True).waits is True
    assert TrackedItem(**{**fields, "status": "done"}, waiting=True).waits is False

"""Webhook streams delivered twice, three times and out of order end where the ordered stream ends (T-REL-2).

A recorded stream of changes to a few epics is received as the webhook endpoint receives it (the
signature checked, each delivery id stored once), each event one to four times (a retry with the
same delivery id, or a second delivery with an id of its own), all in an order hypothesis picks.
Processing re-reads the item from a fake tracker over HTTP, and that tracker answers from a lagging
replica: each re-read shows the item as it was when the event being processed was sent. A late,
stale answer is therefore the rule here, not the exception, and only the guard that never moves an
epic back to an older tracker update makes every order converge.

Where the ordered stream ends is what the tracker shows last for each item (the first test checks
that, row by row). Every other order must end there too: the same status, waiting flag, tracker
status text, title and update time, and a status history without a duplicate, a step backwards or a
state the tracker never showed. ``WEBHOOK_STREAM_EXAMPLES`` sets the number of examples per tracker
(100 by default).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic, StatusChange
from integrations.deliveries import delivery_process, delivery_receive
from integrations.models import Connection, WebhookDelivery
from integrations.secrets import encrypt
from integrations.status_maps import DEFAULTS
from tests.conftest import Cast
from tests.tracker_shapes import JIRA_STATUS, github_issue, github_status_text, jira_issue

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("WEBHOOK_STREAM_EXAMPLES", "100"))
SECRET = "stream-webhook-secret-0123456789"
T0 = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
ITEMS = 2  # few epics, so that their events collide
# What the tracker shows, in our words ("blocked": under way, waiting), and what the epic must then show.
OURS = {
    "planned": ("planned", False),
    "in_progress": ("in_progress", False),
    "blocked": ("in_progress", True),
    "done": ("done", False),
    "cancelled": ("cancelled", False),
}


@dataclass(frozen=True)
class Event:
    seq: int
    item: int
    state: str  # the state the tracker shows after the event; the same as before for an edit

    @property
    def at(self) -> datetime:
        return T0 + timedelta(minutes=self.seq + 1)


@dataclass(frozen=True)
class Snapshot:
    """An item as the tracker showed it right after an event."""

    item: int
    state: str
    title: str
    updated: datetime
    state_since: datetime


def snapshot(events: list[Event], seq: int) -> Snapshot:
    """The item of event ``seq`` as it stood once that event happened."""
    item = events[seq].item
    mine = [event for event in events[: seq + 1] if event.item == item]
    since = mine[0].at
    for before, after in itertools.pairwise(mine):
        if after.state != before.state:
            since = after.at
    last = mine[-1]
    return Snapshot(item, last.state, f"Epic {item}, as of event {last.seq}", last.at, since)


@dataclass(frozen=True)
class Copy:
    """One delivery of an event: its delivery id is the event's own (a retry) or a new one."""

    event: int
    delivery_id: str


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Event], list[Copy]]:
    count = draw(st.integers(min_value=2, max_value=5))
    events = [Event(seq, draw(st.integers(0, ITEMS - 1)), draw(st.sampled_from(sorted(OURS)))) for seq in range(count)]
    copies: list[Copy] = []
    for event in events:
        for copy in range(draw(st.integers(min_value=1, max_value=4))):
            own_id = copy > 0 and draw(st.booleans())
            copies.append(Copy(event.seq, f"event-{event.seq}-copy-{copy}" if own_id else f"event-{event.seq}"))
    return events, list(draw(st.permutations(copies)))


# --- the lagging tracker ---------------------------------------------------------------------------------------
class LaggingTracker:
    """A fake tracker whose re-reads answer as of the event whose delivery is being processed."""

    kind: str = ""
    scope: dict[str, Any] = {}
    credentials: dict[str, str] = {}

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.shown: Snapshot | None = None
        self.reads = 0

    def answer_as_of(self, shown: Snapshot) -> None:
        self.shown = shown

    def current(self, item: int) -> Snapshot:
        assert self.shown is not None and self.shown.item == item, "a re-read of another item than the event's"
        self.reads += 1
        return self.shown

    def external_id(self, item: int) -> str:
        raise NotImplementedError

    def status_text(self, state: str) -> str:
        raise NotImplementedError

    def status_time(self, shown: Snapshot) -> datetime:
        """The time the tracker gives for the snapshot's status."""
        raise NotImplementedError

    def delivery(self, event: Event, delivery_id: str) -> tuple[bytes, dict[str, str]]:
        raise NotImplementedError


def _sha256(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _json(body: Any) -> Response:
    return Response(json.dumps(body), content_type="application/json")


class LaggingJira(LaggingTracker):
    kind = "jira"
    scope = {"jql": "project = PROJ AND issuetype = Epic"}
    credentials = {"email": "bot@alpha.example", "api_token": "fake-jira-token-0123"}

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        server.expect_request("/rest/api/3/search/jql").respond_with_handler(self.search)

    def search(self, request: Request) -> Response:
        found = re.search(r"\bid = (\d+)", request.args.get("jql", ""))
        assert found, "processing re-reads one issue by id"
        shown = self.current(int(found.group(1)) - 10000)
        issue = jira_issue(
            issue_id=self.external_id(shown.item),
            number=shown.item,
            title=shown.title,
            state=shown.state,
            updated=shown.updated,
            state_since=shown.state_since,
        )
        return _json({"issues": [issue], "isLast": True})

    def external_id(self, item: int) -> str:
        return str(10000 + item)

    def status_text(self, state: str) -> str:
        return JIRA_STATUS[state][0]

    def status_time(self, shown: Snapshot) -> datetime:
        return shown.state_since  # Jira's changelog dates the status change itself

    def delivery(self, event: Event, delivery_id: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "timestamp": int(event.at.timestamp() * 1000),
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_generic",
                "issue": {"id": self.external_id(event.item), "key": f"PROJ-{event.item}"},
            }
        ).encode()
        headers = {"X-Atlassian-Webhook-Identifier": delivery_id, "X-Hub-Signature": f"sha256={_sha256(body)}"}
        return body, headers


class LaggingGitHub(LaggingTracker):
    kind = "github"
    scope = {"repositories": ["acme/shop"], "label": "epic"}
    credentials = {"token": "ghp_fake_token_0123456789"}

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        server.expect_request(re.compile(r"^/repos/acme/shop/issues/\d+$")).respond_with_handler(self.issue)

    def issue(self, request: Request) -> Response:
        shown = self.current(int(request.path.rsplit("/", 1)[1]))
        return _json(
            github_issue(
                issue_id=int(self.external_id(shown.item)),
                number=shown.item,
                title=shown.title,
                state=shown.state,
                updated=shown.updated,
                state_since=shown.state_since,
            )
        )

    def external_id(self, item: int) -> str:
        return str(900000 + item)

    def status_text(self, state: str) -> str:
        return github_status_text(state)

    def status_time(self, shown: Snapshot) -> datetime:
        return shown.state_since if shown.state in {"done", "cancelled"} else shown.updated  # closed_at, else updated

    def delivery(self, event: Event, delivery_id: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "action": "edited",
                "issue": {"id": int(self.external_id(event.item)), "number": event.item, "title": "(hint only)"},
                "repository": {"full_name": "acme/shop"},
            }
        ).encode()
        headers = {
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": f"sha256={_sha256(body)}",
        }
        return body, headers


TRACKERS: dict[str, type[LaggingTracker]] = {"jira": LaggingJira, "github": LaggingGitHub}


# --- delivering a stream ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What the epics show after a stream: per item, the final fields and the status history."""

    epics: dict[int, tuple[Any, ...]]
    history: dict[int, list[tuple[str, str, bool, datetime | None]]]
    deliveries: int


class Rollback(Exception):
    """Undo one stream's writes so that the next one starts from the same database."""


def deliver_stream(tracker: LaggingTracker, connection: Connection, events: list[Event], copies: list[Copy]) -> Outcome:
    """Receive each copy as the webhook endpoint does (signature checked, stored once per delivery id); each one
    stored is processed at once, re-reading the lagging tracker. Everything it writes is rolled back."""
    outcome: Outcome | None = None
    try:
        with transaction.atomic():
            for copy in copies:
                event = events[copy.event]
                body, headers = tracker.delivery(event, copy.delivery_id)
                received = delivery_receive(
                    connection=connection, headers=headers, body=body, now_ms=int(event.at.timestamp() * 1000)
                )
                if received.duplicate:
                    continue
                tracker.answer_as_of(snapshot(events, event.seq))
                processed = delivery_process(received.delivery.pk)
                assert processed.status == "processed", (processed.status, processed.error)
            outcome = read_outcome(tracker, connection)
            raise Rollback
    except Rollback:
        pass
    assert outcome is not None
    return outcome


def read_outcome(tracker: LaggingTracker, connection: Connection) -> Outcome:
    epics = {}
    history = {}
    for epic in Epic.objects.filter(tracker_connection_id=connection.pk):
        item = int(epic.external_id) % 1000
        epics[item] = (epic.status, epic.waiting, epic.tracker_status, epic.title, epic.tracker_updated_at)
        history[item] = [
            (change.from_status, change.to_status, change.waiting, change.tracker_timestamp)
            for change in StatusChange.objects.filter(epic=epic).order_by("pk")
        ]
    return Outcome(epics, history, WebhookDelivery.objects.filter(connection=connection).count())


def assert_history_is_sound(
    tracker: LaggingTracker, events: list[Event], item: int, rows: list[tuple[str, str, bool, datetime | None]]
) -> None:
    """Created once, then each row continues the last, moves forward in tracker time, and shows a state
    the tracker really showed, at the time the tracker gave for it."""
    assert rows[0][:3] == ("", "proposed", False), rows
    assert len(set(rows)) == len(rows), f"a history row written twice: {rows}"
    shown = {
        (*OURS[s.state], tracker.status_time(s)) for s in (snapshot(events, e.seq) for e in events if e.item == item)
    }
    for before, after in itertools.pairwise(rows):
        assert after[0] == before[1], f"the history jumps from {before} to {after}"
        assert before[3] is not None and after[3] is not None and after[3] >= before[3], (
            f"the history goes back in time: {before} then {after}"
        )
        assert after[1:] in shown, f"{after} is no state the tracker showed"


# --- fixtures and tests ----------------------------------------------------------------------------------------
@pytest.fixture
def connected(httpserver: HTTPServer, cast: Cast) -> Callable[[str], tuple[LaggingTracker, Connection]]:
    def connect(kind: str) -> tuple[LaggingTracker, Connection]:
        tracker = TRACKERS[kind](httpserver)
        connection = Connection.objects.create(
            company=cast.company_a,
            name=f"Lagging {kind}",
            kind=kind,
            base_url=httpserver.url_for("").rstrip("/"),
            credentials_encrypted=encrypt(tracker.credentials),
            webhook_secret_encrypted=encrypt({"secret": SECRET}),
            scope=tracker.scope,
            status_map=DEFAULTS[kind],
            default_owner=cast.owner_a,
        )
        return tracker, connection

    return connect


STREAM_SETTINGS = hypothesis_settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def expected_after(tracker: LaggingTracker, events: list[Event]) -> dict[int, tuple[Any, ...]]:
    """Where the ordered stream ends: each epic shows its item's last snapshot."""
    ends = {}
    for item in {event.item for event in events}:
        last = snapshot(events, max(event.seq for event in events if event.item == item))
        ends[item] = (*OURS[last.state], tracker.status_text(last.state), last.title, last.updated)
    return ends


def check_stream_converges(
    tracker: LaggingTracker, connection: Connection, events: list[Event], copies: list[Copy]
) -> Outcome:
    delivered = deliver_stream(tracker, connection, events, copies)

    assert delivered.deliveries == len({copy.delivery_id for copy in copies})  # a retried id is stored once
    assert delivered.epics == expected_after(tracker, events)
    for item, (status, waiting, *_rest) in delivered.epics.items():
        rows = delivered.history[item]
        assert_history_is_sound(tracker, events, item, rows)
        assert rows[-1][1:3] == (status, waiting)
    return delivered


@pytest.mark.parametrize("kind", sorted(TRACKERS))
def test_the_ordered_stream_ends_at_what_the_tracker_shows_with_one_row_per_move(kind, connected):
    tracker, connection = connected(kind)
    moves = ["planned", "in_progress", "blocked", "blocked", "in_progress", "done", "in_progress", "cancelled"]
    events = [Event(seq, 1, state) for seq, state in enumerate(moves)] + [Event(len(moves), 0, "done")]

    outcome = check_stream_converges(tracker, connection, events, [Copy(e.seq, f"event-{e.seq}") for e in events])

    assert [row[:3] for row in outcome.history[1]] == [
        ("", "proposed", False),
        ("proposed", "planned", False),
        ("planned", "in_progress", False),
        ("in_progress", "in_progress", True),  # blocked
        ("in_progress", "in_progress", False),  # going again; the second "blocked" was an edit
        ("in_progress", "done", False),
        ("done", "in_progress", False),
        ("in_progress", "cancelled", False),
    ]
    assert [row[3] for row in outcome.history[1]][1:] == [
        tracker.status_time(snapshot(events, seq)) for seq in (0, 1, 2, 4, 5, 6, 7)
    ]


@pytest.mark.parametrize("kind", sorted(TRACKERS))
def test_duplicated_and_reordered_deliveries_end_where_the_ordered_stream_ends(kind, connected):
    tracker, connection = connected(kind)

    @STREAM_SETTINGS
    @given(streams())
    def converges(stream: tuple[list[Event], list[Copy]]) -> None:
        check_stream_converges(tracker, connection, *stream)

    converges()
    assert tracker.reads > 0


def test_without_the_guard_against_older_updates_the_property_fails(connected, monkeypatch):
    """The property can fail: if stale re-reads were applied, the last one processed would win."""
    tracker, connection = connected("jira")
    events = [Event(0, 1, "in_progress"), Event(1, 1, "done")]
    late_first = [Copy(1, "event-1"), Copy(0, "event-0")]
    check_stream_converges(tracker, connection, events, late_first)  # with the guard: converges

    monkeypatch.setattr("epics.tracking._older_snapshot", lambda epic, item: False)
    monkeypatch.setattr("epics.tracking._stale", lambda epic, at: False)
    unguarded = deliver_stream(tracker, connection, events, late_first)
    assert unguarded.epics[1][:3] == ("in_progress", False, "In Progress")  # the stale answer, processed last, won
    assert unguarded.epics != expected_after(tracker, events)

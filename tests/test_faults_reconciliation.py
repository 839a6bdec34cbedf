"""Every webhook lost: the scheduled incremental sync alone brings 100 changed epics in step.

Webhooks only make changes arrive sooner; what we promise (T-REL-1) comes from the reconciliation
poll: the beat dispatcher queues an incremental run once a connection's interval has passed, and
the run reads what changed since the last successful run (minus an overlap). Here each tracker is a
stateful fake over real HTTP that honours the incremental filter (``updated >=`` in Jira's JQL,
GitHub's ``since``, GitLab's ``updated_after``, Linear's ``updatedAt > $since``) and pages its
answers. 100 epics change in the tracker, every webhook about them is lost, and the next scheduled
run must converge all 100: status, waiting, the tracker's status text, one history row per change
stamped with the tracker's time, nothing written twice when the next run re-reads the overlap.
The last test keeps the tracker changing while a poll pages through it, as a busy tracker does.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic, StatusChange
from integrations.models import Connection, SyncRun, WebhookDelivery
from integrations.secrets import encrypt
from integrations.status_maps import DEFAULTS
from integrations.sync import dispatch_due_syncs
from integrations.tasks import sync_connection_task
from tests.conftest import Cast
from tests.tracker_shapes import JIRA_STATUS, github_issue, github_status_text, jira_issue

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

T0 = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)  # the first sync
WEBHOOK_SECRET = "a-webhook-secret-0123456789"  # webhooks are on; here none of them arrives
EPICS = 100
# What the tracker shows, in our words; "blocked" is under way but waiting (Jira Blocked, GitHub's
# "blocked" label, GitLab workflow::blocked, Linear paused).
OURS = {
    "planned": ("planned", False),
    "in_progress": ("in_progress", False),
    "blocked": ("in_progress", True),
    "done": ("done", False),
    "cancelled": ("cancelled", False),
}
# (before, after) for epic n: every move a tracker makes, forwards, backwards and into and out of a wait.
MOVES = [
    ("planned", "in_progress"),
    ("planned", "done"),
    ("planned", "cancelled"),
    ("planned", "blocked"),
    ("in_progress", "blocked"),
    ("blocked", "in_progress"),
    ("in_progress", "done"),
    ("blocked", "cancelled"),
    ("done", "in_progress"),
    ("in_progress", "planned"),
]


def move_of(number: int) -> tuple[str, str]:
    return MOVES[number % len(MOVES)]


@dataclass
class Item:
    """One epic in the fake tracker."""

    number: int
    state: str  # a key of OURS
    title: str
    updated: datetime
    state_since: datetime  # when the tracker moved it into its current state
    started: datetime | None = None  # when it first went under way (Linear's startedAt)

    def shown(self) -> dict[str, Any]:
        """What ``tests.tracker_shapes`` renders an epic from."""
        fields = ("number", "title", "state", "updated", "state_since")
        return {name: getattr(self, name) for name in fields}


class FakeTracker:
    """A tracker's epics, served over HTTP in its own shapes; subclasses render and route."""

    kind: ClassVar[str]
    scope: ClassVar[dict[str, Any]]
    credentials: ClassVar[dict[str, str]]
    page_size = 30  # fewer than the client asks for: every listing takes several pages
    # The states whose move the tracker stamps with its own time; for the others the item's last update is
    # all a listing shows (GitHub's and GitLab's labels), so that is the time the history can hold.
    stamped: ClassVar[frozenset[str]] = frozenset(OURS)

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.items: dict[int, Item] = {}
        self.first_listed: dict[int, tuple[str, datetime]] = {}  # number -> (state, its update when first listed)
        self.lock = threading.Lock()
        self.lost_webhooks = 0
        self.listings: list[dict[str, Any]] = []  # the filters each listing asked with
        self.before_page: Callable[[int], None] | None = None  # what happens in the tracker between pages
        self.install()

    def install(self) -> None:
        raise NotImplementedError

    def add(self, number: int, state: str, at: datetime) -> None:
        started = at if state in {"in_progress", "blocked", "done"} else None
        self.items[number] = Item(number, state, f"Epic {number}", at, at, started)

    def change(self, number: int, state: str, at: datetime) -> None:
        """The tracker moves an epic; the webhook it sends about it never arrives."""
        with self.lock:
            item = self.items[number]
            if state != item.state:
                item.state, item.state_since = state, at
            if state in {"in_progress", "blocked"} and item.started is None:
                item.started = at
            item.title, item.updated = f"Epic {number} ({state})", at
            self.lost_webhooks += 1

    def edit(self, number: int, at: datetime) -> None:
        """Someone edits an epic without moving it (a new title); that webhook is lost too."""
        with self.lock:
            item = self.items[number]
            item.title, item.updated = f"Epic {number}, renamed", at
            self.lost_webhooks += 1

    def listed(self, since: datetime | None, *, strictly_after: bool = False, newest_first: bool = False) -> list[Item]:
        """The epics updated since a time (all without one), by update time: oldest first unless asked."""
        with self.lock:
            items = sorted(self.items.values(), key=lambda item: (item.updated, item.number), reverse=newest_first)
        if since is None:
            return items
        return [item for item in items if item.updated > since or (not strictly_after and item.updated == since)]

    def turn_page(self, number: int) -> None:
        if number > 1 and self.before_page is not None:
            self.before_page(number)

    def numbered_page(self, request: Request, *, since: str, order: str) -> tuple[int, list[Item], int | None]:
        """A page of a listing paged by number (GitHub, GitLab): its number, items and the next offset. The
        ``since`` parameter filters by update time; ``order`` asks for "asc" or "desc" (their default)."""
        since_text = request.args.get(since)
        updated_since = datetime.fromisoformat(since_text) if since_text else None
        page_number = int(request.args.get("page", "1"))
        if page_number == 1:
            self.listings.append({"since": updated_since})
        self.turn_page(page_number)
        listed = self.listed(updated_since, newest_first=request.args.get(order, "desc") == "desc")
        return page_number, *self.page(listed, (page_number - 1) * self.page_size)

    def page(self, items: list[Item], offset: int) -> tuple[list[Item], int | None]:
        chunk = items[offset : offset + self.page_size]
        for item in chunk:
            if self.first_listed.get(item.number, ("",))[0] != item.state:
                self.first_listed[item.number] = (item.state, item.updated)
        following = offset + self.page_size
        return chunk, following if following < len(items) else None

    # what the sync should end with
    def external_id(self, item: Item) -> str:
        raise NotImplementedError

    def status_text(self, item: Item) -> str:
        raise NotImplementedError

    def status_time(self, item: Item) -> datetime:
        """The time of the history row for the epic's current status: when the tracker moved it there, or
        for an unstamped state the item's update time when a listing first showed it in that state."""
        if item.state in self.stamped:
            return item.state_since
        return self.first_listed[item.number][1]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeJira(FakeTracker):
    kind = "jira"
    scope: ClassVar[dict[str, Any]] = {"jql": "project = PROJ AND issuetype = Epic"}
    credentials: ClassVar[dict[str, str]] = {"email": "bot@alpha.example", "api_token": "fake-jira-token-0123"}

    def install(self) -> None:
        self.server.expect_request("/rest/api/3/search/jql").respond_with_handler(self.search)

    def search(self, request: Request) -> Response:
        jql = request.args.get("jql", "")
        one = re.search(r"\bid = (\d+)", jql)
        if one:
            found = [item for item in self.listed(None) if self.external_id(item) == one.group(1)]
            return _json({"issues": [self.render(item) for item in found], "isLast": True})
        after = re.search(r'updated >= "(\d{4}-\d\d-\d\d \d\d:\d\d)"', jql)
        since = datetime.strptime(after.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC) if after else None
        self.listings.append({"since": since})
        offset = int(request.args.get("nextPageToken", "0") or 0)
        chunk, following = self.page(self.listed(since), offset)
        body: dict[str, Any] = {"issues": [self.render(item) for item in chunk], "isLast": following is None}
        if following is not None:
            body["nextPageToken"] = str(following)
        return _json(body)

    def external_id(self, item: Item) -> str:
        return str(10000 + item.number)

    def status_text(self, item: Item) -> str:
        return JIRA_STATUS[item.state][0]

    def render(self, item: Item) -> dict[str, Any]:
        return jira_issue(issue_id=self.external_id(item), **item.shown())


class FakeGitHub(FakeTracker):
    kind = "github"
    scope: ClassVar[dict[str, Any]] = {"repositories": ["acme/shop"], "label": "epic"}
    credentials: ClassVar[dict[str, str]] = {"token": "ghp_fake_token_0123456789"}
    stamped: ClassVar[frozenset[str]] = frozenset({"done", "cancelled"})  # closed_at; labels have no time
    PATH = "/repos/acme/shop/issues"

    def install(self) -> None:
        self.server.expect_request(self.PATH).respond_with_handler(self.issues)
        self.server.expect_request(re.compile(rf"^{self.PATH}/\d+$")).respond_with_handler(self.issue)

    def issues(self, request: Request) -> Response:
        page_number, chunk, following = self.numbered_page(request, since="since", order="direction")
        headers = {}
        if following is not None:
            query = {name: value for name, value in request.args.items() if name != "page"}
            headers["Link"] = (
                f'<{self.server.url_for(self.PATH)}?{urlencode({**query, "page": page_number + 1})}>; rel="next"'
            )
        body = json.dumps([self.render(item) for item in chunk])
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:20] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={**headers, "ETag": etag})
        return Response(body, headers={**headers, "ETag": etag}, content_type="application/json")

    def issue(self, request: Request) -> Response:
        number = int(request.path.rsplit("/", 1)[1])
        item = self.items.get(number)
        return _json(self.render(item)) if item else _json({"message": "Not Found"}, 404)

    def external_id(self, item: Item) -> str:
        return str(900000 + item.number)

    def status_text(self, item: Item) -> str:
        return github_status_text(item.state)

    def render(self, item: Item) -> dict[str, Any]:
        return github_issue(issue_id=900000 + item.number, **item.shown())


class FakeGitLab(FakeTracker):
    kind = "gitlab"
    scope: ClassVar[dict[str, Any]] = {"group": "7"}
    credentials: ClassVar[dict[str, str]] = {"token": "glpat-fake-token-0123456789"}
    stamped: ClassVar[frozenset[str]] = frozenset({"done", "cancelled"})  # closed_at; labels have no time
    PATH = "/api/v4/groups/7/epics"
    LABELS: ClassVar[dict[str, list[str]]] = {
        "planned": [],
        "in_progress": ["workflow::in progress"],
        "blocked": ["workflow::blocked"],
        "done": [],
        "cancelled": ["workflow::canceled"],
    }

    def install(self) -> None:
        self.server.expect_request(self.PATH).respond_with_handler(self.epics)
        self.server.expect_request(re.compile(rf"^{self.PATH}/\d+$")).respond_with_handler(self.epic)

    def epics(self, request: Request) -> Response:
        page_number, chunk, following = self.numbered_page(request, since="updated_after", order="sort")
        headers = {"x-next-page": str(page_number + 1) if following is not None else ""}
        return _json([self.render(item) for item in chunk], headers=headers)

    def epic(self, request: Request) -> Response:
        item = self.items.get(int(request.path.rsplit("/", 1)[1]))
        return _json(self.render(item)) if item else _json({"message": "404 Not found"}, 404)

    def external_id(self, item: Item) -> str:
        return str(5000 + item.number)

    def status_text(self, item: Item) -> str:
        return "closed" if item.state in {"done", "cancelled"} else "opened"

    def render(self, item: Item) -> dict[str, Any]:
        closed = item.state in {"done", "cancelled"}
        return {
            "id": 5000 + item.number,
            "iid": item.number,
            "group_id": 7,
            "title": item.title,
            "state": "closed" if closed else "opened",
            "web_url": f"https://gitlab.example.com/groups/acme/-/epics/{item.number}",
            "labels": self.LABELS[item.state],
            "updated_at": _iso(item.updated),
            "closed_at": _iso(item.state_since) if closed else None,
        }


class FakeLinear(FakeTracker):
    kind = "linear"
    scope: ClassVar[dict[str, Any]] = {}
    credentials: ClassVar[dict[str, str]] = {"api_key": "lin_api_fake_key_0123456789"}
    STATUS: ClassVar[dict[str, tuple[str, str]]] = {  # type, name
        "planned": ("planned", "Planned"),
        "in_progress": ("started", "In Progress"),
        "blocked": ("paused", "Paused"),
        "done": ("completed", "Completed"),
        "cancelled": ("canceled", "Canceled"),
    }

    def install(self) -> None:
        self.server.expect_request("/graphql", method="POST").respond_with_handler(self.graphql)

    def graphql(self, request: Request) -> Response:
        sent = json.loads(request.get_data())
        variables = sent.get("variables") or {}
        if "project(id:" in sent["query"]:
            found = [item for item in self.listed(None) if self.external_id(item) == variables.get("id")]
            if not found:
                return _json({"errors": [{"message": "Entity not found: Project"}], "data": None})
            return _json({"data": {"project": {**self.render(found[0]), "teams": {"nodes": [{"id": "team-1"}]}}}})
        since = datetime.fromisoformat(variables["since"]) if variables.get("since") else None
        if variables.get("after") is None:
            self.listings.append({"since": since})
        offset = int(variables.get("after") or 0)
        chunk, following = self.page(self.listed(since, strictly_after=True), offset)
        page_info = {"hasNextPage": following is not None, "endCursor": str(following) if following else None}
        projects = {"nodes": [self.render(item) for item in chunk], "pageInfo": page_info}
        return _json({"data": {"projects": projects}})

    def external_id(self, item: Item) -> str:
        return f"00000000-0000-4000-8000-{item.number:012d}"

    def status_text(self, item: Item) -> str:
        return self.STATUS[item.state][1]

    def render(self, item: Item) -> dict[str, Any]:
        kind, name = self.STATUS[item.state]
        return {
            "id": self.external_id(item),
            "name": item.title,
            "url": f"https://linear.app/acme/project/epic-{item.number}-{item.number:012x}",
            "updatedAt": _iso(item.updated),
            # Linear stamps each status type once: startedAt stays when a project is paused or reopened
            "startedAt": _iso(item.started) if item.started else None,
            "completedAt": _iso(item.state_since) if item.state == "done" else None,
            "canceledAt": _iso(item.state_since) if item.state == "cancelled" else None,
            "status": {"id": f"status-{kind}", "name": name, "type": kind},
            "lead": None,
        }


FAKES: dict[str, type[FakeTracker]] = {fake.kind: fake for fake in (FakeJira, FakeGitHub, FakeGitLab, FakeLinear)}


# --- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture
def clock(time_machine: Any) -> Callable[[datetime], None]:
    def move(moment: datetime) -> None:
        time_machine.move_to(moment, tick=False)

    return move


@pytest.fixture
def beat(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Callable[[], list[SyncRun]]:
    """One tick of the beat's sync dispatcher, its queued runs performed as a worker would (task body, in order)."""
    performed: list[int] = []

    def perform(run_id: int) -> None:
        performed.append(run_id)
        sync_connection_task(run_id)

    monkeypatch.setattr(sync_connection_task, "delay", perform)

    def tick() -> list[SyncRun]:
        performed.clear()
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_due_syncs()
        return list(SyncRun.objects.filter(pk__in=performed).order_by("pk"))

    return tick


@pytest.fixture
def only_our_connections(cast: Cast) -> None:
    """The cast's own connections point at real tracker hosts: they must not be dispatched here."""
    Connection.objects.update(enabled=False)


def connect(fake: FakeTracker, cast: Cast) -> Connection:
    return Connection.objects.create(
        company=cast.company_a,
        name=f"Fake {fake.kind}",
        kind=fake.kind,
        base_url=fake.server.url_for("").rstrip("/"),
        credentials_encrypted=encrypt(fake.credentials),
        webhook_secret_encrypted=encrypt({"secret": WEBHOOK_SECRET}),
        scope=fake.scope,
        status_map=DEFAULTS[fake.kind],
        default_owner=cast.owner_a,
    )


def epics_by_external_id(connection: Connection) -> dict[str, Epic]:
    return {epic.external_id: epic for epic in Epic.objects.filter(tracker_connection_id=connection.pk)}


Row = tuple[str, str, bool, datetime | None]


def history_of(connection: Connection) -> dict[int, list[Row]]:
    rows: dict[int, list[Row]] = {}
    changes = StatusChange.objects.filter(epic__tracker_connection_id=connection.pk).order_by("epic_id", "pk")
    for change in changes:
        rows.setdefault(change.epic_id, []).append(
            (change.from_status, change.to_status, change.waiting, change.tracker_timestamp)
        )
    return rows


def assert_in_step(fake: FakeTracker, connection: Connection) -> None:
    """Every epic shows what the tracker shows; every change is one history row, at the tracker's time."""
    epics = epics_by_external_id(connection)
    history = history_of(connection)
    assert len(epics) == EPICS
    wrong: list[tuple[int, str, Any]] = []
    for item in fake.items.values():
        epic = epics[fake.external_id(item)]
        status, waiting = OURS[item.state]
        shown = (epic.status, epic.waiting, epic.tracker_status, epic.title)
        if shown != (status, waiting, fake.status_text(item), item.title):
            wrong.append((item.number, item.state, shown))
            continue
        rows = history[epic.pk]
        if len(set(rows)) != len(rows) or rows[-1][1:] != (status, waiting, fake.status_time(item)):
            wrong.append((item.number, item.state, rows))
    assert not wrong, f"{len(wrong)} of {EPICS} epics out of step with the tracker, e.g. {wrong[:3]}"


# --- the tests ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["jira", "github", "gitlab", "linear"])
def test_every_change_arrives_by_the_scheduled_poll_when_every_webhook_is_lost(
    kind, httpserver, cast, clock, beat, only_our_connections
):
    clock(T0)
    fake = FAKES[kind](httpserver)
    for number in range(1, EPICS + 1):
        fake.add(number, move_of(number)[0], T0 - timedelta(days=1, seconds=-number))
    connection = connect(fake, cast)

    (first,) = beat()  # a new connection: a full run at once
    assert (first.full, first.status, first.created) == (True, "succeeded", EPICS)
    before = history_of(connection)

    for number in range(1, EPICS + 1):  # 100 moves over the next ten minutes
        fake.change(number, move_of(number)[1], T0 + timedelta(minutes=1, seconds=6 * number))
    clock(T0 + timedelta(minutes=14))
    assert beat() == []  # the interval (15 min) has not passed: nothing to do yet

    clock(T0 + timedelta(minutes=15))
    (poll,) = beat()

    assert (poll.full, poll.status, poll.error) == (False, "succeeded", "")
    assert poll.updated_since == T0 - timedelta(minutes=5)  # since the last success, minus the overlap
    assert (poll.fetched, poll.updated, poll.created) == (EPICS, EPICS, 0)
    assert fake.listings[-1]["since"] is not None  # the tracker was asked for changes only
    assert_in_step(fake, connection)
    history = history_of(connection)
    assert all(len(history[pk]) == len(before[pk]) + 1 for pk in before)  # one row per move
    connection.refresh_from_db()
    oldest_change = min(item.updated for item in fake.items.values())
    assert connection.last_success_at is not None
    assert connection.last_success_at - oldest_change <= timedelta(minutes=15)  # every change within the bound
    assert fake.lost_webhooks == EPICS and not WebhookDelivery.objects.filter(connection=connection).exists()

    clock(T0 + timedelta(minutes=30))  # the next poll re-reads the overlap: it changes nothing
    (again,) = beat()
    assert (again.full, again.status, again.updated, again.created) == (False, "succeeded", 0, 0)
    assert history_of(connection) == history
    assert_in_step(fake, connection)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_epics_that_change_while_the_poll_reads_do_not_hide_others(
    kind, httpserver, cast, clock, beat, only_our_connections
):
    """GitHub and GitLab page by number over a list sorted by update time; trackers keep changing while we read."""
    clock(T0)
    fake = FAKES[kind](httpserver)
    for number in range(1, EPICS + 1):
        fake.add(number, move_of(number)[0], T0 - timedelta(days=1, seconds=-number))
    connection = connect(fake, cast)
    beat()
    for number in range(1, EPICS + 1):
        fake.change(number, move_of(number)[1], T0 + timedelta(minutes=1, seconds=6 * number))

    def edits_during_the_read(page_number: int) -> None:
        if page_number == 2:  # between the first and the second page, five epics of the first page are renamed
            fake.before_page = None
            for number in range(1, 6):
                fake.edit(number, T0 + timedelta(minutes=15, seconds=number))

    fake.before_page = edits_during_the_read
    clock(T0 + timedelta(minutes=15))
    (poll,) = beat()
    clock(T0 + timedelta(minutes=30))
    (again,) = beat()  # a whole interval later: anything the first poll missed has had its chance

    assert (poll.status, again.status) == ("succeeded", "succeeded")
    assert_in_step(fake, connection)

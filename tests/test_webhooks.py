"""Tracker webhooks: signed deliveries stored once, processed by re-reading the item from the tracker.

Bodies are posted as the exact fixture bytes (the signatures in ``webhook_signatures.json`` are over
them). Processing runs through a stand-in for the Celery task: receiving queues the delivery's id after
commit, and the test decides when to process it, against a local fake tracker (pytest-httpserver).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Request, Response

from epics.models import Epic, StatusChange
from epics.tracking import TrackedItem, tracked_epics_apply
from integrations import tasks
from integrations.deliveries import delivery_process
from integrations.models import Connection, WebhookDelivery
from integrations.secrets import decrypt, encrypt
from integrations.services import connection_update
from integrations.status_maps import DEFAULTS
from integrations.tasks import process_delivery_task as REAL_TASK
from integrations.webhooks import SignatureRefused, verify
from tests.assertions import assert_invalid
from tests.conftest import Cast
from tests.strategies import ANY_JSON

FIXTURES = Path(__file__).parent / "fixtures" / "trackers"
SIGNATURES: dict[str, Any] = json.loads((FIXTURES / "webhook_signatures.json").read_bytes())
GITHUB_BODY = (FIXTURES / "github_webhook_issues_closed.json").read_bytes()
JIRA_BODY = (FIXTURES / "jira_webhook_issue_updated.json").read_bytes()
GITLAB_BODY = (FIXTURES / "gitlab_webhook_issue.json").read_bytes()
LINEAR_BODY = (FIXTURES / "linear_webhook_issue_update.json").read_bytes()
JIRA_SEARCH: dict[str, Any] = json.loads((FIXTURES / "jira_search_epics.json").read_bytes())
GITLAB_EPICS: list[dict[str, Any]] = json.loads((FIXTURES / "gitlab_group_epics.json").read_bytes())
LINEAR_PROJECTS: dict[str, Any] = json.loads((FIXTURES / "linear_projects_query_response.json").read_bytes())

GITHUB, JIRA, GITLAB, LINEAR = (SIGNATURES[kind] for kind in ("github", "jira", "gitlab", "linear"))
SECRETS = {
    "github": GITHUB["secret"],
    "jira": JIRA["secret"],
    "gitlab": GITLAB["secret_token"],
    "linear": LINEAR["secret"],
}
LINEAR_NOW = datetime.fromtimestamp(1715678030, UTC)  # the fixture's webhookTimestamp is 1715678000000 ms
ISSUE_PATH = "/repos/Codertocat/Hello-World/issues/1"
SEARCH = "/rest/api/3/search/jql"
GITLAB_EPIC_PATH = "/api/v4/groups/7/epics/4"
GITHUB_ISSUE_ID = "444500041"  # issue.id in the GitHub fixture
DELIVERIES = "/api/v1/companies/alpha/webhook-deliveries/"


def hook_url(connection: Connection | int) -> str:
    pk = connection if isinstance(connection, int) else connection.pk
    return f"/api/v1/hooks/{pk}/"


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fixture_headers(kind: str) -> dict[str, str]:
    return dict(SIGNATURES[kind]["headers"])


def github_headers(body: bytes, *, delivery: str = "gh-delivery-1", event: str = "issues") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + hex_hmac(GITHUB["secret"], body),
    }


def github_event(**changes: Any) -> bytes:
    """The GitHub fixture with top-level changes (e.g. another action), as new bytes to sign."""
    payload = json.loads(GITHUB_BODY)
    payload.update(changes)
    return json.dumps(payload).encode()


def linear_headers(body: bytes, *, delivery: str = "lin-delivery-1", event: str = "Issue") -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Linear-Event": event,
        "Linear-Delivery": delivery,
        "Linear-Signature": hex_hmac(LINEAR["secret"], body),
    }


def jira_headers(body: bytes, *, delivery: str = "jira-delivery-1") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Atlassian-Webhook-Identifier": delivery,
        "X-Hub-Signature": "sha256=" + hex_hmac(JIRA["secret"], body),
    }


def post(client: APIClient, connection: Connection | int, body: bytes, headers: dict[str, str]) -> Any:
    rest = {name: value for name, value in headers.items() if name.lower() != "content-type"}
    content_type = headers.get("Content-Type", "application/json")
    return client.post(hook_url(connection), data=body, content_type=content_type, headers=rest)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """The one error shape (``fields`` only comes with validation errors)."""
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "code", "detail"}, body
    assert body["status"] == status
    assert body["code"] and body["detail"]
    return body


def world(company_id: int) -> dict[str, Any]:
    """Everything a refused delivery must leave alone: deliveries, the company's epics and their history."""
    return {
        "deliveries": list(WebhookDelivery.objects.order_by("pk").values()),
        "epics": list(Epic.objects.filter(company_id=company_id).order_by("pk").values()),
        "changes": list(StatusChange.objects.order_by("pk").values()),
        "connections": list(Connection.objects.order_by("pk").values()),
    }


# --- fixtures ------------------------------------------------------------------------------------------------


@dataclass
class Queue:
    """The stand-in for ``process_delivery_task``: what was queued, processed when the test says."""

    pks: list[int] = field(default_factory=list)

    def delay(self, pk: int) -> None:
        self.pks.append(pk)

    def run(self) -> list[WebhookDelivery]:
        done = [delivery_process(pk) for pk in self.pks]
        self.pks.clear()
        return done


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Queue:
    fake = Queue()
    monkeypatch.setattr(tasks, "process_delivery_task", fake)
    return fake


@pytest.fixture
def deliver(
    queue: Queue, django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]]
) -> Callable[..., Any]:
    """Post a delivery as the tracker would (no session, no key), running the after-commit queueing."""

    def send(
        connection: Connection | int, body: bytes, headers: dict[str, str], client: APIClient | None = None
    ) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post(client or APIClient(), connection, body, headers)

    return send


@pytest.fixture
def make_connection(httpserver: HTTPServer, cast: Cast) -> Callable[..., Connection]:
    """A connection of company A pointing at the fake tracker, with the fixture's webhook secret."""
    made: list[int] = []

    def make(kind: str, *, scope: dict[str, Any] | None = None, secret: str | None = None) -> Connection:
        credentials = {
            "github": {"token": "ghp_fake_token_0123456789"},
            "jira": {"email": "bot@alpha.example", "api_token": "fake-jira-token-0123"},
            "gitlab": {"token": "glpat-fake-token-0123456789"},
            "linear": {"api_key": "lin_api_fake_key_0123456789"},
        }[kind]
        default_scope = {
            "github": {"repositories": ["Codertocat/Hello-World"], "label": "epic"},
            "jira": {"jql": "project = PROJ AND issuetype = Epic"},
            "gitlab": {"group": "7"},
            "linear": {},
        }[kind]
        connection = Connection.objects.create(
            company=cast.company_a,
            name=f"Fake {kind} {len(made)}",
            kind=kind,
            base_url=httpserver.url_for("").rstrip("/"),
            credentials_encrypted=encrypt(credentials),
            scope=default_scope if scope is None else scope,
            status_map=DEFAULTS[kind],
            default_owner=cast.owner_a,
        )
        made.append(connection.pk)
        secret = SECRETS[kind] if secret is None else secret
        if secret:
            connection.webhook_secret_encrypted = encrypt({"secret": secret})
            connection.save()
        return connection

    return make


@pytest.fixture
def github(make_connection: Callable[..., Connection]) -> Connection:
    return make_connection("github")


@pytest.fixture
def jira(make_connection: Callable[..., Connection]) -> Connection:
    return make_connection("jira")


@pytest.fixture
def gitlab(make_connection: Callable[..., Connection]) -> Connection:
    return make_connection("gitlab")


@pytest.fixture
def linear(make_connection: Callable[..., Connection], time_machine: Any) -> Connection:
    """A Linear connection, with the clock 30 s after the fixture's webhookTimestamp."""
    time_machine.move_to(LINEAR_NOW, tick=False)
    return make_connection("linear")


def github_issue(
    *, state: str = "open", labels: tuple[str, ...] = ("epic", "status: in progress"), updated: str, closed: str = ""
) -> dict[str, Any]:
    """Issue #1 as GitHub's API answers it now (the webhook's issue with another state)."""
    issue: dict[str, Any] = deepcopy(json.loads(GITHUB_BODY)["issue"])
    issue.update(
        state=state,
        state_reason="completed" if state == "closed" else None,
        closed_at=closed or None,
        updated_at=updated,
        labels=[{"name": name} for name in labels],
    )
    return issue


def serve_issue(httpserver: HTTPServer, issue: dict[str, Any]) -> None:
    httpserver.clear()
    httpserver.expect_request(ISSUE_PATH).respond_with_json(issue)


def jira_issue(*, category: str, status: str, updated: str) -> dict[str, Any]:
    """PROJ-7 (id 10007) as Jira's search answers it, in the documented shape."""
    issue: dict[str, Any] = deepcopy(next(i for i in JIRA_SEARCH["issues"] if i["id"] == "10007"))
    fields = issue["fields"]
    fields["status"]["name"] = status
    fields["status"]["statusCategory"]["key"] = category
    if category != "done":
        fields["resolution"] = fields["resolutiondate"] = None
    fields["updated"] = fields["statuscategorychangedate"] = updated
    return issue


def serve_jira(httpserver: HTTPServer, issue: dict[str, Any]) -> None:
    """The search answers PROJ-7 when the JQL asks for its id, nothing otherwise."""

    def handler(request: Request) -> Response:
        issues = [issue] if "id = 10007" in request.args.get("jql", "") else []
        return Response(json.dumps({"issues": issues, "isLast": True}), content_type="application/json")

    httpserver.clear()
    httpserver.expect_request(SEARCH).respond_with_handler(handler)


def known_epic(connection: Connection, *, external_id: str, status: str, at: datetime, key: str = "#1") -> Epic:
    """An epic a sync already brought in from the connection."""
    assert connection.default_owner is not None
    tracked_epics_apply(
        company=connection.company,
        connection_id=connection.pk,
        items=[
            TrackedItem(
                external_id=external_id,
                key=key,
                title="Known epic",
                url="https://github.com/Codertocat/Hello-World/issues/1",
                status_text=status,
                status=status,
                at=at,
                owner=connection.default_owner,
            )
        ],
    )
    return Epic.objects.get(tracker_connection_id=connection.pk, external_id=external_id)


def history(epic: Epic) -> list[tuple[str, str, str]]:
    return [(c.from_status, c.to_status, c.source) for c in StatusChange.objects.filter(epic=epic).order_by("pk")]


# --- 1. the worked examples are accepted through the real endpoint ---------------------------------------------


def test_the_github_fixture_is_accepted_and_stored_once(github, deliver, queue):
    response = deliver(github, GITHUB_BODY, fixture_headers("github"))

    assert response.status_code == 202, response.content
    assert response.json() == {
        "delivery_id": GITHUB["headers"]["X-GitHub-Delivery"],
        "status": "received",
        "duplicate": False,
    }
    delivery = WebhookDelivery.objects.get(connection=github)
    assert (delivery.event, delivery.action, delivery.status) == ("issues", "closed", "received")
    assert delivery.payload == json.loads(GITHUB_BODY)
    assert queue.pks == [delivery.pk]


def test_the_github_official_vector_is_authentic_but_not_json_so_it_is_stored_as_ignored(github, deliver, queue):
    vector = GITHUB["official_test_vector"]
    headers = {
        "Content-Type": "text/plain",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "hello-world-vector",
        "X-Hub-Signature-256": vector["X-Hub-Signature-256"],
    }

    response = deliver(github, vector["payload"].encode(), headers)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "ignored"
    delivery = WebhookDelivery.objects.get(connection=github)
    assert (delivery.status, delivery.payload) == ("ignored", {})
    assert "not JSON" in delivery.detail
    assert queue.pks == []  # nothing to process


def test_the_jira_fixture_is_accepted(jira, deliver, queue):
    response = deliver(jira, JIRA_BODY, fixture_headers("jira"))

    assert response.status_code == 202, response.content
    delivery = WebhookDelivery.objects.get(connection=jira)
    assert delivery.delivery_id == JIRA["headers"]["X-Atlassian-Webhook-Identifier"]
    assert (delivery.event, delivery.status) == ("jira:issue_updated", "received")
    assert queue.pks == [delivery.pk]


def test_the_jira_inline_example_is_accepted(jira, deliver):
    example = JIRA["inline_example"]
    headers = {"X-Hub-Signature": example["X-Hub-Signature"], "X-Atlassian-Webhook-Identifier": "inline-1"}

    response = deliver(jira, example["body"].encode(), headers)

    assert response.status_code == 202, response.content
    assert WebhookDelivery.objects.get(connection=jira).event == "jira:issue_updated"


def test_the_gitlab_token_is_accepted(gitlab, deliver, queue):
    response = deliver(gitlab, GITLAB_BODY, fixture_headers("gitlab"))

    assert response.status_code == 202, response.content
    delivery = WebhookDelivery.objects.get(connection=gitlab)
    assert delivery.delivery_id == GITLAB["headers"]["Idempotency-Key"]
    assert (delivery.event, delivery.action) == ("Issue Hook", "open")
    assert queue.pks == [delivery.pk]


def test_the_linear_fixture_is_accepted_within_sixty_seconds(linear, deliver, queue):
    response = deliver(linear, LINEAR_BODY, fixture_headers("linear"))

    assert response.status_code == 202, response.content
    delivery = WebhookDelivery.objects.get(connection=linear)
    assert delivery.delivery_id == LINEAR["headers"]["Linear-Delivery"]
    assert (delivery.event, delivery.action) == ("Issue", "update")
    assert queue.pks == [delivery.pk]


def test_the_linear_inline_example_is_accepted(linear, deliver):
    example = LINEAR["inline_example"]
    headers = {"Linear-Signature": example["Linear-Signature"], "Linear-Delivery": "inline-1"}

    response = deliver(linear, example["body"].encode(), headers)

    assert response.status_code == 202, response.content


def test_the_linear_window_is_sixty_seconds_either_way(linear, deliver, time_machine):
    time_machine.move_to(datetime.fromtimestamp(1715678060, UTC), tick=False)  # exactly 60 s late: still fine
    assert deliver(linear, LINEAR_BODY, fixture_headers("linear")).status_code == 202
    time_machine.move_to(datetime.fromtimestamp(1715677940, UTC), tick=False)  # exactly 60 s early
    assert deliver(linear, LINEAR_BODY, {**fixture_headers("linear"), "Linear-Delivery": "early"}).status_code == 202


def test_linear_falls_back_to_the_timestamp_header_when_the_body_has_none(linear, deliver, time_machine):
    body = b'{"action":"update","type":"Cycle","data":{"id":"c1"}}'
    headers = {**linear_headers(body), "Linear-Timestamp": "1715678000000"}

    assert deliver(linear, body, headers).status_code == 202
    time_machine.move_to(datetime.fromtimestamp(1715678100, UTC), tick=False)
    assert deliver(linear, body, {**headers, "Linear-Delivery": "later"}).status_code == 401
    no_stamp = {name: value for name, value in headers.items() if name != "Linear-Timestamp"}
    assert deliver(linear, body, {**no_stamp, "Linear-Delivery": "none"}).status_code == 401


def test_the_verifier_takes_the_worked_examples_and_refuses_the_tampered_one():
    example = JIRA["inline_example"]
    signed = {"X-Hub-Signature": example["X-Hub-Signature"]}
    verify("jira", JIRA["secret"], signed, example["body"].encode(), now_ms=0)
    with pytest.raises(SignatureRefused):
        verify("jira", JIRA["secret"], signed, example["tampered_body"].encode(), now_ms=0)
    verify("linear", LINEAR["secret"], fixture_headers("linear"), LINEAR_BODY, now_ms=1715678060000)
    with pytest.raises(SignatureRefused, match="60 seconds"):
        verify("linear", LINEAR["secret"], fixture_headers("linear"), LINEAR_BODY, now_ms=1715678060001)


# --- 2. forged, tampered and stale deliveries: 401, nothing written ---------------------------------------------


def _flip(body: bytes) -> bytes:
    """The body with one byte changed."""
    index = body.index(b'"closed"') + 1 if b'"closed"' in body else len(body) // 2
    changed = bytearray(body)
    changed[index] ^= 0x01
    return bytes(changed)


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != name}


SHA1 = "sha1=" + hmac.new(GITHUB["secret"].encode(), GITHUB_BODY, hashlib.sha1).hexdigest()
JIRA_SHA1 = "sha1=" + hmac.new(JIRA["secret"].encode(), JIRA_BODY, hashlib.sha1).hexdigest()
WRONG = "not the secret at all"
REFUSED: dict[str, tuple[str, bytes, dict[str, str], float]] = {
    "github-tampered": ("github", _flip(GITHUB_BODY), fixture_headers("github"), 0),
    "github-wrong-secret": (
        "github",
        GITHUB_BODY,
        {**fixture_headers("github"), "X-Hub-Signature-256": "sha256=" + hex_hmac(WRONG, GITHUB_BODY)},
        0,
    ),
    "github-missing-header": ("github", GITHUB_BODY, _without(fixture_headers("github"), "X-Hub-Signature-256"), 0),
    "github-sha1-prefix": ("github", GITHUB_BODY, {**fixture_headers("github"), "X-Hub-Signature-256": SHA1}, 0),
    "github-legacy-sha1-header-only": (
        "github",
        GITHUB_BODY,
        {**_without(fixture_headers("github"), "X-Hub-Signature-256"), "X-Hub-Signature": SHA1},
        0,
    ),
    "github-bare-hex": (
        "github",
        GITHUB_BODY,
        {**fixture_headers("github"), "X-Hub-Signature-256": hex_hmac(GITHUB["secret"], GITHUB_BODY)},
        0,
    ),
    "jira-tampered-inline": (
        "jira",
        JIRA["inline_example"]["tampered_body"].encode(),
        {"X-Hub-Signature": JIRA["inline_example"]["X-Hub-Signature"], "X-Atlassian-Webhook-Identifier": "t"},
        0,
    ),
    "jira-tampered-fixture": ("jira", _flip(JIRA_BODY), fixture_headers("jira"), 0),
    "jira-wrong-secret": (
        "jira",
        JIRA_BODY,
        {**fixture_headers("jira"), "X-Hub-Signature": "sha256=" + hex_hmac(WRONG, JIRA_BODY)},
        0,
    ),
    "jira-missing-header": ("jira", JIRA_BODY, _without(fixture_headers("jira"), "X-Hub-Signature"), 0),
    "jira-sha1-prefix": ("jira", JIRA_BODY, {**fixture_headers("jira"), "X-Hub-Signature": JIRA_SHA1}, 0),
    "jira-github-header-name": (
        "jira",
        JIRA_BODY,
        {
            **_without(fixture_headers("jira"), "X-Hub-Signature"),
            "X-Hub-Signature-256": JIRA["headers"]["X-Hub-Signature"],
        },
        0,
    ),
    "gitlab-wrong-token": (
        "gitlab",
        GITLAB_BODY,
        {**fixture_headers("gitlab"), "X-Gitlab-Token": "gitlab-secret-tokeN"},
        0,
    ),
    "gitlab-missing-token": ("gitlab", GITLAB_BODY, _without(fixture_headers("gitlab"), "X-Gitlab-Token"), 0),
    "linear-tampered": ("linear", _flip(LINEAR_BODY), fixture_headers("linear"), 1715678030),
    "linear-wrong-secret": (
        "linear",
        LINEAR_BODY,
        {**fixture_headers("linear"), "Linear-Signature": hex_hmac(WRONG, LINEAR_BODY)},
        1715678030,
    ),
    "linear-missing-header": (
        "linear",
        LINEAR_BODY,
        _without(fixture_headers("linear"), "Linear-Signature"),
        1715678030,
    ),
    "linear-60.001-s-old": ("linear", LINEAR_BODY, fixture_headers("linear"), 1715678060.001),
    "linear-61-s-in-the-future": ("linear", LINEAR_BODY, fixture_headers("linear"), 1715677939),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_a_delivery_not_signed_by_the_secret_is_refused_and_changes_nothing(
    case, make_connection, deliver, queue, time_machine, cast
):
    kind, body, headers, now = REFUSED[case]
    connection = make_connection(kind)
    if now:
        time_machine.move_to(datetime.fromtimestamp(now, UTC), tick=False)
    before = world(cast.company_a.pk)

    response = deliver(connection, body, headers)

    assert assert_error(response, 401)["code"] == "authentication_failed"
    assert response.headers.get("WWW-Authenticate")
    assert world(cast.company_a.pk) == before
    assert queue.pks == []


# --- 3. who may post at all ------------------------------------------------------------------------------------


def test_a_connection_without_a_webhook_secret_refuses_every_delivery(make_connection, deliver, cast):
    connection = make_connection("github", secret="")
    before = world(cast.company_a.pk)

    response = deliver(connection, GITHUB_BODY, fixture_headers("github"))

    assert "secret" in assert_error(response, 401)["detail"]
    assert world(cast.company_a.pk) == before


def test_an_unknown_connection_is_a_404(db, deliver):
    response = deliver(987654321, GITHUB_BODY, fixture_headers("github"))

    assert_error(response, 404)
    assert not WebhookDelivery.objects.filter(delivery_id=GITHUB["headers"]["X-GitHub-Delivery"]).exists()


@pytest.mark.parametrize("who", ["owner_a-session", "company-a-api-key"])
def test_a_session_or_an_api_key_does_not_stand_in_for_the_signature(
    who, github, deliver, cast, client_for, key_client
):
    client = client_for(cast.owner_a) if who == "owner_a-session" else key_client(cast.raw_key_a)
    before = world(cast.company_a.pk)

    response = deliver(github, GITHUB_BODY, _without(fixture_headers("github"), "X-Hub-Signature-256"), client=client)

    assert_error(response, 401)
    assert world(cast.company_a.pk) == before


def test_another_companys_secret_does_not_sign_for_this_connection(make_connection, deliver, cast):
    ours = make_connection("github")
    theirs = Connection.objects.get(pk=cast.strategic_b["connection"].pk)
    connection_update(connection=theirs, webhook_secret="bravo-only-secret-0123456789")
    signature = "sha256=" + hex_hmac("bravo-only-secret-0123456789", GITHUB_BODY)

    response = deliver(ours, GITHUB_BODY, {**fixture_headers("github"), "X-Hub-Signature-256": signature})

    assert_error(response, 401)
    assert not WebhookDelivery.objects.filter(connection=ours).exists()


# --- 4. dedupe -------------------------------------------------------------------------------------------------


def test_the_same_delivery_twice_is_stored_and_queued_once(github, deliver, queue):
    first = deliver(github, GITHUB_BODY, fixture_headers("github"))
    again = deliver(github, GITHUB_BODY, fixture_headers("github"))

    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["duplicate"] is False
    assert again.json() == {
        "delivery_id": GITHUB["headers"]["X-GitHub-Delivery"],
        "status": "received",
        "duplicate": True,
    }
    assert WebhookDelivery.objects.filter(connection=github).count() == 1
    assert len(queue.pks) == 1


def test_a_retried_jira_delivery_is_a_duplicate(jira, deliver, queue):
    deliver(jira, JIRA_BODY, fixture_headers("jira"))
    retry = deliver(jira, JIRA_BODY, {**fixture_headers("jira"), "X-Atlassian-Webhook-Retry": "1"})

    assert (retry.status_code, retry.json()["duplicate"]) == (200, True)
    assert WebhookDelivery.objects.filter(connection=jira).count() == 1
    assert len(queue.pks) == 1


def test_gitlab_dedupes_on_the_idempotency_key_then_the_event_uuid(gitlab, deliver, queue):
    headers = fixture_headers("gitlab")
    deliver(gitlab, GITLAB_BODY, headers)
    older_gitlab = _without(headers, "Idempotency-Key")  # before 17.4

    response = deliver(gitlab, GITLAB_BODY, older_gitlab)

    assert response.status_code == 202  # another id: stored
    assert response.json()["delivery_id"] == GITLAB["headers"]["X-Gitlab-Event-UUID"]
    assert deliver(gitlab, GITLAB_BODY, older_gitlab).json()["duplicate"] is True
    assert deliver(gitlab, GITLAB_BODY, headers).json()["duplicate"] is True
    assert set(WebhookDelivery.objects.filter(connection=gitlab).values_list("delivery_id", flat=True)) == {
        GITLAB["headers"]["Idempotency-Key"],
        GITLAB["headers"]["X-Gitlab-Event-UUID"],
    }
    assert len(queue.pks) == 2


def test_without_any_id_header_the_body_digest_is_the_id(gitlab, deliver, queue):
    headers = {"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": GITLAB["secret_token"]}

    first = deliver(gitlab, GITLAB_BODY, headers)
    again = deliver(gitlab, GITLAB_BODY, headers)

    assert first.status_code == 202
    assert first.json()["delivery_id"] == "sha256:" + hashlib.sha256(GITLAB_BODY).hexdigest()
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert WebhookDelivery.objects.filter(connection=gitlab).count() == 1
    assert len(queue.pks) == 1


def test_the_same_delivery_id_on_two_connections_is_two_deliveries(make_connection, deliver, queue):
    one, two = make_connection("github"), make_connection("github")

    assert deliver(one, GITHUB_BODY, fixture_headers("github")).status_code == 202
    assert deliver(two, GITHUB_BODY, fixture_headers("github")).status_code == 202
    assert len(queue.pks) == 2


# --- 5. processing re-reads the item ---------------------------------------------------------------------------


def test_github_processing_applies_what_the_api_says_not_the_webhook_body(github, httpserver, deliver, queue):
    serve_issue(httpserver, github_issue(state="open", updated="2024-05-11T08:00:00Z"))
    deliver(github, GITHUB_BODY, fixture_headers("github"))  # the body says closed

    (delivery,) = queue.run()

    assert delivery.status == "processed", delivery.error
    epic = Epic.objects.get(tracker_connection_id=github.pk, external_id=GITHUB_ISSUE_ID)
    assert (epic.status, epic.tracker_status, epic.external_key) == ("in_progress", "open", "#1")
    assert delivery.epic_id == epic.pk
    assert history(epic) == [("", "proposed", "webhook"), ("proposed", "in_progress", "webhook")]
    latest = StatusChange.objects.filter(epic=epic).order_by("pk").last()
    assert latest is not None and latest.tracker_timestamp == datetime(2024, 5, 11, 8, tzinfo=UTC)
    request = httpserver.log[0][0]
    assert (request.path, request.headers["Authorization"]) == (ISSUE_PATH, "Bearer ghp_fake_token_0123456789")


def test_jira_processing_applies_what_the_search_answers(jira, httpserver, deliver, queue):
    serve_jira(
        httpserver, jira_issue(category="indeterminate", status="In Progress", updated="2024-05-11T08:00:00.000+0000")
    )
    deliver(jira, JIRA_BODY, fixture_headers("jira"))  # the body says PROJ-7 moved to Done

    (delivery,) = queue.run()

    assert delivery.status == "processed", delivery.error
    epic = Epic.objects.get(tracker_connection_id=jira.pk, external_id="10007")
    assert (epic.status, epic.external_key, epic.tracker_status) == ("in_progress", "PROJ-7", "In Progress")
    assert history(epic) == [("", "proposed", "webhook"), ("proposed", "in_progress", "webhook")]
    jql = httpserver.log[0][0].args["jql"]
    assert "id = 10007" in jql and "project = PROJ AND issuetype = Epic" in jql


def test_a_jira_item_out_of_scope_is_ignored_and_creates_nothing(jira, httpserver, deliver, queue):
    httpserver.expect_request(SEARCH).respond_with_json({"issues": [], "isLast": True})
    deliver(jira, JIRA_BODY, fixture_headers("jira"))

    (delivery,) = queue.run()

    assert delivery.status == "ignored"
    assert delivery.detail
    assert not Epic.objects.filter(tracker_connection_id=jira.pk).exists()


def test_linear_processing_rereads_the_project_of_the_issue(linear, httpserver, deliver, queue):
    project = {**LINEAR_PROJECTS["data"]["projects"]["nodes"][0], "teams": {"nodes": [{"id": "team-1"}]}}
    httpserver.expect_request("/graphql", method="POST").respond_with_json({"data": {"project": project}})
    deliver(linear, LINEAR_BODY, fixture_headers("linear"))

    (delivery,) = queue.run()

    assert delivery.status == "processed", delivery.error
    epic = Epic.objects.get(tracker_connection_id=linear.pk, external_id=project["id"])
    assert (epic.status, epic.title) == ("in_progress", "Checkout revamp")
    assert history(epic) == [("", "proposed", "webhook"), ("proposed", "in_progress", "webhook")]
    sent = json.loads(httpserver.log[0][0].data)
    assert sent["variables"] == {"id": project["id"]}  # the issue's project, re-read by id


def gitlab_work_item_epic(*, action: str = "update") -> bytes:
    """The GitLab fixture as a group work-item event about epic &4 (work items have their own ids)."""
    payload = json.loads(GITLAB_BODY)
    payload["object_kind"] = payload["event_type"] = "work_item"
    payload["object_attributes"].update(id=9004, iid=4, type="Epic", action=action)
    return json.dumps(payload).encode()


def test_a_gitlab_epic_work_item_event_rereads_the_epic_by_iid(gitlab, httpserver, deliver, queue):
    httpserver.expect_request(GITLAB_EPIC_PATH).respond_with_json(GITLAB_EPICS[0])

    deliver(gitlab, gitlab_work_item_epic(), {**fixture_headers("gitlab"), "X-Gitlab-Event": "Work Item Hook"})
    (delivery,) = queue.run()

    assert delivery.status == "processed", delivery.error
    epic = Epic.objects.get(tracker_connection_id=gitlab.pk, external_id=str(GITLAB_EPICS[0]["id"]))
    assert (epic.status, epic.external_key) == ("in_progress", "&4")
    assert delivery.epic_id == epic.pk


# --- 6. out of order -------------------------------------------------------------------------------------------


def test_an_older_reread_never_moves_the_epic_back(github, httpserver, deliver, queue):
    closed = github_issue(state="closed", updated="2024-05-12T10:00:00Z", closed="2024-05-12T10:00:00Z")
    serve_issue(httpserver, closed)
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    queue.run()
    epic = Epic.objects.get(tracker_connection_id=github.pk, external_id=GITHUB_ISSUE_ID)
    assert epic.status == "done"
    changes = history(epic)

    serve_issue(httpserver, github_issue(state="open", updated="2024-05-11T08:00:00Z"))  # a lagging answer
    reopened = github_event(action="reopened")
    deliver(github, reopened, github_headers(reopened, delivery="late"))
    (late,) = queue.run()

    epic.refresh_from_db()
    assert late.status == "processed"
    assert epic.status == "done"
    assert epic.done_at == datetime(2024, 5, 12, 10, tzinfo=UTC)
    assert history(epic) == changes


def test_an_older_jira_reread_never_moves_the_epic_back(jira, httpserver, deliver, queue):
    serve_jira(httpserver, jira_issue(category="done", status="Done", updated="2024-05-12T08:00:00.000+0000"))
    deliver(jira, JIRA_BODY, fixture_headers("jira"))
    queue.run()
    epic = Epic.objects.get(tracker_connection_id=jira.pk, external_id="10007")
    changes = history(epic)

    serve_jira(
        httpserver, jira_issue(category="indeterminate", status="In Progress", updated="2024-05-11T08:00:00.000+0000")
    )
    deliver(jira, JIRA_BODY, {**fixture_headers("jira"), "X-Atlassian-Webhook-Identifier": "late"})
    (late,) = queue.run()

    epic.refresh_from_db()
    assert late.status == "processed"
    assert (epic.status, history(epic)) == ("done", changes)


def test_an_older_reread_leaves_the_tracker_status_text_alone_too(github, httpserver, deliver, queue):
    closed = github_issue(state="closed", updated="2024-05-12T10:00:00Z", closed="2024-05-12T10:00:00Z")
    serve_issue(httpserver, closed)
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    queue.run()

    serve_issue(httpserver, github_issue(state="open", updated="2024-05-11T08:00:00Z"))
    reopened = github_event(action="reopened")
    deliver(github, reopened, github_headers(reopened, delivery="late"))
    queue.run()

    epic = Epic.objects.get(tracker_connection_id=github.pk, external_id=GITHUB_ISSUE_ID)
    assert (epic.status, epic.tracker_status) == ("done", "closed (completed)")


def test_a_newer_reread_after_an_older_one_does_move_the_epic(jira, httpserver, deliver, queue):
    serve_jira(
        httpserver, jira_issue(category="indeterminate", status="In Progress", updated="2024-05-11T08:00:00.000+0000")
    )
    deliver(jira, JIRA_BODY, fixture_headers("jira"))
    queue.run()

    serve_jira(httpserver, jira_issue(category="done", status="Done", updated="2024-05-12T08:00:00.000+0000"))
    deliver(jira, JIRA_BODY, {**fixture_headers("jira"), "X-Atlassian-Webhook-Identifier": "second"})
    queue.run()

    epic = Epic.objects.get(tracker_connection_id=jira.pk, external_id="10007")
    assert epic.status == "done"
    assert history(epic)[-1] == ("in_progress", "done", "webhook")


# --- 7. events that are none of our business ------------------------------------------------------------------


def _unknown_events() -> dict[str, tuple[str, bytes, Callable[[bytes], dict[str, str]]]]:
    ping = b'{"zen":"Keep it logically awesome.","hook_id":1}'
    jira_comment = json.dumps(
        {"webhookEvent": "comment_created", "timestamp": 1715678000000, "issue": {"id": "10007", "key": "PROJ-7"}}
    ).encode()
    cycle = json.dumps(
        {"action": "update", "type": "Cycle", "data": {"id": "cycle-1"}, "webhookTimestamp": 1715678000000}
    ).encode()
    return {
        "github-ping": ("github", ping, lambda body: github_headers(body, event="ping")),
        "gitlab-issue": ("gitlab", GITLAB_BODY, lambda body: fixture_headers("gitlab")),
        "jira-comment-created": ("jira", jira_comment, lambda body: jira_headers(body)),
        "linear-cycle": ("linear", cycle, lambda body: linear_headers(body, event="Cycle")),
    }


UNKNOWN = _unknown_events()


@pytest.mark.parametrize("case", list(UNKNOWN), ids=list(UNKNOWN))
def test_an_event_not_about_epics_is_acknowledged_and_ignored(
    case, make_connection, httpserver, deliver, queue, time_machine, cast
):
    kind, body, headers = UNKNOWN[case]
    time_machine.move_to(LINEAR_NOW, tick=False)
    connection = make_connection(kind)
    epics_before = list(Epic.objects.filter(company=cast.company_a).order_by("pk").values())
    changes_before = StatusChange.objects.count()

    response = deliver(connection, body, headers(body))

    assert response.status_code == 202, response.content
    (delivery,) = queue.run()
    assert delivery.status == "ignored"
    assert delivery.detail
    assert delivery.epic is None
    assert list(Epic.objects.filter(company=cast.company_a).order_by("pk").values()) == epics_before
    assert StatusChange.objects.count() == changes_before
    assert httpserver.log == []  # the tracker was not even asked


def test_a_pull_request_event_is_ignored(github, httpserver, deliver, queue):
    payload = json.loads(GITHUB_BODY)
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    body = json.dumps(payload).encode()
    deliver(github, body, github_headers(body))

    (delivery,) = queue.run()

    assert delivery.status == "ignored"
    assert httpserver.log == []


def test_a_delivery_for_a_disabled_connection_is_stored_as_ignored(make_connection, deliver, queue):
    connection = make_connection("github")
    Connection.objects.filter(pk=connection.pk).update(enabled=False)

    response = deliver(connection, GITHUB_BODY, fixture_headers("github"))

    assert (response.status_code, response.json()["status"]) == (202, "ignored")
    assert queue.pks == []


# --- 8. deleted and moved --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "reason"), [("deleted", "deleted"), ("transferred", "moved")])
def test_a_deleted_or_transferred_issue_marks_the_known_epic_and_keeps_it(
    action, reason, github, httpserver, deliver, queue
):
    epic = known_epic(github, external_id=GITHUB_ISSUE_ID, status="in_progress", at=datetime(2024, 5, 1, tzinfo=UTC))
    changes = history(epic)
    body = github_event(action=action)

    deliver(github, body, github_headers(body, delivery=f"gone-{action}"))
    (delivery,) = queue.run()

    epic.refresh_from_db()
    assert delivery.status == "processed"
    assert delivery.epic_id == epic.pk
    assert (epic.tracker_missing_reason, epic.status) == (reason, "in_progress")
    assert epic.tracker_missing_since is not None
    assert history(epic) == changes
    assert httpserver.log == []  # the delivery itself says it is gone


def test_a_deleted_issue_we_never_knew_creates_nothing(github, httpserver, deliver, queue):
    body = github_event(action="deleted")
    deliver(github, body, github_headers(body))

    (delivery,) = queue.run()

    assert delivery.status == "ignored"
    assert not Epic.objects.filter(tracker_connection_id=github.pk).exists()


def test_a_jira_issue_deleted_event_marks_the_epic_deleted(jira, httpserver, deliver, queue):
    epic = known_epic(jira, external_id="10007", status="done", at=datetime(2024, 5, 1, tzinfo=UTC))
    body = json.dumps({"webhookEvent": "jira:issue_deleted", "issue": {"id": "10007", "key": "PROJ-7"}}).encode()

    deliver(jira, body, jira_headers(body))
    (delivery,) = queue.run()

    epic.refresh_from_db()
    assert (delivery.status, epic.tracker_missing_reason, epic.status) == ("processed", "deleted", "done")


def test_a_removed_linear_project_marks_the_epic_deleted(linear, httpserver, deliver, queue):
    project_id = LINEAR_PROJECTS["data"]["projects"]["nodes"][0]["id"]
    epic = known_epic(linear, external_id=project_id, status="in_progress", at=datetime(2024, 5, 1, tzinfo=UTC))
    body = json.dumps(
        {"action": "remove", "type": "Project", "data": {"id": project_id}, "webhookTimestamp": 1715678000000}
    ).encode()

    deliver(linear, body, linear_headers(body, event="Project"))
    (delivery,) = queue.run()

    epic.refresh_from_db()
    assert (delivery.status, epic.tracker_missing_reason, epic.status) == ("processed", "deleted", "in_progress")
    assert httpserver.log == []


def test_a_known_epic_the_api_no_longer_finds_is_marked_moved(github, httpserver, deliver, queue):
    epic = known_epic(github, external_id=GITHUB_ISSUE_ID, status="in_progress", at=datetime(2024, 5, 1, tzinfo=UTC))
    changes = history(epic)
    httpserver.expect_request(ISSUE_PATH).respond_with_json({"message": "Not Found"}, status=404)

    deliver(github, GITHUB_BODY, fixture_headers("github"))
    (delivery,) = queue.run()

    epic.refresh_from_db()
    assert delivery.status == "processed"
    assert (epic.tracker_missing_reason, epic.status) == ("moved", "in_progress")
    assert history(epic) == changes


def test_an_issue_that_lost_its_epic_label_is_marked_moved(github, httpserver, deliver, queue):
    epic = known_epic(github, external_id=GITHUB_ISSUE_ID, status="in_progress", at=datetime(2024, 5, 1, tzinfo=UTC))
    serve_issue(httpserver, github_issue(labels=("bug",), updated="2024-05-11T08:00:00Z"))

    deliver(github, GITHUB_BODY, fixture_headers("github"))
    queue.run()

    epic.refresh_from_db()
    assert epic.tracker_missing_reason == "moved"


def test_an_unknown_item_the_api_does_not_find_creates_nothing(github, httpserver, deliver, queue):
    httpserver.expect_request(ISSUE_PATH).respond_with_json({"message": "Not Found"}, status=404)

    deliver(github, GITHUB_BODY, fixture_headers("github"))
    (delivery,) = queue.run()

    assert delivery.status == "ignored"
    assert not Epic.objects.filter(tracker_connection_id=github.pk).exists()


def test_a_marked_epic_that_comes_back_is_unmarked(github, httpserver, deliver, queue):
    epic = known_epic(github, external_id=GITHUB_ISSUE_ID, status="in_progress", at=datetime(2024, 5, 1, tzinfo=UTC))
    body = github_event(action="transferred")
    deliver(github, body, github_headers(body, delivery="moved"))
    queue.run()

    serve_issue(httpserver, github_issue(state="open", updated="2024-05-11T08:00:00Z"))
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    queue.run()

    epic.refresh_from_db()
    assert (epic.tracker_missing_since, epic.tracker_missing_reason) == (None, "")


def test_a_known_gitlab_epic_the_api_no_longer_finds_is_marked_moved(gitlab, httpserver, deliver, queue):
    at = datetime(2018, 7, 1, tzinfo=UTC)
    epic = known_epic(
        gitlab, external_id=str(GITLAB_EPICS[0]["id"]), status="in_progress", at=at, key=f"&{GITLAB_EPICS[0]['iid']}"
    )
    httpserver.expect_request(GITLAB_EPIC_PATH).respond_with_json({"message": "404 Not found"}, status=404)

    deliver(gitlab, gitlab_work_item_epic(), {**fixture_headers("gitlab"), "X-Gitlab-Event": "Work Item Hook"})
    (delivery,) = queue.run()

    epic.refresh_from_db()
    assert (delivery.status, epic.tracker_missing_reason) == ("processed", "moved")


# --- 9. tracker failures and replay ----------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "words"), [(500, "500"), (401, "401")])
def test_a_tracker_failure_fails_the_delivery_and_a_replay_processes_it(
    answer, words, github, httpserver, deliver, queue, client_for, cast, django_capture_on_commit_callbacks
):
    httpserver.expect_request(ISSUE_PATH).respond_with_json({"message": "nope"}, status=answer)
    deliver(github, GITHUB_BODY, fixture_headers("github"))

    (failed,) = queue.run()

    assert failed.status == "failed"
    assert words in failed.error
    assert failed.processed_at is not None
    assert not Epic.objects.filter(tracker_connection_id=github.pk).exists()

    serve_issue(httpserver, github_issue(state="open", updated="2024-05-11T08:00:00Z"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(cast.owner_a).post(f"{DELIVERIES}{failed.pk}/replay/")

    assert response.status_code == 202, response.content
    assert (response.json()["status"], response.json()["error"]) == ("received", "")
    assert queue.pks == [failed.pk]
    (replayed,) = queue.run()
    assert (replayed.status, replayed.error, replayed.attempts) == ("processed", "", 2)
    assert Epic.objects.get(tracker_connection_id=github.pk, external_id=GITHUB_ISSUE_ID).status == "in_progress"


def test_a_busy_tracker_is_retried_within_processing(github, httpserver, deliver, queue):
    calls: list[int] = []
    issue = github_issue(state="open", updated="2024-05-11T08:00:00Z")

    def busy_then_fine(request: Request) -> Response:
        calls.append(1)
        if len(calls) == 1:
            return Response("busy", status=503, headers={"Retry-After": "0"})
        return Response(json.dumps(issue), content_type="application/json")

    httpserver.expect_request(ISSUE_PATH).respond_with_handler(busy_then_fine)
    deliver(github, GITHUB_BODY, fixture_headers("github"))

    (delivery,) = queue.run()

    assert delivery.status == "processed"
    assert len(calls) == 2


def test_unreadable_credentials_fail_the_delivery_instead_of_leaving_it_received(github, deliver, queue):
    unreadable = Fernet(Fernet.generate_key()).encrypt(b'{"token": "x"}').decode()
    Connection.objects.filter(pk=github.pk).update(credentials_encrypted=unreadable)
    deliver(github, GITHUB_BODY, fixture_headers("github"))

    (delivery,) = queue.run()

    assert delivery.status == "failed"
    assert delivery.error


# --- 10. the deliveries list -----------------------------------------------------------------------------------


@pytest.fixture
def some_deliveries(make_connection: Callable[..., Connection]) -> dict[str, WebhookDelivery]:
    gh, gl = make_connection("github"), make_connection("gitlab")
    create = WebhookDelivery.objects.create
    return {
        "gh-processed": create(connection=gh, delivery_id="d1", event="issues", status="processed"),
        "gh-ignored": create(connection=gh, delivery_id="d2", event="ping", status="ignored"),
        "gl-failed": create(connection=gl, delivery_id="d3", event="Issue Hook", status="failed"),
    }


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("manager", ["owner_a", "admin_a"])
def test_managers_list_their_companys_deliveries_with_filters(manager, some_deliveries, cast, client_for):
    client = client_for(getattr(cast, manager))
    d = some_deliveries
    cast_delivery = cast.strategic_a["webhook_delivery"]
    github_id = d["gh-processed"].connection_id

    assert _ids(client.get(DELIVERIES)) == {row.pk for row in d.values()} | {cast_delivery.pk}
    assert _ids(client.get(DELIVERIES, {"status": "ignored"})) == {d["gh-ignored"].pk}
    assert _ids(client.get(DELIVERIES, {"status": ["ignored", "failed"]})) == {d["gh-ignored"].pk, d["gl-failed"].pk}
    assert _ids(client.get(DELIVERIES, {"event": "issues"})) == {d["gh-processed"].pk}
    assert _ids(client.get(DELIVERIES, {"event": "ISSUE HOOK"})) == {d["gl-failed"].pk}  # case-insensitive
    assert _ids(client.get(DELIVERIES, {"connection_id": github_id})) == {d["gh-processed"].pk, d["gh-ignored"].pk}
    assert _ids(client.get(DELIVERIES, {"connection_id": github_id, "status": "processed"})) == {d["gh-processed"].pk}
    detail = client.get(f"{DELIVERIES}{d['gh-processed'].pk}/")
    assert detail.status_code == 200
    assert detail.json()["delivery_id"] == "d1"


def test_filters_refuse_another_companys_connection_and_unknown_values(some_deliveries, cast, client_for):
    client = client_for(cast.owner_a)

    assert_invalid(client.get(DELIVERIES, {"connection_id": cast.strategic_b["connection"].pk}), "connection_id")
    assert_invalid(client.get(DELIVERIES, {"status": "exploded"}), "status")
    assert_invalid(client.get(DELIVERIES, {"colour": "red"}), "colour")


@pytest.mark.parametrize("role", ["member_a", "viewer_a"])
def test_members_and_viewers_may_not_see_or_replay_deliveries(role, some_deliveries, cast, client_for, queue):
    client = client_for(getattr(cast, role))
    delivery = some_deliveries["gl-failed"]

    assert_error(client.get(DELIVERIES), 403)
    assert_error(client.get(f"{DELIVERIES}{delivery.pk}/"), 403)
    assert_error(client.post(f"{DELIVERIES}{delivery.pk}/replay/"), 403)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert queue.pks == []


def test_another_company_sees_none_of_as_deliveries(some_deliveries, cast, client_for, queue):
    client = client_for(cast.owner_b)
    delivery = some_deliveries["gl-failed"]
    bravo = "/api/v1/companies/bravo/webhook-deliveries/"

    assert _ids(client.get(bravo)) == {cast.strategic_b["webhook_delivery"].pk}
    assert_error(client.get(f"{bravo}{delivery.pk}/"), 404)
    assert_error(client.post(f"{bravo}{delivery.pk}/replay/"), 404)
    assert client.get(f"{DELIVERIES}{delivery.pk}/").status_code in (403, 404)
    assert client.post(f"{DELIVERIES}{delivery.pk}/replay/").status_code in (403, 404)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert queue.pks == []


# --- 11. the connection API ------------------------------------------------------------------------------------


def test_the_webhook_secret_is_write_only_and_turns_webhooks_on_and_off(cast, client_for, deliver, queue):
    connection = cast.strategic_a["connection"]  # company A's Jira connection, no secret yet
    url = f"/api/v1/companies/alpha/connections/{connection.pk}/"
    client = client_for(cast.owner_a)
    example = JIRA["inline_example"]
    body = example["body"].encode()
    headers = {"X-Hub-Signature": example["X-Hub-Signature"], "X-Atlassian-Webhook-Identifier": "api-1"}

    shown = client.get(url).json()
    assert "webhook_secret" not in shown
    assert shown["webhook_configured"] is False
    assert shown["webhook_url"].endswith(f"/api/v1/hooks/{connection.pk}/")
    assert shown["webhook_url"].startswith("http")
    assert_error(deliver(connection, body, headers), 401)

    turned_on = client.patch(url, {"webhook_secret": JIRA["secret"]}, format="json")

    assert turned_on.status_code == 200, turned_on.content
    assert "webhook_secret" not in turned_on.json()
    assert JIRA["secret"] not in turned_on.content.decode()
    assert turned_on.json()["webhook_configured"] is True
    connection.refresh_from_db()
    assert JIRA["secret"] not in connection.webhook_secret_encrypted
    assert decrypt(connection.webhook_secret_encrypted) == {"secret": JIRA["secret"]}
    listed = client.get("/api/v1/companies/alpha/connections/")
    assert all("webhook_secret" not in row for row in listed.json()["results"])
    assert JIRA["secret"] not in listed.content.decode()
    assert deliver(connection, body, headers).status_code == 202

    turned_off = client.patch(url, {"webhook_secret": ""}, format="json")

    assert turned_off.status_code == 200, turned_off.content
    assert turned_off.json()["webhook_configured"] is False
    connection.refresh_from_db()
    assert connection.webhook_secret_encrypted == ""
    assert_error(deliver(connection, body, {**headers, "X-Atlassian-Webhook-Identifier": "api-2"}), 401)


def test_a_short_webhook_secret_is_refused(cast, client_for):
    connection = cast.strategic_a["connection"]
    url = f"/api/v1/companies/alpha/connections/{connection.pk}/"

    response = client_for(cast.owner_a).patch(url, {"webhook_secret": "fifteen-chars.."}, format="json")

    assert_invalid(response, "webhook_secret")
    connection.refresh_from_db()
    assert connection.webhook_secret_encrypted == ""
    assert client_for(cast.owner_a).patch(url, {"webhook_secret": "sixteen-chars..."}, format="json").status_code == 200


def test_leaving_the_secret_out_keeps_it(cast, client_for):
    connection = cast.strategic_a["connection"]
    connection_update(connection=connection, webhook_secret=JIRA["secret"])
    url = f"/api/v1/companies/alpha/connections/{connection.pk}/"

    response = client_for(cast.owner_a).patch(url, {"name": "Renamed Jira"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["webhook_configured"] is True
    connection.refresh_from_db()
    assert decrypt(connection.webhook_secret_encrypted) == {"secret": JIRA["secret"]}


def test_the_connection_history_never_records_the_secret(cast):
    connection = cast.strategic_a["connection"]
    connection_update(connection=connection, webhook_secret=JIRA["secret"])

    for row in connection.history.all().values():
        assert "webhook_secret_encrypted" not in row
        assert all(JIRA["secret"] not in str(value) for value in row.values())


def test_a_secret_given_when_connecting_works_at_once(cast, client_for, deliver, queue):
    body = {
        "name": "Jira with webhooks",
        "kind": "jira",
        "base_url": "https://alpha.atlassian.net",
        "credentials": {"email": "bot@alpha.example", "api_token": "alpha-jira-token-0123456789"},
        "scope": {"jql": "issuetype = Epic"},
        "webhook_secret": JIRA["secret"],
    }

    created = client_for(cast.owner_a).post("/api/v1/companies/alpha/connections/", body, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["webhook_configured"] is True
    assert "webhook_secret" not in created.json()
    example = JIRA["inline_example"]
    headers = {"X-Hub-Signature": example["X-Hub-Signature"], "X-Atlassian-Webhook-Identifier": "new-1"}
    assert deliver(created.json()["id"], example["body"].encode(), headers).status_code == 202


# --- 12. redelivered processing tasks --------------------------------------------------------------------------


def test_processing_a_delivery_twice_does_nothing_the_second_time(github, httpserver, deliver, queue):
    serve_issue(httpserver, github_issue(state="open", updated="2024-05-11T08:00:00Z"))
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    (pk,) = queue.pks
    first = delivery_process(pk)
    changes = StatusChange.objects.count()
    epics = list(Epic.objects.filter(tracker_connection_id=github.pk).values())
    calls = len(httpserver.log)

    again = delivery_process(pk)

    assert (first.status, again.status) == ("processed", "processed")
    assert (again.attempts, again.processed_at) == (1, first.processed_at)
    assert len(httpserver.log) == calls  # the tracker was not asked again
    assert StatusChange.objects.count() == changes
    assert list(Epic.objects.filter(tracker_connection_id=github.pk).values()) == epics


def test_a_redelivered_task_for_a_failed_delivery_does_nothing(github, httpserver, deliver, queue):
    httpserver.expect_request(ISSUE_PATH).respond_with_json({"message": "nope"}, status=401)
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    (failed,) = queue.run()
    calls = len(httpserver.log)

    again = delivery_process(failed.pk)

    assert (again.status, again.attempts, len(httpserver.log)) == ("failed", 1, calls)


def test_the_processing_task_runs_delivery_process_and_a_redelivery_does_nothing(github, httpserver, deliver, queue):
    serve_issue(httpserver, github_issue(state="open", updated="2024-05-11T08:00:00Z"))
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    (pk,) = queue.pks

    assert REAL_TASK.run(pk) == "processed"
    calls = len(httpserver.log)
    assert REAL_TASK.run(pk) == "processed"  # the broker delivered the message again

    delivery = WebhookDelivery.objects.get(pk=pk)
    assert (delivery.attempts, len(httpserver.log)) == (1, calls)
    assert delivery.processed_at is not None and delivery.processed_at >= delivery.received_at


def test_the_task_tries_a_busy_tracker_again_later_then_gives_up(github, httpserver, deliver, queue, settings):
    """The session's own retries ran out: the task retries with growing waits, then records the failure."""
    httpserver.expect_request(ISSUE_PATH).respond_with_data("busy", status=503)
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    (pk,) = queue.pks

    result = REAL_TASK.apply(args=(pk,))  # eager: each retry runs at once

    delivery = WebhookDelivery.objects.get(pk=pk)
    assert result.get(propagate=False) == "failed"
    assert (delivery.status, delivery.attempts) == ("failed", 5)  # the first try and four retries
    assert "503" in delivery.error


def test_the_task_applies_the_item_once_the_tracker_answers_again(github, httpserver, deliver, queue):
    answers = iter([Response("busy", status=503)] * 5 + [None])
    issue = github_issue(state="open", updated="2024-05-11T08:00:00Z")

    def busy_for_a_while(request: Request) -> Response:
        answer = next(answers, None)
        return answer or Response(json.dumps(issue), content_type="application/json")

    httpserver.expect_request(ISSUE_PATH).respond_with_handler(busy_for_a_while)
    deliver(github, GITHUB_BODY, fixture_headers("github"))
    (pk,) = queue.pks

    assert REAL_TASK.apply(args=(pk,)).get() == "processed"
    delivery = WebhookDelivery.objects.get(pk=pk)
    assert (delivery.attempts, delivery.error) == (2, "")  # the session's 5 tries failed once, the task's retry won


def test_an_unreadable_webhook_secret_is_a_503_that_stores_nothing(github, deliver):
    unreadable = Fernet(Fernet.generate_key()).encrypt(b'{"secret": "x"}').decode()
    Connection.objects.filter(pk=github.pk).update(webhook_secret_encrypted=unreadable)
    before = WebhookDelivery.objects.count()

    response = deliver(github, GITHUB_BODY, fixture_headers("github"))

    assert assert_error(response, 503)["code"] == "webhook_secret_unreadable"
    assert WebhookDelivery.objects.count() == before


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["jira", "github", "gitlab", "linear"]),
    event=st.sampled_from(
        ["issues", "milestone", "ping", "jira:issue_updated", "jira:issue_deleted", "Issue Hook", ""]
    ),
    payload=ANY_JSON,
)
def test_any_json_body_reads_to_a_hint_and_never_crashes(kind, event, payload):
    from integrations import webhooks

    hint = webhooks.read(kind, event, payload)
    assert isinstance(hint, webhooks.Hint)
    assert bool(hint.ignore) or bool(hint.ref) or bool(hint.gone)
    assert all(isinstance(part, str) for part in webhooks.event_name(kind, {}, payload))

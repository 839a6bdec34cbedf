"""Response keys: every JSON body the API answers with is held against a reviewed allowlist.

Every route of ``api_routes()`` is called by company A's owner with the route's valid body
(``VALID_BODIES``), and the keys of the JSON answer are collected as dotted paths: ``[]``
marks the items of a list (``results[].owner.id``) and ``*`` the entries of a map keyed by
data (``flow_time_by_type.*.p50_days``). An object the schema documents as free-form (a
tracker's payload, a connection's scope, the rules of a status map) counts as one key: what
is inside is the company's or the tracker's data, not a field of ours. A null object or an
empty list adds the keys its schema documents, so the list does not depend on which rows
happen to exist; a recursive object (an objective's children) is checked where it first
appears.

The keys must be exactly those in ``tests/fixtures/response_keys.json``. A new key fails:
review what it shows, then update the file. A key whose name looks like a secret fails
unless ``HARMLESS`` says why it is not one, and its values prove it. No answer contains a
stored secret (tracker credentials, webhook signing secrets, Slack URLs, API keys and their
digests, password hashes, the server's own keys) except the one the route shows on purpose,
once, and that one is checked to be the real thing.

To rewrite the file after a reviewed change (secret-looking keys still fail)::

    UPDATE_RESPONSE_KEYS=1 .venv/bin/pytest tests/test_response_keys.py

then read the diff of ``tests/fixtures/response_keys.json`` before committing it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from rest_framework.test import APIClient

from integrations.models import Connection, SlackWebhook, WebhookEndpoint
from integrations.outbound import endpoint_secret
from integrations.secrets import decrypt, encrypt
from outcomes import keys
from outcomes.choices import APIKeyScope
from outcomes.models import APIKey, User
from outcomes.services.api_keys import api_key_create
from tests.api_routes import VALID_BODIES, Route, api_routes, openapi_schema, schema_operation, url_for
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.test_role_matrix import CALLS_OUT

ROUTES = api_routes()
ALLOWLIST_FILE = Path(__file__).parent / "fixtures" / "response_keys.json"
UPDATING = os.environ.get("UPDATE_RESPONSE_KEYS", "") not in {"", "0", "false", "no"}

# Routes that answer something other than a JSON body; every DELETE answers 204 with no body.
NOT_JSON: dict[tuple[str, str], str] = {
    ("GET", "schema"): "the OpenAPI document as YAML, pinned by docs/openapi.yaml",
    ("GET", "swagger-ui"): "an HTML page",
    ("GET", "redoc"): "an HTML page",
}

SECRET_LOOKING = re.compile(r"secret|token|password|passwd|hash|digest|pepper|private|credential|api_?key", re.I)
HINT = re.compile(r"^(….{1,4})?$")  # "" or "…" and at most the last four characters
KEY_PREFIX = re.compile(rf"^{re.escape(keys.PREFIX)}[0-9A-Za-z]{{{keys.KEY_ID_LENGTH}}}$")
PUBLIC_KEY_FIELDS = {
    "id",
    "name",
    "prefix",
    "scope",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "created",
    "created_by",
}
PUBLIC_KEY_FIELDS |= {"is_active"}


def _timestamp_or_null(value: Any) -> bool:
    if value is None:
        return True
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True


# Keys whose names look like secrets but are not, each with the test its every value must pass.
HARMLESS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "credential_hint": (
        "'…' and the last four characters of a tracker credential, to tell credentials apart",
        lambda value: isinstance(value, str) and HINT.match(value) is not None,
    ),
    "credentials_configured": ("whether a connection has credentials: a boolean", lambda v: isinstance(v, bool)),
    "credentials_updated": ("when a connection's credentials were last set", _timestamp_or_null),
    "secret_hint": (
        "'…' and the last four characters of a webhook endpoint's signing secret",
        lambda value: isinstance(value, str) and HINT.match(value) is not None,
    ),
    "digest": (
        "notification preferences: whether the person gets the weekly e-mail digest (a boolean, not a hash)",
        lambda value: isinstance(value, bool),
    ),
    "digest_weekday": ("notification preferences: the weekday of that digest, 0-6", lambda v: v in range(7)),
    "digest_hour": ("notification preferences: the hour of that digest, 0-23", lambda v: v in range(24)),
    "api_key": (
        "/me: the key in use, as its id, name, scope and public prefix (never the key or its digest)",
        lambda value: value is None or (isinstance(value, dict) and set(value) <= PUBLIC_KEY_FIELDS),
    ),
    "actor_api_key_prefix": (
        "audit trails: the public prefix (okr_ + the 10-character lookup id) of the key that made a change",
        lambda value: value in (None, "") or (isinstance(value, str) and KEY_PREFIX.match(value) is not None),
    ),
    "author_api_key_prefix": (
        "audit trails: the public prefix of the key that wrote a version or a value",
        lambda value: value in (None, "") or (isinstance(value, str) and KEY_PREFIX.match(value) is not None),
    ),
}
# The routes that show a secret on purpose: once, when it is made. The test checks it is the real one.
SHOWN_ONCE: dict[tuple[str, str], str] = {
    ("POST", "v1:api-key-list"): "key",  # the new API key; only its digest is stored
    ("POST", "v1:webhook-endpoint-list"): "secret",  # the new endpoint's signing secret
    ("POST", "v1:webhook-endpoint-rotate-secret"): "secret",  # the endpoint's new signing secret
}


# --- calling a route -----------------------------------------------------------------------------------------
RECEIVE = ("POST", "v1:webhook-receive")
RECEIVE_SECRET = "alpha-jira-webhook-secret-0123456789"
NEWCOMER = "newcomer@example.test"  # the person VALID_BODIES invites


def caller_of(route: Route, cast: Cast) -> User:
    """Company A's owner, except where only the recipient may act (reminders are snoozed by their recipient)."""
    if route.key == ("POST", "v1:reminder-snooze"):
        return cast.member_a
    return cast.owner_a


def prepare(route: Route, cast: Cast, request: pytest.FixtureRequest) -> None:
    """Put company A where the route succeeds: the invited person exists, calls out reach a local receiver,
    and the tracker connection has a webhook secret to sign deliveries with."""
    UserFactory(email=NEWCOMER)
    if route.key in CALLS_OUT:
        server = request.getfixturevalue("httpserver")
        request.getfixturevalue("settings").TRACKER_ALLOW_PRIVATE_URLS = True
        server.expect_request("/slack", method="POST").respond_with_data("ok")
        server.expect_request("/endpoint", method="POST").respond_with_data("ok")
        slack = encrypt({"url": server.url_for("/slack")})
        SlackWebhook.objects.filter(company=cast.company_a).update(url_encrypted=slack)
        WebhookEndpoint.objects.filter(company=cast.company_a).update(url=server.url_for("/endpoint"))
    if route.key == RECEIVE:
        connection = cast.strategic_a["connection"]
        Connection.objects.filter(pk=connection.pk).update(webhook_secret_encrypted=encrypt({"secret": RECEIVE_SECRET}))


def tracker_delivery() -> dict[str, Any]:
    """A Jira webhook about an epic, as the tracker would sign and send it."""
    return {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1715678000000,
        "issue": {"id": "10001", "key": "ALPHA-1"},
    }


def valid_body(route: Route, cast: Cast) -> dict[str, Any] | None:
    if route.key == RECEIVE:
        return tracker_delivery()
    return VALID_BODIES[route.key](cast) if route.key in VALID_BODIES else None


def call(route: Route, cast: Cast, body: dict[str, Any] | None, client: APIClient | None = None) -> Any:
    """Call ``route`` on company A's rows as its caller (or as ``client``); a tracker delivery is signed instead."""
    data = "" if body is None else json.dumps(body)
    headers: dict[str, str] = {}
    if route.key == RECEIVE:
        signature = hmac.new(RECEIVE_SECRET.encode(), data.encode(), hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature": f"sha256={signature}", "X-Atlassian-Webhook-Identifier": "alpha-delivery-9"}
    elif client is None:
        client = APIClient()
        client.force_login(caller_of(route, cast))
    client = client or APIClient()
    url = url_for(route, cast)
    return client.generic(route.method, url, data=data, content_type="application/json", headers=headers)


def answers(route: Route, cast: Cast) -> list[Any]:
    """The route's answers to its valid call; ``/me`` also as an API key, which it describes instead of a person."""
    found = [call(route, cast, valid_body(route, cast))]
    if route.key == ("GET", "v1:me"):
        issued = api_key_create(company=cast.company_a, name="Probe", scope=APIKeyScope.READ, created_by=cast.owner_a)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
        found.append(call(route, cast, None, client))
    return found


# --- keys as paths, guided by the schema -------------------------------------------------------------------------
Node = dict[str, Any]


def _component(ref: str) -> Node:
    node: Node = openapi_schema()["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return node


def resolve(node: Any) -> tuple[Node | None, frozenset[str]]:
    """A schema node with ``$ref``, ``allOf``, ``oneOf`` and ``anyOf`` merged, and the components it went through."""
    if node is None:
        return None, frozenset()
    if node is True:
        return {}, frozenset()
    merged: Node = dict(node)
    refs: set[str] = set()
    while "$ref" in merged:
        ref = merged.pop("$ref")
        refs.add(ref)
        merged = {**_component(ref), **merged}
    for part in merged.pop("allOf", []) + merged.pop("oneOf", []) + merged.pop("anyOf", []):
        resolved, more = resolve(part)
        refs |= more
        if resolved:
            properties = {**merged.get("properties", {}), **resolved.get("properties", {})}
            merged = {**resolved, **merged}
            if properties:
                merged["properties"] = properties
    return merged, frozenset(refs)


def _is_map(node: Node) -> bool:
    """An object keyed by data whose values have a documented shape (e.g. per work type)."""
    extra = node.get("additionalProperties")
    return "properties" not in node and isinstance(extra, dict) and bool(extra)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class KeyWalk:
    """Collects the key paths of one JSON body and the values found under each."""

    def __init__(self) -> None:
        self.values: dict[str, list[Any]] = {}

    def add(self, path: str, value: Any = None, *, seen: bool = True) -> None:
        self.values.setdefault(path, [])
        if seen:
            self.values[path].append(value)

    def walk(self, value: Any, node: Any, prefix: str, above: frozenset[str]) -> None:
        schema, refs = resolve(node)
        if schema is not None and refs & above:
            return  # recursive: the same object was checked where it first appeared
        above = above | refs
        if isinstance(value, dict):
            self._object(value, schema, prefix, above)
        elif isinstance(value, list):
            if schema is not None and "items" not in schema:
                return  # documented without a shape: free-form, like a free-form object
            items = None if schema is None else schema["items"]
            if not value and items is not None:
                self.expand(items, prefix + "[]", above)
            for item in value:
                self.walk(item, items, prefix + "[]", above)
        elif value is None and schema:
            self.expand(schema, prefix, above)

    def _object(self, value: dict[str, Any], schema: Node | None, prefix: str, above: frozenset[str]) -> None:
        if schema is None:  # not documented: every key counts
            for name, item in value.items():
                self.add(_join(prefix, name), item)
                self.walk(item, None, _join(prefix, name), above)
            return
        if _is_map(schema):
            path = _join(prefix, "*")
            self.add(path, seen=False)
            if not value:
                self.expand(schema["additionalProperties"], path, above)
            for item in value.values():
                self.add(path, item)
                self.walk(item, schema["additionalProperties"], path, above)
            return
        properties = schema.get("properties")
        if not properties:
            return  # free-form: the content is data, not keys of ours
        for name, item in value.items():
            self.add(_join(prefix, name), item)
            self.walk(item, properties.get(name), _join(prefix, name), above)

    def expand(self, node: Any, prefix: str, above: frozenset[str]) -> None:
        """Add the keys the schema documents under ``prefix`` (for a null object or an empty list)."""
        schema, refs = resolve(node)
        if schema is None or refs & above:
            return
        above = above | refs
        if "items" in schema:
            self.expand(schema["items"], prefix + "[]", above)
        elif _is_map(schema):
            self.add(_join(prefix, "*"), seen=False)
            self.expand(schema["additionalProperties"], _join(prefix, "*"), above)
        for name, child in (schema.get("properties") or {}).items():
            self.add(_join(prefix, name), seen=False)
            self.expand(child, _join(prefix, name), above)


def response_schema(route: Route, status: int) -> Any:
    responses = schema_operation(route)["responses"]
    documented = responses.get(str(status)) or responses.get("default") or {}
    return documented.get("content", {}).get("application/json", {}).get("schema")


def key_paths(route: Route, response: Any) -> KeyWalk:
    walk = KeyWalk()
    walk.walk(response.json(), response_schema(route, response.status_code), "", frozenset())
    return walk


def secret_looking_problems(route: Route, walk: KeyWalk) -> list[str]:
    """Keys that look like secrets and are not explained, or whose values break the explanation."""
    problems = []
    for path, values in sorted(walk.values.items()):
        if path == SHOWN_ONCE.get(route.key):
            continue
        for segment in path.replace("[]", "").split("."):
            if not SECRET_LOOKING.search(segment):
                continue
            if segment not in HARMLESS:
                problems.append(f"{path}: looks like a secret and is not in HARMLESS")
            elif segment == path.replace("[]", "").split(".")[-1]:
                _reason, harmless = HARMLESS[segment]
                problems += [
                    f"{path}: {value!r} is not what HARMLESS allows" for value in values if not harmless(value)
                ]
    return problems


# --- secrets that must never be in an answer ---------------------------------------------------------------------
def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield str(name)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def stored_secrets(cast: Cast) -> set[str]:
    """Every secret the database and the settings hold: encrypted columns (as stored and decrypted), API keys
    and their digests, password hashes, and the server's keys."""
    found: set[str] = {cast.raw_key_a, cast.raw_key_b, settings.SECRET_KEY, settings.API_KEY_PEPPER}
    found |= {str(key) for key in settings.FIELD_ENCRYPTION_KEYS}
    for model in apps.get_models():
        columns = [f.attname for f in model._meta.concrete_fields if f.attname.endswith("_encrypted")]
        for row in model._default_manager.values_list(*columns) if columns else []:
            for token in filter(None, row):
                found |= {token, *(str(value) for value in decrypt(token).values())}
    found |= set(APIKey.objects.values_list("digest", flat=True))
    found |= {password for password in User.objects.values_list("password", flat=True) if password}
    return {secret for secret in found if len(secret) >= 8}


def check_shown_once(route: Route, body: Any) -> Any:
    """The secret a route shows on purpose is the real one; the rest of the body is returned for scanning."""
    name = SHOWN_ONCE[route.key]
    shown = body.pop(name)
    if route.key == ("POST", "v1:api-key-list"):
        parsed = keys.parse(shown)
        assert parsed is not None, "the new key has the documented format"
        stored = APIKey.objects.get(pk=body["id"])
        assert (stored.key_id, stored.digest) == (parsed.key_id, keys.digest(shown))
    else:
        assert shown == endpoint_secret(WebhookEndpoint.objects.get(pk=body["id"]))
    return body


def leaked(route: Route, response: Any, secrets: set[str]) -> list[str]:
    if response.get("Content-Type", "").startswith("application/json") and response.content:
        body = json.loads(response.content)
        if route.key in SHOWN_ONCE:
            body = check_shown_once(route, body)
        texts = list(_strings(body))
    else:
        texts = [response.content.decode(errors="replace")]
    return sorted({secret[:12] + "…" for secret in secrets for text in texts if secret in text})


# --- the allowlist file ------------------------------------------------------------------------------------------
def load_allowlist() -> dict[str, list[str]]:
    loaded: dict[str, list[str]] = json.loads(ALLOWLIST_FILE.read_text()) if ALLOWLIST_FILE.exists() else {}
    return loaded


@contextlib.contextmanager
def editing_allowlist() -> Iterator[dict[str, list[str]]]:
    """Read, change and write the file under a lock (parallel workers update it together)."""
    with open(Path(tempfile.gettempdir()) / "okr-response-keys.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        allowlist = load_allowlist()
        yield allowlist
        text = json.dumps({name: sorted(allowlist[name]) for name in sorted(allowlist)}, indent=1) + "\n"
        ALLOWLIST_FILE.write_text(text)


ALLOWLIST = load_allowlist()


def has_json_body(route: Route) -> bool:
    return route.method != "DELETE" and route.key not in NOT_JSON


# --- the tests ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_response_keys_are_allowlisted_and_no_secret_is_shown(route: Route, cast: Cast, request: pytest.FixtureRequest):
    prepare(route, cast, request)
    secrets = stored_secrets(cast)
    found = answers(route, cast)
    secrets |= stored_secrets(cast)
    for response in found:
        assert 200 <= response.status_code < 300, (route, response.status_code, response.content[:300])
        assert leaked(route, response, secrets) == [], f"{route} shows stored secrets"
    if not has_json_body(route):
        for response in found:
            assert not response.get("Content-Type", "").startswith("application/json"), route
            if route.method == "DELETE":
                assert (response.status_code, response.content) == (204, b"")
        return
    walk = KeyWalk()
    for response in found:
        assert response["Content-Type"] == "application/json", route
        for path, values in key_paths(route, response).values.items():
            walk.values.setdefault(path, []).extend(values)
    problems = secret_looking_problems(route, walk)
    assert problems == [], "\n".join(problems)
    observed = sorted(walk.values)
    if UPDATING:
        with editing_allowlist() as allowlist:
            allowlist[str(route)] = observed
        return
    allowed = ALLOWLIST.get(str(route), [])
    new, gone = sorted(set(observed) - set(allowed)), sorted(set(allowed) - set(observed))
    assert not new, (
        f"{route} answers with keys nobody has reviewed: {new}. Check that none of them exposes something "
        "private, then update tests/fixtures/response_keys.json (UPDATE_RESPONSE_KEYS=1, see this module)."
    )
    assert not gone, f"{route} no longer answers with {gone}: remove them from tests/fixtures/response_keys.json."


def test_the_allowlist_covers_every_route_with_a_json_body():
    with_body = {str(route) for route in ROUTES if has_json_body(route)}
    without = [route for route in ROUTES if not has_json_body(route)]
    assert len(with_body) + len(without) == len(ROUTES)
    assert set(NOT_JSON) <= {route.key for route in ROUTES}, "NOT_JSON names a route that does not exist"
    if UPDATING:
        with editing_allowlist() as allowlist:
            for stale in set(allowlist) - with_body:
                del allowlist[stale]
        return
    assert sorted(with_body - set(ALLOWLIST)) == [], "routes without an allowlist: run with UPDATE_RESPONSE_KEYS=1"
    assert sorted(set(ALLOWLIST) - with_body) == [], "the allowlist names routes that no longer exist"


def test_the_explained_keys_are_few_and_still_used():
    if UPDATING:
        return  # the file is being rewritten by the tests above
    used = {
        segment
        for paths in ALLOWLIST.values()
        for path in paths
        for segment in path.replace("[]", "").split(".")
        if SECRET_LOOKING.search(segment)
    }
    shown_once = {(route, SHOWN_ONCE[route]) for route in SHOWN_ONCE}
    assert used - set(HARMLESS) <= {name for _route, name in shown_once}
    assert set(HARMLESS) <= used, f"HARMLESS explains keys no answer has any more: {set(HARMLESS) - used}"
    for route_key, name in shown_once:
        route = f"{route_key[0]} {route_key[1]}"
        assert name in ALLOWLIST[route], f"{route} no longer shows {name!r}: remove it from SHOWN_ONCE"


@pytest.mark.parametrize(
    ("route", "path", "value"),
    [
        ("GET v1:connection-detail", "credentials", {"api_token": "x"}),
        ("GET v1:webhook-endpoint-list", "results[].secret", "whsec_x"),
        ("GET v1:me", "api_key.digest", "ab" * 32),
        ("GET v1:team-list", "results[].lead.password", "md5$x"),
        ("GET v1:connection-detail", "credential_hint", "alpha-jira-token-0123456789"),
    ],
)
def test_a_secret_looking_key_or_value_would_be_caught(route: str, path: str, value: Any):
    method, name = route.split(" ")
    walk = KeyWalk()
    walk.add(path, value)
    assert secret_looking_problems(Route(method, name, ()), walk) != []


def test_a_stored_secret_in_an_answer_would_be_caught(cast: Cast):
    from django.http import JsonResponse

    secrets = stored_secrets(cast)
    cast_secrets = ["alpha-jira-token-0123456789", "whsec_alpha-secret", "hooks.slack.invalid/services/T0ALPHA"]
    for secret in cast_secrets:
        assert any(secret in stored for stored in secrets), f"{secret} is not among the secrets scanned for"
    digest = APIKey.objects.filter(company=cast.company_a).values_list("digest", flat=True)[0]
    route = Route("GET", "v1:team-list", ("company_slug",))
    for value in [cast.raw_key_a, digest, next(s for s in secrets if "hooks.slack.invalid" in s)]:
        assert leaked(route, JsonResponse({"note": f"see {value}."}), secrets) != []
        assert leaked(route, JsonResponse({value: 1}), secrets) != []

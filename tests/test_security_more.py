"""API keys, throttles and production settings, across every route.

* A key made through the API has the documented format (``okr_``, 30 base62 characters and a
  6-character CRC32 checksum), is stored only as its HMAC-SHA256 digest, and works.
* A malformed key is a 401 before any database query, whatever the shape of the mistake.
* A revoked or an expired key is a 401 on every route, and nothing changes.
* Every throttle (each rate in ``REST_FRAMEWORK`` and the web sign-in lockout) answers 429 with a
  whole number of seconds in ``Retry-After``; syncing now and inviting people spend the caller's
  budget like any other call.
* CI runs ``manage.py check --deploy`` with production settings, and production authenticates
  with API keys and sessions only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import string
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from config.api.throttling import AnonymousRateThrottle, PrincipalRateThrottle
from outcomes.choices import APIKeyScope
from outcomes.models import APIKey, Membership
from outcomes.services.api_keys import api_key_create, api_key_revoke
from tests.api_routes import Route, api_routes, url_for, view_of
from tests.conftest import Cast
from tests.test_auth import MALFORMED, flip_last
from tests.test_cross_company import snapshot_of
from tests.test_response_keys import RECEIVE, valid_body
from tests.test_role_matrix import CALLERS

BASE_DIR = Path(__file__).resolve().parent.parent
A = "/api/v1/companies/alpha"
DOCUMENTED_KEY = re.compile(r"^okr_[0-9A-Za-z]{36}$")
BASE62 = string.digits + string.ascii_letters


def crc32_base62(text: str) -> str:
    """The documented checksum, computed here from scratch: CRC32 of the random part in six base62 digits."""
    number, digits = zlib.crc32(text.encode()), []
    for _ in range(6):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


# --- the key format ----------------------------------------------------------------------------------------------
def test_a_key_made_through_the_api_has_the_documented_format_and_is_stored_only_as_a_digest(cast, client_for):
    made = client_for(cast.owner_a).post(f"{A}/api-keys/", {"name": "Format probe", "scope": "read"}, format="json")

    assert made.status_code == 201, made.content
    raw = made.json()["key"]
    assert DOCUMENTED_KEY.match(raw) and len(raw) == 40
    random_part, checksum = raw[4:34], raw[34:]
    assert checksum == crc32_base62(random_part)
    assert made.json()["prefix"] == raw[:14]

    row = APIKey.objects.get(pk=made.json()["id"])
    assert row.digest == hmac.new(settings.API_KEY_PEPPER.encode(), raw.encode(), hashlib.sha256).hexdigest()
    stored = [str(value) for value in APIKey.objects.filter(pk=row.pk).values().get().values()]
    stored += [str(value) for past in row.history.values() for value in past.values()]
    assert not [value for value in stored if random_part[10:] in value], "the secret part of the key is stored"

    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    answer = me.get("/api/v1/me/")
    assert answer.status_code == 200
    assert answer.json()["api_key"]["prefix"] == raw[:14]
    assert raw not in answer.content.decode()


def test_every_generated_key_passes_the_documented_checksum():
    from outcomes import keys

    for _ in range(200):
        raw = keys.generate().raw
        assert DOCUMENTED_KEY.match(raw)
        assert raw[34:] == crc32_base62(raw[4:34])


# --- malformed keys ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [*MALFORMED, "wrong_checksum", "checksum_of_another_key"])
def test_a_malformed_key_is_a_401_without_a_database_query(kind, cast, django_assert_num_queries):
    if kind == "wrong_checksum":
        raw = flip_last(cast.raw_key_a)
    elif kind == "checksum_of_another_key":
        raw = cast.raw_key_a[:34] + cast.raw_key_b[34:]
    else:
        raw = MALFORMED[kind]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    with django_assert_num_queries(0):
        response = client.get(f"{A}/teams/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "authentication_failed"


# --- revoked and expired keys on every route ---------------------------------------------------------------------
METHODS = sorted({route.method for route in api_routes()})


def _refused_keys(cast: Cast) -> dict[str, str]:
    revoked = api_key_create(company=cast.company_a, name="Revoked", scope=APIKeyScope.WRITE, created_by=cast.owner_a)
    api_key_revoke(api_key=revoked.api_key, revoked_by=cast.owner_a)
    expired = api_key_create(company=cast.company_a, name="Expired", scope=APIKeyScope.WRITE, created_by=cast.owner_a)
    APIKey.objects.filter(pk=expired.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return {"revoked": revoked.raw, "expired": expired.raw}


# The schema and documentation pages render YAML or HTML, so their 401 carries the generic JSON error
# ("Unauthorized.") rather than the key's problem.
GENERIC_401 = {("GET", "schema"), ("GET", "swagger-ui"), ("GET", "redoc")}


def _not_refused(route: Route, kind: str, response: Any) -> str | None:
    if response.status_code != 401:
        return f"{route} with a {kind} key: {response.status_code} {response.content[:120]!r}"
    if route.key == RECEIVE:
        return None  # no key is read there: the tracker's signature is missing, which is the 401
    if response["WWW-Authenticate"] != 'Bearer realm="api"':
        return f"{route} with a {kind} key: 401 without the Bearer challenge"
    if route.key not in GENERIC_401 and kind not in response.json()["detail"].lower():
        return f"{route} with a {kind} key: 401 for another reason: {response.content[:120]!r}"
    return None


@pytest.mark.parametrize("method", METHODS)
def test_revoked_and_expired_keys_are_a_401_on_every_route(method: str, cast: Cast):
    refused = _refused_keys(cast)
    routes = [route for route in api_routes() if route.method == method]
    calls = [(route, url_for(route, cast), valid_body(route, cast)) for route in routes]  # may add rows to delete
    before = snapshot_of(cast.company_a), snapshot_of(cast.company_b)
    problems = []
    for route, url, body in calls:
        for kind, raw in refused.items():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            data = "" if body is None else json.dumps(body)
            response = client.generic(method, url, data=data, content_type="application/json")
            if (problem := _not_refused(route, kind, response)) is not None:
                problems.append(problem)
    assert problems == []
    assert (snapshot_of(cast.company_a), snapshot_of(cast.company_b)) == before
    assert APIKey.objects.filter(revoked_at__isnull=False, last_used_at__isnull=False).count() == 0


def test_the_role_matrix_calls_every_route_with_both_key_scopes():
    # Scope enforcement per route (read keys act as viewers, write keys as members, neither manages
    # members, keys or the company) is asserted route by route in tests/test_role_matrix.py.
    assert {"key_read", "key_write"} <= set(CALLERS)


# --- throttles ---------------------------------------------------------------------------------------------------
# Views without a throttle, and why.
UNTHROTTLED = {
    "HealthView": "load balancers and monitors probe it all the time",
    "WebhookReceiveView": "trackers deliver in bursts; the signature is checked before anything is stored",
}
SIGN_IN = "web sign-in"


def throttle_scopes() -> set[str]:
    scopes = set(api_settings.DEFAULT_THROTTLE_RATES)
    for route in api_routes():
        view_class: Any = view_of(route)[0]
        scopes |= {throttle.scope for throttle in view_class.throttle_classes}
    return scopes | {SIGN_IN}


def test_every_view_is_throttled_or_says_why_not():
    views: set[Any] = {view_of(route)[0] for route in api_routes()}
    unthrottled = {view.__name__ for view in views if not view.throttle_classes}
    assert unthrottled == set(UNTHROTTLED)


def test_every_throttle_scope_is_exercised_below():
    assert throttle_scopes() == set(THROTTLED_CALLS)


@pytest.fixture
def one_call_a_minute(monkeypatch):
    monkeypatch.setitem(PrincipalRateThrottle.THROTTLE_RATES, "principal", "1/min")
    monkeypatch.setitem(AnonymousRateThrottle.THROTTLE_RATES, "anonymous", "1/min")


def _person(cast: Cast) -> Any:
    client = APIClient()
    client.force_login(cast.member_a)
    return lambda: client.get("/api/v1/me/")


def _key(cast: Cast) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {cast.raw_key_a}")
    return lambda: client.get(f"{A}/teams/")


def _anonymous(cast: Cast) -> Any:
    client = APIClient(REMOTE_ADDR="203.0.113.77")
    return lambda: client.get("/api/v1/")


def _sign_in(cast: Cast) -> Any:
    client = Client()  # a browser's form post
    return lambda: client.post(reverse("web:login"), {"username": cast.member_a.email, "password": "wrong"})


THROTTLED_CALLS = {"principal": [_person, _key], "anonymous": [_anonymous], SIGN_IN: [_sign_in]}


def assert_429_with_retry_after(response: Any) -> None:
    assert response.status_code == 429, response.content[:200]
    assert response["Retry-After"].isdigit() and int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("scope", "make_call"),
    [(scope, make) for scope, makers in THROTTLED_CALLS.items() for make in makers],
    ids=lambda value: value if isinstance(value, str) else value.__name__.strip("_"),
)
def test_every_throttle_answers_429_with_retry_after(scope, make_call, cast, one_call_a_minute):
    call = make_call(cast)
    limit = 5 if scope == SIGN_IN else 1  # five failed sign-ins per address and e-mail
    answers = [call() for _ in range(limit)]
    assert all(answer.status_code < 400 for answer in answers), [a.status_code for a in answers]

    over = call()

    assert_429_with_retry_after(over)
    if scope != SIGN_IN:
        assert over["Content-Type"] == "application/json"
        assert over.json()["code"] == "throttled"


@pytest.mark.parametrize("route_key", [("POST", "v1:connection-sync"), ("POST", "v1:member-list")], ids=str)
def test_syncing_now_and_inviting_spend_the_callers_budget(route_key, cast, client_for, one_call_a_minute):
    from tests.factories import UserFactory

    UserFactory(email="newcomer@example.test")
    route = next(route for route in api_routes() if route.key == route_key)
    client = client_for(cast.owner_a)
    body = valid_body(route, cast)
    first = client.post(url_for(route, cast), body, format="json")
    assert first.status_code in {201, 202}, first.content
    members, runs = Membership.objects.count(), cast.strategic_a["connection"].sync_runs.count()

    second = client.post(url_for(route, cast), body, format="json")

    assert_429_with_retry_after(second)
    assert (Membership.objects.count(), cast.strategic_a["connection"].sync_runs.count()) == (members, runs)


# --- production settings -----------------------------------------------------------------------------------------
def test_ci_runs_the_deploy_check_with_production_settings():
    ci = (BASE_DIR / ".ci" / "run").read_text()
    makefile = (BASE_DIR / "Makefile").read_text()
    target = makefile.split("\ncheck-deploy:", 1)[1].split("\n\n", 1)[0]

    assert re.search(r"^make check-deploy$", ci, re.M)
    assert "manage.py check --deploy --fail-level WARNING" in target
    assert "DEBUG=false" in target and "DJANGO_SETTINGS_MODULE" not in target  # config.settings, not the tests'


def test_production_authenticates_with_api_keys_and_sessions_only():
    from config import settings as production

    assert production.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] == [
        "outcomes.api.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ]
    assert production.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] == ["rest_framework.parsers.JSONParser"]


def test_json_only_rendering_in_production_is_tested_in_a_fresh_process():
    # The renderers depend on DEBUG at start-up, so a subprocess checks them (tests/test_settings_env.py).
    from tests import test_settings_env

    assert callable(test_settings_env.test_production_serves_and_parses_json_only)
    assert callable(test_settings_env.test_deploy_check_passes_with_production_settings)

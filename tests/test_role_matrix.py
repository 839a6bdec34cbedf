"""Function-level authorisation: every /api/ route is in the role table, and the table holds.

For every route and every kind of caller, an allowed call succeeds (2xx) and a
denied one is a 403 (401 for the anonymous). Callers of another company are
covered by the cross-company matrix.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from config.api.roles import PEOPLE, PUBLIC, SIGNATURE, SIGNED_IN
from outcomes.api.permissions import role_table
from outcomes.choices import APIKeyScope, Role
from outcomes.services.api_keys import api_key_create
from tests.api_routes import VALID_BODIES, Route, api_routes, request_serializer_fields, url_for
from tests.conftest import Cast
from tests.factories import UserFactory

ROUTES = api_routes()

# Object rules on top of the role table: an API key has no person, so it can neither own an objective or
# key result nor be on a team. A write key (acting as a member) is refused these writes on the cast's rows.
KEY_CANNOT_WRITE = {
    ("POST", "v1:objective-list"),
    ("PUT", "v1:objective-detail"),
    ("PATCH", "v1:objective-detail"),
    ("DELETE", "v1:objective-detail"),
    ("PUT", "v1:objective-grade"),
    ("POST", "v1:key-result-list"),
    ("PUT", "v1:key-result-detail"),
    ("PATCH", "v1:key-result-detail"),
    ("DELETE", "v1:key-result-detail"),
    ("POST", "v1:epic-review-waive"),  # the epic's owner, or owners and admins: people
    ("POST", "v1:epic-results"),
}
# Members record measurements only of the business outcomes they own; the cast's belongs to the owner.
MEMBER_CANNOT_WRITE = {("POST", "v1:business-outcome-measurements")}
# The loop is closed by the epic's owner or reviewer, or a company owner or admin: not by executives.
EXECUTIVE_CANNOT_WRITE = {("POST", "v1:epic-results"), ("POST", "v1:epic-review-waive")}
OBJECT_RULE_REFUSALS = {
    "key_write": KEY_CANNOT_WRITE,
    "member": MEMBER_CANNOT_WRITE,
    "executive": EXECUTIVE_CANNOT_WRITE,
}
CALLERS = ["anonymous", *Role.values, "key_read", "key_write"]
# Reminders are private to their recipient (the cast's goes to the member); owners, admins and executives
# oversee them all. Others find no such reminder (404); only the recipient snoozes it (403 for overseers).
RECIPIENT, OVERSEERS = "member", {Role.OWNER.value, Role.ADMIN.value, Role.EXECUTIVE.value}
OWN_ROWS_ONLY = {("GET", "v1:reminder-detail"), ("POST", "v1:reminder-snooze")}
# Routes that call the company's own URL: it is pointed at a local receiver for the matrix.
CALLS_OUT = {("POST", "v1:slack-webhook-test"), ("POST", "v1:webhook-endpoint-test")}


def test_every_api_route_is_in_the_role_table():
    missing = [str(route) for route in ROUTES if route.key not in role_table()]
    assert missing == [], f"Declare these routes in an app's api/roles.py: {missing}"


def test_the_role_table_names_only_existing_routes():
    existing = {route.key for route in ROUTES}
    stale = sorted(key for key in role_table() if key not in existing)
    assert stale == []


def test_every_write_route_with_a_body_has_a_valid_example():
    needs_body = [r for r in ROUTES if r.method in {"POST", "PUT", "PATCH"} and request_serializer_fields(r)]
    missing = [str(r) for r in needs_body if r.key not in VALID_BODIES]
    assert missing == [], f"Add a valid body to tests/api_routes.py VALID_BODIES for: {missing}"


def _client(caller: str, cast: Cast) -> APIClient:
    client = APIClient()
    if caller in Role.values:
        client.force_login(cast.by_role_a[caller])
    elif caller.startswith("key_"):
        scope = APIKeyScope.READ if caller == "key_read" else APIKeyScope.WRITE
        issued = api_key_create(company=cast.company_a, name=caller, scope=scope, created_by=cast.owner_a)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    return client


def _own_rows_status(route: Route, caller: str) -> int | None:
    """The status a caller gets on another person's reminder, when the role table alone does not say."""
    if route.key not in OWN_ROWS_ONLY or caller == "anonymous" or caller == RECIPIENT:
        return None
    if route.key == ("POST", "v1:reminder-snooze"):
        return 403 if caller in OVERSEERS or caller.startswith("key_") else 404
    return None if caller in OVERSEERS else 404


def _point_at_a_local_receiver(route: Route, cast: Cast, request: pytest.FixtureRequest) -> None:
    from integrations.models import SlackWebhook, WebhookEndpoint
    from integrations.secrets import encrypt

    server = request.getfixturevalue("httpserver")
    request.getfixturevalue("settings").TRACKER_ALLOW_PRIVATE_URLS = True
    server.expect_request("/receiver", method="POST").respond_with_data("ok")
    url = server.url_for("/receiver")
    SlackWebhook.objects.filter(company=cast.company_a).update(url_encrypted=encrypt({"url": url}))
    WebhookEndpoint.objects.filter(company=cast.company_a).update(url=url)


def _expected_allowed(route: Route, caller: str) -> bool:
    allowed = role_table()[route.key]
    if allowed == PUBLIC:
        return True
    if caller == "anonymous":
        return False
    if allowed == SIGNED_IN:
        return True
    if allowed == PEOPLE:
        return not caller.startswith("key_")
    if route.key in OBJECT_RULE_REFUSALS.get(caller, set()):
        return False
    role = {"key_read": Role.VIEWER, "key_write": Role.MEMBER}.get(caller, caller)
    return role in allowed


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_role_matrix(route: Route, caller: str, cast: Cast, request: pytest.FixtureRequest):
    UserFactory(email="newcomer@example.test")
    if route.key in CALLS_OUT:
        _point_at_a_local_receiver(route, cast, request)
    client = _client(caller, cast)
    body = VALID_BODIES[route.key](cast) if route.key in VALID_BODIES else None
    data = "" if body is None else json.dumps(body)
    response = client.generic(route.method, url_for(route, cast), data=data, content_type="application/json")
    if role_table()[route.key] == SIGNATURE:  # no session or key stands in for the tracker's signature
        assert response.status_code == 401, (route, caller, response.status_code, response.content[:300])
        assert response.json()["status"] == 401
        return
    if (own := _own_rows_status(route, caller)) is not None:
        assert response.status_code == own, (route, caller, response.status_code, response.content[:300])
    elif _expected_allowed(route, caller):
        assert 200 <= response.status_code < 300, (route, caller, response.status_code, response.content[:300])
    else:
        expected = 401 if caller == "anonymous" else 403
        assert response.status_code == expected, (route, caller, response.status_code, response.content[:300])
        assert response.json()["status"] == expected


def test_an_undeclared_route_is_refused(cast: Cast, client_for, monkeypatch):
    table = dict(role_table())
    del table[("GET", "v1:team-list")]
    monkeypatch.setattr("outcomes.api.permissions.role_table", lambda: table)
    response = client_for(cast.owner_a).get("/api/v1/companies/alpha/teams/")
    assert response.status_code == 403

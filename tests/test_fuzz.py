"""Every operation of the served OpenAPI schema, fuzzed: never a 5xx, and every answer as documented.

schemathesis generates requests from the schema the service serves at ``/api/schema/`` and calls
the application in process, signed in as company A's owner. Path arguments are the ids of real
rows of the cast (an id the generator invents would only ever meet a 404), so each example reaches
the code behind the route; queries and bodies are generated. Every default check runs: no server
error, documented status codes, content types, headers and bodies, invalid input refused, no
ignored authentication. ``positive_data_acceptance`` is left out: a schema-valid body or filter
may name ids that do not exist, and the API rightly answers 400.

``FUZZ_EXAMPLES`` sets the examples per operation (50 by default; more for a longer hunt).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import resolve
from hypothesis import HealthCheck, settings

from config.wsgi import application
from tests.api_routes import Route, url_for
from tests.conftest import Cast

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


def _placeholder_url(path: str) -> str:
    """The schema path with stand-in values, to find which view serves it."""
    stand_ins = {"company_slug": "x", "day": "2026-01-01"}
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            parts.append(stand_ins.get(part[1:-1], "1"))
        else:
            parts.append(part)
    return "/".join(parts)


def real_path_parameters(case: Any, cast: Cast) -> dict[str, Any]:
    """Company A's slug and the ids of A's rows that the operation acts on."""
    match = resolve(_placeholder_url(case.path))
    route = Route(case.method.upper(), match.view_name, tuple(match.kwargs))
    return resolve(url_for(route, cast)).kwargs


def signed_in_headers(cast: Cast) -> dict[str, str]:
    """A session of company A's owner, with a CSRF token so writes pass."""
    client = Client()
    client.force_login(cast.owner_a)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    csrf = secrets.token_hex(16)  # a 32-character secret, sent as cookie and header alike
    return {
        "Cookie": f"{django_settings.SESSION_COOKIE_NAME}={session}; {django_settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
    }


@pytest.fixture(autouse=True)
def test_connection_stays_open() -> Iterator[None]:
    """The application is called as a WSGI server would, so Django closes the database connection when a
    request starts and ends, and the test's transaction with it. Django's test client unhooks that; so do we."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def owner_session(cast: Cast) -> dict[str, str]:
    return signed_in_headers(cast)


@pytest.fixture
def targets(cast: Cast) -> dict[tuple[str, str], dict[str, Any]]:
    """Path arguments per operation, chosen once: a DELETE removes its row once, later examples meet a 404."""
    return {}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation_never_fails_and_answers_as_documented(
    case: Any, cast: Cast, owner_session: dict[str, str], targets: dict[tuple[str, str], dict[str, Any]]
) -> None:
    if case.path_parameters:
        key = (case.method, case.path)
        if key not in targets:
            targets[key] = real_path_parameters(case, cast)
        case.path_parameters = {**case.path_parameters, **targets[key]}
    case.call_and_validate(headers=owner_session, excluded_checks=[schemathesis.checks.positive_data_acceptance])

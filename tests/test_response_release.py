"""A rendered API response is freed by reference counting once the server lets it go (config/api/middleware.py)."""

from __future__ import annotations

import gc
import io
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.conftest import Cast

pytestmark = pytest.mark.django_db


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _serve(path: str, key: str) -> tuple[int, bytes, weakref.ref[Any]]:
    """One request as a WSGI server makes it: call the application, send the body, close it, let go."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda chunk: None

    # As Django's test client does: the test's database connection (and its transaction) stays open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, start_response)
        body = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    released = weakref.ref(response)
    del response
    return int(statuses[0].split()[0]), body, released


@pytest.mark.parametrize("path", ["/api/v1/companies/alpha/objectives/", "/api/v1/companies/alpha/insights/rollup/"])
def test_a_served_response_and_its_data_go_without_a_collection(cast: Cast, path: str):
    with collector_paused():
        status, body, released = _serve(path, cast.raw_key_a)
        assert status == 200 and body.startswith(b"{")
        assert released() is None  # no reference cycle kept it (and the data it was rendered from)


def test_without_the_release_the_view_keeps_its_response(cast: Cast, settings: Any):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("ReleaseRenderedResponseMiddleware")]
    with collector_paused():
        status, _body, released = _serve("/api/v1/companies/alpha/objectives/", cast.raw_key_a)
        assert status == 200
        assert released() is not None  # what the middleware is for: this cycle waits for the collector
    gc.collect()
    assert released() is None

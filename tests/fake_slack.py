"""A local stand-in for Slack's incoming webhooks, on pytest-httpserver.

It answers as Slack does (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks/):
"ok" to a readable message, 400 ``invalid_payload`` to a body that is not a JSON object, 400
``no_text`` to a message with neither text nor blocks, 400 ``invalid_blocks`` when blocks are not a
list; and, before any of that, whatever failures the test queued with ``fail_next``.

``tests/conftest.py`` loads this module as a plugin, so any test can ask for ``fake_slack``. It turns on
``TRACKER_ALLOW_PRIVATE_URLS`` (the server listens on an http loopback address). A second channel,
say a team's, is ``FakeSlack.serve(httpserver, "/services/T000/B111/YYYY")``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

WEBHOOK_PATH = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"


@dataclass
class FakeSlack:
    """One incoming webhook. ``posts``: the messages the channel shows (accepted ones);
    ``attempts``: every body received, accepted or not (None when it was not JSON)."""

    server: HTTPServer
    path: str = WEBHOOK_PATH
    posts: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any] | None] = field(default_factory=list)
    _failures: deque[tuple[int, str, dict[str, str]]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def serve(cls, server: HTTPServer, path: str = WEBHOOK_PATH) -> FakeSlack:
        fake = cls(server, path)
        server.expect_request(path, method="POST").respond_with_handler(fake.answer)
        return fake

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    def fail_next(self, status: int, body: str, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next ``times`` posts with this status and body (e.g. 404, "no_service") instead of "ok"."""
        with self._lock:
            self._failures.extend([(status, body, dict(headers or {}))] * times)

    def answer(self, request: Request) -> Response:
        message = _json_object(request.get_data())
        with self._lock:
            self.attempts.append(message)
            failure = self._failures.popleft() if self._failures else None
            if failure is not None:
                status, body, headers = failure
                return Response(body, status=status, headers=headers, content_type="text/html")
            refusal = _refusal(message)
            if refusal:
                return Response(refusal, status=400, content_type="text/html")
            assert message is not None
            self.posts.append(message)
        return Response("ok", status=200, content_type="text/html")


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _refusal(message: dict[str, Any] | None) -> str:
    if message is None:
        return "invalid_payload"
    if "blocks" in message and not isinstance(message["blocks"], list):
        return "invalid_blocks"
    if not message.get("text") and not message.get("blocks"):
        return "no_text"
    return ""


@pytest.fixture
def fake_slack(httpserver: HTTPServer, settings: Any) -> FakeSlack:
    """A fake Slack webhook at ``fake_slack.url``, answering "ok" unless told otherwise."""
    settings.TRACKER_ALLOW_PRIVATE_URLS = True
    return FakeSlack.serve(httpserver)

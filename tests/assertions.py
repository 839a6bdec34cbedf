"""Assertions on the API's one error shape, shared by the behaviour tests."""

from __future__ import annotations

from typing import Any


def assert_invalid(response: Any, *fields: str) -> dict[str, Any]:
    """A 400 in the one error shape, naming exactly the given fields, each with real messages."""
    assert response.status_code == 400, response.content
    body: dict[str, Any] = response.json()
    assert body["status"] == 400
    assert body["code"] == "invalid"
    assert body["detail"] == "Invalid input."
    assert set(body["fields"]) == set(fields), body
    for messages in body["fields"].values():
        assert messages
        assert all(isinstance(message, str) and message for message in messages)
    return body

"""Base classes for request bodies, and the rule they share: a field the route does not take is a 400.

A misspelt or read-only field (``slug`` on an update, ``company`` anywhere) is a 400 naming it, never
silently dropped, so clients learn at once that nothing changed. A command that takes no body at all
(revoke, close, replay...) refuses any field the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import serializers


def refuse_unknown_fields(data: Any, taken: Iterable[str]) -> None:
    """A 400 naming every field of the body ``data`` that is not in ``taken``."""
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - set(taken))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})


def refuse_body(data: Any) -> None:
    """A 400 for a command that takes no body when it is sent one: each field named, or the body itself."""
    refuse_unknown_fields(data, ())
    if not isinstance(data, Mapping) and data not in (None, "", b""):
        raise serializers.ValidationError("This command takes no body.")


class RefusesUnknownFields:
    """For any serializer: the body may name only fields it writes."""

    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        refuse_unknown_fields(data, (name for name, field in self.fields.items() if not field.read_only))
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(RefusesUnknownFields, serializers.Serializer[Any]):
    """A request body that refuses fields it does not know.

    A misspelt or read-only field (``slug`` on an update, ``company`` anywhere) is a
    400 naming it, never silently dropped, so clients learn at once that nothing
    changed.
    """

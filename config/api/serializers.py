"""Base classes for request bodies."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class InputSerializer(serializers.Serializer[Any]):
    """A request body that refuses fields it does not know.

    A misspelt or read-only field (``slug`` on an update, ``company`` anywhere) is a
    400 naming it, never silently dropped, so clients learn at once that nothing
    changed.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

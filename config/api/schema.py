"""OpenAPI generation: our AutoSchema and the hook that documents the error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

ERROR_COMPONENT = {
    "type": "object",
    "description": "The body of every 4xx and 5xx response.",
    "required": ["status", "code", "detail"],
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status code, repeated."},
        "code": {"type": "string", "description": "A stable machine-readable code, e.g. `invalid`, `not_found`."},
        "detail": {"type": "string", "description": "A human-readable summary."},
        "fields": {
            "type": "object",
            "description": "Validation errors per field; nested fields use dotted paths such as `values.0.name`.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}

ERROR_RESPONSES = {
    "400": "Invalid input: see `fields` for the field-level messages.",
    "401": "Not signed in, or the API key is missing, malformed, expired or revoked.",
    "403": "Signed in, but the role or API key scope does not allow this.",
    "404": "Not found, or not visible to the caller (another company's data is always a 404).",
    "405": "The method is not allowed on this route.",
    "409": "The change conflicts with data that changed meanwhile.",
    "429": "Too many requests: retry after the number of seconds in `Retry-After`.",
}

WRITE_METHODS = {"post", "put", "patch", "delete"}


class AutoSchema(SpectacularAutoSchema):
    """Tags come from the view's ``openapi_tag`` so related routes group together."""

    def get_tags(self) -> list[str]:
        tag = getattr(self.view, "openapi_tag", None)
        return [tag] if tag else super().get_tags()

    def get_auth(self) -> list[dict[str, list[str]]]:
        # Routes anyone may call carry no security requirement at all.
        return [] if getattr(self.view, "openapi_public", False) else super().get_auth()


def _error_codes(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["405", "429"]
    if operation.get("security"):
        codes += ["401", "403"]
    if method in WRITE_METHODS or operation.get("parameters"):
        codes.append("400")
    if "{" in path:
        codes.append("404")
    if method in WRITE_METHODS:
        codes.append("409")
    return codes


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: document the standard error responses on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_COMPONENT
    ref = {"$ref": "#/components/schemas/Error"}
    retry_after = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _error_codes(path, method, operation):
                response: dict[str, Any] = {
                    "description": ERROR_RESPONSES[code],
                    "content": {"application/json": {"schema": ref}},
                }
                if code == "429":
                    response["headers"] = retry_after
                responses.setdefault(code, response)
            for code, response in responses.items():  # errors a view declares itself share the shape
                if code[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": ref}}
    return result

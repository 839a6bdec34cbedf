"""Schema extensions: how API key authentication appears in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "outcomes.api.authentication.APIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "okr_ followed by 36 letters and digits",
            "description": (
                "An API key of one company, sent as `Authorization: Bearer okr_…`. Keys are created by "
                "owners and admins, shown once, expire (90 days by default) and can be revoked. A `read` key "
                "acts as a viewer of its company, a `write` key as a member. Keys in the query string are refused."
            ),
        }

"""Markers for the route -> roles tables, and the routes anyone may call.

Each app declares ``{(METHOD, "v1:route-name"): allowed}`` where ``allowed`` is
a set of membership roles or one of the markers below. A route that is missing
from every table is refused, and a test walks every ``/api/`` route to keep the
tables complete.
"""

from __future__ import annotations

PUBLIC = "public"  # no authentication at all
SIGNED_IN = "signed_in"  # any person or API key, no company needed
PEOPLE = "people"  # signed-in people only, never an API key
SIGNATURE = "signature"  # no session or key: a signature over the request body (tracker webhooks)

PUBLIC_ROUTES = {
    ("GET", "v1:me"): SIGNED_IN,
    ("GET", "schema"): PUBLIC,
    ("GET", "swagger-ui"): PUBLIC,
    ("GET", "redoc"): PUBLIC,
    ("GET", "v1:api-root"): PUBLIC,
    ("GET", "v1:health"): PUBLIC,
}

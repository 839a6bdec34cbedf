"""Tracker connections are managed by owners and admins (they hold credentials); trackers sign their webhooks."""

from config.api.roles import SIGNATURE
from integrations.api.outbound import ROUTE_ROLES as OUTBOUND_ROUTE_ROLES
from integrations.api.slack import ROUTE_ROLES as SLACK_ROUTE_ROLES
from outcomes.choices import MANAGERS

ROUTE_ROLES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "v1:connection-list"): MANAGERS,
    ("POST", "v1:connection-list"): MANAGERS,
    ("GET", "v1:connection-detail"): MANAGERS,
    ("PUT", "v1:connection-detail"): MANAGERS,
    ("PATCH", "v1:connection-detail"): MANAGERS,
    ("DELETE", "v1:connection-detail"): MANAGERS,
    ("POST", "v1:connection-preview-status-map"): MANAGERS,
    ("POST", "v1:connection-sync"): MANAGERS,
    ("GET", "v1:sync-run-list"): MANAGERS,
    ("GET", "v1:sync-run-detail"): MANAGERS,
    ("GET", "v1:webhook-delivery-list"): MANAGERS,
    ("GET", "v1:webhook-delivery-detail"): MANAGERS,
    ("POST", "v1:webhook-delivery-replay"): MANAGERS,
    ("POST", "v1:webhook-receive"): SIGNATURE,
    **SLACK_ROUTE_ROLES,
    **OUTBOUND_ROUTE_ROLES,
}

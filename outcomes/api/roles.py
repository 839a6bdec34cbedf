"""Who may call each tenancy route: (method, route name) -> roles.

Reading is open to every member; managing people, teams, keys and the company
is for owners and admins. Owner-only rules (granting or removing the owner
role) live in the member services because they depend on the target.
"""

from config.api.roles import PEOPLE, SIGNED_IN
from outcomes.choices import ALL_ROLES, MANAGERS

ROUTE_ROLES = {
    ("GET", "v1:companies"): SIGNED_IN,
    ("POST", "v1:companies"): PEOPLE,
    ("GET", "v1:company-detail"): ALL_ROLES,
    ("PATCH", "v1:company-detail"): MANAGERS,
    ("GET", "v1:member-list"): ALL_ROLES,
    ("POST", "v1:member-list"): MANAGERS,
    ("GET", "v1:member-detail"): ALL_ROLES,
    ("PATCH", "v1:member-detail"): MANAGERS,
    ("DELETE", "v1:member-detail"): MANAGERS,
    ("GET", "v1:team-list"): ALL_ROLES,
    ("POST", "v1:team-list"): MANAGERS,
    ("GET", "v1:team-detail"): ALL_ROLES,
    ("PUT", "v1:team-detail"): MANAGERS,
    ("PATCH", "v1:team-detail"): MANAGERS,
    ("DELETE", "v1:team-detail"): MANAGERS,
    ("POST", "v1:team-members"): MANAGERS,
    ("DELETE", "v1:team-member"): MANAGERS,
    ("GET", "v1:api-key-list"): MANAGERS,
    ("POST", "v1:api-key-list"): MANAGERS,
    ("GET", "v1:api-key-detail"): MANAGERS,
    ("POST", "v1:api-key-revoke"): MANAGERS,
}

"""Who may call each tenancy route: (method, route name) -> roles.

Reading is open to every member; managing people, teams, keys and the company
is for owners and admins. Owner-only rules (granting or removing the owner
role) live in the member services because they depend on the target.
"""

from config.api.roles import PEOPLE, SIGNED_IN
from outcomes.choices import ALL_ROLES, MANAGERS, STRATEGY_EDITORS, Role

# Members record measurements (of the outcomes they own: checked in the view); so do write keys.
MEASURERS = STRATEGY_EDITORS | {Role.MEMBER.value}


def _crud(basename: str, writers: frozenset[str]) -> dict[tuple[str, str], frozenset[str]]:
    return {
        ("GET", f"v1:{basename}-list"): ALL_ROLES,
        ("POST", f"v1:{basename}-list"): writers,
        ("GET", f"v1:{basename}-detail"): ALL_ROLES,
        ("PUT", f"v1:{basename}-detail"): writers,
        ("PATCH", f"v1:{basename}-detail"): writers,
        ("DELETE", f"v1:{basename}-detail"): writers,
    }


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
    # Identity: written by leadership, read by everyone.
    ("GET", "v1:identity"): ALL_ROLES,
    ("PUT", "v1:identity"): STRATEGY_EDITORS,
    ("PATCH", "v1:identity"): STRATEGY_EDITORS,
    ("GET", "v1:identity-version-list"): ALL_ROLES,
    ("GET", "v1:identity-version-detail"): ALL_ROLES,
    # SWOT, strategies, investments and business outcomes.
    **_crud("swot-item", STRATEGY_EDITORS),
    ("GET", "v1:swot-item-unaddressed"): ALL_ROLES,
    **_crud("strategy", STRATEGY_EDITORS),
    **_crud("investment", STRATEGY_EDITORS),
    ("GET", "v1:investment-totals"): ALL_ROLES,
    **_crud("business-outcome", STRATEGY_EDITORS),
    ("GET", "v1:business-outcome-measurements"): ALL_ROLES,
    ("POST", "v1:business-outcome-measurements"): MEASURERS,
}

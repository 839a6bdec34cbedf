"""Who may call each epic route. Object rules (members write the epics they own or review; the loop is closed
by the owner, reviewer, or an owner or admin) are checked in the views."""

from outcomes.choices import ALL_ROLES, STRATEGY_EDITORS, Role

CONTRIBUTORS = STRATEGY_EDITORS | {Role.MEMBER.value}

ROUTE_ROLES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "v1:epic-list"): ALL_ROLES,
    ("POST", "v1:epic-list"): CONTRIBUTORS,
    ("GET", "v1:epic-detail"): ALL_ROLES,
    ("PUT", "v1:epic-detail"): CONTRIBUTORS,
    ("PATCH", "v1:epic-detail"): CONTRIBUTORS,
    ("DELETE", "v1:epic-detail"): CONTRIBUTORS,
    ("GET", "v1:epic-anticipated-outcome"): ALL_ROLES,
    ("PUT", "v1:epic-anticipated-outcome"): CONTRIBUTORS,
    ("POST", "v1:epic-contributions"): CONTRIBUTORS,
    ("DELETE", "v1:epic-contribution"): CONTRIBUTORS,
    ("POST", "v1:epic-transition"): CONTRIBUTORS,
    ("GET", "v1:epic-status-history"): ALL_ROLES,
    ("GET", "v1:epic-review"): ALL_ROLES,
    ("POST", "v1:epic-review-waive"): CONTRIBUTORS,
    ("POST", "v1:epic-results"): CONTRIBUTORS,
    ("GET", "v1:epic-trace"): ALL_ROLES,
    ("GET", "v1:key-results-without-epics"): ALL_ROLES,
    ("GET", "v1:objectives-without-epics"): ALL_ROLES,
}

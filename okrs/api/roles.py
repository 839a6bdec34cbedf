"""Who may call each OKR route. Object rules (members write their own and their teams') live in the views."""

from outcomes.choices import ALL_ROLES, STRATEGY_EDITORS, Role

CONTRIBUTORS = STRATEGY_EDITORS | {Role.MEMBER.value}  # everyone but viewers; members within their objectives


def _crud(basename: str, writers: frozenset[str]) -> dict[tuple[str, str], frozenset[str] | str]:
    return {
        ("GET", f"v1:{basename}-list"): ALL_ROLES,
        ("POST", f"v1:{basename}-list"): writers,
        ("GET", f"v1:{basename}-detail"): ALL_ROLES,
        ("PUT", f"v1:{basename}-detail"): writers,
        ("PATCH", f"v1:{basename}-detail"): writers,
        ("DELETE", f"v1:{basename}-detail"): writers,
    }


ROUTE_ROLES: dict[tuple[str, str], frozenset[str] | str] = {
    **_crud("cycle", STRATEGY_EDITORS),
    ("GET", "v1:cycle-rollup"): ALL_ROLES,
    ("POST", "v1:cycle-close"): STRATEGY_EDITORS,
    **_crud("objective", CONTRIBUTORS),
    ("PUT", "v1:objective-grade"): CONTRIBUTORS,
    **_crud("key-result", CONTRIBUTORS),
    ("GET", "v1:key-result-check-ins"): ALL_ROLES,
    ("POST", "v1:key-result-check-ins"): CONTRIBUTORS,
    ("PUT", "v1:key-result-day-value"): CONTRIBUTORS,
}

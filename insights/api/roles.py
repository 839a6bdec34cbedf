"""Every member and every API key of a company reads its insights."""

from outcomes.choices import ALL_ROLES

INSIGHTS = ("rollup", "alignment", "realisation", "outcome-debt", "flow", "investment", "calibration")

ROUTE_ROLES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", f"v1:insight-{name}"): ALL_ROLES for name in INSIGHTS
}

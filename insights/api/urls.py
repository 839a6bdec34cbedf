from django.urls import URLPattern, path

from insights.api.views import InsightViewSet


def _route(name: str, action: str) -> URLPattern:
    return path(f"insights/{name}/", InsightViewSet.as_view({"get": action}), name=f"insight-{name}")


# Mounted under companies/<slug:company_slug>/.
company_urlpatterns = [
    _route("rollup", "rollup"),
    _route("realisation", "realisation"),
    _route("outcome-debt", "outcome_debt"),
    _route("alignment", "alignment"),
    _route("flow", "flow"),
    _route("investment", "investment"),
    _route("calibration", "calibration"),
]

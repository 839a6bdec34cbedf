"""Routes of the outcomes API; mounted by config/urls.py under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from outcomes.api.views import strategy, tenancy

router = SimpleRouter()
router.register("members", tenancy.MembershipViewSet, basename="member")
router.register("teams", tenancy.TeamViewSet, basename="team")
router.register("api-keys", tenancy.APIKeyViewSet, basename="api-key")
router.register("swot-items", strategy.SwotItemViewSet, basename="swot-item")
router.register("strategies", strategy.StrategyViewSet, basename="strategy")
router.register("investments", strategy.InvestmentViewSet, basename="investment")
router.register("business-outcomes", strategy.BusinessOutcomeViewSet, basename="business-outcome")

identity = strategy.IdentityViewSet

# Mounted under companies/<slug:company_slug>/.
company_urlpatterns = [
    path(
        "", tenancy.CompanyDetailViewSet.as_view({"get": "retrieve", "patch": "partial_update"}), name="company-detail"
    ),
    path("identity/", identity.as_view({"get": "current", "put": "replace", "patch": "amend"}), name="identity"),
    path("identity/versions/", identity.as_view({"get": "list"}), name="identity-version-list"),
    path("identity/versions/<int:number>/", identity.as_view({"get": "retrieve"}), name="identity-version-detail"),
    *router.urls,
]

urlpatterns = [
    path("me/", tenancy.MeView.as_view({"get": "retrieve"}), name="me"),
    path("companies/", tenancy.CompanyListViewSet.as_view({"get": "list", "post": "create"}), name="companies"),
]

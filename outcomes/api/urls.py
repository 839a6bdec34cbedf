"""Routes of the tenancy API; mounted by config/urls.py under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from outcomes.api import views

router = SimpleRouter()
router.register("members", views.MembershipViewSet, basename="member")
router.register("teams", views.TeamViewSet, basename="team")
router.register("api-keys", views.APIKeyViewSet, basename="api-key")

# Mounted under companies/<slug:company_slug>/.
company_urlpatterns = [
    path("", views.CompanyDetailViewSet.as_view({"get": "retrieve", "patch": "partial_update"}), name="company-detail"),
    *router.urls,
]

urlpatterns = [
    path("me/", views.MeView.as_view({"get": "retrieve"}), name="me"),
    path("companies/", views.CompanyListViewSet.as_view({"get": "list", "post": "create"}), name="companies"),
]

from django.urls import path
from rest_framework.routers import SimpleRouter

from epics.api import views

router = SimpleRouter()
router.register("epics", views.EpicViewSet, basename="epic")

# Mounted under companies/<slug:company_slug>/.
company_urlpatterns = [
    *router.urls,
    path(
        "alignment/key-results-without-epics/",
        views.KeyResultsWithoutEpicsViewSet.as_view({"get": "list"}),
        name="key-results-without-epics",
    ),
    path(
        "alignment/objectives-without-epics/",
        views.ObjectivesWithoutEpicsViewSet.as_view({"get": "list"}),
        name="objectives-without-epics",
    ),
]

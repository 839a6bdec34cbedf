from rest_framework.routers import SimpleRouter

from okrs.api import views

router = SimpleRouter()
router.register("cycles", views.CycleViewSet, basename="cycle")
router.register("objectives", views.ObjectiveViewSet, basename="objective")
router.register("key-results", views.KeyResultViewSet, basename="key-result")

# Mounted under companies/<slug:company_slug>/.
company_urlpatterns = router.urls

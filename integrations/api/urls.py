from rest_framework.routers import SimpleRouter

from integrations.api import views

router = SimpleRouter()
router.register("connections", views.ConnectionViewSet, basename="connection")
router.register("sync-runs", views.SyncRunViewSet, basename="sync-run")

company_urlpatterns = router.urls

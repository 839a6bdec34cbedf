from django.urls import path
from rest_framework.routers import SimpleRouter

from integrations.api import views

router = SimpleRouter()
router.register("connections", views.ConnectionViewSet, basename="connection")
router.register("sync-runs", views.SyncRunViewSet, basename="sync-run")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")

company_urlpatterns = router.urls

urlpatterns = [path("hooks/<int:connection_id>/", views.WebhookReceiveView.as_view(), name="webhook-receive")]

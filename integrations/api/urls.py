from django.urls import path
from rest_framework.routers import SimpleRouter

from integrations.api import outbound, reminders, views
from integrations.api.slack import SlackWebhookViewSet

router = SimpleRouter()
router.register("connections", views.ConnectionViewSet, basename="connection")
router.register("sync-runs", views.SyncRunViewSet, basename="sync-run")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("webhook-endpoints", outbound.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("outbound-deliveries", outbound.OutboundDeliveryViewSet, basename="outbound-delivery")
router.register("reminders", reminders.ReminderViewSet, basename="reminder")
router.register("slack-webhooks", SlackWebhookViewSet, basename="slack-webhook")

company_urlpatterns = [
    *router.urls,
    path(
        "notification-preferences/me/",
        reminders.NotificationPreferenceViewSet.as_view({"get": "get", "put": "put", "patch": "patch"}),
        name="notification-preferences",
    ),
]

urlpatterns = [path("hooks/<int:connection_id>/", views.WebhookReceiveView.as_view(), name="webhook-receive")]

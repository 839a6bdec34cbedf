from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from epics.models import Epic, OutcomeReview
from integrations.choices import (
    ACTIVE_RUN_STATES,
    DeliveryStatus,
    ReminderKind,
    ReminderStatus,
    SyncRunStatus,
    TrackerKind,
)
from outcomes.models import Company, CompanyOwnedQuerySet
from outcomes.models.base import INT32_MAX, audit_history


class Connection(models.Model):
    """A company's link to a tracker: where it is, how to sign in, what counts as an epic, how statuses map.

    Credentials are stored encrypted (``integrations.secrets``) and never leave through the API;
    only a hint of their last characters does.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=TrackerKind.choices)
    base_url = models.URLField(max_length=300, help_text="Jira site, GitHub/GitLab API or instance, Linear API.")
    credentials_encrypted = models.TextField(blank=True, editable=False)
    credential_hint = models.CharField(max_length=12, blank=True, editable=False)
    credentials_updated = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    scope = models.JSONField(default=dict, blank=True, help_text="What counts as an epic, per tracker.")
    status_map = models.JSONField(
        default=list, blank=True, help_text="Ordered rules from tracker signals to our status."
    )
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Owner of new epics whose assignee is not a member.",
    )
    sync_interval_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(1440)]
    )
    enabled = models.BooleanField(default=True)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    needs_attention = models.BooleanField(default=False, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["Connection"].as_manager()
    history = audit_history(excluded_fields=["credentials_encrypted", "webhook_secret_encrypted"])

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="connection_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class SyncRunQuerySet(CompanyOwnedQuerySet["SyncRun"]):
    company_path = "connection__company"


class SyncRun(models.Model):
    """One pull of a connection's epics: queued, claimed by a worker, then succeeded, partial or failed.

    At most one run per connection is queued or running (a unique constraint), so a second
    request while one runs gets the running one.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=10, choices=SyncRunStatus.choices, default=SyncRunStatus.QUEUED)
    full = models.BooleanField(default=False, help_text="A full reconciliation instead of an incremental pull.")
    updated_since = models.DateTimeField(null=True, blank=True, help_text="The cursor: items updated since then.")
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0, validators=[INT32_MAX])
    created = models.PositiveIntegerField(default=0, validators=[INT32_MAX])
    updated = models.PositiveIntegerField(default=0, validators=[INT32_MAX])
    unchanged = models.PositiveIntegerField(default=0, validators=[INT32_MAX])
    errors = models.PositiveIntegerField(default=0, validators=[INT32_MAX])
    marked_missing = models.PositiveIntegerField(
        default=0, validators=[INT32_MAX], help_text="Epics a full run no longer found in the tracker's scope."
    )
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="The worker's last sign of life; a silent running run is taken over."
    )
    attempts = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(32767)])

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection"], condition=models.Q(status__in=ACTIVE_RUN_STATES), name="sync_run_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} sync {self.status}"


class WebhookDeliveryQuerySet(CompanyOwnedQuerySet["WebhookDelivery"]):
    company_path = "connection__company"


class WebhookDelivery(models.Model):
    """A signed webhook the tracker sent: stored once per delivery id, then processed by a task.

    The body is a hint: processing re-reads the item from the tracker before changing anything.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="webhook_deliveries")
    delivery_id = models.CharField(max_length=200, help_text="The tracker's id for the delivery (same on retries).")
    event = models.CharField(max_length=100, blank=True, help_text="The tracker's event name.")
    action = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED)
    detail = models.CharField(max_length=500, blank=True, help_text="What processing did, or why it did nothing.")
    error = models.TextField(blank=True)
    epic = models.ForeignKey(Epic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(32767)])

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["connection", "delivery_id"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["connection", "status"], name="webhook_delivery_status")]

    def __str__(self) -> str:
        return f"{self.connection} {self.event or 'delivery'} {self.delivery_id}"


class Reminder(models.Model):
    """One message to one person about one thing, at one stage: created once, claimed once, sent once.

    The unique key (kind, review, stage, due date, recipient, channel) makes a second planning of the
    same reminder a no-op; sending claims the row with a conditional update, so two workers or two
    beat ticks never send it twice.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    review = models.ForeignKey(OutcomeReview, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    stage = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(32767)])
    due_on = models.DateField(help_text="The date the reminded thing fell due (part of the key).")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, default="email")
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(32767)])
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = CompanyOwnedQuerySet["Reminder"].as_manager()

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "review", "stage", "due_on", "recipient", "channel"], name="reminder_once"
            )
        ]
        indexes = [models.Index(fields=["status", "created"], name="reminder_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from epics.models import Epic, OutcomeReview
from integrations.choices import (
    ACTIVE_RUN_STATES,
    Channel,
    DeliveryStatus,
    OutboundEvent,
    OutboundStatus,
    ReminderKind,
    ReminderStatus,
    SyncRunStatus,
    TrackerKind,
)
from okrs.models import KeyResult
from outcomes.models import Company, CompanyOwnedQuerySet, Team
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
    sent_at = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        help_text="When its task was last handed to the broker; empty when the broker could not take it.",
    )

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
    sent_at = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        help_text="When its task was last handed to the broker; empty when the broker could not take it.",
    )

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["connection", "delivery_id"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["connection", "status"], name="webhook_delivery_status"),
            # The sweep for deliveries whose task never reached a worker reads only those still waiting.
            models.Index(
                fields=["sent_at"], condition=models.Q(status=DeliveryStatus.RECEIVED), name="webhook_delivery_waiting"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.event or 'delivery'} {self.delivery_id}"


class Reminder(models.Model):
    """One message to one person about one thing, at one stage: created once, claimed once, sent once.

    ``subject`` names the thing ("review:12", "key_result:7", "epic:3", "connection:2",
    "company:1" for digests); the unique key (kind, subject, stage, due date, recipient, channel)
    makes a second planning of the same reminder a no-op. Sending claims the row with a conditional
    update, so two workers or two beat ticks never send it twice. ``not_before`` holds a message
    back for the recipient's quiet hours, pause or snooze.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    subject = models.CharField(max_length=40, help_text='What it is about, e.g. "review:12" (part of the key).')
    review = models.ForeignKey(OutcomeReview, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    key_result = models.ForeignKey(KeyResult, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    epic = models.ForeignKey(Epic, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "integrations.Connection", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    stage = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(32767)])
    due_on = models.DateField(help_text="The date the reminded thing fell due (part of the key).")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(32767)])
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="Held back until then: quiet hours, a pause, a snooze or a retry."
    )
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = CompanyOwnedQuerySet["Reminder"].as_manager()

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "stage", "due_on", "recipient", "channel"], name="reminder_once_per_key"
            )
        ]
        indexes = [
            models.Index(fields=["status", "created"], name="reminder_status"),
            models.Index(fields=["company", "status", "created"], name="reminder_company_status"),
            models.Index(fields=["created"], name="reminder_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"


def default_channels() -> list[str]:
    return [Channel.EMAIL.value]


class NotificationPreference(models.Model):
    """How and when one member of one company wants to hear from us. No row means the defaults."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="notification_preferences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channels = models.JSONField(default=default_channels, blank=True, help_text="Any of email, slack; [] for none.")
    digest = models.BooleanField(default=True, help_text="Send the weekly digest.")
    digest_weekday = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(6)], help_text="0 is Monday, 6 is Sunday (company time zone)."
    )
    digest_hour = models.PositiveSmallIntegerField(default=9, validators=[MaxValueValidator(23)])
    quiet_before = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(23)], help_text="No messages before this local hour."
    )
    quiet_after = models.PositiveSmallIntegerField(
        default=18, validators=[MinValueValidator(1), MaxValueValidator(24)], help_text="Nor from this local hour on."
    )
    weekdays_only = models.BooleanField(default=True, help_text="No messages on Saturdays and Sundays.")
    paused_until = models.DateField(null=True, blank=True, help_text="No messages up to and including this day.")
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["NotificationPreference"].as_manager()

    class Meta:
        ordering = ["company", "user"]
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="notification_preference_unique"),
            models.CheckConstraint(
                condition=models.Q(quiet_before__lt=models.F("quiet_after")), name="notification_window_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.company}"


class ReminderSnooze(models.Model):
    """A recipient asked for quiet about one subject for a while (7 days by default)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=40)
    until = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-until", "id"]
        constraints = [models.UniqueConstraint(fields=["recipient", "subject"], name="reminder_snooze_unique")]

    def __str__(self) -> str:
        return f"{self.recipient} snoozed {self.subject} until {self.until:%Y-%m-%d}"


class SlackWebhook(models.Model):
    """A Slack incoming webhook: the company's, or one team's (used for the team's epics and people)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="slack_webhooks")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    url_encrypted = models.TextField(editable=False)
    url_hint = models.CharField(max_length=12, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["SlackWebhook"].as_manager()

    class Meta:
        ordering = ["company", "team", "id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "team"], name="slack_webhook_per_team"),
            models.UniqueConstraint(
                fields=["company"], condition=models.Q(team__isnull=True), name="slack_webhook_per_company"
            ),
        ]

    def __str__(self) -> str:
        return f"Slack for {self.team or self.company}"


def default_events() -> list[str]:
    return [event.value for event in OutboundEvent if event != OutboundEvent.PING]


class WebhookEndpoint(models.Model):
    """A URL of the company's that receives our events, signed with HMAC-SHA256 under its own secret."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=default_events, blank=True, help_text="The events it receives.")
    secret_encrypted = models.TextField(editable=False)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["WebhookEndpoint"].as_manager()

    class Meta:
        ordering = ["company", "id"]

    def __str__(self) -> str:
        return self.description or self.url


class OutboundDelivery(models.Model):
    """One event for one endpoint: planned once under its key, claimed before sending, retried with backoff."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=OutboundEvent.choices)
    event_id = models.UUIDField(unique=True, editable=False)
    key = models.CharField(max_length=120, help_text='What makes it once, e.g. "outcome.due:review:12:2026-11-02".')
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(32767)])
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(999)])
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = CompanyOwnedQuerySet["OutboundDelivery"].as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "key"], name="outbound_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint} ({self.status})"

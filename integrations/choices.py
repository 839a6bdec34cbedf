from django.db import models


class TrackerKind(models.TextChoices):
    JIRA = "jira", "Jira Cloud"
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    LINEAR = "linear", "Linear"


# The credential fields each tracker needs (all secret, never returned).
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    TrackerKind.JIRA: ("email", "api_token"),
    TrackerKind.GITHUB: ("token",),
    TrackerKind.GITLAB: ("token",),
    TrackerKind.LINEAR: ("api_key",),
}

DEFAULT_BASE_URLS: dict[str, str] = {
    TrackerKind.GITHUB: "https://api.github.com",
    TrackerKind.GITLAB: "https://gitlab.com",
    TrackerKind.LINEAR: "https://api.linear.app",
}


class SyncRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial: some pages applied, then it failed"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATES = (SyncRunStatus.QUEUED, SyncRunStatus.RUNNING)


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received, waiting to be processed"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored: not about an epic in scope"
    FAILED = "failed", "Failed: the tracker could not be read"


# The header that carries each tracker's delivery id, the same on every retry of one delivery.
DELIVERY_ID_HEADERS: dict[str, tuple[str, ...]] = {
    TrackerKind.JIRA: ("X-Atlassian-Webhook-Identifier",),
    TrackerKind.GITHUB: ("X-GitHub-Delivery",),
    TrackerKind.GITLAB: ("Idempotency-Key", "X-Gitlab-Event-UUID"),
    TrackerKind.LINEAR: ("Linear-Delivery",),
}


class ReminderKind(models.TextChoices):
    REVIEW_DUE = "review_due", "An outcome review is due"
    REVIEW_OVERDUE = "review_overdue", "An outcome review is overdue"
    REVIEW_ESCALATED = "review_escalated", "An outcome review is long overdue: escalated"
    CHECK_IN_DUE = "check_in_due", "A key result check-in is due"
    OUTCOME_MISSING = "outcome_missing", "An epic started without an anticipated outcome"
    CONNECTION_ATTENTION = "connection", "A tracker connection needs attention"
    DIGEST_MEMBER = "digest_member", "Weekly digest: your due and overdue items"
    DIGEST_EXECUTIVE = "digest_executive", "Weekly digest: the cycle roll-up"


# An outcome review this many days past due is escalated to the owners of the objectives it serves.
ESCALATE_AFTER_DAYS = 21

REVIEW_KINDS = (ReminderKind.REVIEW_DUE, ReminderKind.REVIEW_OVERDUE, ReminderKind.REVIEW_ESCALATED)
DIGEST_KINDS = (ReminderKind.DIGEST_MEMBER, ReminderKind.DIGEST_EXECUTIVE)


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled: nothing is asked any more"
    UNKNOWN = "unknown", "Unknown: the sender stopped while sending; not sent again"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack"


class OutboundEvent(models.TextChoices):
    OUTCOME_DUE = "outcome.due", "An outcome review became due"
    OUTCOME_OVERDUE = "outcome.overdue", "An outcome review is overdue"
    OUTCOME_RECORDED = "outcome.recorded", "An actual result was recorded"
    EPIC_DELIVERED = "epic.delivered", "An epic was delivered"
    CHECK_IN_DUE = "key_result.check_in_due", "A key result check-in is due"
    KEY_RESULT_STALE = "key_result.stale", "A key result's check-in is overdue"
    PING = "ping", "A test delivery"


class OutboundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"

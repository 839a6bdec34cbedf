from django.db import models


class WorkType(models.TextChoices):
    """Flow Framework item types."""

    FEATURE = "feature", "Feature"
    DEFECT = "defect", "Defect"
    RISK = "risk", "Risk"
    DEBT = "debt", "Debt"


class EpicStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class ChangeSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    SYNC = "sync", "Tracker sync"
    WEBHOOK = "webhook", "Tracker webhook"


class TrackerAbsence(models.TextChoices):
    """Why a synced epic is no longer among the tracker's items in scope. It is kept, never dropped."""

    NOT_LISTED = "not_listed", "Not listed by the last full reconciliation (deleted, moved or out of scope)"
    DELETED = "deleted", "Deleted in the tracker"
    MOVED = "moved", "Moved out of the connection's scope"


class ReviewState(models.TextChoices):
    """Stored states. A pending review shows as pending, due or overdue depending on the time."""

    PENDING = "pending", "Pending"
    RECORDED = "recorded", "Recorded"
    WAIVED = "waived", "Waived"
    CANCELLED = "cancelled", "Cancelled"


class ReviewPhase(models.TextChoices):
    """What a review is now, stored state and clock together."""

    PENDING = "pending", "Waiting for the measurement window"
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    RECORDED = "recorded", "Recorded"
    WAIVED = "waived", "Waived"
    CANCELLED = "cancelled", "Cancelled"


class Verdict(models.TextChoices):
    ACHIEVED = "achieved", "Achieved"
    PARTLY = "partly", "Partly: moved the right way, short of the target"
    MISSED = "missed", "Missed"
    INCONCLUSIVE = "inconclusive", "Inconclusive: no value"

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from epics.choices import ChangeSource, EpicStatus, ReviewState, TrackerAbsence, Verdict, WorkType
from okrs.models import KeyResult
from outcomes.choices import Direction
from outcomes.currencies import validate_currency
from outcomes.models import Company, CompanyOwnedQuerySet, Team
from outcomes.models.base import INT32_MAX, audit_history

OVERDUE_AFTER_DAYS = 7


class Epic(models.Model):
    """A unit of delivered work with one accountable owner, and what it is expected to change.

    Status comes from the tracker when the epic is synced. The tracker connection lives in the
    integrations app, a layer above; the epic keeps its id (``tracker_connection_id``) so that
    (connection, external id) identifies a synced epic.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="epics")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="epics")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    work_type = models.CharField(max_length=10, choices=WorkType.choices, default=WorkType.FEATURE)
    status = models.CharField(max_length=12, choices=EpicStatus.choices, default=EpicStatus.PROPOSED)
    waiting = models.BooleanField(
        default=False, editable=False, help_text="In progress but waiting (blocked, on hold), as the tracker says."
    )
    tracker_connection_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    external_id = models.CharField(max_length=200, blank=True, editable=False, help_text="The tracker's stable id.")
    external_key = models.CharField(max_length=200, blank=True, help_text="The tracker's key, e.g. SHOP-42.")
    tracker_status = models.CharField(max_length=100, blank=True, help_text="The tracker's own status text.")
    tracker_url = models.URLField(max_length=500, blank=True)
    tracker_updated_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The tracker's last change to the item that we applied."
    )
    tracker_missing_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Since when the tracker no longer lists it; null while it does.",
    )
    tracker_missing_reason = models.CharField(max_length=10, choices=TrackerAbsence.choices, blank=True, editable=False)
    cost_estimate = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    cost_currency = models.CharField(max_length=3, blank=True, validators=[validate_currency])
    started_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="From the status history.")
    done_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="From the status history.")
    key_results: models.ManyToManyField[KeyResult, Contribution] = models.ManyToManyField(
        KeyResult, through="Contribution", related_name="epics"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["Epic"].as_manager()
    history = audit_history()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "tracker_connection_id", "external_id"],
                condition=Q(tracker_connection_id__isnull=False),
                name="epic_unique_per_tracker_item",
            ),
            models.CheckConstraint(
                condition=Q(cost_estimate__isnull=True, cost_currency="")
                | Q(cost_estimate__isnull=False) & ~Q(cost_currency=""),
                name="epic_cost_has_currency",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "status"], name="epic_company_status"),
            # The reminder planner looks each minute for epics started lately without an anticipated outcome.
            models.Index(fields=["started_at"], name="epic_started_at"),
            # A company's epic list in its default order: a page is read off the index, not sorted from all.
            models.Index(fields=["company", "-created", "-id"], name="epic_company_newest"),
        ]

    def __str__(self) -> str:
        return self.title


class AnticipatedOutcomeQuerySet(CompanyOwnedQuerySet["AnticipatedOutcome"]):
    company_path = "epic__company"


class AnticipatedOutcome(models.Model):
    """What an epic is expected to change, written before it starts: the promise that is checked later."""

    epic = models.OneToOneField(Epic, on_delete=models.CASCADE, related_name="anticipated_outcome")
    problem = models.TextField(help_text="What problem are we solving?")
    expected_results = models.TextField(help_text="What results do we expect, and how will we measure them?")
    learning_plan = models.TextField(blank=True, help_text="How and when we will learn, and what we do if it misses.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = AnticipatedOutcomeQuerySet.as_manager()
    history = audit_history()

    def __str__(self) -> str:
        return f"Anticipated outcome of {self.epic}"


class SuccessMetricQuerySet(CompanyOwnedQuerySet["SuccessMetric"]):
    company_path = "anticipated_outcome__epic__company"


class SuccessMetric(models.Model):
    """A metric that defines success: from a baseline to a target, measured a window after delivery."""

    anticipated_outcome = models.ForeignKey(AnticipatedOutcome, on_delete=models.CASCADE, related_name="metrics")
    position = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(1000)])
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=40, blank=True)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    baseline = models.DecimalField(max_digits=15, decimal_places=4)
    target = models.DecimalField(max_digits=15, decimal_places=4)
    data_source = models.CharField(max_length=500, blank=True, help_text="Where the number comes from, or how.")
    window_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days after delivery when it is measured.",
    )

    objects = SuccessMetricQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["anticipated_outcome", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(window_days__gte=1, window_days__lte=365), name="metric_window_1_365")
        ]

    def __str__(self) -> str:
        return self.name


class ContributionQuerySet(CompanyOwnedQuerySet["Contribution"]):
    company_path = "epic__company"


class Contribution(models.Model):
    """An epic serves a key result, with the change it is expected to make there (in the key result's unit)."""

    epic = models.ForeignKey(Epic, on_delete=models.CASCADE, related_name="contributions")
    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="contributions")
    expected_contribution = models.DecimalField(max_digits=15, decimal_places=4, null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ContributionQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["epic", "id"]
        constraints = [models.UniqueConstraint(fields=["epic", "key_result"], name="contribution_unique")]

    def __str__(self) -> str:
        return f"{self.epic} → {self.key_result}"


class StatusChangeQuerySet(CompanyOwnedQuerySet["StatusChange"]):
    company_path = "epic__company"


class StatusChange(models.Model):
    """One move of an epic's status. Rows are only ever added: history is never rewritten.

    ``waiting`` says the state entered is a wait state. A tracker can put an epic in progress on
    hold and back without changing our status: that is a row from in_progress to in_progress with
    the new ``waiting``, so flow efficiency can tell active time from waiting time.
    """

    epic = models.ForeignKey(Epic, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=EpicStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=EpicStatus.choices)
    at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=ChangeSource.choices, default=ChangeSource.MANUAL)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key_prefix = models.CharField(max_length=20, blank=True, default="")
    tracker_timestamp = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    waiting = models.BooleanField(default=False, help_text="The state entered is in progress but waiting.")

    objects = StatusChangeQuerySet.as_manager()

    class Meta:
        ordering = ["epic", "at", "id"]
        indexes = [models.Index(fields=["epic", "at"], name="status_change_epic_at")]

    def __str__(self) -> str:
        return f"{self.epic}: {self.from_status or '∅'} → {self.to_status}"


class OutcomeReviewQuerySet(CompanyOwnedQuerySet["OutcomeReview"]):
    company_path = "epic__company"


class OutcomeReview(models.Model):
    """The check after delivery: due when the longest measurement window has passed since done.

    A reopened epic cancels its open review; finishing it again opens a new one.
    """

    epic = models.ForeignKey(Epic, on_delete=models.CASCADE, related_name="reviews")
    state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.PENDING)
    done_at = models.DateTimeField()
    due_at = models.DateTimeField()
    waived_reason = models.TextField(blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = OutcomeReviewQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["epic"], condition=Q(state=ReviewState.PENDING), name="review_one_pending_per_epic"
            ),
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="review_state_due")]

    def __str__(self) -> str:
        return f"Review of {self.epic} (due {self.due_at:%Y-%m-%d})"


class ActualResultQuerySet(CompanyOwnedQuerySet["ActualResult"]):
    company_path = "review__epic__company"


class ActualResult(models.Model):
    """What the epic actually achieved, as recorded. Immutable: a correction is a new revision."""

    review = models.ForeignKey(OutcomeReview, on_delete=models.CASCADE, related_name="results")
    revision = models.PositiveIntegerField(validators=[INT32_MAX])
    verdict = models.CharField(max_length=12, choices=Verdict.choices, help_text="Computed from the metrics.")
    verdict_override = models.CharField(max_length=12, choices=Verdict.choices, blank=True)
    override_reason = models.TextField(blank=True)
    learnings = models.TextField(blank=True, help_text="What we learned.")
    next_steps = models.TextField(blank=True, help_text="What we will do next.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ActualResultQuerySet.as_manager()

    class Meta:
        ordering = ["review", "-revision"]
        constraints = [models.UniqueConstraint(fields=["review", "revision"], name="result_unique_revision")]

    def __str__(self) -> str:
        return f"Result r{self.revision} of {self.review.epic}"

    @property
    def overall(self) -> str:
        return self.verdict_override or self.verdict


class MetricResultQuerySet(CompanyOwnedQuerySet["MetricResult"]):
    company_path = "result__review__epic__company"


class MetricResult(models.Model):
    """One success metric's measured value in a recorded result, with its computed verdict."""

    result = models.ForeignKey(ActualResult, on_delete=models.CASCADE, related_name="metric_results")
    metric = models.ForeignKey(SuccessMetric, on_delete=models.PROTECT, related_name="results")
    value = models.DecimalField(max_digits=15, decimal_places=4, null=True, blank=True)
    verdict = models.CharField(max_length=12, choices=Verdict.choices)
    evidence_url = models.URLField(max_length=500, blank=True)
    evidence_note = models.TextField(blank=True)

    objects = MetricResultQuerySet.as_manager()

    class Meta:
        ordering = ["result", "metric__position", "id"]
        constraints = [models.UniqueConstraint(fields=["result", "metric"], name="metric_result_unique")]

    def __str__(self) -> str:
        return f"{self.metric}: {self.value}"

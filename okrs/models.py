from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from okrs.choices import Cadence, CheckInSource, CycleStatus, GradeResult, KeyResultKind, ObjectiveLevel
from outcomes.models import BusinessOutcome, Company, CompanyOwnedQuerySet, Strategy, Team
from outcomes.models.base import audit_history

MAX_DEPTH = 10  # objectives nest at most this deep (a root is depth 1)
POSITIVE = MinValueValidator(Decimal("0.001"))


class Cycle(models.Model):
    """A period of OKRs, usually a quarter or a year. Cycles may overlap."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="cycles")
    name = models.CharField(max_length=100)
    start = models.DateField()
    end = models.DateField()
    status = models.CharField(max_length=10, choices=CycleStatus.choices, default=CycleStatus.PLANNING)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    objects = CompanyOwnedQuerySet["Cycle"].as_manager()
    history = audit_history()

    class Meta:
        ordering = ["-start", "name", "id"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="cycle_end_after_start")]

    def __str__(self) -> str:
        return self.name


class Objective(models.Model):
    """What a company or team wants to achieve in a cycle, with one accountable owner.

    Objectives nest: a team objective aligns to a parent objective, up to 10 levels.
    Progress, status and confidence are computed (see ``okrs.rollup``) and cached here
    so lists can filter on them; they are never typed in.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="objectives")
    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="objectives")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    level = models.CharField(max_length=10, choices=ObjectiveLevel.choices, default=ObjectiveLevel.COMPANY)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="objectives")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    strategies = models.ManyToManyField(Strategy, blank=True, related_name="objectives")
    business_outcomes = models.ManyToManyField(BusinessOutcome, blank=True, related_name="objectives")
    anticipated_outcome = models.TextField(blank=True, help_text="The business impact expected from this objective.")
    anticipated_business_outcome = models.ForeignKey(
        BusinessOutcome,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The business outcome it should move.",
    )
    weight = models.DecimalField(
        max_digits=8, decimal_places=3, default=1, validators=[MinValueValidator(Decimal("0.001"))]
    )
    # Computed, cached for filtering (okrs.rollup).
    progress = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True, editable=False)
    status = models.CharField(max_length=10, blank=True, default="", editable=False)
    # The closing record, written when the cycle closes.
    grade = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    grade_overridden = models.BooleanField(default=False)
    grade_reason = models.TextField(blank=True)
    result = models.CharField(max_length=10, choices=GradeResult.choices, blank=True)
    learnings = models.TextField(blank=True)
    decisions = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["Objective"].as_manager()
    history = audit_history(m2m_fields=[strategies, business_outcomes])

    class Meta:
        ordering = ["cycle", "title", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gt=0), name="objective_weight_positive"),
            models.CheckConstraint(
                condition=Q(level=ObjectiveLevel.TEAM, team__isnull=False)
                | Q(level=ObjectiveLevel.COMPANY, team__isnull=True),
                name="objective_team_matches_level",
            ),
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="objective_not_own_parent"),
        ]
        indexes = [models.Index(fields=["company", "cycle", "status"], name="objective_cycle_status")]

    def __str__(self) -> str:
        return self.title


class KeyResultQuerySet(CompanyOwnedQuerySet["KeyResult"]):
    pass


class KeyResult(models.Model):
    """How an objective's success is measured: a metric from a baseline to a target, with an owner."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="key_results")
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="key_results")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=KeyResultKind.choices)
    unit = models.CharField(max_length=40, blank=True)
    baseline = models.DecimalField(max_digits=15, decimal_places=4, default=0)
    target = models.DecimalField(max_digits=15, decimal_places=4)
    weight = models.DecimalField(
        max_digits=8, decimal_places=3, default=1, validators=[MinValueValidator(Decimal("0.001"))]
    )
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.WEEKLY)
    next_checkin_due = models.DateTimeField(editable=False, help_text="When the next check-in is due, by the cadence.")
    # Computed from check-ins and cached (okrs.rollup).
    current_value = models.DecimalField(max_digits=15, decimal_places=4, null=True, blank=True, editable=False)
    confidence = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True, editable=False)
    progress = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True, editable=False)
    status = models.CharField(max_length=10, blank=True, default="", editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = KeyResultQuerySet.as_manager()
    history = audit_history(excluded_fields=["current_value", "confidence", "progress", "status", "next_checkin_due"])

    class Meta:
        ordering = ["objective", "title", "id"]
        constraints = [models.CheckConstraint(condition=Q(weight__gt=0), name="key_result_weight_positive")]

    def __str__(self) -> str:
        return self.title


class CheckInQuerySet(CompanyOwnedQuerySet["CheckIn"]):
    company_path = "key_result__company"


class CheckIn(models.Model):
    """A key result's value (and the owner's confidence) as of a time. A correction is a new check-in.

    ``day`` is set by the idempotent daily write for integrations
    (``PUT key-results/{id}/values/{date}/``): one value per key result and day.
    """

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="check_ins")
    value = models.DecimalField(max_digits=15, decimal_places=4)
    confidence = models.DecimalField(
        max_digits=3, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    comment = models.TextField(blank=True)
    as_of = models.DateTimeField(default=timezone.now)
    day = models.DateField(null=True, blank=True, editable=False)
    source = models.CharField(max_length=10, choices=CheckInSource.choices, default=CheckInSource.MANUAL)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_api_key_prefix = models.CharField(max_length=20, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    objects = CheckInQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["-as_of", "-id"]
        indexes = [models.Index(fields=["key_result", "-as_of", "-id"], name="checkin_latest")]
        constraints = [
            models.UniqueConstraint(
                fields=["key_result", "day"], condition=Q(day__isnull=False), name="checkin_one_value_per_day"
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="checkin_confidence_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} on {self.as_of:%Y-%m-%d}"

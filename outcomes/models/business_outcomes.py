from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from outcomes.choices import Direction, MeasurementSource, OutcomeCategory
from outcomes.models.base import CompanyOwnedQuerySet, audit_history
from outcomes.models.companies import Company


class BusinessOutcome(models.Model):
    """A measurable result a strategy is for: a metric with a baseline, a target and an owner.

    Its current value is never typed in: it is the latest measurement.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="business_outcomes")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=32, choices=OutcomeCategory.choices)
    metric_name = models.CharField(max_length=200)
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. %, EUR, days, NPS points.")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    baseline = models.DecimalField(max_digits=15, decimal_places=4)
    target = models.DecimalField(max_digits=15, decimal_places=4)
    target_date = models.DateField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["BusinessOutcome"].as_manager()
    history = audit_history()

    class Meta:
        ordering = ["target_date", "title", "id"]

    def __str__(self) -> str:
        return self.title


class MeasurementQuerySet(CompanyOwnedQuerySet["Measurement"]):
    company_path = "business_outcome__company"


class Measurement(models.Model):
    """A value of a business outcome's metric as of a time. A correction is a new measurement."""

    business_outcome = models.ForeignKey(BusinessOutcome, on_delete=models.CASCADE, related_name="measurements")
    value = models.DecimalField(max_digits=15, decimal_places=4)
    as_of = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=MeasurementSource.choices, default=MeasurementSource.MANUAL)
    comment = models.CharField(max_length=1000, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_api_key_prefix = models.CharField(max_length=20, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    objects = MeasurementQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["-as_of", "-id"]
        indexes = [models.Index(fields=["business_outcome", "-as_of", "-id"], name="measurement_latest")]

    def __str__(self) -> str:
        return f"{self.value} on {self.as_of:%Y-%m-%d}"

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from outcomes.choices import StrategyStatus, SwotKind
from outcomes.currencies import validate_currency
from outcomes.models.base import CompanyOwnedQuerySet, audit_history
from outcomes.models.companies import Company


class SwotItem(models.Model):
    """A strength, weakness, opportunity or threat, rated by its impact."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="swot_items")
    kind = models.CharField(max_length=16, choices=SwotKind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    impact = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)], help_text="1 (minor) to 5 (critical)."
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["SwotItem"].as_manager()
    history = audit_history()

    class Meta:
        ordering = ["kind", "-impact", "title", "id"]
        constraints = [models.CheckConstraint(condition=Q(impact__gte=1, impact__lte=5), name="swot_impact_1_to_5")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class Strategy(models.Model):
    """A risk-optimised path towards business outcomes over a time horizon, with one accountable owner."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="strategies")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rationale = models.TextField(blank=True, help_text="Why this path.")
    risks_and_assumptions = models.TextField(blank=True, help_text="The main risks and the assumptions it rests on.")
    horizon_start = models.DateField()
    horizon_end = models.DateField()
    status = models.CharField(max_length=10, choices=StrategyStatus.choices, default=StrategyStatus.DRAFT)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    swot_items = models.ManyToManyField(SwotItem, blank=True, related_name="strategies")
    business_outcomes = models.ManyToManyField("outcomes.BusinessOutcome", blank=True, related_name="strategies")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CompanyOwnedQuerySet["Strategy"].as_manager()
    history = audit_history(m2m_fields=[swot_items, business_outcomes])

    class Meta:
        ordering = ["-horizon_start", "title", "id"]
        verbose_name_plural = "strategies"
        constraints = [
            models.CheckConstraint(condition=Q(horizon_end__gt=F("horizon_start")), name="strategy_horizon_ordered")
        ]

    def __str__(self) -> str:
        return self.title


class Investment(models.Model):
    """Money allocated to bring a strategy to life, optionally through one team, over a period."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="investments")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="investments")
    team = models.ForeignKey(
        "outcomes.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="investments"
    )
    amount = models.DecimalField(max_digits=15, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, validators=[validate_currency])
    period_start = models.DateField()
    period_end = models.DateField()
    note = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = CompanyOwnedQuerySet["Investment"].as_manager()
    history = audit_history()

    class Meta:
        ordering = ["-period_start", "strategy", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="investment_period_ordered"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="investment_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for {self.strategy}"

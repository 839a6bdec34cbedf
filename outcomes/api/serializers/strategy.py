"""Identity, SWOT, strategies, investments and business outcomes: request and response shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_field
from rest_framework import serializers

from config.api.serializers import InputSerializer
from outcomes.api.base import CompanyScopedRelatedField
from outcomes.api.serializers.tenancy import CURRENCY_CHOICES, UserSummarySerializer
from outcomes.choices import (
    Direction,
    MeasurementSource,
    OutcomeCategory,
    StrategyStatus,
    SwotKind,
)
from outcomes.models import (
    BusinessOutcome,
    IdentityVersion,
    Investment,
    Measurement,
    Strategy,
    SwotItem,
    Team,
    User,
)
from outcomes.progress import progress


# 15 significant digits: what every supported database (SQLite included) stores exactly.
def metric_field(**options: Any) -> serializers.DecimalField:
    """A metric value: up to 11 digits before the point and 4 after."""
    return serializers.DecimalField(max_digits=15, decimal_places=4, **options)


def money_field(**options: Any) -> serializers.DecimalField:
    """An amount of money: up to 13 digits before the point and 2 after."""
    return serializers.DecimalField(max_digits=15, decimal_places=2, **options)


def _ids(related: Any) -> list[int]:
    return [row.pk for row in related.all()]  # reads the prefetched rows


# --- identity ------------------------------------------------------------------------
class ValueSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, allow_blank=True, default="")


class IdentityVersionSerializer(serializers.ModelSerializer[IdentityVersion]):
    values = ValueSerializer(many=True)
    author = UserSummarySerializer(allow_null=True)

    class Meta:
        model = IdentityVersion
        fields = ["number", "mission", "vision", "values", "change_note", "author", "author_api_key_prefix", "created"]


class IdentityInputSerializer(InputSerializer):
    mission = serializers.CharField(max_length=5000, help_text="How the company makes money today.")
    vision = serializers.CharField(max_length=5000, help_text="How the company will make money in the future.")
    values = ValueSerializer(many=True, help_text="How the company makes decisions, most important first.")
    change_note = serializers.CharField(max_length=500, allow_blank=True, default="", help_text="Why it changed.")

    def validate_values(self, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A PATCH makes nested fields optional too; a value still needs its name.
        missing = [{} if value.get("name") else {"name": ["This field is required."]} for value in values]
        if any(missing):
            raise serializers.ValidationError(missing)
        return values


IDENTITY_EXAMPLE = OpenApiExample(
    "A new identity version",
    value={
        "mission": "Small online shops sell more with our checkout.",
        "vision": "Every independent shop runs its payments on us.",
        "values": [
            {"name": "Customers first", "description": "We decide by what the shop owner needs."},
            {"name": "Measure, then decide", "description": "No opinion beats a number."},
        ],
        "change_note": "Vision widened after the 2026 strategy review.",
    },
    request_only=True,
)


# --- SWOT ----------------------------------------------------------------------------
class SwotItemSerializer(serializers.ModelSerializer[SwotItem]):
    owner = UserSummarySerializer()
    strategies = serializers.SerializerMethodField(help_text="Ids of the strategies that address this item.")

    class Meta:
        model = SwotItem
        fields = ["id", "kind", "title", "description", "impact", "owner", "strategies", "created", "updated"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_strategies(self, item: SwotItem) -> list[int]:
        return _ids(item.strategies)


class SwotItemInputSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=SwotKind.choices)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="")
    impact = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (minor) to 5 (critical).")
    owner = CompanyScopedRelatedField(queryset=User.objects.all(), help_text="The accountable member.")


SWOT_EXAMPLE = OpenApiExample(
    "A threat",
    value={
        "kind": "threat",
        "title": "A marketplace bundles payments for free",
        "description": "Shops may not pay for a separate checkout.",
        "impact": 4,
        "owner": 1,
    },
    request_only=True,
)


# --- strategies ----------------------------------------------------------------------
class StrategySerializer(serializers.ModelSerializer[Strategy]):
    owner = UserSummarySerializer()
    swot_items = serializers.SerializerMethodField(help_text="Ids of the SWOT items it addresses.")
    business_outcomes = serializers.SerializerMethodField(help_text="Ids of the business outcomes it targets.")

    class Meta:
        model = Strategy
        fields = [
            "id",
            "title",
            "description",
            "rationale",
            "risks_and_assumptions",
            "horizon_start",
            "horizon_end",
            "status",
            "owner",
            "swot_items",
            "business_outcomes",
            "created",
            "updated",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_swot_items(self, strategy: Strategy) -> list[int]:
        return _ids(strategy.swot_items)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_business_outcomes(self, strategy: Strategy) -> list[int]:
        return _ids(strategy.business_outcomes)


class StrategyInputSerializer(InputSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="")
    rationale = serializers.CharField(allow_blank=True, default="")
    risks_and_assumptions = serializers.CharField(allow_blank=True, default="")
    horizon_start = serializers.DateField()
    horizon_end = serializers.DateField(help_text="After horizon_start.")
    status = serializers.ChoiceField(choices=StrategyStatus.choices, default=StrategyStatus.DRAFT)
    owner = CompanyScopedRelatedField(queryset=User.objects.all(), help_text="The one accountable member.")
    swot_items = CompanyScopedRelatedField(queryset=SwotItem.objects.all(), many=True, default=list)
    business_outcomes = CompanyScopedRelatedField(queryset=BusinessOutcome.objects.all(), many=True, default=list)


STRATEGY_EXAMPLE = OpenApiExample(
    "An active strategy",
    value={
        "title": "Win mid-size shops with one-click checkout",
        "rationale": "Mid-size shops lose most carts at payment.",
        "risks_and_assumptions": "Assumes card networks keep tokenisation fees flat.",
        "horizon_start": "2026-01-01",
        "horizon_end": "2027-12-31",
        "status": "active",
        "owner": 1,
        "swot_items": [3],
        "business_outcomes": [2],
    },
    request_only=True,
)


# --- investments ---------------------------------------------------------------------
class StrategyRefSerializer(serializers.ModelSerializer[Strategy]):
    class Meta:
        model = Strategy
        fields = ["id", "title"]


class TeamRefSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "name"]


class InvestmentSerializer(serializers.ModelSerializer[Investment]):
    strategy = StrategyRefSerializer()
    team = TeamRefSerializer(allow_null=True)

    class Meta:
        model = Investment
        fields = ["id", "strategy", "team", "amount", "currency", "period_start", "period_end", "note", "created"]


class InvestmentInputSerializer(InputSerializer):
    strategy = CompanyScopedRelatedField(queryset=Strategy.objects.all())
    team = CompanyScopedRelatedField(queryset=Team.objects.all(), allow_null=True, default=None)
    amount = money_field(min_value=0, help_text="Not negative.")
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, help_text="ISO 4217 code.")
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="On or after period_start.")
    note = serializers.CharField(max_length=500, allow_blank=True, default="")


INVESTMENT_EXAMPLE = OpenApiExample(
    "A quarter of one team",
    value={
        "strategy": 1,
        "team": 2,
        "amount": "120000.00",
        "currency": "EUR",
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
    },
    request_only=True,
)


class InvestmentTotalSerializer(serializers.Serializer[Any]):
    """Documents a totals row; rows carry only the keys of their grouping."""

    strategy = StrategyRefSerializer(required=False, help_text="With group_by=strategy.")
    team = TeamRefSerializer(required=False, allow_null=True, help_text="With group_by=team; null: no team.")
    period_start = serializers.DateField(required=False, help_text="With group_by=period.")
    period_end = serializers.DateField(required=False, help_text="With group_by=period.")
    currency = serializers.CharField()
    total = money_field()
    allocations = serializers.IntegerField(help_text="How many investments the total adds up.")


# --- business outcomes ---------------------------------------------------------------
class BusinessOutcomeSerializer(serializers.ModelSerializer[BusinessOutcome]):
    owner = UserSummarySerializer()
    current_value = metric_field(read_only=True, allow_null=True, help_text="The latest measurement's value.")
    current_as_of = serializers.DateTimeField(read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField(
        help_text="0 to 1, from the shared formula (docs/progress.md); null when unknown."
    )
    strategies = serializers.SerializerMethodField(help_text="Ids of the strategies that target it.")

    class Meta:
        model = BusinessOutcome
        fields = [
            "id",
            "title",
            "description",
            "category",
            "metric_name",
            "unit",
            "direction",
            "baseline",
            "target",
            "target_date",
            "owner",
            "current_value",
            "current_as_of",
            "progress",
            "strategies",
            "created",
            "updated",
        ]

    @extend_schema_field(serializers.FloatField(allow_null=True, min_value=0, max_value=1))
    def get_progress(self, outcome: BusinessOutcome) -> float | None:
        value = progress(
            kind=outcome.direction,
            baseline=outcome.baseline,
            target=outcome.target,
            current=outcome.current_value,  # type: ignore[attr-defined]
        )
        return None if value is None else float(value.quantize(Decimal("0.0001")))

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_strategies(self, outcome: BusinessOutcome) -> list[int]:
        return _ids(outcome.strategies)


class BusinessOutcomeInputSerializer(InputSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="")
    category = serializers.ChoiceField(choices=OutcomeCategory.choices)
    metric_name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=40, allow_blank=True, default="")
    direction = serializers.ChoiceField(choices=Direction.choices)
    baseline = metric_field()
    target = metric_field(help_text="Above the baseline to increase, below to decrease; any value to stay above/below.")
    target_date = serializers.DateField()
    owner = CompanyScopedRelatedField(queryset=User.objects.all(), help_text="The one accountable member.")


BUSINESS_OUTCOME_EXAMPLE = OpenApiExample(
    "Checkout conversion",
    value={
        "title": "More carts become orders",
        "category": "revenue",
        "metric_name": "Checkout conversion",
        "unit": "%",
        "direction": "increase",
        "baseline": "61.5",
        "target": "70",
        "target_date": "2026-12-31",
        "owner": 1,
    },
    request_only=True,
)


class MeasurementSerializer(serializers.ModelSerializer[Measurement]):
    author = UserSummarySerializer(allow_null=True)

    class Meta:
        model = Measurement
        fields = ["id", "value", "as_of", "source", "comment", "author", "author_api_key_prefix", "created"]


class MeasurementInputSerializer(InputSerializer):
    value = metric_field()
    as_of = serializers.DateTimeField(required=False, help_text="When the value was true; now when omitted.")
    source = serializers.ChoiceField(choices=MeasurementSource.choices, required=False)  # type: ignore[assignment]
    comment = serializers.CharField(max_length=1000, allow_blank=True, default="")


MEASUREMENT_EXAMPLE = OpenApiExample(
    "This week's value",
    value={"value": "63.2", "as_of": "2026-11-20T09:00:00Z", "comment": "From the BI dashboard."},
    request_only=True,
)

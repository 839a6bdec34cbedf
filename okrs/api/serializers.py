"""OKR request and response shapes, and the roll-up document."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from config.api.serializers import InputSerializer
from okrs.choices import Cadence, CycleStatus, GradeResult, KeyResultKind, ObjectiveLevel, Status
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from outcomes.api.base import CompanyScopedRelatedField
from outcomes.api.serializers.strategy import TeamRefSerializer, metric_field
from outcomes.api.serializers.tenancy import UserSummarySerializer
from outcomes.models import BusinessOutcome, Strategy, Team, User


def fraction_field(help_text: str) -> serializers.DecimalField:
    """A computed share from 0 to 1, rendered as a JSON number."""
    return serializers.DecimalField(
        max_digits=7, decimal_places=6, coerce_to_string=False, read_only=True, allow_null=True, help_text=help_text
    )


# --- cycles --------------------------------------------------------------------------
class CycleSerializer(serializers.ModelSerializer[Cycle]):
    class Meta:
        model = Cycle
        fields = ["id", "name", "start", "end", "status", "closed_at", "created"]


class CycleInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    start = serializers.DateField()
    end = serializers.DateField(help_text="After start; the cycle includes this day.")
    status = serializers.ChoiceField(
        choices=[CycleStatus.PLANNING, CycleStatus.ACTIVE],
        default=CycleStatus.PLANNING,
        help_text="planning or active; a cycle is closed with the close command.",
    )


CYCLE_EXAMPLE = OpenApiExample(
    "A quarter",
    value={"name": "2026 Q4", "start": "2026-10-01", "end": "2026-12-31", "status": "active"},
    request_only=True,
)


# --- objectives ----------------------------------------------------------------------
class ObjectiveSerializer(serializers.ModelSerializer[Objective]):
    owner = UserSummarySerializer()
    reviewer = UserSummarySerializer(allow_null=True)
    team = TeamRefSerializer(allow_null=True)
    strategies = serializers.ListField(
        child=serializers.IntegerField(),
        source="strategy_ids",
        read_only=True,
        help_text="Ids of the strategies it serves.",
    )
    business_outcomes = serializers.ListField(
        child=serializers.IntegerField(),
        source="business_outcome_ids",
        read_only=True,
        help_text="Ids of the business outcomes it serves.",
    )
    progress = fraction_field("Computed progress, 0 to 1 (docs/progress.md); null when unknown.")
    status = serializers.ChoiceField(choices=Status.choices, read_only=True, allow_blank=True)
    stale = serializers.BooleanField(read_only=True, help_text="A key result's check-in is overdue.")
    grade = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False, allow_null=True)

    class Meta:
        model = Objective
        fields = [
            "id",
            "cycle",
            "title",
            "description",
            "level",
            "team",
            "owner",
            "reviewer",
            "parent",
            "strategies",
            "business_outcomes",
            "anticipated_outcome",
            "anticipated_business_outcome",
            "weight",
            "progress",
            "status",
            "stale",
            "grade",
            "grade_overridden",
            "grade_reason",
            "result",
            "learnings",
            "decisions",
            "created",
            "updated",
        ]


class ObjectiveInputSerializer(InputSerializer):
    cycle = CompanyScopedRelatedField(queryset=Cycle.objects.all())
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="")
    level = serializers.ChoiceField(choices=ObjectiveLevel.choices, default=ObjectiveLevel.COMPANY)
    team = CompanyScopedRelatedField(queryset=Team.objects.all(), allow_null=True, default=None)
    owner = CompanyScopedRelatedField(queryset=User.objects.all(), help_text="The one accountable member.")
    reviewer = CompanyScopedRelatedField(queryset=User.objects.all(), allow_null=True, default=None)
    parent = CompanyScopedRelatedField(  # type: ignore[assignment]
        queryset=Objective.objects.all(), allow_null=True, default=None, help_text="The objective it aligns to."
    )
    strategies = CompanyScopedRelatedField(queryset=Strategy.objects.all(), many=True, default=list)
    business_outcomes = CompanyScopedRelatedField(queryset=BusinessOutcome.objects.all(), many=True, default=list)
    anticipated_outcome = serializers.CharField(allow_blank=True, default="", help_text="The business impact expected.")
    anticipated_business_outcome = CompanyScopedRelatedField(
        queryset=BusinessOutcome.objects.all(),
        allow_null=True,
        default=None,
        help_text="The business outcome it should move.",
    )
    weight = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"), default=1)  # type: ignore[arg-type]


OBJECTIVE_EXAMPLE = OpenApiExample(
    "A team objective",
    value={
        "cycle": 1,
        "title": "Make checkout effortless",
        "level": "team",
        "team": 2,
        "owner": 3,
        "parent": 1,
        "strategies": [1],
        "anticipated_outcome": "More carts become orders.",
        "anticipated_business_outcome": 1,
    },
    request_only=True,
)


class GradeInputSerializer(InputSerializer):
    result = serializers.ChoiceField(choices=GradeResult.choices)
    grade = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        min_value=0,
        max_value=1,
        required=False,
        help_text="Overrides the progress at closing; needs grade_reason.",
    )
    grade_reason = serializers.CharField(allow_blank=True, default="")
    learnings = serializers.CharField(allow_blank=True, default="")
    decisions = serializers.CharField(allow_blank=True, default="")


# --- key results ---------------------------------------------------------------------
class KeyResultSerializer(serializers.ModelSerializer[KeyResult]):
    owner = UserSummarySerializer()
    current_value = metric_field(read_only=True, allow_null=True, help_text="The latest check-in's value.")
    confidence = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        coerce_to_string=False,
        read_only=True,
        allow_null=True,
        help_text="The latest check-in's confidence.",
    )
    progress = fraction_field("Computed progress, 0 to 1; null when unknown.")
    status = serializers.ChoiceField(choices=Status.choices, read_only=True, allow_blank=True)
    stale = serializers.SerializerMethodField(help_text="A check-in is overdue by the cadence.")

    class Meta:
        model = KeyResult
        fields = [
            "id",
            "objective",
            "title",
            "owner",
            "kind",
            "unit",
            "baseline",
            "target",
            "weight",
            "cadence",
            "next_checkin_due",
            "current_value",
            "confidence",
            "progress",
            "status",
            "stale",
            "created",
            "updated",
        ]

    def get_stale(self, key_result: KeyResult) -> bool:
        return bool(key_result.next_checkin_due < self.context["now"])


class KeyResultInputSerializer(InputSerializer):
    objective = CompanyScopedRelatedField(queryset=Objective.objects.all())
    title = serializers.CharField(max_length=200)
    owner = CompanyScopedRelatedField(queryset=User.objects.all(), help_text="The one accountable member.")
    kind = serializers.ChoiceField(choices=KeyResultKind.choices)
    unit = serializers.CharField(max_length=40, allow_blank=True, default="")
    baseline = metric_field(required=False, help_text="0 when omitted.")
    target = metric_field(required=False, help_text="Required, except for milestones (1).")
    weight = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"), default=1)  # type: ignore[arg-type]
    cadence = serializers.ChoiceField(choices=Cadence.choices, default=Cadence.WEEKLY)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not self.partial and "target" not in attrs and attrs.get("kind") != KeyResultKind.MILESTONE:
            raise serializers.ValidationError({"target": ["This field is required."]})
        return attrs


KEY_RESULT_EXAMPLE = OpenApiExample(
    "Conversion to 70 %",
    value={
        "objective": 2,
        "title": "Checkout conversion reaches 70 %",
        "owner": 3,
        "kind": "increase_to",
        "unit": "%",
        "baseline": "61.5",
        "target": "70",
    },
    request_only=True,
)


class CheckInSerializer(serializers.ModelSerializer[CheckIn]):
    author = UserSummarySerializer(allow_null=True)
    confidence = serializers.DecimalField(max_digits=3, decimal_places=2, coerce_to_string=False, allow_null=True)

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "value",
            "confidence",
            "comment",
            "as_of",
            "day",
            "source",
            "author",
            "author_api_key_prefix",
            "created",
        ]


class DayValueInputSerializer(InputSerializer):
    value = metric_field()
    confidence = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        min_value=0,
        max_value=1,
        allow_null=True,
        default=None,
        help_text="How likely the target is reached, 0.0 to 1.0.",
    )
    comment = serializers.CharField(allow_blank=True, default="")


class CheckInInputSerializer(DayValueInputSerializer):
    as_of = serializers.DateTimeField(required=False, help_text="When the value was true; now when omitted.")


CHECK_IN_EXAMPLE = OpenApiExample(
    "A weekly check-in",
    value={"value": "64.6", "confidence": 0.7, "comment": "New payment page is live."},
    request_only=True,
)


# --- roll-up -------------------------------------------------------------------------
class _Figures(serializers.Serializer[Any]):
    progress = serializers.FloatField(allow_null=True)
    expected = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(choices=Status.choices, allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    trend = serializers.FloatField(allow_null=True, help_text="Progress now minus progress 7 days ago.")
    stale = serializers.BooleanField()


class RollupKeyResultSerializer(_Figures):
    id = serializers.IntegerField()
    title = serializers.CharField()
    owner = UserSummarySerializer()
    kind = serializers.ChoiceField(choices=KeyResultKind.choices)
    unit = serializers.CharField()
    baseline = serializers.CharField()
    target = serializers.CharField()
    current_value = serializers.CharField(allow_null=True)
    weight = serializers.CharField()


class RollupObjectiveSerializer(_Figures):
    id = serializers.IntegerField()
    title = serializers.CharField()
    cycle = serializers.IntegerField()
    level = serializers.ChoiceField(choices=ObjectiveLevel.choices)
    team = TeamRefSerializer(allow_null=True)
    owner = UserSummarySerializer()
    parent = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]
    weight = serializers.CharField()
    key_results = RollupKeyResultSerializer(many=True)
    children = serializers.ListField(child=serializers.DictField(), help_text="Child objectives, the same shape.")


class RollupGroupSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    progress = serializers.FloatField(allow_null=True)
    objectives = serializers.IntegerField()


class RollupSerializer(serializers.Serializer[Any]):
    cycle = CycleSerializer()
    at = serializers.DateTimeField()
    progress = serializers.FloatField(allow_null=True, help_text="Weighted mean of the top-level objectives.")
    expected = serializers.FloatField(help_text="The elapsed share of the cycle.")
    objectives = RollupObjectiveSerializer(many=True, help_text="Top-level objectives, children nested.")
    teams = RollupGroupSerializer(many=True, help_text="Per team: weighted mean of its objectives in the cycle.")
    strategies = RollupGroupSerializer(
        many=True, help_text="Per strategy: weighted mean of its objectives in the cycle."
    )
    business_outcomes = RollupGroupSerializer(
        many=True, help_text="Per business outcome: weighted mean of the cycle's objectives that serve it."
    )

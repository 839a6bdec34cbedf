"""Epic request and response shapes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema_field
from rest_framework import serializers

from config.api.serializers import InputSerializer
from epics.choices import ChangeSource, EpicStatus, ReviewPhase, Verdict, WorkType
from epics.models import (
    ActualResult,
    AnticipatedOutcome,
    Contribution,
    Epic,
    MetricResult,
    OutcomeReview,
    StatusChange,
    SuccessMetric,
)
from epics.selectors import epic_cost, has_judged_outcome, misses_outcome, review_phase
from okrs.models import KeyResult
from outcomes.api.base import CompanyScopedRelatedField
from outcomes.api.serializers.strategy import TeamRefSerializer, metric_field, money_field
from outcomes.api.serializers.tenancy import CURRENCY_CHOICES, UserSummarySerializer
from outcomes.choices import Direction
from outcomes.models import Team, User


class CostSerializer(serializers.Serializer[Any]):
    amount = money_field()
    currency = serializers.CharField()
    basis = serializers.ChoiceField(choices=[("estimate", "Estimate"), ("team_cost", "Team cost over the flow time")])


class ReviewSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    phase = serializers.ChoiceField(choices=ReviewPhase.choices)
    due_at = serializers.DateTimeField()


class EpicSerializer(serializers.ModelSerializer[Epic]):
    owner = UserSummarySerializer()
    reviewer = UserSummarySerializer(allow_null=True)
    team = TeamRefSerializer(allow_null=True)
    key_results = serializers.SerializerMethodField(help_text="Ids of the key results it serves.")
    has_anticipated_outcome = serializers.SerializerMethodField()
    missing_anticipated_outcome = serializers.SerializerMethodField(
        help_text="Started or done without an anticipated outcome (a synced epic is never blocked)."
    )
    cost = serializers.SerializerMethodField(help_text="The estimate, or the team's monthly cost over the flow time.")
    review = serializers.SerializerMethodField(help_text="The outcome review of the latest delivery, if any.")

    class Meta:
        model = Epic
        fields = [
            "id",
            "title",
            "description",
            "team",
            "owner",
            "reviewer",
            "work_type",
            "status",
            "external_key",
            "tracker_status",
            "tracker_url",
            "tracker_connection_id",
            "cost_estimate",
            "cost_currency",
            "cost",
            "started_at",
            "done_at",
            "key_results",
            "has_anticipated_outcome",
            "missing_anticipated_outcome",
            "review",
            "created",
            "updated",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_key_results(self, epic: Epic) -> list[int]:
        return [c.key_result_id for c in epic.contributions.all()]

    def get_has_anticipated_outcome(self, epic: Epic) -> bool:
        return has_judged_outcome(epic)

    def get_missing_anticipated_outcome(self, epic: Epic) -> bool:
        return misses_outcome(epic)

    @extend_schema_field(CostSerializer(allow_null=True))
    def get_cost(self, epic: Epic) -> dict[str, Any] | None:
        cost = epic_cost(epic)
        return None if cost is None else {"amount": str(cost[0]), "currency": cost[1], "basis": cost[2]}

    @extend_schema_field(ReviewSummarySerializer(allow_null=True))
    def get_review(self, epic: Epic) -> dict[str, Any] | None:
        reviews = getattr(epic, "live_reviews", [])
        if not reviews:
            return None
        review = reviews[0]
        return {"id": review.pk, "phase": review_phase(review, timezone.now()), "due_at": review.due_at}


class EpicInputSerializer(InputSerializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(allow_blank=True, default="")
    team = CompanyScopedRelatedField(queryset=Team.objects.all(), allow_null=True, default=None)
    owner = CompanyScopedRelatedField(queryset=User.objects.all(), help_text="The one accountable member.")
    reviewer = CompanyScopedRelatedField(queryset=User.objects.all(), allow_null=True, default=None)
    work_type = serializers.ChoiceField(choices=WorkType.choices, default=WorkType.FEATURE)
    external_key = serializers.CharField(max_length=200, allow_blank=True, default="")
    tracker_url = serializers.URLField(max_length=500, allow_blank=True, default="")
    cost_estimate = money_field(min_value=0, allow_null=True, default=None)
    cost_currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, allow_blank=True, default="")


EPIC_EXAMPLE = OpenApiExample(
    "An epic",
    value={"title": "One-click pay", "team": 1, "owner": 3, "work_type": "feature", "external_key": "SHOP-42"},
    request_only=True,
)


# --- anticipated outcome -------------------------------------------------------------
class SuccessMetricSerializer(serializers.ModelSerializer[SuccessMetric]):
    class Meta:
        model = SuccessMetric
        fields = ["id", "name", "unit", "direction", "baseline", "target", "data_source", "window_days"]


class AnticipatedOutcomeSerializer(serializers.ModelSerializer[AnticipatedOutcome]):
    metrics = SuccessMetricSerializer(many=True)
    frozen = serializers.SerializerMethodField(help_text="Frozen while the epic is done.")

    class Meta:
        model = AnticipatedOutcome
        fields = ["problem", "expected_results", "learning_plan", "metrics", "frozen", "created", "updated"]

    def get_frozen(self, outcome: AnticipatedOutcome) -> bool:
        return outcome.epic.status == EpicStatus.DONE


class SuccessMetricInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=40, allow_blank=True, default="")
    direction = serializers.ChoiceField(choices=Direction.choices)
    baseline = metric_field()
    target = metric_field(help_text="Above the baseline to increase, below to decrease.")
    data_source = serializers.CharField(
        max_length=500, allow_blank=True, default="", help_text="Where the number comes from."
    )
    window_days = serializers.IntegerField(min_value=1, max_value=365, default=30, help_text="Days after delivery.")


class AnticipatedOutcomeInputSerializer(InputSerializer):
    problem = serializers.CharField(help_text="What problem are we solving?")
    expected_results = serializers.CharField(help_text="What results do we expect, and how will we measure them?")
    learning_plan = serializers.CharField(
        allow_blank=True, default="", help_text="How and when we learn; if it misses."
    )
    metrics = SuccessMetricInputSerializer(many=True, help_text="At least one.")


ANTICIPATED_EXAMPLE = OpenApiExample(
    "What one-click pay should change",
    value={
        "problem": "Mid-size shops lose a third of carts at the payment step.",
        "expected_results": "More carts become orders; measured in the checkout funnel.",
        "learning_plan": "Review 30 days after launch; if conversion does not move, interview ten shops.",
        "metrics": [
            {
                "name": "Checkout conversion",
                "unit": "%",
                "direction": "increase",
                "baseline": "61.5",
                "target": "66",
                "data_source": "BI funnel dashboard",
                "window_days": 30,
            }
        ],
    },
    request_only=True,
)


# --- contributions, status -----------------------------------------------------------
class ContributionSerializer(serializers.ModelSerializer[Contribution]):
    class Meta:
        model = Contribution
        fields = ["key_result", "expected_contribution", "note", "created"]


class ContributionInputSerializer(InputSerializer):
    key_result = CompanyScopedRelatedField(queryset=KeyResult.objects.all())
    expected_contribution = metric_field(allow_null=True, default=None, help_text="In the key result's unit.")
    note = serializers.CharField(max_length=500, allow_blank=True, default="")


class TransitionInputSerializer(InputSerializer):
    status = serializers.ChoiceField(choices=EpicStatus.choices)
    reason = serializers.CharField(max_length=500, allow_blank=True, default="")


class StatusChangeSerializer(serializers.ModelSerializer[StatusChange]):
    actor = UserSummarySerializer(allow_null=True)
    source = serializers.ChoiceField(choices=ChangeSource.choices)  # type: ignore[assignment]

    class Meta:
        model = StatusChange
        fields = [
            "id",
            "from_status",
            "to_status",
            "waiting",
            "at",
            "source",
            "actor",
            "actor_api_key_prefix",
            "tracker_timestamp",
            "reason",
        ]


# --- reviews and results -------------------------------------------------------------
class MetricResultSerializer(serializers.ModelSerializer[MetricResult]):
    class Meta:
        model = MetricResult
        fields = ["metric", "value", "verdict", "evidence_url", "evidence_note"]


class ActualResultSerializer(serializers.ModelSerializer[ActualResult]):
    metric_results = MetricResultSerializer(many=True)
    recorded_by = UserSummarySerializer(allow_null=True)
    overall = serializers.ChoiceField(
        choices=Verdict.choices, help_text="The override if given, else the computed verdict."
    )

    class Meta:
        model = ActualResult
        fields = [
            "revision",
            "verdict",
            "verdict_override",
            "override_reason",
            "overall",
            "learnings",
            "next_steps",
            "metric_results",
            "recorded_by",
            "recorded_at",
        ]


class MetricDueSerializer(serializers.Serializer[Any]):
    metric = serializers.IntegerField()
    name = serializers.CharField()
    due_at = serializers.DateTimeField()


class ReviewSerializer(serializers.ModelSerializer[OutcomeReview]):
    phase = serializers.SerializerMethodField()
    metrics_due = serializers.SerializerMethodField(help_text="Each metric's own due date: done + its window.")
    results = ActualResultSerializer(many=True, help_text="Recorded results, newest revision first.")
    waived_by = UserSummarySerializer(allow_null=True)

    class Meta:
        model = OutcomeReview
        fields = [
            "id",
            "phase",
            "state",
            "done_at",
            "due_at",
            "metrics_due",
            "waived_reason",
            "waived_by",
            "closed_at",
            "results",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=ReviewPhase.choices))
    def get_phase(self, review: OutcomeReview) -> str:
        return review_phase(review, timezone.now())

    @extend_schema_field(MetricDueSerializer(many=True))
    def get_metrics_due(self, review: OutcomeReview) -> list[dict[str, Any]]:
        metrics = SuccessMetric.objects.filter(anticipated_outcome__epic_id=review.epic_id).order_by("position", "id")
        return [
            {"metric": m.pk, "name": m.name, "due_at": review.done_at + timedelta(days=m.window_days)} for m in metrics
        ]


class MetricValueInputSerializer(InputSerializer):
    metric = serializers.PrimaryKeyRelatedField(queryset=SuccessMetric.objects.all())
    value = metric_field(allow_null=True, default=None, help_text="Leave out or null when it could not be measured.")
    evidence_url = serializers.URLField(max_length=500, allow_blank=True, default="")
    evidence_note = serializers.CharField(allow_blank=True, default="")

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        epic = self.context.get("epic")
        fields["metric"].queryset = SuccessMetric.objects.filter(anticipated_outcome__epic=epic)  # type: ignore[attr-defined]
        return fields


class ResultInputSerializer(InputSerializer):
    metrics = MetricValueInputSerializer(many=True)
    learnings = serializers.CharField(allow_blank=True, default="", help_text="What we learned.")
    next_steps = serializers.CharField(allow_blank=True, default="", help_text="What we will do next.")
    verdict_override = serializers.ChoiceField(choices=Verdict.choices, allow_blank=True, default="")
    override_reason = serializers.CharField(allow_blank=True, default="")
    post_check_ins = serializers.BooleanField(
        default=False, help_text="Also check in each value to linked key results in the same unit (source outcome)."
    )


RESULT_EXAMPLE = OpenApiExample(
    "Conversion moved, short of the target",
    value={
        "metrics": [{"metric": 7, "value": "64.2", "evidence_url": "https://bi.example.com/funnel"}],
        "learnings": "Shops with saved cards converted; guests did not.",
        "next_steps": "Guest one-click next.",
        "post_check_ins": True,
    },
    request_only=True,
)


class WaiveInputSerializer(InputSerializer):
    reason = serializers.CharField(help_text="Why no result will be recorded.")


class RecordedSerializer(serializers.Serializer[Any]):
    result = ActualResultSerializer()
    check_ins = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the check-ins posted.")

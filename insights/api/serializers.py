"""Insight query parameters and answer shapes. The answers are read from the read models' dataclasses."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from epics.choices import EpicStatus, ReviewPhase, Verdict, WorkType
from insights.calibration import Calibration, KeyResultScore, Score
from insights.investment import BUCKETS, EpicSpend, InvestmentGroup, Spend
from insights.periods import FIRST_DAY, LAST_DAY, MAX_DAYS
from insights.selectors import VERDICTS, EpicLine, Tally
from okrs.api.serializers import RollupKeyResultSerializer, RollupObjectiveSerializer, RollupSerializer
from okrs.models import Cycle
from outcomes.api.base import CompanyScopedRelatedField
from outcomes.models import Strategy, Team


# --- query parameters ----------------------------------------------------------------------
class TeamQuerySerializer(serializers.Serializer[Any]):
    team = CompanyScopedRelatedField(queryset=Team.objects.all(), required=False, help_text="Only this team.")


class CycleQuerySerializer(TeamQuerySerializer):
    cycle = CompanyScopedRelatedField(
        queryset=Cycle.objects.all(), required=False, help_text="A cycle id; the current cycle when left out."
    )
    strategy = CompanyScopedRelatedField(
        queryset=Strategy.objects.all(), required=False, help_text="Only work serving this strategy."
    )


class CalibrationQuerySerializer(TeamQuerySerializer):
    cycle = CompanyScopedRelatedField(
        queryset=Cycle.objects.all(), required=False, help_text="A cycle id; the current cycle when left out."
    )


def _day(help_text: str) -> serializers.DateField:
    """A day of a period: within years 1900 to 9998, so the instants around it stay representable."""
    return serializers.DateField(
        required=False,
        help_text=help_text,
        validators=[MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)],
    )


class DaysMixin(serializers.Serializer[Any]):
    """``start`` and ``end`` days, instead of a cycle."""

    start = _day("First day (with end; instead of a cycle).")
    end = _day("Last day, included.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return period_rules(attrs)


class FlowQuerySerializer(DaysMixin, CalibrationQuerySerializer):
    """A period and a team (flow is not split by strategy)."""


class PeriodQuerySerializer(DaysMixin, CycleQuerySerializer):
    """A period, a team and a strategy."""


def period_rules(attrs: dict[str, Any]) -> dict[str, Any]:
    """A cycle, or start and end together, in order, and not too long."""
    start, end = attrs.get("start"), attrs.get("end")
    if "cycle" in attrs and (start or end):
        raise serializers.ValidationError({"cycle": ["Give a cycle or start and end, not both."]})
    if (start is None) != (end is None):
        missing = "end" if end is None else "start"
        raise serializers.ValidationError({missing: ["Give start and end together."]})
    if start is not None and end is not None:
        if end < start:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        if (end - start).days + 1 > MAX_DAYS:
            raise serializers.ValidationError({"end": [f"A period is at most {MAX_DAYS} days."]})
    return attrs


# --- shared pieces -------------------------------------------------------------------------
class InsightPeriodSerializer(serializers.Serializer[Any]):
    start = serializers.DateField(source="first_day")
    end = serializers.DateField(source="last_day", help_text="Last day, included.")
    cycle = serializers.IntegerField(source="cycle.pk", allow_null=True, default=None)


class VerdictCountsSerializer(serializers.Serializer[Any]):
    achieved = serializers.IntegerField()
    partly = serializers.IntegerField()
    missed = serializers.IntegerField()
    inconclusive = serializers.IntegerField()


class VerdictSharesSerializer(serializers.Serializer[Any]):
    achieved = serializers.FloatField(allow_null=True)
    partly = serializers.FloatField(allow_null=True)
    missed = serializers.FloatField(allow_null=True)
    inconclusive = serializers.FloatField(allow_null=True)


class TallySerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="Team id, owner e-mail, strategy id or YYYY-MM.")
    name = serializers.CharField()
    delivered = serializers.IntegerField()
    recorded = serializers.IntegerField()
    waived = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Delivered, result not recorded yet.")
    recorded_share = serializers.FloatField(allow_null=True, help_text="recorded / delivered.")
    verdicts = VerdictCountsSerializer()
    verdict_shares = VerdictSharesSerializer(help_text="Each verdict / recorded.")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["verdict_shares"] = {k: _float(v) for k, v in instance.verdict_shares().items()}
        return data


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def tally_data(tally: Tally) -> dict[str, Any]:
    """What ``TallySerializer(tally).data`` gives, as a plain dict: the roll-up has one per objective, and
    a serializer per node cost more than computing the whole tree."""
    return {
        "key": str(tally.key),
        "name": str(tally.name),
        "delivered": int(tally.delivered),
        "recorded": int(tally.recorded),
        "waived": int(tally.waived),
        "pending": int(tally.pending),
        "recorded_share": _float(tally.recorded_share),
        "verdicts": {verdict: int(tally.verdicts[verdict]) for verdict in VERDICTS},
        "verdict_shares": {k: _float(v) for k, v in tally.verdict_shares().items()},
    }


# --- roll-up with delivery -----------------------------------------------------------------
class EpicLineSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=EpicStatus.choices)
    work_type = serializers.ChoiceField(choices=WorkType.choices)
    owner = serializers.SerializerMethodField()
    team = serializers.CharField()
    review_phase = serializers.ChoiceField(
        choices=ReviewPhase.choices, allow_null=True, help_text="None until the epic is delivered."
    )
    verdict = serializers.ChoiceField(choices=Verdict.choices, allow_null=True)

    def get_owner(self, line: Any) -> dict[str, Any]:
        return {"id": line.owner_id, "email": line.owner_email, "full_name": line.owner_name}


def _choice(value: Any) -> Any:
    return value if value in ("", None) else str(value)


def epic_line_data(line: EpicLine) -> dict[str, Any]:
    """What ``EpicLineSerializer(line).data`` gives, as a plain dict (one per epic under every key result):
    the line's values are already the database's plain ones."""
    return {
        "id": line.id,
        "title": line.title,
        "status": line.status,
        "work_type": line.work_type,
        "owner": {"id": line.owner_id, "email": line.owner_email, "full_name": line.owner_name},
        "team": line.team,
        "review_phase": line.review_phase,
        "verdict": line.verdict,
    }


class DeliveryKeyResultSerializer(RollupKeyResultSerializer):
    epics = EpicLineSerializer(many=True, help_text="The epics serving this key result.")


class DeliveryObjectiveSerializer(RollupObjectiveSerializer):
    key_results = DeliveryKeyResultSerializer(many=True)
    delivery = TallySerializer(help_text="Delivered epics beneath the objective and how they came out.")


class DeliveryRollupSerializer(RollupSerializer):
    objectives = DeliveryObjectiveSerializer(many=True, help_text="Top-level objectives, children nested.")
    team = serializers.IntegerField(allow_null=True, help_text="The team filter, if any.")
    strategy = serializers.IntegerField(allow_null=True, help_text="The strategy filter, if any.")


# --- realisation and outcome debt ----------------------------------------------------------
class RealisationSerializer(serializers.Serializer[Any]):
    period = InsightPeriodSerializer()
    total = TallySerializer()
    by_team = TallySerializer(many=True)
    by_owner = TallySerializer(many=True)
    by_strategy = TallySerializer(many=True)
    by_month = TallySerializer(many=True, help_text="In the company's time zone, oldest first.")


class DebtSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="Owner e-mail or team id.")
    name = serializers.CharField()
    due = serializers.IntegerField(help_text="Reviews due, overdue ones included.")
    overdue = serializers.IntegerField()
    oldest_days = serializers.IntegerField(help_text="Days since the oldest of them fell due.")
    stale_check_ins = serializers.IntegerField(help_text="Key results of active cycles past their check-in date.")


class OutcomeDebtSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    total = DebtSerializer()
    by_owner = DebtSerializer(many=True, help_text="Worst first.")
    by_team = DebtSerializer(many=True, help_text="Worst first.")


# --- alignment -----------------------------------------------------------------------------
class CurrencyAlignmentSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    epics = serializers.IntegerField()
    aligned_epics = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=20, decimal_places=2)
    aligned_cost = serializers.DecimalField(max_digits=20, decimal_places=2)
    aligned_share = serializers.FloatField(allow_null=True, help_text="aligned_cost / cost.")


class UnalignedEpicSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    owner = serializers.CharField(help_text="E-mail.")
    team = serializers.CharField()
    status = serializers.ChoiceField(choices=EpicStatus.choices)


class IdleObjectiveSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    cycle = serializers.CharField()
    owner = serializers.CharField()
    team = serializers.CharField()


class IdleKeyResultSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    objective = serializers.CharField()
    owner = serializers.CharField()
    team = serializers.CharField()


class OpenThreatSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    impact = serializers.IntegerField()
    owner = serializers.CharField()


class AlignmentSerializer(serializers.Serializer[Any]):
    period = InsightPeriodSerializer()
    epics = serializers.IntegerField(help_text="Epics active in the period (not cancelled).")
    aligned = serializers.IntegerField(help_text="Of those, serving at least one key result.")
    aligned_share = serializers.FloatField(allow_null=True)
    unknown_cost = serializers.IntegerField(help_text="Epics whose cost cannot be told (no estimate, no team cost).")
    unknown_cost_aligned = serializers.IntegerField()
    by_currency = CurrencyAlignmentSerializer(many=True, help_text="Cost shares per currency.")
    unaligned = UnalignedEpicSerializer(many=True, help_text="Work aligned to nothing.")
    objectives_without_work = IdleObjectiveSerializer(many=True)
    key_results_without_work = IdleKeyResultSerializer(many=True)
    unaddressed_threats = OpenThreatSerializer(many=True, help_text="SWOT threats no active strategy addresses.")


# --- investment and return -----------------------------------------------------------------
class OutcomeCostSerializer(serializers.Serializer[Any]):
    achieved = serializers.DecimalField(max_digits=20, decimal_places=2)
    partly = serializers.DecimalField(max_digits=20, decimal_places=2)
    missed = serializers.DecimalField(max_digits=20, decimal_places=2)
    inconclusive = serializers.DecimalField(max_digits=20, decimal_places=2)
    unrecorded = serializers.DecimalField(max_digits=20, decimal_places=2)


class SpendSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    epics = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=20, decimal_places=2)
    by_outcome = OutcomeCostSerializer(help_text="Cost by the verdict of the epic's outcome.")
    achieved_share = serializers.FloatField(allow_null=True, help_text="Achieved cost / cost with a verdict.")


class InvestmentGroupSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    epics = serializers.IntegerField()
    waived = serializers.IntegerField()
    unknown_cost = serializers.IntegerField()
    spend = serializers.SerializerMethodField()

    def get_spend(self, group: Any) -> list[dict[str, Any]]:
        return list(SpendSerializer(sorted(group.spend.values(), key=lambda s: s.currency), many=True).data)


class EpicSpendSerializer(serializers.Serializer[Any]):
    epic_id = serializers.IntegerField()
    title = serializers.CharField()
    team = serializers.CharField()
    owner = serializers.CharField()
    done_at = serializers.DateTimeField()
    state = serializers.CharField(help_text="The review's state: pending, recorded or waived.")
    verdict = serializers.ChoiceField(choices=Verdict.choices, allow_null=True)
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    currency = serializers.CharField(allow_null=True)
    how = serializers.CharField(allow_null=True, help_text="estimate, team_cost, or null when unknown.")


class InvestmentReturnSerializer(serializers.Serializer[Any]):
    period = InsightPeriodSerializer()
    total = InvestmentGroupSerializer()
    by_team = InvestmentGroupSerializer(many=True)
    by_strategy = InvestmentGroupSerializer(many=True, help_text="An epic serving several strategies counts in each.")
    epics = EpicSpendSerializer(many=True)


_AMOUNT = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
_MOMENT = serializers.DateTimeField()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def epic_spend_data(epic: EpicSpend) -> dict[str, Any]:
    """What ``EpicSpendSerializer(epic).data`` gives, as a plain dict (one per delivered epic)."""
    return {
        "epic_id": int(epic.epic_id),
        "title": str(epic.title),
        "team": str(epic.team),
        "owner": str(epic.owner),
        "done_at": _MOMENT.to_representation(epic.done_at),
        "state": str(epic.state),
        "verdict": _choice(epic.verdict),
        "amount": None if epic.amount is None else _AMOUNT.to_representation(epic.amount),
        "currency": _text(epic.currency),
        "how": _text(epic.how),
    }


def _spend_data(spend: Spend) -> dict[str, Any]:
    return {
        "currency": str(spend.currency),
        "epics": int(spend.epics),
        "total": _AMOUNT.to_representation(spend.total),
        "by_outcome": {name: _AMOUNT.to_representation(spend.by_outcome[name]) for name in BUCKETS},
        "achieved_share": _float(spend.achieved_share),
    }


def investment_group_data(group: InvestmentGroup) -> dict[str, Any]:
    """What ``InvestmentGroupSerializer(group).data`` gives, as a plain dict."""
    return {
        "key": str(group.key),
        "name": str(group.name),
        "epics": int(group.epics),
        "waived": int(group.waived),
        "unknown_cost": int(group.unknown_cost),
        "spend": [_spend_data(spend) for spend in sorted(group.spend.values(), key=lambda s: s.currency)],
    }


def investment_data(instance: dict[str, Any]) -> dict[str, Any]:
    """What ``InvestmentReturnSerializer(instance).data`` gives, built by hand: a long period has thousands
    of delivered epics and a group per team and strategy, and a serializer per row costs more than the read."""
    return {
        "period": InsightPeriodSerializer(instance["period"]).data,
        "total": investment_group_data(instance["total"]),
        "by_team": [investment_group_data(group) for group in instance["by_team"]],
        "by_strategy": [investment_group_data(group) for group in instance["by_strategy"]],
        "epics": [epic_spend_data(epic) for epic in instance["epics"]],
    }


# --- confidence calibration ----------------------------------------------------------------
class ScoreSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    scored = serializers.IntegerField()
    unscored = serializers.IntegerField(help_text="No confidence by mid-cycle, or no value by the end.")
    mean_confidence = serializers.FloatField(allow_null=True)
    mean_grade = serializers.FloatField(allow_null=True)
    bias = serializers.FloatField(allow_null=True, help_text="Mean confidence - mean grade; positive: over-confident.")
    brier = serializers.FloatField(allow_null=True, help_text="Mean of (confidence - grade)^2; 0 is perfect.")


class KeyResultScoreSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    owner = serializers.CharField()
    team = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True, help_text="The latest stated by mid-cycle.")
    grade = serializers.FloatField(allow_null=True, help_text="Progress at the end of the cycle, 0 to 1.")
    squared_error = serializers.FloatField(allow_null=True)


class CalibrationSerializer(serializers.Serializer[Any]):
    cycle = serializers.IntegerField(source="cycle_id")
    midpoint = serializers.DateTimeField()
    ends = serializers.DateTimeField()
    total = ScoreSerializer()
    by_owner = ScoreSerializer(many=True)
    by_team = ScoreSerializer(many=True)
    key_results = KeyResultScoreSerializer(many=True)


def score_data(score: Score) -> dict[str, Any]:
    """What ``ScoreSerializer(score).data`` gives, as a plain dict."""
    return {
        "key": str(score.key),
        "name": str(score.name),
        "scored": int(score.scored),
        "unscored": int(score.unscored),
        "mean_confidence": _float(score.mean_confidence),
        "mean_grade": _float(score.mean_grade),
        "bias": _float(score.bias),
        "brier": _float(score.brier),
    }


def key_result_score_data(score: KeyResultScore) -> dict[str, Any]:
    """What ``KeyResultScoreSerializer(score).data`` gives, as a plain dict (one per key result)."""
    return {
        "id": int(score.id),
        "title": str(score.title),
        "owner": str(score.owner),
        "team": str(score.team),
        "confidence": _float(score.confidence),
        "grade": _float(score.grade),
        "squared_error": _float(score.squared_error),
    }


def calibration_data(result: Calibration) -> dict[str, Any]:
    """What ``CalibrationSerializer(result).data`` gives, built by hand: a big cycle has thousands of key
    results and hundreds of owners, and a serializer per row costs more than reading them."""
    return {
        "cycle": int(result.cycle_id),
        "midpoint": _MOMENT.to_representation(result.midpoint),
        "ends": _MOMENT.to_representation(result.ends),
        "total": score_data(result.total),
        "by_owner": [score_data(score) for score in result.by_owner],
        "by_team": [score_data(score) for score in result.by_team],
        "key_results": [key_result_score_data(score) for score in result.key_results],
    }


# --- flow ----------------------------------------------------------------------------------
class ByTypeSerializer(serializers.Serializer[Any]):
    feature = serializers.IntegerField(source="counts.feature")
    defect = serializers.IntegerField(source="counts.defect")
    risk = serializers.IntegerField(source="counts.risk")
    debt = serializers.IntegerField(source="counts.debt")
    total = serializers.IntegerField()


class FlowTimeSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    p50_days = serializers.FloatField(allow_null=True, help_text="Median, nearest rank.")
    p85_days = serializers.FloatField(allow_null=True, help_text="85th percentile, nearest rank.")
    mean_days = serializers.FloatField(allow_null=True)


class EfficiencySerializer(serializers.Serializer[Any]):
    active_days = serializers.FloatField()
    wait_days = serializers.FloatField()
    ratio = serializers.FloatField(allow_null=True, help_text="active / (active + wait); null without wait states.")
    known = serializers.BooleanField()


class WeekSerializer(serializers.Serializer[Any]):
    start = serializers.DateField(help_text="The Monday, in the company's time zone.")
    done = ByTypeSerializer(help_text="Flow velocity: items done that week.")
    in_progress_at_end = ByTypeSerializer(allow_null=True, help_text="Flow load at the week's end (null: future).")
    flow_time = FlowTimeSerializer()
    efficiency = EfficiencySerializer()


class TypeSharesSerializer(serializers.Serializer[Any]):
    feature = serializers.FloatField(allow_null=True)
    defect = serializers.FloatField(allow_null=True)
    risk = serializers.FloatField(allow_null=True)
    debt = serializers.FloatField(allow_null=True)


class FlowSerializer(serializers.Serializer[Any]):
    period = InsightPeriodSerializer()
    weeks = WeekSerializer(many=True)
    done = ByTypeSerializer(help_text="Done in the period.")
    flow_time = FlowTimeSerializer()
    flow_time_by_type = serializers.DictField(child=FlowTimeSerializer(), help_text="Per work type.")
    unknown_start = serializers.IntegerField(help_text="Done with no start on record: left out of flow time.")
    in_progress = ByTypeSerializer(help_text="Flow load now.")
    efficiency = EfficiencySerializer()
    efficiency_by_type = serializers.DictField(child=EfficiencySerializer())
    done_shares = TypeSharesSerializer(help_text="Flow distribution of the work done.")
    in_progress_shares = TypeSharesSerializer(help_text="Flow distribution of the work in progress.")

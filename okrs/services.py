"""Every write of the OKR layer, with its rules. Each write that changes numbers refreshes the cached figures."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from okrs.choices import CADENCE_DAYS, Cadence, CheckInSource, CycleStatus, GradeResult, KeyResultKind, ObjectiveLevel
from okrs.models import MAX_DEPTH, CheckIn, Cycle, KeyResult, Objective
from okrs.rollup import Figures
from okrs.selectors import CycleTree, TreeKeyResult, ancestors, cycle_tree, subtree_height
from outcomes.models import APIKey, BusinessOutcome, Company, Strategy, TeamMembership, User
from outcomes.progress import target_problem
from outcomes.services.common import apply_changes, require_member_fields

CLOSED = "The cycle is closed: only late check-ins and the closing record can change."
FUTURE_TOLERANCE = timedelta(days=1)
GRADE_PLACES = Decimal("0.0001")


def _same_company(company: Company, field: str, rows: Iterable[Model | None]) -> None:
    if any(row is not None and getattr(row, "company_id", None) != company.pk for row in rows):
        raise ValidationError({field: "Must belong to the same company."})


def _require_open(cycle: Cycle) -> None:
    if cycle.status == CycleStatus.CLOSED:
        raise ValidationError(CLOSED)


# --- cycles --------------------------------------------------------------------------
CYCLE_FIELDS = ("name", "start", "end", "status")


@transaction.atomic
def cycle_create(*, company: Company, **fields: Any) -> Cycle:
    if fields.get("status") == CycleStatus.CLOSED:
        raise ValidationError({"status": "Close a cycle with the close command."})
    return _cycle_save(Cycle(company=company), fields)


@transaction.atomic
def cycle_update(*, cycle: Cycle, **changes: Any) -> Cycle:
    _require_open(cycle)
    if changes.get("status") == CycleStatus.CLOSED:
        raise ValidationError({"status": "Close a cycle with the close command, which grades its objectives."})
    return _cycle_save(cycle, changes)


def _cycle_save(cycle: Cycle, changes: dict[str, Any]) -> Cycle:
    apply_changes(cycle, CYCLE_FIELDS, changes)
    if cycle.start and cycle.end and cycle.end <= cycle.start:
        raise ValidationError({"end": "Must be after start."})
    cycle.full_clean()
    cycle.save()
    if cycle.pk:
        refresh_cycles([cycle.pk])
    return cycle


@transaction.atomic
def cycle_delete(*, cycle: Cycle) -> None:
    if cycle.objectives.exists():
        raise ValidationError("The cycle has objectives: delete or move them first.")
    cycle.delete()


@transaction.atomic
def cycle_close(*, cycle: Cycle, at: datetime | None = None) -> Cycle:
    """Close a cycle: grade every objective with its progress unless its owner already set a grade."""
    _require_open(cycle)
    cycle_end = datetime.combine(cycle.end + timedelta(days=1), time.min, tzinfo=ZoneInfo(cycle.company.timezone))
    tree = cycle_tree(cycle, at=min(at or timezone.now(), cycle_end))  # check-ins after the cycle do not count
    graded = [o.pk for o in tree.objectives if o.cycle_id == cycle.pk and not o.grade_overridden]
    # Read whole: the tree holds only the columns its readers need, and the audit history keeps every one.
    for objective in Objective.objects.filter(pk__in=graded).order_by("pk"):
        progress = tree.rollup.objectives[objective.pk].progress
        objective.grade = None if progress is None else progress.quantize(GRADE_PLACES)
        objective.save(update_fields=["grade", "updated"])
    cycle.status, cycle.closed_at = CycleStatus.CLOSED, timezone.now()
    cycle.save(update_fields=["status", "closed_at"])
    return cycle


# --- objectives ----------------------------------------------------------------------
OBJECTIVE_FIELDS = (
    "cycle",
    "title",
    "description",
    "level",
    "team",
    "owner",
    "reviewer",
    "parent",
    "anticipated_outcome",
    "anticipated_business_outcome",
    "weight",
)


@transaction.atomic
def objective_create(*, company: Company, **fields: Any) -> Objective:
    return objective_update(objective=Objective(company=company), **fields)


@transaction.atomic
def objective_update(
    *,
    objective: Objective,
    strategies: Iterable[Strategy] | None = None,
    business_outcomes: Iterable[BusinessOutcome] | None = None,
    **changes: Any,
) -> Objective:
    """Create or change an objective; ``strategies`` and ``business_outcomes``, when given, replace its links."""
    cycles_before: set[int] = set()
    if objective.pk:
        _require_open(objective.cycle)
        cycles_before = {cycle_id for _, cycle_id in ancestors(objective.pk)}
    apply_changes(objective, OBJECTIVE_FIELDS, changes)
    company = objective.company
    _require_open(objective.cycle)
    require_member_fields(objective, company, "owner", "reviewer")
    _same_company(company, "cycle", [objective.cycle])
    _same_company(company, "team", [objective.team if objective.team_id else None])
    _same_company(company, "anticipated_business_outcome", [objective.anticipated_business_outcome])
    _check_level(objective)
    _check_parent(objective)
    links = {"strategies": strategies, "business_outcomes": business_outcomes}
    for field, rows in links.items():
        if rows is not None:
            _same_company(company, field, rows)
    objective.full_clean(exclude=["progress", "status"])
    objective.save()
    for field, rows in links.items():
        if rows is not None:
            getattr(objective, field).set(list(rows))
    refresh_cycles(cycles_before | {cycle_id for _, cycle_id in ancestors(objective.pk)})
    return objective


def _check_level(objective: Objective) -> None:
    if objective.level == ObjectiveLevel.TEAM and not objective.team_id:
        raise ValidationError({"team": "A team objective names its team."})
    if objective.level == ObjectiveLevel.COMPANY and objective.team_id:
        raise ValidationError({"team": "A company objective has no team; use level 'team'."})


def _check_parent(objective: Objective) -> None:
    """The parent is the company's, is not the objective or one of its descendants, and depth stays <= 10."""
    if not objective.parent_id:
        return
    parent = objective.parent
    assert parent is not None
    _same_company(objective.company, "parent", [parent])
    if parent.cycle.status == CycleStatus.CLOSED:
        raise ValidationError({"parent": "That objective's cycle is closed: nothing new aligns to it."})
    chain = ancestors(parent.pk)
    if objective.pk and objective.pk in {pk for pk, _ in chain}:
        raise ValidationError({"parent": "An objective cannot align to itself or to one of its own sub-objectives."})
    height = subtree_height(objective.pk) if objective.pk else 1
    if len(chain) + height > MAX_DEPTH:
        raise ValidationError({"parent": f"Objectives nest at most {MAX_DEPTH} levels deep."})


@transaction.atomic
def objective_delete(*, objective: Objective) -> None:
    _require_open(objective.cycle)
    if objective.children.exists():
        raise ValidationError("Sub-objectives align to this objective: re-align or delete them first.")
    if CheckIn.objects.filter(key_result__objective=objective).exists():
        raise ValidationError("Its key results have check-ins, which are history: close the cycle instead.")
    parent = objective.parent
    objective.key_results.all().delete()
    objective.strategies.clear()
    objective.business_outcomes.clear()
    objective.delete()
    if parent is not None:
        refresh_for_objective(parent)


@transaction.atomic
def objective_grade(
    *,
    objective: Objective,
    result: str,
    grade: Decimal | None = None,
    grade_reason: str = "",
    learnings: str = "",
    decisions: str = "",
) -> Objective:
    """Write the closing record. The grade defaults to the progress at closing; overriding it needs a reason."""
    if objective.cycle.status != CycleStatus.CLOSED:
        raise ValidationError("Grade objectives once their cycle is closed.")
    if result not in GradeResult.values:
        raise ValidationError({"result": "Unknown result."})
    if grade is not None:
        if not grade_reason.strip():
            raise ValidationError({"grade_reason": "Say why the grade differs from the measured progress."})
        objective.grade, objective.grade_overridden = grade, True
    if grade_reason.strip() or not objective.grade_overridden:
        objective.grade_reason = grade_reason  # an overridden grade never loses its reason
    objective.result = result
    objective.learnings, objective.decisions = learnings, decisions
    objective.full_clean(exclude=["progress", "status"])
    objective.save()
    return objective


# --- key results ---------------------------------------------------------------------
KEY_RESULT_FIELDS = ("objective", "title", "owner", "kind", "unit", "baseline", "target", "weight", "cadence")


@transaction.atomic
def key_result_create(*, company: Company, **fields: Any) -> KeyResult:
    key_result = KeyResult(company=company)
    if fields.get("kind") == KeyResultKind.MILESTONE:
        fields.setdefault("baseline", Decimal(0))
        fields.setdefault("target", Decimal(1))
    return key_result_update(key_result=key_result, **fields)


@transaction.atomic
def key_result_update(*, key_result: KeyResult, **changes: Any) -> KeyResult:
    moved_from = key_result.objective if key_result.pk and "objective" in changes else None
    if key_result.pk:
        _require_open(key_result.objective.cycle)
    if changes.get("kind") == KeyResultKind.MILESTONE:
        changes.setdefault("baseline", Decimal(0))
        changes.setdefault("target", Decimal(1))
    apply_changes(key_result, KEY_RESULT_FIELDS, changes)
    objective = key_result.objective
    _same_company(key_result.company, "objective", [objective])
    _require_open(objective.cycle)
    require_member_fields(key_result, key_result.company, "owner")
    _check_target(key_result)
    if not key_result.pk or "cadence" in changes:
        key_result.next_checkin_due = _next_due(key_result, _last_checkin_at(key_result))
    key_result.full_clean(exclude=["current_value", "confidence", "progress", "status"])
    key_result.save()
    refresh_for_objective(objective)
    if moved_from is not None and moved_from.pk != objective.pk:
        _require_open(moved_from.cycle)
        refresh_for_objective(moved_from)
    return key_result


def _check_target(key_result: KeyResult) -> None:
    # increase_to needs target > baseline and decrease_to target < baseline, so never equal.
    problem = target_problem(kind=key_result.kind, baseline=key_result.baseline, target=key_result.target)
    if problem:
        raise ValidationError({"target": problem})


def _last_checkin_at(key_result: KeyResult) -> datetime | None:
    if not key_result.pk:
        return None
    return key_result.check_ins.order_by("-as_of", "-id").values_list("as_of", flat=True).first()


def _next_due(key_result: KeyResult, last: datetime | None) -> datetime:
    """A check-in is due one cadence after the last one, or after the cycle starts (or now, if later)."""
    step = timedelta(days=CADENCE_DAYS[Cadence(key_result.cadence)])
    if last is not None:
        return last + step
    cycle = key_result.objective.cycle
    starts = datetime.combine(cycle.start, time.min, tzinfo=ZoneInfo(key_result.company.timezone))
    return max(starts, timezone.now()) + step


@transaction.atomic
def key_result_delete(*, key_result: KeyResult) -> None:
    _require_open(key_result.objective.cycle)
    if key_result.check_ins.exists():
        raise ValidationError("The key result has check-ins, which are history: it cannot be deleted.")
    objective = key_result.objective
    key_result.delete()
    refresh_for_objective(objective)


# --- check-ins -----------------------------------------------------------------------
def _check_as_of(key_result: KeyResult, as_of: datetime, field: str = "as_of") -> None:
    if as_of > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({field: "Cannot be in the future."})
    cycle = key_result.objective.cycle
    if cycle.status == CycleStatus.CLOSED:
        zone = ZoneInfo(key_result.company.timezone)
        if not cycle.start <= as_of.astimezone(zone).date() <= cycle.end:
            raise ValidationError({field: "The cycle is closed: a late check-in must be dated inside the cycle."})


@transaction.atomic
def check_in_record(
    *,
    key_result: KeyResult,
    value: Decimal,
    confidence: Decimal | None = None,
    comment: str = "",
    as_of: datetime | None = None,
    source: str = CheckInSource.MANUAL,
    author: User | None = None,
    api_key: APIKey | None = None,
) -> CheckIn:
    """Record a key result's value as of a time. History is kept: a correction is a new check-in."""
    as_of = as_of or timezone.now()
    _check_as_of(key_result, as_of)
    check_in = CheckIn(
        key_result=key_result,
        value=value,
        confidence=confidence,
        comment=comment,
        as_of=as_of,
        source=source,
        author=author,
        author_api_key_prefix=api_key.prefix if api_key else "",
    )
    check_in.full_clean()
    check_in.save()
    _after_check_in(key_result)
    return check_in


@transaction.atomic
def check_in_set_day(
    *,
    key_result: KeyResult,
    day: date,
    value: Decimal,
    confidence: Decimal | None = None,
    comment: str = "",
    author: User | None = None,
    api_key: APIKey | None = None,
) -> tuple[CheckIn, bool]:
    """Set the one value of ``day`` (as of its start, company time). Repeating it changes nothing.

    Returns the check-in and whether anything changed. A different value for the same
    day replaces it; the audit history keeps the earlier one.
    """
    as_of = datetime.combine(day, time.min, tzinfo=ZoneInfo(key_result.company.timezone))
    _check_as_of(key_result, as_of, field="day")
    existing = CheckIn.objects.select_for_update().filter(key_result=key_result, day=day).first()
    if existing and (existing.value, existing.confidence, existing.comment) == (value, confidence, comment):
        return existing, False
    check_in = existing or CheckIn(key_result=key_result, day=day, as_of=as_of, source=CheckInSource.API)
    check_in.value, check_in.confidence, check_in.comment = value, confidence, comment
    check_in.author, check_in.author_api_key_prefix = author, api_key.prefix if api_key else ""
    check_in.full_clean()
    check_in.save()
    _after_check_in(key_result)
    return check_in, True


def _after_check_in(key_result: KeyResult) -> None:
    key_result.next_checkin_due = _next_due(key_result, _last_checkin_at(key_result))
    key_result.save(update_fields=["next_checkin_due"])
    refresh_for_objective(key_result.objective)


# --- cached figures ------------------------------------------------------------------
def refresh_for_objective(objective: Objective) -> None:
    """Recompute the cycles whose trees contain the objective: its own and its ancestors'."""
    refresh_cycles({cycle_id for _, cycle_id in ancestors(objective.pk)})


def refresh_cycles(cycle_ids: Iterable[int], *, at: datetime | None = None) -> int:
    """Recompute progress, status and staleness of the cycles' trees; write only rows that changed."""
    changed = 0
    for cycle in Cycle.objects.filter(pk__in=list(cycle_ids)).select_related("company"):
        objectives, key_results = cache_changes(cycle_tree(cycle, at=at))
        Objective.objects.bulk_update(objectives, OBJECTIVE_CACHE, batch_size=500)
        KeyResult.objects.bulk_update(key_results, KEY_RESULT_CACHE, batch_size=500)
        changed += len(objectives) + len(key_results)
    return changed


OBJECTIVE_CACHE = ["progress", "status"]
KEY_RESULT_CACHE = ["current_value", "confidence", "progress", "status"]


def cache_changes(tree: CycleTree) -> tuple[list[Objective], list[KeyResult]]:
    """The objectives and key results whose cached columns differ from the tree's figures, as unsaved
    instances holding their primary key and the new values of ``OBJECTIVE_CACHE`` and ``KEY_RESULT_CACHE``."""
    objectives = [
        Objective(pk=o.pk, progress=cached[0], status=cached[1])
        for o in tree.objectives
        if (cached := _objective_cache(tree.rollup.objectives[o.pk])) != (o.progress, o.status)
    ]
    key_results = [
        KeyResult(pk=kr.pk, current_value=new[0], confidence=new[1], progress=new[2], status=new[3])
        for kr in tree.key_results
        if (new := _key_result_cache(kr, tree.rollup.key_results[kr.pk]))
        != (kr.current_value, kr.confidence, kr.progress, kr.status)
    ]
    return objectives, key_results


def _rounded(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.000001"))


def _objective_cache(figures: Figures) -> tuple[Decimal | None, str]:
    """The cached columns (progress, status) of an objective with these figures."""
    return _rounded(figures.progress), figures.status or ""


def _key_result_cache(
    key_result: TreeKeyResult, figures: Figures
) -> tuple[Decimal | None, Decimal | None, Decimal | None, str]:
    """The cached columns (current value, confidence, progress, status) of a key result with these figures."""
    return key_result.latest_value, figures.confidence, _rounded(figures.progress), figures.status or ""


def require_objective_writer(
    *, objective: Objective, user: User | None, role: str, changes: dict[str, Any] | None = None
) -> None:
    """Owners, admins and executives write any objective. Members write team objectives of their own teams
    and objectives they own; they create, or move an objective to, only team objectives of their teams."""
    if role in {"owner", "admin", "executive"}:
        return
    changes = changes or {}
    if user is not None and role == "member":
        creating_or_moving = not objective.pk or {"level", "team"} & set(changes)
        if creating_or_moving:
            level = changes.get("level", objective.level)
            team = changes.get("team", objective.team if objective.team_id else None)
            if level == ObjectiveLevel.TEAM and team is not None and _on_team(user, team.pk):
                return
        elif objective.owner_id == user.pk or (objective.team_id and _on_team(user, objective.team_id)):
            return
    raise PermissionDenied("Members write their own objectives and their teams'; they create only team objectives.")


def _on_team(user: User, team_id: int) -> bool:
    return TeamMembership.objects.filter(team_id=team_id, user=user).exists()

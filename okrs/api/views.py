"""Cycles, objectives, key results and check-ins. Views parse, check object rules and call one service."""

from __future__ import annotations

from datetime import date
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from okrs import services
from okrs.api import serializers as s
from okrs.api.rollup import render_rollup
from okrs.choices import CheckInSource
from okrs.filtersets import CycleFilterSet, KeyResultFilterSet, ObjectiveFilterSet
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.selectors import cycle_tree, objectives_for_lists
from outcomes.api.base import CompanyScopedViewSet, CrudMixin
from outcomes.choices import STRATEGY_EDITORS
from outcomes.models import APIKey, User


def _person(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _writer(request: Request) -> dict[str, Any]:
    return {"author": _person(request), "api_key": request.auth if isinstance(request.auth, APIKey) else None}


def _docs(noun: str, serializer: Any, input_serializer: Any, example: Any, rules: str) -> dict[str, Any]:
    return {
        "list": extend_schema(summary=f"List {noun}s", description=f"The company's {noun}s, filtered and ordered."),
        "retrieve": extend_schema(summary=f"Get a {noun}", description=f"One {noun} with its computed figures."),
        "create": extend_schema(
            summary=f"Create a {noun}",
            description=rules,
            request=input_serializer,
            responses={201: serializer},
            examples=[example],
        ),
        "update": extend_schema(
            summary=f"Replace a {noun}",
            description=f"{rules} Optional fields left out go back to their defaults.",
            request=input_serializer,
            responses=serializer,
            examples=[example],
        ),
        "partial_update": extend_schema(
            summary=f"Update a {noun}", description=rules, request=input_serializer, responses=serializer
        ),
    }


# --- cycles --------------------------------------------------------------------------
@extend_schema_view(
    **_docs(
        "cycle",
        s.CycleSerializer,
        s.CycleInputSerializer,
        s.CYCLE_EXAMPLE,
        "A cycle runs from start to end (inclusive); cycles may overlap. Owners, admins and executives.",
    ),
    destroy=extend_schema(summary="Delete a cycle", description="Only a cycle without objectives can be deleted."),
    rollup=extend_schema(
        summary="Cycle roll-up",
        description=(
            "The whole tree of the cycle, computed now: objectives (with child objectives in any cycle) and key "
            "results with owner, progress, expected progress, status, confidence, trend and staleness, and the "
            "totals per team and per strategy. The rules are in docs/progress.md."
        ),
        responses=s.RollupSerializer,
    ),
    close=extend_schema(
        summary="Close a cycle",
        description=(
            "Close the cycle: each objective is graded with its progress unless its owner set a grade. Afterwards "
            "only late check-ins (dated inside the cycle) and closing records can change."
        ),
        request=None,
        responses=s.CycleSerializer,
    ),
)
class CycleViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "cycles"
    queryset = Cycle.objects.all()
    serializer_class = s.CycleSerializer
    filterset_class = CycleFilterSet
    input_serializer_class = s.CycleInputSerializer
    service_object_name = "cycle"
    create_service = staticmethod(services.cycle_create)
    update_service = staticmethod(services.cycle_update)
    delete_service = staticmethod(services.cycle_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("company")

    @action(detail=True, methods=["get"])
    def rollup(self, request: Request, company_slug: str, pk: str) -> Response:
        return Response(render_rollup(cycle_tree(self.get_object())))

    @action(detail=True, methods=["post"])
    def close(self, request: Request, company_slug: str, pk: str) -> Response:
        return self.render(services.cycle_close(cycle=self.command_target()), s.CycleSerializer)


# --- objectives ----------------------------------------------------------------------
@extend_schema_view(
    **_docs(
        "objective",
        s.ObjectiveSerializer,
        s.ObjectiveInputSerializer,
        s.OBJECTIVE_EXAMPLE,
        "One accountable owner (a member); a team objective names its team; the parent is the company's, not a "
        "descendant, and objectives nest at most 10 deep. Members write only their own objectives and those of "
        "their teams.",
    ),
    destroy=extend_schema(
        summary="Delete an objective",
        description="Only objectives without sub-objectives and without check-ins can be deleted.",
    ),
    grade=extend_schema(
        summary="Write the closing record",
        description=(
            "Once the cycle is closed: the result, learnings and decisions; the grade defaults to the progress at "
            "closing and may be overridden with a reason. The objective's owner, or owners, admins and executives."
        ),
        request=s.GradeInputSerializer,
        responses=s.ObjectiveSerializer,
    ),
)
class ObjectiveViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "objectives"
    queryset = Objective.objects.all()
    serializer_class = s.ObjectiveSerializer
    filterset_class = ObjectiveFilterSet
    input_serializer_class = s.ObjectiveInputSerializer
    service_object_name = "objective"
    create_service = staticmethod(services.objective_create)
    update_service = staticmethod(services.objective_update)
    delete_service = staticmethod(services.objective_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        return objectives_for_lists(queryset)

    def check_write(self, instance: Objective | None, data: dict[str, Any]) -> None:
        probe = instance or Objective(company=self.company)
        changes = data if instance else {"level": data.get("level", "company"), "team": data.get("team"), **data}
        services.require_objective_writer(
            objective=probe, user=_person(self.request), role=self.access.role, changes=changes
        )

    @action(detail=True, methods=["put"])
    def grade(self, request: Request, company_slug: str, pk: str) -> Response:
        objective = self.get_object()
        person = _person(request)
        if self.access.role not in STRATEGY_EDITORS and (person is None or objective.owner_id != person.pk):
            raise PermissionDenied("The objective's owner, or owners, admins and executives, write its closing record.")
        objective = services.objective_grade(objective=objective, **self.validated(s.GradeInputSerializer))
        return self.render(objective, s.ObjectiveSerializer)


# --- key results ---------------------------------------------------------------------
DAY = OpenApiParameter("day", date, OpenApiParameter.PATH, description="The day, YYYY-MM-DD.")


@extend_schema_view(
    **_docs(
        "key result",
        s.KeyResultSerializer,
        s.KeyResultInputSerializer,
        s.KEY_RESULT_EXAMPLE,
        "increase_to needs a target above the baseline, decrease_to below it; milestones run from 0 to 1. "
        "Members write key results they own, or of objectives they may write.",
    ),
    destroy=extend_schema(summary="Delete a key result", description="Only key results without check-ins."),
    check_ins=extend_schema(
        methods=["GET"],
        summary="List check-ins",
        description="The key result's check-ins, newest first by as-of time. The newest gives the current value.",
        responses=s.CheckInSerializer(many=True),
    ),
    day_value=extend_schema(
        summary="Set the value of a day",
        description=(
            "The idempotent write for integrations: sets the one value of that day (as of its start, in the "
            "company's time zone). Repeating the same request changes nothing (200); a new value for the same day "
            "replaces it (the audit history keeps the old one); the first value of a day is a 201."
        ),
        parameters=[DAY],
        request=s.DayValueInputSerializer,
        responses={200: s.CheckInSerializer, 201: s.CheckInSerializer},
    ),
)
class KeyResultViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "key-results"
    queryset = KeyResult.objects.all()
    serializer_class = s.KeyResultSerializer
    filterset_class = KeyResultFilterSet
    paginated_actions = frozenset({"list", "check_ins"})
    cursor_actions = frozenset({"check_ins"})
    input_serializer_class = s.KeyResultInputSerializer
    service_object_name = "key_result"
    create_service = staticmethod(services.key_result_create)
    update_service = staticmethod(services.key_result_update)
    delete_service = staticmethod(services.key_result_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("owner", "objective__cycle", "objective__team", "company")

    def check_write(self, instance: KeyResult | None, data: dict[str, Any]) -> None:
        """Members write key results they own; adding one to, or moving one to, an objective needs its rights."""
        person = _person(self.request)
        target = data.get("objective")
        if target is not None:
            services.require_objective_writer(objective=target, user=person, role=self.access.role)
        if instance is not None and person is not None and instance.owner_id == person.pk:
            return
        if instance is not None:
            services.require_objective_writer(objective=instance.objective, user=person, role=self.access.role)

    def _check_in_allowed(self, key_result: KeyResult) -> None:
        """Check-ins: the key result's owner, whoever may write its objective, and write keys."""
        if isinstance(self.request.auth, APIKey) or key_result.owner_id == getattr(_person(self.request), "pk", None):
            return
        services.require_objective_writer(
            objective=key_result.objective, user=_person(self.request), role=self.access.role
        )

    @extend_schema(
        methods=["POST"],
        summary="Record a check-in",
        description=(
            "Record a value (and a confidence from 0 to 1) as of a time, now by default. History is kept: a "
            "correction is a new check-in. Into a closed cycle only when dated inside it."
        ),
        request=s.CheckInInputSerializer,
        responses={201: s.CheckInSerializer},
        examples=[s.CHECK_IN_EXAMPLE],
    )
    @action(detail=True, methods=["get", "post"], url_path="check-ins", url_name="check-ins")
    def check_ins(self, request: Request, company_slug: str, pk: str) -> Response:
        key_result = self.get_object()
        if request.method == "GET":
            rows = CheckIn.objects.for_company(self.company).filter(key_result=key_result)
            return self.page_response(rows.select_related("author").order_by("-as_of", "-id"), s.CheckInSerializer)
        self._check_in_allowed(key_result)
        data = self.validated(s.CheckInInputSerializer)
        source = CheckInSource.API if isinstance(request.auth, APIKey) else CheckInSource.MANUAL
        check_in = services.check_in_record(key_result=key_result, source=source, **data, **_writer(request))
        return Response(s.CheckInSerializer(check_in).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["put"], url_path=r"values/(?P<day>\d{4}-\d{2}-\d{2})", url_name="day-value")
    def day_value(self, request: Request, company_slug: str, pk: str, day: str) -> Response:
        key_result = self.get_object()
        try:
            when = date.fromisoformat(day)
        except ValueError:
            raise ValidationError({"day": ["Not a date: use YYYY-MM-DD."]}) from None
        self._check_in_allowed(key_result)
        existed = CheckIn.objects.filter(key_result=key_result, day=when).exists()
        data = self.validated(s.DayValueInputSerializer)
        check_in, _changed = services.check_in_set_day(key_result=key_result, day=when, **data, **_writer(request))
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(s.CheckInSerializer(check_in).data, status=code)

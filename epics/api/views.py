"""Epics, their anticipated outcomes, key results, status moves, reviews and actual results, and the trace."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from epics import services
from epics.api import serializers as s
from epics.filtersets import EpicFilterSet, OrphanFilterSet, OrphanKeyResultFilterSet
from epics.models import AnticipatedOutcome, Contribution, Epic, StatusChange
from epics.selectors import epic_trace, epics_for_lists, key_results_without_epics, objectives_without_epics
from okrs.api.serializers import KeyResultSerializer, ObjectiveSerializer
from okrs.models import KeyResult, Objective
from okrs.selectors import objectives_for_lists
from outcomes.api.base import CompanyScopedViewSet, CrudMixin, ListRetrieveMixin
from outcomes.choices import MANAGERS
from outcomes.models import APIKey, User


def _person(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _crud(noun: str) -> dict[str, Any]:
    return {
        "list": extend_schema(
            summary=f"List {noun}s",
            description="Epics with their owner, status, review phase and "
            "flags; filter by owner, team, status, work type, review phase, overdue, cycle, key result, "
            "objective and a missing anticipated outcome.",
        ),
        "retrieve": extend_schema(summary=f"Get an {noun}", description="One epic."),
        "create": extend_schema(
            summary=f"Propose an {noun}",
            description="A new epic starts as proposed, with one accountable owner (a member).",
            request=s.EpicInputSerializer,
            responses={201: s.EpicSerializer},
            examples=[s.EPIC_EXAMPLE],
        ),
        "update": extend_schema(
            summary=f"Replace an {noun}",
            description="Set every field; status moves are commands.",
            request=s.EpicInputSerializer,
            responses=s.EpicSerializer,
        ),
        "partial_update": extend_schema(
            summary=f"Update an {noun}",
            description="Change some fields; status moves are commands.",
            request=s.EpicInputSerializer,
            responses=s.EpicSerializer,
        ),
        "destroy": extend_schema(summary=f"Delete an {noun}", description="Only a proposed epic that never started."),
    }


@extend_schema_view(**_crud("epic"))
class EpicViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "epics"
    queryset = Epic.objects.all()
    serializer_class = s.EpicSerializer
    filterset_class = EpicFilterSet
    paginated_actions = cursor_actions = frozenset({"list", "status_history"})
    input_serializer_class = s.EpicInputSerializer
    service_object_name = "epic"
    update_service = staticmethod(services.epic_update)
    delete_service = staticmethod(services.epic_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        if self.action == "status_history":  # only the epic row itself is needed there
            return queryset
        return epics_for_lists(queryset)

    def create_service(self, **data: Any) -> Epic:
        api_key = self.request.auth if isinstance(self.request.auth, APIKey) else None
        return services.epic_create(actor=_person(self.request), api_key=api_key, **data)

    def check_write(self, instance: Epic | None, data: dict[str, Any]) -> None:
        """Owners, admins and executives write any epic; members the epics they own or review, or propose their own."""
        if self.access.role not in {"member"}:
            return
        person = _person(self.request)
        owner = data.get("owner") or (instance.owner if instance else None)
        mine = person is not None and (
            (instance is not None and person.pk in {instance.owner_id, instance.reviewer_id})
            or (instance is None and owner == person)
        )
        if not mine and not isinstance(self.request.auth, APIKey):
            raise PermissionDenied("Members write the epics they own or review.")

    def _may_close_the_loop(self, epic: Epic) -> None:
        if services.may_close_the_loop(epic=epic, user=_person(self.request), role=self.access.role):
            return
        raise PermissionDenied("The epic's owner or reviewer, or an owner or admin, records its results.")

    # --- anticipated outcome ------------------------------------------------------------
    @extend_schema(
        methods=["GET"],
        summary="Get the anticipated outcome",
        description="What the epic is expected to change. 404 until written.",
        responses=s.AnticipatedOutcomeSerializer,
    )
    @extend_schema(
        methods=["PUT"],
        summary="Write the anticipated outcome",
        description="The problem, the expected results, one or more success metrics (baseline, target, "
        "direction, data source, window of 1 to 365 days) and the learning plan. Frozen while the epic "
        "is done; every change is kept in the audit history.",
        request=s.AnticipatedOutcomeInputSerializer,
        responses=s.AnticipatedOutcomeSerializer,
        examples=[s.ANTICIPATED_EXAMPLE],
    )
    @action(detail=True, methods=["get", "put"], url_path="anticipated-outcome", url_name="anticipated-outcome")
    def anticipated_outcome(self, request: Request, company_slug: str, pk: str) -> Response:
        epic = self.get_object()
        if request.method == "PUT":
            self.check_write(epic, {})
            services.anticipated_outcome_set(epic=epic, **self.validated(s.AnticipatedOutcomeInputSerializer))
        outcome = (
            AnticipatedOutcome.objects.filter(epic=epic).select_related("epic").prefetch_related("metrics").first()
        )
        if outcome is None:
            raise Http404("The epic has no anticipated outcome yet.")
        return Response(s.AnticipatedOutcomeSerializer(outcome).data)

    # --- contributions -----------------------------------------------------------------
    @extend_schema(
        summary="Serve a key result",
        description="Link the epic to a key result of the company, with the "
        "expected change in the key result's unit. Linking again updates the link.",
        request=s.ContributionInputSerializer,
        responses={201: s.ContributionSerializer},
    )
    @action(detail=True, methods=["post"], url_path="contributions", url_name="contributions")
    def add_contribution(self, request: Request, company_slug: str, pk: str) -> Response:
        epic = self.get_object()
        self.check_write(epic, {})
        contribution = services.contribution_set(epic=epic, **self.validated(s.ContributionInputSerializer))
        return Response(s.ContributionSerializer(contribution).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Stop serving a key result",
        description="Remove the link.",
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("key_result_id", int, OpenApiParameter.PATH, description="The key result.")],
    )
    @action(
        detail=True, methods=["delete"], url_path=r"contributions/(?P<key_result_id>[0-9]+)", url_name="contribution"
    )
    def remove_contribution(self, request: Request, company_slug: str, pk: str, key_result_id: str) -> Response:
        epic = self.get_object()
        self.check_write(epic, {})
        contribution = Contribution.objects.filter(epic=epic, key_result_id=int(key_result_id)).first()
        if contribution is None:
            raise Http404("The epic does not serve this key result.")
        services.contribution_remove(contribution=contribution)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- status ------------------------------------------------------------------------
    @extend_schema(
        summary="Move the epic's status",
        description="A command: the allowed moves form a table "
        "(done -> in_progress reopens; cancelled -> proposed reopens, owners and admins only). Starting or "
        "finishing needs an anticipated outcome. Finishing opens the outcome review.",
        request=s.TransitionInputSerializer,
        responses=s.EpicSerializer,
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, company_slug: str, pk: str) -> Response:
        epic = self.get_object()
        self.check_write(epic, {})
        data = self.validated(s.TransitionInputSerializer)
        api_key = request.auth if isinstance(request.auth, APIKey) else None
        services.epic_transition(
            epic=epic,
            to_status=data["status"],
            reason=data["reason"],
            actor=_person(request),
            api_key=api_key,
            actor_role=self.access.role,
        )
        return self.render(epic, s.EpicSerializer)

    @extend_schema(
        summary="Status history",
        description="Every status change, oldest first: from, to, when, source "
        "(manual, sync, webhook), who, the tracker's timestamp. Never rewritten.",
        responses=s.StatusChangeSerializer(many=True),
    )
    @action(detail=True, methods=["get"], url_path="status-history", url_name="status-history")
    def status_history(self, request: Request, company_slug: str, pk: str) -> Response:
        epic = self.get_object()
        rows = (
            StatusChange.objects.for_company(self.company)
            .filter(epic=epic)
            .select_related("actor")
            .order_by("at", "id")
        )
        return self.page_response(rows, s.StatusChangeSerializer)

    # --- review and results ------------------------------------------------------------
    @extend_schema(
        summary="Get the outcome review",
        description="The review of the latest delivery: its phase "
        "(pending, due, overdue 7 days after due, recorded, waived), each metric's due date, and the "
        "recorded results (every revision). 404 before the epic is first done.",
        responses=s.ReviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def review(self, request: Request, company_slug: str, pk: str) -> Response:
        review = services.live_review(self.get_object())
        if review is None:
            raise Http404("The epic has not been delivered yet.")
        return Response(s.ReviewSerializer(review).data)

    @extend_schema(
        summary="Waive the outcome review",
        description="No result will be recorded, for a reason. The epic's owner, or owners and admins.",
        request=s.WaiveInputSerializer,
        responses=s.ReviewSerializer,
    )
    @action(detail=True, methods=["post"], url_path="review/waive", url_name="review-waive")
    def waive(self, request: Request, company_slug: str, pk: str) -> Response:
        epic = self.get_object()
        person = _person(request)
        if self.access.role not in MANAGERS and (person is None or person.pk != epic.owner_id):
            raise PermissionDenied("The epic's owner, or an owner or admin, waives its review.")
        review = services.review_waive(epic=epic, actor=person, **self.validated(s.WaiveInputSerializer))
        return Response(s.ReviewSerializer(review).data)

    @extend_schema(
        summary="Record the actual result",
        description="Per metric: the measured value and evidence; "
        "verdicts are computed (achieved, partly, missed, inconclusive) and the overall verdict may be "
        "overridden with a reason. Only after the epic is done. Recording again adds a revision; none is "
        "ever changed. With post_check_ins, values also check in to linked key results in the same unit.",
        request=s.ResultInputSerializer,
        responses={201: s.RecordedSerializer},
        examples=[s.RESULT_EXAMPLE],
    )
    @action(detail=True, methods=["post"])
    def results(self, request: Request, company_slug: str, pk: str) -> Response:
        epic = self.get_object()
        self._may_close_the_loop(epic)
        serializer = s.ResultInputSerializer(data=request.data, context={**self.get_serializer_context(), "epic": epic})
        serializer.is_valid(raise_exception=True)
        result, check_ins = services.result_record(epic=epic, recorded_by=_person(request), **serializer.validated_data)
        body = {"result": s.ActualResultSerializer(result).data, "check_ins": [c.pk for c in check_ins]}
        return Response(body, status=status.HTTP_201_CREATED)

    # --- trace -------------------------------------------------------------------------
    @extend_schema(
        summary="Trace to strategy",
        description="The chain from the epic up: the key results it serves, "
        "their objectives up to the top, the strategies and business outcomes they serve, and the company "
        "identity. A fixed number of queries whatever the depth.",
        responses=inline_serializer(
            "EpicTrace",
            {
                "epic": s.EpicSerializer(),
                "key_results": KeyResultSerializer(many=True),
                "objectives": serializers.ListField(child=serializers.DictField()),
                "strategies": serializers.ListField(child=serializers.DictField()),
                "business_outcomes": serializers.ListField(child=serializers.DictField()),
                "identity": serializers.DictField(allow_null=True),
            },
        ),
    )
    # Not named ``trace``: a view method named after an HTTP verb would advertise TRACE in ``Allow``.
    @action(detail=True, methods=["get"], url_path="trace", url_name="trace")
    def trace_to_strategy(self, request: Request, company_slug: str, pk: str) -> Response:
        epic = self.get_object()
        trace = epic_trace(epic)
        identity = trace.identity
        return Response(
            {
                "epic": s.EpicSerializer(epic).data,
                "key_results": [
                    {"id": kr.pk, "title": kr.title, "objective": kr.objective_id, "unit": kr.unit}
                    for kr in trace.key_results
                ],
                "objectives": [
                    {
                        "id": o.pk,
                        "title": o.title,
                        "parent": o.parent_id,
                        "cycle": o.cycle_id,
                        "level": o.level,
                        "strategies": [st.pk for st in o.strategies.all()],
                        "business_outcomes": [b.pk for b in o.business_outcomes.all()],
                    }
                    for o in trace.objectives
                ],
                "strategies": [
                    {
                        "id": st.pk,
                        "title": st.title,
                        "status": st.status,
                        "business_outcomes": [b.pk for b in st.business_outcomes.all()],
                    }
                    for st in trace.strategies
                ],
                "business_outcomes": [{"id": b.pk, "title": b.title} for b in trace.business_outcomes],
                "identity": None
                if identity is None
                else {"number": identity.number, "mission": identity.mission, "vision": identity.vision},
            }
        )


@extend_schema_view(
    list=extend_schema(
        summary="Key results without epics",
        description="Key results no epic serves: measured, but nobody is working on them.",
    )
)
class KeyResultsWithoutEpicsViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "alignment"
    queryset = KeyResult.objects.all()
    serializer_class = KeyResultSerializer
    filterset_class = OrphanKeyResultFilterSet

    def refine_queryset(self, queryset: Any) -> Any:
        return key_results_without_epics(queryset.select_related("owner"))


@extend_schema_view(
    list=extend_schema(
        summary="Objectives without epics", description="Objectives with no epic on their key results nor beneath them."
    )
)
class ObjectivesWithoutEpicsViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "alignment"
    queryset = Objective.objects.all()
    serializer_class = ObjectiveSerializer
    filterset_class = OrphanFilterSet

    def refine_queryset(self, queryset: Any) -> Any:
        return objectives_without_epics(objectives_for_lists(queryset), self.company.pk)

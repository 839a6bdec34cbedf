"""Tenancy endpoints: companies, members, teams, API keys and the caller's own profile.

Views parse input, call one service and render the result; rules live in services.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.views import StrictQueryParamsMixin
from outcomes.api.base import CompanyScopedViewSet, ListRetrieveMixin
from outcomes.api.serializers import tenancy as s
from outcomes.filtersets import APIKeyFilterSet, CompanyListFilterSet, MembershipFilterSet, TeamFilterSet
from outcomes.models import APIKey, Company, Membership, Team, TeamMembership, User
from outcomes.selectors import companies_visible_to, memberships_with_people, my_memberships, teams_with_people
from outcomes.services.api_keys import api_key_create, api_key_revoke
from outcomes.services.companies import company_create, company_update
from outcomes.services.members import membership_change_role, membership_invite, membership_remove
from outcomes.services.teams import team_create, team_delete, team_member_add, team_member_remove, team_update


def _person(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


# --- companies ----------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="List my companies",
        description="The companies the signed-in person belongs to, or the one company of the API key in use.",
    ),
    create=extend_schema(
        summary="Create a company",
        description="Create a company; the signed-in person becomes its first owner. Not available to API keys.",
        request=s.CompanyCreateSerializer,
        responses={201: s.CompanySerializer},
    ),
)
class CompanyListViewSet(StrictQueryParamsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    openapi_tag = "companies"
    queryset = Company.objects.all()
    serializer_class = s.CompanySerializer
    filterset_class = CompanyListFilterSet

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Company.objects.none()
        api_key = self.request.auth if isinstance(self.request.auth, APIKey) else None
        return companies_visible_to(user=_person(self.request), api_key=api_key)

    def allowed_query_params(self) -> set[str]:
        return set(CompanyListFilterSet.base_filters) | {"page", "page_size"} if self.action == "list" else set()

    def create(self, request: Request) -> Response:
        serializer = s.CompanyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        company = company_create(owner=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        return Response(s.CompanySerializer(company).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a company", description="The company's name, slug, time zone and creation time."
    ),
    partial_update=extend_schema(
        summary="Update a company",
        description="Change the name or time zone. Owners and admins only. The slug never changes.",
        request=s.CompanyUpdateSerializer,
        responses=s.CompanySerializer,
    ),
)
class CompanyDetailViewSet(CompanyScopedViewSet):
    openapi_tag = "companies"
    queryset = Company.objects.all()
    serializer_class = s.CompanySerializer

    def retrieve(self, request: Request, company_slug: str) -> Response:
        return Response(s.CompanySerializer(self.company).data)

    def partial_update(self, request: Request, company_slug: str) -> Response:
        company = company_update(company=self.company, **self.validated(s.CompanyUpdateSerializer, partial=True))
        return Response(s.CompanySerializer(company).data)


# --- members ------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(summary="List members", description="People in the company with their roles."),
    retrieve=extend_schema(summary="Get a member", description="One membership: the person and their role."),
    create=extend_schema(
        summary="Add a member",
        description=(
            "Add an existing person by `email` or by `user` id (a person who already shares a company with you). "
            "Only owners can add owners."
        ),
        request=s.MembershipInviteSerializer,
        responses={201: s.MembershipSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a member's role",
        description="Only owners can grant or take away the owner role; the last owner keeps it.",
        request=s.MembershipUpdateSerializer,
        responses=s.MembershipSerializer,
    ),
    destroy=extend_schema(
        summary="Remove a member",
        description="Remove the person from the company and its teams. The last owner cannot be removed.",
    ),
)
class MembershipViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "members"
    queryset = Membership.objects.all()
    serializer_class = s.MembershipSerializer
    filterset_class = MembershipFilterSet

    def refine_queryset(self, queryset: Any) -> Any:
        return memberships_with_people(queryset)

    def create(self, request: Request, company_slug: str) -> Response:
        data = self.validated(s.MembershipInviteSerializer)
        membership = membership_invite(company=self.company, actor_role=self.access.role, **data)
        return self.render(membership, s.MembershipSerializer, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, company_slug: str, pk: str) -> Response:
        membership = self.get_object()
        data = self.validated(s.MembershipUpdateSerializer)
        membership = membership_change_role(membership=membership, actor_role=self.access.role, **data)
        return self.render(membership, s.MembershipSerializer)

    def destroy(self, request: Request, company_slug: str, pk: str) -> Response:
        membership_remove(membership=self.get_object(), actor_role=self.access.role)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- teams --------------------------------------------------------------------------
USER_ID_PARAMETER = OpenApiParameter("user_id", int, OpenApiParameter.PATH, description="The person's user id.")


@extend_schema_view(
    list=extend_schema(summary="List teams", description="Teams with their topology, lead, members and monthly cost."),
    retrieve=extend_schema(summary="Get a team", description="One team with its lead, members and monthly cost."),
    create=extend_schema(
        summary="Create a team",
        description="Lead and members must be members of the company. A monthly cost needs a currency.",
        request=s.TeamCreateSerializer,
        responses={201: s.TeamSerializer},
    ),
    update=extend_schema(
        summary="Replace a team",
        description="Set every field of the team. Members are managed through the team's members routes.",
        request=s.TeamWriteSerializer,
        responses=s.TeamSerializer,
    ),
    partial_update=extend_schema(
        summary="Update a team",
        description="Change some fields of the team. Members are managed through the team's members routes.",
        request=s.TeamWriteSerializer,
        responses=s.TeamSerializer,
    ),
    destroy=extend_schema(summary="Delete a team", description="Delete the team; its people stay in the company."),
    add_member=extend_schema(
        summary="Add a person to a team",
        description="The person must be a member of the company.",
        request=s.TeamMemberSerializer,
        responses={201: s.TeamSerializer},
    ),
    remove_member=extend_schema(
        summary="Take a person off a team",
        description="The person stays in the company.",
        parameters=[USER_ID_PARAMETER],
        request=None,
        responses={204: None},
    ),
)
class TeamViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "teams"
    queryset = Team.objects.all()
    serializer_class = s.TeamSerializer
    filterset_class = TeamFilterSet

    def refine_queryset(self, queryset: Any) -> Any:
        return teams_with_people(queryset)

    def create(self, request: Request, company_slug: str) -> Response:
        team = team_create(company=self.company, **self.validated(s.TeamCreateSerializer))
        return self.render(team, s.TeamSerializer, status.HTTP_201_CREATED)

    def update(self, request: Request, company_slug: str, pk: str) -> Response:
        return self._update(partial=False)

    def partial_update(self, request: Request, company_slug: str, pk: str) -> Response:
        return self._update(partial=True)

    def _update(self, *, partial: bool) -> Response:
        team = self.get_object()  # a 404 comes before any complaint about the body
        changes = self.validated(s.TeamWriteSerializer, partial=partial)
        if not partial:  # PUT replaces the team: what the body leaves out goes back to empty
            changes = {**s.TeamWriteSerializer.EMPTY, **changes}
        team = team_update(team=team, **changes)
        return self.render(team, s.TeamSerializer)

    def destroy(self, request: Request, company_slug: str, pk: str) -> Response:
        team_delete(team=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="members", url_name="members")
    def add_member(self, request: Request, company_slug: str, pk: str) -> Response:
        team = self.get_object()
        team_member_add(team=team, **self.validated(s.TeamMemberSerializer))
        return self.render(team, s.TeamSerializer, status.HTTP_201_CREATED)

    @action(detail=True, methods=["delete"], url_path=r"members/(?P<user_id>[0-9]+)", url_name="member")
    def remove_member(self, request: Request, company_slug: str, pk: str, user_id: str) -> Response:
        membership = get_object_or_404(TeamMembership, team=self.get_object(), user_id=user_id)
        team_member_remove(membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API keys -----------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="List API keys",
        description=(
            "Keys of the company with their prefix, scope, expiry and last use. "
            "The keys themselves are never shown again."
        ),
    ),
    retrieve=extend_schema(
        summary="Get an API key", description="One key's prefix, scope, expiry, revocation and last use."
    ),
    create=extend_schema(
        summary="Create an API key",
        description="Issue a key for an integration. The response is the only time the key is shown.",
        request=s.APIKeyCreateSerializer,
        responses={201: s.APIKeyCreatedSerializer},
    ),
    revoke=extend_schema(
        summary="Revoke an API key",
        description="The key stops working at once. Revoking a revoked key changes nothing.",
        request=None,
        responses=s.APIKeySerializer,
    ),
)
class APIKeyViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "api-keys"
    queryset = APIKey.objects.all()
    serializer_class = s.APIKeySerializer
    filterset_class = APIKeyFilterSet

    def refine_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("created_by")

    def create(self, request: Request, company_slug: str) -> Response:
        data = self.validated(s.APIKeyCreateSerializer)
        issued = api_key_create(company=self.company, created_by=_person(request), **data)
        body = s.APIKeyCreatedSerializer(issued.api_key, context={"raw_key": issued.raw}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, company_slug: str, pk: str) -> Response:
        api_key = api_key_revoke(api_key=self.command_target(), revoked_by=_person(request))
        return self.render(api_key, s.APIKeySerializer)


# --- me -----------------------------------------------------------------------------
class MeView(StrictQueryParamsMixin, viewsets.ViewSet):
    openapi_tag = "me"

    @extend_schema(
        summary="Who am I",
        description="The signed-in person and their companies and roles, or the API key in use and its company.",
        responses=s.MeSerializer,
    )
    def retrieve(self, request: Request) -> Response:
        api_key = request.auth if isinstance(request.auth, APIKey) else None
        user = _person(request)
        body = {"user": user, "api_key": api_key, "memberships": my_memberships(user=user, api_key=api_key)}
        return Response(s.MeSerializer(body).data)

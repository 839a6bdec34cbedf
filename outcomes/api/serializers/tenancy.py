"""Input and output shapes of the tenancy API. Output and input serializers are kept apart."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import InputSerializer
from outcomes.api.base import CompanyScopedRelatedField
from outcomes.choices import APIKeyScope, Role, TeamTopology
from outcomes.currencies import CURRENCY_CHOICES as CURRENCY_CODES
from outcomes.models import APIKey, Company, Membership, Team, User

CURRENCY_CHOICES = CURRENCY_CODES


class UserSummarySerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]


# --- companies ----------------------------------------------------------------------
class CompanySerializer(serializers.ModelSerializer[Company]):
    class Meta:
        model = Company
        fields = ["id", "name", "slug", "timezone", "created"]


class CompanyCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=60, required=False, help_text="Derived from the name when omitted.")
    timezone = serializers.CharField(max_length=64, default="UTC", help_text="An IANA time zone, e.g. Europe/Berlin.")


class CompanyUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    timezone = serializers.CharField(max_length=64, required=False, help_text="An IANA time zone, e.g. Europe/Berlin.")


# --- members ------------------------------------------------------------------------
class MembershipSerializer(serializers.ModelSerializer[Membership]):
    user = UserSummarySerializer()

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created"]


class KnownPeopleField(serializers.PrimaryKeyRelatedField):
    """People who share a company with the caller: ids of strangers look like ids that do not exist."""

    def get_queryset(self) -> QuerySet[User]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        people: Any = super().get_queryset()
        if user is None or not user.is_authenticated:
            return people.none()
        return people.filter(is_active=True, memberships__company__memberships__user=user).distinct()


class MembershipInviteSerializer(InputSerializer):
    user = KnownPeopleField(
        queryset=User.objects.all(), required=False, help_text="Id of a person who already shares a company with you."
    )
    email = serializers.EmailField(required=False, help_text="E-mail address of an existing account.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("user" in attrs) == ("email" in attrs):
            raise serializers.ValidationError("Give either user or email, not both.")
        return attrs


class MembershipUpdateSerializer(InputSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


# --- teams --------------------------------------------------------------------------
class TeamSerializer(serializers.ModelSerializer[Team]):
    lead = UserSummarySerializer(allow_null=True)
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "topology", "lead", "members", "monthly_cost", "cost_currency", "created"]

    @extend_schema_field(UserSummarySerializer(many=True))
    def get_members(self, team: Team) -> list[dict[str, Any]]:
        # Reads the prefetched memberships: no query per team.
        return UserSummarySerializer([m.user for m in team.memberships.all()], many=True).data  # type: ignore[return-value]


class TeamWriteSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    topology = serializers.ChoiceField(choices=TeamTopology.choices, default=TeamTopology.STREAM_ALIGNED)
    lead = CompanyScopedRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    monthly_cost = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, allow_null=True, required=False
    )
    cost_currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES, allow_blank=True, required=False, help_text="ISO 4217 code."
    )

    EMPTY: dict[str, Any] = {"lead": None, "monthly_cost": None, "cost_currency": ""}


class TeamCreateSerializer(TeamWriteSerializer):
    members = CompanyScopedRelatedField(queryset=User.objects.all(), many=True, required=False)


class TeamMemberSerializer(InputSerializer):
    user = CompanyScopedRelatedField(queryset=User.objects.all())


# --- API keys -----------------------------------------------------------------------
class APIKeySerializer(serializers.ModelSerializer[APIKey]):
    created_by = UserSummarySerializer(allow_null=True)
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = APIKey
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created",
            "created_by",
            "is_active",
        ]

    def get_is_active(self, api_key: APIKey) -> bool:
        return api_key.is_usable()


class APIKeyCreatedSerializer(APIKeySerializer):
    key = serializers.SerializerMethodField(
        help_text="The key itself. It is shown only in this response: store it now."
    )

    class Meta(APIKeySerializer.Meta):
        fields = [*APIKeySerializer.Meta.fields, "key"]

    def get_key(self, api_key: APIKey) -> str:
        return str(self.context["raw_key"])


class APIKeyCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=APIKeyScope.choices, default=APIKeyScope.READ)
    expires_at = serializers.DateTimeField(required=False, help_text="At most a year ahead; 90 days when omitted.")


# --- me -----------------------------------------------------------------------------
class MyMembershipSerializer(serializers.Serializer[Any]):
    company = CompanySerializer()
    role = serializers.ChoiceField(choices=Role.choices, help_text="For an API key: the role the key acts as.")


class MeSerializer(serializers.Serializer[Any]):
    user = UserSummarySerializer(allow_null=True, help_text="The signed-in person; null for an API key.")
    api_key = APIKeySerializer(allow_null=True, help_text="The API key in use, if any.")
    memberships = MyMembershipSerializer(many=True)

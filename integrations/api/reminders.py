"""Reminders and notification preferences over the API.

Owners, admins and executives see every reminder of their company (sent, pending, failed, with the
error); everyone else sees the reminders addressed to them. Each person snoozes their own reminders
and sets their own preferences.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.roles import PEOPLE
from config.api.serializers import RefusesUnknownFields
from integrations.choices import Channel
from integrations.filtersets import ReminderFilterSet
from integrations.models import NotificationPreference, Reminder
from integrations.preferences import SNOOZE_DAYS, preference_get, preference_update, reminder_snooze
from outcomes.api.base import CompanyScopedViewSet, ListRetrieveMixin
from outcomes.choices import ALL_ROLES, MANAGERS, Role

OVERSEERS = MANAGERS | {Role.EXECUTIVE.value}

ROUTE_ROLES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "v1:reminder-list"): ALL_ROLES,
    ("GET", "v1:reminder-detail"): ALL_ROLES,
    ("POST", "v1:reminder-snooze"): PEOPLE,
    ("GET", "v1:notification-preferences"): PEOPLE,
    ("PUT", "v1:notification-preferences"): PEOPLE,
    ("PATCH", "v1:notification-preferences"): PEOPLE,
}


class ReminderSerializer(serializers.ModelSerializer[Reminder]):
    recipient_email = serializers.EmailField(source="recipient.email", read_only=True)

    class Meta:
        model = Reminder
        fields = [
            "id",
            "kind",
            "subject",
            "stage",
            "due_on",
            "recipient",
            "recipient_email",
            "channel",
            "status",
            "attempts",
            "error",
            "created",
            "not_before",
            "sent_at",
            "review",
            "key_result",
            "epic",
            "connection",
        ]
        read_only_fields = fields


class SnoozeSerializer(serializers.Serializer[Any]):
    subject = serializers.CharField(help_text="What is snoozed: every reminder about it to you.")
    until = serializers.DateTimeField()


class PreferenceSerializer(RefusesUnknownFields, serializers.ModelSerializer[NotificationPreference]):
    """How and when reminders reach you: channels, the weekly digest, quiet hours and a pause."""

    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices),
        allow_empty=True,
        max_length=len(Channel.values),
        help_text="Where reminders reach you: any of email, slack (Slack needs the company's or team's webhook).",
    )
    timezone = serializers.CharField(source="company.timezone", read_only=True, help_text="The company's time zone.")

    class Meta:
        model = NotificationPreference
        fields = [
            "channels",
            "digest",
            "digest_weekday",
            "digest_hour",
            "quiet_before",
            "quiet_after",
            "weekdays_only",
            "paused_until",
            "timezone",
        ]


@extend_schema_view(
    list=extend_schema(
        summary="List reminders",
        description="Reminders planned and sent, with their status and error. Owners, admins and executives see "
        "the company's; everyone else sees their own.",
    ),
    retrieve=extend_schema(summary="Get a reminder"),
    snooze=extend_schema(
        summary="Snooze a reminder",
        description=f"The recipient holds back every reminder about the same thing for {SNOOZE_DAYS} days "
        "(snoozing again extends it). Reminders still planned during the snooze go out when it ends, unless "
        "a later stage replaced them or nothing is asked any more.",
        request=None,
        responses=SnoozeSerializer,
    ),
)
class ReminderViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "reminders"
    queryset = Reminder.objects.all()
    serializer_class = ReminderSerializer
    filterset_class = ReminderFilterSet
    cursor_actions = frozenset({"list"})

    def refine_queryset(self, queryset: Any) -> Any:
        queryset = queryset.select_related("recipient").order_by("-created", "-id")
        if self.access.role in OVERSEERS:
            return queryset
        return queryset.filter(recipient=self.access.user) if self.access.user else queryset.none()

    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, company_slug: str, pk: str) -> Response:
        reminder = self.command_target()
        if reminder.recipient_id != request.user.pk:
            raise PermissionDenied("Only the recipient can snooze a reminder.")
        snooze = reminder_snooze(
            company=self.company, recipient_id=reminder.recipient_id, subject=reminder.subject, now=timezone.now()
        )
        return Response(SnoozeSerializer(snooze).data)


@extend_schema_view(
    get=extend_schema(
        summary="Get my notification preferences",
        description="Channels, weekly digest day and hour, quiet window and pause, in the company's time zone. "
        "Without saved preferences: e-mail, Monday 09:00, 08:00-18:00 on weekdays.",
        responses=PreferenceSerializer,
    ),
    put=extend_schema(
        summary="Set my notification preferences", request=PreferenceSerializer, responses=PreferenceSerializer
    ),
    patch=extend_schema(
        summary="Change my notification preferences", request=PreferenceSerializer, responses=PreferenceSerializer
    ),
)
class NotificationPreferenceViewSet(CompanyScopedViewSet):
    """The signed-in person's own preferences in this company (people only, not API keys)."""

    openapi_tag = "reminders"
    queryset = NotificationPreference.objects.all()
    serializer_class = PreferenceSerializer
    paginated_actions = frozenset()
    filtered_actions = frozenset()

    def get(self, request: Request, company_slug: str) -> Response:
        row = preference_get(company=self.company, user_id=self._me())
        return Response(PreferenceSerializer(row).data)

    def _me(self) -> int:
        person = self.access.user  # the role table lets only people (never API keys) in
        assert person is not None
        return person.pk

    def put(self, request: Request, company_slug: str) -> Response:
        return self._save(partial=False)

    def patch(self, request: Request, company_slug: str) -> Response:
        return self._save(partial=True)

    def _save(self, *, partial: bool) -> Response:
        data = self.validated(PreferenceSerializer, partial=partial)
        row = preference_update(company=self.company, user_id=self._me(), data=data)
        return Response(PreferenceSerializer(row).data)

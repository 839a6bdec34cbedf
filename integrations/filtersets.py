from __future__ import annotations

import django_filters

from config.api.filters import CompanyFilterSet, StableOrderingFilter
from integrations.choices import Channel, DeliveryStatus, ReminderKind, ReminderStatus, SyncRunStatus
from integrations.models import Connection, Reminder, SyncRun, WebhookDelivery
from outcomes.models import User


class SyncRunFilterSet(CompanyFilterSet):
    connection_id = django_filters.ModelChoiceFilter(field_name="connection", queryset=Connection.objects.all())
    status = django_filters.MultipleChoiceFilter(choices=SyncRunStatus.choices)
    ordering = StableOrderingFilter(fields=("queued_at", "finished_at"))

    class Meta:
        model = SyncRun
        fields: list[str] = []


class WebhookDeliveryFilterSet(CompanyFilterSet):
    connection_id = django_filters.ModelChoiceFilter(field_name="connection", queryset=Connection.objects.all())
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    event = django_filters.CharFilter(lookup_expr="iexact")
    ordering = StableOrderingFilter(fields=("received_at", "processed_at"))

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


class ReminderFilterSet(CompanyFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReminderStatus.choices)
    kind = django_filters.MultipleChoiceFilter(choices=ReminderKind.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    recipient_id = django_filters.ModelChoiceFilter(field_name="recipient", queryset=User.objects.all())
    subject = django_filters.CharFilter(help_text='What it is about, e.g. "review:12".')
    due_on_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte")
    due_on_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte")
    ordering = StableOrderingFilter(fields=("created", "due_on", "sent_at"))

    class Meta:
        model = Reminder
        fields: list[str] = []

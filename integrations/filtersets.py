from __future__ import annotations

import django_filters

from config.api.filters import CompanyFilterSet
from integrations.choices import DeliveryStatus, SyncRunStatus
from integrations.models import Connection, SyncRun, WebhookDelivery


class SyncRunFilterSet(CompanyFilterSet):
    connection_id = django_filters.ModelChoiceFilter(field_name="connection", queryset=Connection.objects.all())
    status = django_filters.MultipleChoiceFilter(choices=SyncRunStatus.choices)
    ordering = django_filters.OrderingFilter(fields=("queued_at", "finished_at"))

    class Meta:
        model = SyncRun
        fields: list[str] = []


class WebhookDeliveryFilterSet(CompanyFilterSet):
    connection_id = django_filters.ModelChoiceFilter(field_name="connection", queryset=Connection.objects.all())
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    event = django_filters.CharFilter(lookup_expr="iexact")
    ordering = django_filters.OrderingFilter(fields=("received_at", "processed_at"))

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []

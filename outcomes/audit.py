"""Audit plumbing: record which API key made a change when no person did.

django-simple-history records the signed-in person itself (``history_user``);
this adds the key prefix for changes made by integrations.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


@receiver(pre_create_historical_record)
def record_api_key(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    request = getattr(HistoricalRecords.context, "request", None)
    prefix = getattr(getattr(request, "auth", None), "prefix", "")
    if prefix and hasattr(history_instance, "history_api_key_prefix"):
        history_instance.history_api_key_prefix = prefix

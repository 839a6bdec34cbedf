"""Audit plumbing: record which API key made a change when no person did.

django-simple-history records the signed-in person itself (``history_user``);
this adds the key prefix for changes made by integrations.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


@receiver(pre_create_historical_record)
def record_api_key(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    request = getattr(HistoricalRecords.context, "request", None)
    prefix = getattr(getattr(request, "auth", None), "prefix", "")
    if prefix and hasattr(history_instance, "history_api_key_prefix"):
        history_instance.history_api_key_prefix = prefix


# Signing in is not a change to the person: record last_login without a history row.
user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")


@receiver(user_logged_in, dispatch_uid="outcomes_record_last_login")
def record_last_login(sender: Any, user: Any, **kwargs: Any) -> None:
    user.last_login = timezone.now()
    get_user_model().objects.filter(pk=user.pk).update(last_login=user.last_login)

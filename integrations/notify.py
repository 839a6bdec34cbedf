"""Telling people about a connection that stopped working.

A connection is flagged ``needs_attention`` when the tracker refuses it (401, 403, 404, 410). The
company's owners and admins get one e-mail when that happens, not one per failed run: the flag is
set with a conditional update, and only the update that sets it sends.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction

from integrations.models import Connection
from outcomes.choices import MANAGERS
from outcomes.models import Membership


def connection_flagged(connection: Connection, error: str) -> None:
    """Queue the e-mail to the company's managers for when the flag is committed."""
    recipients = sorted(
        Membership.objects.filter(company_id=connection.company_id, role__in=MANAGERS)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return
    subject = f"{connection.name}: the tracker refused our requests"
    body = (
        f"The {connection.get_kind_display()} connection {connection.name!r} of {connection.company.name} "
        f"needs attention: {error}\n\n"
        "Syncing is paused for it. Check its base URL, credentials and their rights, then save the connection "
        "or ask for a sync: the next successful run clears the flag.\n"
    )
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [email]) for email in recipients]
    transaction.on_commit(lambda: send_mass_mail(messages, fail_silently=True))

"""Tracker connections: create, change, rotate their encryption."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations import secrets
from integrations.choices import CREDENTIAL_FIELDS, DEFAULT_BASE_URLS
from integrations.models import Connection, SlackWebhook, WebhookEndpoint
from integrations.netsafety import validate_public_url
from integrations.status_maps import DEFAULTS, validate_map
from outcomes.models import Company
from outcomes.services.common import apply_changes, require_member_fields

FIELDS = ("name", "kind", "base_url", "scope", "status_map", "default_owner", "sync_interval_minutes", "enabled")


@transaction.atomic
def connection_create(
    *, company: Company, credentials: dict[str, str] | None = None, webhook_secret: str | None = None, **fields: Any
) -> Connection:
    connection = Connection(company=company)
    fields.setdefault("base_url", DEFAULT_BASE_URLS.get(fields.get("kind", ""), ""))
    return connection_update(connection=connection, credentials=credentials, webhook_secret=webhook_secret, **fields)


@transaction.atomic
def connection_update(
    *,
    connection: Connection,
    credentials: dict[str, str] | None = None,
    webhook_secret: str | None = None,
    **changes: Any,
) -> Connection:
    """Change a connection. New credentials replace the old ones whole; leaving them out keeps them.

    The webhook secret is what the tracker signs deliveries with; an empty one turns webhooks off.
    """
    if connection.pk and "kind" in changes and changes["kind"] != connection.kind:
        raise ValidationError({"kind": "A connection keeps its tracker; create a new one instead."})
    apply_changes(connection, FIELDS, changes)
    taken = Connection.objects.for_company(connection.company).filter(name__iexact=connection.name)
    if taken.exclude(pk=connection.pk).exists():
        raise ValidationError({"name": "The company already has a connection with this name."})
    try:
        validate_public_url(connection.base_url)
    except ValidationError as error:
        raise ValidationError({"base_url": error.messages}) from error
    require_member_fields(connection, connection.company, "default_owner")
    connection.status_map = validate_map(connection.kind, connection.status_map or DEFAULTS[connection.kind])
    if credentials is not None or {"base_url", "scope"} & set(changes):
        connection.needs_attention = False  # new settings deserve a new try by the scheduler
    if credentials is not None:
        _store_credentials(connection, credentials)
    elif not connection.credentials_encrypted:
        raise ValidationError({"credentials": "Required for a new connection."})
    if webhook_secret is not None:
        _store_webhook_secret(connection, webhook_secret.strip())
    connection.full_clean(exclude=["credentials_encrypted"])
    connection.save()
    return connection


def _store_credentials(connection: Connection, credentials: dict[str, str]) -> None:
    needed = CREDENTIAL_FIELDS[connection.kind]
    missing = [name for name in needed if not str(credentials.get(name, "")).strip()]
    extra = sorted(set(credentials) - set(needed))
    if missing or extra:
        problems = {f"credentials.{name}": "Required." for name in missing}
        problems |= {f"credentials.{name}": "Not a credential of this tracker." for name in extra}
        raise ValidationError(problems)
    secret = str(credentials[needed[-1]])
    connection.credentials_encrypted = secrets.encrypt({name: str(credentials[name]) for name in needed})
    connection.credential_hint = "…" + secret[-4:] if len(secret) >= 12 else "…"
    connection.credentials_updated = timezone.now()


MIN_WEBHOOK_SECRET = 16


def _store_webhook_secret(connection: Connection, secret: str) -> None:
    if secret and len(secret) < MIN_WEBHOOK_SECRET:
        raise ValidationError({"webhook_secret": f"At least {MIN_WEBHOOK_SECRET} characters, or empty to turn off."})
    connection.webhook_secret_encrypted = secrets.encrypt({"secret": secret}) if secret else ""


def connection_credentials(connection: Connection) -> dict[str, str]:
    """The plaintext credentials, for the client that calls the tracker; nothing else should ask."""
    return {key: str(value) for key, value in secrets.decrypt(connection.credentials_encrypted).items()}


@transaction.atomic
def connection_delete(*, connection: Connection) -> None:
    connection.delete()


@dataclass
class Rotation:
    rotated: int = 0
    unreadable: list[int] = field(default_factory=list)  # connections whose credentials no key decrypts


def rotate_credentials(*, batch_size: int = 200, after_pk: int = 0) -> Rotation:
    """Re-encrypt every stored credential and webhook secret under the newest key, in batches by id. Safe to re-run.

    A credential no configured key can read is skipped and reported (its connection needs new
    credentials); the rest are still rotated.
    """
    outcome = Rotation()
    while True:
        batch = list(
            Connection.objects.filter(pk__gt=after_pk)
            .exclude(credentials_encrypted="", webhook_secret_encrypted="")
            .order_by("pk")[:batch_size]
        )
        if not batch:
            return outcome
        for connection in batch:
            try:
                tokens = {
                    name: secrets.rotate(getattr(connection, name))
                    for name in ("credentials_encrypted", "webhook_secret_encrypted")
                }
            except secrets.CredentialsUnreadable:
                outcome.unreadable.append(connection.pk)
                continue
            Connection.objects.filter(pk=connection.pk).update(**tokens)
            outcome.rotated += 1
        after_pk = batch[-1].pk


# Other rows holding a secret under FIELD_ENCRYPTION_KEYS: (model, encrypted field, label in reports).
NOTIFICATION_SECRETS = (
    (WebhookEndpoint, "secret_encrypted", "webhook endpoint"),
    (SlackWebhook, "url_encrypted", "Slack webhook"),
)


def rotate_notification_secrets() -> tuple[int, list[str]]:
    """Re-encrypt outbound webhook secrets and Slack webhook URLs under the newest key.

    Returns how many were rotated and which could not be read (each needs a new secret or URL).
    These tables hold a few rows per company, so one pass over each is enough.
    """
    rotated, unreadable = 0, []
    for model, field_name, label in NOTIFICATION_SECRETS:
        for pk, token in model.objects.exclude(**{field_name: ""}).values_list("pk", field_name).iterator():
            try:
                fresh = secrets.rotate(token)
            except secrets.CredentialsUnreadable:
                unreadable.append(f"{label} {pk}")
                continue
            model.objects.filter(pk=pk).update(**{field_name: fresh})
            rotated += 1
    return rotated, unreadable

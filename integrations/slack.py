"""Slack as a notification channel: incoming webhooks, posted through slack-sdk.

A company saves one incoming-webhook URL for itself and, if it likes, one per team; a message about a
team's work goes to the team's channel, everything else to the company's. The URL is the only
credential Slack hands out (whoever holds it can post), so it is stored encrypted and never shown
again: the API returns only its last characters, and no error message repeats it.

A post answers one question for the sender: did Slack take the message, and if not, will trying
again help? Slack's answers become a ``SendError`` that is either transient (429, 5xx, no
connection: try again later, after ``retry_after`` seconds when Slack says) or permanent (the
webhook was removed, the channel archived, the workspace refuses: the company must save a new
webhook first, and the message says so).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any, Final
from urllib.request import BaseHandler, HTTPRedirectHandler, HTTPSHandler, ProxyHandler, Request, build_opener

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from slack_sdk.errors import SlackRequestError
from slack_sdk.webhook import WebhookClient, WebhookResponse

from integrations import netsafety, secrets
from integrations.models import SlackWebhook
from outcomes.models import Company, Team

TIMEOUT = 10  # seconds per connect and per read: a worker must not hang on Slack
MAX_BODY = 64 * 1024  # Slack answers "ok"; anything longer is not Slack talking
NEW_WEBHOOK = "create a new incoming webhook in Slack and save it here."
# slack-sdk logs the full URL (the secret) at DEBUG whenever its logger's own level allows it.
SDK_LOG = logging.getLogger("integrations.slack.sdk")
SDK_LOG.setLevel(logging.WARNING)


class SendError(Exception):
    """A message was not delivered.

    ``transient``: the same message may go through later (after ``retry_after`` seconds when the
    receiver said so). Otherwise nothing changes until the company does something, and the message
    says what. ``status`` is the receiver's HTTP status, when there was one.
    """

    def __init__(
        self, message: str, *, transient: bool, retry_after: int | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.status = status


# What Slack's error strings mean for the company, from
# https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks/#handling_errors
FIXES: Final[dict[str, str]] = {
    "invalid_payload": "Slack could not read the message (invalid_payload); it was not posted. Nothing to change "
    "on your side.",
    "invalid_blocks": "Slack refused the message's layout (invalid_blocks); it was not posted. Nothing to change "
    "on your side.",
    "invalid_blocks_format": "Slack refused the message's layout (invalid_blocks_format); it was not posted. "
    "Nothing to change on your side.",
    "no_text": "Slack refused a message without text (no_text); it was not posted. Nothing to change on your side.",
    "too_many_attachments": "Slack refused the message (too_many_attachments); it was not posted.",
    "user_not_found": "Slack says the user the message names does not exist (user_not_found).",
    "action_prohibited": "Slack refused the post (action_prohibited): the workspace restricts this webhook. Ask a "
    f"Slack admin to allow it, or {NEW_WEBHOOK}",
    "posting_to_general_channel_denied": "Slack refused the post (posting_to_general_channel_denied): only admins "
    "may post in that channel. Create an incoming webhook for another channel and save it here.",
    "invalid_token": f"Slack says the webhook's token is no longer valid (invalid_token): {NEW_WEBHOOK}",
    "no_service": f"Slack says the webhook no longer exists (no_service): {NEW_WEBHOOK}",
    "no_service_id": "Slack says the webhook URL is incomplete (no_service_id): copy the whole URL Slack shows for "
    "the incoming webhook and save it here.",
    "no_team": f"Slack says the webhook's workspace does not exist (no_team): {NEW_WEBHOOK}",
    "team_disabled": f"Slack says the webhook's workspace is disabled (team_disabled): {NEW_WEBHOOK}",
    "channel_not_found": "Slack says the webhook's channel no longer exists (channel_not_found): create an "
    "incoming webhook for an existing channel and save it here.",
    "channel_is_archived": "Slack says the webhook's channel is archived (channel_is_archived): unarchive it in "
    "Slack, or create an incoming webhook for another channel and save it here.",
}
TRANSIENT_STATUSES = frozenset({408, 425, 429})  # and every 5xx


@dataclass(frozen=True)
class Answer:
    """Slack's answer to one post, read at the boundary: status, error string, Retry-After."""

    status: int
    code: str  # Slack's error string such as "no_service"; "" when the body was not one
    retry_after: int | None

    @classmethod
    def of(cls, response: WebhookResponse) -> Answer:
        headers = {str(name).lower(): str(value) for name, value in (response.headers or {}).items()}
        return cls(response.status_code, _error_string(response.body), _seconds(headers.get("retry-after")))

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> SendError:
        transient = self.status in TRANSIENT_STATUSES or self.status >= 500
        return SendError(self._message(), transient=transient, retry_after=self.retry_after, status=self.status)

    def _message(self) -> str:
        said = f"HTTP {self.status} {self.code}".strip()
        if self.code in FIXES:
            return FIXES[self.code]
        if self.status == 429:
            wait = f"after {self.retry_after} s" if self.retry_after is not None else "later"
            return f"Slack is limiting how often this webhook may post ({said}); try again {wait}."
        if self.status in TRANSIENT_STATUSES or self.status >= 500:
            return f"Slack could not take the message right now ({said}); try again later."
        if 300 <= self.status < 400:
            return (
                f"The webhook URL answered with a redirect ({said}), which is not followed: save the URL Slack shows."
            )
        if self.status in (404, 410):
            return f"Slack says the webhook does not exist ({said}): {NEW_WEBHOOK}"
        if self.status in (401, 403):
            return f"Slack refused the post ({said}): check the webhook in Slack, or {NEW_WEBHOOK}"
        return f"Slack refused the message ({said}); it was not posted."


def _error_string(body: str | None) -> str:
    """Slack's error string, if the body is one; never echo arbitrary text a server sent."""
    text = (body or "").strip()
    return text if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", text) else ""


def _seconds(value: str | None) -> int | None:
    """Retry-After as seconds: Slack sends a number, HTTP also allows a date."""
    value = (value or "").strip()
    if re.fullmatch(r"\d{1,9}", value, flags=re.ASCII):
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0, math.ceil((moment - timezone.now()).total_seconds()))


class _NoRedirects(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _WebhookClient(WebhookClient):
    """slack-sdk's client, except that it never follows a redirect and reads at most MAX_BODY bytes.

    A redirect would carry our request to a host nobody checked: a saved URL could bounce it to an
    internal address. So a 3xx comes back as the answer, and the saved URL is all we ever call.
    """

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        handlers: list[BaseHandler] = [_NoRedirects(), HTTPSHandler(context=self.ssl)]
        if self.proxy:
            handlers.append(ProxyHandler({"http": self.proxy, "https": self.proxy}))
        with build_opener(*handlers).open(req, timeout=self.timeout) as answer:
            body = answer.read(MAX_BODY).decode(answer.headers.get_content_charset() or "utf-8", errors="replace")
            return WebhookResponse(url=url, status_code=answer.status, body=body, headers=dict(answer.headers))


class _Unresolved(Exception):
    """DNS gave no answer: unlike an address that is refused, this may pass."""


def _resolve(host: str) -> list[str]:
    try:
        return netsafety.resolve(host)
    except OSError as error:
        raise _Unresolved() from error


def _check_before_post(url: str) -> None:
    """The URL was checked when saved, but its host's DNS may since point somewhere private."""
    try:
        netsafety.validate_public_url(url, resolver=_resolve)
    except _Unresolved:
        raise SendError("The webhook's host name did not resolve; try again later.", transient=True) from None
    except ValidationError as error:
        reason = " ".join(error.messages)
        raise SendError(f"The saved webhook URL is refused: {reason} {NEW_WEBHOOK}", transient=False) from None


def _describe(error: BaseException) -> str:
    """What went wrong on the wire, without the URL (urllib and ssl put host names and paths in messages)."""
    reason = getattr(error, "reason", None)
    cause = reason if isinstance(reason, BaseException) else error
    return "timed out" if isinstance(cause, TimeoutError) else type(cause).__name__


def post(url: str, *, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """Post one message to an incoming webhook; return once Slack took it, raise ``SendError`` otherwise.

    slack-sdk's own retry of connection errors is off: a reset after the request went out could post
    the message twice, and waiting belongs to the caller, which retries transient errors with backoff.
    """
    _check_before_post(url)
    client = _WebhookClient(url, timeout=TIMEOUT, retry_handlers=[], logger=SDK_LOG)
    try:
        # https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks/
        response = client.send(text=text, blocks=blocks)
    except (OSError, HTTPException) as error:
        raise SendError(f"Could not reach Slack ({_describe(error)}); try again later.", transient=True) from None
    except SlackRequestError:
        raise SendError(f"The saved webhook URL cannot be posted to: {NEW_WEBHOOK}", transient=False) from None
    answer = Answer.of(response)
    if not answer.ok:
        raise answer.error()


def webhook_for(company_id: int, team_id: int | None) -> str | None:
    """The URL to post to about ``team_id``'s work: the team's own webhook, else the company's, else None.

    One query. A stored URL no configured key decrypts raises a permanent ``SendError``, which
    senders already handle: the company has to save the webhook again.
    """
    token = (
        SlackWebhook.objects.filter(company_id=company_id)
        .filter(Q(team__isnull=True) | Q(team_id=team_id))
        .order_by(F("team_id").asc(nulls_last=True))
        .values_list("url_encrypted", flat=True)
        .first()
    )
    return None if token is None else _plain_url(token)


def _plain_url(token: str) -> str:
    try:
        return str(secrets.decrypt(token)["url"])
    except secrets.CredentialsUnreadable:
        message = "The saved Slack webhook cannot be decrypted with the configured keys: save it again."
        raise SendError(message, transient=False) from None


def _checked(*, company_id: int, team: Team | None, url: str | None) -> dict[str, str]:
    """The columns that store ``url``, after checking the team and the URL (both complaints at once)."""
    errors: dict[str, list[str]] = {}
    if team is not None and team.company_id != company_id:
        errors["team"] = ["Not a team of this company."]
    clean = ""
    if url is not None:
        try:
            clean = netsafety.validate_public_url(url)
        except ValidationError as error:
            errors["url"] = error.messages
    if errors:
        raise ValidationError(errors)
    return {"url_encrypted": secrets.encrypt({"url": clean}), "url_hint": "…" + clean[-4:]} if clean else {}


@transaction.atomic
def slack_webhook_save(*, company: Company, team: Team | None = None, url: str) -> SlackWebhook:
    """Save the company's webhook (no team) or a team's, replacing the URL of the one already there.

    Each place holds one webhook, so saving again is how a company swaps a revoked webhook for a new
    one; the row, and its id, stay.
    """
    stored = _checked(company_id=company.pk, team=team, url=url)
    webhook, _ = SlackWebhook.objects.update_or_create(company=company, team=team, defaults=stored)
    return webhook


class _Keep:
    """The team argument was not given: the webhook stays where it is."""


KEEP: Final = _Keep()


@transaction.atomic
def slack_webhook_update(
    *, webhook: SlackWebhook, url: str | None = None, team: Team | _Keep | None = KEEP
) -> SlackWebhook:
    """Change a webhook's URL, or move it to another team (``None``: the company's), if that place is free."""
    target = webhook.team if isinstance(team, _Keep) else team
    stored = _checked(company_id=webhook.company_id, team=target, url=url)
    if (target.pk if target is not None else None) != webhook.team_id:
        taken = SlackWebhook.objects.filter(company_id=webhook.company_id, team=target).exclude(pk=webhook.pk)
        if taken.exists():
            whose = "That team" if target is not None else "The company"
            raise ValidationError({"team": f"{whose} already has a Slack webhook: change or delete that one."})
    webhook.team = target
    for name, value in stored.items():
        setattr(webhook, name, value)
    webhook.save()
    return webhook


@transaction.atomic
def slack_webhook_delete(*, webhook: SlackWebhook) -> None:
    webhook.delete()


def slack_test(*, webhook: SlackWebhook) -> None:
    """Post a short message, so the company sees where notifications will land; raises ``SendError``."""
    about = webhook.team.name if webhook.team is not None else webhook.company.name
    text = f"OKR Outcomes is connected: notifications for {about} will be posted in this channel."
    post(_plain_url(webhook.url_encrypted), text=text)

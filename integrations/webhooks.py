"""Tracker webhooks: who signed a delivery, and what it is about.

Each tracker proves a delivery differently (TRACKERS.md and docs/trackers.md):

* GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``;
* Jira: ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` (admin webhooks with a secret);
* Linear: ``Linear-Signature: <hex HMAC-SHA256(secret, body)>``, and the delivery's
  ``webhookTimestamp`` (ms) within 60 seconds of now, so a captured delivery cannot be replayed;
* GitLab: ``X-Gitlab-Token`` carries the secret itself.

Every comparison takes constant time, and is made on the raw body before anything parses it.
A delivery is then read into a ``Hint``: which item to re-read from the tracker, or that the
tracker deleted or moved one, or that the event is none of our business.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from epics.choices import TrackerAbsence
from integrations.choices import DELIVERY_ID_HEADERS, TrackerKind

LINEAR_WINDOW_MS = 60_000


class SignatureRefused(Exception):
    """The delivery is not signed by the connection's secret (or is too old to trust)."""


def _hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def verify(kind: str, secret: str, headers: Mapping[str, str], body: bytes, *, now_ms: int) -> None:
    """Return quietly when the delivery is authentic; raise SignatureRefused otherwise."""
    if not secret:
        raise SignatureRefused("The connection has no webhook secret: set one before pointing the tracker here.")
    if kind == TrackerKind.GITHUB:
        _prefixed(headers.get("X-Hub-Signature-256", ""), secret, body, "X-Hub-Signature-256")
    elif kind == TrackerKind.JIRA:
        _prefixed(headers.get("X-Hub-Signature", ""), secret, body, "X-Hub-Signature")
    elif kind == TrackerKind.GITLAB:
        if not _same(headers.get("X-Gitlab-Token", ""), secret):
            raise SignatureRefused("X-Gitlab-Token does not match the connection's webhook secret.")
    elif kind == TrackerKind.LINEAR:
        if not _same(headers.get("Linear-Signature", "").strip().lower(), _hex_hmac(secret, body)):
            raise SignatureRefused("Linear-Signature does not match the body signed with the webhook secret.")
        _fresh(headers, body, now_ms)
    else:  # pragma: no cover - the kinds are a closed set
        raise SignatureRefused(f"No webhooks for {kind}.")


def _prefixed(header: str, secret: str, body: bytes, name: str) -> None:
    method, _, signature = header.strip().partition("=")
    if method.lower() != "sha256" or not _same(signature.lower(), _hex_hmac(secret, body)):
        raise SignatureRefused(f"{name} does not match the body signed with the webhook secret.")


def _fresh(headers: Mapping[str, str], body: bytes, now_ms: int) -> None:
    """Linear's replay guard: the signed ``webhookTimestamp`` (or the header) within 60 s of now."""
    stamp: Any = None
    try:
        payload = json.loads(body)
        stamp = payload.get("webhookTimestamp") if isinstance(payload, dict) else None
    except ValueError:
        pass
    if stamp is None:
        stamp = headers.get("Linear-Timestamp")
    try:
        moment = int(float(stamp))
    except (TypeError, ValueError, OverflowError) as error:
        raise SignatureRefused("The delivery carries no webhookTimestamp.") from error
    if abs(now_ms - moment) > LINEAR_WINDOW_MS:
        raise SignatureRefused("The delivery is more than 60 seconds old or early: refused as a possible replay.")


def delivery_id(kind: str, headers: Mapping[str, str], body: bytes) -> str:
    """The tracker's delivery id, the same on retries; a digest of the body when the tracker sends none."""
    for name in DELIVERY_ID_HEADERS[kind]:
        value = headers.get(name, "").strip()
        if value:
            return value[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def event_name(kind: str, headers: Mapping[str, str], payload: Any) -> tuple[str, str]:
    """(event, action) as the tracker names them, for the delivery list."""
    body = payload if isinstance(payload, dict) else {}
    if kind == TrackerKind.GITHUB:
        return headers.get("X-GitHub-Event", "")[:100], str(body.get("action") or "")[:100]
    if kind == TrackerKind.JIRA:
        return str(body.get("webhookEvent") or "")[:100], str(body.get("issue_event_type_name") or "")[:100]
    if kind == TrackerKind.GITLAB:
        attributes = body.get("object_attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        return headers.get("X-Gitlab-Event", "")[:100], str(attributes.get("action") or "")[:100]
    return (headers.get("Linear-Event") or str(body.get("type") or ""))[:100], str(body.get("action") or "")[:100]


@dataclass(frozen=True)
class Hint:
    """What a delivery is about. ``ref`` is what the client's ``fetch_item`` takes."""

    ref: str = ""
    external_id: str = ""  # our key for the epic, when the delivery tells it
    key: str = ""  # the tracker's visible key, for trackers whose events carry other ids (GitLab work items)
    gone: str = ""  # a TrackerAbsence when the tracker says the item was deleted or moved
    ignore: str = ""  # why nothing is to be done

    @classmethod
    def ignored(cls, why: str) -> Hint:
        return cls(ignore=why)


def read(kind: str, event: str, payload: Any) -> Hint:
    """The hint in a delivery; never raises, whatever the JSON."""
    if not isinstance(payload, dict):
        return Hint.ignored("The body is not a JSON object.")
    try:
        return READERS[kind](event, payload)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return Hint.ignored("The delivery lacks the fields this event should carry.")


def _github(event: str, body: dict[str, Any]) -> Hint:
    if event == "milestone":
        milestone, repository = body["milestone"], body["repository"]
        external_id = f"milestone:{int(milestone['id'])}"
        if str(body.get("action")) == "deleted":
            return Hint(external_id=external_id, gone=TrackerAbsence.DELETED)
        return Hint(ref=f"{repository['full_name']}/milestones/{int(milestone['number'])}", external_id=external_id)
    if event != "issues":
        return Hint.ignored(f"GitHub event {event!r} is not about issues or milestones.")
    issue, repository = body["issue"], body["repository"]
    if "pull_request" in issue:
        return Hint.ignored("A pull request, not an issue.")
    external_id = str(int(issue["id"]))
    gone = {"deleted": TrackerAbsence.DELETED, "transferred": TrackerAbsence.MOVED}.get(str(body.get("action")), "")
    return Hint(ref=f"{repository['full_name']}#{int(issue['number'])}", external_id=external_id, gone=gone)


def _jira(event: str, body: dict[str, Any]) -> Hint:
    if event not in {"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"}:
        return Hint.ignored(f"Jira event {event!r} does not change an issue.")
    external_id = str(int(body["issue"]["id"]))
    if event == "jira:issue_deleted":
        return Hint(external_id=external_id, gone=TrackerAbsence.DELETED)
    return Hint(ref=external_id, external_id=external_id)


def _gitlab(event: str, body: dict[str, Any]) -> Hint:
    attributes = body["object_attributes"]
    kind = str(body.get("object_kind"))
    is_epic = kind == "epic" or (kind == "work_item" and str(attributes.get("type")).lower() == "epic")
    if not is_epic:
        return Hint.ignored(f"GitLab {kind!r} events are not about epics.")
    external_id = str(int(attributes["id"]))  # a work item's id differs from its legacy epic's: the key finds both
    iid = int(attributes["iid"])
    if str(attributes.get("action")) in {"delete", "destroy"}:
        return Hint(external_id=external_id, key=f"&{iid}", gone=TrackerAbsence.DELETED)
    return Hint(ref=str(iid), external_id=external_id, key=f"&{iid}")


def _linear(event: str, body: dict[str, Any]) -> Hint:
    data, kind = body["data"], str(body.get("type"))
    if kind == "Project":
        if str(body.get("action")) == "remove":
            return Hint(external_id=str(data["id"]), gone=TrackerAbsence.DELETED)
        return Hint(ref=str(data["id"]), external_id=str(data["id"]))
    if kind == "Issue" and data.get("projectId"):  # an issue moved: its project's status may have too
        return Hint(ref=str(data["projectId"]), external_id=str(data["projectId"]))
    return Hint.ignored(f"Linear {kind!r} events outside a project are not about epics.")


READERS: dict[str, Callable[[str, dict[str, Any]], Hint]] = {
    TrackerKind.GITHUB: _github,
    TrackerKind.JIRA: _jira,
    TrackerKind.GITLAB: _gitlab,
    TrackerKind.LINEAR: _linear,
}

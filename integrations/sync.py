"""Pulling epics from a tracker: runs are rows, claimed once, applied page by page.

1. ``sync_request`` queues a run (or returns the one already queued or running).
2. ``sync_run`` claims the run with a conditional update, so two workers never run it twice.
3. Incremental runs ask for items updated since the start of the last successful run minus an
   overlap; a full run asks for everything. The cursor only moves when a run succeeds.
4. Each page is applied in its own transaction: a failure keeps what earlier pages applied.
5. Items become epics keyed by (connection, tracker id); a status change becomes a status-history
   row (source ``sync``) with the tracker's timestamp, and an event older than the newest applied
   changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from epics.choices import ChangeSource, EpicStatus
from epics.models import Epic
from epics.services import epic_create, epic_transition
from integrations.choices import ACTIVE_RUN_STATES, SyncRunStatus, TrackerKind
from integrations.models import Connection, SyncRun
from integrations.services import connection_credentials
from integrations.status_maps import map_status
from integrations.trackers.base import PermanentTrackerError, TrackerError, TrackerItem
from integrations.trackers.github import GitHubClient
from integrations.trackers.gitlab import GitLabClient
from integrations.trackers.jira import JiraClient
from outcomes.choices import Role
from outcomes.models import Membership, User

OVERLAP = timedelta(minutes=5)
UNSYNCED_KINDS = (TrackerKind.LINEAR,)  # its client is still to come
TRACKER_FIELDS = ("title", "external_key", "tracker_url", "tracker_status")


class Client(Protocol):
    def epics(self, *, scope: dict[str, Any], updated_since: datetime | None = None) -> Iterator[list[TrackerItem]]: ...


def client_for(connection: Connection) -> Client:
    credentials = connection_credentials(connection)
    if connection.kind == TrackerKind.JIRA:
        return JiraClient(base_url=connection.base_url, email=credentials["email"], api_token=credentials["api_token"])
    if connection.kind == TrackerKind.GITHUB:
        return GitHubClient(base_url=connection.base_url, token=credentials["token"])
    if connection.kind == TrackerKind.GITLAB:
        return GitLabClient(base_url=connection.base_url, token=credentials["token"])
    raise NotImplementedError(f"Sync for {connection.get_kind_display()} is not available yet.")


def sync_request(*, connection: Connection, full: bool = False) -> tuple[SyncRun, bool]:
    """Queue a run for the connection; a run already queued or running is returned instead (False)."""
    active = connection.sync_runs.filter(status__in=ACTIVE_RUN_STATES).first()
    if active is not None:
        return active, False
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(connection=connection, full=full)
    except IntegrityError:  # another request queued one at the same moment
        return connection.sync_runs.get(status__in=ACTIVE_RUN_STATES), False
    from integrations.tasks import sync_connection_task  # the task module imports this one

    transaction.on_commit(lambda: sync_connection_task.delay(run.pk))
    return run, True


def _cursor(connection: Connection) -> datetime | None:
    last = (
        connection.sync_runs.filter(status=SyncRunStatus.SUCCEEDED)
        .exclude(started_at=None)
        .order_by("-started_at")
        .first()
    )
    return None if last is None or last.started_at is None else last.started_at - OVERLAP


def sync_run(run_id: int, *, client: Client | None = None) -> SyncRun:
    """Claim and perform a queued run. A run someone else claimed is returned untouched."""
    now = timezone.now()
    if not SyncRun.objects.filter(pk=run_id, status=SyncRunStatus.QUEUED).update(
        status=SyncRunStatus.RUNNING, started_at=now
    ):
        return SyncRun.objects.get(pk=run_id)
    run = SyncRun.objects.select_related("connection__company", "connection__default_owner").get(pk=run_id)
    connection = run.connection
    run.updated_since = None if run.full else _cursor(connection)
    pages_applied = 0
    try:
        for page in (client or client_for(connection)).epics(scope=connection.scope, updated_since=run.updated_since):
            with transaction.atomic():
                _apply_page(connection, page, run)
            pages_applied += 1
            run.save(update_fields=["fetched", "created", "updated", "unchanged", "errors", "updated_since"])
    except TrackerError as error:
        return _finish_failed(run, connection, error, partial=pages_applied > 0)
    return _finish_succeeded(run, connection)


def _finish_succeeded(run: SyncRun, connection: Connection) -> SyncRun:
    run.status, run.finished_at, run.error = SyncRunStatus.SUCCEEDED, timezone.now(), ""
    run.save()
    Connection.objects.filter(pk=connection.pk).update(
        last_success_at=run.finished_at, needs_attention=False, last_error=""
    )
    return run


def _finish_failed(run: SyncRun, connection: Connection, error: TrackerError, *, partial: bool) -> SyncRun:
    run.status = SyncRunStatus.PARTIAL if partial else SyncRunStatus.FAILED
    run.finished_at, run.error = timezone.now(), str(error)
    run.save()
    Connection.objects.filter(pk=connection.pk).update(
        last_error_at=run.finished_at,
        last_error=str(error),
        needs_attention=isinstance(error, PermanentTrackerError),
    )
    return run


def _apply_page(connection: Connection, items: Iterable[TrackerItem], run: SyncRun) -> None:
    items = list(items)
    known = {
        epic.external_id: epic
        for epic in Epic.objects.filter(
            company=connection.company,
            tracker_connection_id=connection.pk,
            external_id__in=[i.external_id for i in items],
        )
    }
    owners = _owners(connection, items)
    for item in items:
        run.fetched += 1
        outcome = _apply_item(connection, item, known.get(item.external_id), owners)
        setattr(run, outcome, getattr(run, outcome) + 1)


def _owners(connection: Connection, items: list[TrackerItem]) -> dict[str, User]:
    """Members by e-mail for the page's assignees (one query)."""
    emails = {item.assignee_email.lower() for item in items if item.assignee_email}
    people = User.objects.for_company(connection.company).filter(email__in=emails) if emails else []
    return {person.email.lower(): person for person in people}


def _fallback_owner(connection: Connection) -> User:
    if connection.default_owner is not None:
        return connection.default_owner
    owner = Membership.objects.filter(company=connection.company, role=Role.OWNER).select_related("user").first()
    assert owner is not None, "a company always has an owner"
    return owner.user


def _apply_item(connection: Connection, item: TrackerItem, epic: Epic | None, owners: dict[str, User]) -> str:
    status, _ = map_status(connection.status_map, item.signals)
    fields = {
        "title": item.title,
        "external_key": item.key,
        "tracker_url": item.url,
        "tracker_status": item.status_text,
    }
    if epic is None:
        owner = owners.get(item.assignee_email.lower()) or _fallback_owner(connection)
        epic = epic_create(
            company=connection.company,
            owner=owner,
            source=ChangeSource.SYNC,
            title=item.title,
            external_key=item.key,
            tracker_url=item.url,
            tracker={
                "tracker_connection_id": connection.pk,
                "external_id": item.external_id,
                "tracker_status": item.status_text,
            },
        )
        if status is not None and status != EpicStatus.PROPOSED:
            epic_transition(epic=epic, to_status=status, source=ChangeSource.SYNC, tracker_timestamp=item.updated_at)
        return "created"
    changed = any(getattr(epic, name) != value for name, value in fields.items())
    if changed:
        for name, value in fields.items():
            setattr(epic, name, value)
        epic.save(update_fields=[*TRACKER_FIELDS, "updated"])
    moved = None
    if status is not None:  # unknown statuses leave the epic as it is
        moved = epic_transition(
            epic=epic, to_status=status, source=ChangeSource.SYNC, tracker_timestamp=item.updated_at
        )
    return "updated" if changed or moved is not None else "unchanged"


def due_connections(now: datetime | None = None) -> list[Connection]:
    """Enabled connections with nothing queued or running whose interval has passed since their last run."""
    now = now or timezone.now()
    candidates = (
        Connection.objects.filter(enabled=True, needs_attention=False)
        .exclude(kind__in=UNSYNCED_KINDS)
        .exclude(sync_runs__status__in=ACTIVE_RUN_STATES)
        .annotate(last_queued=Max("sync_runs__queued_at"))
    )
    return [
        c
        for c in candidates
        if c.last_queued is None or c.last_queued + timedelta(minutes=c.sync_interval_minutes) <= now
    ]


def dispatch_due_syncs() -> int:
    """Queue a run for every due connection. Running it twice queues nothing twice (one active run each)."""
    queued = 0
    for connection in due_connections():
        _, created = sync_request(connection=connection)
        queued += created
    return queued

"""Pulling epics from a tracker: runs are rows, claimed once, applied page by page.

1. ``sync_request`` queues a run (or returns the one already queued or running).
2. ``sync_run`` claims the run with a conditional update, so two workers never run it twice.
3. Incremental runs ask for items updated since the start of the last successful run minus an
   overlap; a full run asks for everything. The cursor only moves when a run succeeds.
4. Each page is applied in its own transaction, in bulk (``epics.tracking``): a failure keeps what
   earlier pages applied. Items become epics keyed by (connection, tracker id); a status change
   becomes a status-history row with the tracker's timestamp; an older event changes nothing.
5. A full run (the dispatcher makes one every ``TRACKER_FULL_SYNC_HOURS``) ends by marking the
   epics the tracker no longer lists.
6. A running run whose worker went silent past ``SYNC_RUN_LEASE_SECONDS`` is taken over by a
   redelivered task, or failed by the dispatcher so that the next run converges.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from epics.choices import ChangeSource
from epics.tracking import Applied, TrackedItem, tracked_epics_apply, tracked_epics_mark_missing
from integrations.choices import ACTIVE_RUN_STATES, SyncRunStatus, TrackerKind
from integrations.models import Connection, SyncRun
from integrations.queueing import resend_stranded, send_on_commit
from integrations.secrets import CredentialsUnreadable
from integrations.services import connection_credentials
from integrations.status_maps import map_item
from integrations.trackers.base import PermanentTrackerError, TrackerError, TrackerItem
from integrations.trackers.github import GitHubClient
from integrations.trackers.gitlab import GitLabClient
from integrations.trackers.jira import JiraClient
from integrations.trackers.linear import LinearClient
from outcomes.choices import Role
from outcomes.models import Membership, User

OVERLAP = timedelta(minutes=5)
# A queued run whose message has not started it within this long is sent again (runs queue behind
# others for minutes at most; a duplicate message finds the run claimed and does nothing).
STRANDED_AFTER = timedelta(minutes=10)
SUCCEEDED = SyncRunStatus.SUCCEEDED


class Client(Protocol):
    def epics(self, *, scope: dict[str, Any], updated_since: datetime | None = None) -> Iterator[list[TrackerItem]]: ...

    def fetch_item(self, *, scope: dict[str, Any], ref: str) -> TrackerItem | None: ...


def client_for(connection: Connection) -> Client:
    try:
        credentials = connection_credentials(connection)
    except CredentialsUnreadable as error:
        raise PermanentTrackerError("No configured key decrypts the credentials: enter them again.") from error
    if connection.kind == TrackerKind.JIRA:
        return JiraClient(base_url=connection.base_url, email=credentials["email"], api_token=credentials["api_token"])
    if connection.kind == TrackerKind.GITHUB:
        return GitHubClient(base_url=connection.base_url, token=credentials["token"])
    if connection.kind == TrackerKind.GITLAB:
        return GitLabClient(base_url=connection.base_url, token=credentials["token"])
    if connection.kind == TrackerKind.LINEAR:
        return LinearClient(base_url=connection.base_url, api_key=credentials["api_key"])
    raise ValueError(f"No client for trackers of kind {connection.kind!r}.")


def sync_request(*, connection: Connection, full: bool = False) -> tuple[SyncRun, bool]:
    """Queue a run for the connection; a run already queued or running is returned instead (False).

    The run is stored whatever the broker does; a run the broker could not take is sent again when
    asked for again, or by the dispatcher (``resend_stranded_runs``).
    """
    from integrations.tasks import sync_connection_task  # the task module imports this one

    active = connection.sync_runs.filter(status__in=ACTIVE_RUN_STATES).first()
    if active is not None:
        if active.status == SyncRunStatus.QUEUED and active.sent_at is None:
            resend_stranded(sync_connection_task, SyncRun.objects.filter(pk=active.pk), now=timezone.now())
        return active, False
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(connection=connection, full=full)
    except IntegrityError:  # another request queued one at the same moment
        return connection.sync_runs.get(status__in=ACTIVE_RUN_STATES), False
    send_on_commit(sync_connection_task, run)
    return run, True


def resend_stranded_runs(now: datetime) -> int:
    """Send again the queued runs the broker never took, or took so long ago that the message is lost."""
    from integrations.tasks import sync_connection_task

    queued = SyncRun.objects.filter(status=SyncRunStatus.QUEUED)
    return resend_stranded(sync_connection_task, queued, sent_before=now - STRANDED_AFTER, now=now)


def sync_inline(
    *, connection: Connection, full: bool = False, on_page: Callable[[SyncRun], None] | None = None
) -> SyncRun | None:
    """Perform a run in this process (the ``sync_trackers`` command); None while another run is active."""
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(connection=connection, full=full)
    except IntegrityError:
        return None
    return sync_run(run.pk, on_page=on_page)


def _cursor(connection: Connection) -> datetime | None:
    last = (
        connection.sync_runs.filter(status=SyncRunStatus.SUCCEEDED)
        .exclude(started_at=None)
        .order_by("-started_at")
        .first()
    )
    return None if last is None or last.started_at is None else last.started_at - OVERLAP


def _lease_expired(now: datetime) -> Q:
    return Q(status=SyncRunStatus.RUNNING, heartbeat_at__lt=now - timedelta(seconds=settings.SYNC_RUN_LEASE_SECONDS))


def sync_run(run_id: int, *, client: Client | None = None, on_page: Callable[[SyncRun], None] | None = None) -> SyncRun:
    """Claim and perform a run. A run someone else holds is returned untouched.

    A queued run is claimed with a conditional update. So is a running one whose worker has been
    silent for longer than the lease (it died mid-run): the run starts over from the same cursor, and
    since applying an item twice changes nothing, it converges.
    """
    now = timezone.now()
    claimed = SyncRun.objects.filter(Q(status=SyncRunStatus.QUEUED) | _lease_expired(now), pk=run_id).update(
        status=SyncRunStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return SyncRun.objects.get(pk=run_id)
    run = SyncRun.objects.select_related("connection__company", "connection__default_owner").get(pk=run_id)
    connection = run.connection
    run.updated_since = None if run.full else _cursor(connection)
    run.fetched = run.created = run.updated = run.unchanged = run.errors = run.marked_missing = 0
    seen: set[str] = set()
    pages_applied = 0
    try:
        reader = (client or client_for(connection)).epics(scope=connection.scope, updated_since=run.updated_since)
        for page in prefetched(reader):
            applied = apply_items(connection, page)
            run.fetched += len(page)
            run.created += applied.created
            run.updated += applied.updated
            run.unchanged += applied.unchanged
            if run.full:
                seen.update(item.external_id for item in page)
            pages_applied += 1
            run.heartbeat_at = timezone.now()
            run.save(update_fields=[*COUNTS, "updated_since", "heartbeat_at"])
            if on_page is not None:
                on_page(run)
    except TrackerError as error:
        return _finish_failed(run, connection, error, partial=pages_applied > 0)
    if run.full:
        run.marked_missing = tracked_epics_mark_missing(
            company=connection.company, connection_id=connection.pk, keep=seen
        )
    return _finish_succeeded(run, connection)


def prefetched(pages: Iterator[list[TrackerItem]]) -> Iterator[list[TrackerItem]]:
    """The same pages, with the next one fetched in a thread while the caller writes the current one.

    The network and the database then work at the same time, so a sync takes little longer than
    reading the tracker. Only the reading thread touches the HTTP session, only the caller the
    database; a reading error reaches the caller at the page where it happened.
    """
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False  # the caller stopped reading

    def read() -> None:
        try:
            for page in pages:
                if not offer(("page", page)):
                    return
            offer(("end", None))
        except Exception as error:  # noqa: BLE001 - handed to the caller, who raises it at that page
            offer(("error", error))

    reader = threading.Thread(target=read, name="tracker-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        reader.join(timeout=60)


COUNTS = ("fetched", "created", "updated", "unchanged", "errors", "marked_missing")


def apply_items(connection: Connection, items: Sequence[TrackerItem], *, source: str = ChangeSource.SYNC) -> Applied:
    """Map a batch of tracker items to our statuses and owners, then write them in one transaction."""
    owners = _owners(connection, items)
    fallback: list[User] = []

    def owner_of(item: TrackerItem) -> User:
        person = owners.get(item.assignee_email.lower())
        if person is not None:
            return person
        if not fallback:
            fallback.append(_fallback_owner(connection))
        return fallback[0]

    def tracked(item: TrackerItem) -> TrackedItem:
        mapped = map_item(connection.status_map, item.signals)
        return TrackedItem(
            external_id=item.external_id,
            key=item.key,
            title=item.title,
            url=item.url,
            status_text=item.status_text,
            status=mapped.status,
            at=item.status_timestamp,
            at_exact=item.status_changed_at is None or item.status_time_exact,
            owner=owner_of(item),
            updated_at=item.updated_at,
            waiting=mapped.waiting,
        )

    return tracked_epics_apply(
        company=connection.company, connection_id=connection.pk, items=[tracked(item) for item in items], source=source
    )


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
    Connection.objects.filter(pk=connection.pk).update(last_error_at=run.finished_at, last_error=str(error))
    # A refusal flags the connection (the reminder dispatcher tells its managers); success clears it.
    if isinstance(error, PermanentTrackerError):
        Connection.objects.filter(pk=connection.pk).update(needs_attention=True)
    return run


def _owners(connection: Connection, items: Sequence[TrackerItem]) -> dict[str, User]:
    """Members by e-mail for the batch's assignees (one query)."""
    emails = {item.assignee_email.lower() for item in items if item.assignee_email}
    people = User.objects.for_company(connection.company).filter(email__in=emails) if emails else []
    return {person.email.lower(): person for person in people}


def _fallback_owner(connection: Connection) -> User:
    if connection.default_owner is not None:
        return connection.default_owner
    owner = Membership.objects.filter(company=connection.company, role=Role.OWNER).select_related("user").first()
    assert owner is not None, "a company always has an owner"
    return owner.user


def abandon_silent_runs(now: datetime | None = None) -> int:
    """Fail running runs whose worker went silent past the lease, so their connections can sync again.

    Whatever pages they applied stay; the cursor did not move, so the next run reads them again.
    """
    now = now or timezone.now()
    return SyncRun.objects.filter(_lease_expired(now)).update(
        status=SyncRunStatus.FAILED,
        finished_at=now,
        error="The worker stopped during the run; the next run starts from the last successful one.",
    )


def due_connections(now: datetime | None = None) -> list[Connection]:
    """Enabled connections with nothing queued or running whose interval has passed since their last run."""
    now = now or timezone.now()
    candidates = (
        Connection.objects.filter(enabled=True, needs_attention=False)
        .exclude(sync_runs__status__in=ACTIVE_RUN_STATES)
        .annotate(
            last_queued=Max("sync_runs__queued_at"),
            last_full=Max(
                "sync_runs__started_at", filter=Q(sync_runs__full=True, sync_runs__status=SyncRunStatus.SUCCEEDED)
            ),
        )
    )
    return [
        c
        for c in candidates
        if c.last_queued is None or c.last_queued + timedelta(minutes=c.sync_interval_minutes) <= now
    ]


def needs_full_run(connection: Connection, now: datetime) -> bool:
    """True when the connection's last successful full run is older than the reconciliation period."""
    last_full: datetime | None = getattr(connection, "last_full", None)
    return last_full is None or last_full + timedelta(hours=settings.TRACKER_FULL_SYNC_HOURS) <= now


def dispatch_due_syncs() -> int:
    """Queue a run for every due connection (a full one when reconciliation is due).

    Silent runs are failed and stranded ones sent again first. Running it twice queues nothing twice
    (one active run each).
    """
    now = timezone.now()
    abandon_silent_runs(now)
    resend_stranded_runs(now)
    queued = 0
    for connection in due_connections(now):
        _, created = sync_request(connection=connection, full=needs_full_run(connection, now))
        queued += created
    return queued

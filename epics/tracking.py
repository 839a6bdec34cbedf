"""Epics kept in step with a tracker: many items applied at once, and items the tracker stopped listing.

The integrations layer reads trackers and maps their statuses; this module writes what it found
with a fixed number of queries per batch, whatever the batch size:

* epics are keyed by (company, connection id, external id); new ones are created in bulk with
  their first status-history rows, existing ones are updated in bulk;
* a status change becomes a status-history row stamped with the tracker's own time, and an item
  whose time is not newer than the newest applied one changes no status (out-of-order events);
  a snapshot older than the last one seen (by the tracker's update time) changes nothing at all;
* an epic in progress that starts or stops waiting (blocked, on hold) gets a row from in_progress
  to in_progress carrying the new ``waiting``, under the same rules;
* the effects of a status on dates and reviews are the same as for one epic
  (``epics.services.status_effects``);
* epics the tracker no longer lists are marked with the reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from epics.choices import ChangeSource, EpicStatus, TrackerAbsence
from epics.models import Epic, OutcomeReview, StatusChange, SuccessMetric
from epics.services import (
    CANCEL_REVIEWS,
    DEFAULT_WINDOW_DAYS,
    OPEN_REVIEW,
    cancel_pending_reviews,
    review_due,
    status_effects,
)
from outcomes.models import Company, User

TRACKED_FIELDS = ("title", "external_key", "tracker_url", "tracker_status")
_is_url = URLValidator(schemes=["http", "https"])


@dataclass(frozen=True)
class TrackedItem:
    """One tracker item, already mapped: ``status`` is ours, or None when the map does not know it."""

    external_id: str
    key: str
    title: str
    url: str
    status_text: str
    status: str | None
    at: datetime  # the tracker's time for the current status
    owner: User  # for a new epic: the assignee when a member, else the connection's default owner
    updated_at: datetime | None = None  # the tracker's last change to the item: older snapshots are skipped
    waiting: bool = False  # in progress, but in a wait state (blocked, on hold, paused)
    at_exact: bool = True  # False when ``at`` is only a lower bound for the move into the current status

    @property
    def waits(self) -> bool:
        """Waiting only counts while in progress."""
        return self.waiting and self.status == EpicStatus.IN_PROGRESS


@dataclass
class Applied:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _clean_url(url: str) -> str:
    url = url[:500]
    try:
        _is_url(url)
    except ValidationError:
        return ""
    return url


def _fields(item: TrackedItem) -> dict[str, str]:
    return {
        "title": item.title[:300] or item.key[:300] or item.external_id[:300],
        "external_key": item.key[:200],
        "tracker_url": _clean_url(item.url),
        "tracker_status": item.status_text[:100],
    }


@transaction.atomic
def tracked_epics_apply(
    *, company: Company, connection_id: int, items: Iterable[TrackedItem], source: str = ChangeSource.SYNC
) -> Applied:
    """Create or update the epics for a batch of tracker items (the latest item wins per external id)."""
    latest: dict[str, TrackedItem] = {}
    for item in items:
        seen = latest.get(item.external_id)
        if seen is None or item.at >= seen.at:
            latest[item.external_id] = item
    if not latest:
        return Applied()
    newest_applied = (
        StatusChange.objects.filter(epic=OuterRef("pk"))
        .exclude(tracker_timestamp=None)
        .order_by("-tracker_timestamp")
        .values("tracker_timestamp")[:1]
    )
    known = {
        epic.external_id: epic
        for epic in Epic.objects.select_for_update()
        .filter(company=company, tracker_connection_id=connection_id, external_id__in=list(latest))
        .annotate(newest_tracker_at=Subquery(newest_applied))
    }
    now = timezone.now()
    outcome = Applied()
    changes: list[StatusChange] = []
    opened: list[Epic] = []
    cancelled: list[int] = []
    changed: list[Epic] = []
    new: list[tuple[Epic, TrackedItem]] = []
    for external_id, item in latest.items():
        epic = known.get(external_id)
        if epic is None:
            new.append((_new_epic(company, connection_id, item, now), item))
            continue
        if _older_snapshot(epic, item):
            outcome.unchanged += 1
            continue
        seen_newer = item.updated_at is not None and item.updated_at != epic.tracker_updated_at
        epic.tracker_updated_at = item.updated_at or epic.tracker_updated_at
        shown_before = epic.tracker_status
        dirty = _refresh(epic, item)
        at = _move_time(epic, item, shown_before)
        if item.status is not None and item.status != epic.status and at is not None:
            from_status = epic.status
            changes.append(_change(epic, from_status, item.status, at, source, waiting=item.waits))
            effect = status_effects(epic, from_status, item.status, at)
            epic.waiting = item.waits
            if effect == OPEN_REVIEW:
                opened.append(epic)
            elif effect == CANCEL_REVIEWS:
                cancelled.append(epic.pk)
            dirty = True
        elif at is not None and _wait_flips(epic, item):
            changes.append(_change(epic, epic.status, epic.status, at, source, waiting=item.waits))
            epic.waiting = item.waits
            dirty = True
        if dirty or seen_newer:
            epic.updated = now if dirty else epic.updated
            changed.append(epic)
        outcome.updated += dirty
        outcome.unchanged += not dirty
    if new:
        created = bulk_create_with_history([epic for epic, _ in new], Epic, batch_size=500)
        for epic, (_, item) in zip(created, new, strict=True):
            changes.append(_change(epic, "", EpicStatus.PROPOSED, item.at, source))
            if epic.status != EpicStatus.PROPOSED:
                changes.append(_change(epic, EpicStatus.PROPOSED, epic.status, item.at, source, waiting=epic.waiting))
            if epic.status == EpicStatus.DONE:
                opened.append(epic)
        outcome.created = len(created)
    if changed:
        fields = [*TRACKED_FIELDS, "status", "waiting", "started_at", "done_at", "tracker_updated_at"]
        fields += ["tracker_missing_since", "tracker_missing_reason"]
        bulk_update_with_history(changed, Epic, [*fields, "updated"], batch_size=500)
    if changes:
        StatusChange.objects.bulk_create(changes, batch_size=1000)
    if cancelled:
        cancel_pending_reviews(cancelled)
    if opened:
        _open_reviews(opened)
    return outcome


def _new_epic(company: Company, connection_id: int, item: TrackedItem, now: datetime) -> Epic:
    epic = Epic(
        company=company,
        owner=item.owner,
        tracker_connection_id=connection_id,
        external_id=item.external_id[:200],
        tracker_updated_at=item.updated_at,
        created=now,
        updated=now,
        **_fields(item),
    )
    if item.status is not None and item.status != EpicStatus.PROPOSED:
        status_effects(epic, EpicStatus.PROPOSED, item.status, item.at)
        epic.waiting = item.waits
    return epic


def _refresh(epic: Epic, item: TrackedItem) -> bool:
    """Copy the tracker's fields onto the epic; True when anything changed (also coming back into view)."""
    dirty = False
    for name, value in _fields(item).items():
        if getattr(epic, name) != value:
            setattr(epic, name, value)
            dirty = True
    if epic.tracker_missing_since is not None:
        epic.tracker_missing_since, epic.tracker_missing_reason = None, ""
        dirty = True
    return dirty


def _older_snapshot(epic: Epic, item: TrackedItem) -> bool:
    """The tracker already showed us a later state of this item (an out-of-order webhook re-read, say)."""
    return (
        item.updated_at is not None
        and epic.tracker_updated_at is not None
        and item.updated_at < epic.tracker_updated_at
    )


def _stale(epic: Epic, at: datetime) -> bool:
    newest: datetime | None = getattr(epic, "newest_tracker_at", None)
    return newest is not None and newest >= at


def _move_time(epic: Epic, item: TrackedItem, shown_before: str) -> datetime | None:
    """When the tracker moved the item into its current state; None when the epic's history already
    holds something later (a stale or out-of-order event: it changes nothing).

    A tracker that stamps only the first move into a state (``at_exact`` off) can report a time older
    than our history for a move that is new: a resume, a reopening. When its status text has changed
    since we last read it, the move happened after what we know and no later than the item's last
    update, which stands in for its time.
    """
    if not _stale(epic, item.at):
        return item.at
    moved = item.status_text != shown_before
    if not item.at_exact and moved and item.updated_at is not None and not _stale(epic, item.updated_at):
        return item.updated_at
    return None


def _wait_flips(epic: Epic, item: TrackedItem) -> bool:
    """Still in progress, but starting or stopping to wait: a change of state our status does not show."""
    return item.status == epic.status == EpicStatus.IN_PROGRESS and item.waits != epic.waiting


def _change(
    epic: Epic, from_status: str, to_status: str, at: datetime, source: str, *, waiting: bool = False
) -> StatusChange:
    return StatusChange(
        epic=epic,
        from_status=from_status,
        to_status=to_status,
        at=at,
        source=source,
        tracker_timestamp=at,
        waiting=waiting,
    )


def _open_reviews(epics: Sequence[Epic]) -> None:
    windows = dict(
        SuccessMetric.objects.filter(anticipated_outcome__epic__in=[e.pk for e in epics])
        .values_list("anticipated_outcome__epic_id")
        .annotate(longest=Max("window_days"))
    )
    OutcomeReview.objects.bulk_create(
        OutcomeReview(
            epic=epic,
            done_at=epic.done_at,
            due_at=review_due(epic.done_at, windows.get(epic.pk, DEFAULT_WINDOW_DAYS)),
        )
        for epic in epics
        if epic.done_at is not None
    )


@transaction.atomic
def tracked_epics_mark_missing(
    *,
    company: Company,
    connection_id: int,
    external_ids: Iterable[str] | None = None,
    keep: Iterable[str] = (),
    reason: str = TrackerAbsence.NOT_LISTED,
) -> int:
    """Mark the connection's epics the tracker no longer lists: the given ones, or all but ``keep``.

    Marked epics keep their status, history and links; they are marked again only if they come
    back and go away again. Returns how many were newly marked.
    """
    epics = Epic.objects.filter(company=company, tracker_connection_id=connection_id, tracker_missing_since=None)
    if external_ids is not None:
        epics = epics.filter(external_id__in=list(external_ids))
    kept = set(keep)
    ids = [pk for pk, external_id in epics.values_list("pk", "external_id") if external_id not in kept]
    if not ids:
        return 0
    now = timezone.now()
    stale = list(Epic.objects.select_for_update().filter(pk__in=ids))
    for epic in stale:
        epic.tracker_missing_since, epic.tracker_missing_reason, epic.updated = now, reason, now
    bulk_update_with_history(
        stale, Epic, ["tracker_missing_since", "tracker_missing_reason", "updated"], batch_size=500
    )
    return len(stale)

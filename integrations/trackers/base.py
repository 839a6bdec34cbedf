"""What every tracker client shares: the item it yields, its errors, and a careful HTTP session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TIMEOUT = (5, 30)  # seconds to connect, seconds to read
MAX_RETRY_WAIT = 120  # never wait longer than this for one Retry-After


@dataclass(frozen=True)
class TrackerItem:
    """One epic as the tracker reports it, parsed at the boundary."""

    external_id: str  # the tracker's stable id
    key: str  # what people see, e.g. SHOP-42
    title: str
    url: str
    signals: dict[str, Any]  # for the status map
    status_text: str
    updated_at: datetime
    assignee_email: str = ""
    status_changed_at: datetime | None = None  # when the tracker last moved its status, when it says
    # False when ``status_changed_at`` only bounds that move from below: the tracker stamps the first move
    # into a state and keeps the stamp when the item leaves and comes back (Linear's startedAt).
    status_time_exact: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status_timestamp(self) -> datetime:
        """The time the current status holds from: the tracker's own status change, else the last update."""
        return self.status_changed_at or self.updated_at


class TrackerError(Exception):
    """The tracker could not be read."""


class PermanentTrackerError(TrackerError):
    """401, 403, 404, 410: retrying will not help; the connection needs attention."""


class TransientTrackerError(TrackerError):
    """429, 5xx, timeouts that outlasted the retries: try again later."""


class MalformedResponse(TrackerError):
    """The tracker answered something we cannot read."""


def session(*, total_retries: int = 4, backoff: float | None = None) -> requests.Session:
    """A session that retries 429 and 5xx with exponential backoff and jitter, honouring Retry-After."""
    backoff = settings.TRACKER_RETRY_BACKOFF if backoff is None else backoff
    retry = Retry(
        total=total_retries,
        backoff_factor=backoff,
        backoff_jitter=backoff,
        backoff_max=MAX_RETRY_WAIT,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


def checked(response: requests.Response) -> Any:
    """The response's JSON, or a typed error for what went wrong."""
    code = response.status_code
    if code in (401, 403, 404, 410):
        raise PermanentTrackerError(f"The tracker answered {code}: check the URL, the credentials and their rights.")
    if code == 429 or code >= 500:
        raise TransientTrackerError(f"The tracker answered {code} after retries.")
    if not 200 <= code < 300:
        raise PermanentTrackerError(f"The tracker answered {code}.")
    try:
        return response.json()
    except ValueError as error:
        raise MalformedResponse("The tracker's answer is not JSON.") from error


def iso_time(text: Any) -> datetime:
    """An ISO 8601 time with its zone (``Z`` included); a time without a zone is a ValueError."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment

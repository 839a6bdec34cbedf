"""The demo company's epics: one delivered with its result recorded, one overdue for review, one in
progress, one synced from the tracker without an anticipated outcome, and one proposed.

Past status changes arrive as tracker events with their own timestamps, as a real sync would. Running
it again finds the epics by title and adds nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from epics.choices import ChangeSource, EpicStatus, WorkType
from epics.models import Epic, SuccessMetric
from epics.services import anticipated_outcome_set, contribution_set, epic_create, epic_transition, result_record
from okrs.models import KeyResult
from outcomes.models import Company, Team, User

CONVERSION = {
    "name": "Checkout conversion",
    "unit": "%",
    "direction": "increase",
    "baseline": Decimal("61.5"),
    "target": Decimal("64"),
    "data_source": "BI checkout funnel",
    "window_days": 30,
}
LATENCY = {
    "name": "Payments API p95",
    "unit": "ms",
    "direction": "decrease",
    "baseline": Decimal("520"),
    "target": Decimal("350"),
    "data_source": "APM dashboard",
    "window_days": 14,
}

# title, team, owner, work type, key result title, metric, history as (status, days ago), result value
EPICS: list[tuple[Any, ...]] = [
    (
        "Saved cards for returning shoppers",
        "Checkout",
        "paul.pm@example.com",
        WorkType.FEATURE,
        "Checkout conversion reaches 70 %",
        CONVERSION,
        [("in_progress", 80), ("done", 45)],
        Decimal("64.6"),
    ),
    (
        "One-click pay",
        "Checkout",
        "paul.pm@example.com",
        WorkType.FEATURE,
        "One-click pay is live for all shops",
        CONVERSION,
        [("in_progress", 70), ("done", 40)],
        None,
    ),
    (
        "Connection pooling for the payments API",
        "Platform",
        "pat.platform@example.com",
        WorkType.DEBT,
        "Payments API p95 latency under 300 ms",
        LATENCY,
        [("in_progress", 12)],
        None,
    ),
    (
        "Retry storm on card declines",
        "Platform",
        "pat.platform@example.com",
        WorkType.DEFECT,
        "Error rate stays below 0.1 %",
        None,
        [("in_progress", 6)],
        None,
    ),
    (
        "Self-serve onboarding wizard",
        "Data Enablement",
        "lena.lead@example.com",
        WorkType.FEATURE,
        "Median onboarding time down to 3 days",
        None,
        [],
        None,
    ),
]


def seed_epics(company: Company, people: dict[str, User]) -> None:
    for row in EPICS:
        if not Epic.objects.for_company(company).filter(title=row[0]).exists():
            _epic(company, people, *row)


def _epic(
    company: Company,
    people: dict[str, User],
    title: str,
    team: str,
    owner: str,
    work_type: str,
    key_result: str,
    metric: dict[str, Any] | None,
    history: list[tuple[str, int]],
    value: Decimal | None,
) -> None:
    person = people[owner]
    epic = epic_create(
        company=company,
        title=title,
        team=Team.objects.for_company(company).get(name=team),
        owner=person,
        work_type=work_type,
        actor=person,
    )
    if metric is not None:
        anticipated_outcome_set(
            epic=epic,
            problem=f"What {title.lower()} should fix.",
            expected_results=f"{metric['name']} moves from {metric['baseline']} to {metric['target']}.",
            learning_plan="Review the metric after its window; if it misses, interview five shops.",
            metrics=[metric],
        )
    target = KeyResult.objects.for_company(company).filter(title=key_result).first()
    if target is not None:
        contribution_set(epic=epic, key_result=target)
    now = timezone.now()
    for status, days_ago in history:  # as the tracker reported them, with its timestamps
        epic_transition(
            epic=epic, to_status=status, source=ChangeSource.SYNC, tracker_timestamp=now - timedelta(days=days_ago)
        )
    epic.refresh_from_db()
    if value is not None and epic.status == EpicStatus.DONE:
        recorded = SuccessMetric.objects.get(anticipated_outcome__epic=epic)
        result_record(
            epic=epic,
            metrics=[{"metric": recorded, "value": value, "evidence_url": "https://bi.example.com/checkout"}],
            recorded_by=person,
            learnings="Returning shoppers convert; first-time buyers do not notice.",
            next_steps="Offer saved cards at sign-up.",
        )

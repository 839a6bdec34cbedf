"""What the background-work benchmarks found, kept as tests.

``bench/reminders.py`` runs the reminder dispatcher over 100,000 reviews. Each minute's planning
reads only what fell due lately, as ``integrations.reminders.plan_reminders`` promises; finding the
epics started without an anticipated outcome once read every started epic, until ``started_at``
was indexed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from epics.choices import EpicStatus
from epics.models import Epic
from integrations.reminders import missing_outcome_wants
from tests.conftest import Cast

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def rows_read(plan: dict[str, Any], table: str) -> int:
    """Rows the plan took from ``table``: those it kept and those its filters threw away, over every loop."""
    read = 0
    if plan.get("Relation Name") == table:
        kept = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        read += int(kept + plan.get("Rows Removed by Index Recheck", 0)) * int(plan.get("Actual Loops", 1))
    return read + sum(rows_read(child, table) for child in plan.get("Plans", []))


def test_planning_missing_outcomes_reads_only_epics_started_lately(cast: Cast):
    now = timezone.now()
    long_ago = now - timedelta(days=400)
    Epic.objects.bulk_create(
        Epic(
            company=cast.company_a,
            title=f"Old delivery {n}",
            owner=cast.member_a,
            status=EpicStatus.DONE,
            started_at=long_ago,
            done_at=long_ago + timedelta(days=30),
        )
        for n in range(300)
    )
    fresh = Epic.objects.create(
        company=cast.company_a,
        title="Started an hour ago",
        owner=cast.member_a,
        status=EpicStatus.IN_PROGRESS,
        started_at=now - timedelta(hours=1),
    )
    with CaptureQueriesContext(connection) as queries:
        wants = missing_outcome_wants(now)
    assert fresh.pk in {int(want.subject.split(":")[1]) for want in wants}
    (query,) = queries.captured_queries

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # take any index that serves the query, however small
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
        ((plan,),) = cursor.fetchall()

    assert rows_read(plan[0]["Plan"], Epic._meta.db_table) <= 10  # without the index: every started epic

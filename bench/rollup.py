"""Benchmark: the live cycle roll-up at three sizes, against a plain-SQL floor.

    python bench/rollup.py [--sizes S,M,L] [--runs 7]

Uses the database in DATABASE_URL (a throw-away SQLite file in var/ by default), migrates it,
generates reproducible companies (seeded random), and reports per size: p50 and max time of
the roll-up (load + compute + render to JSON), its query count, and the floor: fetching the
same rows with plain SQL and dumping them to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from okrs.api.rollup import render_rollup
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.selectors import SUBTREE_OF_CYCLE, cycle_tree
from outcomes.models import Company, Membership, User

SIZES = {"S": (20, 100, 2_000), "M": (100, 500, 10_000), "L": (500, 2_500, 50_000)}
KINDS = ["increase_to", "decrease_to", "stay_above", "stay_below", "milestone"]


def build(label: str, objectives: int, key_results: int, check_ins: int) -> Cycle:
    """A company with one quarter: a forest of objectives up to 5 deep, key results, weekly check-ins."""
    rng = random.Random(f"rollup-{label}")
    slug = f"bench-{label.lower()}"
    Company.objects.filter(slug=slug).delete()
    company = Company.objects.create(name=f"Bench {label}", slug=slug)
    owner = User.objects.filter(email=f"{slug}@example.com").first() or User.objects.create_user(f"{slug}@example.com")
    Membership.objects.create(user=owner, company=company, role="owner")
    cycle = Cycle.objects.create(company=company, name="Q", start=date(2026, 10, 1), end=date(2026, 12, 31))
    made: list[Objective] = []
    level: list[Objective] = []
    per_level = max(1, objectives // 5)  # five levels: roots, then children of the level above
    while len(made) < objectives:
        count = min(per_level, objectives - len(made))
        batch = [
            Objective(
                company=company,
                cycle=cycle,
                title=f"O{len(made) + i}",
                owner=owner,
                parent=rng.choice(level) if level else None,
            )
            for i in range(count)
        ]
        Objective.objects.bulk_create(batch, batch_size=500)
        made += batch
        level = batch
    due = timezone.now() + timedelta(days=3)
    krs = [
        KeyResult(
            company=company,
            objective=rng.choice(made),
            title=f"K{i}",
            owner=owner,
            kind=(kind := rng.choice(KINDS)),
            baseline=Decimal(0) if kind != "decrease_to" else Decimal(100),
            target=Decimal(100) if kind != "decrease_to" else Decimal(0),
            next_checkin_due=due,
        )
        for i in range(key_results)
    ]
    KeyResult.objects.bulk_create(krs, batch_size=1000)
    start = timezone.now() - timedelta(weeks=10)
    rows = [
        CheckIn(
            key_result=krs[i % key_results],
            value=Decimal(rng.randint(0, 100)),
            confidence=Decimal(rng.randint(0, 10)) / 10,
            as_of=start + timedelta(hours=rng.randint(0, 24 * 70)),
        )
        for i in range(check_ins)
    ]
    CheckIn.objects.bulk_create(rows, batch_size=2000)
    return cycle


def floor(cycle: Cycle) -> None:
    """The same rows fetched with plain SQL and dumped to JSON: the least any roll-up can cost."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT o.* FROM okrs_objective o WHERE o.id IN ({SUBTREE_OF_CYCLE})", [cycle.pk])
        objectives = cursor.fetchall()
        cursor.execute(
            "SELECT k.*, (SELECT c.value FROM okrs_checkin c WHERE c.key_result_id = k.id"
            " ORDER BY c.as_of DESC, c.id DESC LIMIT 1) FROM okrs_keyresult k WHERE k.company_id = %s",
            [cycle.company_id],
        )
        key_results = cursor.fetchall()
    json.dumps([objectives, key_results], default=str)


def timed(run, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; runs per size: {args.runs}")
    print(
        f"{'size':<5}{'objectives':>11}{'krs':>7}{'check-ins':>10}{'p50 ms':>9}{'max ms':>9}"
        f"{'queries':>9}{'floor p50':>11}{'ratio':>7}"
    )
    for label in args.sizes.split(","):
        objectives, key_results, check_ins = SIZES[label]
        cycle = build(label, objectives, key_results, check_ins)
        cycle = Cycle.objects.select_related("company").get(pk=cycle.pk)
        with CaptureQueriesContext(connection) as queries:
            document = render_rollup(cycle_tree(cycle))
        json.dumps(document)
        samples = timed(lambda cycle=cycle: json.dumps(render_rollup(cycle_tree(cycle))), args.runs)
        floors = timed(lambda cycle=cycle: floor(cycle), args.runs)
        p50, floor_p50 = statistics.median(samples), statistics.median(floors)
        print(
            f"{label:<5}{objectives:>11}{key_results:>7}{check_ins:>10}{p50:>9.1f}{max(samples):>9.1f}"
            f"{len(queries):>9}{floor_p50:>11.1f}{p50 / floor_p50:>7.1f}"
        )


if __name__ == "__main__":
    main()

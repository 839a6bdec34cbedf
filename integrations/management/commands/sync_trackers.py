"""Sync tracker connections now, in this process, with a running count per connection.

For operators: a first import, a check after changing a status map, or a catch-up after an
outage. The beat dispatcher does the same on schedule through the workers.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.models import Connection, SyncRun
from integrations.sync import sync_inline


class Command(BaseCommand):
    help = "Sync tracker connections now (all enabled ones, or those named), showing progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="Only this company's connections (its slug).")
        parser.add_argument("--connection", type=int, action="append", default=[], help="A connection id (repeat).")
        parser.add_argument("--full", action="store_true", help="Read everything and mark epics no longer listed.")

    def handle(self, *args: Any, company: str | None, connection: list[int], full: bool, **options: Any) -> None:
        connections = Connection.objects.select_related("company").order_by("company__name", "name")
        if connection:
            connections = connections.filter(pk__in=connection)
            missing = set(connection) - {c.pk for c in connections}
            if missing:
                raise CommandError(f"No connection with id {', '.join(map(str, sorted(missing)))}.")
        else:
            connections = connections.filter(enabled=True)
        if company:
            connections = connections.filter(company__slug=company)
        failed = 0
        for each in connections:
            failed += not self._sync(each, full)
        if failed:
            raise CommandError(f"{failed} connection(s) did not sync completely; see their runs.")

    def _sync(self, connection: Connection, full: bool) -> bool:
        label = f"{connection.company.slug}/{connection.name}"
        pages = [0]

        def progress(run: SyncRun) -> None:
            pages[0] += 1
            self.stdout.write(self._line(label, run, pages[0]), ending="\r")
            self.stdout.flush()

        run = sync_inline(connection=connection, full=full, on_page=progress)
        if run is None:
            self.stdout.write(f"{label}: a run is already queued or running; skipped.")
            return True
        self.stdout.write(self._line(label, run, pages[0]))
        if run.error:
            self.stderr.write(f"{label}: {run.error}")
        return run.status == "succeeded"

    @staticmethod
    def _line(label: str, run: SyncRun, pages: int) -> str:
        """One line per connection, rewritten after every page: a bar of pages read, then the counts."""
        bar = ("#" * (pages % 40 or (40 if pages else 0))).ljust(40, ".")
        missing = f", {run.marked_missing} no longer listed" if run.marked_missing else ""
        return (
            f"{label} [{bar}] page {pages}, {run.status}: {run.fetched} fetched, {run.created} created, "
            f"{run.updated} updated, {run.unchanged} unchanged{missing}"
        )

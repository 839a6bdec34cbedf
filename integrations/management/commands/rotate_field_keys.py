"""Re-encrypt every stored secret (tracker credentials, webhook secrets, Slack URLs) under the newest key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old one after it), deploy, run
this command, then drop the old key. It works in batches and can be run again or resumed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.services import rotate_credentials, rotate_notification_secrets


class Command(BaseCommand):
    help = "Re-encrypt tracker credentials, webhook secrets and Slack URLs under the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument("--after-id", type=int, default=0, help="Resume after this connection id.")

    def handle(self, *args: Any, batch_size: int, after_id: int, **options: Any) -> None:
        outcome = rotate_credentials(batch_size=batch_size, after_pk=after_id)
        self.stdout.write(f"Re-encrypted the credentials of {outcome.rotated} connection(s) under the newest key.")
        if outcome.unreadable:
            ids = ", ".join(str(pk) for pk in outcome.unreadable)
            self.stderr.write(f"No configured key reads the credentials of connection(s) {ids}: set new ones.")
        rotated, unreadable = rotate_notification_secrets()
        self.stdout.write(f"Re-encrypted {rotated} outbound webhook secret(s) and Slack webhook URL(s).")
        if unreadable:
            self.stderr.write(f"No configured key reads these, set them again: {', '.join(unreadable)}.")

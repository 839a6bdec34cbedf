"""What the background benchmarks share: the service's production settings with throw-away secrets, the
throw-away database, a free loopback port and markdown tables. Importable before Django is set up."""

from __future__ import annotations

import os
import secrets
import socket
from urllib.parse import urlsplit


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Production settings with throw-away secrets, for this process and the servers and workers it starts."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "API_KEY_PEPPER": secrets.token_urlsafe(32),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_URL": "memorymail://",  # in-process: Django's outbox
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        **extra,
    }


def ensure_database(database_url: str) -> None:
    """Create the throw-away database when missing; refuse any database not named for benchmarks."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgres") or not name.startswith("okr_bench"):
        raise SystemExit(f"{database_url}: a PostgreSQL database whose name starts with okr_bench (it is emptied)")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def table(header: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    """A markdown table: the first ``right_from`` columns left-aligned, the figures right-aligned."""
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    return [f"| {' | '.join(header)} |", f"| {' | '.join(align)} |", *(f"| {' | '.join(row)} |" for row in rows)]

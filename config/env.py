"""Strict readers for settings that come from the environment.

Every reader fails at start-up with ImproperlyConfigured naming the variable and
the value it could not parse, instead of silently falling back to a default.
URL-shaped settings (databases, caches, e-mail) are parsed by django-environ.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable
from typing import Any, TypeVar

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _parse(name: str, default: T, parse: Callable[[str], T], expected: str, *, secret: bool = False) -> T:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except (ValueError, binascii.Error, environ.ImproperlyConfigured) as exc:
        shown = "(value hidden)" if secret else repr(raw)  # keys never reach the logs
        raise ImproperlyConfigured(f"{name}={shown} is not valid: expected {expected} ({exc}).") from exc


def _bool(raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("not a boolean word")


def env_bool(name: str, default: bool) -> bool:
    return _parse(name, default, _bool, "one of " + ", ".join(sorted(TRUE_WORDS | FALSE_WORDS)))


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    def parse(raw: str) -> int:
        value = int(raw)
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}")
        return value

    return _parse(name, default, parse, "a whole number")


def env_str(name: str, default: str) -> str:
    return _parse(name, default, str, "text")


def env_optional(name: str) -> str | None:
    return _raw(name)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError("unknown choice")
        return raw

    return _parse(name, default, parse, "one of " + ", ".join(choices))


def env_list(name: str, default: list[str]) -> list[str]:
    return _parse(
        name, default, lambda raw: [item.strip() for item in raw.split(",") if item.strip()], "a comma-separated list"
    )


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as ``60/min``."""

    def parse(raw: str) -> str:
        count, _, period = raw.partition("/")
        if not count.isdigit() or int(count) < 1 or period[:1] not in {"s", "m", "h", "d"}:
            raise ValueError("use <number>/<second|minute|hour|day>")
        return raw

    return _parse(name, default, parse, "a rate like 60/min")


SUPPORTED_DATABASE_ENGINES = frozenset({"django.db.backends.sqlite3", "django.db.backends.postgresql"})


def _database(raw: str) -> dict[str, Any]:
    config = environ.Env.db_url_config(raw)
    if config.get("ENGINE") not in SUPPORTED_DATABASE_ENGINES:
        raise ValueError("only postgres:// and sqlite:/// URLs are supported")
    if config["ENGINE"].endswith("postgresql") and not config.get("NAME"):
        raise ValueError("the URL names no database")
    return dict(config)


def env_database(name: str, default: str) -> dict[str, Any]:
    return _parse(name, _database(default), _database, "a database URL")


def env_email(name: str, default: str) -> dict[str, Any]:
    return _parse(name, environ.Env.email_url_config(default), environ.Env.email_url_config, "an e-mail URL")


def env_redis_url(name: str) -> str | None:
    def parse(raw: str) -> str:
        if not raw.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return raw

    return _parse(name, None, parse, "a Redis URL")


def env_fernet_keys(name: str, default: list[str]) -> list[str]:
    """Comma-separated Fernet keys (url-safe base64 of 32 bytes), newest first."""

    def parse(raw: str) -> list[str]:
        keys = [item.strip() for item in raw.split(",") if item.strip()]
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except ValueError as error:
                raise ValueError(f"key {position} is not 32 bytes of padded url-safe base64") from error
        return keys

    return _parse(name, default, parse, "Fernet keys", secret=True)

"""Tracker credentials encrypted at rest with MultiFernet.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (newest first), never from SECRET_KEY: rotating
SECRET_KEY must not lose credentials, and a leaked SECRET_KEY must not reveal them. Encrypting
uses the newest key; decrypting tries each. ``manage.py rotate_field_keys`` re-encrypts every
stored credential under the newest key.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialsUnreadable(Exception):
    """Stored credentials do not decrypt with any configured key: the connection needs new ones."""


def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set to store tracker credentials.")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(values: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return dict(json.loads(_fernet().decrypt(token.encode())))
    except (InvalidToken, ValueError) as error:
        raise CredentialsUnreadable("The stored credentials cannot be decrypted with the configured keys.") from error


def rotate(token: str) -> str:
    """The same secret encrypted under the newest key."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise CredentialsUnreadable("The stored credentials cannot be decrypted with the configured keys.") from error

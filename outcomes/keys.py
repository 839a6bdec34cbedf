"""The API key format: ``okr_`` + 30 random base62 characters + a 6-character checksum.

The prefix makes leaked keys easy to grep for and lets secret scanners spot them;
the CRC32 checksum lets us refuse a mistyped or made-up key without touching the
database. Keys are stored only as an HMAC-SHA256 digest keyed with
``settings.API_KEY_PEPPER``: a fast keyed hash is right for 178-bit random keys,
whereas a password hasher would cost hundreds of milliseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass

from django.conf import settings

PREFIX = "okr_"
ALPHABET = string.digits + string.ascii_letters
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
KEY_ID_LENGTH = 10
KEY_PATTERN = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}$")


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits))


def checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode()), CHECKSUM_LENGTH)


@dataclass(frozen=True)
class ParsedKey:
    raw: str
    key_id: str


def generate() -> ParsedKey:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    raw = PREFIX + random_part + checksum(random_part)
    return ParsedKey(raw=raw, key_id=random_part[:KEY_ID_LENGTH])


def parse(raw: str) -> ParsedKey | None:
    """The key's lookup id if ``raw`` is well formed and its checksum matches, else None."""
    if not KEY_PATTERN.match(raw):
        return None
    body = raw[len(PREFIX) :]
    random_part, check = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    if not hmac.compare_digest(checksum(random_part), check):
        return None
    return ParsedKey(raw=raw, key_id=random_part[:KEY_ID_LENGTH])


def digest(raw: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), raw.encode(), hashlib.sha256).hexdigest()


def looks_like_key(value: str) -> bool:
    """Whether ``value`` has the shape of a key (checksum or not): such values are never echoed or logged."""
    return KEY_PATTERN.match(value.strip()) is not None

"""Which URLs we may call: tracker base URLs and outbound webhooks must be public HTTPS hosts.

Companies type these URLs in, and our workers fetch them, so a URL pointing at loopback, a private
network, link-local or a cloud metadata service would let a company reach inside our network
(server-side request forgery). The host is resolved and every address must be public.
``TRACKER_ALLOW_PRIVATE_URLS`` (tests with local fake trackers only) lifts the address rules.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

Resolver = Callable[[str], list[str]]
BLOCKED_NAMES = frozenset({"localhost", "metadata.google.internal", "metadata", "instance-data"})


def resolve(host: str) -> list[str]:
    """Every address the host resolves to (the edge of the outside world: tests replace it)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


# IPv6 forms that carry an IPv4 address in their last 32 bits: judge the IPv4 address.
EMBEDDING_V4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::ffff:0:0:0/96"))


def _is_public(address: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif any(ip in network for network in EMBEDDING_V4):
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not ip.is_reserved and not ip.is_multicast


def validate_public_url(url: str, *, resolver: Resolver | None = None) -> str:
    """Return the URL if it is safe to call; raise ValidationError saying why not."""
    parts = urlsplit(url.strip())
    allow_private = settings.TRACKER_ALLOW_PRIVATE_URLS
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise ValidationError("Use an https:// URL.")
    try:
        port = parts.port
    except ValueError as error:
        raise ValidationError("The port is not a valid port number.") from error
    if parts.username or parts.password:
        raise ValidationError("The URL must not carry a user name or password; use the credentials fields.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValidationError("The URL names no host.")
    if allow_private:
        return url.strip()  # local fake trackers: any address and port, still no credentials in the URL
    if port not in (None, 443):
        raise ValidationError("Only the standard HTTPS port (443) is allowed.")
    if host in BLOCKED_NAMES or host.endswith((".localhost", ".internal", ".local")):
        raise ValidationError("The host is not a public address.")
    try:
        addresses = [host] if _is_ip(host) else (resolver or resolve)(host)
    except (OSError, UnicodeError) as error:
        raise ValidationError("The host name does not resolve.") from error
    if not addresses or not all(_is_public(address) for address in addresses):
        raise ValidationError("The host resolves to a private, loopback, link-local or reserved address.")
    return url.strip()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True

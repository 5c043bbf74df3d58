"""Service URLs from settings, read the way the HTTP clients will read them.

Both the settings and the Key Vault source (which runs before the settings are validated) check their URLs
here, before any request carries a token to them.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def service_url(value: str) -> str:
    """A service URL as every HTTP client here will read it, or ValueError.

    URL parsers disagree at the edges: `http://evil:1\\@127.0.0.1:2` is loopback to urlsplit, but the HTTP
    client ends the host at the backslash and sends the bearer token to `evil`. So anything a parser could
    read two ways is refused (backslashes, user info, fragments, spaces, control characters), and the host
    urllib3 (under requests) finds must be the one urlsplit finds.
    """
    if any(char in value for char in "\\@#") or any(
        char.isspace() or not char.isprintable() for char in value
    ):
        raise ValueError("must not contain backslashes, user info, fragments, spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    from urllib3.util import parse_url

    if (parse_url(value).host or "").lower().strip("[]") != parts.hostname.lower():
        raise ValueError("is read differently by different URL parsers")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("plain http is only allowed for a loopback address")
    return value.rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

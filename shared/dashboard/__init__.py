"""The operations dashboard: one static page (dashboard.html, inline CSS and JS, no CDN, no build step) that
calls this app's HTTP API from the browser.

The page is served with the function key it was opened with (`?code=` or the `x-functions-key` header),
placed in a meta tag, because the browser cannot read the headers of the request that loaded a page; its
script sends the key in the `x-functions-key` header of every API call, to this origin only. That is also why
the answer must never be cached and never leak through a Referer (`no-store`, `no-referrer`).

A Content-Security-Policy allows exactly the page's own inline style and script (by their SHA-256), and
requests to this origin: whatever the API returns (a dead letter's description is text a stranger wrote) is
inserted as text by the script, and even a mistake there could neither run code nor send data elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import lru_cache
from importlib import resources

KEY_PLACEHOLDER = "{{FUNCTION_KEY}}"
MAX_KEY_LENGTH = 256  # Functions keys are 56 characters; anything longer is not one


@lru_cache(maxsize=1)
def _template() -> str:
    return resources.files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def security_headers() -> dict[str, str]:
    """Headers of every dashboard answer; the CSP names the page's inline style and script by hash."""
    page = _template()
    styles = " ".join(_hashes(page, "style"))
    scripts = " ".join(_hashes(page, "script"))
    policy = (
        "default-src 'none'; "
        f"style-src {styles}; script-src {scripts}; "
        "connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def render(function_key: str | None) -> str:
    """The page, carrying `function_key` (HTML-escaped; dropped when it cannot be a key)."""
    key = function_key if function_key and len(function_key) <= MAX_KEY_LENGTH else ""
    return _template().replace(KEY_PLACEHOLDER, html.escape(key, quote=True), 1)


def _hashes(page: str, tag: str) -> list[str]:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    if not blocks:
        raise ValueError(f"dashboard.html has no inline <{tag}>")
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode("ascii") + "'"
        for block in blocks
    ]

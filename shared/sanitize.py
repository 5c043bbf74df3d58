"""Text that leaves the app: printable, encodable, bounded, and free of secrets and buyer data.

Whatever we write to a log line, a dead-letter reason or description, a terminal or an HTTP answer may carry
text a stranger chose (a notification's seller id, a broker's error description, an SDK's exception
message) or text nobody should see (a library logging request headers and response bodies at DEBUG). Two
steps make it safe, and `public_text` does both:

- `redact`: secrets (LWA tokens, bearer and SAS tokens, JWTs, `client_secret` / `refresh_token` /
  `access_token` values, connection-string keys, AWS secret keys) and buyer data (values of the keys
  Amazon's and Dataverse's payloads carry it under, in JSON `"key": "value"`, Python repr `'key': 'value'`
  and `key='value'` forms, and email addresses anywhere) become `[redacted]`;
- `safe_text`: control and other non-printable characters (ESC, so no terminal escape sequence passes; NUL,
  CR/LF, so no forged log line; bidirectional overrides, so text cannot read backwards) and lone surrogates
  (which no UTF-8 encoder accepts: a Service Bus settlement call with one fails) become visible escapes, and
  the result is at most `limit` characters, a cut marked with "… (+N chars)".

Patterns are matched with look-behinds where they start on a character class, so each runs in time linear in
the text; `public_text` scans at most `MAX_SCAN` characters however long the input.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"
MIN_LIMIT = 32  # room for some text and the longest marker
# public_text redacts at most this much of a text (the rest is cut anyway): a 1 MB exception message costs
# one bounded scan, not one over a megabyte.
MAX_SCAN = 64 * 1024
_CUT_SEARCH = 1024  # cut a scanned text at whitespace in its last KiB, so no token is split in two

# --- printable and encodable ----------------------------------------------------------------------------
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# ASCII outside the printable range, and every non-ASCII character: these are checked one by one.
_SUSPECT = re.compile(r"[^\x20-\x7e]")
_SUSPECT_KEEPING_NEWLINES = re.compile(r"[^\x20-\x7e\n]")


def safe_text(value: object, limit: int, *, keep_newlines: bool = False) -> str:
    """`value` as printable, UTF-8-encodable text of at most `limit` characters.

    Non-printable characters become escapes (`\\x1b`, `\\u202e`, `\\ud800`, `\\n`); with `keep_newlines`
    line feeds stay (tracebacks), while CR, ESC and the rest are still escaped.
    """
    return _capped(as_text(value), limit, keep_newlines=keep_newlines)


def public_text(value: object, limit: int, *, keep_newlines: bool = False) -> str:
    """`value` fit to leave the app: redacted (`redact`), then printable and capped (`safe_text`)."""
    text = as_text(value)
    scanned = _scannable_part(text)
    return _capped(
        redact(scanned), limit, keep_newlines=keep_newlines, already_omitted=len(text) - len(scanned)
    )


def as_text(value: object) -> str:
    """str(value), bytes decoded as UTF-8 with escapes for what is not; never raises."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the caller's error path
        return f"<{type(value).__name__} that cannot be shown>"


def _capped(text: str, limit: int, *, keep_newlines: bool, already_omitted: int = 0) -> str:
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}")
    suspect = _SUSPECT_KEEPING_NEWLINES if keep_newlines else _SUSPECT
    if not already_omitted and len(text) <= limit:
        if suspect.search(text) is None:  # the common case: short printable ASCII
            return text
        escaped = suspect.sub(_escape_match, text)
        if len(escaped) <= limit:
            return escaped
    return _cut(text, limit, keep_newlines, already_omitted)


def _cut(text: str, limit: int, keep_newlines: bool, already_omitted: int) -> str:
    """The longest escaped start of `text` that fits in `limit` with the marker after it."""
    budget = limit - len(_marker(len(text) + already_omitted))
    kept: list[str] = []
    used = 0
    for char in text[:budget]:  # an escape is never shorter than its character
        piece = char if (keep_newlines and char == "\n") else _escape(char)
        if used + len(piece) > budget:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept) + _marker(len(text) - len(kept) + already_omitted)


def _marker(omitted: int) -> str:
    return f"… (+{omitted} chars)"


def _escape_match(match: re.Match[str]) -> str:
    return _escape(match.group())


def _escape(char: str) -> str:
    if char.isprintable():
        return char
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"  # lone surrogates end up here: visible, and encodable
    return f"\\U{code:08x}"


# --- redaction ------------------------------------------------------------------------------------------
# Keys whose values are secrets, in any form: JSON, repr, form bodies, query strings, headers, connection
# strings.
SECRET_KEYS = frozenset(
    {
        "access_token", "refresh_token", "id_token", "token", "client_secret", "client_assertion",
        "password", "passwd", "secret", "authorization", "proxy-authorization", "x-amz-access-token",
        "x-amz-security-token", "aws_secret_access_key", "secretaccesskey", "secret_access_key",
        "secret_key", "aws_session_token", "sessiontoken", "accountkey", "sharedaccesskey",
        "sharedaccesssignature", "sig", "signature", "apikey", "api_key", "api-key",
        "spapi_refresh_token", "spapi_lwa_client_secret", "dataverse_client_secret",
    }
)  # fmt: skip
# Keys under which Amazon (Orders v0 and v2026) and Dataverse (contact, account, salesorder) carry buyer
# data. Matched whole and case-insensitively ("name", not "productName"); only quoted values are redacted.
PERSONAL_KEYS = frozenset(
    {
        "buyername", "buyeremail", "buyercompanyname", "buyerpurchaseordernumber", "buyercounty",
        "name", "companyname", "companylegalname", "legalname", "recipientname", "fullname", "firstname",
        "lastname", "middlename", "addressline1", "addressline2", "addressline3", "address1", "address2",
        "address3", "street", "city", "county", "district", "districtorcounty", "municipality",
        "stateorregion", "postalcode", "destinationpostalcode", "zip", "phone", "phonenumber", "mobilephone",
        "telephone", "telephone1", "telephone2", "telephone3", "fax", "email", "emailaddress",
        "emailaddress1", "emailaddress2", "emailaddress3", "giftmessage", "giftmessagetext",
        "taxregistrationnumber",
    }
)  # fmt: skip
PERSONAL_KEY_PREFIXES = ("shipto_", "billto_", "address1_", "address2_", "address3_")
# What a text must contain (lower-cased) for an unquoted secret value to be in it; a text with none of these
# and no quote skips the key scan, which keeps ordinary log lines cheap.
_BARE_SECRET_HINTS = (
    "token", "secret", "passw", "authorization", "sig", "accountkey", "sharedaccess", "apikey", "api_key",
    "api-key",
)  # fmt: skip

# `key: `, `"key": `, `b'key': `, `\"key\": ` (JSON inside a JSON string), `key=`, starting where a word
# starts.
_KEY_LEAD = re.compile(r"""(?<![\w-])(?:b(?=["']))?(\\?["']?)([A-Za-z][\w-]*)\1\s*[:=]\s*""")
# A quoted value: JSON "...", Python '...' (repr switches to "..." when the text holds a '), with escapes,
# bytes literals, JSON inside a JSON string (\"...\"), and pprint's way of splitting a long string into
# adjacent literals ('Jane ' 'Doe'). A quote left open (a text cut short) runs to the end, so a value cut in
# half is still redacted.
_QUOTED = (
    r"""b?(?:"(?:[^"\\]|\\[\s\S])*(?:"|\Z)|'(?:[^'\\]|\\[\s\S])*(?:'|\Z)"""
    r"""|\\"(?:[^"\\]|\\[^"])*(?:\\"|\Z))"""
)
_QUOTED_VALUE = re.compile(rf"{_QUOTED}(?:\s*{_QUOTED})*")
# A quoted value, or an unquoted one (form bodies, query strings, headers, connection strings) with its
# authorization scheme if it has one.
_SECRET_VALUE = re.compile(
    rf"{_QUOTED}(?:\s*{_QUOTED})*"
    r"""|(?:(?:bearer|basic|sharedkey|sharedaccesssignature|aws4-hmac-sha256)\s+)?[^\s"'&;,{}\[\]()\\]+""",
    re.IGNORECASE,
)
# Secrets recognisable by their own shape, wherever they stand.
_LWA_TOKEN = re.compile(r"(Atz[ar]\|)[^\s\"'&,;}\])\\]+")  # Login with Amazon access/refresh tokens
_JWT = re.compile(r"eyJ[\w-]{8,}(?:\.[\w-]*){0,2}")  # Entra ID tokens: base64url of '{"'
_SCHEME_TOKEN = re.compile(r"\b(bearer|sharedaccesssignature|sharedkey)(\s+)[^\s\"',;]+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")  # also percent-encoded


def redact(text: str) -> str:
    """`text` with secrets and buyer data replaced by [redacted]; keys, quotes and schemes stay readable."""
    lowered = text.lower()
    if "'" in text or '"' in text or _contains_any(lowered, _BARE_SECRET_HINTS):
        text = _redact_key_values(text)
    if "Atz" in text:
        text = _LWA_TOKEN.sub(rf"\1{REDACTED}", text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "bearer" in lowered or "shared" in lowered:
        text = _SCHEME_TOKEN.sub(rf"\1\2{REDACTED}", text)
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(REDACTED, text)
    return text


def _contains_any(text: str, parts: tuple[str, ...]) -> bool:
    # A plain loop: half the cost of any() over a generator, and this runs on every log record.
    for part in parts:  # noqa: SIM110
        if part in text:
            return True
    return False


def _redact_key_values(text: str) -> str:
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    lead = _KEY_LEAD.search(text)
    while lead is not None:
        value_pattern = _value_pattern(lead.group(2))
        value = value_pattern.match(text, lead.end()) if value_pattern is not None else None
        if value is None:
            lead = _KEY_LEAD.search(text, lead.end())
            continue
        pieces += [text[done : lead.end()], _redacted_like(value.group())]
        done = value.end()
        lead = _KEY_LEAD.search(text, done)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _value_pattern(key: str) -> re.Pattern[str] | None:
    """How the value after `key` is recognised, if it is to be redacted at all."""
    lowered = key.lower()
    if lowered in SECRET_KEYS:
        return _SECRET_VALUE
    if lowered in PERSONAL_KEYS or lowered.startswith(PERSONAL_KEY_PREFIXES):
        return _QUOTED_VALUE
    return None


def _redacted_like(value: str) -> str:
    """[redacted] in the value's own quotes, so the text around it still parses by eye."""
    opening = re.match(r"""b?(\\?["'])""", value)
    return f"{opening[1]}{REDACTED}{opening[1]}" if opening else REDACTED


def _scannable_part(text: str) -> str:
    if len(text) <= MAX_SCAN:
        return text
    space = text.rfind(" ", MAX_SCAN - _CUT_SEARCH, MAX_SCAN)
    return text[: space if space > 0 else MAX_SCAN]

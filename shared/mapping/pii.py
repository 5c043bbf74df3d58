"""Buyer data minimisation: each personal field is kept, masked or omitted, per the mapping's [pii] policy.

Masking keeps the first character of each word and replaces the rest with three stars, whatever the
word's length: "Jane Doe" -> "J*** D***". The result is recognisable to a person holding the order, but
says nothing about the buyer to anyone else, not even the length of the name.
"""

from __future__ import annotations

import hashlib
import re

from shared.mapping.config import PiiAction

_WORD = re.compile(r"\S+")


def apply(action: PiiAction, value: str | None) -> str | None:
    if not value:
        return None
    if action == "keep":
        return value
    if action == "omit":
        return None
    return mask(value)


def mask(value: str) -> str:
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return _WORD.sub(lambda word: word.group(0)[0] + "***", value.strip())


def buyer_id(anonymized_email: str) -> str:
    """A stable, non-reversible id for a buyer: the hash of Amazon's anonymized relay address."""
    digest = hashlib.sha256(anonymized_email.strip().lower().encode("utf-8")).hexdigest()
    return f"amzn-{digest[:40]}"

"""Label ComplexType: `{"LocalizedLabels": [{"Label", "LanguageCode", ...}], "UserLocalizedLabel": {...}}`.

Definitions are created with LocalizedLabels only; the UserLocalizedLabel returned is the one in the user's
language (the emulated user reads English, LCID 1033).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..schema import metadata_id

ENGLISH = 1033


def read_label(body: dict[str, Any], name: str) -> str | None:
    """The English (or first) text of the Label property `name`; None when it is absent or empty."""
    label = body.get(name)
    if label is None:
        return None
    if not isinstance(label, dict) or not isinstance(label.get("LocalizedLabels", []), list):
        raise errors.invalid_definition(f"'{name}' must be a Label with LocalizedLabels.")
    texts = [
        (item.get("LanguageCode"), item.get("Label"))
        for item in label.get("LocalizedLabels", [])
        if isinstance(item, dict) and isinstance(item.get("Label"), str)
    ]
    english = [text for code, text in texts if code == ENGLISH]
    chosen = english or [text for _, text in texts]
    return chosen[0] if chosen else None


def label(text: str | None, owner: str) -> dict[str, Any]:
    """A Label as the definition endpoints return it; `owner` makes the label's MetadataId stable."""
    if text is None:
        return {"LocalizedLabels": [], "UserLocalizedLabel": None}
    localized = {
        "Label": text,
        "LanguageCode": ENGLISH,
        "IsManaged": False,
        "MetadataId": metadata_id("label", f"{owner}:{text}"),
        "HasChanged": None,
    }
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": dict(localized)}

"""OData literals, keys and filters, escaped the way Dataverse expects.

Two steps, in this order: double every single quote inside a string literal (OData's escape), then
percent-encode the result for the URL (`#`, `&`, `+`, `/`, `?`, `%`, spaces and non-ASCII would otherwise
end or change the URL). Alternate-key values containing `/ < > * % & : \\ ? +` cannot be used for key
addressing at all (Dataverse rejects them even when encoded): `key_path` raises UnaddressableKey and the
caller looks the record up by $filter instead, where any character is fine.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from shared.errors import PermanentError
from shared.timeutil import iso_z

# Documented: "Alternate key values can't contain these characters: / < > * % & : \ ? +"
KEY_FORBIDDEN = frozenset("/<>*%&:\\?+")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Scalar = str | int | float | Decimal | bool | datetime | uuid.UUID | None
Key = str | uuid.UUID | Mapping[str, Scalar]  # a GUID, or alternate-key columns and values


class UnaddressableKey(PermanentError):
    """An alternate-key value Dataverse cannot address in a URL; look the record up by $filter instead."""

    reason = "UnaddressableKey"


def literal(value: Scalar) -> str:
    """An OData literal, not yet percent-encoded: strings quoted with quotes doubled."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso_z(value)
    return "'" + str(value).replace("'", "''") + "'"


def encode(text: str) -> str:
    """Percent-encode for a URL path or query value; OData's own punctuation stays readable. `$` is encoded:
    inside a $batch change set `$1` in a URL means "the record Content-ID 1 created", so an order id like
    "$1" must never reach the URL as it is."""
    return quote(text, safe="()',=@-_.~!")


def is_guid(value: object) -> bool:
    return isinstance(value, uuid.UUID) or (isinstance(value, str) and bool(_GUID.match(value)))


def addressable(value: Scalar) -> bool:
    return not (isinstance(value, str) and any(char in KEY_FORBIDDEN for char in value))


def key_segment(key: Key) -> str:
    """'(00000000-...)' or "(new_amazonorderid='113-1%27...')", encoded and ready to append to an entity set."""
    if is_guid(key):
        return f"({key})"
    if isinstance(key, str | uuid.UUID):
        raise ValueError("a key is a GUID or a mapping of alternate-key columns to values")
    if not key:
        raise ValueError("an alternate key needs at least one column")
    for column, value in key.items():
        _check_identifier(column)
        if not addressable(value):
            raise UnaddressableKey(
                f"the value of {column} contains a character Dataverse cannot address by key"
            )
    inner = ",".join(f"{column}={literal(value)}" for column, value in key.items())
    return "(" + encode(inner) + ")"


def entity_path(entity_set: str, key: Key) -> str:
    _check_identifier(entity_set)
    return entity_set + key_segment(key)


def bind(entity_set: str, key: Key) -> str:
    """An @odata.bind value: '/contacts(<guid>)' or "/contacts(new_amazonbuyerid='...')"."""
    return "/" + entity_path(entity_set, key)


def eq(column: str, value: Scalar) -> str:
    _check_identifier(column)
    return f"{column} eq {literal(value)}"


def all_of(conditions: Mapping[str, Scalar]) -> str:
    return " and ".join(eq(column, value) for column, value in conditions.items())


def any_of(column: str, values: Iterable[Scalar]) -> str:
    """Dataverse's In function: one filter for many values (used to look up many SKUs at once)."""
    _check_identifier(column)
    items = ",".join(literal(value) for value in values)
    return f"Microsoft.Dynamics.CRM.In(PropertyName={literal(column)},PropertyValues=[{items}])"


def _check_identifier(name: str) -> None:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not an OData identifier: {name!r}")

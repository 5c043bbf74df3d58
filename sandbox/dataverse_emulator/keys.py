"""Resource paths and record keys: `salesorders`, `salesorders(<guid>)`, `salesorders(new_amazonorderid='1''2')`.

The path arrives percent-encoded. It is decoded first and parsed second, so an encoded quote, comma or
parenthesis inside a value stays inside the value. String literals double their single quotes. Dataverse
cannot address alternate-key values containing `/ < > * % & : \\ ? +` even when encoded (documented in
"Use an alternate key to reference a record"); those keys are refused and must be looked up by $filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from . import errors
from .schema import Table
from .values import is_guid

UNADDRESSABLE_CHARACTERS = "/<>*%&:\\?+"
_KEY_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
_BARE_LITERAL = re.compile(r"[^,\s]+")
_INTEGER = re.compile(r"-?\d+")
_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class Resource:
    name: str  # entity set, action or "$batch"
    key: str | None  # decoded text between the parentheses
    rest: str | None  # anything after the key ("/property"), which the emulator does not serve


@dataclass(frozen=True)
class RecordKey:
    """A primary id (`record_id`) or alternate-key column values (`values`)."""

    record_id: str | None = None
    values: tuple[tuple[str, str | int], ...] = ()

    def as_dict(self) -> dict[str, str | int]:
        return dict(self.values)


def parse_resource(encoded: str) -> Resource:
    try:
        decoded = unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        raise errors.query_syntax("The request URI is not valid UTF-8 once percent-decoded.") from None
    name = _NAME.match(decoded)
    if name is None:
        raise errors.segment_not_found(decoded.split("(", 1)[0].split("/", 1)[0])
    position = name.end()
    key = None
    if position < len(decoded) and decoded[position] == "(":
        close = _closing_parenthesis(decoded, position)
        if close is None:
            raise errors.segment_not_found(decoded.split("/", 1)[0])
        key, position = decoded[position + 1 : close], close + 1
    rest = decoded[position:] or None
    if rest is not None and not rest.startswith("/"):
        raise errors.segment_not_found(decoded.split("/", 1)[0])
    return Resource(name[0], key, rest)


def _closing_parenthesis(text: str, opening: int) -> int | None:
    """The index of the ")" closing the "(" at `opening`; quoted literals may hold parentheses."""
    depth, index = 0, opening
    while index < len(text):
        char = text[index]
        if char == "'":
            _, index = read_string_literal(text, index)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def parse_key(table: Table, text: str) -> RecordKey:
    """Parse the decoded key text for `table`; refuse what Dataverse refuses."""
    items = _split_items(text, table)
    if len(items) == 1 and items[0][0] in (None, table.primary_id):
        value = items[0][1]
        if isinstance(value, _Guid):
            return RecordKey(record_id=value.text.lower())
        raise errors.invalid_key(table.logical_name)
    names = [name for name, _ in items]
    if any(name is None for name in names) or len(set(names)) != len(names):
        raise errors.invalid_key(table.logical_name)
    key_columns = table.key_columns(name for name in names if name is not None)
    if key_columns is None:
        raise errors.invalid_key(table.logical_name)
    values: list[tuple[str, str | int]] = []
    for name, value in items:
        assert name is not None
        if isinstance(value, _Guid):
            raise errors.invalid_key(table.logical_name)
        if isinstance(value, str):
            bad = next((char for char in value if char in UNADDRESSABLE_CHARACTERS), None)
            if bad is not None:
                raise errors.unaddressable_key(name, bad)
        values.append((name, value))
    return RecordKey(values=tuple(values))


@dataclass(frozen=True)
class _Guid:
    text: str


def _split_items(text: str, table: Table) -> list[tuple[str | None, str | int | _Guid]]:
    """`a='x',b=2` or a bare literal, honouring quotes so commas and '=' inside strings stay put."""
    items: list[tuple[str | None, str | int | _Guid]] = []
    position, length = 0, len(text)
    while position < length:
        name: str | None = None
        match = _KEY_NAME.match(text, position)
        if match:
            name, position = match[1], match.end()
        literal, position = _literal(text, position, table)
        items.append((name, literal))
        position = _skip_spaces(text, position)
        if position < length:
            if text[position] != ",":
                raise errors.invalid_key(table.logical_name)
            position += 1
    if not items:
        raise errors.invalid_key(table.logical_name)
    return items


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] == " ":
        position += 1
    return position


def _literal(text: str, position: int, table: Table) -> tuple[str | int | _Guid, int]:
    position = _skip_spaces(text, position)
    if position < len(text) and text[position] == "'":
        value, position = read_string_literal(text, position)
        if value is None:
            raise errors.invalid_key(table.logical_name)
        return value, position
    match = _BARE_LITERAL.match(text, position)
    if match is None:
        raise errors.invalid_key(table.logical_name)
    token = match[0]
    if is_guid(token):
        return _Guid(token), match.end()
    if _INTEGER.fullmatch(token):
        return int(token), match.end()
    raise errors.invalid_key(table.logical_name)


def read_string_literal(text: str, position: int) -> tuple[str | None, int]:
    """The OData string literal starting at the quote at `position` ('' is a quote); None if unterminated."""
    chars: list[str] = []
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == "'":
            if index + 1 < len(text) and text[index + 1] == "'":
                chars.append("'")
                index += 2
                continue
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    return None, index

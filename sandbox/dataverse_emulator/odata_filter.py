"""A small, strict OData $filter: parse once, check against the table, evaluate per row.

Supported: eq ne gt ge lt le, and or not, parentheses, contains/startswith/endswith, string literals with
doubled quotes, integers, decimals, true/false, null, GUIDs, date-times, `_x_value` lookup properties and
`Microsoft.Dynamics.CRM.In(PropertyName='col',PropertyValues=['a','b'])` (and `NotIn`). Like Dataverse, string
comparisons ignore case, an unknown property is a 400, and comparing a column with a literal of another
type (a GUID column with a quoted string, say) is a 400 too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import errors
from .keys import read_string_literal
from .schema import LOOKUP_TYPES, NUMERIC_TYPES, TEXT_TYPES, Column, ColumnType, Table
from .values import EDM_TYPES, parse_datetime

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?(?![\w:.-]))
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[(),=\[\]])
    """,
    re.VERBOSE,
)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_OPERATOR_NAMES = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual"}
_OPERATOR_NAMES |= {"lt": "LessThan", "le": "LessThanOrEqual"}
_STRING_FUNCTIONS = {"contains", "startswith", "endswith"}
_IN_FUNCTIONS = {"Microsoft.Dynamics.CRM.In": False, "Microsoft.Dynamics.CRM.NotIn": True}


@dataclass(frozen=True)
class _Token:
    kind: str  # string guid datetime number name punct end
    text: str
    value: Any = None


@dataclass(frozen=True)
class _Literal:
    kind: str  # string guid datetime number bool null
    value: Any


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position] == "'":
            value, position_after = read_string_literal(text, position)
            if value is None:
                raise errors.query_syntax(f"Unterminated string literal at position {position} in $filter.")
            tokens.append(_Token("string", text[position:position_after], value))
            position = position_after
            continue
        match = _TOKEN.match(text, position)
        if match is None:
            raise errors.query_syntax(f"Syntax error at position {position} in $filter.")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match[0]))
        position = match.end()
    tokens.append(_Token("end", ""))
    return tokens


class _Parser:
    """Recursive descent: or < and < not < comparison/function/parentheses."""

    def __init__(self, text: str, table: Table) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.table = table

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek().kind != "end":
            raise errors.query_syntax(f"Syntax error: unexpected '{self._peek().text}' in $filter.")
        return predicate

    # --- token helpers ---
    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind == "name" and token.text == word:
            self.index += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        token = self._next()
        if token.text != text:
            raise errors.query_syntax(f"Syntax error: expected '{text}' but found '{token.text}' in $filter.")

    # --- grammar ---
    def _or(self) -> Predicate:
        left = self._and()
        while self._keyword("or"):
            right = self._and()
            left = _either(left, right)
        return left

    def _and(self) -> Predicate:
        left = self._unary()
        while self._keyword("and"):
            right = self._unary()
            left = _both(left, right)
        return left

    def _unary(self) -> Predicate:
        if self._keyword("not"):
            inner = self._unary()
            return lambda row: not inner(row)
        if self._peek().text == "(":
            self._next()
            inner = self._or()
            self._expect(")")
            return inner
        return self._primary()

    def _primary(self) -> Predicate:
        token = self._next()
        if token.kind != "name":
            raise errors.query_syntax(
                f"Syntax error: expected a property but found '{token.text}' in $filter."
            )
        if token.text in _IN_FUNCTIONS:
            return self._in(negate=_IN_FUNCTIONS[token.text])
        if token.text in _STRING_FUNCTIONS and self._peek().text == "(":
            return self._string_function(token.text)
        column = self._column(token.text)
        operator = self._next()
        if operator.kind != "name" or operator.text not in _COMPARISONS:
            raise errors.query_syntax(f"Syntax error: expected a comparison after '{token.text}' in $filter.")
        literal = self._literal()
        return _comparison(column, operator.text, literal)

    def _column(self, name: str) -> Column:
        column = self.table.properties.get(name)
        if column is None:
            raise errors.unknown_query_property(self.table.logical_name, name)
        return column

    def _literal(self) -> _Literal:
        token = self._next()
        if token.kind == "string":
            return _Literal("string", token.value)
        if token.kind == "guid":
            return _Literal("guid", token.text.lower())
        if token.kind == "datetime":
            moment = parse_datetime(token.text)
            if moment is None:
                raise errors.query_syntax(f"'{token.text}' is not a valid date-time literal in $filter.")
            return _Literal("datetime", moment)
        if token.kind == "number":
            return _Literal("number", Decimal(token.text))
        if token.kind == "name" and token.text in ("true", "false"):
            return _Literal("bool", token.text == "true")
        if token.kind == "name" and token.text == "null":
            return _Literal("null", None)
        raise errors.query_syntax(f"Syntax error: '{token.text}' is not a literal in $filter.")

    def _string_function(self, name: str) -> Predicate:
        self._expect("(")
        column = self._column(self._next().text)
        self._expect(",")
        literal = self._literal()
        self._expect(")")
        if column.type not in TEXT_TYPES or literal.kind != "string":
            raise errors.query_syntax(f"The function '{name}' needs a string property and a string literal.")
        needle = str(literal.value).casefold()
        prop = column.name
        tests: dict[str, Callable[[str], bool]] = {
            "contains": lambda text: needle in text,
            "startswith": lambda text: text.startswith(needle),
            "endswith": lambda text: text.endswith(needle),
        }
        test = tests[name]
        return lambda row: isinstance(row.get(prop), str) and test(row[prop].casefold())

    def _in(self, *, negate: bool) -> Predicate:
        self._expect("(")
        arguments: dict[str, Any] = {}
        while True:
            name = self._next().text
            self._expect("=")
            if name == "PropertyName":
                token = self._next()
                if token.kind != "string":
                    raise errors.query_syntax("PropertyName must be a string literal.")
                arguments[name] = token.value
            elif name == "PropertyValues":
                arguments[name] = self._string_list()
            else:
                raise errors.query_syntax(f"Unknown parameter '{name}' for Microsoft.Dynamics.CRM.In.")
            if self._peek().text == ",":
                self._next()
                continue
            self._expect(")")
            break
        if set(arguments) != {"PropertyName", "PropertyValues"}:
            raise errors.query_syntax("Microsoft.Dynamics.CRM.In needs PropertyName and PropertyValues.")
        column = self._column(arguments["PropertyName"])
        keys = {_comparable(column, _literal_from_text(column, text)) for text in arguments["PropertyValues"]}
        prop = column.name
        return lambda row: (_comparable(column, row.get(prop)) in keys) != negate

    def _string_list(self) -> list[str]:
        self._expect("[")
        values: list[str] = []
        while self._peek().text != "]":
            token = self._next()
            if token.kind != "string":
                raise errors.query_syntax("PropertyValues must be a list of string literals.")
            values.append(token.value)
            if self._peek().text == ",":
                self._next()
        self._expect("]")
        return values


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda row: left(row) or right(row)


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda row: left(row) and right(row)


def _literal_from_text(column: Column, text: str) -> Any:
    """In()'s values are strings whatever the column; convert them the way the column stores values."""
    if column.type in NUMERIC_TYPES:
        try:
            return Decimal(text)
        except ArithmeticError:
            raise errors.query_syntax("A PropertyValues entry is not a number.") from None
    if column.type is ColumnType.DATETIME:
        return parse_datetime(text)
    return text


def _compatible(column: Column, literal: _Literal) -> bool:
    if literal.kind == "null":
        return True
    kind = column.type
    if kind in TEXT_TYPES:
        return literal.kind == "string"
    if kind in NUMERIC_TYPES:
        return literal.kind == "number"
    if kind is ColumnType.BOOLEAN:
        return literal.kind == "bool"
    if kind is ColumnType.DATETIME:
        return literal.kind == "datetime"
    return literal.kind == "guid"  # ids and lookups


_LITERAL_EDM = {"string": "Edm.String", "guid": "Edm.Guid", "datetime": "Edm.DateTimeOffset"}
_LITERAL_EDM |= {"number": "Edm.Decimal", "bool": "Edm.Boolean"}


def _comparable(column: Column, value: Any) -> Any:
    """A value in the form comparisons use: case-folded text, Decimal numbers, aware datetimes."""
    if value is None:
        return None
    if column.type in TEXT_TYPES and isinstance(value, str):
        return value.casefold()
    if column.type in NUMERIC_TYPES and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    if column.type is ColumnType.DATETIME and isinstance(value, str):
        return parse_datetime(value)
    if (column.type in LOOKUP_TYPES or column.type is ColumnType.UNIQUEIDENTIFIER) and isinstance(value, str):
        return value.lower()
    return value


def _comparison(column: Column, operator: str, literal: _Literal) -> Predicate:
    if not _compatible(column, literal):
        raise errors.query_syntax(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{EDM_TYPES[column.type]}' and '{_LITERAL_EDM[literal.kind]}' for operator kind "
            f"'{_OPERATOR_NAMES[operator]}'."
        )
    prop = column.name  # rows keep lookups under their logical name
    expected = _comparable(column, literal.value)
    if expected is None:
        if operator not in ("eq", "ne"):
            return lambda row: False
        return (
            (lambda row: row.get(prop) is None)
            if operator == "eq"
            else (lambda row: row.get(prop) is not None)
        )
    compare: Callable[[Any, Any], bool] = {
        "eq": lambda a, b: a == b,
        "ne": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }[operator]

    def predicate(row: Row) -> bool:
        actual = _comparable(column, row.get(prop))
        if actual is None:
            return operator == "ne"  # SQL-style: null only equals null
        return compare(actual, expected)

    return predicate


def compile_filter(text: str, table: Table) -> Predicate:
    return _Parser(text, table).parse()


def parse_select(text: str, table: Table) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in table.properties:
            raise errors.unknown_query_property(table.logical_name, name)
    return names


def sort_rows(rows: Sequence[Row], orderby: str, table: Table) -> list[Row]:
    """Sort by `col [asc|desc], ...`; nulls first when ascending, as SQL Server sorts them."""
    clauses: list[tuple[Column, bool]] = []
    for clause in orderby.split(","):
        parts = clause.split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
            raise errors.query_syntax(f"Syntax error in $orderby near '{clause.strip()}'.")
        column = table.properties.get(parts[0])
        if column is None:
            raise errors.unknown_query_property(table.logical_name, parts[0])
        clauses.append((column, len(parts) == 2 and parts[1] == "desc"))
    ordered = list(rows)
    for column, descending in reversed(clauses):  # stable sorts, least significant first
        ordered.sort(key=_sort_key(column), reverse=descending)
    return ordered


def _sort_key(column: Column) -> Callable[[Row], tuple[int, Any]]:
    def key(row: Row) -> tuple[int, Any]:
        value = _comparable(column, row.get(column.name))
        if value is None:
            return (0, 0)
        if isinstance(value, datetime):
            return (1, value.timestamp())
        return (1, value)

    return key

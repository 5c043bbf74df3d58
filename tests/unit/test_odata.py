"""OData escaping: quotes doubled first, then percent-encoding; unaddressable keys refused, not sent broken."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import pytest

from shared.dataverse import odata

AWKWARD = "SKU'Q#&+/?%Ü"


def test_string_literals_double_single_quotes() -> None:
    """O'Brien becomes 'O''Brien'."""
    assert odata.literal("O'Brien") == "'O''Brien'"


def test_other_literals() -> None:
    """Numbers, booleans, null and GUIDs are written bare."""
    guid = uuid.UUID("00000000-0000-0000-0000-000000000001")
    assert [odata.literal(value) for value in (5, 1.5, True, None, guid)] == [
        "5",
        "1.5",
        "true",
        "null",
        "00000000-0000-0000-0000-000000000001",
    ]


def test_key_segments_are_quoted_then_percent_encoded() -> None:
    """An alternate key value with a quote, space and # round-trips through the URL unchanged."""
    segment = odata.key_segment({"new_amazonorderid": "113-O'Brien #1"})
    assert segment == "(new_amazonorderid='113-O''Brien%20%231')"
    assert unquote(segment) == "(new_amazonorderid='113-O''Brien #1')"


def test_non_ascii_key_values_are_utf8_percent_encoded() -> None:
    """Non-ASCII characters travel as UTF-8 percent escapes."""
    assert odata.key_segment({"k": "CAFÉ"}) == "(k='CAF%C3%89')"


def test_composite_keys_keep_their_column_order() -> None:
    """Two-column alternate keys are addressed as (a='x',b='y')."""
    segment = odata.key_segment({"new_amazonorderid": "1", "new_amazonorderitemid": "2"})
    assert segment == "(new_amazonorderid='1',new_amazonorderitemid='2')"


@pytest.mark.parametrize("character", list("/<>*%&:\\?+"))
def test_values_dataverse_cannot_address_are_refused(character: str) -> None:
    """Dataverse rejects these characters in key addressing, so we refuse before sending."""
    with pytest.raises(odata.UnaddressableKey):
        odata.key_segment({"new_amazonorderid": f"A{character}B"})


def test_guids_address_records_directly() -> None:
    """A GUID key needs no quoting."""
    guid = "5d3c6b61-0f8a-4a55-8f27-3e9b1d2c4f10"
    assert odata.entity_path("salesorders", guid) == f"salesorders({guid})"


def test_filters_accept_any_character_once_encoded() -> None:
    """$filter values may contain every awkward character; encoding protects the URL."""
    expression = odata.eq("productnumber", AWKWARD)
    assert expression == "productnumber eq 'SKU''Q#&+/?%Ü'"
    encoded = odata.encode(expression)
    assert not set("#&+/? ") & set(encoded)
    assert "%25" in encoded  # the literal % is itself escaped
    assert unquote(encoded) == expression


def test_in_filter_lists_every_value_quoted() -> None:
    """Many SKUs are looked up with one Microsoft.Dynamics.CRM.In filter."""
    assert odata.any_of("productnumber", ["A", "B'C"]) == (
        "Microsoft.Dynamics.CRM.In(PropertyName='productnumber',PropertyValues=['A','B''C'])"
    )


def test_identifiers_are_checked() -> None:
    """Column and table names are never taken from data, and are validated anyway."""
    with pytest.raises(ValueError, match="not an OData identifier"):
        odata.eq("name eq 'x' or 1", "y")


def test_dollar_signs_in_key_values_are_percent_encoded() -> None:
    """An order id "$1" must not reach a $batch URL as `$1`, which Dataverse reads as "the record Content-ID 1
    created" inside a change set."""
    path = odata.entity_path("salesorders", {"new_amazonorderid": "$1"})
    assert "$1" not in path
    assert path == "salesorders(new_amazonorderid='%241')"

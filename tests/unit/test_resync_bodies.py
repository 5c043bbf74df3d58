"""POST /api/resync's body over its pydantic model: exactly one kind, SKUs checked and bounded. No sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.http.bodies import ResyncBody

CONTEXT = {
    "max_orders": 1000,
    "max_skus": 3,
    "max_range": timedelta(days=180),
    "now": datetime(2026, 11, 28, tzinfo=UTC),
}


def read(body: dict[str, Any]) -> ResyncBody:
    return ResyncBody.model_validate(body, context=CONTEXT)


def test_skus_are_a_resync_of_their_own() -> None:
    body = read({"skus": ["KT-POUROVER-02-WHT", "HB BOTTLE 750", "a" * 40]})
    assert body.skus == ["KT-POUROVER-02-WHT", "HB BOTTLE 750", "a" * 40]
    assert body.amazon_order_ids is None
    assert body.start is None


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"skus": []}, ("skus",)),
        ({"skus": ["a" * 41]}, ("skus", 0)),
        ({"skus": [" leading"]}, ("skus", 0)),
        ({"skus": ["trailing "]}, ("skus", 0)),
        ({"skus": ["tab\there"]}, ("skus", 0)),
        ({"skus": ["ümlaut"]}, ("skus", 0)),
        ({"skus": [""]}, ("skus", 0)),
        ({"skus": [12345]}, ("skus", 0)),
        ({"skus": "SKU-1"}, ("skus",)),
        ({"skus": ["A", "B", "C", "D"]}, ("skus",)),
        ({"skus": ["SKU-1"], "amazonOrderIds": ["113-1234567-1234567"]}, ()),
        ({"skus": ["SKU-1"], "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, ()),
        ({"skus": ["SKU-1"], "marketplaceIds": ["ATVPDKIKX0DER"]}, ("marketplaceIds",)),
    ],
    ids=[
        "empty",
        "41 characters",
        "leading space",
        "trailing space",
        "control character",
        "not ASCII",
        "empty SKU",
        "a number",
        "not a list",
        "more than RESYNC_MAX_SKUS",
        "with order ids",
        "with a range",
        "unknown member",
    ],
)
def test_a_bad_sku_resync_is_refused_where_it_is_wrong(body: dict[str, Any], where: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as refused:
        read(body)
    assert where in [error["loc"] for error in refused.value.errors()]


def test_the_sku_limit_names_its_setting() -> None:
    with pytest.raises(ValidationError, match="RESYNC_MAX_SKUS"):
        read({"skus": ["A", "B", "C", "D"]})

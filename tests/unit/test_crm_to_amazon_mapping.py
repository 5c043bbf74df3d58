"""CRM events -> listing values and shipment packages, and the mapping file's rules for them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from shared.dataverse.events import parse_context
from shared.errors import ConfigurationError
from shared.mapping.config import load_mapping
from shared.mapping.listings import NoMarketplaceForCurrency, ProductWithoutSku, price_changes, stock_changes
from shared.mapping.shipments import next_package, shipped_units
from shared.model.listings import Field, ListingKey, Price
from shared.model.shipments import ShipmentFacts, ShippedLine
from tests.crm_contexts import context

US, UK, DE = "ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"
MAPPING = load_mapping(Path(__file__).resolve().parents[2] / "sandbox" / "mapping.toml")


def product_event(**post: object):
    return parse_context(
        context("products", changed={"quantityonhand": post.get("quantityonhand")}, post=post)
    )


def price_event(amount: str):
    return parse_context(
        context("productpricelevels", changed={"amount": Decimal(amount)}, post={"amount": Decimal(amount)})
    )


@pytest.mark.parametrize(("stock", "sent"), [(Decimal("7.9"), 7), (Decimal("-3"), 0), (Decimal("0"), 0)])
def test_stock_becomes_a_whole_merchant_quantity_of_zero_or_more_in_every_marketplace(stock, sent) -> None:
    """Amazon wants whole units: the CRM's decimal is rounded down and negative stock sends 0."""
    changes = stock_changes(product_event(productnumber="MUG-1", quantityonhand=stock), MAPPING, [US, UK])
    assert [(c.key, c.field, c.value) for c in changes] == [
        (ListingKey("MUG-1", US), Field.QUANTITY, sent),
        (ListingKey("MUG-1", UK), Field.QUANTITY, sent),
    ]


def test_a_product_without_a_sku_is_refused_with_the_column_named() -> None:
    """No productnumber, no listing: the event is dead-lettered as ProductWithoutSku."""
    with pytest.raises(ProductWithoutSku, match="productnumber"):
        stock_changes(product_event(productnumber=None, quantityonhand=Decimal(3)), MAPPING, [US])


def test_an_emptied_stock_column_sends_nothing() -> None:
    """A cleared quantityonhand is not a stock of zero: nothing is sent until it has a value."""
    assert stock_changes(product_event(productnumber="MUG-1", quantityonhand=None), MAPPING, [US]) == []


def test_a_price_goes_to_the_marketplaces_of_its_price_list_in_their_currency() -> None:
    """The UK price list's item becomes the UK offer price in GBP, nothing else."""
    changes = price_changes(price_event("31.50"), "MUG-1", "Amazon UK", "GBP", MAPPING, [US, UK, DE])
    assert [(c.key, c.value) for c in changes] == [(ListingKey("MUG-1", UK), Price(Decimal("31.50"), "GBP"))]


def test_a_price_list_no_marketplace_uses_is_not_amazons_business() -> None:
    """Price lists outside [listings] price_lists cost nothing and raise nothing."""
    assert price_changes(price_event("5"), "MUG-1", "Wholesale", "USD", MAPPING, [US, UK, DE]) == []


def test_a_price_in_a_currency_its_marketplaces_do_not_sell_in_is_refused() -> None:
    """Amazon would refuse it: the event is dead-lettered as NoMarketplaceForCurrency, naming both."""
    with pytest.raises(NoMarketplaceForCurrency, match=r"is in JPY.*sell in GBP"):
        price_changes(price_event("3000"), "MUG-1", "Amazon UK", "JPY", MAPPING, [US, UK, DE])


def test_a_mapping_file_may_not_serve_two_currencies_from_one_price_list(tmp_path: Path) -> None:
    """A price list has one currency: mapping it to USD and GBP marketplaces fails at start-up."""
    path = tmp_path / "mapping.toml"
    path.write_text(f'[listings]\nprice_lists = {{ {US} = "Amazon", {UK} = "Amazon" }}\n')
    with pytest.raises(ConfigurationError, match="several currencies"):
        load_mapping(path)


def facts(*, fulfilled: bool = False, carrier: str = "UPS") -> ShipmentFacts:
    return ShipmentFacts(
        order_id="113-1",
        marketplace_id=US,
        fulfillment_channel="MFN",
        amazon_status="UNSHIPPED",
        fulfilled_in_crm=fulfilled,
        carrier=carrier,
        tracking_number="1Z999",
        ship_date=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_shipped_units_come_from_line_quantities_or_the_whole_line_once_fulfilled() -> None:
    """quantityshipped is a partial shipment; a Fulfilled order ships the rest; never more than ordered."""
    lines = [ShippedLine("A", 2, 1), ShippedLine("B", 3, None), ShippedLine("C", 1, 5)]
    assert shipped_units(facts(), lines) == {"A": 1, "B": 0, "C": 1}
    assert shipped_units(facts(fulfilled=True), lines) == {"A": 1, "B": 3, "C": 1}


def test_the_next_package_holds_only_units_beyond_those_amazon_has() -> None:
    """Already confirmed units are left out; the package's reference id is its place in the order."""
    lines = [ShippedLine("A", 2, 2), ShippedLine("B", 3, 3)]
    package = next_package(facts(), lines, {"A": 2, "B": 1}, 2, MAPPING)
    assert package is not None
    assert (package.reference_id, package.items, package.carrier_code) == ("2", (("B", 2),), "UPS")
    assert next_package(facts(), lines, {"A": 2, "B": 3}, 3, MAPPING) is None


def test_a_carrier_amazon_has_no_code_for_goes_as_other_with_its_name() -> None:
    """Amazon requires carrierName when carrierCode is Other; known names match without regard to case."""
    lines = [ShippedLine("A", 1, 1)]
    unknown = next_package(facts(carrier="Speedy Parcels"), lines, {}, 1, MAPPING)
    known = next_package(facts(carrier="federal express"), lines, {}, 1, MAPPING)
    assert unknown is not None
    assert known is not None
    assert (unknown.carrier_code, unknown.carrier_name) == ("Other", "Speedy Parcels")
    assert (known.carrier_code, known.carrier_name) == ("FedEx", None)

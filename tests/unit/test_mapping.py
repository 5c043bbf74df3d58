"""Mapping: Amazon order -> canonical order -> Dataverse records, driven by the declarative mapping."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from shared.amazon.order_translation import AmazonOrderInvalid, to_canonical
from shared.errors import ConfigurationError
from shared.mapping import pii
from shared.mapping.config import load_mapping
from shared.mapping.salesorder import PriceListNotFound, UnknownCurrency, plan_order
from shared.model.crm import Lookups, ProductRef, Reference
from shared.model.order import FulfillmentChannel, OrderStatus
from tests.builders import amazon_order

USD = "11111111-0000-0000-0000-000000000001"
PRODUCT = ProductRef("22222222-0000-0000-0000-000000000001", "33333333-0000-0000-0000-000000000001")
LOOKUPS = Lookups(currency_ids={"USD": USD}, price_list_ids={}, products={"SKU-1": PRODUCT})


def test_amazon_order_becomes_a_canonical_order() -> None:
    """Status, channel, currency, totals, address and lines come across."""
    order = to_canonical(amazon_order())
    assert order.order_id == "113-1234567-1234567"
    assert order.status is OrderStatus.UNSHIPPED
    assert order.fulfillment_channel is FulfillmentChannel.MFN
    assert order.currency == "USD"
    assert order.grand_total is not None
    assert order.grand_total.amount == Decimal("52.97")
    assert order.shipping is not None
    assert order.shipping.amount == Decimal("4.99")
    assert order.ship_to is not None
    assert order.ship_to.street_lines == ("1200 Pine Street", "Apt 5")
    line = order.lines[0]
    assert (line.seller_sku, line.quantity, line.quantity_shipped) == ("SKU-1", 2, 0)
    assert line.unit_price is not None
    assert line.unit_price.amount == Decimal("22.49")
    assert line.tax is not None
    assert line.tax.amount == Decimal("3.00")


def test_amazon_fulfilled_orders_are_afn() -> None:
    """fulfilledBy AMAZON maps to the AFN channel."""
    order = to_canonical(amazon_order(fulfillment={"fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON"}))
    assert order.fulfillment_channel is FulfillmentChannel.AFN
    assert order.status is OrderStatus.SHIPPED


def test_pending_orders_without_prices_or_address_map() -> None:
    """Pending orders have no prices and no address yet; they still map."""
    raw = amazon_order(fulfillment={"fulfillmentStatus": "PENDING", "fulfilledBy": "MERCHANT"})
    del raw["proceeds"], raw["recipient"]
    raw["orderItems"][0]["product"].pop("price")
    raw["orderItems"][0].pop("proceeds")
    order = to_canonical(raw)
    assert order.status is OrderStatus.PENDING
    assert order.currency is None
    assert order.ship_to is None
    assert order.lines[0].unit_price is None


def test_orders_without_the_fulfillment_dataset_are_refused() -> None:
    """No FULFILLMENT dataset means no status: a permanent, explained error."""
    raw = amazon_order()
    del raw["fulfillment"]
    with pytest.raises(AmazonOrderInvalid, match="SPAPI_INCLUDED_DATA"):
        to_canonical(raw)


def test_invalid_amazon_data_is_named_without_values() -> None:
    """A malformed Amazon order names the field, not the (possibly personal) value."""
    raw = amazon_order()
    raw["orderItems"][0]["quantityOrdered"] = "Jane Doe"
    with pytest.raises(AmazonOrderInvalid) as error:
        to_canonical(raw)
    assert "orderItems.0.quantityOrdered" in str(error.value)
    assert "Jane" not in str(error.value)


def test_plan_keys_the_order_and_lines_by_amazon_ids() -> None:
    """salesorder by new_amazonorderid; lines by (order id, order item id)."""
    plan = plan_order(to_canonical(amazon_order()), load_mapping(), LOOKUPS)
    assert plan.salesorder.entity_set == "salesorders"
    assert plan.salesorder.key == {"new_amazonorderid": "113-1234567-1234567"}
    assert plan.lines[0].key == {
        "new_amazonorderid": "113-1234567-1234567",
        "new_amazonorderitemid": "10000000000001",
    }
    assert plan.lines[0].binds["salesorderid"] == Reference(
        "salesorders", {"new_amazonorderid": "113-1234567-1234567"}
    )


def test_salesorder_fields_follow_the_default_mapping() -> None:
    """Name, marketplace, channel, status, totals and the split ship-to address."""
    fields = plan_order(to_canonical(amazon_order()), load_mapping(), LOOKUPS).salesorder.fields
    assert fields["name"] == "Amazon 113-1234567-1234567"
    assert fields["new_amazonmarketplaceid"] == "ATVPDKIKX0DER"
    assert fields["new_amazonfulfillmentchannel"] == "MFN"
    assert fields["new_amazonorderstatus"] == "UNSHIPPED"
    assert fields["new_amazongrandtotal"] == 52.97
    assert fields["freightamount"] == 4.99
    assert (
        fields["shipto_city"],
        fields["shipto_stateorprovince"],
        fields["shipto_postalcode"],
        fields["shipto_country"],
    ) == (
        "Seattle",
        "WA",
        "98101",
        "US",
    )


def test_default_pii_policy_masks_names_and_omits_street_phone_email() -> None:
    """Buyer name masked, street, phone and email left out, by default."""
    plan = plan_order(to_canonical(amazon_order()), load_mapping(), LOOKUPS)
    fields = plan.salesorder.fields
    assert fields["shipto_name"] == "J*** Q*** D***"
    assert fields["shipto_line1"] is None
    assert fields["shipto_telephone"] is None
    everything = repr(plan)
    for secret in ("Jane", "Doe", "1200 Pine Street", "+1 206 555 0100", "x7k2m9q4r@marketplace.amazon.com"):
        assert secret not in everything


def test_identifiable_buyers_become_guest_contacts_with_a_stable_id() -> None:
    """The hash of Amazon's anonymized email is the contact's key, the same for every order of that buyer."""
    plan = plan_order(to_canonical(amazon_order()), load_mapping(), LOOKUPS)
    other = plan_order(to_canonical(amazon_order(orderId="113-0000000-0000001")), load_mapping(), LOOKUPS)
    assert plan.customer.entity_set == "contacts"
    assert plan.customer.key == other.customer.key
    assert plan.customer.key["new_amazonbuyerid"] == pii.buyer_id("x7k2m9q4r@marketplace.amazon.com")
    assert plan.customer.fields["lastname"] == "D***"
    assert "emailaddress1" in plan.customer.fields
    assert plan.customer.fields["emailaddress1"] is None
    assert plan.salesorder.binds["customerid_contact"] == Reference("contacts", plan.customer.key)


def test_anonymous_buyers_go_to_the_marketplace_account() -> None:
    """AFN orders carry no buyer email: the order goes to the marketplace's account."""
    raw = amazon_order(buyer={"buyerName": "Jane Q Doe"})
    plan = plan_order(to_canonical(raw), load_mapping(), LOOKUPS)
    assert plan.customer.entity_set == "accounts"
    assert plan.customer.key == {"new_amazonmarketplaceid": "ATVPDKIKX0DER"}
    assert plan.customer.fields["name"] == "Amazon customers (Amazon.com)"
    assert "customerid_account" in plan.salesorder.binds


def test_known_skus_link_the_product_and_its_unit() -> None:
    """A SKU found in Dataverse binds productid and uomid, with Amazon's price overriding the price list."""
    line = plan_order(to_canonical(amazon_order()), load_mapping(), LOOKUPS).lines[0]
    assert line.binds["productid"] == Reference("products", PRODUCT.product_id)
    assert line.binds["uomid"] == Reference("uoms", PRODUCT.uom_id or "")
    assert line.fields["isproductoverridden"] is False
    assert line.fields["ispriceoverridden"] is True
    assert line.fields["priceperunit"] == 22.49
    assert line.fields["quantity"] == 2.0
    assert line.fields["tax"] == 3.0


def test_unknown_skus_become_write_in_lines_and_are_reported() -> None:
    """Default policy: unknown SKU -> write-in line (isproductoverridden + productdescription), reported."""
    lookups = Lookups(currency_ids={"USD": USD}, price_list_ids={}, products={})
    plan = plan_order(to_canonical(amazon_order()), load_mapping(), lookups)
    line = plan.lines[0]
    assert line.fields["isproductoverridden"] is True
    assert line.fields["productdescription"] == "SKU-1 Enamel mug"
    assert "productid" not in line.binds
    assert plan.unknown_skus == ("SKU-1",)
    assert not plan.hold


def test_hold_policy_holds_orders_with_unknown_skus(tmp_path: Path) -> None:
    """With unknown_sku = "hold" the plan is marked held."""
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text('[products]\nunknown_sku = "hold"\n')
    lookups = Lookups(currency_ids={"USD": USD}, price_list_ids={}, products={})
    plan = plan_order(to_canonical(amazon_order()), load_mapping(mapping_file), lookups)
    assert plan.hold
    assert plan.unknown_skus == ("SKU-1",)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("PENDING", (0, 2)),
        ("UNSHIPPED", (1, 3)),
        ("PARTIALLY_SHIPPED", (1, 3)),
        ("SHIPPED", (3, 100001)),
        ("CANCELLED", (2, 4)),
        ("UNFULFILLABLE", (2, 4)),
    ],
)
def test_status_table_maps_amazon_status_to_state_and_status_reason(
    status: str, state: tuple[int, int]
) -> None:
    """The default status table."""
    raw = amazon_order(fulfillment={"fulfillmentStatus": status, "fulfilledBy": "MERCHANT"})
    target = plan_order(to_canonical(raw), load_mapping(), LOOKUPS).target_state
    assert (target.statecode, target.statuscode) == state


def test_a_mapping_file_changes_columns_statuses_and_pii_without_code(tmp_path: Path) -> None:
    """MAPPING_FILE overrides merge over the defaults."""
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text(
        "[status]\nUNSHIPPED = { statecode = 0, statuscode = 1 }\n"
        '[columns.salesorder]\nmarketplace_id = "{prefix}marketplace"\nship_to_phone = ""\n'
        '[pii]\nship_to_street = "keep"\n'
    )
    plan = plan_order(to_canonical(amazon_order()), load_mapping(mapping_file, prefix="cr1a_"), LOOKUPS)
    assert (plan.target_state.statecode, plan.target_state.statuscode) == (0, 1)
    assert plan.salesorder.fields["cr1a_marketplace"] == "ATVPDKIKX0DER"
    assert "shipto_telephone" not in plan.salesorder.fields
    assert plan.salesorder.fields["shipto_line1"] == "1200 Pine Street"
    assert plan.salesorder.key == {"cr1a_amazonorderid": "113-1234567-1234567"}


def test_invalid_mapping_files_fail_with_the_path_of_the_problem(tmp_path: Path) -> None:
    """A status reason that does not belong to its state is refused at start-up."""
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text("[status]\nSHIPPED = { statecode = 3, statuscode = 4 }\n")
    with pytest.raises(ConfigurationError, match=r"status\.SHIPPED"):
        load_mapping(mapping_file)


def test_unknown_currencies_are_a_permanent_error() -> None:
    """An order in a currency Dataverse does not have cannot be written."""
    lookups = Lookups(currency_ids={}, price_list_ids={}, products={})
    with pytest.raises(UnknownCurrency, match="USD"):
        plan_order(to_canonical(amazon_order()), load_mapping(), lookups)


def test_configured_price_list_must_exist(tmp_path: Path) -> None:
    """A configured price list that Dataverse does not have is reported by name."""
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text('[salesorder]\nprice_lists = { default = "Amazon" }\n')
    with pytest.raises(PriceListNotFound, match="Amazon"):
        plan_order(to_canonical(amazon_order()), load_mapping(mapping_file), LOOKUPS)
    lookups = Lookups(
        currency_ids={"USD": USD},
        price_list_ids={"Amazon": "44444444-0000-0000-0000-000000000001"},
        products={},
    )
    plan = plan_order(to_canonical(amazon_order()), load_mapping(mapping_file), lookups)
    assert plan.salesorder.binds["pricelevelid"] == Reference(
        "pricelevels", "44444444-0000-0000-0000-000000000001"
    )


def test_pending_orders_use_the_marketplace_currency() -> None:
    """With no money in Amazon's answer yet, the marketplace's currency is used."""
    raw = amazon_order(fulfillment={"fulfillmentStatus": "PENDING", "fulfilledBy": "MERCHANT"})
    del raw["proceeds"]
    raw["orderItems"][0]["product"].pop("price")
    raw["orderItems"][0].pop("proceeds")
    plan = plan_order(to_canonical(raw), load_mapping(), LOOKUPS)
    assert plan.salesorder.binds["transactioncurrencyid"] == Reference("transactioncurrencies", USD)
    assert plan.lines[0].fields["priceperunit"] == 0.0


def test_content_hash_changes_with_content_only() -> None:
    """Same order, same hash; a changed status or quantity, a new hash."""
    mapping = load_mapping()
    first = plan_order(to_canonical(amazon_order()), mapping, LOOKUPS).content_hash
    again = plan_order(to_canonical(amazon_order()), mapping, LOOKUPS).content_hash
    shipped = amazon_order(fulfillment={"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"})
    changed = plan_order(to_canonical(shipped), mapping, LOOKUPS).content_hash
    assert first == again
    assert first != changed


def test_long_text_is_cut_to_dataverse_column_lengths() -> None:
    """A 400-character title fits productdescription's 500 limit with the SKU; name fits 300."""
    raw = amazon_order()
    raw["orderItems"][0]["product"]["title"] = "T" * 600
    lookups = Lookups(currency_ids={"USD": USD}, price_list_ids={}, products={})
    line = plan_order(to_canonical(raw), load_mapping(), lookups).lines[0]
    assert len(line.fields["productdescription"]) == 500


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("Jane Doe", "J*** D***"),
        ("Li", "L***"),
        ("jane@example.com", "j***@example.com"),
        ("  Ann  ", "A***"),
    ],
)
def test_masking_keeps_initials_and_hides_length(value: str, masked: str) -> None:
    """Masking shows initials only, never the length of a word."""
    assert pii.mask(value) == masked


def test_buyer_ids_are_stable_and_case_insensitive() -> None:
    """The same relay address (any case, any padding) gives the same buyer id."""
    assert pii.buyer_id("ABC@marketplace.amazon.com ") == pii.buyer_id("abc@marketplace.amazon.com")
    assert pii.buyer_id("abc@marketplace.amazon.com").startswith("amzn-")

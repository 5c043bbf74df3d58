"""The declaration of what the app needs: names from the effective mapping, the publisher prefix, the feature
registry and its merge rules, the subscriptions, and the queue ARN the destination names."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.mapping.config import load_mapping
from shared.model.crm_schema import Column, ColumnType, Feature, Subscription
from shared.provision.amazon import queue_arn
from shared.provision.schema import notifications, orders
from shared.provision.schema.context import SchemaContext
from shared.provision.schema.registry import declare_all, feature_modules


def context(
    prefix: str = "new_", mapping_text: str | None = None, tmp_path: Path | None = None
) -> SchemaContext:
    path = None
    if mapping_text is not None:
        assert tmp_path is not None
        path = tmp_path / "mapping.toml"
        path.write_text(mapping_text, "utf-8")
    return SchemaContext(prefix, load_mapping(path, prefix=prefix), ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"))


def columns_of(feature: Feature) -> dict[tuple[str, str], Column]:
    return {(column.table, column.name): column for column in feature.columns}


def test_the_default_mapping_declares_the_custom_columns_with_the_types_it_writes() -> None:
    """Every custom column of defaults.toml is declared under new_ with the type and length it is written with."""
    declared = columns_of(orders.declare(context()))
    custom = {name: column for name, column in declared.items() if name[1].startswith("new_")}

    assert {(t, n): (c.type, c.max_length) for (t, n), c in custom.items()} == {
        ("salesorder", "new_amazonorderid"): (ColumnType.STRING, 100),
        ("salesorder", "new_amazonmarketplaceid"): (ColumnType.STRING, 20),
        ("salesorder", "new_amazonfulfillmentchannel"): (ColumnType.STRING, 10),
        ("salesorder", "new_amazonorderstatus"): (ColumnType.STRING, 40),
        ("salesorder", "new_amazonlastupdatedtime"): (ColumnType.DATETIME, None),
        ("salesorder", "new_amazongrandtotal"): (ColumnType.MONEY, None),
        ("salesorderdetail", "new_amazonorderid"): (ColumnType.STRING, 100),
        ("salesorderdetail", "new_amazonorderitemid"): (ColumnType.STRING, 100),
        ("salesorderdetail", "new_amazonsellersku"): (ColumnType.STRING, 200),
        ("salesorderdetail", "new_amazonasin"): (ColumnType.STRING, 20),
        ("contact", "new_amazonbuyerid"): (ColumnType.STRING, 100),
        ("account", "new_amazonmarketplaceid"): (ColumnType.STRING, 20),
    }
    assert declared[("salesorder", "description")].type is ColumnType.MEMO


def test_a_renamed_column_and_another_prefix_are_what_is_declared(tmp_path: Path) -> None:
    """MAPPING_FILE renames reach the declaration: the renamed column and the keys over it, under DATAVERSE_PREFIX."""
    feature = orders.declare(
        context(
            "contoso_",
            '[columns.salesorder]\norder_id = "{prefix}ordernumber"\n'
            '[columns.salesorderdetail]\norder_item_id = "{prefix}lineid"\n',
            tmp_path,
        )
    )
    declared = columns_of(feature)
    keys = {key.name: key for key in feature.keys}

    assert ("salesorder", "contoso_ordernumber") in declared
    assert ("salesorder", "contoso_amazonorderid") not in declared
    assert keys["contoso_amazonorderkey"].columns == ("contoso_ordernumber",)
    assert keys["contoso_amazonorderitemkey"].columns == ("contoso_amazonorderid", "contoso_lineid")
    assert all(name.startswith("contoso_") for name in keys)


def test_a_field_mapped_to_nothing_is_not_declared(tmp_path: Path) -> None:
    """A column set to "" in the mapping is never written, so it is neither created nor checked."""
    feature = orders.declare(
        context(mapping_text='[columns.salesorder]\nship_to_phone = ""\n', tmp_path=tmp_path)
    )

    assert ("salesorder", "shipto_telephone") not in columns_of(feature)


def test_marketplace_accounts_only_need_no_contact_columns_or_keys(tmp_path: Path) -> None:
    """With customer mode marketplace_account no contact is written: no buyer id column, no buyer key."""
    feature = orders.declare(
        context(mapping_text='[customer]\nmode = "marketplace_account"\n', tmp_path=tmp_path)
    )

    assert {column.table for column in feature.columns} == {"salesorder", "salesorderdetail", "account"}
    assert {key.table for key in feature.keys} == {"salesorder", "salesorderdetail", "account"}


def test_order_change_is_filtered_to_the_configured_marketplaces() -> None:
    """ORDER_CHANGE subscribes with an ORDER_CHANGE event filter of the seller's marketplaces; the other types
    ask for the payload versions the envelope parser reads."""
    subscriptions = {s.notification_type: s for s in notifications.declare(context()).subscriptions}

    order_filter = subscriptions["ORDER_CHANGE"].processing_directive
    assert order_filter == {
        "eventFilter": {
            "eventFilterType": "ORDER_CHANGE",
            "marketplaceIds": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"],
            "orderChangeTypes": ["OrderStatusChange", "BuyerRequestedChange"],
        }
    }
    assert subscriptions["REPORT_PROCESSING_FINISHED"].payload_version == "2020-09-04"
    assert subscriptions["FBA_INVENTORY_AVAILABILITY_CHANGES"].processing_directive is None
    assert {
        kind: subscriptions[kind].payload_version for kind in subscriptions if kind.startswith("LISTINGS_")
    } == {
        "LISTINGS_ITEM_STATUS_CHANGE": "1.0",
        "LISTINGS_ITEM_ISSUES_CHANGE": "2023-12-13",  # the newer of the two versions the parser reads
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": "1.0",
    }


def test_the_registry_finds_every_feature_module() -> None:
    """Each module of shared/provision/schema with a declare() is a feature; a new one needs no other edit."""
    names = [module.__name__.rsplit(".", 1)[1] for module in feature_modules()]

    assert names == sorted(names)
    assert {"orders", "notifications"} <= set(names)
    assert set(declare_all(context()).features) >= {"orders", "notifications"}


def test_two_features_declaring_one_column_differently_is_refused() -> None:
    """The same column declared with two types is a configuration error; declared identically, it merges."""
    text = Column("salesorder", "new_note", ColumnType.STRING, "Note", 100)
    memo = Column("salesorder", "new_note", ColumnType.MEMO, "Note", 100)

    merged = declare_all(context(), [Feature("a", columns=(text,)), Feature("b", columns=(text,))])
    assert merged.columns == (text,)
    with pytest.raises(ConfigurationError, match="salesorder"):
        declare_all(context(), [Feature("a", columns=(text,)), Feature("b", columns=(memo,))])
    twice = Subscription("ORDER_CHANGE", "1.0")
    with pytest.raises(ConfigurationError, match="ORDER_CHANGE"):
        declare_all(
            context(),
            [
                Feature("a", subscriptions=(twice,)),
                Feature("b", subscriptions=(Subscription("ORDER_CHANGE", "2.0"),)),
            ],
        )


@pytest.mark.parametrize(
    ("url", "region", "arn"),
    [
        (
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
            "us-east-1",
            "arn:aws:sqs:eu-west-1:123456789012:orders",
        ),
        (
            "https://eu-west-1.queue.amazonaws.com/123456789012/orders",
            "us-east-1",
            "arn:aws:sqs:eu-west-1:123456789012:orders",
        ),
        (
            "http://127.0.0.1:5000/123456789012/orders",
            "us-west-2",
            "arn:aws:sqs:us-west-2:123456789012:orders",
        ),
    ],
)
def test_the_queue_arn_comes_from_the_queue_url(url: str, region: str, arn: str) -> None:
    """The account and queue come from the path; the region from the host, else from AWS_REGION."""
    assert queue_arn(url, region) == arn


def test_a_queue_url_without_account_and_name_is_refused() -> None:
    """A URL that does not name /<account>/<queue> is a configuration error naming SQS_QUEUE_URL."""
    with pytest.raises(ConfigurationError, match="SQS_QUEUE_URL"):
        queue_arn("https://sqs.eu-west-1.amazonaws.com/orders", "eu-west-1")

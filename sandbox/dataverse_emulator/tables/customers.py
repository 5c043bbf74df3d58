"""Customers: account and contact, with the lookups their CDM documents define among the emulated tables.

`masterid` (the surviving record after a merge) is set by the Merge message only, so it is read-only here.
"""

from __future__ import annotations

from ..schema import (
    REQUIRED,
    USERS,
    Column,
    ColumnType,
    Origin,
    RequiredLevel,
    Table,
    TableInfo,
    audit,
    lookup,
    make_table,
    primary_id,
    state_status,
    text,
    two_state,
    typed,
)

_ADDRESS_1 = (("line1", 250), ("city", 80), ("stateorprovince", 50), ("postalcode", 20), ("country", 80))


def _customer_common() -> list[Column]:
    return [
        text("emailaddress1", 100),
        text("telephone1", 50),
        text("description", 2000),
        *(
            Column(
                f"address1_{part}",
                ColumnType.STRING,
                max_length=length,
                origin=Origin.ADDRESS,
                cdm_reference="address",
            )
            for part, length in _ADDRESS_1
        ),
        lookup("transactioncurrencyid", "transactioncurrencies"),
        lookup("preferredsystemuserid", USERS),
        typed("exchangerate", ColumnType.DECIMAL, computed=True),
        *state_status(),
        *audit(Origin.BASE),
    ]


def contact() -> Table:
    columns = [
        primary_id("contactid"),
        text("firstname", 50, RequiredLevel.RECOMMENDED),
        text("lastname", 50, REQUIRED),
        Column("fullname", ColumnType.STRING, max_length=160, valid_for_create=False, valid_for_update=False),
        lookup("parentcustomerid", "accounts", "contacts"),
        lookup("masterid", "contacts", read_only=True),
        *_customer_common(),
    ]
    info = TableInfo("Contact", 2, "Contact", "Contacts", primary_name="fullname")
    return make_table("contact", "contacts", "Contact.cdm.json", columns, info, state=two_state(1, 2))


def account() -> Table:
    columns = [
        primary_id("accountid"),
        text("name", 160, REQUIRED),
        text("accountnumber", 20),
        lookup("primarycontactid", "contacts"),
        lookup("parentaccountid", "accounts"),
        lookup("masterid", "accounts", read_only=True),
        *_customer_common(),
    ]
    info = TableInfo("Account", 1, "Account", "Accounts", primary_name="name")
    return make_table("account", "accounts", "Account.cdm.json", columns, info, state=two_state(1, 2))

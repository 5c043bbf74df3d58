"""The Dataverse emulator's documented Web API behaviour, exercised over real sockets with `requests`."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests

from sandbox.dataverse_emulator import DataverseEmulator
from sandbox.dataverse_seed import CURRENCY_IDS, PRICE_LIST_ID, PRODUCT_IDS, PRODUCTS, SPECIAL_SKUS, UNIT_ID
from sandbox.http_emulator import Fault

pytestmark = pytest.mark.sockets

P = "new_"  # publisher prefix
TIMEOUT = 10
JSON = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
REPRESENTATION = {**JSON, "Prefer": "return=representation"}


class _Http:
    """`requests` with a timeout on every call, so a hung emulator fails a test instead of stalling the run."""

    @staticmethod
    def get(target: str, timeout: float = TIMEOUT, **kwargs: Any) -> requests.Response:
        return requests.request("GET", target, timeout=timeout, **kwargs)

    @staticmethod
    def post(target: str, **kwargs: Any) -> requests.Response:
        return requests.request("POST", target, timeout=TIMEOUT, **kwargs)

    @staticmethod
    def patch(target: str, **kwargs: Any) -> requests.Response:
        return requests.request("PATCH", target, timeout=TIMEOUT, **kwargs)

    @staticmethod
    def delete(target: str, **kwargs: Any) -> requests.Response:
        return requests.request("DELETE", target, timeout=TIMEOUT, **kwargs)


http = _Http()


@pytest.fixture
def dv() -> Iterator[DataverseEmulator]:
    with DataverseEmulator(prefix=P) as emulator:
        emulator.load_seed()
        yield emulator


# --- builders -------------------------------------------------------------------------------------------------
def url(dv: DataverseEmulator, path: str) -> str:
    return f"{dv.service_root}/{path}"


def literal(value: str) -> str:
    """An OData string literal, quotes doubled, percent-encoded for the URL."""
    return quote("'" + value.replace("'", "''") + "'", safe="")


def order_key(amazon_order_id: str) -> str:
    return f"salesorders({P}amazonorderid={literal(amazon_order_id)})"


def order_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Amazon order",
        "customerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-00000000a001)",
        "pricelevelid@odata.bind": f"/pricelevels({PRICE_LIST_ID})",
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS['USD']})",
        **extra,
    }


def product_line(order_ref: str, item_id: str, sku: str = "MUG-CER-350-WHT", **extra: Any) -> dict[str, Any]:
    return {
        "salesorderid@odata.bind": order_ref,
        "productid@odata.bind": f"/products({PRODUCT_IDS[sku]})",
        "uomid@odata.bind": f"/uoms({UNIT_ID})",
        "quantity": 1,
        "priceperunit": 10,
        f"{P}amazonorderitemid": item_id,
        **extra,
    }


def upsert_order(dv: DataverseEmulator, amazon_order_id: str, **extra: Any) -> dict[str, Any]:
    response = http.patch(
        url(dv, order_key(amazon_order_id)), json=order_body(**extra), headers=REPRESENTATION
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def with_account(dv: DataverseEmulator) -> None:
    dv.seed(
        "accounts",
        {
            "accountid": "00000000-0000-0000-0000-00000000a001",
            "name": "Amazon.com",
            f"{P}amazonmarketplaceid": "ATVPDKIKX0DER",
        },
    )


def error_of(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


# --- $batch builders (independent of the connector's codec on purpose) --------------------------------------
@dataclass
class Part:
    method: str
    url: str
    body: dict[str, Any] | None = None
    content_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def encode_batch(items: list[Part | list[Part]], newline: str = "\r\n") -> tuple[str, bytes]:
    import json

    boundary = f"batch_{uuid.uuid4()}"
    lines: list[str] = []

    def part(item: Part) -> list[str]:
        head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
        if item.content_id:
            head.append(f"Content-ID: {item.content_id}")
        head += ["", f"{item.method} {item.url} HTTP/1.1"]
        head += [f"{name}: {value}" for name, value in item.headers.items()]
        if item.body is not None:
            head += ["Content-Type: application/json; type=entry", "", json.dumps(item.body)]
        else:
            head += ["", ""]
        return head

    for item in items:
        lines.append(f"--{boundary}")
        if isinstance(item, list):
            changeset = f"changeset_{uuid.uuid4()}"
            lines += [f"Content-Type: multipart/mixed; boundary={changeset}", ""]
            for inner in item:
                lines.append(f"--{changeset}")
                lines += part(inner)
            lines += [f"--{changeset}--", ""]
        else:
            lines += part(item)
    lines += [f"--{boundary}--", ""]
    return f"multipart/mixed; boundary={boundary}", newline.join(lines).encode("utf-8")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    content_id: str | None


def decode_batch(response: requests.Response) -> list[Answer | list[Answer]]:
    def boundary(content_type: str) -> str:
        return content_type.split("boundary=")[1].strip('"')

    def parts(text: str, marker: str) -> list[tuple[dict[str, str], str]]:
        out = []
        for chunk in text.split(f"--{marker}")[1:]:
            if chunk.startswith("--"):
                break
            head, _, content = chunk.removeprefix("\r\n").partition("\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.split("\r\n") if ": " in line)
            out.append(({k.lower(): v for k, v in headers.items()}, content.removesuffix("\r\n")))
        return out

    def answer(headers: dict[str, str], content: str) -> Answer:
        status_line, _, rest = content.partition("\r\n")
        head, _, body = rest.partition("\r\n\r\n")
        inner = dict(line.split(": ", 1) for line in head.split("\r\n") if ": " in line)
        return Answer(int(status_line.split(" ")[1]), inner, body.strip(), headers.get("content-id"))

    items: list[Answer | list[Answer]] = []
    for headers, content in parts(response.text, boundary(response.headers["Content-Type"])):
        if headers.get("content-type", "").startswith("multipart/mixed"):
            items.append([answer(h, c) for h, c in parts(content, boundary(headers["content-type"]))])
        else:
            items.append(answer(headers, content))
    return items


def post_batch(dv: DataverseEmulator, items: list[Part | list[Part]], **headers: str) -> requests.Response:
    content_type, body = encode_batch(items)
    return http.post(url(dv, "$batch"), data=body, headers={**JSON, "Content-Type": content_type, **headers})


# --- authentication -----------------------------------------------------------------------------------------
def test_requests_without_the_configured_bearer_token_are_401_with_a_challenge() -> None:
    """With a bearer token configured, a request without it (or with another) gets 401 and a Bearer challenge."""
    with DataverseEmulator(bearer_token="s3cret") as dv:
        missing = http.get(url(dv, "accounts"), headers=JSON)
        wrong = http.get(url(dv, "accounts"), headers={**JSON, "Authorization": "Bearer other"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def test_the_configured_bearer_token_is_accepted() -> None:
    """A request carrying the configured bearer token is served."""
    with DataverseEmulator(bearer_token="s3cret") as dv:
        response = http.get(url(dv, "accounts"), headers={**JSON, "Authorization": "Bearer s3cret"})
    assert response.status_code == 200


def test_anonymous_requests_are_served_when_no_token_is_configured(dv: DataverseEmulator) -> None:
    """Without a configured token (DATAVERSE_AUTH=none) anonymous requests are served."""
    assert http.get(url(dv, "WhoAmI"), headers=JSON).json()["UserId"]


# --- create and retrieve ------------------------------------------------------------------------------------
def test_create_answers_204_with_the_new_rows_entity_id(dv: DataverseEmulator) -> None:
    """POST creates the row and answers 204 with OData-EntityId naming it."""
    response = http.post(url(dv, "contacts"), json={"lastname": "Doe"}, headers=JSON)
    assert response.status_code == 204
    contact_id = response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    assert response.headers["OData-EntityId"] == url(dv, f"contacts({contact_id})")
    assert dv.get_by_key("contacts", contactid=contact_id) is not None


def test_create_with_return_representation_answers_201_with_the_selected_columns(
    dv: DataverseEmulator,
) -> None:
    """With Prefer: return=representation a create answers 201 and the body honours $select."""
    response = http.post(
        url(dv, "contacts?$select=firstname,fullname"),
        json={"firstname": "Ann", "lastname": "Lee"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"@odata.context", "@odata.etag", "firstname", "fullname", "contactid"}
    assert body["fullname"] == "Ann Lee"


def test_retrieve_returns_every_column_with_etag_and_lookup_values(dv: DataverseEmulator) -> None:
    """GET by id returns all columns, `_x_value` lookups and an @odata.etag of W/"<versionnumber>"."""
    product_id = PRODUCT_IDS["SKU&AND"]
    body = http.get(url(dv, f"products({product_id})"), headers=JSON).json()
    assert body["productnumber"] == "SKU&AND"
    assert body["_defaultuomid_value"] == UNIT_ID
    assert body["@odata.etag"] == f'W/"{body["versionnumber"]}"'
    assert body["@odata.context"].endswith("$metadata#products/$entity")


def test_lookup_annotations_are_returned_when_asked_for(dv: DataverseEmulator) -> None:
    """Prefer: odata.include-annotations="*" adds the lookup's target table to `_x_value` properties."""
    headers = {**JSON, "Prefer": 'odata.include-annotations="*"'}
    body = http.get(url(dv, f"products({PRODUCT_IDS['SKU#HASH']})"), headers=headers).json()
    assert body["_defaultuomid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "uom"


def test_conditional_retrieve_with_the_current_etag_answers_304(dv: DataverseEmulator) -> None:
    """If-None-Match with the row's current ETag answers 304 Not Modified."""
    first = http.get(url(dv, f"products({PRODUCT_IDS['SKU?Q']})"), headers=JSON)
    second = http.get(
        url(dv, f"products({PRODUCT_IDS['SKU?Q']})"),
        headers={**JSON, "If-None-Match": first.json()["@odata.etag"]},
    )
    assert second.status_code == 304


def test_retrieve_by_single_and_composite_alternate_keys(dv: DataverseEmulator) -> None:
    """Rows are addressable by their alternate key, including the two-column order-line key."""
    with_account(dv)
    order = upsert_order(dv, "111-0000001-0000001")
    order_ref = f"/salesorders({order['salesorderid']})"
    line_url = url(
        dv,
        f"salesorderdetails({P}amazonorderid={literal('111-0000001-0000001')},{P}amazonorderitemid={literal('ITEM-1')})",
    )
    assert http.patch(line_url, json=product_line(order_ref, "ITEM-1"), headers=JSON).status_code == 204
    assert (
        http.get(url(dv, order_key("111-0000001-0000001")), headers=JSON).json()["salesorderid"]
        == order["salesorderid"]
    )
    line = http.get(line_url, headers=JSON).json()
    assert line["_salesorderid_value"] == order["salesorderid"]
    assert line[f"{P}amazonorderid"] == "111-0000001-0000001"


def test_missing_rows_are_404_object_does_not_exist(dv: DataverseEmulator) -> None:
    """A missing row is 404 0x80040217, worded by id or by alternate key as Dataverse words it."""
    missing_id = str(uuid.uuid4())
    by_id = error_of(http.get(url(dv, f"accounts({missing_id})"), headers=JSON))
    by_key = error_of(http.get(url(dv, order_key("999-nope")), headers=JSON))
    assert by_id == (404, "0x80040217", f"account With Id = {missing_id} Does Not Exist")
    assert by_key == (
        404,
        "0x80040217",
        "A record with the specified key values does not exist in salesorder entity",
    )


def test_unknown_entity_sets_are_404_resource_not_found(dv: DataverseEmulator) -> None:
    """An unknown entity set is 404 0x8006088a "Resource not found for the segment"."""
    expected = (404, "0x8006088a", "Resource not found for the segment 'Account'.")
    assert error_of(http.get(url(dv, "Account"), headers=JSON)) == expected


def test_unknown_properties_are_refused_with_the_payload_error(dv: DataverseEmulator) -> None:
    """A body naming an undeclared property is 400 0x80048d19 naming the property but not its value."""
    status, code, message = error_of(
        http.post(
            url(dv, "contacts"), json={"lastname": "X", "emailadress1": "buyer@example.com"}, headers=JSON
        )
    )
    assert (status, code) == (400, "0x80048d19")
    assert "'emailadress1' does not exist on type 'Microsoft.Dynamics.CRM.contact'" in message
    assert "buyer@example.com" not in message


def test_unknown_navigation_properties_are_refused(dv: DataverseEmulator) -> None:
    """Binding an undeclared navigation property (e.g. `customerid@odata.bind`) is 400 0x80048d19."""
    status, code, message = error_of(
        http.post(
            url(dv, "salesorders"),
            json={"name": "x", "customerid@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)"},
            headers=JSON,
        )
    )
    assert (status, code) == (400, "0x80048d19")
    assert "undeclared property 'customerid'" in message


def test_lookup_names_and_computed_columns_cannot_be_written(dv: DataverseEmulator) -> None:
    """`_x_value` is read-only (400 0x80048d19) and platform-computed columns are not valid for create (0x80040203)."""
    lookup = error_of(
        http.post(url(dv, "salesorders"), json={"_customerid_value": str(uuid.uuid4())}, headers=JSON)
    )
    computed = error_of(
        http.post(url(dv, "contacts"), json={"lastname": "Doe", "fullname": "Jane Doe"}, headers=JSON)
    )
    assert lookup[:2] == (400, "0x80048d19")
    assert computed[:2] == (400, "0x80040203")


def test_text_longer_than_the_column_allows_is_refused(dv: DataverseEmulator) -> None:
    """A value longer than the column's maximum length is 400 0x80044331 with the documented wording."""
    assert error_of(
        http.post(url(dv, "accounts"), json={"name": "A", "accountnumber": "X" * 21}, headers=JSON)
    ) == (
        400,
        "0x80044331",
        "A validation error occurred.  The length of the 'accountnumber' attribute of the 'account' entity exceeded the maximum allowed length of '20'.",
    )


def test_values_of_the_wrong_type_are_refused_without_echoing_them(dv: DataverseEmulator) -> None:
    """A value of the wrong type is 400 0x80048d19; the message names the property, never the value."""
    status, code, message = error_of(
        http.post(url(dv, "contacts"), json={"lastname": "Doe", "telephone1": 4155550123}, headers=JSON)
    )
    assert (status, code) == (400, "0x80048d19")
    assert "telephone1" in message
    assert "4155550123" not in message


# --- update, upsert, delete ---------------------------------------------------------------------------------
def test_patch_without_conditions_creates_then_updates_and_writes_the_key(dv: DataverseEmulator) -> None:
    """PATCH by alternate key upserts: 204 creating (key value written into the row), 204 updating."""
    key_url = url(dv, f"contacts({P}amazonbuyerid={literal('amzn1.buyer.A1')})")
    assert http.patch(key_url, json={"lastname": "Doe"}, headers=JSON).status_code == 204
    assert http.patch(key_url, json={"firstname": "Jo"}, headers=JSON).status_code == 204
    [contact] = dv.records("contacts")
    assert (contact[f"{P}amazonbuyerid"], contact["fullname"]) == ("amzn1.buyer.A1", "Jo Doe")


def test_upsert_with_return_representation_is_201_when_created_and_200_when_updated(
    dv: DataverseEmulator,
) -> None:
    """With return=representation an upsert answers 201 for a create and 200 for an update."""
    key_url = url(dv, f"accounts({P}amazonmarketplaceid={literal('A1F83G8C2ARO7P')})")
    created = http.patch(key_url, json={"name": "Amazon.co.uk"}, headers=REPRESENTATION)
    updated = http.patch(key_url, json={"name": "Amazon UK"}, headers=REPRESENTATION)
    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json()["name"] == "Amazon UK"


def test_if_none_match_star_only_creates(dv: DataverseEmulator) -> None:
    """If-None-Match: * creates a missing row and answers 412 0x80040237 when it exists."""
    key_url = url(dv, f"contacts({P}amazonbuyerid={literal('B-1')})")
    headers = {**JSON, "If-None-Match": "*"}
    assert http.patch(key_url, json={"lastname": "One"}, headers=headers).status_code == 204
    expected = (412, "0x80040237", "A record with matching key values already exists.")
    assert error_of(http.patch(key_url, json={"lastname": "Two"}, headers=headers)) == expected
    contact = dv.get_by_key("contacts", **{f"{P}amazonbuyerid": "B-1"})
    assert contact is not None
    assert contact["lastname"] == "One"


def test_if_match_star_only_updates(dv: DataverseEmulator) -> None:
    """If-Match: * answers 404 for a missing row (nothing created) and updates an existing one."""
    key_url = url(dv, f"contacts({P}amazonbuyerid={literal('B-2')})")
    headers = {**JSON, "If-Match": "*"}
    assert error_of(http.patch(key_url, json={"lastname": "X"}, headers=headers))[:2] == (
        404,
        "0x80040217",
    )
    assert dv.records("contacts") == []
    http.patch(key_url, json={"lastname": "X"}, headers=JSON)
    assert http.patch(key_url, json={"lastname": "Y"}, headers=headers).status_code == 204


def test_if_match_etag_applies_optimistic_concurrency(dv: DataverseEmulator) -> None:
    """If-Match with a stale ETag is 412 0x80060882; with the current ETag the update succeeds."""
    product_url = url(dv, f"products({PRODUCT_IDS['BK-NOTE-A5-DOT']})")
    stale = http.get(product_url, headers=JSON).json()["@odata.etag"]
    http.patch(product_url, json={"description": "v2"}, headers=JSON)
    assert error_of(http.patch(product_url, json={"description": "v3"}, headers={**JSON, "If-Match": stale}))[
        :2
    ] == (412, "0x80060882")
    current = http.get(product_url, headers=JSON).json()["@odata.etag"]
    assert (
        http.patch(product_url, json={"description": "v3"}, headers={**JSON, "If-Match": current}).status_code
        == 204
    )


def test_delete_answers_204_and_honours_if_match(dv: DataverseEmulator) -> None:
    """DELETE answers 204 and the row is gone; a stale If-Match ETag is 412 and deletes nothing."""
    response = http.post(url(dv, "accounts"), json={"name": "Gone"}, headers=REPRESENTATION)
    account_url = url(dv, f"accounts({response.json()['accountid']})")
    assert http.delete(account_url, headers={**JSON, "If-Match": 'W/"1"'}).status_code == 412
    assert http.delete(account_url, headers=JSON).status_code == 204
    assert http.get(account_url, headers=JSON).status_code == 404


def test_duplicate_alternate_keys_are_refused(dv: DataverseEmulator) -> None:
    """Creating a second row with an existing alternate-key value (any case) is 412 0x80040237."""
    http.post(url(dv, "contacts"), json={"lastname": "A", f"{P}amazonbuyerid": "dup-1"}, headers=JSON)
    duplicate = http.post(
        url(dv, "contacts"), json={"lastname": "B", f"{P}amazonbuyerid": "DUP-1"}, headers=JSON
    )
    assert error_of(duplicate)[:2] == (412, "0x80040237")


# --- literals, encoding and keys ----------------------------------------------------------------------------
@pytest.mark.parametrize("sku", SPECIAL_SKUS)
def test_special_character_skus_are_found_by_filter(dv: DataverseEmulator, sku: str) -> None:
    """Each special-character SKU round-trips through quote doubling and percent-encoding in $filter."""
    response = http.get(
        url(dv, f"products?$select=productnumber&$filter=productnumber eq {literal(sku)}"), headers=JSON
    )
    assert [row["productnumber"] for row in response.json()["value"]] == [sku]


@pytest.mark.parametrize("buyer_id", ["O'Brien", "buyer#1", "CAFÉ-Ü-ß", "a,b=c (d)"])
def test_addressable_key_values_round_trip(dv: DataverseEmulator, buyer_id: str) -> None:
    """Key values with quotes, '#', commas, parentheses or non-ASCII work in key addressing once encoded."""
    key_url = url(dv, f"contacts({P}amazonbuyerid={literal(buyer_id)})")
    assert http.patch(key_url, json={"lastname": "Key"}, headers=JSON).status_code == 204
    assert http.get(key_url, headers=JSON).json()[f"{P}amazonbuyerid"] == buyer_id


@pytest.mark.parametrize("character", list("/<>*%&:\\?+"))
def test_unaddressable_key_values_are_refused_but_filterable(dv: DataverseEmulator, character: str) -> None:
    """Alternate-key values with / < > * % & : \\ ? + are refused in key addressing, yet match in $filter."""
    value = f"X{character}Y"
    refused = http.patch(
        url(dv, f"contacts({P}amazonbuyerid={literal(value)})"), json={"lastname": "K"}, headers=JSON
    )
    status, code, message = error_of(refused)
    assert (status, code) == (400, "0x80060888")
    assert f"contains '{character}'" in message
    http.post(url(dv, "contacts"), json={"lastname": "K", f"{P}amazonbuyerid": value}, headers=JSON)
    found = http.get(url(dv, f"contacts?$filter={P}amazonbuyerid eq {literal(value)}"), headers=JSON).json()[
        "value"
    ]
    assert [row[f"{P}amazonbuyerid"] for row in found] == [value]


def test_keys_must_be_a_defined_alternate_key(dv: DataverseEmulator) -> None:
    """Addressing by a column that is not an alternate key is 400 with Dataverse's "key in the request URI" error."""
    status, _, message = error_of(http.get(url(dv, f"contacts(lastname={literal('Doe')})"), headers=JSON))
    assert status == 400
    assert message.startswith(
        "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.contact'."
    )


# --- queries ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("price eq 12.5", {"MUG-CER-350-WHT", "MUG-CER-350-BLU"}),
        ("price gt 50", {"SKU'QUOTE"}),
        ("price ge 49.99 and price lt 59", {"B07-KTL-STL-17L"}),
        ("price le 3.49 or productnumber eq 'sku#hash'", {"SKU%PCT", "SKU#HASH"}),
        ("not (price ge 5) and productnumber ne 'SKU%PCT'", {"SKU#HASH"}),
        ("(price lt 5 or price gt 50) and not startswith(productnumber,'SKU%')", {"SKU#HASH", "SKU'QUOTE"}),
        ("contains(name,'kettle') and endswith(productnumber,'1L')", {"B07-KTL-BLK-1L"}),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='productnumber',PropertyValues=['SKU+PLUS','SKU/SLASH','none'])",
            {"SKU+PLUS", "SKU/SLASH"},
        ),
        (f"_defaultuomid_value eq {UNIT_ID} and productnumber eq 'CAFÉ-Ü-ß'", {"CAFÉ-Ü-ß"}),
        ("description eq null and productnumber eq 'SKU?Q'", {"SKU?Q"}),
        ("description ne null", set()),
        ("modifiedon gt 2000-01-01T00:00:00Z and quantitydecimal eq 0 and statecode eq 0", set(PRODUCTS)),
    ],
)
def test_filters_select_the_matching_rows(dv: DataverseEmulator, expression: str, expected: set[str]) -> None:
    """$filter supports comparisons, and/or/not, parentheses, string functions, In(), lookups, null and dates."""
    response = http.get(
        url(dv, f"products?$select=productnumber&$filter={quote(expression, safe='')}"), headers=JSON
    )
    assert response.status_code == 200, response.text
    assert {row["productnumber"] for row in response.json()["value"]} == expected


def test_unknown_filter_columns_and_mismatched_literals_are_400(dv: DataverseEmulator) -> None:
    """An unknown property in $filter, or a GUID column compared with a string, is 400 0x80060888."""
    unknown = error_of(http.get(url(dv, "products?$filter=sku eq 'x'"), headers=JSON))
    mismatch = error_of(http.get(url(dv, f"products?$filter=productid eq '{UNIT_ID}'"), headers=JSON))
    assert unknown == (
        400,
        "0x80060888",
        "Could not find a property named 'sku' on type 'Microsoft.Dynamics.CRM.product'.",
    )
    assert mismatch[:2] == (400, "0x80060888")
    assert "incompatible types" in mismatch[2]


def test_unknown_select_columns_and_skip_are_400(dv: DataverseEmulator) -> None:
    """An unknown $select property is 400, and $skip is refused as Dataverse refuses it."""
    assert error_of(http.get(url(dv, "products?$select=Name"), headers=JSON))[:2] == (400, "0x80060888")
    assert (
        error_of(http.get(url(dv, "products?$skip=5"), headers=JSON))[2]
        == "Skip Clause is not supported in CRM"
    )


def test_orderby_and_top_shape_the_result(dv: DataverseEmulator) -> None:
    """$orderby sorts (desc, then asc on ties) and $top limits the rows."""
    response = http.get(
        url(dv, "products?$select=productnumber,price&$orderby=price desc,productnumber asc&$top=3"),
        headers=JSON,
    )
    assert [row["productnumber"] for row in response.json()["value"]] == [
        "SKU'QUOTE",
        "B07-KTL-STL-17L",
        "B07-KTL-BLK-1L",
    ]
    assert response.json()["value"][0]["price"] == 59


def test_paging_follows_next_links_to_the_last_page(dv: DataverseEmulator) -> None:
    """odata.maxpagesize pages the result; @odata.nextLink is absolute, keeps the query, and ends on the last page."""
    headers = {**JSON, "Prefer": "odata.maxpagesize=7"}
    next_url: str | None = url(
        dv, "products?$select=productnumber&$filter=quantitydecimal eq 0&$orderby=productnumber"
    )
    pages: list[list[str]] = []
    while next_url:
        response = http.get(next_url, headers=headers)
        assert response.headers["Preference-Applied"] == "odata.maxpagesize=7"
        pages.append([row["productnumber"] for row in response.json()["value"]])
        next_url = response.json().get("@odata.nextLink")
        assert next_url is None or (
            next_url.startswith(dv.service_root)
            and "$skiptoken=" in next_url
            and "quantitydecimal" in next_url
        )
    assert [len(page) for page in pages] == [7, 7, 6]
    assert [sku for page in pages for sku in page] == sorted(PRODUCTS)


def test_response_shape_is_odata(dv: DataverseEmulator) -> None:
    """A query answers {"@odata.context", "value"} and $count adds @odata.count."""
    body = http.get(url(dv, "transactioncurrencies?$select=isocurrencycode&$count=true"), headers=JSON).json()
    assert body["@odata.context"] == f"{dv.service_root}/$metadata#transactioncurrencies(isocurrencycode)"
    assert body["@odata.count"] == 5
    assert len(body["value"]) == 5


# --- lookups ------------------------------------------------------------------------------------------------
def test_binds_by_alternate_key_set_the_lookup(dv: DataverseEmulator) -> None:
    """`customerid_contact@odata.bind` by alternate key sets `_customerid_value` to that contact."""
    http.patch(
        url(dv, f"contacts({P}amazonbuyerid={literal('buyer-9')})"), json={"lastname": "Nine"}, headers=JSON
    )
    body = order_body(
        **{"customerid_contact@odata.bind": f"/contacts({P}amazonbuyerid={literal('buyer-9')})"}
    )
    del body["customerid_account@odata.bind"]
    order = http.post(url(dv, "salesorders"), json=body, headers=REPRESENTATION).json()
    contact = dv.get_by_key("contacts", **{f"{P}amazonbuyerid": "buyer-9"})
    assert contact is not None
    assert order["_customerid_value"] == contact["contactid"]


def test_binds_to_missing_rows_are_404_object_does_not_exist(dv: DataverseEmulator) -> None:
    """Binding a lookup to a row that does not exist is 404 0x80040217, and nothing is created."""
    missing = str(uuid.uuid4())
    response = http.post(
        url(dv, "salesorders"),
        json=order_body(**{"customerid_account@odata.bind": f"/accounts({missing})"}),
        headers=JSON,
    )
    assert error_of(response) == (404, "0x80040217", f"account With Id = {missing} Does Not Exist")
    assert dv.records("salesorders") == []


def test_binds_to_another_table_are_refused(dv: DataverseEmulator) -> None:
    """A navigation property bound to a row of the wrong table is a 400 payload error."""
    response = http.post(
        url(dv, "salesorders"),
        json={"name": "x", "pricelevelid@odata.bind": f"/uoms({UNIT_ID})"},
        headers=JSON,
    )
    assert error_of(response)[:2] == (400, "0x80048d19")


# --- sales order rules --------------------------------------------------------------------------------------
def test_new_orders_are_active_new_with_an_order_number(dv: DataverseEmulator) -> None:
    """A new order is Active/New, gets an ORD-01000-XXXXXX number, the price list's currency and zero totals."""
    with_account(dv)
    order = upsert_order(dv, "111-0000002-0000002")
    assert (order["statecode"], order["statuscode"], order["ispricelocked"]) == (0, 1, False)
    assert order["ordernumber"].startswith("ORD-01000-")
    assert len(order["ordernumber"]) == 16
    assert order["_transactioncurrencyid_value"] == CURRENCY_IDS["USD"]
    assert order["exchangerate"] == 1
    assert order["totalamount"] == 0


def test_salesorder_statecode_cannot_be_set_on_create(dv: DataverseEmulator) -> None:
    """Creating an order with statecode is refused (statecode is not valid for create)."""
    with_account(dv)
    response = http.post(url(dv, "salesorders"), json=order_body(statecode=1, statuscode=3), headers=JSON)
    assert error_of(response)[:2] == (400, "0x80040203")


def test_statuscode_must_belong_to_statecode(dv: DataverseEmulator) -> None:
    """A status reason of another state is 400 0x80048408, on create and on update."""
    with_account(dv)
    on_create = http.post(url(dv, "salesorders"), json=order_body(statuscode=100001), headers=JSON)
    upsert_order(dv, "111-3")
    on_update = http.patch(url(dv, order_key("111-3")), json={"statecode": 1, "statuscode": 1}, headers=JSON)
    assert error_of(on_create)[:2] == error_of(on_update)[:2] == (400, "0x80048408")


def test_orders_move_between_active_and_submitted_by_update(dv: DataverseEmulator) -> None:
    """PATCH may set Submitted (default status In Progress) and back to Active."""
    with_account(dv)
    upsert_order(dv, "111-4")
    submitted = http.patch(url(dv, order_key("111-4")), json={"statecode": 1}, headers=REPRESENTATION).json()
    active = http.patch(
        url(dv, order_key("111-4")), json={"statecode": 0, "statuscode": 2}, headers=REPRESENTATION
    ).json()
    assert (submitted["statecode"], submitted["statuscode"]) == (1, 3)
    assert (active["statecode"], active["statuscode"]) == (0, 2)


@pytest.mark.parametrize(
    ("state", "message"), [(2, "CancelSalesOrderRequest"), (3, "FulfillSalesOrderRequest")]
)
def test_updates_cannot_cancel_or_fulfil_an_order(dv: DataverseEmulator, state: int, message: str) -> None:
    """Setting Canceled or Fulfilled by PATCH is refused, pointing at the action to use."""
    with_account(dv)
    upsert_order(dv, "111-5")
    _, _, text = error_of(http.patch(url(dv, order_key("111-5")), json={"statecode": state}, headers=JSON))
    assert text.startswith("This message can not be used to set the state of SalesOrder")
    assert message in text


def cancel_or_fulfil(dv: DataverseEmulator, action: str, order_ref: str, status: int) -> requests.Response:
    body = {
        "OrderClose": {
            "@odata.type": "Microsoft.Dynamics.CRM.orderclose",
            "salesorderid@odata.bind": order_ref,
            "subject": "Closed by Amazon sync",
        },
        "Status": status,
    }
    return http.post(url(dv, action), json=body, headers=JSON)


def test_cancel_and_fulfil_actions_close_orders(dv: DataverseEmulator) -> None:
    """CancelSalesOrder (Status -1: default No Money) and FulfillSalesOrder (Partial) answer 204 and set the state."""
    with_account(dv)
    upsert_order(dv, "111-6")
    upsert_order(dv, "111-7")
    assert cancel_or_fulfil(dv, "CancelSalesOrder", f"/{order_key('111-6')}", -1).status_code == 204
    assert cancel_or_fulfil(dv, "FulfillSalesOrder", f"/{order_key('111-7')}", 100002).status_code == 204
    canceled = dv.get_by_key("salesorders", **{f"{P}amazonorderid": "111-6"})
    fulfilled = dv.get_by_key("salesorders", **{f"{P}amazonorderid": "111-7"})
    assert canceled is not None
    assert (canceled["statecode"], canceled["statuscode"]) == (2, 4)
    assert fulfilled is not None
    assert (fulfilled["statecode"], fulfilled["statuscode"]) == (3, 100002)


def test_action_status_must_belong_to_the_target_state(dv: DataverseEmulator) -> None:
    """Cancelling with a Fulfilled status reason is 400 0x80048408."""
    with_account(dv)
    upsert_order(dv, "111-8")
    assert error_of(cancel_or_fulfil(dv, "CancelSalesOrder", f"/{order_key('111-8')}", 100001))[:2] == (
        400,
        "0x80048408",
    )


def test_closing_a_closed_order_is_refused(dv: DataverseEmulator) -> None:
    """Cancelling or fulfilling an order that is already closed is 400 0x8004022e."""
    with_account(dv)
    upsert_order(dv, "111-9")
    cancel_or_fulfil(dv, "CancelSalesOrder", f"/{order_key('111-9')}", -1)
    again = cancel_or_fulfil(dv, "FulfillSalesOrder", f"/{order_key('111-9')}", -1)
    assert error_of(again) == (400, "0x8004022e", "The object cannot be updated because it is read-only.")


def test_actions_on_missing_orders_are_404(dv: DataverseEmulator) -> None:
    """Closing an order that does not exist is 404 0x80040217."""
    assert error_of(cancel_or_fulfil(dv, "CancelSalesOrder", f"/{order_key('nope')}", -1))[:2] == (
        404,
        "0x80040217",
    )


def test_closed_orders_and_their_lines_are_read_only(dv: DataverseEmulator) -> None:
    """After fulfilment the order refuses updates (0x8004022e) and its lines refuse changes (0x80043b09)."""
    with_account(dv)
    order = upsert_order(dv, "111-10")
    order_ref = f"/salesorders({order['salesorderid']})"
    line = http.post(
        url(dv, "salesorderdetails"), json=product_line(order_ref, "I-1"), headers=REPRESENTATION
    ).json()
    cancel_or_fulfil(dv, "FulfillSalesOrder", order_ref, -1)
    order_update = http.patch(url(dv, order_key("111-10")), json={"description": "late"}, headers=JSON)
    line_update = http.patch(
        url(dv, f"salesorderdetails({line['salesorderdetailid']})"), json={"quantity": 2}, headers=JSON
    )
    new_line = http.post(url(dv, "salesorderdetails"), json=product_line(order_ref, "I-2"), headers=JSON)
    assert error_of(order_update)[:2] == (400, "0x8004022e")
    assert error_of(line_update)[:2] == error_of(new_line)[:2] == (400, "0x80043b09")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"uomid@odata.bind": None}, "0x80043b0d"),  # a product without its unit
        ({"productdescription": "Also a write-in"}, "0x80043afb"),  # product and write-in together
    ],
)
def test_product_lines_need_a_unit_and_no_write_in_text(
    dv: DataverseEmulator, change: dict[str, Any], code: str
) -> None:
    """A line naming a product needs uomid and may not also carry productdescription."""
    with_account(dv)
    order = upsert_order(dv, "111-11")
    body = {**product_line(f"/salesorders({order['salesorderid']})", "I-1"), **change}
    assert error_of(http.post(url(dv, "salesorderdetails"), json=body, headers=JSON))[:2] == (400, code)


@pytest.mark.parametrize(
    ("write_in", "status"),
    [
        ({"isproductoverridden": True, "productdescription": "Gift wrap"}, 204),
        ({"isproductoverridden": True}, 400),  # no description
        ({"productdescription": "Gift wrap"}, 400),  # not flagged as a write-in
        ({}, 400),  # neither product nor write-in
    ],
)
def test_write_in_lines_need_the_flag_and_a_description(
    dv: DataverseEmulator, write_in: dict[str, Any], status: int
) -> None:
    """A line without a product must be a write-in: isproductoverridden and productdescription (else 0x80043b11)."""
    with_account(dv)
    order = upsert_order(dv, "111-12")
    body = {
        "salesorderid@odata.bind": f"/salesorders({order['salesorderid']})",
        "quantity": 1,
        "priceperunit": 2,
        **write_in,
    }
    response = http.post(url(dv, "salesorderdetails"), json=body, headers=JSON)
    assert response.status_code == status
    if status == 400:
        assert error_of(response)[1] == "0x80043b11"


def test_order_totals_follow_the_lines(dv: DataverseEmulator) -> None:
    """Totals use extendedamount = price * quantity - discount + tax, plus order freight and discount."""
    with_account(dv)
    order = upsert_order(dv, "111-13", freightamount=4.99, discountamount=1)
    ref = f"/salesorders({order['salesorderid']})"
    http.post(
        url(dv, "salesorderdetails"),
        json=product_line(ref, "A", quantity=2, priceperunit=12.5, manualdiscountamount=2, tax=1.84),
        headers=JSON,
    )
    second = http.post(
        url(dv, "salesorderdetails"),
        json=product_line(ref, "B", quantity=1, priceperunit=9.99, tax=0.8),
        headers=REPRESENTATION,
    ).json()
    assert second["baseamount"] == 9.99
    assert second["extendedamount"] == 10.79
    totals = http.get(url(dv, order_key("111-13")), headers=JSON).json()
    assert (totals["totallineitemamount"], totals["totaltax"], totals["totalamount"]) == (32.99, 2.64, 39.62)
    http.delete(url(dv, f"salesorderdetails({second['salesorderdetailid']})"), headers=JSON)
    assert http.get(url(dv, order_key("111-13")), headers=JSON).json()["totalamount"] == 28.83


def test_deleting_an_order_deletes_its_lines(dv: DataverseEmulator) -> None:
    """Order lines are parented by their order: deleting the order removes them."""
    with_account(dv)
    order = upsert_order(dv, "111-14")
    http.post(
        url(dv, "salesorderdetails"),
        json=product_line(f"/salesorders({order['salesorderid']})", "A"),
        headers=JSON,
    )
    assert http.delete(url(dv, order_key("111-14")), headers=JSON).status_code == 204
    assert dv.records("salesorderdetails") == []


# --- $batch -------------------------------------------------------------------------------------------------
def test_change_sets_resolve_content_id_references(dv: DataverseEmulator) -> None:
    """In a change set `$1` names the row created by Content-ID 1, in @odata.bind values and in URLs."""
    with_account(dv)
    root = dv.service_root
    change_set = [
        Part("POST", f"{root}/salesorders", order_body(**{f"{P}amazonorderid": "222-1"}), "1"),
        Part("POST", f"{root}/salesorderdetails", product_line("$1", "L1"), "2"),
        Part("PATCH", "$1", {"description": "patched through $1"}, "3"),
    ]
    response = post_batch(dv, [change_set])
    assert response.status_code == 200
    [answers] = decode_batch(response)
    assert isinstance(answers, list)
    assert [(a.status, a.content_id) for a in answers] == [(204, "1"), (204, "2"), (204, "3")]
    order = dv.get_by_key("salesorders", **{f"{P}amazonorderid": "222-1"})
    assert order is not None
    assert order["description"] == "patched through $1"
    assert answers[0].headers["OData-EntityId"].endswith(f"salesorders({order['salesorderid']})")
    assert dv.records("salesorderdetails")[0]["salesorderid"] == order["salesorderid"]


def test_a_failing_change_set_rolls_back_and_answers_with_the_failure(dv: DataverseEmulator) -> None:
    """If one request of a change set fails, earlier ones are undone and the failure alone answers."""
    with_account(dv)
    root = dv.service_root
    change_set = [
        Part("POST", f"{root}/salesorders", order_body(**{f"{P}amazonorderid": "222-2"}), "1"),
        Part("POST", f"{root}/salesorderdetails", product_line("$1", "L1"), "2"),
        Part(
            "POST", f"{root}/salesorderdetails", {**product_line("$1", "L2"), "uomid@odata.bind": None}, "3"
        ),
    ]
    response = post_batch(dv, [change_set])
    [answer] = decode_batch(response)
    assert isinstance(answer, Answer)
    assert (answer.status, answer.content_id) == (400, "3")
    assert '"0x80043b0d"' in answer.body
    assert response.status_code == 400
    assert dv.records("salesorders") == dv.records("salesorderdetails") == []
    assert post_batch(dv, [change_set[:2]]).status_code == 200  # the rolled-back key is free again


def test_without_continue_on_error_processing_stops_at_the_first_failure(dv: DataverseEmulator) -> None:
    """Without odata.continue-on-error the batch stops at the first failure and answers with its status."""
    items: list[Part | list[Part]] = [
        Part("POST", "accounts", {"name": "first"}),
        Part("POST", "accounts", {"name": "second", "bogus": 1}),
        Part("POST", "accounts", {"name": "third"}),
    ]
    response = post_batch(dv, items)
    answers = decode_batch(response)
    assert response.status_code == 400
    assert [a.status for a in answers if isinstance(a, Answer)] == [204, 400]
    assert sorted(row["name"] for row in dv.records("accounts")) == ["first"]


def test_continue_on_error_runs_every_request(dv: DataverseEmulator) -> None:
    """With odata.continue-on-error every request runs independently and the batch answers 200."""
    items: list[Part | list[Part]] = [
        Part("POST", "accounts", {"name": "first"}),
        Part("POST", "accounts", {"name": "second", "bogus": 1}),
        Part("POST", "accounts", {"name": "third"}),
    ]
    response = post_batch(dv, items, Prefer="odata.continue-on-error")
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "odata.continue-on-error"
    assert [a.status for a in decode_batch(response) if isinstance(a, Answer)] == [204, 400, 204]
    assert sorted(row["name"] for row in dv.records("accounts")) == ["first", "third"]


def test_batch_urls_may_be_absolute_root_relative_or_relative(dv: DataverseEmulator) -> None:
    """Parts may address resources with absolute, root-relative or service-relative URLs, and GETs return bodies."""
    product = PRODUCT_IDS["SKU/SLASH"]
    items: list[Part | list[Part]] = [
        Part("GET", f"{dv.service_root}/products({product})?$select=productnumber"),
        Part("GET", f"{dv.service_root_path}/products({product})?$select=productnumber"),
        Part("GET", f"products?$select=productnumber&$filter=productnumber eq {literal('SKU/SLASH')}"),
    ]
    answers = decode_batch(post_batch(dv, items))
    assert all(isinstance(a, Answer) and a.status == 200 and "SKU/SLASH" in a.body for a in answers)


def test_actions_run_inside_change_sets(dv: DataverseEmulator) -> None:
    """CancelSalesOrder can close an order created earlier in the same change set via `$1`."""
    with_account(dv)
    order_close = {"@odata.type": "Microsoft.Dynamics.CRM.orderclose", "salesorderid@odata.bind": "$1"}
    change_set = [
        Part("POST", "salesorders", order_body(**{f"{P}amazonorderid": "222-3"}), "1"),
        Part("POST", "CancelSalesOrder", {"OrderClose": order_close, "Status": -1}, "2"),
    ]
    assert post_batch(dv, [change_set]).status_code == 200
    order = dv.get_by_key("salesorders", **{f"{P}amazonorderid": "222-3"})
    assert order is not None
    assert order["statecode"] == 2


def test_batches_hold_at_most_1000_operations(dv: DataverseEmulator) -> None:
    """1000 operations are accepted; 1001 are refused with 400 before any runs."""

    def gets(count: int) -> list[Part | list[Part]]:
        return [Part("GET", f"uoms({UNIT_ID})?$select=name") for _ in range(count)]

    assert post_batch(dv, gets(1000)).status_code == 200
    too_many = post_batch(
        dv, [*gets(999), [Part("POST", "accounts", {"name": "x"}), Part("POST", "accounts", {"name": "y"})]]
    )
    assert error_of(too_many)[:2] == (400, "0x80060888")
    assert "'1000'" in error_of(too_many)[2]
    assert dv.records("accounts") == []


def test_unknown_content_id_references_are_400(dv: DataverseEmulator) -> None:
    """Referring to a Content-ID that was not declared earlier in the change set is 400."""
    response = post_batch(dv, [[Part("PATCH", "$7", {"name": "x"}, "1")]])
    [answer] = decode_batch(response)
    assert isinstance(answer, Answer)
    assert answer.status == 400
    assert "'$7' does not exist in the batch context" in answer.body


def test_get_is_not_allowed_inside_a_change_set(dv: DataverseEmulator) -> None:
    """A change set containing a GET is refused with 400."""
    [answer] = decode_batch(post_batch(dv, [[Part("GET", "accounts")]]))
    assert isinstance(answer, Answer)
    assert answer.status == 400


def test_batches_without_crlf_line_endings_are_unreadable(dv: DataverseEmulator) -> None:
    """A batch body framed with LF instead of CRLF is refused with Dataverse's "Stream was not readable" error."""
    content_type, body = encode_batch([Part("GET", "accounts")], newline="\n")
    response = http.post(url(dv, "$batch"), data=body, headers={**JSON, "Content-Type": content_type})
    assert error_of(response)[:2] == (400, "0x80048d19")
    assert "Stream was not readable" in error_of(response)[2]


# --- faults and counters ------------------------------------------------------------------------------------
def test_throttling_answers_429_with_retry_after_and_the_service_protection_error(
    dv: DataverseEmulator,
) -> None:
    """A THROTTLE fault is 429 with Retry-After and 0x80072322, and the next request is served."""
    dv.faults.retry_after_seconds = 7
    dv.faults.script(Fault.THROTTLE)
    throttled = http.get(url(dv, "accounts"), headers=JSON)
    assert throttled.headers["Retry-After"] == "7"
    assert error_of(throttled) == (
        429,
        "0x80072322",
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    )
    assert http.get(url(dv, "accounts"), headers=JSON).status_code == 200


@pytest.mark.parametrize(("fault", "status"), [(Fault.SERVER_ERROR, 500), (Fault.UNAVAILABLE, 503)])
def test_server_faults_answer_with_a_dataverse_error_body(
    dv: DataverseEmulator, fault: Fault, status: int
) -> None:
    """SERVER_ERROR and UNAVAILABLE faults answer 500/503 with a Dataverse error body."""
    dv.faults.script(fault)
    assert error_of(http.get(url(dv, "accounts"), headers=JSON)) == (
        status,
        "0x80040216",
        "An unexpected error occurred.",
    )


def test_dropped_connections_do_nothing(dv: DataverseEmulator) -> None:
    """A DROP fault closes the connection without carrying the request out."""
    dv.faults.script(Fault.DROP)
    with pytest.raises(requests.ConnectionError):
        http.post(url(dv, "accounts"), json={"name": "dropped"}, headers=JSON)
    assert dv.records("accounts") == []


def test_lost_responses_still_carry_the_request_out(dv: DataverseEmulator) -> None:
    """A LOST_RESPONSE fault performs the write, then closes the connection: the caller cannot know."""
    dv.faults.script(Fault.LOST_RESPONSE)
    with pytest.raises(requests.ConnectionError):
        http.post(url(dv, "accounts"), json={"name": "lost"}, headers=JSON)
    assert [row["name"] for row in dv.records("accounts")] == ["lost"]


def test_slow_responses_arrive_late_but_complete(dv: DataverseEmulator) -> None:
    """A SLOW fault answers normally after FaultPlan.slow_seconds."""
    dv.faults.slow_seconds = 0.2
    dv.faults.script(Fault.SLOW)
    with pytest.raises(requests.Timeout):
        http.get(url(dv, "accounts"), headers=JSON, timeout=0.05)
    dv.faults.script(Fault.SLOW)
    assert http.get(url(dv, "accounts"), headers=JSON, timeout=5).status_code == 200


def test_faults_can_target_one_operation(dv: DataverseEmulator) -> None:
    """FaultPlan.operations limits faults to the named operations."""
    dv.faults.operations = frozenset({"create:accounts"})
    dv.faults.script(Fault.THROTTLE)
    assert http.get(url(dv, "accounts"), headers=JSON).status_code == 200
    assert http.post(url(dv, "accounts"), json={"name": "x"}, headers=JSON).status_code == 429


def test_requests_are_counted_by_operation(dv: DataverseEmulator) -> None:
    """Every request is counted under its operation name; a $batch counts once, as "batch"."""
    with_account(dv)
    upsert_order(dv, "333-1")
    http.get(url(dv, order_key("333-1")), headers=JSON)
    http.get(url(dv, "products?$top=1"), headers=JSON)
    http.post(url(dv, "contacts"), json={"lastname": "C"}, headers=JSON)
    http.delete(url(dv, order_key("333-1")), headers=JSON)
    cancel_or_fulfil(dv, "CancelSalesOrder", f"/{order_key('gone')}", -1)
    post_batch(dv, [Part("GET", "accounts"), Part("GET", "contacts")])
    http.get(f"{dv.base_url}/somewhere/else")
    assert dv.requests.snapshot() == {
        "update:salesorders": 1,
        "retrieve:salesorders": 1,
        "query:products": 1,
        "create:contacts": 1,
        "delete:salesorders": 1,
        "action:CancelSalesOrder": 1,
        "batch": 1,
        "unknown": 1,
    }


# --- inspection helpers and concurrency ---------------------------------------------------------------------
def test_seed_loads_currencies_price_list_units_and_products(dv: DataverseEmulator) -> None:
    """The seed holds five currencies, the USD "Amazon" price list, one unit group and unit, and the products."""
    currencies = {row["isocurrencycode"]: row for row in dv.records("transactioncurrencies")}
    assert set(currencies) == {"USD", "EUR", "GBP", "CAD", "JPY"}
    assert currencies["USD"]["exchangerate"] == 1
    [price_list] = dv.records("pricelevels")
    assert (price_list["name"], price_list["transactioncurrencyid"]) == ("Amazon", CURRENCY_IDS["USD"])
    assert [row["name"] for row in dv.records("uomschedules")] == ["Default Unit"]
    assert [row["name"] for row in dv.records("uoms")] == ["Primary Unit"]
    products = dv.records("products")
    assert len(products) == len(PRODUCTS) >= 20
    assert all(
        p["defaultuomid"] == UNIT_ID and p["defaultuomscheduleid"] and p["statecode"] == 0 for p in products
    )
    assert set(SPECIAL_SKUS) <= {p["productnumber"] for p in products}


def test_records_are_deep_copies(dv: DataverseEmulator) -> None:
    """Changing what records() returns does not change the emulator's rows."""
    dv.records("products")[0]["name"] = "changed"
    assert "changed" not in {row["name"] for row in dv.records("products")}


def test_get_by_key_matches_text_case_insensitively(dv: DataverseEmulator) -> None:
    """get_by_key finds rows by any columns, comparing text the way SQL Server's collation does."""
    row = dv.get_by_key("products", productnumber="café-ü-SS".replace("SS", "ß"))
    assert row is not None
    assert row["productid"] == PRODUCT_IDS["CAFÉ-Ü-ß"]
    assert dv.get_by_key("products", productnumber="absent") is None


def test_concurrent_upserts_of_one_key_create_one_row(dv: DataverseEmulator) -> None:
    """Parallel upserts of the same alternate key leave exactly one row."""
    key_url = url(dv, f"contacts({P}amazonbuyerid={literal('race')})")
    statuses: list[int] = []

    def upsert(index: int) -> None:
        statuses.append(http.patch(key_url, json={"lastname": f"L{index}"}, headers=JSON).status_code)

    threads = [threading.Thread(target=upsert, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [204] * 8
    assert len(dv.records("contacts")) == 1

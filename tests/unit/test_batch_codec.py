"""The $batch codec: what Dataverse expects on the wire and how its answers are read back."""

from __future__ import annotations

import pytest

from shared.dataverse.batch import (
    ChangeSet,
    ChangeSetResponse,
    Operation,
    OperationResponse,
    decode_batch_response,
    encode_batch,
)

ROOT = "https://org.crm.dynamics.com/api/data/v9.2/"


def test_batch_request_is_multipart_with_crlf_and_change_sets() -> None:
    """Change sets nest inside the batch, every part is application/http, line endings are CRLF."""
    changeset = ChangeSet()
    first = changeset.add(Operation("PATCH", "contacts(new_amazonbuyerid='b1')", {"lastname": "X"}))
    changeset.add(
        Operation("PATCH", "salesorders(new_amazonorderid='1')", {"customerid_contact@odata.bind": first})
    )
    content_type, body = encode_batch([changeset, Operation("GET", "products?$top=1")], ROOT)
    text = body.decode()
    boundary = content_type.split("boundary=")[1]
    assert content_type.startswith("multipart/mixed; boundary=batch_")
    assert text.startswith(f"--{boundary}\r\n")
    assert text.endswith(f"--{boundary}--\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert text.count("Content-Type: application/http") == 3
    assert "Content-ID: 1\r\n" in text
    assert "Content-ID: 2\r\n" in text
    assert f"PATCH {ROOT}contacts(new_amazonbuyerid='b1') HTTP/1.1" in text
    assert '"customerid_contact@odata.bind":"$1"' in text
    assert f"GET {ROOT}products?$top=1 HTTP/1.1" in text


def test_content_id_references_stay_relative() -> None:
    """A "$1" URL is written as is, not prefixed with the API root."""
    changeset = ChangeSet()
    reference = changeset.add(Operation("POST", "salesorders", {"name": "x"}))
    changeset.add(Operation("PATCH", reference, {"statecode": 1}))
    _, body = encode_batch([changeset], ROOT)
    assert "PATCH $1 HTTP/1.1" in body.decode()


def test_non_ascii_bodies_are_utf8() -> None:
    """Bodies are UTF-8 JSON; non-ASCII is not escaped away."""
    _, body = encode_batch([Operation("PATCH", "contacts(x='1')", {"lastname": "Müller"})], ROOT)
    assert "Müller".encode() in body


def test_limits_are_enforced_before_sending() -> None:
    """Empty batches and batches over 1000 operations are refused locally."""
    with pytest.raises(ValueError, match="empty"):
        encode_batch([], ROOT)
    with pytest.raises(ValueError, match="at most 1000"):
        encode_batch([Operation("GET", "accounts")] * 1001, ROOT)


RESPONSE = (
    "--batchresponse_1\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_a\r\n"
    "\r\n"
    "--changesetresponse_a\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-ID: 1\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "OData-EntityId: https://org/api/data/v9.2/contacts(11111111-1111-1111-1111-111111111111)\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_a\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-ID: 2\r\n"
    "\r\n"
    "HTTP/1.1 201 Created\r\n"
    "Content-Type: application/json; odata.metadata=minimal\r\n"
    "\r\n"
    '{"salesorderid":"22222222-2222-2222-2222-222222222222"}\r\n'
    "--changesetresponse_a--\r\n"
    "--batchresponse_1\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    '{"error":{"code":"0x80060888","message":"Could not find a property named \'bogus\'."}}\r\n'
    "--batchresponse_1--\r\n"
)


def test_batch_response_is_decoded_per_item() -> None:
    """A change set answers with its parts; a failed standalone request with its error body."""
    items = decode_batch_response("multipart/mixed; boundary=batchresponse_1", RESPONSE.encode())
    assert len(items) == 2
    changeset, failed = items
    assert isinstance(changeset, ChangeSetResponse)
    assert changeset.ok
    assert [response.status for response in changeset.responses] == [204, 201]
    assert changeset.responses[0].headers["odata-entityid"].endswith("(11111111-1111-1111-1111-111111111111)")
    assert changeset.responses[1].body == {"salesorderid": "22222222-2222-2222-2222-222222222222"}
    assert changeset.responses[1].content_id == "2"
    assert isinstance(failed, OperationResponse)
    assert failed.status == 400
    assert failed.body["error"]["code"] == "0x80060888"


def test_lf_only_responses_are_tolerated() -> None:
    """Some proxies rewrite line endings; the decoder does not depend on CRLF."""
    items = decode_batch_response(
        "multipart/mixed; boundary=batchresponse_1", RESPONSE.replace("\r\n", "\n").encode()
    )
    assert [type(item) for item in items] == [ChangeSetResponse, OperationResponse]


def test_failed_change_set_reports_its_failure() -> None:
    """A change set with a non-2xx part is not ok and exposes that part."""
    response = ChangeSetResponse([OperationResponse(412, {}, {"error": {"code": "0x80060882"}})])
    assert not response.ok
    assert response.failure is not None
    assert response.failure.status == 412

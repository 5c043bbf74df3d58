"""Dataverse client: headers, paging, typed errors and the retry rules, against scripted answers."""

from __future__ import annotations

import pytest
import requests

from shared.dataverse import odata
from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import (
    AmbiguousWrite,
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseThrottled,
    DataverseTransientError,
)
from shared.resilience import RetryPolicy
from tests.fakes import RecordingSleep, ScriptedAdapter, session_with

ORG = "https://org.crm.dynamics.com"
ENTITY = {"OData-EntityId": f"{ORG}/api/data/v9.2/salesorders(5d3c6b61-0f8a-4a55-8f27-3e9b1d2c4f10)"}


def client(
    adapter: ScriptedAdapter, sleep: RecordingSleep | None = None, token: str | None = "tok"
) -> DataverseClient:
    return DataverseClient(
        ORG,
        token_provider=(lambda: token) if token else None,
        retry=RetryPolicy(max_attempts=4, base_delay=0.01),
        sleep=sleep or RecordingSleep(),
        session=session_with(adapter),
    )


def upsert(dataverse: DataverseClient, key: dict[str, str], body: dict[str, object], **headers: str):
    path = odata.entity_path("salesorders", key)
    return dataverse.request("PATCH", path, body=body, headers=headers, idempotent=True, what="upsert")


def test_requests_carry_the_bearer_token_and_odata_headers() -> None:
    """A PATCH by alternate key: the key in the URL, bearer token and OData headers set, the answer decoded."""
    adapter = ScriptedAdapter((204, ENTITY, None))
    answer = upsert(client(adapter), {"new_amazonorderid": "113-1"}, {"name": "x"})
    request = adapter.requests[0]
    assert request.method == "PATCH"
    assert request.url == f"{ORG}/api/data/v9.2/salesorders(new_amazonorderid='113-1')"
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.headers["OData-Version"] == "4.0"
    assert "If-Match" not in request.headers
    assert (answer.status, answer.body) == (204, None)
    assert answer.headers["OData-EntityId"].endswith("(5d3c6b61-0f8a-4a55-8f27-3e9b1d2c4f10)")


def test_precondition_failure_is_typed() -> None:
    """412 from a create-only upsert is DataversePreconditionFailed with Dataverse's code."""
    adapter = ScriptedAdapter(
        (
            412,
            {},
            {"error": {"code": "0x80060882", "message": "A record with matching key values already exists."}},
        )
    )
    with pytest.raises(DataversePreconditionFailed) as error:
        upsert(client(adapter), {"k": "1"}, {}, **{"If-None-Match": "*"})
    assert adapter.requests[0].headers["If-None-Match"] == "*"
    assert error.value.code == "0x80060882"
    assert not error.value.transient


def test_get_returns_none_for_missing_records() -> None:
    """404 on a retrieve is an answer (None), not an error."""
    adapter = ScriptedAdapter((404, {}, {"error": {"code": "0x80040217", "message": "Does Not Exist"}}))
    assert client(adapter).get("salesorders", {"k": "1"}, select=("statecode",)) is None
    assert str(adapter.requests[0].url).endswith("salesorders(k='1')?$select=statecode")


def test_query_follows_next_links() -> None:
    """query() yields every page, following @odata.nextLink, with the page size preference."""
    next_link = f"{ORG}/api/data/v9.2/products?$skiptoken=abc"
    adapter = ScriptedAdapter(
        (200, {}, {"value": [{"n": 1}, {"n": 2}], "@odata.nextLink": next_link}),
        (200, {}, {"value": [{"n": 3}]}),
    )
    rows = list(
        client(adapter).query("products", filter="productnumber eq 'A&B'", select=("n",), page_size=2)
    )
    assert [row["n"] for row in rows] == [1, 2, 3]
    assert adapter.requests[0].headers["Prefer"] == "odata.maxpagesize=2"
    assert "%26" in str(adapter.requests[0].url)  # the & inside the literal is encoded
    assert adapter.requests[1].url == next_link


def test_throttling_honours_retry_after() -> None:
    """429 with Retry-After: 3 waits about three seconds, then succeeds."""
    sleep = RecordingSleep()
    adapter = ScriptedAdapter(
        (
            429,
            {"Retry-After": "3"},
            {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit"}},
        ),
        (204, ENTITY, None),
    )
    upsert(client(adapter, sleep), {"k": "1"}, {})
    assert len(adapter.requests) == 2
    assert 3.0 <= sleep.waits[0] <= 3.3


def test_service_unavailable_is_retried_with_backoff() -> None:
    """503 is transient: retried with a jittered backoff."""
    sleep = RecordingSleep()
    adapter = ScriptedAdapter((503, {}, None), (503, {}, None), (204, ENTITY, None))
    upsert(client(adapter, sleep), {"k": "1"}, {})
    assert len(adapter.requests) == 3
    assert len(sleep.waits) == 2


def test_retries_are_bounded() -> None:
    """A dependency that stays down surfaces a transient error after max_attempts."""
    adapter = ScriptedAdapter(default=(503, {}, {"error": {"code": "0x80040216", "message": "down"}}))
    with pytest.raises(DataverseTransientError) as error:
        upsert(client(adapter), {"k": "1"}, {})
    assert len(adapter.requests) == 4
    assert error.value.transient


def test_bad_requests_are_permanent_and_not_retried() -> None:
    """400 maps to DataverseError with code and message, after one attempt."""
    adapter = ScriptedAdapter(
        (400, {}, {"error": {"code": "0x80060888", "message": "Could not find a property named 'bogus'"}})
    )
    with pytest.raises(DataverseError) as error:
        upsert(client(adapter), {"k": "1"}, {"bogus": 1})
    assert len(adapter.requests) == 1
    assert error.value.code == "0x80060888"
    assert "bogus" in str(error.value)


def test_lost_answers_are_retried_for_idempotent_requests() -> None:
    """A dropped connection on an upsert (idempotent) is retried."""
    adapter = ScriptedAdapter(requests.exceptions.ConnectionError("Connection aborted"), (204, ENTITY, None))
    upsert(client(adapter), {"k": "1"}, {})
    assert len(adapter.requests) == 2


def test_lost_answers_are_ambiguous_for_actions() -> None:
    """A dropped connection on an action (not idempotent) is AmbiguousWrite and is not repeated."""
    adapter = ScriptedAdapter(requests.exceptions.ConnectionError("Connection aborted"))
    with pytest.raises(AmbiguousWrite):
        client(adapter).request(
            "POST", "CancelSalesOrder", body={"Status": 4}, idempotent=False, what="action:CancelSalesOrder"
        )
    assert len(adapter.requests) == 1


def test_gateway_timeouts_are_ambiguous_for_non_idempotent_batches() -> None:
    """504 on a $batch holding actions may hide a commit: AmbiguousWrite, no blind retry."""
    adapter = ScriptedAdapter((504, {}, None))
    from shared.dataverse.batch import Operation

    with pytest.raises(AmbiguousWrite):
        client(adapter).batch([Operation("POST", "CancelSalesOrder", {"Status": 4})], idempotent=False)
    assert len(adapter.requests) == 1


def test_unauthorized_forgets_the_cached_token() -> None:
    """A 401 invalidates the token provider's cache so the next call fetches a fresh token."""

    class Provider:
        invalidated = 0

        def __call__(self) -> str:
            return "tok"

        def invalidate(self) -> None:
            self.invalidated += 1

    provider = Provider()
    adapter = ScriptedAdapter((401, {}, {"error": {"code": "0x80072560", "message": "unauthorized"}}))
    dataverse = DataverseClient(
        ORG, token_provider=provider, session=session_with(adapter), sleep=RecordingSleep()
    )
    with pytest.raises(DataverseError):
        dataverse.get("salesorders", {"k": "1"})
    assert provider.invalidated == 1


def test_anonymous_mode_sends_no_authorization_header() -> None:
    """Without a token provider (sandbox) no Authorization header is sent."""
    adapter = ScriptedAdapter((200, {}, {"value": []}))
    list(client(adapter, token=None).query("products"))
    assert "Authorization" not in adapter.requests[0].headers


def test_throttled_errors_are_transient_and_typed() -> None:
    """429s that outlast the retries surface as DataverseThrottled with retry_after."""
    adapter = ScriptedAdapter(default=(429, {"Retry-After": "100"}, None))
    with pytest.raises(DataverseThrottled) as error:
        client(adapter).get("salesorders", {"k": "1"})
    assert error.value.retry_after == 100.0


def test_missing_record_on_update_is_not_found() -> None:
    """An update-only PATCH of a missing record is DataverseNotFound."""
    adapter = ScriptedAdapter(
        (404, {}, {"error": {"code": "0x80040217", "message": "salesorder Does Not Exist"}})
    )
    with pytest.raises(DataverseNotFound):
        upsert(client(adapter), {"k": "1"}, {"name": "x"}, **{"If-Match": "*"})


@pytest.mark.parametrize(
    "link",
    [
        "https://attacker.example/api/data/v9.2/products?$skiptoken=abc",
        "http://org.crm.dynamics.com/api/data/v9.2/products?$skiptoken=abc",  # TLS dropped
        "https://org.crm.dynamics.com:8443/api/data/v9.2/products",
    ],
)
def test_next_links_to_another_host_are_not_followed(link: str) -> None:
    """A nextLink off our environment (host, scheme or port) is refused: the bearer token never goes there."""
    adapter = ScriptedAdapter((200, {}, {"value": [{"n": 1}], "@odata.nextLink": link}))
    with pytest.raises(DataverseError, match="another host"):
        list(client(adapter).query("products"))
    assert len(adapter.requests) == 1


def test_next_links_on_our_environment_are_followed_with_the_default_port_spelled_out() -> None:
    """https://org:443/... is the same environment as https://org/..."""
    link = f"{ORG}:443/api/data/v9.2/products?$skiptoken=abc"
    adapter = ScriptedAdapter(
        (200, {}, {"value": [{"n": 1}], "@odata.nextLink": link}), (200, {}, {"value": [{"n": 2}]})
    )
    assert [row["n"] for row in client(adapter).query("products")] == [1, 2]

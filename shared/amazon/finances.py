"""Finances API 2024-06-19 `listTransactions`: every transaction posted in a time range, page by page.

Amazon's rules, each with the reason it matters:
- `postedBefore` must be at least two minutes in the past (Amazon refuses a later one with 400): we ask for
  `latest_postable()`, with a few seconds to spare for the clock difference;
- a range longer than 180 days answers an *empty* list, not an error, so a too-long range would silently lose
  transactions: `windows()` cuts ranges into pieces of at most MAX_RANGE;
- every page must repeat the first call's arguments next to `nextToken` (Amazon refuses the token alone) and
  tokens expire, so a range is read to its end in one go;
- "Financial events might not include orders from the last 48 hours": a transaction may appear up to 48 h
  after its posted date. The caller re-reads (flows/finance_sync.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.amazon.client import SpApi, SpApiSession
from shared.amazon.transaction_translation import AmazonTransactionInvalid, to_canonical
from shared.model.finance import FinanceTransaction, TransactionStatus

FINANCES_2024 = SpApi("sp_api.api.finances.finances_2024_06_19", "FinancesV20240619", "2024-06-19")
POSTING_LAG = timedelta(minutes=2)
CLOCK_SPARE = timedelta(seconds=10)
MAX_RANGE = timedelta(days=180)


def latest_postable(now: datetime) -> datetime:
    """The latest `postedBefore` Amazon accepts at `now`, to the second."""
    return (now - POSTING_LAG - CLOCK_SPARE).replace(microsecond=0)


def windows(
    start: datetime, end: datetime, *, longest: timedelta = MAX_RANGE
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive ranges of at most `longest` (and never longer than Amazon reads)."""
    step = min(longest, MAX_RANGE)
    while start < end:
        stop = min(start + step, end)
        yield start, stop
        start = stop


class FinancesApi:
    def __init__(self, session: SpApiSession) -> None:
        self._session = session

    def list_transactions(
        self,
        *,
        posted_after: datetime,
        posted_before: datetime,
        status: TransactionStatus | None = None,
    ) -> Iterator[FinanceTransaction | AmazonTransactionInvalid]:
        """Transactions posted in [posted_after, posted_before) (at most MAX_RANGE), every page; each page is
        rate-limited and retried on its own. One Amazon cannot describe comes as its error, so the page's
        others still count."""
        if posted_before - posted_after > MAX_RANGE:
            raise ValueError("listTransactions reads at most 180 days at once; cut the range with windows()")
        params: dict[str, Any] = {"postedAfter": _iso(posted_after), "postedBefore": _iso(posted_before)}
        if status is not None:
            params["transactionStatus"] = status.value
        while True:
            response = self._session.call(
                "listTransactions", FINANCES_2024, functools.partial(_page, params=dict(params))
            )
            payload = response.payload if isinstance(response.payload, dict) else {}
            for raw in payload.get("transactions") or []:
                yield _translated(raw)
            token = payload.get("nextToken") or response.next_token
            if not token:
                return
            params["nextToken"] = token  # with the same arguments, as Amazon wants


def _page(client: Any, *, params: dict[str, Any]) -> Any:
    return client.list_transactions(**params)


def _translated(raw: Any) -> FinanceTransaction | AmazonTransactionInvalid:
    if not isinstance(raw, dict):
        return AmazonTransactionInvalid("listTransactions returned an entry that is not a transaction object")
    try:
        return to_canonical(raw)
    except AmazonTransactionInvalid as exc:
        return exc


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

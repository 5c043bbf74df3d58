"""Progress, watermark and failure rows on Azurite: ETag-guarded saves, round trips, upserted failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.state.store import ConcurrentUpdate
from shared.state.watermarks import FailureRecord, ProgressRow, ProgressStore, Watermark, Window

pytestmark = pytest.mark.sockets

MOMENT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def progress(azurite, table_name):
    from azure.data.tables import TableServiceClient

    store = ProgressStore(
        TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(table_name)
    )
    yield store
    store.close()


def test_a_watermark_and_its_window_survive_a_round_trip(progress: ProgressStore) -> None:
    """Position, window, page token and its issue time come back as saved (UTC)."""
    window = Window(MOMENT - timedelta(hours=1), MOMENT, "token-1", MOMENT)
    saved = progress.save(Watermark(ProgressRow("sweep", "s"), MOMENT - timedelta(hours=2), window).to_row())
    read = progress.read("sweep", "s")
    assert read is not None
    assert read.etag == saved.etag
    again = Watermark.of(read)
    assert (again.position, again.window) == (MOMENT - timedelta(hours=2), window)


def test_two_runs_moving_one_row_cannot_both_win(progress: ProgressStore) -> None:
    """Both read the row; the first save wins, the second gets ConcurrentUpdate; creating it twice too."""
    first = progress.save(ProgressRow("jobs", "j1", {"Step": 1}))
    with pytest.raises(ConcurrentUpdate):
        progress.save(ProgressRow("jobs", "j1", {"Step": 1}))
    progress.save(first.with_fields(Step=2))
    with pytest.raises(ConcurrentUpdate):
        progress.save(first.with_fields(Step=3))
    read = progress.read("jobs", "j1")
    assert read is not None
    assert read.fields["Step"] == 2


def test_with_fields_none_removes_a_column(progress: ProgressStore) -> None:
    row = progress.save(ProgressRow("jobs", "j2", {"Cursor": "abc", "Step": 1}))
    progress.save(row.with_fields(Cursor=None))
    read = progress.read("jobs", "j2")
    assert read is not None
    assert "Cursor" not in read.fields
    assert [row.name for row in progress.read_all("jobs")] == ["j2"]


def test_a_failure_row_per_item_the_latest_failure_wins(progress: ProgressStore) -> None:
    """Recording an order twice keeps one row with the latest reason; other kinds are kept apart."""
    progress.record_failures("orders", [FailureRecord("111-1", "UnknownSku", "held", "orders-sweep")])
    progress.record_failures(
        "orders",
        [
            FailureRecord("111-1", "DataverseRejected", "refused", "orders-sweep"),
            FailureRecord("111-2", "AmazonOrderInvalid", "bad", "backfill x"),
        ],
    )
    failures = {failure.item_id: failure for failure in progress.failures("orders")}
    assert {item: failure.reason for item, failure in failures.items()} == {
        "111-1": "DataverseRejected",
        "111-2": "AmazonOrderInvalid",
    }
    assert failures["111-2"].failed_at is not None
    assert progress.failures("transactions") == []

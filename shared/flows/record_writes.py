"""Writing a flow's record units and accounting for each one: what landed, what Dataverse refused."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from shared.dataverse.record_batches import RecordBatches, WriteUnit

log = logging.getLogger(__name__)


def write_units(
    writer: RecordBatches, units: Sequence[WriteUnit], counts: Counter[str], *, flow: str
) -> list[bool]:
    """Which units landed. A unit refused for good is counted as `failed` and logged by its label (ids only);
    one that met passing trouble raises, so the run stops and the next one writes it (writes are upserts)."""
    if not units:
        return []
    landed = []
    for unit, error in zip(units, writer.write(units), strict=True):
        if error is not None and error.transient:
            raise error
        if error is not None:
            counts["failed"] += 1
            log.warning("%s: %s not written: %s", flow, unit.label, error.reason)
        landed.append(error is None)
    return landed

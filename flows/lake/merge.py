"""Merge arriving rows into a partition: one row per key, a declared winner, an exact count.

The merge is a pure function of (existing, arriving, key, winner), so it can be tested on any mix
of rows. Existing rows come first; "first" keeps the row that landed first for a key, "latest" the
last one to arrive. Duplicates already in a partition (left by an older, broken merge) collapse
to one row per key as well, so landing into a damaged partition heals it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Winner = Literal["first", "latest"]


@dataclass(frozen=True)
class Merged:
    table: pa.Table  # one row per key, sorted by key
    added: int  # keys the partition did not hold before
    replaced: int  # keys it held whose row an arriving one replaced ("latest" only)
    before: int  # rows the partition held before (duplicates included)
    added_about: pa.ChunkedArray | None = None  # the `about` column of the added rows, if asked

    @property
    def changed(self) -> bool:
        """Whether the partition must be written again."""
        return self.added > 0 or self.replaced > 0 or self.table.num_rows != self.before


def merge_rows(
    existing: pa.Table | None,
    arriving: pa.Table,
    key: tuple[str, ...],
    winner: Winner,
    about: str | None = None,
) -> Merged:
    """`existing` and `arriving` share one schema; returns the partition to write and its counts.

    With `about`, also that column of each row whose key is new (what the added rows are about).
    """
    before = existing.num_rows if existing is not None else 0
    combined = pa.concat_tables([existing, arriving]) if existing is not None else arriving
    positions = pa.array(np.arange(combined.num_rows, dtype=np.int64))
    groups = (
        combined.select(list(key))
        .append_column("_position", positions)
        .group_by(list(key), use_threads=False)
        .aggregate([("_position", "min"), ("_position", "max")])
    )
    first = groups["_position_min"]
    kept = first if winner == "first" else groups["_position_max"]
    from_existing = pc.less(first, before)  # the key was in the partition already
    arrived = pc.greater_equal(kept, before)  # the row kept is an arriving one
    added = pc.sum(pc.invert(from_existing).cast(pa.int64())).as_py() or 0
    replaced = pc.sum(pc.and_(from_existing, arrived).cast(pa.int64())).as_py() or 0
    table = combined.take(kept).sort_by([(name, "ascending") for name in key])
    added_about = None
    if about is not None:
        added_about = combined[about].take(pc.filter(kept, pc.invert(from_existing)))
    return Merged(table, added, replaced, before=before, added_about=added_about)

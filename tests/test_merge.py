"""The partition merge, on any mix of existing, repeated and new keys (property-based)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.lake.merge import merge_rows

KEY = ("id", "version")
SCHEMA = pa.schema([("id", pa.int64()), ("version", pa.int64()), ("value", pa.string())])

keys = st.tuples(st.integers(0, 6), st.integers(0, 2))
rows = st.lists(st.tuples(keys, st.text(max_size=3)), max_size=25)


def table(pairs: list[tuple[tuple[int, int], str]]) -> pa.Table:
    return pa.table(
        {
            "id": [key[0] for key, _ in pairs],
            "version": [key[1] for key, _ in pairs],
            "value": [value for _, value in pairs],
        },
        schema=SCHEMA,
    )


def as_dict(merged: pa.Table) -> dict[tuple[int, int], str]:
    return {(row["id"], row["version"]): row["value"] for row in merged.to_pylist()}


@settings(max_examples=300, deadline=None)
@given(existing=rows, arriving=rows, winner=st.sampled_from(["first", "latest"]))
def test_one_row_per_key_every_new_key_once_and_the_count_is_the_change(
    existing: list, arriving: list, winner: str
) -> None:
    merged = merge_rows(table(existing) if existing else None, table(arriving), KEY, winner)
    result = merged.table
    held = {key for key, _ in existing}
    new = {key for key, _ in arriving} - held

    assert len(as_dict(result)) == result.num_rows  # one row per key
    assert set(as_dict(result)) == held | {key for key, _ in arriving}  # no key lost
    assert merged.added == len(new)  # the reported count is exactly the new keys
    assert result.to_pylist() == sorted(result.to_pylist(), key=lambda r: (r["id"], r["version"]))

    everything = existing + arriving
    for key, value in as_dict(result).items():
        values = [v for k, v in everything if k == key]
        assert value == (values[0] if winner == "first" else values[-1])
    replaced = {key for key, _ in arriving} & held if winner == "latest" else set()
    assert merged.replaced == len(replaced)


def test_landing_the_same_rows_again_changes_nothing() -> None:
    rows_ = [((1, 0), "a"), ((2, 0), "b")]
    merged = merge_rows(table(rows_), table(rows_), KEY, "first")
    assert (merged.added, merged.replaced, merged.changed) == (0, 0, False)


def test_new_rows_after_old_ones_land_and_old_duplicates_collapse() -> None:
    """The defect this replaces kept the first k rows of existing + arriving instead."""
    damaged = table([((1, 0), "a"), ((1, 0), "a"), ((2, 0), "b")])  # a duplicate already in it
    merged = merge_rows(damaged, table([((2, 0), "b"), ((3, 0), "c"), ((4, 0), "d")]), KEY, "first")
    assert as_dict(merged.table) == {(1, 0): "a", (2, 0): "b", (3, 0): "c", (4, 0): "d"}
    assert (merged.added, merged.changed) == (2, True)


def test_an_empty_arrival_into_an_empty_partition() -> None:
    merged = merge_rows(None, table([]), KEY, "latest")
    assert (merged.table.num_rows, merged.added, merged.replaced) == (0, 0, 0)

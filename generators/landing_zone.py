"""The clickstream landing zone: one NDJSON file per hour of arrival, local or on S3.

A collector appends events as they arrive, so a file holds events received in its hour,
including events that happened days before (late arrivals) and, in dirty mode, broken lines.
The lines are formatted by DuckDB's `to_json` over the whole day at once; each hour file is then
a slice of the one text buffer, never a line formatted in Python.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from flows.lake.storage import is_object_store, write_atomically
from flows.sources.contract import landing_hour_path

OPTIONAL_KEYS = ("experiment_variant",)  # only present on the events that carry them
MICROS_PER_HOUR = 3_600_000_000
UPLOADS = 16  # concurrent PUTs to an object store


@cache
def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB for the process's formatting work (a connection costs ~10 ms)."""
    connection = duckdb.connect(config={"threads": "1"})
    connection.execute("set TimeZone = 'UTC'")
    return connection


def _json_object(schema: pa.Schema, omit: tuple[str, ...]) -> str:
    """DuckDB SQL for one event as a JSON object: timestamps as ISO text, `omit` left out."""
    fields = []
    for field in schema:
        if field.name in omit:
            continue
        value = field.name
        if pa.types.is_timestamp(field.type):
            value = f"strftime({field.name}, '%Y-%m-%dT%H:%M:%SZ')"
        fields.append(f"{field.name} := {value}")
    return f"to_json(struct_pack({', '.join(fields)}))"


def event_lines(events: pa.Table, malformed: pa.Table) -> tuple[np.ndarray, pa.LargeStringArray]:
    """Each line with its newline, sorted by arrival, and the arrival hour of each line.

    A key in OPTIONAL_KEYS appears only on the events that carry a value for it.
    """
    optional = tuple(key for key in OPTIONAL_KEYS if key in events.column_names)
    without = _json_object(events.schema, optional)
    line = without
    for key in optional:
        line = f"case when {key} is null then {without} else {_json_object(events.schema, ())} end"
    connection = _connection()
    connection.register("events", events)
    connection.register("malformed", malformed)
    try:
        result = connection.execute(
            f"""
            select epoch_us(received_at) as received, {line} || chr(10) as line from events
            union all
            select epoch_us(received_at), line || chr(10) from malformed
            """
        ).to_arrow_table()
    finally:
        connection.unregister("events")
        connection.unregister("malformed")
    # a stable sort: lines received in the same microsecond keep the order they were recorded
    # in, so an hour's file is the same whichever days were written together
    received = result["received"].to_numpy()
    order = np.argsort(received, kind="stable")
    hours = received[order] // MICROS_PER_HOUR
    lines = result["line"].combine_chunks().cast(pa.large_string()).take(pa.array(order))
    return hours, lines


def _hour_slices(
    hours: np.ndarray, lines: pa.LargeStringArray
) -> list[tuple[datetime, memoryview, int]]:
    """(hour, file content, lines) per arrival hour: views of the lines' one data buffer.

    A line never holds a newline of its own (JSON escapes them; a malformed line is JSON cut
    short), so an hour's lines are its rows.
    """
    if len(hours) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
    ends = np.r_[starts[1:], len(hours)]
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    data = memoryview(lines.buffers()[2])
    return [
        (
            datetime.fromtimestamp(int(hours[start]) * 3600, UTC),
            data[offsets[start] : offsets[end]],
            int(end - start),
        )
        for start, end in zip(starts, ends, strict=True)
    ]


@dataclass(frozen=True)
class HourFiles:
    """The hour files of some days' arrivals, formatted and not yet written."""

    files: list[tuple[str, memoryview]]  # path, content
    lines: int

    def write(self, fs: pafs.FileSystem) -> None:
        """Write (replace) every file, each whole or not at all."""
        if is_object_store(fs):  # a PUT is mostly waiting: send several at once
            with ThreadPoolExecutor(UPLOADS) as pool:
                list(pool.map(lambda file: write_atomically(fs, *file), self.files))
        else:
            for path, content in self.files:
                write_atomically(fs, path, content)


def hour_files(root: str, events: pa.Table, malformed: pa.Table) -> HourFiles:
    """The hour files of some days' arrivals: one per hour in which a line arrived."""
    hours, lines = event_lines(events, malformed)
    slices = _hour_slices(hours, lines)
    return HourFiles(
        files=[(landing_hour_path(root, hour), content) for hour, content, _ in slices],
        lines=sum(count for _, _, count in slices),
    )

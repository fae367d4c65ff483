"""The clickstream landing zone: one NDJSON file per hour of arrival, local or on S3.

A collector appends events as they arrive, so a file holds events received in its hour,
including events that happened days before (late arrivals) and, in dirty mode, broken lines.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from generators.objects import write_atomically

OPTIONAL_KEYS = ("experiment_variant",)  # only present on the events that carry them


def hour_path(root: str, received: datetime) -> str:
    return f"{root}/clickstream/{received:%Y/%m/%d}/events-{received:%Y%m%d%H}.ndjson"


def event_lines(events: pa.Table, malformed: pa.Table) -> dict[datetime, list[str]]:
    """NDJSON lines grouped by the hour they arrived in."""
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    hours = pc.floor_temporal(events["received_at"], unit="hour").to_pylist()
    text = events
    for index, column in enumerate(events.schema):
        if pa.types.is_timestamp(column.type):
            text = text.set_column(
                index, column.name, pc.strftime(events[column.name], "%Y-%m-%dT%H:%M:%SZ")
            )
    for hour, row in zip(hours, text.to_pylist(), strict=True):
        for key in OPTIONAL_KEYS:
            if row.get(key) is None:
                row.pop(key, None)
        by_hour[hour].append(json.dumps(row))
    malformed_hours = pc.floor_temporal(malformed["received_at"], unit="hour").to_pylist()
    for hour, line in zip(malformed_hours, malformed["line"].to_pylist(), strict=True):
        by_hour[hour].append(line)
    return by_hour


def write_hours(
    fs: pafs.FileSystem, root: str, events: pa.Table, malformed: pa.Table
) -> dict[str, int]:
    """Write (replace) the hour files of one day's arrivals; returns lines per file."""
    written = {}
    for hour, lines in sorted(event_lines(events, malformed).items()):
        path = hour_path(root, hour)
        write_atomically(fs, path, ("\n".join(lines) + "\n").encode())
        written[path] = len(lines)
    return written

"""The clickstream landing zone: one NDJSON file per hour of arrival, local or on S3.

A collector appends events as they arrive, so a file holds events received in its hour,
including events that happened days before (late arrivals) and, in dirty mode, broken lines.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import pyarrow as pa
import pyarrow.fs as pafs

from generators.objects import write_atomically

OPTIONAL_KEYS = ("experiment_variant",)  # only present on the events that carry them


def hour_path(root: str, received: datetime) -> str:
    return f"{root}/clickstream/{received:%Y/%m/%d}/events-{received:%Y%m%d%H}.ndjson"


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def event_lines(events: pa.Table, malformed: pa.Table) -> dict[datetime, list[str]]:
    """NDJSON lines grouped by the hour they arrived in."""
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    for row in events.to_pylist():
        for key in OPTIONAL_KEYS:
            if row.get(key) is None:
                row.pop(key, None)
        hour = row["received_at"].replace(minute=0, second=0, microsecond=0)
        by_hour[hour].append(json.dumps({key: _json_value(v) for key, v in row.items()}))
    for row in malformed.to_pylist():
        by_hour[row["received_at"].replace(minute=0, second=0, microsecond=0)].append(row["line"])
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

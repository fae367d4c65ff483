"""What each source has delivered so far, kept with the lake: `_state/<source>.json`.

Watermarks, files ingested with their checksums, the days snapshotted, the ids landed, and the
last runs: any machine carries on where another stopped. Written whole (flows/lake/storage.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Protocol

from flows.lake.partitions import Lake
from flows.sources.contract import SOURCES

STATE_RUNS_KEPT = 100


class RunCounts(Protocol):
    """What a source's run counted (flows/ingestion/base.py SourceReport)."""

    run_id: str
    records: Mapping[str, int]
    landed: Mapping[str, int]
    quarantined: Mapping[str, int]


def state_path(source: str) -> str:
    """Where a source's state lives, relative to the lake's root."""
    return f"_state/{source}.json"


class SourceState:
    """What a source has delivered so far."""

    """What a source has delivered so far, stored with the lake: _state/<source>.json."""

    def __init__(self, lake: Lake, source: str) -> None:
        self.lake = lake
        self.relative = state_path(source)
        self.data = lake.read_json(self.relative) or {"source": source, "files": {}, "runs": []}

    @property
    def watermark(self) -> datetime | None:
        value = self.data.get("watermark")
        return datetime.fromisoformat(value) if value else None

    def advance_watermark(self, candidate: datetime | None) -> None:
        if candidate is not None and (self.watermark is None or candidate > self.watermark):
            self.data["watermark"] = candidate.isoformat()

    def write(self) -> None:
        self.lake.write_json(self.relative, self.data)

    def save(self, run: RunCounts, start: date, end: date) -> None:
        """Append a run (the last STATE_RUNS_KEPT are kept) and write the state."""
        self.data["runs"] = [
            *self.data["runs"][-(STATE_RUNS_KEPT - 1) :],
            {
                "run_id": run.run_id,
                "window": [start.isoformat(), end.isoformat()],
                "finished_at": datetime.now(UTC).isoformat(),
                "records": dict(run.records),
                "landed": dict(run.landed),
                "quarantined": dict(run.quarantined),
            },
        ]
        self.write()


def last_ingested_day(lake: Lake) -> date | None:
    """The last business day any ingestion run has covered, from the sources' state."""
    ends = [
        date.fromisoformat(run["window"][1])
        for source in SOURCES
        for run in SourceState(lake, source).data["runs"]
    ]
    return max(ends, default=None)

"""What the lake should hold: per (zone, entity) one manifest with an entry per partition.

Each entry says how many rows and keys the partition file holds, its size and sha256, and the
run that wrote it. The manifest is written right after the partitions it describes, outside the
partition folders, so that deleting a partition cannot delete the evidence that it existed. A
run killed between the two leaves a partition that disagrees with its entry: `lakehouse verify`
names it and `lakehouse repair` (or the next run) re-ingests that day and records it again.
One file per entity rather than per partition: on S3 that is one GET for a whole entity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Protocol

from flows.lake.entities import Entity


class JsonStore(Protocol):
    """Where manifests are kept: the lake (flows/lake/partitions.py), which also writes them."""

    def read_json(self, relative: str) -> dict | None: ...

    def write_json(self, relative: str, payload: dict) -> None: ...


MANIFEST_ROOT = "_manifests"


@dataclass(frozen=True)
class PartitionRecord:
    rows: int
    keys: int
    size: int  # bytes of the partition file
    sha256: str
    run_id: str
    written_at: str


class Manifest:
    def __init__(self, lake: JsonStore, zone: str, entity: Entity) -> None:
        self.lake = lake
        self.relative = f"{MANIFEST_ROOT}/{zone}/{entity.source}/{entity.name}.json"
        stored = lake.read_json(self.relative) or {}
        self.partitions: dict[date, PartitionRecord] = {
            date.fromisoformat(day): PartitionRecord(**entry)
            for day, entry in stored.get("partitions", {}).items()
        }

    def record(self, day: date, entry: PartitionRecord) -> None:
        self.partitions[day] = entry

    def forget(self, day: date) -> None:
        self.partitions.pop(day, None)

    def save(self) -> None:
        self.lake.write_json(
            self.relative,
            {
                "partitions": {
                    day.isoformat(): asdict(entry) for day, entry in sorted(self.partitions.items())
                }
            },
        )

"""The lake: Hive-partitioned Parquet, one file per (entity, day), each swapped in atomically."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flows.settings import Settings

PARTITION_FILE = "part-0.parquet"


def partition_path(source: str, entity: str, day: date) -> str:
    return f"raw/{source}/{entity}/year={day:%Y}/month={day:%m}/day={day:%d}"


@dataclass(frozen=True)
class Lake:
    fs: pafs.FileSystem
    root: str  # path inside `fs`, no trailing slash

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        fs, root = pafs.FileSystem.from_uri(settings.lake_uri)
        return cls(fs, root.rstrip("/"))

    def write_partition(self, source: str, entity: str, day: date, table: pa.Table) -> str:
        """Write aside, then move into place: readers see the old file or the new, never half."""
        folder = f"{self.root}/{partition_path(source, entity, day)}"
        staging = f"{self.root}/_staging"
        self.fs.create_dir(folder, recursive=True)
        self.fs.create_dir(staging, recursive=True)
        temporary = f"{staging}/{uuid.uuid4().hex}.parquet"
        pq.write_table(table, temporary, filesystem=self.fs, compression="zstd")
        target = f"{folder}/{PARTITION_FILE}"
        self.fs.move(temporary, target)
        return target

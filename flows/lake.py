"""The lake: Hive-partitioned Parquet, one file per (entity, day), each swapped in atomically."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flows.settings import Settings
from flows.storage import filesystem
from generators.objects import write_atomically

PARTITION_FILE = "part-0.parquet"


def partition_path(source: str, entity: str, day: date) -> str:
    return f"raw/{source}/{entity}/year={day:%Y}/month={day:%m}/day={day:%d}"


@dataclass(frozen=True)
class Lake:
    fs: pafs.FileSystem
    root: str  # path inside `fs`, no trailing slash

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        return cls(*filesystem(settings.lake_uri, settings))

    def write_partition(self, source: str, entity: str, day: date, table: pa.Table) -> str:
        """Write aside, then move into place: readers see the old file or the new, never half."""
        target = f"{self.root}/{partition_path(source, entity, day)}/{PARTITION_FILE}"
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="zstd")
        write_atomically(self.fs, target, buffer.getvalue().to_pybytes())
        return target

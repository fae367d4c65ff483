"""The lake: Hive-partitioned Parquet, one file per (entity, day), each swapped in atomically.

raw/<source>/<entity>/year=YYYY/month=MM/day=DD/part-0.parquet holds the records that passed
validation; quarantine/<source>/<entity>/… the ones that did not, with their reason. Landing a
partition merges what arrives with what is there and deduplicates on the entity's key, so
landing the same records twice changes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flows.schemas import QUARANTINE_SCHEMA, Entity
from flows.settings import Settings
from flows.storage import filesystem
from generators.objects import write_atomically

PARTITION_FILE = "part-0.parquet"


def partition_path(zone: str, entity: Entity, day: date) -> str:
    return f"{zone}/{entity.source}/{entity.name}/year={day:%Y}/month={day:%m}/day={day:%d}"


def partition_dates(table: pa.Table, column: str) -> pa.Array:
    values = table[column]
    if pa.types.is_timestamp(values.type):
        values = pc.cast(pc.cast(values, pa.timestamp("us", "UTC")), pa.date32())
    return values


def _deduplicate(table: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """First row per key (existing rows come first), sorted by key for stable files."""
    positions = pa.array(range(table.num_rows), pa.int64())
    first = (
        table.select(list(key))
        .append_column("_position", positions)
        .group_by(list(key), use_threads=False)
        .aggregate([("_position", "min")])["_position_min"]
    )
    if len(first) < table.num_rows:
        table = table.take(pc.sort_indices(first))
    return table.sort_by([(name, "ascending") for name in key])


def _evolve(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A partition written by an older schema, with the columns added since as nulls."""
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table.select(schema.names).cast(schema)


@dataclass(frozen=True)
class Lake:
    fs: pafs.FileSystem
    root: str  # path inside `fs`, no trailing slash

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        return cls(*filesystem(settings.lake_uri, settings))

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def exists(self, relative: str) -> bool:
        return self.fs.get_file_info(self.path(relative)).type != pafs.FileType.NotFound

    def read_partition(self, zone: str, entity: Entity, day: date) -> pa.Table | None:
        relative = f"{partition_path(zone, entity, day)}/{PARTITION_FILE}"
        if not self.exists(relative):
            return None
        return pq.read_table(self.path(relative), filesystem=self.fs)

    def write_partition(self, zone: str, entity: Entity, day: date, table: pa.Table) -> None:
        """Replace one partition file: written aside, then moved (or PUT whole on S3)."""
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="zstd")
        relative = f"{partition_path(zone, entity, day)}/{PARTITION_FILE}"
        write_atomically(self.fs, self.path(relative), buffer.getvalue().to_pybytes())

    def land(self, entity: Entity, table: pa.Table) -> dict[date, int]:
        """Merge valid records into their raw partitions; returns rows added per partition."""
        return self._merge("raw", entity, table, entity.raw_schema, entity.key, entity.partition_by)

    def quarantine(self, entity: Entity, table: pa.Table) -> dict[date, int]:
        """Merge rejected records into quarantine; returns rows added per partition."""
        return self._merge(
            "quarantine", entity, table, QUARANTINE_SCHEMA, ("_source", "reason"), "partition_date"
        )

    def _merge(
        self,
        zone: str,
        entity: Entity,
        table: pa.Table,
        schema: pa.Schema,
        key: tuple[str, ...],
        partition_by: str,
    ) -> dict[date, int]:
        table = table.select(schema.names).cast(schema)
        days = partition_dates(table, partition_by)
        added: dict[date, int] = {}
        for day in pc.unique(days).to_pylist():
            arriving = table.filter(pc.equal(days, pa.scalar(day, days.type)))
            existing = self.read_partition(zone, entity, day)
            before = existing.num_rows if existing is not None else 0
            parts = [_evolve(existing, schema)] if existing is not None else []
            merged = _deduplicate(pa.concat_tables([*parts, arriving]), key)
            if merged.num_rows != before or existing is None:
                self.write_partition(zone, entity, day, merged)
            added[day] = merged.num_rows - before
        return added

    def read_json(self, relative: str) -> dict | None:
        if not self.exists(relative):
            return None
        with self.fs.open_input_stream(self.path(relative)) as stream:
            return json.loads(stream.read())

    def write_json(self, relative: str, payload: dict) -> None:
        data = json.dumps(payload, indent=1, sort_keys=True, default=str).encode()
        write_atomically(self.fs, self.path(relative), data)

    def count_rows(self, zone: str, entity: Entity) -> dict[date, int]:
        """Rows per partition, from the Parquet footers."""
        selector = pafs.FileSelector(
            self.path(f"{zone}/{entity.source}/{entity.name}"), recursive=True, allow_not_found=True
        )
        counts: dict[date, int] = defaultdict(int)
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
                parts = dict(part.split("=", 1) for part in info.path.split("/") if "=" in part)
                day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
                with self.fs.open_input_file(info.path) as handle:
                    counts[day] += pq.ParquetFile(handle).metadata.num_rows
        return dict(counts)

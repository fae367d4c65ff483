"""The lake: Hive-partitioned Parquet, one file per (entity, day), each swapped in atomically.

raw/<source>/<entity>/year=YYYY/month=MM/day=DD/part-0.parquet holds the records that passed
validation; quarantine/<source>/<entity>/… the ones that did not, with their reason. Landing a
partition merges what arrives with what is there (flows/lake/merge.py), so landing the same records
twice changes nothing, and records each partition it writes in the entity's manifest
(flows/lake/manifests.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flows.lake.entities import QUARANTINE_SCHEMA, Entity
from flows.lake.manifests import Manifest, PartitionRecord
from flows.lake.merge import Merged, Winner, merge_rows
from flows.lake.storage import filesystem, is_object_store, write_atomically
from flows.settings import Settings

PARTITION_FILE = "part-0.parquet"
PARTITION_WORKERS = 8  # partitions merged and written at once
ZONES = ("raw", "quarantine")


@dataclass(frozen=True)
class Landed:
    """What a merge added: new keys per partition, and per day the new rows are about."""

    added: dict[date, int]
    about: dict[date, int]  # only for entities whose records can be about an earlier day


def _count_days(values: list[pa.ChunkedArray]) -> dict[date, int]:
    """Rows per UTC day of timestamp columns (empty without any)."""
    if not values:
        return {}
    chunks = [chunk for value in values for chunk in value.chunks]
    days = partition_dates(pa.table({"at": pa.chunked_array(chunks, values[0].type)}), "at")
    counted = pc.value_counts(days)
    return {
        _as_date(day): count
        for day, count in zip(
            counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
        )
    }


class LakeStateError(RuntimeError):
    """A state or manifest file in the lake cannot be read; the message names it."""


def partition_path(zone: str, entity: Entity, day: date) -> str:
    return f"{zone}/{entity.source}/{entity.name}/year={day:%Y}/month={day:%m}/day={day:%d}"


def partition_dates(table: pa.Table, column: str) -> pa.Array:
    values = table[column]
    if pa.types.is_timestamp(values.type):
        values = pc.cast(pc.cast(values, pa.timestamp("us", "UTC")), pa.date32())
    return values


def _evolve(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A partition written by an older schema, with the columns added since as nulls."""
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table.select(schema.names).cast(schema)


def _as_date(value: object) -> date:
    """A partition value from numpy (datetime64[D]) or Arrow (date) as a date."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _partition_day(path: str) -> date:
    parts = dict(part.split("=", 1) for part in path.split("/") if "=" in part)
    return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))


def partition_record(data: bytes, rows: int, run_id: str) -> PartitionRecord:
    """The manifest entry for a partition file's bytes (rows = keys: a partition is merged)."""
    return PartitionRecord(
        rows=rows,
        keys=rows,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        run_id=run_id,
        written_at=datetime.now(UTC).isoformat(),
    )


@dataclass(frozen=True)
class Lake:
    fs: pafs.FileSystem
    root: str  # path inside `fs`, no trailing slash

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        return cls(*filesystem(settings.storage.lake_uri, settings))

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def uri(self, path: str) -> str:
        """A path inside the lake's filesystem as DuckDB reads it (s3://… on an object store)."""
        return f"s3://{path}" if is_object_store(self.fs) else path

    def exists(self, relative: str) -> bool:
        return self.fs.get_file_info(self.path(relative)).type != pafs.FileType.NotFound

    def read_partition(self, zone: str, entity: Entity, day: date) -> pa.Table | None:
        relative = f"{partition_path(zone, entity, day)}/{PARTITION_FILE}"
        if not self.exists(relative):
            return None
        return pq.read_table(self.path(relative), filesystem=self.fs)

    def write_partition(
        self, zone: str, entity: Entity, day: date, table: pa.Table, run_id: str
    ) -> PartitionRecord:
        """Replace one partition file: written aside, then moved (or PUT whole on S3)."""
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="zstd")
        data = buffer.getvalue().to_pybytes()
        relative = f"{partition_path(zone, entity, day)}/{PARTITION_FILE}"
        write_atomically(self.fs, self.path(relative), data)
        return partition_record(data, table.num_rows, run_id)

    def land(self, entity: Entity, table: pa.Table, run_id: str) -> Landed:
        """Merge valid records into their raw partitions; new keys per partition and day."""
        return self._merge(
            "raw",
            entity,
            table,
            schema=entity.raw_schema,
            key=entity.key,
            partition_by=entity.partition_by,
            winner=entity.winner,
            run_id=run_id,
            about=entity.about,
        )

    def quarantine(self, entity: Entity, table: pa.Table, run_id: str) -> dict[date, int]:
        """Merge rejected records into quarantine; returns new records per partition."""
        return self._merge(
            "quarantine",
            entity,
            table,
            schema=QUARANTINE_SCHEMA,
            key=("_source", "reason"),
            partition_by="partition_date",
            winner="first",
            run_id=run_id,
        ).added

    def _merge(
        self,
        zone: str,
        entity: Entity,
        table: pa.Table,
        schema: pa.Schema,
        key: tuple[str, ...],
        partition_by: str,
        winner: Winner,
        run_id: str,
        about: str | None = None,
    ) -> Landed:
        """Merge each day's rows into its partition, several partitions at once.

        One listing says which partitions exist (no HEAD per partition); reading, merging,
        writing and hashing a partition run in a thread pool, which keeps an object store's
        requests in flight while Arrow works on others.
        """
        if table.num_rows == 0:
            return Landed({}, {})
        table = table.select(schema.names).cast(schema)
        days = partition_dates(table, partition_by)
        order = pc.sort_indices(days)
        table, days = table.take(order), days.take(order).to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]]).tolist()
        ends = [*starts[1:], len(days)]
        manifest = Manifest(self, zone, entity)
        present = self.partition_files(zone, entity)

        def merge_day(begin: int, end: int) -> tuple[date, Merged, PartitionRecord | None]:
            day = _as_date(days[begin])
            existing = None
            if day in present:
                existing = pq.read_table(present[day].path, filesystem=self.fs)
            merged = merge_rows(
                _evolve(existing, schema) if existing is not None else None,
                table.slice(begin, end - begin),
                key,
                winner=winner,
                about=about,
            )
            record = None
            if merged.changed or existing is None or day not in manifest.partitions:
                record = self.write_partition(zone, entity, day, table=merged.table, run_id=run_id)
            return day, merged, record

        added: dict[date, int] = {}
        abouts: list[pa.ChunkedArray] = []
        with ThreadPoolExecutor(PARTITION_WORKERS) as pool:
            for day, merged, record in pool.map(merge_day, starts, ends):
                if record is not None:
                    manifest.record(day, record)
                added[day] = merged.added
                if merged.added_about is not None:
                    abouts.append(merged.added_about)
        manifest.save()
        return Landed(added, _count_days(abouts))

    def partition_files(self, zone: str, entity: Entity) -> dict[date, pafs.FileInfo]:
        """The partition files of one entity, by day: a single listing of its folder."""
        selector = pafs.FileSelector(
            self.path(f"{zone}/{entity.source}/{entity.name}"), recursive=True, allow_not_found=True
        )
        files: dict[date, pafs.FileInfo] = {}
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.path.endswith("/" + PARTITION_FILE):
                files[_partition_day(info.path)] = info
        return files

    def reseal(self, zone: str, entity: Entity, days: set[date], run_id: str) -> None:
        """Record the partitions of `days` in the manifest as they are now (after a repair)."""
        manifest = Manifest(self, zone, entity)
        for day in days:
            relative = f"{partition_path(zone, entity, day)}/{PARTITION_FILE}"
            if not self.exists(relative):
                manifest.forget(day)
                continue
            with self.fs.open_input_stream(self.path(relative)) as stream:
                data = stream.read()
            rows = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
            manifest.record(day, partition_record(data, rows, run_id))
        manifest.save()

    def delete_everything(self, keep: tuple[str, ...] = ("_lock", "_lock.json")) -> int:
        """Empty the lake (all but the writer lock, held by the caller); returns files deleted."""
        selector = pafs.FileSelector(self.root, allow_not_found=True)
        deleted = 0
        for info in self.fs.get_file_info(selector):
            if info.base_name in keep:
                continue
            if info.type == pafs.FileType.Directory:
                inside = pafs.FileSelector(info.path, recursive=True)
                deleted += sum(f.type == pafs.FileType.File for f in self.fs.get_file_info(inside))
                self.fs.delete_dir(info.path)
            else:
                self.fs.delete_file(info.path)
                deleted += 1
        return deleted

    def read_json(self, relative: str) -> dict | None:
        if not self.exists(relative):
            return None
        with self.fs.open_input_stream(self.path(relative)) as stream:
            data = stream.read()
        try:
            payload = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise LakeStateError(
                f"lake state file {self.path(relative)} is not valid JSON ({error}); "
                "run `lakehouse repair` to set it aside and rebuild it"
            ) from None
        if not isinstance(payload, dict):
            raise LakeStateError(
                f"lake state file {self.path(relative)} does not hold a JSON object; "
                "run `lakehouse repair` to set it aside and rebuild it"
            )
        return payload

    def set_aside(self, relative: str) -> str:
        """Move a damaged file out of the way (kept for inspection); returns its new name."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        target = f"{relative}.damaged-{stamp}"
        self.fs.move(self.path(relative), self.path(target))
        return target

    def write_json(self, relative: str, payload: dict) -> None:
        # compact, so that json's C encoder writes it: a state file lists every landing file
        data = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
        write_atomically(self.fs, self.path(relative), data)

    def count_rows(self, zone: str, entity: Entity) -> dict[date, int]:
        """Rows per partition, from the Parquet footers."""
        selector = pafs.FileSelector(
            self.path(f"{zone}/{entity.source}/{entity.name}"), recursive=True, allow_not_found=True
        )
        counts: dict[date, int] = defaultdict(int)
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
                day = _partition_day(info.path)
                with self.fs.open_input_file(info.path) as handle:
                    counts[day] += pq.ParquetFile(handle).metadata.num_rows
        return dict(counts)

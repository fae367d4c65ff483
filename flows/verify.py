"""Compare the lake with its manifests and with the sources' own records.

Two depths:
- quick (every run, and the quality gate): one listing per entity folder against the manifest —
  partitions missing, not recorded, or of another size. Cheap on S3: a LIST and a GET per entity.
- deep (`lakehouse verify`): also each file's sha256 and footer, and the sources' side — every
  shop row the watermark says was read, every line of every landing file ingested, every catalog
  day snapshotted — must be in raw or quarantine.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from flows.lake import ZONES, Lake
from flows.manifest import Manifest, PartitionRecord
from flows.schemas import ENTITIES, EVENTS, PRODUCTS, Entity
from flows.settings import Settings

if TYPE_CHECKING:
    from flows.ingest import SourceState
    from generators.shop_db import ShopDatabase

SHOP_ENTITIES = ("customers", "orders", "order_items")
DB_TIMESTAMP = "%Y-%m-%d %H:%M:%S"  # Arrow prints microseconds after the seconds


@dataclass(frozen=True)
class Finding:
    """One disagreement; `days` and `files` say what a repair must read again."""

    entity: str
    problem: str
    zone: str = "raw"
    days: tuple[date, ...] = ()
    files: tuple[str, ...] = field(default=(), compare=False)
    rows: tuple[int, ...] = ()  # for missing partitions: the rows each held, by `days`

    def line(self) -> str:
        where = f"{self.zone}/{ENTITIES[self.entity].source}/{self.entity}"
        if len(self.days) == 1:
            where += f" {self.days[0]}"
        elif self.days:
            where += f" {self.days[0]}…{self.days[-1]} ({len(self.days)} days)"
        return f"{where}: {self.problem}"


def check_manifests(lake: Lake, deep: bool = False) -> list[Finding]:
    """Every partition file against its manifest entry, for every entity and zone."""
    findings: list[Finding] = []
    for entity in ENTITIES.values():
        for zone in ZONES:
            findings += _check_entity(lake, zone, entity, deep)
    return findings


def _check_entity(lake: Lake, zone: str, entity: Entity, deep: bool) -> list[Finding]:
    recorded = Manifest(lake, zone, entity).partitions
    present = lake.partition_files(zone, entity)
    name = entity.name
    findings = []
    missing = sorted(set(recorded) - set(present))
    if missing:
        rows = sum(recorded[day].rows for day in missing)
        what = "partition" if len(missing) == 1 else "partitions"
        counts = tuple(recorded[day].rows for day in missing)
        problem = f"{what} missing ({rows:,} rows)"
        findings.append(Finding(name, problem, zone, tuple(missing), rows=counts))
    for day in sorted(set(present) - set(recorded)):
        findings.append(Finding(name, "partition not in the manifest", zone, (day,)))
    for day in sorted(set(present) & set(recorded)):
        entry, info = recorded[day], present[day]
        if info.size != entry.size:
            problem = f"{info.size:,} bytes, the manifest says {entry.size:,}"
            findings.append(Finding(name, problem, zone, (day,)))
        elif deep:
            findings += _check_content(lake, zone, entity, day, info.path, entry)
    return findings


def _check_content(
    lake: Lake, zone: str, entity: Entity, day: date, path: str, entry: PartitionRecord
) -> list[Finding]:
    with lake.fs.open_input_stream(path) as stream:
        data = stream.read()
    try:
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    except pa.ArrowException as error:
        return [Finding(entity.name, f"unreadable: {error}", zone, (day,))]
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        return [Finding(entity.name, "checksum differs from the manifest", zone, (day,))]
    if rows != entry.rows:
        problem = f"{rows:,} rows, the manifest says {entry.rows:,}"
        return [Finding(entity.name, problem, zone, (day,))]
    return []


def _lake_sources(lake: Lake, entity: Entity) -> pa.Array:
    """Where every raw and quarantined record of an entity was read (its `_source`)."""
    parts = []
    for zone in ZONES:
        folder = f"{zone}/{entity.source}/{entity.name}"
        if lake.exists(folder):
            dataset = ds.dataset(lake.path(folder), filesystem=lake.fs, format="parquet")
            parts.append(dataset.to_table(columns=["_source"])["_source"].combine_chunks())
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def check_sources(settings: Settings, lake: Lake) -> list[Finding]:
    """The sources' side: what their state says was read must be in raw or quarantine."""
    from flows.ingest import SourceState

    return (
        _check_catalog(lake, SourceState(lake, "catalog"))
        + _check_shop(settings, lake, SourceState(lake, "shop"))
        + _check_clickstream(lake, SourceState(lake, "clickstream"))
    )


def _check_catalog(lake: Lake, state: SourceState) -> list[Finding]:
    taken = {date.fromisoformat(day) for day in state.data.get("snapshot_days", [])}
    present = set().union(*(lake.partition_files(zone, PRODUCTS) for zone in ZONES))
    missing = tuple(sorted(taken - present))
    if not missing:
        return []
    return [Finding("products", "snapshot taken but not in the lake", "raw", missing)]


def _check_shop(settings: Settings, lake: Lake, state: SourceState) -> list[Finding]:
    from generators.shop_db import KEYS, ShopDatabase

    watermark = state.watermark
    if watermark is None:
        return []
    findings = []
    with ShopDatabase.connect(settings.source_db_url.get_secret_value()) as database:
        for name in SHOP_ENTITIES:
            ids, stamps = _source_versions(database, name, KEYS[name], watermark)
            if len(ids) == 0:
                continue
            keys = pc.binary_join_element_wise(
                f"shop:{name}/", pc.cast(ids, pa.string()), "@", stamps, ""
            )
            absent = pc.invert(pc.is_in(keys, value_set=_lake_sources(lake, ENTITIES[name])))
            if not pc.any(absent).as_py():
                continue
            lost_days = pc.unique(pc.utf8_slice_codeunits(stamps.filter(absent), 0, 10))
            days = tuple(sorted(date.fromisoformat(day) for day in lost_days.to_pylist()))
            count = pc.sum(absent.cast(pa.int64())).as_py()
            findings.append(Finding(name, f"{count:,} source rows not in the lake", "raw", days))
    return findings


def _source_versions(
    database: ShopDatabase, table: str, key: str, watermark: datetime
) -> tuple[pa.Array, pa.Array]:
    """Key and updated_at text of every row the shop database holds up to the watermark.

    The text is the one ingestion writes into `_source` (flows/extract.py, DB_TIMESTAMP): Arrow's
    %S prints the microseconds after the seconds.
    """
    from flows.extract import _bound

    placeholder = "?" if database.engine == "sqlite" else "%s"
    cursor = database.connection.cursor()
    cursor.execute(
        f"select {key}, updated_at from {table} where updated_at <= {placeholder}",
        (_bound(database, watermark),),
    )
    rows = cursor.fetchall()
    if not rows:
        return pa.array([], pa.int64()), pa.array([], pa.string())
    ids, stamps = zip(*rows, strict=True)
    if isinstance(stamps[0], datetime):
        texts = pc.strftime(pa.array(stamps, pa.timestamp("us", "UTC")), DB_TIMESTAMP)
    else:
        texts = pa.array(stamps, pa.string())
    return pa.array(ids, pa.int64()), texts


def _check_clickstream(lake: Lake, state: SourceState) -> list[Finding]:
    files: dict[str, dict] = state.data.get("files", {})
    if not files:
        return []
    sources = _lake_sources(lake, EVENTS)
    counted = pc.value_counts(pc.replace_substring_regex(sources, r":\d+$", ""))
    landed = dict(
        zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)
    )
    short = {name: info for name, info in files.items() if landed.get(name, 0) < info["lines"]}
    if not short:
        return []
    days = sorted(
        {date.fromisoformat(day) for info in short.values() for day in info.get("days", [])}
    )
    lines = sum(info["lines"] - landed.get(name, 0) for name, info in short.items())
    problem = f"{lines:,} lines of {len(short):,} landing files not in the lake"
    return [Finding("events", problem, "raw", tuple(days), tuple(sorted(short)))]


def verify(settings: Settings, lake: Lake, deep: bool = True) -> list[Finding]:
    """All findings; an empty list means the lake is whole."""
    findings = check_manifests(lake, deep)
    if deep:
        findings += check_sources(settings, lake)
    return findings

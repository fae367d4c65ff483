"""Compare the lake with its manifests and with the sources' own records.

Two depths:
- quick (every run, and the quality gate): one listing per entity folder against the manifest —
  partitions missing, not recorded, or of another size. Cheap on S3: a LIST and a GET per entity.
- deep (`lakehouse verify`): also each file's sha256 against its manifest entry, before
  anything reads it (a corrupt file is named, never parsed), then its footer; and the sources'
  side — every shop row the watermark says was read, every line of every landing file
  ingested, every catalog day snapshotted — must be in raw or quarantine, read from the files
  that passed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from flows.ingestion.base import register_parquet
from flows.ingestion.shop import shop_changes, shop_lineage
from flows.lake.entities import ENTITIES, EVENTS, PRODUCTS, Entity
from flows.lake.manifests import Manifest, PartitionRecord
from flows.lake.partitions import ZONES, Lake
from flows.lake.state import SourceState
from flows.runtime.duck import connect
from flows.settings import Settings
from flows.sources.shop_database import attach_shop

SHOP_ENTITIES = ("customers", "orders", "order_items")


@dataclass(frozen=True)
class Finding:
    """One disagreement; `days` and `files` say what a repair must read again."""

    entity: str
    problem: str
    zone: str = "raw"
    days: tuple[date, ...] = ()
    files: tuple[str, ...] = field(default=(), compare=False)  # landing files to read again
    rows: tuple[int, ...] = ()  # for missing partitions: the rows each held, by `days`
    damaged: str = ""  # a partition file that cannot be trusted: set aside by a repair

    def line(self) -> str:
        where = f"{self.zone}/{ENTITIES[self.entity].source}/{self.entity}"
        if len(self.days) == 1:
            where += f" {self.days[0]}"
        elif self.days:
            where += f" {self.days[0]}…{self.days[-1]} ({len(self.days)} days)"
        return f"{where}: {self.problem}"


def check_manifests(lake: Lake, deep: bool = False) -> list[Finding]:
    """Every partition file against its manifest entry, for every entity and zone.

    Deep, each file's bytes are hashed before anything parses them: every corrupt file is
    named, and no reader trips on one.
    """
    findings: list[Finding] = []
    for entity in ENTITIES.values():
        for zone in ZONES:
            findings += _check_entity(lake, zone, entity, deep=deep)
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
        findings.append(Finding(name, problem, zone, days=tuple(missing), rows=counts))
    for day in sorted(set(present) - set(recorded)):
        findings.append(Finding(name, "partition not in the manifest", zone, days=(day,)))
    for day in sorted(set(present) & set(recorded)):
        entry, info = recorded[day], present[day]
        if info.size != entry.size:
            problem = f"{info.size:,} bytes, the manifest says {entry.size:,}"
            findings.append(Finding(name, problem, zone, days=(day,)))
        elif deep:
            findings += _check_content(lake, zone, entity, day=day, path=info.path, entry=entry)
    return findings


def _check_content(
    lake: Lake, zone: str, entity: Entity, day: date, path: str, entry: PartitionRecord
) -> list[Finding]:
    with lake.fs.open_input_stream(path) as stream:
        data = stream.read()
    shown = lake.uri(path)
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        problem = f"{shown} is corrupt: its sha256 differs from the manifest's, same size"
        return [Finding(entity.name, problem, zone, days=(day,), damaged=path)]
    try:
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    except pa.ArrowException as error:
        problem = f"{shown} is unreadable: {' '.join(str(error).split())}"
        return [Finding(entity.name, problem, zone, days=(day,), damaged=path)]
    if rows != entry.rows:
        problem = f"{rows:,} rows, the manifest says {entry.rows:,}"
        return [Finding(entity.name, problem, zone, days=(day,))]
    return []


def damaged_files(findings: list[Finding]) -> set[str]:
    """The partition files the findings say cannot be read as they are."""
    return {finding.damaged for finding in findings if finding.damaged}


def intact_files(lake: Lake, entity: Entity, damaged: set[str]) -> list[str]:
    """Every partition file of an entity, raw and quarantine, but the damaged ones."""
    return [
        info.path
        for zone in ZONES
        for info in lake.partition_files(zone, entity).values()
        if info.path not in damaged
    ]


def _lake_sources(lake: Lake, entity: Entity, damaged: set[str]) -> pa.Array:
    """Where every raw and quarantined record of an entity was read (its `_source`)."""
    files = intact_files(lake, entity, damaged)
    if not files:
        return pa.array([], pa.string())
    dataset = ds.dataset(files, filesystem=lake.fs, format="parquet")
    return dataset.to_table(columns=["_source"])["_source"].combine_chunks()


def check_sources(settings: Settings, lake: Lake, damaged: set[str] | None = None) -> list[Finding]:
    """The sources' side: what their state says was read must be in raw or quarantine.

    The lake is read from its intact files only (`damaged` are left out, their rows missing).
    """

    damaged = damaged or set()
    return (
        _check_catalog(lake, SourceState(lake, "catalog"))
        + _check_shop(settings, lake, SourceState(lake, "shop"), damaged=damaged)
        + _check_clickstream(lake, SourceState(lake, "clickstream"), damaged)
    )


def _check_catalog(lake: Lake, state: SourceState) -> list[Finding]:
    taken = {date.fromisoformat(day) for day in state.data.get("snapshot_days", [])}
    present = set().union(*(lake.partition_files(zone, PRODUCTS) for zone in ZONES))
    missing = tuple(sorted(taken - present))
    if not missing:
        return []
    return [Finding("products", "snapshot taken but not in the lake", "raw", days=missing)]


def _check_shop(
    settings: Settings, lake: Lake, state: SourceState, damaged: set[str]
) -> list[Finding]:
    """Every change the shop's watermarks say was read must be in raw or quarantine."""

    change_ids: dict[str, int] = state.data.get("change_ids", {})
    if not any(change_ids.values()):
        return []  # nothing read from the shop yet
    findings = []
    with connect(settings) as connection:
        attach_shop(connection, settings.sources.source_db_url.get_secret_value())
        for name in SHOP_ENTITIES:
            if not change_ids.get(name):
                continue
            files = intact_files(lake, ENTITIES[name], damaged)
            register_parquet(connection, "landed", lake, files=files, columns="_source")
            entity = ENTITIES[name]
            count, days = connection.execute(
                f"""
                with read as (
                    select {shop_lineage(entity)} as _source,
                        cast(try_cast(updated_at as timestamptz) as date) as day
                    from ({shop_changes(connection, entity, 0, change_ids[name])})
                )
                select count(*), list(distinct day order by day)
                from read anti join landed using (_source)
                """
            ).fetchone()
            if count:
                problem = f"{count:,} source rows not in the lake"
                findings.append(Finding(name, problem, "raw", days=tuple(d for d in days if d)))
    return findings


def _check_clickstream(lake: Lake, state: SourceState, damaged: set[str]) -> list[Finding]:
    files: dict[str, dict] = state.data.get("files", {})
    if not files:
        return []
    sources = _lake_sources(lake, EVENTS, damaged)
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
    return [Finding("events", problem, "raw", days=tuple(days), files=tuple(sorted(short)))]


def verify(settings: Settings, lake: Lake, deep: bool = True) -> list[Finding]:
    """All findings; an empty list means the lake is whole."""
    findings = check_manifests(lake, deep)
    if deep:
        findings += check_sources(settings, lake, damaged_files(findings))
    return findings

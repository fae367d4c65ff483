"""Ingestion flows: the three sources into raw (and quarantine) partitions of the lake.

Each flow takes a window of business days, extracts what its source holds for them, validates
every record, and merges the results into partitions (one file per partition, written aside and
swapped in). State per source (watermark, files ingested with checksums, rows per run) is kept in
the lake, so any machine can carry on. Running a window twice lands nothing new.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from flows.catalog_client import CatalogApiError, catalog_client
from flows.extract import (
    catalog_records,
    extract_changed,
    landing_files,
    parse_lines,
    read_landing_file,
)
from flows.lake import Lake, LakeStateError
from flows.lock import writer_lock
from flows.schemas import CUSTOMERS, EVENTS, ORDER_ITEMS, ORDERS, PRODUCTS, QUARANTINE_SCHEMA
from flows.settings import Settings, load_settings
from flows.storage import filesystem
from flows.validation import Checked, check
from generators.catalog_api import CatalogApi
from generators.config import Dirty, SimulationConfig
from generators.shop_db import DatabaseUnavailable, ShopDatabase
from generators.simulation import Simulation
from generators.sources import SourceWriter

OVERLAP = timedelta(hours=1)  # re-read changes this far behind the watermark: late commits
SHOP_ENTITIES = (CUSTOMERS, ORDERS, ORDER_ITEMS)
STATE_RUNS_KEPT = 100
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
PERMANENT = (CatalogApiError, DatabaseUnavailable, LakeStateError)  # a retry would not help


def is_transient(task: object, task_run: object, state: object) -> bool:
    """Retry a task unless it failed in a way retrying cannot fix (the client retried already)."""
    try:
        state.result()  # type: ignore[attr-defined]
    except PERMANENT:
        return False
    except Exception:
        return True
    return True


def io_task(name: str) -> Callable:
    """A task that reads a source: retried unless retrying cannot help; inputs never hashed.

    Its inputs hold the settings, so no cache key is computed from them (cache_policy NONE).
    """
    return task(
        name=name,
        retries=2,
        retry_delay_seconds=[1, 4],
        retry_condition_fn=is_transient,
        cache_policy=NONE,
    )


def simulation_config(settings: Settings) -> SimulationConfig:
    return SimulationConfig(
        seed=settings.seed,
        scale_factor=settings.scale_factor,
        start_date=settings.start_date,
        days=settings.days,
        dirty=Dirty() if settings.dirty else None,
    )


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def run_id() -> str:
    return str(flow_run.get_id() or uuid.uuid4())


@dataclass
class SourceReport:
    source: str
    run_id: str
    records: Counter[str] = field(default_factory=Counter)  # read from the source
    landed: Counter[str] = field(default_factory=Counter)  # new rows in raw
    quarantined: Counter[str] = field(default_factory=Counter)  # new rows in quarantine
    files: int = 0

    def summary(self) -> str:
        parts = [
            f"{name}: {self.records[name]:,} read, {self.landed[name]:,} new in raw, "
            f"{self.quarantined[name]:,} quarantined"
            for name in sorted(self.records)
        ]
        return f"{self.source} — " + "; ".join(parts or ["nothing to read"])


class SourceState:
    """What a source has delivered so far, stored with the lake: _state/<source>.json."""

    def __init__(self, lake: Lake, source: str) -> None:
        self.lake = lake
        self.relative = f"_state/{source}.json"
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

    def save(self, report: SourceReport, start: date, end: date) -> None:
        self.data["runs"] = [
            *self.data["runs"][-(STATE_RUNS_KEPT - 1) :],
            {
                "run_id": report.run_id,
                "window": [start.isoformat(), end.isoformat()],
                "finished_at": datetime.now(UTC).isoformat(),
                "records": dict(report.records),
                "landed": dict(report.landed),
                "quarantined": dict(report.quarantined),
            },
        ]
        self.write()


def last_ingested_day(lake: Lake) -> date | None:
    """The last business day any ingestion run has covered, from the sources' state."""
    ends = [
        date.fromisoformat(run["window"][1])
        for source in ("catalog", "shop", "clickstream")
        for run in SourceState(lake, source).data["runs"]
    ]
    return max(ends, default=None)


@contextmanager
def simulated_sources(settings: Settings) -> Iterator[SourceWriter | None]:
    """The embedded source systems, which the run moves forward day by day; None if external."""
    if not settings.simulate_sources:
        yield None
        return
    simulation = Simulation(simulation_config(settings))
    landing = filesystem(settings.landing_uri, settings)
    with SourceWriter.open(
        simulation, settings.source_db_url.get_secret_value(), landing
    ) as writer:
        yield writer


@contextmanager
def catalog_url(settings: Settings) -> Iterator[str]:
    """The configured catalog API, or the simulated one served on loopback for the run."""
    if settings.catalog_api_url:
        yield settings.catalog_api_url
        return
    simulation = Simulation(simulation_config(settings))
    with CatalogApi(simulation, settings.catalog_failure_rate) as api:
        yield api.url


def begin_source_run(source: str) -> tuple[Settings, Lake, SourceState, SourceReport]:
    """What every ingestion flow starts from: settings, the lake, the source's state, a report."""
    settings = load_settings()
    lake = Lake.from_settings(settings)
    return settings, lake, SourceState(lake, source), SourceReport(source, run_id())


def land(lake: Lake, checked: Checked, report: SourceReport) -> None:
    """Merge into the lake; the report counts what the merge added, not what arrived."""
    name, run = checked.entity.name, report.run_id
    report.landed[name] += sum(lake.land(checked.entity, checked.good, run).values())
    report.quarantined[name] += sum(lake.quarantine(checked.entity, checked.bad, run).values())


# --- catalog ------------------------------------------------------------------------------


@io_task("fetch-catalog")
def fetch_catalog(settings: Settings, days: list[date], run: str) -> Checked:
    records: list[dict] = []
    sources: list[str] = []
    dates: list[date] = []
    with catalog_url(settings) as url, catalog_client(url) as client:
        for day in days:
            for record in catalog_records(client, day):
                records.append(record)
                sources.append(f"catalog:/products?date={day}#{record['product_id']}")
                dates.append(day)
    return check(PRODUCTS, records, sources, dates, run)


@flow(name="ingest-catalog-api")
def ingest_catalog_api(start: date, end: date) -> SourceReport:
    """One catalog snapshot per business day, paginated, retried on 5xx, 429 and timeouts.

    A day already snapshotted is not fetched again: the catalog of a past day does not change.
    """
    settings, lake, state, report = begin_source_run("catalog")
    taken = set(state.data.get("snapshot_days", []))
    days = [day for day in days_between(start, end) if day.isoformat() not in taken]
    if days:
        checked = fetch_catalog(settings, days, report.run_id)
        report.records["products"] = checked.records
        land(lake, checked, report)
        state.data["snapshot_days"] = sorted(taken | {day.isoformat() for day in days})
    state.save(report, start, end)
    get_run_logger().info(report.summary())
    return report


# --- shop database --------------------------------------------------------------------------


def known_product_ids(lake: Lake) -> set[int]:
    """Every product the catalog has ever listed, from the lake's catalog snapshots."""
    folder = lake.path("raw/catalog/products")
    if not lake.exists("raw/catalog/products"):
        return set()
    dataset = ds.dataset(folder, filesystem=lake.fs, format="parquet", partitioning="hive")
    return set(dataset.to_table(columns=["product_id"])["product_id"].unique().to_pylist())


@io_task("extract-shop-changes")
def extract_shop(
    settings: Settings, days: list[date], watermark: datetime | None, products: set[int], run: str
) -> tuple[dict[str, Checked], datetime | None]:
    """Move the simulated shop forward a day at a time and read each day's changed rows."""
    records: dict[str, list[dict]] = {entity.name: [] for entity in SHOP_ENTITIES}
    sources: dict[str, list[str]] = {entity.name: [] for entity in SHOP_ENTITIES}
    dates: dict[str, list[date]] = {entity.name: [] for entity in SHOP_ENTITIES}
    seen: set[str] = set()
    newest = watermark
    logger = get_run_logger()
    with (
        simulated_sources(settings) as world,
        ShopDatabase.connect(settings.source_db_url.get_secret_value()) as db,
    ):
        for done, day in enumerate(days, start=1):
            if world is not None:
                world.advance_to(day)
            if done % 100 == 0 or done == len(days):
                logger.info(f"shop database read through {day} ({done}/{len(days)} days)")
            # the first extraction reads everything before the day: rows older than the window
            lower = min(day_start(day), newest) - OVERLAP if newest else EARLIEST
            upper = day_start(day) + timedelta(days=1)
            for entity in SHOP_ENTITIES:
                for record in extract_changed(db, entity, lower, upper):
                    key = f"{entity.name}/{record[entity.key[0]]}@{record['updated_at']}"
                    if key in seen:  # read again through the overlap window
                        continue
                    seen.add(key)
                    records[entity.name].append(record)
                    sources[entity.name].append(f"shop:{key}")
                    dates[entity.name].append(day)
                    stamp = record["updated_at"]
                    if isinstance(stamp, str):
                        stamp = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
                    if newest is None or stamp > newest:
                        newest = stamp

    def unknown_product(table: pa.Table) -> tuple[pa.Array, pa.Array]:
        ids = table["product_id"]
        unknown = pc.invert(pc.is_in(ids, value_set=pa.array(sorted(products), pa.int64())))
        reason = pc.binary_join_element_wise(
            "unknown_product: product_id=", pc.cast(ids, pa.string()), ""
        )
        return (unknown if products else pa.array([False] * len(table)), reason)

    checked = {
        entity.name: check(
            entity,
            records[entity.name],
            sources[entity.name],
            dates[entity.name],
            run,
            [unknown_product] if entity is ORDER_ITEMS else [],
        )
        for entity in SHOP_ENTITIES
    }
    return checked, newest


@flow(name="ingest-shop-db")
def ingest_shop_db(start: date, end: date) -> SourceReport:
    """Changed rows by updated_at watermark (with an overlap): every version lands in the lake."""
    settings, lake, state, report = begin_source_run("shop")
    checked, newest = extract_shop(
        settings, days_between(start, end), state.watermark, known_product_ids(lake), report.run_id
    )
    for entity in SHOP_ENTITIES:
        report.records[entity.name] = checked[entity.name].records
        land(lake, checked[entity.name], report)
    state.advance_watermark(newest)
    state.save(report, start, end)
    get_run_logger().info(report.summary())
    return report


# --- clickstream -----------------------------------------------------------------------------


def existing_event_sources(lake: Lake, days: set[date]) -> dict[int, str]:
    """event_id → where it was first read, for events already in the given raw partitions."""
    known: dict[int, str] = {}
    for day in days:
        table = lake.read_partition("raw", EVENTS, day)
        if table is not None:
            known.update(
                zip(table["event_id"].to_pylist(), table["_source"].to_pylist(), strict=True)
            )
    return known


@io_task("read-landing-files")
def read_clickstream(
    settings: Settings, days: list[date], ingested: dict[str, dict], lake: Lake, run: str
) -> tuple[Checked, dict[str, dict]]:
    """Parse and validate the hour files not ingested before; late events keep their own date."""
    fs, root = filesystem(settings.landing_uri, settings)
    records: list[dict | str] = []
    sources: list[str] = []
    dates: list[date] = []
    files: dict[str, dict] = {}
    for day in days:
        for path in landing_files(fs, root, day):
            file = read_landing_file(fs, root, path)
            if ingested.get(file.relative, {}).get("sha256") == file.sha256:
                continue
            lines = parse_lines(file)
            files[file.relative] = {"sha256": file.sha256, "lines": len(lines)}
            for number, record in lines:
                records.append(record)
                sources.append(f"{file.relative}:{number}")
                dates.append(day)
    checked = reject_duplicates(lake, check(EVENTS, records, sources, dates, run), run)
    for name, days in days_per_file(checked).items():
        files[name]["days"] = days
    return checked, files


def days_per_file(checked: Checked) -> dict[str, list[str]]:
    """Landing file → the partition days its lines went to (raw or quarantine), for repairs."""
    lines = pa.concat_arrays(
        [
            checked.good["_source"].combine_chunks(),
            checked.bad["_source"].combine_chunks(),
        ]
    )
    days = pa.concat_arrays(
        [
            pc.cast(pc.cast(checked.good["event_at"], pa.date32()), pa.string()).combine_chunks(),
            pc.cast(checked.bad["partition_date"], pa.string()).combine_chunks(),
        ]
    )
    pairs = (
        pa.table({"file": pc.replace_substring_regex(lines, r":\d+$", ""), "day": days})
        .group_by(["file", "day"])
        .aggregate([])
        .sort_by([("file", "ascending"), ("day", "ascending")])
    )
    result: dict[str, list[str]] = {}
    for name, day in zip(pairs["file"].to_pylist(), pairs["day"].to_pylist(), strict=True):
        result.setdefault(name, []).append(day)
    return result


def reject_duplicates(lake: Lake, checked: Checked, run: str) -> Checked:
    """An event id read before at another place (file and line) is a duplicate."""
    good = checked.good
    event_days = set(pc.unique(pc.cast(good["event_at"], pa.date32())).to_pylist())
    first_seen = existing_event_sources(lake, event_days)
    duplicate = []
    reasons = []
    for event_id, source in zip(
        good["event_id"].to_pylist(), good["_source"].to_pylist(), strict=True
    ):
        earlier = first_seen.setdefault(event_id, source)
        duplicate.append(earlier != source)
        reasons.append(f"duplicate: event_id={event_id} first read at {earlier}")
    mask = pa.array(duplicate, pa.bool_())
    repeated = good.filter(mask)
    rows = repeated.drop_columns(["_run_id", "_source", "_ingested_at"]).to_pylist()
    bad = pa.table(
        {
            "record": [json.dumps(row, default=str, sort_keys=True) for row in rows],
            "reason": [
                reason for reason, is_copy in zip(reasons, duplicate, strict=True) if is_copy
            ],
            "_run_id": [run] * repeated.num_rows,
            "_source": repeated["_source"],
            "partition_date": pc.cast(repeated["event_at"], pa.date32()),
        },
        schema=QUARANTINE_SCHEMA,
    )
    return Checked(EVENTS, good.filter(pc.invert(mask)), pa.concat_tables([checked.bad, bad]))


@flow(name="ingest-clickstream")
def ingest_clickstream(start: date, end: date) -> SourceReport:
    """Landing files not ingested before (by checksum); events land in their event date."""
    settings, lake, state, report = begin_source_run("clickstream")
    with simulated_sources(settings) as world:
        if world is not None:
            world.advance_to(end)
    checked, files = read_clickstream(
        settings, days_between(start, end), state.data["files"], lake, report.run_id
    )
    report.records["events"] = checked.records
    land(lake, checked, report)
    report.files = len(files)
    state.data["files"].update(files)
    state.save(report, start, end)
    get_run_logger().info(f"{report.summary()} from {report.files:,} new files")
    return report


# --- all sources ------------------------------------------------------------------------------


@flow(name="ingest")
def ingest(start: date, end: date) -> list[SourceReport]:
    """The catalog first (order lines are checked against it), then the shop, then clicks."""
    with writer_lock(load_settings()):
        return [
            ingest_catalog_api(start, end),
            ingest_shop_db(start, end),
            ingest_clickstream(start, end),
        ]


def summarize(reports: list[SourceReport]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for report in reports:
        totals.update(report.landed)
    return dict(totals)

"""Ingestion flows: the three sources into raw (and quarantine) partitions of the lake.

Each flow takes a window of business days, extracts what its source holds for them, validates
every record, and merges the results into partitions (one file per partition, written aside and
swapped in). State per source (watermark, files ingested with checksums, rows per run) is kept in
the lake, so any machine can carry on. Running a window twice lands nothing new.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import httpx
import pyarrow as pa
import pyarrow.compute as pc
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from flows.catalog_client import CatalogApiError, catalog_client
from flows.duck import connect, quoted
from flows.extract import (
    LandingFile,
    attach_shop,
    catalog_lines,
    catalog_pages,
    json_records,
    list_landing,
    read_landing,
    shop_changes,
    shop_records,
    split_lines,
)
from flows.lake import Lake, LakeStateError
from flows.lock import writer_lock
from flows.schemas import CUSTOMERS, EVENTS, ORDER_ITEMS, ORDERS, PRODUCTS, Entity
from flows.settings import Settings, check_window
from flows.source_contract import CATALOG_FIELDS, DatabaseUnavailable, landing_day_sql
from flows.source_identity import SourceIdentity, SourcesDiffer, check_sources, record_sources
from flows.storage import filesystem
from flows.validation import Checked, Rule, check, check_into_table, split_checked

CHANGE_OVERLAP = 1_000  # change ids re-read behind the watermark: commits that landed late
LANDING_BATCH_BYTES = 128 * 2**20  # landing files read at once
CATALOG_BATCH_DAYS = 31  # catalog days fetched and landed at once
SHOP_ENTITIES = (CUSTOMERS, ORDERS, ORDER_ITEMS)
STATE_RUNS_KEPT = 100
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
PERMANENT = (CatalogApiError, DatabaseUnavailable, LakeStateError, SourcesDiffer)  # no retry helps


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
    start: date  # the window's first day: rows about days before it are late
    records: Counter[str] = field(default_factory=Counter)  # read from the source
    landed: Counter[str] = field(default_factory=Counter)  # new rows in raw
    quarantined: Counter[str] = field(default_factory=Counter)  # new rows in quarantine
    files: int = 0
    # entity → day → new rows about that day of the past (an old order's status change, an
    # event that arrived days late): the figures of those days change with this run
    late: dict[str, Counter[str]] = field(default_factory=dict)

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


def begin_source_run(
    settings: Settings, source: str, start: date
) -> tuple[Lake, SourceState, SourceReport]:
    """What every ingestion flow starts from: the lake, the source's state, a report."""
    lake = Lake.from_settings(settings)
    return lake, SourceState(lake, source), SourceReport(source, run_id(), start)


def land(lake: Lake, checked: Checked, report: SourceReport) -> None:
    """Merge into the lake; the report counts what the merge added, not what arrived."""
    name, run = checked.entity.name, report.run_id
    landed = lake.land(checked.entity, checked.good, run)
    report.landed[name] += sum(landed.added.values())
    report.quarantined[name] += sum(lake.quarantine(checked.entity, checked.bad, run).values())
    late = {day.isoformat(): n for day, n in landed.about.items() if day < report.start and n}
    if late:
        report.late.setdefault(name, Counter()).update(late)


# --- catalog ------------------------------------------------------------------------------


@io_task("fetch-catalog")
def fetch_catalog(settings: Settings, client: httpx.Client, days: list[date], run: str) -> Checked:
    """The catalog pages of `days`, checked in one query."""
    pages = pa.concat_tables([catalog_pages(client, day) for day in days])
    with connect(settings) as connection:
        connection.register("pages", pages)
        records = json_records(
            PRODUCTS, catalog_lines("select * from pages"), CATALOG_FIELDS, strict_keys=False
        )
        return check(connection, PRODUCTS, records, run)


@flow(name="ingest-catalog-api")
def ingest_catalog_api(settings: Settings, start: date, end: date) -> SourceReport:
    """One catalog snapshot per business day, paginated, retried on 5xx, 429 and timeouts.

    A day already snapshotted is not fetched again: the catalog of a past day does not change.
    Days are fetched and landed a month at a time, so memory does not grow with the window.
    """
    lake, state, report = begin_source_run(settings, "catalog", start)
    taken = set(state.data.get("snapshot_days", []))
    days = [day for day in days_between(start, end) if day.isoformat() not in taken]
    products: list[int] = state.data.get("product_ids", [])
    if days and not settings.catalog_api_url:
        raise CatalogApiError(
            "no catalog API to read: set LAKEHOUSE_CATALOG_API_URL, or run with simulated sources"
        )
    with ExitStack() as stack:
        if days:
            client = stack.enter_context(catalog_client(settings.catalog_api_url))
        for first in range(0, len(days), CATALOG_BATCH_DAYS):
            batch = days[first : first + CATALOG_BATCH_DAYS]
            checked = fetch_catalog(settings, client, batch, report.run_id)
            report.records["products"] += checked.records
            land(lake, checked, report)
            taken |= {day.isoformat() for day in batch}
            state.data["snapshot_days"] = sorted(taken)
            landed_ids = pc.unique(checked.good["product_id"]).to_pylist()
            state.data["product_ids"] = sorted(set(products) | set(landed_ids))
            products = state.data["product_ids"]
            state.write()
    state.save(report, start, end)
    get_run_logger().info(report.summary())
    return report


# --- shop database --------------------------------------------------------------------------


def register_parquet(
    connection: duckdb.DuckDBPyConnection, name: str, lake: Lake, files: list[str], columns: str
) -> None:
    """A view `name` over lake files (empty, with `columns`' names, when there are none)."""
    if files:
        paths = ", ".join(quoted(lake.uri(path)) for path in files)
        connection.execute(
            f"create or replace temporary view {name} as "
            f"select {columns} from read_parquet([{paths}], hive_partitioning = false)"
        )
    else:
        empty = ", ".join(f"null::varchar as {column.strip()}" for column in columns.split(","))
        connection.execute(f"create or replace temporary view {name} as select {empty} limit 0")


def known_ids(
    connection: duckdb.DuckDBPyConnection,
    lake: Lake,
    entity: Entity,
    column: str,
    listed: list[int] | None,
    arriving: pa.Table | None = None,
) -> str:
    """Fill the temporary table known_<entity> with every id landed (and arriving); its name.

    A source's state lists the ids it has landed; a lake from before that list existed is read
    instead (every raw partition of the entity: slower, the same answer).
    """
    table = f"known_{entity.name}"
    if listed is not None:
        connection.register(
            f"listed_{entity.name}", pa.table({column: pa.array(listed, pa.int64())})
        )
        sources = [f"select {column} from listed_{entity.name}"]
    else:
        files = [info.path for info in lake.partition_files("raw", entity).values()]
        register_parquet(connection, f"{table}_files", lake, files, column)
        sources = [f"select cast({column} as bigint) as {column} from {table}_files"]
    if arriving is not None:
        connection.register(f"arriving_{entity.name}", arriving.select([column]))
        sources.append(f"select {column} from arriving_{entity.name}")
    connection.execute(
        f"create or replace temporary table {table} as "
        f"select distinct * from ({' union all '.join(sources)})"
    )
    return table


def unknown_id_rule(column: str, table: str, reason: str) -> Rule:
    """Records whose `column` names no row of `table` go to quarantine with `reason`."""
    return Rule(
        f"{column} is not null and {column} not in (select {column} from {table})",
        f"'{reason}: {column}=' || cast({column} as varchar)",
    )


def known_products_rule(connection: duckdb.DuckDBPyConnection, lake: Lake) -> list[Rule]:
    """Order lines must name a product the catalog has listed (none known: nothing to check)."""
    listed = SourceState(lake, "catalog").data.get("product_ids")
    table = known_ids(connection, lake, PRODUCTS, "product_id", listed)
    if connection.execute(f"select count(*) from {table}").fetchone()[0] == 0:
        return []
    return [unknown_id_rule("product_id", table, "unknown_product")]


@dataclass
class ShopExtract:
    checked: dict[str, Checked]
    change_ids: dict[str, int]  # per table: every change up to this id has been read
    newest: datetime | None  # the newest updated_at read
    customer_ids: list[int]  # every customer landed so far, this extract's included


@io_task("extract-shop-changes")
def extract_shop(
    settings: Settings,
    lake: Lake,
    end: date,
    change_ids: dict[str, int],
    run: str,
    customer_ids: list[int] | None,
) -> ShopExtract:
    """Every change logged after the watermarks up to the end of `end`, checked in SQL.

    A change stamped after the window holds its table's watermark back, so it is read by the
    run whose window it falls in, never skipped.
    """
    upper = quoted((day_start(end) + timedelta(days=1)).isoformat())
    checked: dict[str, Checked] = {}
    horizons: dict[str, int] = {}
    newest = None
    with connect(settings) as connection:
        attach_shop(connection, settings.source_db_url.get_secret_value())
        for entity in SHOP_ENTITIES:
            after = change_ids.get(entity.name, 0)
            connection.execute(
                "create or replace temporary table changes as "
                + shop_changes(connection, entity, max(0, after - CHANGE_OVERLAP))
            )
            horizon, stamp = connection.execute(
                f"""
                select coalesce(
                    (select min(change_id) - 1 from changes
                     where try_cast(updated_at as timestamptz) >= {upper}),
                    (select max(change_id) from changes),
                    {after}
                ),
                (select max(try_cast(updated_at as timestamptz)) from changes
                 where try_cast(updated_at as timestamptz) < {upper})
                """
            ).fetchone()
            horizons[entity.name] = max(int(horizon), after)
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
            if entity is ORDER_ITEMS:
                rules = known_products_rule(connection, lake)
            elif entity is ORDERS:
                # orders must name a customer landed before or arriving now
                arriving = checked[CUSTOMERS.name].good
                table = known_ids(
                    connection, lake, CUSTOMERS, "customer_id", customer_ids, arriving
                )
                rules = [unknown_id_rule("customer_id", table, "unknown_customer")]
                customer_ids = (
                    connection.execute(f"select customer_id from {table} order by 1")
                    .to_arrow_table()["customer_id"]
                    .to_pylist()
                )
            else:
                rules = []
            records = shop_records(entity, f"select * from changes where change_id <= {horizon}")
            checked[entity.name] = check(connection, entity, records, run, rules)
    return ShopExtract(checked, horizons, newest, customer_ids or [])


@flow(name="ingest-shop-db")
def ingest_shop_db(settings: Settings, start: date, end: date) -> SourceReport:
    """The shop's change log past each table's change-id watermark: every version lands."""
    lake, state, report = begin_source_run(settings, "shop", start)
    listed = state.data.get("customer_ids")
    extract = extract_shop(
        settings, lake, end, state.data.get("change_ids", {}), report.run_id, listed
    )
    for entity in SHOP_ENTITIES:
        report.records[entity.name] = extract.checked[entity.name].records
        land(lake, extract.checked[entity.name], report)
    state.data["change_ids"] = extract.change_ids
    state.data["customer_ids"] = extract.customer_ids
    state.advance_watermark(extract.newest)
    state.save(report, start, end)
    get_run_logger().info(report.summary())
    return report


# --- clickstream -----------------------------------------------------------------------------


def batches(files: list[LandingFile], limit: int) -> list[list[LandingFile]]:
    """Consecutive files in groups of at most `limit` bytes (a bigger file is a group alone)."""
    groups: list[list[LandingFile]] = []
    size = limit
    for file in files:
        if size + file.size > limit:
            groups.append([])
            size = 0
        groups[-1].append(file)
        size += file.size
    return groups


def mark_duplicates(connection: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Give the reason `duplicate` to events in `checked` whose id was read before elsewhere.

    Elsewhere is another place (file and line) in the lake or earlier in this batch; the same
    line read again is the same record, not a duplicate. Only ids seen twice are ordered.
    """
    days = {
        row[0]
        for row in connection.execute(
            "select distinct _partition_date from checked where _reason is null"
        ).fetchall()
    }
    files = [info.path for day, info in lake.partition_files("raw", EVENTS).items() if day in days]
    register_parquet(connection, "landed_events", lake, files, "event_id, _source")
    connection.execute(
        r"""
        create or replace temporary table first_read as
        with arriving as (
            select event_id, _source, _file, _line from checked where _reason is null
        ),
        repeated as (
            select event_id from (
                select event_id from arriving
                union all
                select cast(event_id as bigint) from landed_events
            )
            group by event_id having count(*) > 1
        ),
        candidates as (
            select cast(event_id as bigint) as event_id, _source, 0 as pass, '' as file, 0 as line
            from landed_events
            where cast(event_id as bigint) in (select event_id from repeated)
            union all
            select event_id, _source, 1, _file, _line
            from arriving where event_id in (select event_id from repeated)
        )
        select event_id, arg_min(_source, (pass, file, line)) as first_source
        from candidates group by event_id
        """
    )
    connection.execute(
        """
        update checked
        set _reason = 'duplicate: event_id=' || checked.event_id || ' first read at '
            || first_read.first_source
        from first_read
        where checked.event_id = first_read.event_id
            and checked._reason is null
            and checked._source <> first_read.first_source
        """
    )


def check_landing_batch(
    connection: duckdb.DuckDBPyConnection, lake: Lake, run: str
) -> tuple[Checked, dict[str, dict]]:
    """Validate the lines in `landing_lines`; returns the result and each file's state entry."""
    records = json_records(
        EVENTS,
        f"""
        select line, file || ':' || number as _source, file as _file, number as _line,
            {landing_day_sql("file")} as _fallback_date
        from landing_lines
        """,
    )
    check_into_table(connection, EVENTS, records)
    mark_duplicates(connection, lake)
    checked = split_checked(connection, EVENTS, run)
    rows = connection.execute(
        """
        with per_file as (
            select _file as file, count(*) as lines,
                list(distinct strftime(_partition_date, '%Y-%m-%d')) as days
            from checked group by _file
        )
        select landing_text.file, landing_text.sha256, landing_text.size,
            coalesce(per_file.lines, 0), coalesce(per_file.days, [])
        from landing_text left join per_file using (file)
        """
    ).fetchall()
    files = {
        name: {"sha256": sha, "size": size, "lines": lines, "days": sorted(days)}
        for name, sha, size, lines, days in rows
    }
    return checked, files


@flow(name="ingest-clickstream")
def ingest_clickstream(settings: Settings, start: date, end: date) -> SourceReport:
    """Landing files not ingested before (by size and checksum); events land in their date.

    Files are read by DuckDB in batches of bounded size, so memory does not grow with the
    window; each batch lands before the next is read.
    """
    lake, state, report = begin_source_run(settings, "clickstream", start)
    fs, root = filesystem(settings.landing_uri, settings)
    known: dict[str, dict] = state.data["files"]
    listed = list_landing(fs, root, days_between(start, end))
    unread = [file for file in listed if known.get(file.relative, {}).get("size") != file.size]
    logger = get_run_logger()
    for number, batch in enumerate(batches(unread, LANDING_BATCH_BYTES), start=1):
        with connect(settings) as connection:
            shas = {file.relative: known.get(file.relative, {}).get("sha256") for file in batch}
            read_landing(connection, fs, batch, shas)
            split_lines(connection)
            checked, files = check_landing_batch(connection, lake, report.run_id)
        report.records["events"] += checked.records
        land(lake, checked, report)
        report.files += len(files)
        known.update(files)
        state.write()
        logger.info(f"clickstream batch {number}: {len(batch):,} files, {checked.records:,} lines")
    state.save(report, start, end)
    logger.info(f"{report.summary()} from {report.files:,} new files")
    return report


# --- all sources ------------------------------------------------------------------------------


@flow(name="ingest")
def ingest(
    settings: Settings, start: date, end: date, identities: dict[str, SourceIdentity]
) -> list[SourceReport]:
    """The catalog first (order lines are checked against it), then the shop, then clicks.

    Every source reads the settings it is handed (the run's parameters made into settings
    once, by the caller, with the catalog API's URL), never the environment. `identities` are
    the sources' (flows/sources.py): checked against the lake's record and, for a source the
    lake has none of yet, recorded before its first row lands.
    """
    check_window(settings, start, end)
    with writer_lock(settings):
        lake = Lake.from_settings(settings)
        check_sources(lake, identities, settings.lake_uri)
        record_sources(lake, identities, run_id())
        return [
            ingest_catalog_api(settings, start, end),
            ingest_shop_db(settings, start, end),
            ingest_clickstream(settings, start, end),
        ]


def summarize(reports: list[SourceReport], what: str = "landed") -> dict[str, int]:
    """Rows per entity over every source's report: `landed` or `quarantined`."""
    totals: Counter[str] = Counter()
    for report in reports:
        totals.update(getattr(report, what))
    return dict(totals)


def late_days(reports: list[SourceReport]) -> dict[str, dict[str, int]]:
    """Past days this ingestion changed the figures of: day → entity → new rows about it."""
    days: dict[str, dict[str, int]] = {}
    for report in reports:
        for entity, counts in report.late.items():
            for day, count in counts.items():
                days.setdefault(day, {})[entity] = days.get(day, {}).get(entity, 0) + count
    return dict(sorted(days.items()))

"""What every ingestion flow shares: retried source reads, a report, landing, known ids.

Each source module (catalog, shop, clickstream) reads its source into DuckDB, checks every
record in SQL (flows/ingestion/validation.py) and lands the result with `land`: the report
counts what the merge added, and which past days the new rows are about.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from flows.ingestion.catalog_client import CatalogApiError
from flows.ingestion.validation import Checked, Rule
from flows.lake.entities import Entity
from flows.lake.partitions import Lake, LakeStateError
from flows.lake.state import SourceState
from flows.runtime.duck import quoted
from flows.runtime.stop import stopping_signal
from flows.settings import Settings
from flows.sources.contract import DatabaseUnavailable
from flows.sources.identity import SourcesDiffer

PERMANENT = (CatalogApiError, DatabaseUnavailable, LakeStateError, SourcesDiffer)  # no retry helps


def is_transient(task: object, task_run: object, state: object) -> bool:
    """Retry a task unless it failed in a way retrying cannot fix (the client retried already)
    or because the run was asked to stop (a SIGTERM that DuckDB turned into an interrupt)."""
    try:
        state.result()  # type: ignore[attr-defined]
    except PERMANENT:
        return False
    except Exception as error:
        return not stopping_signal(error)
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
        register_parquet(connection, f"{table}_files", lake, files=files, columns=column)
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

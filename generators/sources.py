"""Feed the simulated source systems day by day: the shop database and the landing zone.

The catalog API needs no files: it serves the same world (generators/catalog_api.py). The
database remembers which world it holds and the last day written, so the world only moves
forward: advancing through a day writes the days after the last one written, and a database
holding another world (another seed, scale factor, start date or simulator version) is
replaced, never mixed. It also names its world in `source_identity`, where the pipeline reads
it (flows/sources/contract.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.fs as pafs

from flows.sources.contract import (
    LANDING_FOLDER,
    SHOP_TABLES,
    SOURCE_IDENTITY_TABLE,
    changes_table,
)
from generators.config import SimulationConfig
from generators.landing_zone import hour_files
from generators.shop_db import ShopDatabase
from generators.simulation import Simulation

STATE_TABLE = "simulator_state"
WRITE_BATCH_DAYS = 7  # simulated days written per transaction and formatting pass, at most
WRITE_BATCH_EVENTS = 600_000  # about this many clickstream events per batch, at most
EVENTS_PER_DAY = 280  # a day's clickstream events at scale factor 1, about


def batch_days(scale_factor: float) -> int:
    """Days written per batch: a week, fewer at large scale factors.

    About three batches are in memory at once (one simulated, one in the database, one being
    formatted); at SF1000 a week is ~2M events, and 7-day batches held 2.7 GiB after the first
    61 days where 2-day batches hold about 2.0. The sources written do not depend on it.
    """
    return max(1, min(WRITE_BATCH_DAYS, int(WRITE_BATCH_EVENTS / (EVENTS_PER_DAY * scale_factor))))


@dataclass
class SourceWriter:
    config: SimulationConfig  # the world; how far it has advanced is the database's to say
    database: ShopDatabase
    fs: pafs.FileSystem
    root: str  # landing zone root path inside fs

    @classmethod
    @contextmanager
    def open(
        cls, config: SimulationConfig, database_url: str, landing: tuple[pafs.FileSystem, str]
    ) -> Iterator[SourceWriter]:
        with ShopDatabase.connect(database_url, create=True) as database:
            writer = cls(config, database, *landing)
            if writer.simulated_through() is None:  # new, or holding another world
                writer.reset()
            yield writer

    def reset(self) -> None:
        """Start from empty sources: a world replaces another, it never mixes with it."""
        cursor = self.database.connection.cursor()
        logs = tuple(changes_table(table) for table in SHOP_TABLES)
        for table in (*reversed(SHOP_TABLES), *logs, STATE_TABLE, SOURCE_IDENTITY_TABLE):
            cursor.execute(f"drop table if exists {table}")
        cursor.execute(f"create table {STATE_TABLE} (simulated_through date, simulation text)")
        cursor.execute(f"create table {SOURCE_IDENTITY_TABLE} (identity varchar(255))")
        placeholder = "?" if self.database.engine == "sqlite" else "%s"
        cursor.execute(
            f"insert into {SOURCE_IDENTITY_TABLE} values ({placeholder})", (self.config.world_name,)
        )
        self.database.connection.commit()
        self.database.create_schema(strict=self.config.dirty is None)
        landing = f"{self.root}/{LANDING_FOLDER}"
        if self.fs.get_file_info(landing).type != pafs.FileType.NotFound:
            self.fs.delete_dir(landing)

    @property
    def fingerprint(self) -> str:
        """The world the sources hold; not how far it has advanced."""
        return json.dumps(self.config.world, sort_keys=True)

    def simulated_through(self) -> date | None:
        """The last simulated day the sources hold; None for sources of another world."""
        cursor = self.database.connection.cursor()
        try:
            cursor.execute(f"select simulated_through, simulation from {STATE_TABLE}")
        except Exception:  # no state table: a database this simulator never wrote
            self.database.connection.rollback()
            return None
        row = cursor.fetchone()
        if row is None:
            return self.day_before_start
        if row[1] != self.fingerprint:
            return None
        return date.fromisoformat(str(row[0]))

    @property
    def day_before_start(self) -> date:
        return self.config.start_date - timedelta(days=1)

    def advance_to(
        self, last: date, progress: Callable[[int, int], None] | None = None
    ) -> Counter[str]:
        """Record every simulated day after the last one written, up to `last` (inclusive).

        Days are written a batch at a time: one transaction and one formatting pass over the
        clickstream per batch (per-call costs amortized). Three threads share the work, as a
        shop's database and its collectors run beside each other: this one simulates a batch
        while the batch before is upserted into the database on one thread and its lines are
        formatted and its hour files written on another (SQLite's statements, DuckDB and file
        writes release the GIL: on two cores an SF100 batch takes about three fifths of its
        time alone). A batch's rows and its mark are one transaction, committed once its hour
        files are written: a batch is in the database with its mark or not at all, and a kill
        leaves at most hour files past the mark, which the next advance writes again, the same.
        Sources already past `last` stay as they are: the world never moves back.
        """
        written: Counter[str] = Counter()
        current = self.simulated_through() or self.day_before_start
        total = (last - current).days
        if total <= 0:
            return written
        simulation = Simulation(self.config.through(last))
        batch = batch_days(self.config.scale_factor)
        with (
            ThreadPoolExecutor(1, thread_name_prefix="shop-database") as database,
            ThreadPoolExecutor(1, thread_name_prefix="landing-zone") as landing,
        ):
            recorded: Future[dict[str, int]] | None = None
            for first in range(1, total + 1, batch):
                days = [
                    simulation.record(current + timedelta(days=offset))
                    for offset in range(first, min(first + batch, total + 1))
                ]
                landed = landing.submit(
                    self._land,
                    pa.concat_tables([day.events for day in days], promote_options="default"),
                    pa.concat_tables([day.malformed_events for day in days]),
                )
                changes = {
                    name: pa.concat_tables([getattr(day, name) for day in days])
                    for name in SHOP_TABLES
                }
                if recorded is not None:  # the batch before: written and marked, or its error
                    written.update(recorded.result())
                recorded = database.submit(self._record_batch, changes, landed, days[-1].day)
                if progress:
                    progress(first + len(days) - 1, total)
            if recorded is not None:
                written.update(recorded.result())
        return written

    def _land(self, events: pa.Table, malformed: pa.Table) -> dict[str, int]:
        """Format a batch's clickstream lines and write its hour files: lines and files."""
        files = hour_files(self.root, events, malformed)
        files.write(self.fs)
        return {"clickstream_lines": files.lines, "clickstream_files": len(files.files)}

    def _record_batch(
        self, changes: dict[str, pa.Table], landed: Future[dict[str, int]], day: date
    ) -> dict[str, int]:
        """Upsert a batch's shop rows and mark its last day in one transaction, committed once
        its hour files are written: a batch's rows are in the database with its mark or not
        at all, and the mark never runs ahead of the landing zone."""
        written = self.database.apply(changes, commit=False)
        try:
            written |= landed.result()
        except BaseException:
            self.database.connection.rollback()
            raise
        self._mark(day)
        return written

    def _mark(self, day: date) -> None:
        cursor = self.database.connection.cursor()
        cursor.execute(f"delete from {STATE_TABLE}")
        placeholder = "?" if self.database.engine == "sqlite" else "%s"
        cursor.execute(
            f"insert into {STATE_TABLE} values ({placeholder}, {placeholder})",
            (day.isoformat(), self.fingerprint),
        )
        self.database.connection.commit()


def write_sources(
    config: SimulationConfig,
    database_url: str,
    landing: tuple[pafs.FileSystem, str],
    progress: Callable[[int, int], None] | None = None,
) -> Counter[str]:
    """Write the world's days through `config.end_date` into fresh sources; rows per target."""
    with SourceWriter.open(config, database_url, landing) as writer:
        writer.reset()
        return writer.advance_to(config.end_date, progress)

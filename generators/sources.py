"""Feed the simulated source systems day by day: the shop database and the landing zone.

The catalog API needs no files: it serves the same simulation (generators/catalog_api.py).
The database remembers the last simulated day it holds, so the world only moves forward.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.fs as pafs

from generators.landing_zone import write_hours
from generators.shop_db import TABLES, ShopDatabase, changes_table
from generators.simulation import Simulation

STATE_TABLE = "simulator_state"
WRITE_BATCH_DAYS = 7  # simulated days written per transaction and formatting pass


@dataclass
class SourceWriter:
    simulation: Simulation
    database: ShopDatabase
    fs: pafs.FileSystem
    root: str  # landing zone root path inside fs

    @classmethod
    @contextmanager
    def open(
        cls, simulation: Simulation, database_url: str, landing: tuple[pafs.FileSystem, str]
    ) -> Iterator[SourceWriter]:
        with ShopDatabase.connect(database_url, create=True) as database:
            writer = cls(simulation, database, *landing)
            if writer.simulated_through() is None:  # new, or written by another simulation
                writer.reset()
            yield writer

    def reset(self) -> None:
        """Start from empty sources: a simulation replaces, it never mixes two runs."""
        cursor = self.database.connection.cursor()
        logs = tuple(changes_table(table) for table in TABLES)
        for table in (*reversed(TABLES), *logs, STATE_TABLE):
            cursor.execute(f"drop table if exists {table}")
        cursor.execute(f"create table {STATE_TABLE} (simulated_through date, simulation text)")
        self.database.connection.commit()
        self.database.create_schema(strict=self.simulation.config.dirty is None)
        if self.fs.get_file_info(f"{self.root}/clickstream").type != pafs.FileType.NotFound:
            self.fs.delete_dir(f"{self.root}/clickstream")

    @property
    def fingerprint(self) -> str:
        return repr(self.simulation.config)

    def simulated_through(self) -> date | None:
        """The last simulated day the sources hold; None for sources this simulation never wrote."""
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
        return self.simulation.config.start_date - timedelta(days=1)

    def advance_to(
        self, last: date, progress: Callable[[int, int], None] | None = None
    ) -> Counter[str]:
        """Record every simulated day after the last one written, up to `last` (inclusive).

        Days are written a batch at a time: one transaction and one formatting pass over the
        clickstream per batch (per-call costs amortized), the state marked after each batch.
        """
        written: Counter[str] = Counter()
        current = self.simulated_through() or self.day_before_start
        last = min(last, self.simulation.config.end_date)
        total = (last - current).days
        for first in range(1, total + 1, WRITE_BATCH_DAYS):
            days = [
                self.simulation.record(current + timedelta(days=offset))
                for offset in range(first, min(first + WRITE_BATCH_DAYS, total + 1))
            ]
            written.update(
                self.database.apply(
                    {
                        name: pa.concat_tables([getattr(day, name) for day in days])
                        for name in ("customers", "orders", "order_items")
                    }
                )
            )
            lines = write_hours(
                self.fs,
                self.root,
                pa.concat_tables([day.events for day in days], promote_options="default"),
                pa.concat_tables([day.malformed_events for day in days]),
            )
            written["clickstream_lines"] += sum(lines.values())
            written["clickstream_files"] += len(lines)
            self._mark(days[-1].day)
            if progress:
                progress(first + len(days) - 1, total)
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
    simulation: Simulation,
    database_url: str,
    landing: tuple[pafs.FileSystem, str],
    progress: Callable[[int, int], None] | None = None,
) -> Counter[str]:
    """Write the whole window into fresh sources; returns rows per target."""
    with SourceWriter.open(simulation, database_url, landing) as writer:
        writer.reset()
        return writer.advance_to(simulation.config.end_date, progress)

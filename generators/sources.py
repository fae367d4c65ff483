"""Feed the three simulated source systems, day by day: the shop database and the landing zone.

The catalog API needs no files: it serves the same simulation (generators/catalog_api.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pyarrow.fs as pafs

from generators.landing_zone import write_hours
from generators.shop_db import TABLES, ShopDatabase
from generators.simulation import Simulation


def reset_sources(database: ShopDatabase, fs: pafs.FileSystem, root: str, strict: bool) -> None:
    """Start from empty sources: a simulation replaces, it never mixes two runs."""
    cursor = database.connection.cursor()
    for table in reversed(TABLES):
        cursor.execute(f"drop table if exists {table}")
    database.connection.commit()
    database.create_schema(strict=strict)
    if fs.get_file_info(f"{root}/clickstream").type != pafs.FileType.NotFound:
        fs.delete_dir(f"{root}/clickstream")


def write_sources(
    simulation: Simulation,
    database_url: str,
    landing: tuple[pafs.FileSystem, str],
    progress: Callable[[int, int], None] | None = None,
) -> Counter[str]:
    """Apply every simulated day to the shop database and the landing zone (a filesystem and
    its root path); returns rows per target."""
    fs, root = landing
    written: Counter[str] = Counter()
    with ShopDatabase.connect(database_url) as database:
        reset_sources(database, fs, root, strict=simulation.config.dirty is None)
        for index, day in enumerate(simulation.days(), start=1):
            written.update(
                database.apply(
                    {
                        "customers": day.customers,
                        "orders": day.orders,
                        "order_items": day.order_items,
                    }
                )
            )
            lines = write_hours(fs, root, day.events, day.malformed_events)
            written["clickstream_lines"] += sum(lines.values())
            written["clickstream_files"] += len(lines)
            if progress:
                progress(index, simulation.config.days)
    return written

"""Land a simulated window in the lake: the sources' records, partitioned by business day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date

import numpy as np
import pyarrow as pa

from flows.lake import Lake
from flows.settings import Settings
from generators.config import SimulationConfig
from generators.simulation import Simulation

# entity -> source system it comes from
SOURCES = {
    "customers": "shop",
    "orders": "shop",
    "order_items": "shop",
    "products": "catalog",
    "events": "clickstream",
}


def simulation_config(settings: Settings) -> SimulationConfig:
    return SimulationConfig(
        seed=settings.seed,
        scale_factor=settings.scale_factor,
        start_date=settings.start_date,
        days=settings.days,
    )


def _split_by_day(table: pa.Table, column: str, first_day: date) -> dict[date, pa.Table]:
    """Rows by the day of `column`, rows before the window landing on its first day."""
    days = table[column].cast(pa.date32()).to_numpy(zero_copy_only=False)
    days = np.maximum(days, np.datetime64(first_day, "D"))
    return {day.astype(object): table.filter(pa.array(days == day)) for day in np.unique(days)}


def land_window(
    settings: Settings, progress: Callable[[int, int], None] | None = None
) -> Counter[str]:
    """Simulate the configured window and write every partition; returns rows per entity."""
    lake = Lake.from_settings(settings)
    simulation = Simulation(simulation_config(settings))
    rows: Counter[str] = Counter()

    def land(entity: str, day: date, table: pa.Table) -> None:
        lake.write_partition(SOURCES[entity], entity, day, table)
        rows[entity] += table.num_rows

    for day, table in _split_by_day(
        simulation.customers.table, "created_at", settings.start_date
    ).items():
        land("customers", day, table)
    land("products", settings.start_date, simulation.products)
    for index, simulated in enumerate(simulation.days(), start=1):
        for entity in ("orders", "order_items", "events"):
            table = getattr(simulated, entity)
            if table.num_rows:
                land(entity, simulated.day, table)
        if progress:
            progress(index, settings.days)
    return rows

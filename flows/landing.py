"""Land a simulated window in the lake: what the sources record, partitioned by business day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from flows.lake import Lake
from flows.settings import Settings
from generators.config import Dirty, SimulationConfig
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
        dirty=Dirty() if settings.dirty else None,
    )


def land_window(
    settings: Settings, progress: Callable[[int, int], None] | None = None
) -> Counter[str]:
    """Simulate the configured window and write every partition; returns rows per entity."""
    lake = Lake.from_settings(settings)
    simulation = Simulation(simulation_config(settings))
    rows: Counter[str] = Counter()
    for index, recorded in enumerate(simulation.days(), start=1):
        for entity, source in SOURCES.items():
            # an empty day is written too: it replaces whatever an earlier run left there
            table = getattr(recorded, entity)
            lake.write_partition(source, entity, recorded.day, table)
            rows[entity] += table.num_rows
        if progress:
            progress(index, settings.days)
    return rows

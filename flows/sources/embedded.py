"""The embedded sources: the simulated shop, advanced a day at a time, and its catalog API.

The only module of the pipeline that imports the simulator (generators/), and only entry points
in simulated mode (LAKEHOUSE_SIMULATE_SOURCES=true) import it, through flows/sources/entry.py. The
simulator stands in front of the pipeline as a real shop would: `simulate-sources` writes the
days the world has not reached yet into the shop database and the landing zone, and the catalog
API is served on loopback for as long as a run reads it. Ingestion then reads them through
their interfaces only, exactly as it reads real sources.

The world is a function of (seed, scale factor, start date): LAKEHOUSE_DAYS only says how far
`lakehouse run` advances it, and `lakehouse daily` advances it one more day each time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from prefect import flow, get_run_logger

from flows.lake.partitions import Lake
from flows.lake.storage import filesystem
from flows.settings import Settings
from flows.sources.identity import (
    SourceIdentity,
    catalog_location,
    database_location,
    landing_location,
)
from generators.catalog_api import CatalogApi
from generators.config import Dirty, SimulationConfig
from generators.sources import SourceWriter


def world(settings: Settings) -> SimulationConfig:
    """The simulated world of the settings, advanced through the end of their window."""
    return SimulationConfig(
        seed=settings.world.seed,
        scale_factor=settings.world.scale_factor,
        start_date=settings.world.start_date,
        days=settings.world.days,
        dirty=Dirty() if settings.world.dirty else None,
    )


def identities(settings: Settings, lake: Lake) -> dict[str, SourceIdentity]:
    """Each embedded source: where it lives, and the world it serves."""
    name = world(settings).world_name
    return {
        "catalog": SourceIdentity(catalog_location(settings), name),
        "shop": SourceIdentity(database_location(settings, lake), name),
        "clickstream": SourceIdentity(landing_location(settings, lake), name),
    }


@dataclass(frozen=True)
class Advanced:
    """What advancing the sources did."""

    through: date  # the last day the sources hold now
    days: int  # days written by this call
    rows: dict[str, int] = field(default_factory=dict)  # per table, and clickstream lines/files

    def summary(self) -> str:
        if not self.days:
            return f"simulated sources already hold every day through {self.through}"
        rows = ", ".join(f"{name} {count:,}" for name, count in sorted(self.rows.items()))
        return f"simulated {self.days:,} days through {self.through}: {rows}"


def advance(
    settings: Settings, through: date, progress: Callable[[int, int], None] | None = None
) -> Advanced:
    """Write every day of the world after the last one the sources hold, through `through`.

    Sources holding another world (another seed, scale factor, start date or simulator
    version) are replaced: a simulated shop holds one world, as a lake does.
    """
    config = world(settings)
    with SourceWriter.open(
        config,
        settings.sources.source_db_url.get_secret_value(),
        filesystem(settings.sources.landing_uri, settings),
    ) as writer:
        before = writer.simulated_through() or writer.day_before_start
        written = writer.advance_to(through, progress)
        after = writer.simulated_through() or writer.day_before_start
    return Advanced(after, max(0, (after - before).days), dict(written))


@flow(name="simulate-sources")
def simulate_sources(settings: Settings, through: date) -> Advanced:
    """Advance the embedded shop database and landing zone through `through`."""
    advanced = advance(settings, through)
    get_run_logger().info(advanced.summary())
    return advanced


@contextmanager
def catalog_api(settings: Settings, port: int = 0) -> Iterator[str]:
    """The embedded catalog API on a loopback port (any free one with 0), while in use."""
    with CatalogApi(world(settings), settings.sources.catalog_failure_rate, port) as api:
        yield api.url

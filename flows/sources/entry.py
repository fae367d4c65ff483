"""The sources a run reads: the embedded simulated shop, or real systems, as the settings say.

Entry points (the command line, the pipeline's flows, repair) open the sources; ingestion only
reads what they hand on: settings with the catalog API's URL, and each source's identity.

- Simulated (LAKEHOUSE_SIMULATE_SOURCES=true, the default): the world is advanced through the
  run's last day by its own flow, `simulate-sources`, and, unless LAKEHOUSE_CATALOG_API_URL
  names another, its catalog API is served on loopback for the run: the shop is a process of
  its own (`python -m generators.embedded`), started and spoken to by flows/sources/embedded.py.
- Real: nothing is started and the simulator is never loaded; the catalog API must be named.

Either way the sources are checked against the ones the lake holds data from before anything
is advanced or written (flows/sources/identity.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from flows.lake.partitions import Lake
from flows.settings import Settings, SettingsError
from flows.sources.identity import SourceIdentity, check_sources, real_identities


@dataclass(frozen=True)
class RunSources:
    settings: Settings  # the run's settings, with the catalog API's URL
    identities: dict[str, SourceIdentity]


def expected_identities(settings: Settings, lake: Lake) -> dict[str, SourceIdentity]:
    """The identity each source will have in this run, before anything is started."""
    if settings.sources.simulate_sources:
        from flows.sources.embedded import identities

        return identities(settings, lake)
    identities = real_identities(settings, lake)  # the shop database is asked first
    if not settings.sources.catalog_api_url:
        raise SettingsError(
            "invalid setting LAKEHOUSE_CATALOG_API_URL=: real sources need the catalog API's "
            "URL (or LAKEHOUSE_SIMULATE_SOURCES=true for the embedded shop)"
        )
    return identities


def guard_sources(settings: Settings) -> dict[str, SourceIdentity]:
    """The run's source identities, refused (SourcesDiffer) unless the lake holds theirs."""
    lake = Lake.from_settings(settings)
    identities = expected_identities(settings, lake)
    check_sources(lake, identities, settings.storage.lake_uri)
    return identities


@contextmanager
def open_sources(settings: Settings, through: date | None = None) -> Iterator[RunSources]:
    """The run's sources, checked; simulated ones advanced through `through` and served."""
    identities = guard_sources(settings)
    if not settings.sources.simulate_sources:
        yield RunSources(settings, identities)
        return
    from flows.sources.embedded import running_shop, simulate_sources

    serve_catalog = not settings.sources.catalog_api_url
    with running_shop(settings, catalog_port=0 if serve_catalog else None) as shop:
        if through is not None:
            simulate_sources(shop, through)
        if shop.catalog_url:
            settings = settings.with_catalog_api(shop.catalog_url)
        yield RunSources(settings, identities)

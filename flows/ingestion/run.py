"""Ingestion of a window of business days: the three sources, the catalog first.

Every source reads the settings it is handed (the run's, with the catalog API's URL), never the
environment. Running a window twice lands nothing new.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from prefect import flow

from flows.ingestion.base import SourceReport, run_id
from flows.ingestion.catalog import ingest_catalog_api
from flows.ingestion.clickstream import ingest_clickstream
from flows.ingestion.shop import ingest_shop_db
from flows.lake.partitions import Lake
from flows.runtime.heartbeats import no_flow_heartbeats
from flows.settings import Settings, check_window
from flows.sources.identity import SourceIdentity, check_sources, record_sources


@flow(name="ingest")
def ingest(
    settings: Settings, start: date, end: date, identities: dict[str, SourceIdentity]
) -> list[SourceReport]:
    """The catalog first (order lines are checked against it), then the shop, then clicks.

    Every source reads the settings it is handed (the run's parameters made into settings
    once, by the caller, with the catalog API's URL), never the environment. `identities` are
    the sources' (flows/sources/entry.py): checked against the lake's record and, for a source
    the lake has none of yet, recorded before its first row lands. The caller holds the lake's
    writer lock.
    """
    check_window(settings, start, end)
    lake = Lake.from_settings(settings)
    check_sources(lake, identities, settings.storage.lake_uri)
    record_sources(lake, identities, run_id())
    with no_flow_heartbeats():  # subflows: this run's heartbeat speaks for them
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

"""Which sources a lake holds data from: recorded at the first landing, checked by every run.

A lake holds one world. Before a source's first row lands, its identity is written to
`_identity.json` in the lake: where it lives (the shop database's URL without secrets, the
catalog API's URL, the landing zone's location; a local file as a path relative to the lake, so
that moving the data folder as a whole moves nothing) and what it says it is (the embedded
simulator's world — seed, scale factor, start date, simulator version — or the name a real
database gives itself: its `source_identity` table, else PostgreSQL's system identifier). Every
run compares its sources with the record before anything is written, and refuses in one line,
naming both, when they differ. Starting over is explicit: `lakehouse run --new-lake`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from flows.lake.partitions import Lake
from flows.runtime.duck import connect
from flows.settings import Settings
from flows.sources.contract import SOURCE_IDENTITY_TABLE, redact_url
from flows.sources.shop_database import SHOP, attach_shop

IDENTITY_FILE = "_identity.json"
IN_MESSAGES = ("shop", "catalog", "clickstream")  # the shop first: it names the world best
LAKE = "{lake}"  # in a recorded location: the lake's own folder, wherever it is now
EMBEDDED_CATALOG = "the embedded catalog API"
HOW_TO_START_OVER = (
    "a lake holds one world: start a new lake with `lakehouse run --new-lake` (deletes this "
    "one), or point LAKEHOUSE_LAKE_ROOT at an empty folder"
)


class SourcesDiffer(RuntimeError):
    """The run's sources are not the ones the lake holds data from; nothing was written."""


@dataclass(frozen=True)
class SourceIdentity:
    location: str  # URL without secrets, or a path ({lake}/… when relative to a local lake)
    identifier: str = ""  # what the source says it is; empty when it says nothing

    def shown(self, lake: Lake) -> str:
        """The identity in words, a relative location resolved against the lake as it is now."""
        location = self.location
        if LAKE in location and not _is_s3(lake):
            prefix, _, relative = location.partition(LAKE + "/")
            location = prefix + os.path.normpath(os.path.join(lake.root, relative))
        return f"{location} ({self.identifier})" if self.identifier else location


def _is_s3(lake: Lake) -> bool:
    return lake.fs.type_name != "local"


def local_location(path: str, lake: Lake) -> str:
    """A local path as the lake records it: relative to a local lake, absolute otherwise."""
    absolute = Path(path).resolve()
    if _is_s3(lake):
        return str(absolute)
    return f"{LAKE}/{os.path.relpath(absolute, lake.root)}"


def database_location(settings: Settings, lake: Lake) -> str:
    url = settings.sources.source_db_url.get_secret_value()
    if url.startswith("sqlite:///"):
        return "sqlite:///" + local_location(url.removeprefix("sqlite:///"), lake)
    return redact_url(url)


def landing_location(settings: Settings, lake: Lake) -> str:
    if settings.sources.landing_root.startswith("s3://"):
        return settings.sources.landing_root.rstrip("/")
    return local_location(settings.sources.landing_root, lake)


def catalog_location(settings: Settings) -> str:
    return redact_url(settings.sources.catalog_api_url.rstrip("/")) or EMBEDDED_CATALOG


def database_identifier(settings: Settings) -> str:
    """The name the shop database gives itself, read from it; empty if it gives none.

    Its `source_identity` table when it has one; else, on PostgreSQL, the cluster's system
    identifier and the database's own id (a database dropped and created again is another one).
    """

    with connect(settings) as connection:
        attach_shop(connection, settings.sources.source_db_url.get_secret_value())
        named = connection.execute(
            "select count(*) from duckdb_tables() where database_name = ? and table_name = ?",
            [SHOP, SOURCE_IDENTITY_TABLE],
        ).fetchone()[0]
        if named:
            row = connection.execute(
                f"select min(identity) from {SHOP}.{SOURCE_IDENTITY_TABLE}"
            ).fetchone()
            return str(row[0] or "")
        engine = connection.execute(
            "select type from duckdb_databases() where database_name = ?", [SHOP]
        ).fetchone()[0]
        if engine != "postgres":
            return ""
        query = (
            "select (select system_identifier from pg_control_system())::text || '/' "
            "|| (select oid from pg_database where datname = current_database())::text"
        )
        try:
            row = connection.execute(f"select * from postgres_query('{SHOP}', $${query}$$)")
            return f"PostgreSQL system {row.fetchone()[0]}"
        except Exception:  # a role without access to pg_control_system: the URL alone
            return ""


def real_identities(settings: Settings, lake: Lake) -> dict[str, SourceIdentity]:
    """The identities of real sources, as they are now (the shop database is asked)."""
    return {
        "catalog": SourceIdentity(catalog_location(settings)),
        "shop": SourceIdentity(database_location(settings, lake), database_identifier(settings)),
        "clickstream": SourceIdentity(landing_location(settings, lake)),
    }


def recorded_identities(lake: Lake) -> dict[str, SourceIdentity]:
    stored = lake.read_json(IDENTITY_FILE) or {}
    return {
        source: SourceIdentity(entry["location"], entry.get("identifier", ""))
        for source, entry in stored.get("sources", {}).items()
    }


def _holds_data(lake: Lake) -> bool:
    return lake.exists("raw") or lake.exists("quarantine")


def check_sources(lake: Lake, identities: dict[str, SourceIdentity], where: str) -> None:
    """Refuse, in one line naming both, sources other than those the lake holds data from.

    `where` is how the lake is named (its URI). A lake with data but no record comes from a
    version that recorded nothing (and whose simulator gave other data): refused as well.
    """
    recorded = recorded_identities(lake)
    if not recorded:
        if _holds_data(lake):
            raise SourcesDiffer(
                f"the lake at {where} holds data but no record of its sources (it was written "
                f"by an earlier version, whose simulator gave other data); {HOW_TO_START_OVER}"
            )
        return
    differ = [
        source
        for source in IN_MESSAGES
        if source in recorded and source in identities and recorded[source] != identities[source]
    ]
    if differ:
        first = differ[0]
        others = f" (and {', '.join(differ[1:])})" if differ[1:] else ""
        raise SourcesDiffer(
            f"the lake at {where} holds {first} data from {recorded[first].shown(lake)}, but the "
            f"{first} source is now {identities[first].shown(lake)}{others}; {HOW_TO_START_OVER}"
        )


def record_sources(lake: Lake, identities: dict[str, SourceIdentity], run_id: str) -> None:
    """Write the identity of each source the lake has no record of yet (before it lands)."""
    stored = lake.read_json(IDENTITY_FILE) or {"sources": {}}
    missing = {s: i for s, i in identities.items() if s not in stored["sources"]}
    if not missing:
        return
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for source, identity in missing.items():
        stored["sources"][source] = {**asdict(identity), "recorded_at": now, "run_id": run_id}
    lake.write_json(IDENTITY_FILE, stored)

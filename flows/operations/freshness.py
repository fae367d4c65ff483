"""Source freshness, measured with every run on two clocks, from the lake's manifests.

Data age: days from the newest day a source's data is about (each raw partition is the UTC day
of the record's own timestamp: an order's change, an event, a catalog snapshot) to the day the
run expects data for (the end of its window). Load age: hours since a partition of the source
was last written. A source past its `warn_after` is a warning, past `error_after` it is stale;
neither blocks a publish: the run's record and the Data Health page say so.

The thresholds are the dbt sources' freshness config (models/staging/*/_*__sources.yml), so
`dbt source freshness` by hand applies the same ones to load age. The pipeline reads the
manifests instead of running it: they already hold each partition's day and write time, while
dbt would scan every Parquet file of the lake (thousands of GETs on S3) on every run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import cache

import yaml

from flows.lake.entities import ENTITIES
from flows.lake.manifests import Manifest
from flows.lake.partitions import Lake
from flows.settings import PROJECT_DIR

SOURCES_YAML = PROJECT_DIR / "models" / "staging"
HOURS = {"minute": 1 / 60, "hour": 1, "day": 24}


@dataclass(frozen=True)
class Threshold:
    warn_hours: float
    error_hours: float


@dataclass(frozen=True)
class Freshness:
    source: str  # e.g. shop.orders
    newest_day: str  # the newest day the data is about ('' when the lake has none)
    data_age_days: int | None
    last_loaded_at: str
    load_age_hours: float | None
    status: str  # pass, warn or stale: the worse of the two clocks
    note: str  # why, in words, when not pass

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def thresholds() -> dict[str, Threshold]:
    """warn_after/error_after per source, as declared for dbt."""
    found = {}
    for path in sorted(SOURCES_YAML.glob("*/_*__sources.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            freshness = source.get("config", {}).get("freshness", {})
            found[source["name"]] = Threshold(
                *(
                    freshness[key]["count"] * HOURS[freshness[key]["period"]]
                    for key in ("warn_after", "error_after")
                )
            )
    return found


def _status(age_hours: float | None, limit: Threshold) -> str:
    if age_hours is None or age_hours > limit.error_hours:
        return "stale"
    return "warn" if age_hours > limit.warn_hours else "pass"


def measure(lake: Lake, expected_day: date, now: datetime | None = None) -> list[Freshness]:
    """Every source entity's data age against `expected_day` and load age against `now`."""
    now = now or datetime.now(UTC)
    measured = []
    for entity in ENTITIES.values():
        partitions = Manifest(lake, "raw", entity).partitions
        limit = thresholds()[entity.source]
        newest = max(partitions, default=None)
        loaded = max((entry.written_at for entry in partitions.values()), default="")
        data_age = max((expected_day - newest).days, 0) if newest else None
        load_age = (
            round((now - datetime.fromisoformat(loaded)).total_seconds() / 3600, 1)
            if loaded
            else None
        )
        data_status = _status(None if data_age is None else data_age * 24.0, limit)
        load_status = _status(load_age, limit)
        notes = []
        if data_status != "pass":
            notes.append(
                f"newest data {newest} is {data_age} days before {expected_day}"
                if newest
                else "no data in the lake"
            )
        if load_status != "pass" and loaded:
            notes.append(f"last loaded {load_age:g} h ago")
        worst = "stale" if "stale" in (data_status, load_status) else "warn" if notes else "pass"
        measured.append(
            Freshness(
                source=f"{entity.source}.{entity.name}",
                newest_day=newest.isoformat() if newest else "",
                data_age_days=data_age,
                last_loaded_at=loaded,
                load_age_hours=load_age,
                status=worst,
                note="; ".join(notes),
            )
        )
    return measured


def warnings(measured: list[Freshness]) -> list[str]:
    """One line per source that is not fresh, for the run's record and log."""
    return [
        f"{item.source} {item.status}: {item.note}" for item in measured if item.status != "pass"
    ]

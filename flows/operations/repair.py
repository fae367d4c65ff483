"""Repair the lake from the sources: make each source's state forget what is missing, ingest again.

Ingestion is idempotent (flows/lake/merge.py), so reading something twice costs time, never rows. A
repair therefore only rewinds: catalog days leave the snapshot list, the shop watermark moves back
to the first damaged day, landing files whose lines fed a damaged day leave the file list. The
next ingestion — `lakehouse repair` runs one at once, `lakehouse run` does it before its own —
reads them again, and the partitions it touched are recorded anew in their manifests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from flows.ingestion.base import day_start
from flows.ingestion.run import ingest
from flows.lake.entities import ENTITIES, EVENTS, PRODUCTS
from flows.lake.manifests import MANIFEST_ROOT, Manifest
from flows.lake.partitions import PARTITION_FILE, ZONES, Lake, LakeStateError, partition_path
from flows.lake.state import SourceState, last_ingested_day, state_path
from flows.operations.verify import SHOP_ENTITIES, Finding, verify
from flows.settings import Settings
from flows.sources.contract import SOURCES, landing_file_day
from flows.sources.identity import SourceIdentity

LATE_ARRIVAL_DAYS = 7  # for files recorded before their days were: how late a line may land


@dataclass
class RepairPlan:
    findings: list[Finding]
    set_aside: list[str] = field(default_factory=list)  # damaged files moved out of the way
    reseal: dict[str, set[date]] = field(default_factory=dict)  # entity → days to record again

    @property
    def first_day(self) -> date | None:
        days = [day for days in self.reseal.values() for day in days]
        return min(days) if days else None


def set_aside_damaged_files(lake: Lake) -> list[str]:
    """State and manifest files that are not valid JSON move aside, to be rebuilt."""
    relatives = [state_path(source) for source in SOURCES] + [
        f"{MANIFEST_ROOT}/{zone}/{entity.source}/{entity.name}.json"
        for entity in ENTITIES.values()
        for zone in ZONES
    ]
    moved = []
    for relative in relatives:
        try:
            lake.read_json(relative)
        except LakeStateError:
            moved.append(lake.set_aside(relative))
    return moved


def rewind(lake: Lake, findings: Iterable[Finding]) -> RepairPlan:
    """Make the sources' state forget what the findings say the lake lacks."""

    findings = list(findings)
    plan = RepairPlan(findings)
    for finding in findings:
        plan.reseal.setdefault(finding.entity, set()).update(finding.days)
        if finding.damaged:  # corrupt or unreadable: out of the way, read again like a lost one
            for day in finding.days:
                relative = f"{partition_path(finding.zone, ENTITIES[finding.entity], day)}"
                plan.set_aside.append(lake.set_aside(f"{relative}/{PARTITION_FILE}"))

    catalog = SourceState(lake, "catalog")
    products = {day.isoformat() for day in plan.reseal.get(PRODUCTS.name, set())}
    if products:
        catalog.data["snapshot_days"] = sorted(
            set(catalog.data.get("snapshot_days", [])) - products
        )
        catalog.write()

    shop = SourceState(lake, "shop")
    shop_days = [day for name in SHOP_ENTITIES for day in plan.reseal.get(name, ())]
    if shop_days and shop.watermark is not None:
        # the change log is read again from its start: the merge keeps what is already there
        shop.data["watermark"] = min(shop.watermark, day_start(min(shop_days))).isoformat()
        lost = {name for name in SHOP_ENTITIES if plan.reseal.get(name)}
        shop.data["change_ids"] = {
            name: 0 if name in lost else change_id
            for name, change_id in shop.data.get("change_ids", {}).items()
        }
        shop.write()

    clickstream = SourceState(lake, "clickstream")
    event_days = plan.reseal.get(EVENTS.name, set())
    named = {name for finding in findings for name in finding.files}
    forget = [
        name
        for name, info in clickstream.data["files"].items()
        if name in named or _fed(name, info, event_days)
    ]
    if forget:
        for name in forget:
            del clickstream.data["files"][name]
        clickstream.write()
    return plan


def _fed(name: str, info: dict, days: set[date]) -> bool:
    """Whether a landing file's lines went to one of `days`."""
    if not days:
        return False
    if "days" in info:
        return any(date.fromisoformat(day) in days for day in info["days"])
    # recorded before files kept their days: lines land on their arrival day or a little earlier
    arrival = landing_file_day(name)
    return any(timedelta(0) <= arrival - lost <= timedelta(LATE_ARRIVAL_DAYS) for lost in days)


def reseal(lake: Lake, plan: RepairPlan, run_id: str) -> list[str]:
    """Record the repaired partitions as they are now; returns what could not be restored.

    A record no source holds any more (a landing file deleted, a change log pruned) cannot be read
    again. Such losses are reported, never hidden by the new manifest entry.
    """
    for name, days in plan.reseal.items():
        for zone in ZONES:
            lake.reseal(zone, ENTITIES[name], days=days, run_id=run_id)
    losses = []
    for finding in plan.findings:
        if not finding.rows:
            continue
        now = Manifest(lake, finding.zone, ENTITIES[finding.entity]).partitions
        for day, expected in zip(finding.days, finding.rows, strict=True):
            restored = now[day].rows if day in now else 0
            if restored < expected:
                losses.append(
                    f"{finding.zone}/{ENTITIES[finding.entity].source}/{finding.entity} {day}: "
                    f"{expected - restored:,} of {expected:,} rows could not be restored "
                    "(the source no longer holds them)"
                )
    return losses


def plan_repair(settings: Settings, lake: Lake, deep: bool) -> RepairPlan:
    """Verify the lake and rewind the sources' state for whatever it lacks."""
    return rewind(lake, verify(settings, lake, deep))


@dataclass(frozen=True)
class RepairOutcome:
    plan: RepairPlan
    losses: list[str]  # rows no source could give back
    remaining: list[Finding]  # what a second verification still finds


def repair_lake(
    settings: Settings, identities: dict[str, SourceIdentity], run_id: str
) -> RepairOutcome:
    """`lakehouse repair`: set damaged files aside, verify deeply, ingest again, verify again.

    `settings` and `identities` are the opened sources' (flows/sources/entry.py): a repair
    reads them again, it never advances them.
    """

    lake = Lake.from_settings(settings)
    moved = set_aside_damaged_files(lake)
    plan = plan_repair(settings, lake, deep=True)
    plan.set_aside[:0] = moved
    first = plan.first_day
    losses: list[str] = []
    if first is not None or moved:
        start = max(settings.world.start_date, first or settings.world.start_date)
        end = last_ingested_day(lake) or settings.world.end_date
        ingest(settings, min(start, end), end, identities=identities)
        losses = reseal(lake, plan, run_id)
    return RepairOutcome(plan, losses, verify(settings, lake, deep=True))

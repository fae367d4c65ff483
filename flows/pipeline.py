"""The main job: land the sources, build, gate, publish — one writer at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.cleanup import clean_leftovers
from flows.ingest import ingest, run_id, summarize
from flows.lake import ZONES, Lake
from flows.lock import writer_lock
from flows.manifest import Manifest
from flows.publish import (
    PublishRefused,
    begin_build,
    fail_build,
    file_sha256,
    finish_build,
    publish,
    read_record,
    record_gate,
)
from flows.quality import GateResult, store_result, verify_contracts
from flows.repair import plan_repair, reseal
from flows.schemas import ENTITIES
from flows.settings import Settings, ensure_writable, load_settings
from flows.verify import check_manifests
from flows.warehouse import BuildError, build_warehouse


class EmptyLake(RuntimeError):
    """There is nothing in the lake to build a warehouse from."""


class QualityGateFailed(RuntimeError):
    """The build did not pass its contracts; the previous warehouse keeps serving."""


@dataclass(frozen=True)
class PipelineResult:
    rows_landed: dict[str, int]  # new rows in raw per entity
    dbt_statuses: dict[str, int]
    gate: GateResult
    published: str


def first_day_written_since(lake: Lake, baseline: str) -> date | None:
    """The earliest partition day (any zone, any entity) written after `baseline`.

    With nothing written since, the day after the last partition: incremental models then
    read no partition at all. None without a baseline: every partition is new.
    """
    if not baseline:
        return None
    after = datetime.fromisoformat(baseline)
    written, latest = [], []
    for entity in ENTITIES.values():
        for zone in ZONES:
            partitions = Manifest(lake, zone, entity).partitions
            latest += list(partitions)
            written += [
                day
                for day, entry in partitions.items()
                if datetime.fromisoformat(entry.written_at) > after
            ]
    if written:
        return min(written)
    return max(latest) + timedelta(days=1) if latest else None


@task(name="build-warehouse", cache_policy=NONE)
def build(settings: Settings, full_refresh: bool = False) -> dict[str, int]:
    """dbt build under a new build id; only a build that passes can go on to the gate.

    Incremental models read the lake from the first partition day written since the last build
    that passed dbt; after a failed build that day stays where it was, so nothing is skipped.
    """
    record = begin_build(settings)
    since = (
        None
        if full_refresh
        else first_day_written_since(Lake.from_settings(settings), record.baseline)
    )
    get_run_logger().info(
        "building the warehouse: build %s, %s",
        record.build_id[:12],
        f"lake partitions from {since}" if since else "every lake partition",
    )
    try:
        statuses = build_warehouse(settings, full_refresh, since)
    except BuildError as error:
        fail_build(settings, record, str(error))
        raise
    finish_build(settings, record)
    get_run_logger().info("dbt build %s: %s", record.build_id[:12], statuses)
    return statuses


@task(name="quality-gate", cache_policy=NONE)
def quality_gate(settings: Settings) -> GateResult:
    """The contracts on the build file dbt just made, and the lake against its manifests."""
    record = read_record(settings)
    if record is None or record.status != "built":
        raise PublishRefused("no build that passed dbt to put through the gate")
    if file_sha256(settings.build_path) != record.sha256:
        raise PublishRefused(f"{settings.build_path} changed after dbt built it; not gated")
    get_run_logger().info("gating build %s: contracts and lake manifests", record.build_id[:12])
    result = verify_contracts(settings)
    findings = check_manifests(Lake.from_settings(settings))
    if findings:
        result = replace(result, passed=False, lake=tuple(f.line() for f in findings))
    store_result(settings, result, record.build_id)
    record_gate(settings, record, result.passed, result.summary())
    get_run_logger().info(result.summary())
    return result


@task(name="publish-warehouse", cache_policy=NONE)
def publish_warehouse(settings: Settings) -> str:
    get_run_logger().info("publishing the gated build to %s", settings.warehouse_path)
    path = publish(settings)
    get_run_logger().info("published %s", path)
    return str(path)


@flow(name="gate-and-publish")
def gate_and_publish(settings: Settings | None = None) -> tuple[GateResult, str]:
    """Publish the current build only if it passes every contract; raise otherwise."""
    settings = settings or load_settings()
    with writer_lock(settings):
        result = quality_gate(settings)
        if not result.passed:
            raise QualityGateFailed(f"{result.summary()}; the previous warehouse keeps serving")
        return result, publish_warehouse(settings)


@task(name="prepare-lake", cache_policy=NONE)
def prepare_lake(settings: Settings) -> object:
    """Remove what killed runs left, and rewind the sources' state for anything the lake lost."""
    logger = get_run_logger()
    for line in clean_leftovers(settings):
        logger.info("removed %s", line)
    plan = plan_repair(settings, Lake.from_settings(settings), deep=False)
    for finding in plan.findings:
        logger.warning("repairing %s", finding.line())
    return plan


@flow(name="lakehouse")
def lakehouse_pipeline(
    start_date: date | None = None,
    days: int | None = None,
    seed: int | None = None,
    scale_factor: float | None = None,
    full_refresh: bool = False,
) -> PipelineResult:
    """Generate → lake → dbt → Soda → publish; parameters override the settings' window."""
    overrides = {"start_date": start_date, "days": days, "seed": seed, "scale_factor": scale_factor}
    settings = load_settings(
        **{key: value for key, value in overrides.items() if value is not None}
    )
    ensure_writable(settings)
    with writer_lock(settings):
        plan = prepare_lake(settings)
        rows = summarize(ingest(settings.start_date, settings.end_date))
        if plan.findings:
            for loss in reseal(Lake.from_settings(settings), plan, run_id()):
                get_run_logger().warning(loss)
        statuses = build(settings, full_refresh)
        gate, published = gate_and_publish(settings)
    return PipelineResult(rows, statuses, gate, published)


@flow(name="build-and-publish")
def build_and_publish(full_refresh: bool = False) -> PipelineResult:
    """Rebuild the warehouse from the lake as it is (no ingestion), gate it, publish it."""
    settings = load_settings()
    ensure_writable(settings)
    lake = Lake.from_settings(settings)
    empty = [entity.name for entity in ENTITIES.values() if not lake.partition_files("raw", entity)]
    if empty:
        raise EmptyLake(
            f"the lake at {settings.lake_uri} holds no {', '.join(empty)} yet: "
            "ingest first (lakehouse run, or lakehouse backfill)"
        )
    with writer_lock(settings):
        statuses = build(settings, full_refresh)
        gate, published = gate_and_publish(settings)
    return PipelineResult({}, statuses, gate, published)

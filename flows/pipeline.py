"""The main job: land the sources, build, gate, publish — one writer at a time."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE

from flows.cleanup import clean_leftovers
from flows.freshness import Freshness, measure, warnings
from flows.ingest import ingest, last_ingested_day, late_days, run_id, summarize
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
from flows.run_history import HOOKS, describe_late, journal, run_settings
from flows.schemas import ENTITIES
from flows.settings import Settings, check_window, ensure_writable
from flows.sources import open_sources
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
    freshness: tuple[str, ...] = ()  # warnings: sources that are not fresh
    late: dict[str, dict[str, int]] = field(default_factory=dict)  # past day → entity → rows
    window: tuple[str, str] = ("", "")  # the days ingested

    def markdown(self, start: date, end: date) -> str:
        """The run's summary, as a Prefect artifact shows it."""
        landed = "\n".join(f"| {name} | {n:,} |" for name, n in sorted(self.rows_landed.items()))
        dbt = ", ".join(f"{status} {count}" for status, count in sorted(self.dbt_statuses.items()))
        return (
            f"# Lakehouse run {start} → {end}\n\n| entity | rows landed |\n|---|---:|\n{landed}\n\n"
            f"dbt: {dbt}\n\n{self.gate.summary()}\n\npublished `{self.published}`\n"
            + "".join(f"\n- freshness warning: {line}" for line in self.freshness)
            + (f"\n- {self.late_summary()}" if self.late else "")
        )

    def late_summary(self) -> str:
        """The past days whose figures this run changed, in one line."""
        return describe_late(self.late)


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
def gate_and_publish(settings: Settings) -> tuple[GateResult, str]:
    """Publish the current build only if it passes every contract; raise otherwise."""
    noted = journal()
    with writer_lock(settings):
        result = quality_gate(settings)
        noted.gate, noted.gate_passed = result.summary(), result.passed
        create_table_artifact(
            key="quality-gate",
            table=[asdict(check) for check in result.checks],
            description=result.summary(),
        )
        if not result.passed:
            raise QualityGateFailed(f"{result.summary()}; the previous warehouse keeps serving")
        noted.published = publish_warehouse(settings)
        return result, noted.published


@task(name="source-freshness", cache_policy=NONE)
def source_freshness(settings: Settings, expected_day: date) -> list[Freshness]:
    """Data age and load age of every source after ingestion: warnings, never a refusal."""
    measured = measure(Lake.from_settings(settings), expected_day)
    for line in warnings(measured):
        get_run_logger().warning("source freshness: %s", line)
    return measured


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


def run_pipeline(settings: Settings, start: date, end: date, full_refresh: bool) -> PipelineResult:
    """Land `start`..`end` from the sources, build, gate, publish: the body of every run flow."""
    check_window(settings, start, end)
    ensure_writable(settings)
    noted = journal()
    noted.window = (start.isoformat(), end.isoformat())
    get_run_logger().info(
        "lakehouse run: %s → %s, seed %s, scale %g%s",
        start, end, settings.seed, settings.scale_factor, ", full refresh" if full_refresh else "",
    )  # fmt: skip
    with writer_lock(settings):
        with open_sources(settings, through=end) as sources:
            plan = prepare_lake(settings)
            reports = ingest(sources.settings, start, end, sources.identities)
        noted.rows_landed = summarize(reports)
        noted.quarantined = summarize(reports, "quarantined")
        noted.late = late_days(reports)
        if noted.late:
            get_run_logger().info(describe_late(noted.late))
        freshness = source_freshness(settings, end)
        noted.freshness = [item.as_dict() for item in freshness]
        if plan.findings:
            for loss in reseal(Lake.from_settings(settings), plan, run_id()):
                get_run_logger().warning(loss)
        noted.dbt = build(settings, full_refresh)
        gate, published = gate_and_publish(settings)
    result = PipelineResult(
        rows_landed=noted.rows_landed,
        dbt_statuses=noted.dbt,
        gate=gate,
        published=published,
        freshness=tuple(warnings(freshness)),
        late=noted.late,
        window=noted.window,
    )
    create_markdown_artifact(key="lakehouse-run", markdown=result.markdown(start, end))
    return result


@flow(name="lakehouse", **HOOKS)
def lakehouse_pipeline(
    start: date | None = None,
    end: date | None = None,
    seed: int | None = None,
    scale_factor: float | None = None,
    full_refresh: bool = False,
) -> PipelineResult:
    """Sources → lake → dbt → Soda gate → publish, for the days `start`..`end`.

    Without dates, the whole window of the settings (LAKEHOUSE_START_DATE, LAKEHOUSE_DAYS).
    `seed` and `scale_factor` override the settings' simulation; `full_refresh` rebuilds every
    incremental model. The parameters become the run's settings once, handed to every stage.
    """
    settings = run_settings(seed, scale_factor)
    return run_pipeline(
        settings, start or settings.start_date, end or settings.end_date, full_refresh
    )


def daily_window(settings: Settings, today: date | None = None) -> tuple[date, date]:
    """The days a daily run takes when none is given.

    The simulated shop keeps trading: each run advances it one business day, the day after
    the last one ingested (the first simulated day on an empty lake), past the settings'
    window as far as the runs go. Real sources: every day from the one after the last
    ingested through yesterday (UTC), so a missed run is caught up.
    """
    last = last_ingested_day(Lake.from_settings(settings))
    if not settings.simulate_sources:
        yesterday = (today or datetime.now(UTC).date()) - timedelta(days=1)
        return (min(last + timedelta(days=1), yesterday) if last else yesterday), yesterday
    day = settings.start_date if last is None else last + timedelta(days=1)
    return day, day


@flow(name="lakehouse-daily", **HOOKS)
def daily_pipeline(
    day: date | None = None, seed: int | None = None, scale_factor: float | None = None
) -> PipelineResult:
    """One business day: advance the sources, ingest it, build incrementally, gate, publish.

    Without `day`, the next one (flows/pipeline.py::daily_window), chosen under the writer
    lock, so a schedule needs no parameter and two runs never take the same day.
    """
    settings = run_settings(seed, scale_factor)
    with writer_lock(settings):
        start, end = (day, day) if day else daily_window(settings)
        return run_pipeline(settings, start, end, full_refresh=False)


@flow(name="build-and-publish", **HOOKS)
def build_and_publish(full_refresh: bool = False) -> PipelineResult:
    """Rebuild the warehouse from the lake as it is (no ingestion), gate it, publish it."""
    settings = run_settings()
    ensure_writable(settings)
    lake = Lake.from_settings(settings)
    empty = [entity.name for entity in ENTITIES.values() if not lake.partition_files("raw", entity)]
    if empty:
        raise EmptyLake(
            f"the lake at {settings.lake_uri} holds no {', '.join(empty)} yet: "
            "ingest first (lakehouse run, or lakehouse backfill)"
        )
    noted = journal()
    with writer_lock(settings):
        noted.dbt = build(settings, full_refresh)
        gate, published = gate_and_publish(settings)
    return PipelineResult({}, noted.dbt, gate, published)

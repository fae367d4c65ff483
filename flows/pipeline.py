"""The runs: land the sources, build, gate, publish — each run holding the writer lock once.

The flows here are the entry points of the deployments (prefect.yaml) and of `lakehouse run`,
`daily` and `build`: each takes the lake's writer lock itself, once, and records itself when
it ends, however it ends. Every stage returns what it did; the run's outcome is assembled from
those returns (no state kept on the side) and becomes the run's record: `_runs/` in the lake
and `ops.duckdb` beside the warehouse, which Data Health reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.runtime import deployment, flow_run

from flows.ingestion.base import run_id
from flows.ingestion.run import ingest, late_days, summarize
from flows.lake.entities import ENTITIES
from flows.lake.manifests import Manifest
from flows.lake.partitions import ZONES, Lake
from flows.lake.state import last_ingested_day
from flows.operations.cleanup import clean_leftovers
from flows.operations.freshness import Freshness, measure, warnings
from flows.operations.ops import publish_ops
from flows.operations.repair import RepairPlan, plan_repair, reseal
from flows.operations.run_history import describe_late, write_run
from flows.operations.verify import check_manifests
from flows.runtime.heartbeats import no_flow_heartbeats
from flows.runtime.lock import writer_lock
from flows.runtime.stop import stopping_signal
from flows.settings import (
    Settings,
    check_window,
    ensure_writable,
    load_settings,
    switch_telemetry_off,
)
from flows.sources.entry import open_sources
from flows.warehouse.build import (
    BuildError,
    build_warehouse,
    code_fingerprint,
    describe_statuses,
)
from flows.warehouse.gate import GateResult, checks_fingerprint, store_result, verify_contracts
from flows.warehouse.publish import (
    BuildRecord,
    PublishRefused,
    begin_build,
    fail_build,
    file_sha256,
    finish_build,
    publish,
    read_record,
    record_gate,
    write_record,
)


class EmptyLake(RuntimeError):
    """There is nothing in the lake to build a warehouse from."""


class QualityGateFailed(RuntimeError):
    """The build did not pass its contracts; the previous warehouse keeps serving."""


@dataclass
class PipelineResult:
    """What a run did, stage by stage: each stage's return, put together by the run.

    It is what the flows return, and, as far as the run got, the run's record.
    """

    window: tuple[str, str] = ("", "")  # the days ingested
    rows_landed: dict[str, int] = field(default_factory=dict)  # new rows in raw per entity
    quarantined: dict[str, int] = field(default_factory=dict)
    late: dict[str, dict[str, int]] = field(default_factory=dict)  # past day → entity → rows
    freshness: list[dict] = field(default_factory=list)  # per source entity (Freshness)
    dbt: dict[str, int] = field(default_factory=dict)  # dbt results by status
    gate: str = ""  # the gate's verdict in one line
    gate_passed: bool | None = None  # None: the run did not reach the gate
    gate_checks: int = 0
    published: str = ""  # the published file, when the run published
    notes: list[str] = field(default_factory=list)  # what else the user should be told

    @property
    def freshness_warnings(self) -> list[str]:
        return [
            f"{item['source']} {item['status']}: {item['note']}"
            for item in self.freshness
            if item["status"] != "pass"
        ]

    def late_summary(self) -> str:
        """The past days whose figures this run changed, in one line."""
        return describe_late(self.late)

    def markdown(self) -> str:
        """The run's summary, as a Prefect artifact shows it."""
        landed = "\n".join(f"| {name} | {n:,} |" for name, n in sorted(self.rows_landed.items()))
        dbt = describe_statuses(self.dbt)
        start, end = self.window
        return (
            f"# Lakehouse run {start} → {end}\n\n| entity | rows landed |\n|---|---:|\n{landed}\n\n"
            f"dbt: {dbt}\n\n{self.gate}\n\npublished `{self.published}`\n"
            + "".join(f"\n- freshness warning: {line}" for line in self.freshness_warnings)
            + (f"\n- {self.late_summary()}" if self.late else "")
        )


def run_settings(**parameters: object) -> Settings:
    """A run's settings: the environment, the run's parameters over it. Made once per run."""
    return load_settings(**{key: value for key, value in parameters.items() if value is not None})


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextmanager
def recorded_run(settings: Settings, name: str) -> Iterator[PipelineResult]:
    """The run's record, written when the run ends however it ends, then ops republished.

    The body fills the result as its stages return; a failure keeps what was done (rows landed
    before a gate failure, the gate's verdict) and its reason. Recording never hides the run's
    own outcome: a record that cannot be written is logged.
    """
    result = PipelineResult()
    started = datetime.now(UTC)
    state, reason = "Completed", ""
    try:
        yield result
    except Exception as error:  # a stop that a library wrapped is still a stop
        stopped_by = stopping_signal(error)
        state = "Crashed" if stopped_by else "Failed"
        reason = f"stopped by {stopped_by}" if stopped_by else _one_line(error)
        raise
    except BaseException as error:  # interrupted, terminated
        state, reason = "Crashed", _one_line(error)
        raise
    finally:
        run = str(flow_run.get_id() or uuid.uuid4())
        parameters = dict(flow_run.get_parameters() or {})
        entry = {
            "run_id": run,
            "run_name": flow_run.get_name() or "",
            "flow": name,
            "deployment_id": str(deployment.get_id() or ""),
            "state": state,
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            # the parameters the run was given (unset ones follow the settings)
            "parameters": {k: str(v) for k, v in parameters.items() if v is not None},
            **asdict(result),
            "reason": reason,
        }
        try:
            write_run(Lake.from_settings(settings), entry)
            publish_ops(settings)
        except Exception:
            get_run_logger().exception("could not record the pipeline run")


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
    With no such build on this engine (the first build, or after a change of engine), every
    incremental model is rebuilt in full.
    """
    record = begin_build(settings, code_fingerprint(settings))
    full_refresh = full_refresh or not record.baseline
    if full_refresh and record.gated_at:
        # every row is rebuilt: the next gate checks every day
        record = write_record(settings, replace(record, gated_at="", gated_checks=""))
    # unit tests run fixed rows through the models: under the code they last passed they
    # would pass again, on any day's data
    unit_tests = full_refresh or not record.code or record.code != record.tested_code
    since = (
        None
        if full_refresh
        else first_day_written_since(Lake.from_settings(settings), record.baseline)
    )
    engine = settings.runs.engine
    get_run_logger().info(
        "building the warehouse on %s: build %s, %s%s",
        engine,
        record.build_id[:12],
        f"lake partitions from {since}" if since else "every lake partition",
        "" if unit_tests else "; unit tests left out (the code they passed under is unchanged)",
    )
    try:
        statuses = build_warehouse(
            settings, full_refresh, since, engine=engine, unit_tests=unit_tests
        )
    except BuildError as error:
        fail_build(settings, record, str(error))
        raise
    finish_build(settings, record)
    get_run_logger().info("dbt build %s: %s", record.build_id[:12], describe_statuses(statuses))
    return statuses


def gate_since(settings: Settings, record: BuildRecord, checks: str, lake: Lake) -> date | None:
    """The first day the gate's event checks must read, or None for every day.

    A day is left out only when the last build that passed the gate ran under the same checks
    fingerprint (contracts, gate, dbt code) on DuckDB, and no partition of it was written
    since that build started: its raw events are the ones that gate passed, and every build
    since wrote fact_events only on days from its own lake_since on, which is never earlier.
    Rows repeated across days meet the whole-table counts: the lake's events against
    fact_events, whose delete+insert by event_id keeps one of each.
    """
    if settings.runs.engine != "duckdb" or not record.gated_at or record.gated_checks != checks:
        return None
    return first_day_written_since(lake, record.gated_at)


@task(name="quality-gate", cache_policy=NONE)
def quality_gate(settings: Settings) -> GateResult:
    """The contracts on the build file dbt just made, and the lake against its manifests."""
    record = read_record(settings)
    if record is None or record.status != "built":
        raise PublishRefused("no build that passed dbt to put through the gate")
    if file_sha256(settings.storage.build_path) != record.sha256:
        raise PublishRefused(f"{settings.storage.build_path} changed after dbt built it; not gated")
    lake = Lake.from_settings(settings)
    checks = checks_fingerprint(settings, record.code)
    since = gate_since(settings, record, checks, lake)
    get_run_logger().info(
        "gating build %s: contracts%s and lake manifests",
        record.build_id[:12],
        f" (event checks on the days from {since} on)" if since else "",
    )
    result = verify_contracts(settings, since=since)
    findings = check_manifests(lake)
    if findings:
        result = replace(result, passed=False, lake=tuple(f.line() for f in findings))
    store_result(settings, result, record.build_id)
    record_gate(settings, record, result.passed, detail=result.summary(), checks=checks)
    get_run_logger().info(result.summary())
    return result


@task(name="publish-warehouse", cache_policy=NONE)
def publish_warehouse(settings: Settings) -> str:
    get_run_logger().info("publishing the gated build to %s", settings.storage.warehouse_path)
    path = publish(settings)
    get_run_logger().info("published %s", path)
    return str(path)


def gate_and_publish(
    settings: Settings, result: PipelineResult | None = None
) -> tuple[GateResult, str]:
    """Publish the current build only if it passes every contract; raise otherwise.

    Returns the gate's result and the published file; `result` (the run's) gets the verdict
    before a failure is raised, so the run's record keeps it.
    """
    result = result if result is not None else PipelineResult()
    gate = quality_gate(settings)
    result.gate, result.gate_passed = gate.summary(), gate.passed
    result.gate_checks = len(gate.checks)
    create_table_artifact(
        key="quality-gate",
        table=[asdict(check) for check in gate.checks],
        description=gate.summary(),
    )
    if not gate.passed:
        raise QualityGateFailed(f"{gate.summary()}; the previous warehouse keeps serving")
    result.published = publish_warehouse(settings)
    return gate, result.published


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


def run_pipeline(
    settings: Settings, start: date, end: date, full_refresh: bool, result: PipelineResult
) -> PipelineResult:
    """Land `start`..`end` from the sources, build, gate, publish: the body of every run flow.

    The caller holds the writer lock; `result` is filled as the stages return.
    """
    check_window(settings, start, end)
    ensure_writable(settings)
    result.window = (start.isoformat(), end.isoformat())
    world = settings.world
    get_run_logger().info(
        "lakehouse run: %s → %s, seed %s, scale %g%s",
        start, end, world.seed, world.scale_factor, ", full refresh" if full_refresh else "",
    )  # fmt: skip
    # the sources' simulation and the ingestion are subflows: this run's heartbeat speaks for them
    with no_flow_heartbeats(), open_sources(settings, through=end) as sources:
        plan: RepairPlan = prepare_lake(settings)
        reports = ingest(sources.settings, start, end, identities=sources.identities)
    result.rows_landed = summarize(reports)
    result.quarantined = summarize(reports, "quarantined")
    result.late = late_days(reports)
    if result.late:
        get_run_logger().info(describe_late(result.late))
    result.freshness = [item.as_dict() for item in source_freshness(settings, end)]
    if plan.findings:
        for loss in reseal(Lake.from_settings(settings), plan, run_id()):
            get_run_logger().warning(loss)
    result.dbt = build(settings, full_refresh)
    gate_and_publish(settings, result)
    create_markdown_artifact(key="lakehouse-run", markdown=result.markdown())
    return result


@flow(name="lakehouse")
def lakehouse_pipeline(
    start: date | None = None,
    end: date | None = None,
    seed: int | None = None,
    scale_factor: float | None = None,
    start_date: date | None = None,
    full_refresh: bool = False,
    new_lake: bool = False,
    engine: str | None = None,
) -> PipelineResult:
    """Sources → lake → dbt → Soda gate → publish, for the days `start`..`end`.

    Without dates, the settings' window (LAKEHOUSE_START_DATE and LAKEHOUSE_DAYS). `seed`,
    `scale_factor` and `start_date` choose the simulated world over the settings';
    `full_refresh` rebuilds every incremental model; `new_lake` deletes the lake first and
    starts over from the sources (after a change of world); `engine` builds the models on
    duckdb or spark (LAKEHOUSE_ENGINE by default). The parameters become the run's settings
    once, handed to every stage.
    """
    switch_telemetry_off()
    settings = run_settings(
        seed=seed, scale_factor=scale_factor, start_date=start_date, engine=engine
    )
    with recorded_run(settings, "lakehouse") as result, writer_lock(settings):
        if new_lake:
            removed = Lake.from_settings(settings).delete_everything()
            lake_uri = settings.storage.lake_uri
            note = f"new lake at {lake_uri}: {removed:,} files of the old one deleted"
            get_run_logger().warning(note)
            result.notes.append(note)
        world = settings.world
        return run_pipeline(
            settings,
            start or world.start_date,
            end or world.end_date,
            full_refresh=full_refresh or new_lake,
            result=result,
        )


def daily_window(settings: Settings, today: date | None = None) -> tuple[date, date]:
    """The days a daily run takes when none is given.

    The simulated shop keeps trading: each run advances it one business day, the day after
    the last one ingested (the first simulated day on an empty lake), past the settings'
    window as far as the runs go. Real sources: every day from the one after the last
    ingested through yesterday (UTC), so a missed run is caught up.
    """
    last = last_ingested_day(Lake.from_settings(settings))
    if not settings.sources.simulate_sources:
        yesterday = (today or datetime.now(UTC).date()) - timedelta(days=1)
        return (min(last + timedelta(days=1), yesterday) if last else yesterday), yesterday
    day = settings.world.start_date if last is None else last + timedelta(days=1)
    return day, day


@flow(name="lakehouse-daily")
def daily_pipeline(
    day: date | None = None,
    seed: int | None = None,
    scale_factor: float | None = None,
    engine: str | None = None,
) -> PipelineResult:
    """One business day: advance the sources, ingest it, build incrementally, gate, publish.

    Without `day`, the next one (`daily_window`), chosen under the writer lock, so a schedule
    needs no parameter and two runs never take the same day.
    """
    switch_telemetry_off()
    settings = run_settings(seed=seed, scale_factor=scale_factor, engine=engine)
    with recorded_run(settings, "lakehouse-daily") as result, writer_lock(settings):
        start, end = (day, day) if day else daily_window(settings)
        return run_pipeline(settings, start, end, full_refresh=False, result=result)


@flow(name="build-and-publish")
def build_and_publish(full_refresh: bool = False, engine: str | None = None) -> PipelineResult:
    """Rebuild the warehouse from the lake as it is (no ingestion), gate it, publish it."""
    switch_telemetry_off()
    settings = run_settings(engine=engine)
    ensure_writable(settings)
    with recorded_run(settings, "build-and-publish") as result, writer_lock(settings):
        lake = Lake.from_settings(settings)
        empty = [e.name for e in ENTITIES.values() if not lake.partition_files("raw", e)]
        if empty:
            raise EmptyLake(
                f"the lake at {settings.storage.lake_uri} holds no {', '.join(empty)} yet: "
                "ingest first (lakehouse run, or lakehouse backfill)"
            )
        result.dbt = build(settings, full_refresh)
        gate_and_publish(settings, result)
        return result

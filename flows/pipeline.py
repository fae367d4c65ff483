"""The main job: land the sources, build the warehouse, gate it, publish it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from prefect import flow, get_run_logger, task

from flows.ingest import ingest, summarize
from flows.publish import publish
from flows.quality import GateResult, store_result, verify_contracts
from flows.settings import Settings, ensure_writable, load_settings
from flows.warehouse import build_warehouse


class QualityGateFailed(RuntimeError):
    """The build did not pass its contracts; the previous warehouse keeps serving."""


@dataclass(frozen=True)
class PipelineResult:
    rows_landed: dict[str, int]  # new rows in raw per entity
    dbt_statuses: dict[str, int]
    gate: GateResult
    published: str


@task(name="build-warehouse")
def build(settings: Settings, full_refresh: bool = False) -> dict[str, int]:
    statuses = build_warehouse(settings, full_refresh)
    get_run_logger().info("dbt build: %s", statuses)
    return statuses


@task(name="quality-gate")
def quality_gate(settings: Settings) -> GateResult:
    result = verify_contracts(settings)
    store_result(settings, result)
    get_run_logger().info(result.summary())
    return result


@task(name="publish-warehouse")
def publish_warehouse(settings: Settings) -> str:
    path = publish(settings)
    get_run_logger().info("published %s", path)
    return str(path)


@flow(name="gate-and-publish")
def gate_and_publish(settings: Settings | None = None) -> tuple[GateResult, str]:
    """Publish the current build only if it passes every contract; raise otherwise."""
    settings = settings or load_settings()
    result = quality_gate(settings)
    if not result.passed:
        raise QualityGateFailed(result.summary())
    return result, publish_warehouse(settings)


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
    rows = summarize(ingest(settings.start_date, settings.end_date))
    statuses = build(settings, full_refresh)
    gate, published = gate_and_publish(settings)
    return PipelineResult(rows, statuses, gate, published)

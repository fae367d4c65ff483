"""Every pipeline run, recorded when Prefect's state hooks see it end, in the lake and in ops.

A run notes what it learns on its way (rows landed, dbt results, the gate) in a journal kept
per flow run in this process; the hooks (`on_completion`, `on_failure`, `on_crashed`) add the
final state and its reason, write one JSON record per run under `_runs/` in the lake, and
republish the ops database the Data Health page reads (flows/ops.py). A run that fails or
crashes is recorded as surely as one that publishes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from flows.lake import Lake
from flows.settings import Settings, load_settings

RUNS_PREFIX = "_runs"
KEPT_RUNS = 200  # runs read into ops, newest first
PREFECT_PREFIX = "Flow run encountered an exception: "


@dataclass
class RunJournal:
    """What a run has learned so far; the hooks turn it into its record."""

    window: tuple[str, str] = ("", "")
    rows_landed: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    dbt: dict[str, int] = field(default_factory=dict)
    gate: str = ""
    gate_passed: bool | None = None
    published: str = ""
    freshness: list[dict] = field(default_factory=list)  # flows.freshness.Freshness per source
    late: dict[str, dict[str, int]] = field(default_factory=dict)  # past day → entity → rows


_journals: dict[str, RunJournal] = {}


def journal() -> RunJournal:
    """The journal of the flow run this code runs in (one per run id, in this process)."""
    from prefect.runtime import flow_run

    return _journals.setdefault(str(flow_run.get_id() or "outside-prefect"), RunJournal())


def describe_late(late: dict[str, dict[str, int]]) -> str:
    """'late data changed 2 past days (2025-12-01 … 2025-12-20): events 1, orders 3'.

    `late` maps each past day to the new rows, per entity, that are about it (an old order's
    status change, a late event): the figures of those days changed with the run.
    """
    if not late:
        return ""
    totals: dict[str, int] = {}
    for entities in late.values():
        for entity, count in entities.items():
            totals[entity] = totals.get(entity, 0) + count
    days = sorted(late)
    span = days[0] if len(days) == 1 else f"{days[0]} … {days[-1]}"
    what = ", ".join(f"{entity} {count:,}" for entity, count in sorted(totals.items()))
    noun = "day" if len(days) == 1 else "days"
    return f"late data changed {len(days)} past {noun} ({span}): {what}"


def run_settings(seed: int | None = None, scale_factor: float | None = None) -> Settings:
    """A run's settings: the environment, with the run's parameters over it. Made once per run."""
    overrides = {"seed": seed, "scale_factor": scale_factor}
    return load_settings(**{key: value for key, value in overrides.items() if value is not None})


def reason_of(state: object) -> str:
    """The failure's own words, without Prefect's preamble."""
    message = " ".join(str(getattr(state, "message", "") or "").split())
    return message.removeprefix(PREFECT_PREFIX)


def record(flow: object, flow_run: object, state: object) -> None:
    """State hook: write the run's record to the lake, then republish ops. Never raises."""
    logger = logging.getLogger("lakehouse")
    try:
        from flows.ops import publish_ops

        parameters = dict(flow_run.parameters)  # type: ignore[attr-defined]
        settings = run_settings(parameters.get("seed"), parameters.get("scale_factor"))
        noted = _journals.pop(str(flow_run.id), RunJournal())  # type: ignore[attr-defined]
        started = flow_run.start_time or flow_run.expected_start_time  # type: ignore[attr-defined]
        entry = {
            "run_id": str(flow_run.id),  # type: ignore[attr-defined]
            "run_name": flow_run.name,  # type: ignore[attr-defined]
            "flow": flow.name,  # type: ignore[attr-defined]
            "deployment_id": str(flow_run.deployment_id or ""),  # type: ignore[attr-defined]
            "state": state.name,  # type: ignore[attr-defined]
            "started_at": started.astimezone(UTC).isoformat() if started else "",
            "finished_at": datetime.now(UTC).isoformat(),
            # the parameters the run was given (unset ones follow the settings)
            "parameters": {
                key: str(value) for key, value in parameters.items() if value is not None
            },
            **asdict(noted),
            "reason": "" if state.is_completed() else reason_of(state),  # type: ignore[attr-defined]
        }
        stamp = entry["started_at"][:19].replace("-", "").replace(":", "")
        Lake.from_settings(settings).write_json(
            f"{RUNS_PREFIX}/{stamp}-{entry['run_id']}.json", entry
        )
        publish_ops(settings)
    except Exception:  # the run's own outcome stands; a lost record is logged, not raised
        logger.exception("could not record the pipeline run")


def read_runs(lake: Lake) -> list[dict]:
    """The newest KEPT_RUNS run records in the lake, newest first."""
    import pyarrow.fs as pafs

    selector = pafs.FileSelector(lake.path(RUNS_PREFIX), allow_not_found=True)
    names = sorted(
        (info.base_name for info in lake.fs.get_file_info(selector) if info.is_file),
        reverse=True,
    )[:KEPT_RUNS]
    runs = [lake.read_json(f"{RUNS_PREFIX}/{name}") for name in names if name.endswith(".json")]
    return [run for run in runs if run]


HOOKS = {"on_completion": [record], "on_failure": [record], "on_crashed": [record]}

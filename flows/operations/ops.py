"""The ops database: run history, the last gate and the ingestion state, published for the app.

The Data Health page must show a failed run although nothing new was published, and the
warehouse file is replaced only by a build that passed its gate. So ops is a small DuckDB file
of its own beside the warehouse (`ops.duckdb`), rebuilt aside and renamed into place at the end
of every run; the app attaches it read-only as `ops` next to the warehouse. It holds copies of
what the lake and the run folder know, so the app needs no lake, state JSON or S3 credentials.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from flows.lake.partitions import Lake
from flows.lake.state import state_path
from flows.operations.run_history import describe_late, read_runs
from flows.settings import Settings
from flows.sources.contract import SOURCES

RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("run_name", pa.string()),
        ("flow", pa.string()),
        ("state", pa.string()),
        ("started_at", pa.string()),
        ("finished_at", pa.string()),
        ("window_start", pa.string()),
        ("window_end", pa.string()),
        ("parameters", pa.string()),
        ("rows_landed", pa.int64()),
        ("quarantined", pa.int64()),
        ("landed_per_entity", pa.string()),
        ("dbt", pa.string()),
        ("gate", pa.string()),  # the gate's verdict in one line; null: the run did not reach it
        ("gate_passed", pa.bool_()),
        ("published", pa.string()),  # the file the run published; null: none
        ("reason", pa.string()),
        ("freshness_warnings", pa.string()),
        ("late_data", pa.string()),  # past days whose figures the run changed, in words
        ("late_days", pa.string()),  # the same, JSON: day → entity → rows
    ]
)
FRESHNESS = pa.schema(
    [
        ("run_id", pa.string()),
        ("source", pa.string()),
        ("status", pa.string()),
        ("newest_day", pa.string()),
        ("data_age_days", pa.int64()),
        ("last_loaded_at", pa.string()),
        ("load_age_hours", pa.float64()),
        ("note", pa.string()),
    ]
)
GATE_CHECKS = pa.schema(
    [
        ("build_id", pa.string()),
        ("contract", pa.string()),
        ("column", pa.string()),
        ("check", pa.string()),
        ("outcome", pa.string()),  # PASSED, WARN (reported, not blocking), FAILED, NOT_EVALUATED
        ("value", pa.float64()),  # observed
        ("threshold", pa.string()),  # what passes, e.g. "must be 0"
        ("level", pa.string()),  # fail, or warn: never blocks a publish
        ("qualifier", pa.string()),
        ("name", pa.string()),
        ("message", pa.string()),  # table, check, observed value and threshold in one line
    ]
)
GATE = pa.schema(
    [
        ("build_id", pa.string()),
        ("passed", pa.bool_()),
        ("errors", pa.string()),
        ("lake", pa.string()),
    ]
)
INGESTION = pa.schema(
    [
        ("source", pa.string()),
        ("last_ingested_at", pa.string()),
        ("window_start", pa.string()),
        ("window_end", pa.string()),
        ("watermark", pa.string()),
        ("records_read", pa.int64()),
        ("landed", pa.int64()),
        ("quarantined", pa.int64()),
    ]
)


def ops_path(settings: Settings) -> Path:
    return settings.storage.warehouse_path.with_name("ops.duckdb")


def _run_rows(runs: list[dict]) -> list[dict]:
    return [
        {
            "run_id": run["run_id"],
            "run_name": run.get("run_name", ""),
            "flow": run.get("flow", ""),
            "state": run["state"],
            "started_at": run.get("started_at", ""),
            "finished_at": run.get("finished_at", ""),
            "window_start": (run.get("window") or ["", ""])[0],
            "window_end": (run.get("window") or ["", ""])[1],
            "parameters": json.dumps(run.get("parameters", {}), sort_keys=True),
            "rows_landed": sum(run.get("rows_landed", {}).values()),
            "quarantined": sum(run.get("quarantined", {}).values()),
            "landed_per_entity": json.dumps(run.get("rows_landed", {}), sort_keys=True),
            "dbt": json.dumps(run.get("dbt", {}), sort_keys=True),
            "gate": run.get("gate") or None,  # shown as — when the run did not reach the gate
            "gate_passed": run.get("gate_passed"),
            "published": run.get("published") or None,
            "reason": run.get("reason", ""),
            "freshness_warnings": "; ".join(
                f"{item['source']} {item['status']}"
                for item in run.get("freshness", [])
                if item["status"] != "pass"
            ),
            "late_data": describe_late(run.get("late", {})),
            "late_days": json.dumps(run.get("late", {}), sort_keys=True),
        }
        for run in runs
    ]


def _freshness_rows(runs: list[dict]) -> list[dict]:
    """Source freshness as the newest run that measured it saw it."""
    measured = next((run for run in runs if run.get("freshness")), None)
    if measured is None:
        return []
    return [
        {"run_id": measured["run_id"], **{key: item.get(key) for key in FRESHNESS.names[1:]}}
        for item in measured["freshness"]
    ]


def _ingestion_rows(lake: Lake) -> list[dict]:
    rows = []
    for source in SOURCES:
        state = lake.read_json(state_path(source))
        if state and state.get("runs"):
            last = state["runs"][-1]
            rows.append(
                {
                    "source": source,
                    "last_ingested_at": last["finished_at"],
                    "window_start": last["window"][0],
                    "window_end": last["window"][1],
                    "watermark": str(state.get("watermark", "")),
                    "records_read": sum(last["records"].values()),
                    "landed": sum(last["landed"].values()),
                    "quarantined": sum(last["quarantined"].values()),
                }
            )
    return rows


def _gate(settings: Settings) -> tuple[list[dict], list[dict]]:
    path = settings.storage.run_state_dir / "quality_gate.json"
    if not path.exists():
        return [], []
    gate = json.loads(path.read_text())
    build = gate.get("build_id", "")
    checks = [
        {"build_id": build, **{key: check.get(key) for key in GATE_CHECKS.names[1:]}}
        for check in gate.get("checks", [])
    ]
    summary = {
        "build_id": build,
        "passed": gate.get("passed"),
        "errors": gate.get("errors", ""),
        "lake": "; ".join(gate.get("lake", [])),
    }
    return [summary], checks


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One ops writer at a time: two runs ending together must not drop each other's record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def publish_ops(settings: Settings) -> Path:
    """Rebuild ops from the lake and the run folder, aside, and rename it into place."""
    target = ops_path(settings)
    with _exclusive(target.with_name(".ops.lock")):
        lake = Lake.from_settings(settings)
        gate, checks = _gate(settings)
        runs = read_runs(lake)
        tables = {
            "runs": pa.Table.from_pylist(_run_rows(runs), RUNS),
            "freshness": pa.Table.from_pylist(_freshness_rows(runs), FRESHNESS),
            "gate": pa.Table.from_pylist(gate, GATE),
            "gate_checks": pa.Table.from_pylist(checks, GATE_CHECKS),
            "ingestion": pa.Table.from_pylist(_ingestion_rows(lake), INGESTION),
        }
        for leftover in target.parent.glob(".ops.*.tmp"):  # a killed writer's; ours is serial
            leftover.unlink(missing_ok=True)
        aside = target.with_name(f".ops.{os.getpid()}.tmp")
        with duckdb.connect(str(aside)) as connection:
            for name, table in tables.items():
                connection.register("incoming", table)
                connection.execute(f"create table {name} as select * from incoming")
                connection.unregister("incoming")
        os.replace(aside, target)
    return target

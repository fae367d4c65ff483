"""The record of every pipeline run: one JSON file per run under `_runs/` in the lake.

The run flows (flows/pipeline.py) write a record when a run ends, however it ends — completed,
failed or crashed — from what its stages returned; ops.duckdb (flows/operations/ops.py) is
rebuilt from these records for the Data Health page.
"""

from __future__ import annotations

import pyarrow.fs as pafs

from flows.lake.partitions import Lake

RUNS_PREFIX = "_runs"
KEPT_RUNS = 200  # runs read into ops, newest first


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


def write_run(lake: Lake, entry: dict) -> str:
    """Write a run's record; returns its name (the start time first, so names sort by time)."""
    stamp = entry["started_at"][:19].replace("-", "").replace(":", "")
    relative = f"{RUNS_PREFIX}/{stamp}-{entry['run_id']}.json"
    lake.write_json(relative, entry)
    return relative


def read_runs(lake: Lake) -> list[dict]:
    """The newest KEPT_RUNS run records in the lake, newest first."""
    selector = pafs.FileSelector(lake.path(RUNS_PREFIX), allow_not_found=True)
    names = sorted(
        (info.base_name for info in lake.fs.get_file_info(selector) if info.is_file),
        reverse=True,
    )[:KEPT_RUNS]
    runs = [lake.read_json(f"{RUNS_PREFIX}/{name}") for name in names if name.endswith(".json")]
    return [run for run in runs if run]

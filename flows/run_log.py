"""The outcome of each pipeline run, kept beside the warehouse for the data-health page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from flows.settings import Settings

KEPT_RUNS = 50


def runs_file(settings: Settings) -> Path:
    return settings.run_state_dir / "pipeline_runs.json"


def read_runs(settings: Settings) -> list[dict]:
    path = runs_file(settings)
    return json.loads(path.read_text()) if path.exists() else []


def record_run(settings: Settings, status: str, detail: str, started_at: datetime) -> None:
    """Append one run (newest last), written aside and renamed."""
    runs = read_runs(settings)[-(KEPT_RUNS - 1) :]
    runs.append(
        {
            "status": status,
            "detail": detail,
            "started_at": started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "window": [settings.start_date.isoformat(), settings.end_date.isoformat()],
        }
    )
    path = runs_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(runs, indent=1))
    temporary.replace(path)

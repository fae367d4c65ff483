"""The production topology, running: the services of infra/docker-compose.yml as processes
(infra/stack.py): PostgreSQL under the Prefect server, SeaweedFS's S3 gateway for MinIO, the
deployments of prefect.yaml, a process worker and the dashboards, each with the environment and
command the compose file gives it. The deployments are triggered as a user or their schedule
would, and everything a user looks at afterwards is checked."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import duckdb
import httpx
import pytest

from infra.stack import Stack, running_stack
from tests.cli import alive, warehouse_value

pytestmark = pytest.mark.e2e

PREFECT = str(Path(sys.executable).with_name("prefect"))
LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# as a user would edit infra/.env: a small shop, from 2025-10-01, three days in its window
WORLD = {
    "LAKEHOUSE_SEED": "11",
    "LAKEHOUSE_SCALE_FACTOR": "0.2",
    "LAKEHOUSE_START_DATE": "2025-10-01",
    "LAKEHOUSE_DAYS": "3",
}


def trigger(stack: Stack, deployment: str, *options: str, **parameters: str) -> str:
    """`prefect deployment run` as a user types it; returns the flow run's id."""
    command = [PREFECT, "deployment", "run", deployment, *options]
    for name, value in parameters.items():
        command += ["--param", f"{name}={value}"]
    result = subprocess.run(
        command, env=stack.environment("worker"), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return re.search(r"UUID: ([0-9a-f-]{36})", result.stdout).group(1)


def wait_final(api: str, runs: list[str], timeout: float) -> dict[str, tuple[str, str]]:
    """Each flow run's final state type and message, polled from the server's REST API."""
    deadline = time.monotonic() + timeout
    states: dict[str, tuple[str, str]] = {}
    while time.monotonic() < deadline and len(states) < len(runs):
        for run in runs:
            state = httpx.get(f"{api}/flow_runs/{run}", timeout=10).json()["state"]
            if state["type"] in FINAL:
                states[run] = (state["type"], state.get("message") or "")
        time.sleep(2)
    assert len(states) == len(runs), f"not finished within {timeout} s: {states}"
    return states


def flow_runs_in_postgres(url: str) -> int:
    """Flow runs the Prefect server keeps in PostgreSQL: proof it is not on SQLite."""
    import asyncpg

    async def count() -> int:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval("select count(*) from flow_run")
        finally:
            await connection.close()

    return asyncio.run(count())


def data_health_text(url: str) -> str:
    """The Data Health page as Chromium shows it, once its script has run."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import BROWSER_ARGS, browser_path, settle

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=browser_path(), headless=True, args=BROWSER_ARGS
        )
        try:
            page = chromium.new_page(viewport={"width": 1440, "height": 1600})
            page.goto(f"{url}/health")
            settle(page)
            return page.inner_text("body")
        finally:
            chromium.close()


def stack_processes(folder: Path) -> set[int]:
    """Every process whose command line names the stack's folder (SeaweedFS, the services)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_stack_runs_the_deployments_and_everything_a_user_looks_at_agrees(
    tmp_path: Path,
) -> None:
    """A backfill and a daily run at once (one waits for the other's writer lock, told by
    name), then the next night's `daily` without parameters, as its schedule starts it: the
    shop trades on past the window. Then the lake on S3, the published warehouse, the run
    history, Data Health in a browser and `lakehouse verify`; and once the stack stops,
    nothing of it runs."""
    folder = tmp_path / "stack"
    with running_stack(folder, overrides=WORLD) as stack:
        api = stack.addresses.prefect_api
        # both due at the same moment, so the worker takes them in the same poll
        at = (datetime.now(UTC) + timedelta(seconds=15)).strftime("%Y-%m-%d %H:%M:%S")
        daily = trigger(stack, "lakehouse-daily/daily", "--start-at", at, day="2025-10-03")
        backfill = trigger(
            stack, "lakehouse/backfill", "--start-at", at, start="2025-10-01", end="2025-10-02"
        )
        states = wait_final(api, [daily, backfill], timeout=600)
        night = trigger(stack, "lakehouse-daily/daily")  # as the schedule starts it
        states |= wait_final(api, [night], timeout=300)
        worker_log = stack.log("worker").read_text()
        assert {kind for kind, _ in states.values()} == {"COMPLETED"}, (states, worker_log[-5000:])
        assert re.search(r"waiting up to 3600 s for `Prefect flow run \S+ \(", worker_log)

        # the Prefect server keeps its runs in PostgreSQL, as the compose file configures it
        assert flow_runs_in_postgres(stack.addresses.postgres_url) >= 3

        # the lake is on the S3 server: every day's partitions of every source
        worker = stack.environment("worker")
        s3 = boto3.client(
            "s3",
            endpoint_url=stack.addresses.s3,
            aws_access_key_id=worker["LAKEHOUSE_S3_ACCESS_KEY_ID"],
            aws_secret_access_key=worker["LAKEHOUSE_S3_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket="lakehouse-lake", Prefix="lake/"
            )
            for item in page.get("Contents", [])
        ]
        days = [date(2025, 10, 1) + timedelta(days=n) for n in range(4)]

        def landed(source: str, day: date) -> bool:
            where = f"lake/raw/{source}/"
            when = f"/year={day:%Y}/month={day:%m}/day={day:%d}/"
            return any(k.startswith(where) and when in k and k.endswith(".parquet") for k in keys)

        # the catalog's snapshot and the clickstream every day; the shop on the days it traded
        assert all(landed(source, day) for source in ("catalog", "clickstream") for day in days)
        assert any(landed("shop", day) for day in days), keys[:20]
        assert not (folder / "data" / "lake").exists()  # nothing of the lake on local disk

        published = Path(worker["LAKEHOUSE_WAREHOUSE_PATH"])
        shown = warehouse_value(
            published, "select list(distinct event_date order by event_date) from fact_events"
        )
        assert shown == days
        with duckdb.connect(str(published.with_name("ops.duckdb")), read_only=True) as ops:
            recorded = set(
                ops.sql(
                    "select run_id, flow, state, window_start, window_end, rows_landed > 0 "
                    "from runs"
                ).fetchall()
            )
        assert recorded == {
            (daily, "lakehouse-daily", "Completed", "2025-10-03", "2025-10-03", True),
            (backfill, "lakehouse", "Completed", "2025-10-01", "2025-10-02", True),
            (night, "lakehouse-daily", "Completed", "2025-10-04", "2025-10-04", True),
        }
        artifacts = httpx.post(
            f"{api}/artifacts/filter",
            json={"artifacts": {"key": {"any_": ["lakehouse-run", "quality-gate"]}}},
            timeout=10,
        ).json()
        summaries = [
            a for a in artifacts if a["key"] == "lakehouse-run" and a["flow_run_id"] == daily
        ]
        assert len(summaries) == 1
        assert "# Lakehouse run 2025-10-03 → 2025-10-03" in summaries[0]["data"]
        assert len([a for a in artifacts if a["key"] == "quality-gate"]) >= 3  # one per gate

        # what the dashboards' reader sees, from the app service the stack serves
        health = data_health_text(stack.addresses.dashboard)
        assert "The last run published at" in health and "Last failure" not in health
        assert re.search(r"Checks passed\s+\d+ of \d+", health), health

        verified = subprocess.run(
            [LAKEHOUSE, "verify"], env=worker, cwd=folder, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr

        ports = stack.addresses.ports
        started = stack_processes(folder) | {p.pid for p in stack.processes.values()}
    assert not alive(started), "processes of the stack outlived it"
    assert not [port for port in ports if listening(port)], "a port of the stack still answers"

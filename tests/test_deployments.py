"""Deployments from prefect.yaml on a real Prefect server and process worker; run parameters;
`lakehouse doctor`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx

from generators.config import SimulationConfig
from generators.simulation import Simulation
from tests.cli import Workspace, file_hash, warehouse_value
from tests.conftest import REPO, PrefectServer, S3Endpoint

PREFECT = str(Path(sys.executable).with_name("prefect"))
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def trigger(workspace: Workspace, deployment: str, **parameters: str) -> str:
    """`prefect deployment run` as a user types it; returns the flow run's id."""
    command = [PREFECT, "deployment", "run", deployment]
    for name, value in parameters.items():
        command += ["--param", f"{name}={value}"]
    result = subprocess.run(
        command, env=workspace.process_environment(), capture_output=True, text=True, timeout=120
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


def test_daily_and_backfill_deployments_run_on_a_worker_one_at_a_time(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    """On the default path: a run over the settings' window (a backfill and a daily at once,
    one waiting for the other's lock), then the `daily` deployment as its schedule would start
    it, two nights running, without parameters: the shop trades on past the window."""
    workspace = Workspace.create(tmp_path / "data", prefect_api.url, LAKEHOUSE_DAYS="3")
    environment = workspace.process_environment()
    deployed = subprocess.run(
        ["make", "--no-print-directory", "deploy"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    for name in ("lakehouse-daily/daily", "lakehouse/backfill", "lakehouse/full-refresh"):
        assert f"Deployment '{name}' successfully created" in " ".join(deployed.stdout.split())

    # two runs triggered at once, queued before the worker starts so that it takes both together
    daily = trigger(workspace, "lakehouse-daily/daily", day="2025-10-03")
    backfill = trigger(workspace, "lakehouse/backfill", start="2025-10-01", end="2025-10-02")
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "lakehouse", "--type", "process"],
            cwd=tmp_path, env=environment, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            states = wait_final(prefect_api.url, [daily, backfill], timeout=600)
            # the next two nights, as the schedule starts them: no parameter, one after the other
            nights = [trigger(workspace, "lakehouse-daily/daily")]
            wait_final(prefect_api.url, nights, timeout=300)
            nights.append(trigger(workspace, "lakehouse-daily/daily"))
            states |= wait_final(prefect_api.url, nights, timeout=300)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
    assert {kind for kind, _ in states.values()} == {"COMPLETED"}, (states, log.read_text()[-5000:])
    # one ran, the other waited for its writer lock, told by name
    assert re.search(r"waiting up to 3600 s for `Prefect flow run \S+ \(", log.read_text())

    days = warehouse_value(
        workspace.published,
        "select list(distinct event_date order by event_date) from fact_events",
    )
    assert days == [date(2025, 10, 1) + timedelta(days=n) for n in range(5)]
    ops = workspace.published.with_name("ops.duckdb")
    with duckdb.connect(str(ops), read_only=True) as connection:
        recorded = set(
            connection.sql(
                "select run_id, flow, state, window_start, window_end, rows_landed > 0 from runs"
            ).fetchall()
        )
    assert recorded == {
        (daily, "lakehouse-daily", "Completed", "2025-10-03", "2025-10-03", True),
        (backfill, "lakehouse", "Completed", "2025-10-01", "2025-10-02", True),
        (nights[0], "lakehouse-daily", "Completed", "2025-10-04", "2025-10-04", True),
        (nights[1], "lakehouse-daily", "Completed", "2025-10-05", "2025-10-05", True),
    }
    artifacts = httpx.post(
        f"{prefect_api.url}/artifacts/filter",
        json={"artifacts": {"key": {"any_": ["lakehouse-run", "quality-gate"]}}},
        timeout=10,
    ).json()
    summaries = [a for a in artifacts if a["key"] == "lakehouse-run" and a["flow_run_id"] == daily]
    assert len(summaries) == 1 and "# Lakehouse run 2025-10-03 → 2025-10-03" in summaries[0]["data"]
    assert len([a for a in artifacts if a["key"] == "quality-gate"]) >= 4  # one table per gate
    verified = workspace.run("verify")  # the lake agrees with its manifests and its sources
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_day_before_the_shop_opened_is_one_line_before_any_work(
    completed: Workspace, tmp_path: Path
) -> None:
    workspace = completed.copy(tmp_path / "data")  # the shop opened on 2025-10-01
    published = file_hash(workspace.published)
    before = workspace.run("ingest", "--date", "2025-09-30")
    assert before.returncode == 2
    assert before.stderr.strip() == (
        "error: 2025-09-30 is before the simulated shop opened on 2025-10-01 "
        "(LAKEHOUSE_START_DATE): choose days from then on (another start date is another "
        "world, which needs a new lake)"
    )
    assert file_hash(workspace.published) == published


def simulated_totals(seed: int) -> tuple[int, int, Decimal, int]:
    """Orders, order lines, gross amount and events the simulator produces over the window."""
    config = SimulationConfig(seed=seed, scale_factor=0.2, start_date=date(2025, 10, 1), days=20)
    orders: set[int] = set()
    lines, gross, events = 0, Decimal(0), 0
    for day in Simulation(config).days():
        orders |= set(day.orders["order_id"].to_pylist())
        lines += day.order_items.num_rows
        gross += sum(
            (quantity * price for quantity, price in zip(
                day.order_items["quantity"].to_pylist(),
                day.order_items["unit_price"].to_pylist(), strict=True,
            )),
            Decimal(0),
        )  # fmt: skip
        events += day.events.num_rows
    return len(orders), lines, gross, events


def test_run_parameters_reach_every_stage(prefect_api: PrefectServer, tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "data", prefect_api.url)  # seed 11, 10 days
    result = workspace.run("run", "--seed", "7", "--scale", "0.2", "--days", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lakehouse: seed 7, scale 0.2, 2025-10-01 → 2025-10-20 (20 days)" in result.stdout

    landed = warehouse_value(
        workspace.published,
        """
        select [(select count(distinct order_id) from fact_orders),
                (select count(*) from fact_orders),
                (select sum(gross_amount) from fact_orders),
                (select count(*) from fact_events)]
        """,
    )
    expected = simulated_totals(7)
    assert (landed[0], landed[1], Decimal(str(landed[2])), landed[3]) == expected
    assert expected != simulated_totals(42)


def test_doctor_says_what_works_and_names_what_does_not(
    prefect_api: PrefectServer, s3: S3Endpoint, tmp_path: Path
) -> None:
    workspace = Workspace.create(tmp_path / "data", prefect_api.url)
    good = workspace.run("doctor")
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1] if not line.startswith(" ")] == [
        "settings", "lake", "duckdb", "shop", "catalog", "Prefect", "duckdb",
    ]  # fmt: skip
    assert f"{workspace.lake}: probe written, read back" in good.stdout
    assert f"{prefect_api.url}: healthy" in good.stdout
    assert lines[-1] == "all 6 checks passed"

    on_s3 = workspace.run(
        "doctor", LAKEHOUSE_LAKE_ROOT=f"{s3.bucket('doctor-lake')}/lake", **s3.environment
    )
    assert on_s3.returncode == 0, on_s3.stdout + on_s3.stderr
    assert "read back (pyarrow and DuckDB httpfs)" in on_s3.stdout

    with_socket = socket.socket()
    with_socket.bind(("127.0.0.1", 0))
    closed = with_socket.getsockname()[1]  # bound, never listening: connections are refused
    try:
        broken = workspace.run(
            "doctor",
            LAKEHOUSE_LAKE_ROOT="s3://lake-bucket/lake",
            **{**s3.environment, "LAKEHOUSE_S3_ENDPOINT_URL": f"http://127.0.0.1:{closed}"},
        )
    finally:
        with_socket.close()
    assert broken.returncode == 1
    lake_line = next(line for line in broken.stdout.splitlines() if line.startswith("lake "))
    assert "FAIL" in lake_line and f"127.0.0.1:{closed}" in lake_line
    assert "fix: check LAKEHOUSE_LAKE_ROOT and, for s3://, LAKEHOUSE_S3_ENDPOINT_URL" in (
        broken.stdout
    )
    assert broken.stderr.strip() == "error: 1 of 6 checks failed: lake"
    assert "testing" not in broken.stdout  # the secret key is never shown

"""Run parameters and checks before any work; `lakehouse doctor`. The deployments running on a
worker are tested on the whole stack (tests/test_stack.py)."""

from __future__ import annotations

import socket
from datetime import date
from decimal import Decimal
from pathlib import Path

from generators.config import SimulationConfig
from generators.simulation import Simulation
from tests.cli import Workspace, file_hash, warehouse_value
from tests.conftest import PrefectServer, S3Endpoint


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
    checked = [line for line in lines[:-1] if not line.startswith(" ")]
    assert lines[-1] == f"all {len(checked)} checks passed" == "all 7 checks passed"

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
    assert broken.stderr.strip() == "error: 1 of 7 checks failed: lake"
    assert "testing" not in broken.stdout  # the secret key is never shown

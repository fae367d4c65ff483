"""The life after the first run: kills, lost partitions, concurrent runs, refused publishes.

Everything here drives the `lakehouse` command as a user would, in separate processes, against
a real Prefect server, with SIGKILL as the crash.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.cli import (
    Workspace,
    alive,
    children,
    file_hash,
    project_copy,
    source_net_revenue,
    wait_for_line,
    warehouse_value,
)

pytestmark = pytest.mark.e2e

# (stage, the line that says it has begun, seconds to let it work before the kill)
STAGES = [
    ("catalog", "for flow 'ingest-catalog-api'", 0.3),
    ("shop", "for flow 'ingest-shop-db'", 0.3),
    ("clickstream", "for flow 'ingest-clickstream'", 0.2),
    ("dbt", "building the warehouse", 1.5),
    ("gate", "gating build", 0.1),
    ("publish", "publishing the gated build", 0.0),
]


class Reader(threading.Thread):
    """Opens the published warehouse read-only again and again, as the dashboard does."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.reads, self.failures = path, 0, []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                with duckdb.connect(str(self.path), read_only=True) as warehouse:
                    warehouse.sql("select count(*) from fact_orders").fetchone()
                self.reads += 1
            except Exception as error:  # any failure to read is what this test looks for
                self.failures.append(repr(error))


def lake_sources(workspace: Workspace, source: str, entity: str) -> list[str]:
    """`_source` of every raw and quarantined record of an entity (the lineage of each row)."""
    found = []
    for zone in ("raw", "quarantine"):
        folder = workspace.lake / zone / source / entity
        if folder.exists():
            with duckdb.connect() as connection:
                found += [
                    row[0]
                    for row in connection.sql(
                        f"select _source from read_parquet('{folder}/*/*/*/*.parquet')"
                    ).fetchall()
                ]
    return found


def assert_lake_holds_every_source_record(workspace: Workspace) -> None:
    """raw + quarantine = source: every shop row, every landing line, each exactly once."""
    database = workspace.root / "sources" / "shop.sqlite"
    with sqlite3.connect(database) as shop:
        for table, key in (
            ("customers", "customer_id"),
            ("orders", "order_id"),
            ("order_items", "order_item_id"),
        ):
            rows = {
                f"shop:{table}/{row[0]}@{row[1]}"
                for row in shop.execute(f"select {key}, updated_at from {table}")
            }
            landed = lake_sources(workspace, "shop", table)
            assert rows <= set(landed), f"{table}: {len(rows - set(landed))} rows missing"
            assert len(landed) == len(set(landed)), f"{table}: a version landed twice"
    lines = sum(
        sum(1 for line in path.read_text().splitlines() if line.strip())
        for path in (workspace.root / "landing").rglob("*.ndjson")
    )
    events = lake_sources(workspace, "clickstream", "events")
    assert len(events) == len(set(events)) == lines


def assert_whole(workspace: Workspace) -> None:
    verified = workspace.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert_lake_holds_every_source_record(workspace)
    net = warehouse_value(workspace.published, "select sum(net_amount) from fact_orders")
    assert net == source_net_revenue(workspace.root / "sources" / "shop.sqlite")
    assert not list(workspace.root.rglob("*.tmp")), "temporary files left behind"


def without_lake(completed: Workspace, root: Path) -> Workspace:
    """The same sources and published warehouse, but the lake and the build lost: work to do.

    (The sources stay: the lake is rebuilt from the world they hold.)
    """
    workspace = completed.copy(root)
    shutil.rmtree(workspace.lake)
    for build in workspace.published.parent.glob("lakehouse.build.duckdb*"):
        build.unlink()
    return workspace


def test_killed_in_every_stage_then_run_again_loses_nothing(
    completed: Workspace, tmp_path: Path
) -> None:
    workspace = without_lake(completed, tmp_path / "data")
    reader = Reader(workspace.published)
    reader.start()
    previous = file_hash(workspace.published)
    try:
        for number, (stage, marker, delay) in enumerate(STAGES):
            # the first run starts its own Prefect server: a SIGKILL must take it down too
            own_server = {"PREFECT_API_URL": ""} if number == 0 else {}
            process = workspace.start("run", **own_server)
            wait_for_line(process, marker)
            time.sleep(delay)
            descendants = children(process.pid)
            process.kill()
            process.wait()
            deadline = time.monotonic() + 15
            while alive(descendants) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not alive(descendants), f"killed in {stage}: its child processes live on"
            # the published file is the previous one, or exactly a build the gate passed
            now = file_hash(workspace.published)
            if now != previous:
                record = json.loads((workspace.published.parent / "runs/build.json").read_text())
                assert record["status"] == "published", f"killed in {stage}: {record}"
                assert now == record["sha256"], f"killed in {stage}: not the gated build"
                previous = now
            if stage == "dbt":
                refused = workspace.run("publish")
                assert refused.returncode == 1
                assert "did not finish" in refused.stderr
                assert file_hash(workspace.published) == previous
        result = workspace.run("run")
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        reader.stop.set()
        reader.join()
    assert reader.failures == [] and reader.reads > 10
    assert_whole(workspace)
    assert file_hash(workspace.published) == file_hash(
        workspace.published.with_name("lakehouse.build.duckdb")
    )


def test_a_lost_partition_is_named_by_verify_failed_by_the_gate_and_restored_by_the_next_run(
    completed: Workspace, tmp_path: Path, prefect_server: None
) -> None:
    import os
    from unittest import mock

    workspace = completed.copy(tmp_path / "data")
    before = {
        entity: sorted(lake_sources(workspace, source, entity))
        for source, entity in (
            ("clickstream", "events"),
            ("catalog", "products"),
            ("shop", "orders"),
        )
    }
    orders_folder = sorted((workspace.lake / "raw/shop/orders").glob("year=*/month=*/day=*"))[-1]
    orders_day = "2025-10-" + orders_folder.name.removeprefix("day=")
    lost = [
        workspace.lake / "raw/clickstream/events/year=2025/month=10/day=03",
        workspace.lake / "raw/catalog/products/year=2025/month=10/day=02",
        orders_folder,
    ]
    for folder in lost:
        shutil.rmtree(folder)
    # what a killed publish and a killed partition write leave behind
    leftover_copy = workspace.published.with_name(".lakehouse.duckdb.4242.tmp")
    leftover_copy.write_bytes(b"\0" * 4096)
    leftover_part = workspace.lake / "raw/shop/customers/.0123abcd.tmp"
    leftover_part.write_bytes(b"half a file")

    verified = workspace.run("verify")
    assert verified.returncode == 1
    for line in (
        "raw/clickstream/events 2025-10-03: partition missing",
        "raw/catalog/products 2025-10-02: partition missing",
        f"raw/shop/orders {orders_day}: partition missing",
    ):
        assert line in verified.stdout, verified.stdout

    published = file_hash(workspace.published)
    built = workspace.run("build")  # dbt on the lake as it stands, then the gate
    assert built.returncode == 1, built.stdout + built.stderr
    (message,) = [line for line in built.stderr.splitlines() if line.startswith("error: ")]
    assert message.startswith("error: quality gate failed: lake: ")
    for line in (
        "raw/clickstream/events 2025-10-03: partition missing (",
        "raw/catalog/products 2025-10-02: partition missing (",
        f"raw/shop/orders {orders_day}: partition missing (",
    ):
        assert line in message
    assert file_hash(workspace.published) == published
    with mock.patch.dict(os.environ, workspace.environment):  # what the Data Health page says
        from streamlit.testing.v1 import AppTest

        from tests.test_app import APP

        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
        app.switch_page("views/health.py")
        app.run()
    assert not app.exception
    (refused,) = [error.value for error in app.error if "lake disagrees" in error.value]
    assert f"raw/shop/orders {orders_day}: partition missing (" in refused
    (last_run,) = [error.value for error in app.error if error.value.startswith("The last run")]
    assert "quality gate failed: lake: " in last_run

    result = workspace.run("run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "repairing raw/clickstream/events 2025-10-03: partition missing" in result.stderr
    assert "could not be restored" not in result.stderr
    assert not leftover_copy.exists() and not leftover_part.exists()
    for folder in lost:
        assert (folder / "part-0.parquet").exists()
    for source, entity in (("clickstream", "events"), ("catalog", "products"), ("shop", "orders")):
        assert sorted(lake_sources(workspace, source, entity)) == before[entity]
    assert_whole(workspace)


def test_a_second_run_is_refused_at_once_and_a_rerun_adds_nothing(
    completed: Workspace, tmp_path: Path
) -> None:
    """Two runs at once on one lake; the first, a rerun of the same window, must add nothing."""
    workspace = completed.copy(tmp_path / "data")
    manifests = {
        path: path.read_bytes() for path in (workspace.lake / "_manifests").rglob("*.json")
    }
    first = workspace.start("run")
    wait_for_line(first, "for flow 'ingest'")
    began = time.monotonic()
    second = workspace.run("run", timeout=60)
    refused_after = time.monotonic() - began
    first_output = first.communicate(timeout=300)[0]
    assert first.returncode == 0, first_output
    assert second.returncode == 3
    assert "landed" not in second.stdout
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(f"error: another run is writing to {workspace.lake}: `lakehouse run`")
    assert f"(pid {first.pid} on " in line
    assert refused_after < 20  # no Prefect server, no ingestion: refused at the door

    (landed,) = [line for line in first_output.splitlines() if line.startswith("landed ")]
    counts = [int(part.split()[-1]) for part in landed.split(": ", 1)[1].split(", ")]
    assert counts and set(counts) == {0}, landed
    assert manifests == {
        path: path.read_bytes() for path in (workspace.lake / "_manifests").rglob("*.json")
    }
    assert_whole(workspace)


def test_a_build_that_failed_dbt_is_never_published(completed: Workspace, tmp_path: Path) -> None:
    """Bad source records go to quarantine, so a dbt test that fails is a fault in the code:
    here a dim_products that repeats a product (its unique test fails)."""
    workspace = completed.copy(tmp_path / "data")
    published = file_hash(workspace.published)
    code = project_copy(tmp_path / "code")
    model = code / "models" / "marts" / "core" / "dim_products.sql"
    text = model.read_text().rstrip()
    assert text.endswith("select * from final")
    model.write_text(text + " union all (select * from final where product_id > 0 limit 1)\n")
    failed = workspace.run("run", PYTHONPATH=str(code))
    assert failed.returncode == 1
    error = failed.stderr.strip().splitlines()[-1]
    assert error.startswith("error: dbt build failed: ")
    assert ": fail (Got 1 result" in error, error  # the failing dbt test, named
    assert "the previous warehouse keeps serving" in error
    assert "Traceback" not in failed.stdout + failed.stderr

    with duckdb.connect(str(workspace.published.with_name("ops.duckdb")), read_only=True) as ops:
        (last,) = ops.sql(
            "select state, gate, gate_passed, published, reason from runs "
            "order by started_at desc limit 1"
        ).fetchall()
    assert last[:4] == ("Failed", None, None, None)  # stopped by dbt: no gate, nothing published
    assert last[4].startswith("BuildError: dbt build failed: ")

    refused = workspace.run("publish")
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert "failed dbt (dbt build failed: " in line and "not published" in line
    assert file_hash(workspace.published) == published
    assert "Traceback" in workspace.log.read_text()  # the whole story is in the log file


def test_a_build_file_full_of_freed_blocks_is_compacted_before_the_gate(tmp_path: Path) -> None:
    """Incremental builds free blocks a DuckDB file never gives back: finish_build rewrites it."""
    from flows.settings import load_settings
    from flows.warehouse.publish import begin_build, finish_build

    settings = load_settings(warehouse_path=tmp_path / "warehouse" / "lakehouse.duckdb")
    settings.storage.build_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.storage.build_path)) as build:
        build.execute(
            "create table fact as select range as id, "
            "md5(range::varchar) || md5((-range)::varchar) as pad from range(400000)"
        )
        build.execute("create view recent as select * from fact where id >= 9990")
        build.execute("delete from fact where id >= 10000")
        build.execute("checkpoint")
    bloated = settings.storage.build_path.stat().st_size
    record = finish_build(settings, begin_build(settings))
    assert settings.storage.build_path.stat().st_size < bloated / 2
    with duckdb.connect(str(settings.storage.build_path), read_only=True) as build:
        assert build.execute("select count(*), max(id) from fact").fetchone() == (10000, 9999)
        assert build.execute("select count(*) from recent").fetchone() == (10,)
        free, total = build.execute(
            "select free_blocks, total_blocks from pragma_database_size()"
        ).fetchone()
    assert free / total <= 0.2
    assert record.status == "built" and record.sha256

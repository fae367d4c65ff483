"""The life on the defaults after `make run`: the shop keeps trading, `lakehouse daily` takes the
next day every night, the past stays put, and a lake refuses sources of another world.

Everything drives the `lakehouse` command in its own processes against the shared Prefect
server, on a copy of the session's completed `lakehouse run` (10 days at scale 0.2, seed 11).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.cli import Workspace, file_hash, source_net_revenue, warehouse_value
from tests.test_lifecycle import assert_lake_holds_every_source_record

pytestmark = pytest.mark.e2e

FIRST_WINDOW_END = date(2025, 10, 10)  # the completed run: 2025-10-01 … 2025-10-10
# what a past day shows, one query per mart (the day first)
PAST_FIGURES = {
    "daily_kpis": "select * from daily_kpis where date_day <= ? order by all",
    "segment_daily": "select * from segment_daily where order_date <= ? order by all",
    "funnel_daily": "select * from funnel_daily where session_date <= ? order by all",
}


def past_figures(workspace: Workspace) -> dict[str, dict[date, list[tuple]]]:
    """Each mart's rows for the days of the first window, by day."""
    figures: dict[str, dict[date, list[tuple]]] = {}
    with duckdb.connect(str(workspace.published), read_only=True) as warehouse:
        for mart, sql in PAST_FIGURES.items():
            by_day: dict[date, list[tuple]] = {}
            for row in warehouse.execute(sql, [FIRST_WINDOW_END]).fetchall():
                by_day.setdefault(row[0], []).append(row)
            figures[mart] = by_day
    return figures


def lifetime_values(workspace: Workspace) -> dict[int, tuple]:
    with duckdb.connect(str(workspace.published), read_only=True) as warehouse:
        rows = warehouse.sql(
            "select customer_id, total_orders, lifetime_value, first_order_date "
            "from customer_lifetime_value"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def run_records(workspace: Workspace) -> list[dict]:
    """The lake's record of every run, oldest first."""
    return [json.loads(path.read_text()) for path in sorted((workspace.lake / "_runs").iterdir())]


def unit_tests_run(workspace: Workspace) -> int:
    """dbt unit tests in the last dbt build of the workspace (its run_results.json)."""
    results = workspace.published.with_name("dbt-target") / "run_results.json"
    nodes = json.loads(results.read_text())["results"]
    return sum(1 for node in nodes if node["unique_id"].startswith("unit_test."))


def event_tests_since(workspace: Workspace) -> date | None:
    """The day from which the last dbt build's tests of the event tables read (none: all)."""
    compiled = workspace.published.with_name("dbt-target") / "compiled"
    test = next(compiled.rglob("unique_stg_clickstream__events_event_id.sql")).read_text()
    scope = re.search(r"where event_date >= date '([0-9-]+)'", test)
    return date.fromisoformat(scope.group(1)) if scope else None


def dbt_log(workspace: Workspace) -> list[str]:
    """The lines of dbt's log file beside the build."""
    return (workspace.published.with_name("dbt-logs") / "dbt.log").read_text().splitlines()


def test_run_then_daily_every_night_keeps_the_past_and_every_source_record(
    completed: Workspace, tmp_path: Path
) -> None:
    workspace = completed.copy(tmp_path / "data")
    before, values_before = past_figures(workspace), lifetime_values(workspace)
    runs_before = len(run_records(workspace))

    for night in range(1, 3):
        day = FIRST_WINDOW_END + timedelta(days=night)
        # the second night asks for dbt's debug log (its default), the first keeps ours: info
        level = {"LAKEHOUSE_DBT_LOG_LEVEL": "debug"} if night > 1 else {}
        logged = len(dbt_log(workspace))
        result = workspace.run("daily", **level)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"landed {day} → {day}: " in result.stdout
        verified = workspace.run("verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        record = run_records(workspace)[-1]
        assert record["window"] == [str(day), str(day)] and record["state"] == "Completed"
        # the models' code is the one the run's unit tests passed under: not run again
        assert unit_tests_run(workspace) == 0
        # nor do the event tables' data tests read the days no build has touched since
        since = event_tests_since(workspace)
        assert since is not None and since <= day
        written = dbt_log(workspace)[logged:]
        debug = [line for line in written if "[debug]" in line]
        assert any("[info ]" in line for line in written)
        if night == 1:
            assert not debug, debug[:3]
        else:  # the days in the environment change nightly, the project does not: dbt
            # skips parsing (the copy's new paths made the first night parse again)
            parses = [line for line in debug if "Partial parsing" in line]
            assert parses, "LAKEHOUSE_DBT_LOG_LEVEL=debug wrote no debug log"
            assert "no changes found, skipping parsing" in parses[-1]
        # and the gate's event checks read the days written since the last gated build
        said = result.stdout + result.stderr
        scoped = re.search(r"event checks on the days from ([0-9-]+) on", said)
        assert scoped and date.fromisoformat(scoped.group(1)) <= day, said
        if record["late"]:  # the CLI says what the run record says
            words = result.stdout.splitlines()
            assert any(line.startswith("late data changed ") for line in words), result.stdout

    # every source record in the lake once; the fact's revenue is the source's, to the cent
    assert_lake_holds_every_source_record(workspace)
    database = workspace.root / "sources" / "shop.sqlite"
    fact_net = warehouse_value(workspace.published, "select sum(net_amount) from fact_orders")
    assert fact_net == source_net_revenue(database)
    days = warehouse_value(
        workspace.published, "select list(distinct event_date order by event_date) from fact_events"
    )
    assert days == [date(2025, 10, 1) + timedelta(days=n) for n in range(12)]

    # one person per customer id: the world did not change under the lake
    with sqlite3.connect(database) as shop:
        (customers,) = shop.execute("select count(*) from customers").fetchone()
    (identities,) = (
        duckdb.connect(str(workspace.published), read_only=True)
        .execute(
            """
        select count(*) from (
            select customer_id from dim_customers where customer_id > 0 group by 1
            having count(distinct email) = 1 and count(distinct customer_name) = 1
        )
        """
        )
        .fetchone()
    )
    assert identities == customers

    # the past stays put, except the days late data reached, which the run records name
    nights = run_records(workspace)[runs_before:]
    named = {date.fromisoformat(day) for record in nights for day in record["late"]}
    after = past_figures(workspace)
    changed = {
        day
        for mart in PAST_FIGURES
        for day in set(before[mart]) | set(after[mart])
        if before[mart].get(day) != after[mart].get(day)
    }
    assert changed <= named, f"past days changed without a run saying so: {changed - named}"
    first_window = {FIRST_WINDOW_END - timedelta(days=n) for n in range(10)}
    untouched = first_window - named
    assert untouched, "some past days received no late data: the comparison has teeth"
    assert all(before["daily_kpis"][day] == after["daily_kpis"][day] for day in untouched)
    late_orders = {
        date.fromisoformat(day)
        for record in nights
        for day, entities in record["late"].items()
        if "orders" in entities
    }
    values_after = lifetime_values(workspace)
    with duckdb.connect(str(workspace.published), read_only=True) as warehouse:
        touched = {
            row[0]
            for row in warehouse.execute(
                "select distinct customer_id from fact_orders where order_date > ? "
                "or order_date in (select unnest(?::date[]))",
                [FIRST_WINDOW_END, sorted(late_orders)],
            ).fetchall()
        }
    steady = set(values_before) - touched
    assert steady and all(values_after[c] == values_before[c] for c in steady)

    # Data Health shows the late data of each run
    with duckdb.connect(str(workspace.published.with_name("ops.duckdb")), read_only=True) as ops:
        shown = dict(ops.sql("select window_start, late_data from runs").fetchall())
    for record in nights:
        words = shown[record["window"][0]]
        assert words.startswith("late data changed ") if record["late"] else words == ""

    # and a `lakehouse run` over the first window again adds nothing; a setting the models
    # read has changed, so their unit tests run again
    again = workspace.run("run", LAKEHOUSE_WIN_BACK_MIN_DAYS="61")
    assert unit_tests_run(workspace) > 0 and event_tests_since(workspace) is None
    assert again.returncode == 0, again.stdout + again.stderr
    said = again.stdout + again.stderr
    assert "gating build " in said and "event checks on the days" not in said
    (landed,) = [line for line in again.stdout.splitlines() if line.startswith("landed ")]
    # the console: dbt's results in words, no line per finished task (the log file has them)
    console = (again.stdout + again.stderr).splitlines()
    assert not [line for line in console if "Task run" in line and "Finished in state" in line]
    assert any(re.search(r"dbt build \w+: \d+ built, \d+ tests passed", line) for line in console)
    assert landed.startswith(f"landed 2025-10-01 → {FIRST_WINDOW_END}: ")
    assert {int(part.split()[-1]) for part in landed.split(": ", 1)[1].split(", ")} == {0}


def lake_and_warehouse(workspace: Workspace) -> dict[str, str]:
    """Every file of the lake and the published warehouse, with the hash of its bytes."""
    files = [path for path in workspace.lake.rglob("*") if path.is_file()]
    files += [workspace.published, workspace.published.with_name("ops.duckdb")]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def one_error_line(result, workspace: Workspace) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_sources_of_another_world_are_refused_with_nothing_written(
    completed: Workspace, tmp_path: Path
) -> None:
    workspace = completed.copy(tmp_path / "data")
    lake = workspace.lake
    untouched = lake_and_warehouse(workspace)
    recorded = (
        f"sqlite:///{workspace.root / 'sources' / 'shop.sqlite'} "
        "(simulated shop: seed 11, scale 0.2, from 2025-10-01, simulator 2)"
    )
    advice = (
        "a lake holds one world: start a new lake with `lakehouse run --new-lake` (deletes this "
        "one), or point LAKEHOUSE_LAKE_ROOT at an empty folder"
    )

    seed = one_error_line(workspace.run("run", "--seed", "12"), workspace)
    assert seed == (
        f"error: the lake at {lake} holds shop data from {recorded}, but the shop source is now "
        f"{recorded.replace('seed 11', 'seed 12')} (and catalog, clickstream); {advice}"
    )
    other = workspace.root / "other" / "shop.sqlite"
    database = one_error_line(
        workspace.run("daily", LAKEHOUSE_SOURCE_DB_URL=f"sqlite:///{other}"), workspace
    )
    assert database == (
        f"error: the lake at {lake} holds shop data from {recorded}, but the shop source is now "
        f"sqlite:///{other} (simulated shop: seed 11, scale 0.2, from 2025-10-01, simulator 2); "
        f"{advice}"
    )
    assert not other.exists(), "refused before the simulator wrote anything"
    scale = one_error_line(
        workspace.run("ingest", "--date", "2025-10-05", LAKEHOUSE_SCALE_FACTOR="0.3"), workspace
    )
    assert "scale 0.2" in scale and "scale 0.3" in scale
    assert lake_and_warehouse(workspace) == untouched

    # an earlier version's lake, which recorded nothing: refused too, with the same advice
    identity = lake / "_identity.json"
    kept = identity.read_bytes()
    identity.unlink()
    unknown = one_error_line(workspace.run("daily"), workspace)
    assert unknown == (
        f"error: the lake at {lake} holds data but no record of its sources (it was written by "
        f"an earlier version, whose simulator gave other data); {advice}"
    )
    identity.write_bytes(kept)

    # starting over is explicit
    published = file_hash(workspace.published)
    fresh = workspace.run("run", "--seed", "12", "--new-lake")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert f"new lake at {lake}: " in fresh.stdout
    # writing the new world's ten days says how far it is (a batch is seven days)
    assert re.search(r"simulating: 7 of 10 days written in \d+\.\d s", fresh.stdout + fresh.stderr)
    assert file_hash(workspace.published) != published
    stored = json.loads(identity.read_text())["sources"]
    assert {entry["identifier"] for entry in stored.values()} == {
        "simulated shop: seed 12, scale 0.2, from 2025-10-01, simulator 2"
    }
    net = warehouse_value(workspace.published, "select sum(net_amount) from fact_orders")
    assert net == source_net_revenue(workspace.root / "sources" / "shop.sqlite")

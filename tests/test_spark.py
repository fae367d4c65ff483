"""The same dbt models on Apache Spark (dbt-spark, a local session in this process), proven
equal to the DuckDB build: row for row both ways, surrogate keys included, types mapped one to
one; through the gate and every dashboard; incremental equal to full; and the silent
differences of Spark's SQL guarded, each by a check that fails on the old behaviour.

One small lake (10 days at scale 0.2, `lakehouse run` on DuckDB); every Spark build of this
module runs in this process, so the JVM starts once (Spark's static settings belong to the
first session: one Spark workspace per process).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from flows.settings import Settings, load_settings
from tests.cli import Workspace
from tests.conftest import PAGE_CARDS, PrefectServer
from tests.test_app import assert_card_titles, assert_readable, render

pytestmark = [pytest.mark.e2e, pytest.mark.spark]


@dataclass(frozen=True)
class SparkBuilt:
    workspace: Workspace
    settings: Settings
    on_duckdb: Path  # the DuckDB build of the same lake, published by `lakehouse run`
    result: object  # flows.pipeline.PipelineResult of the Spark build


@pytest.fixture(scope="module")
def spark_built(
    prefect_api: PrefectServer, prefect_server: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SparkBuilt]:
    """`lakehouse run` on DuckDB, then the same lake built again on Spark by the production
    flow (`lakehouse build --engine spark` calls it), gated and published."""
    from flows.pipeline import build_and_publish

    root = tmp_path_factory.mktemp("spark")
    workspace = Workspace.create(root / "data", prefect_api.url)
    ran = workspace.run("run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    on_duckdb = root / "on-duckdb.duckdb"
    shutil.copyfile(workspace.published, on_duckdb)
    with mock.patch.dict(os.environ, workspace.environment):
        result = build_and_publish(engine="spark")
        settings = load_settings(engine="spark")
    yield SparkBuilt(workspace, settings, on_duckdb, result)
    stop_spark()


def stop_spark() -> None:
    """End this process's Spark session: its JVM would otherwise hold ~2 GB and a core's
    worth of background threads while the worker runs other modules."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None:
        return
    gateway = context._gateway
    context.stop()
    gateway.shutdown()
    process = getattr(gateway, "proc", None)  # the JVM pyspark launched: it exits with stdin
    if process is not None:
        process.stdin.close()
        process.wait(timeout=60)
    SparkContext._gateway = SparkContext._jvm = None


def differences(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Per table of `left`: rows only in left, rows only in right (EXCEPT ALL by column name);
    a table missing on the right counts all its rows."""
    found = {}
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(f"attach '{left}' as l (read_only)")
        connection.execute(f"attach '{right}' as r (read_only)")
        for (table,) in connection.execute(
            "select table_name from duckdb_tables() where database_name = 'l' order by 1"
        ).fetchall():
            columns = ", ".join(
                f'"{name}"'
                for (name,) in connection.execute(
                    "select column_name from duckdb_columns() where database_name = 'l' "
                    "and table_name = ? order by column_index",
                    [table],
                ).fetchall()
            )
            one, other = (
                connection.execute(
                    f"select count(*) from (select {columns} from {a}.main.{table} "
                    f"except all select {columns} from {b}.main.{table})"
                ).fetchone()[0]
                for a, b in (("l", "r"), ("r", "l"))
            )
            found[table] = (one, other)
    return found


def column_types(path: Path) -> dict[str, list[tuple[str, str]]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "select table_name, column_name, data_type from duckdb_columns() "
            "where schema_name = 'main' order by table_name, column_index"
        ).fetchall()
    types: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        types.setdefault(table, []).append((column, kind))
    return types


def test_every_model_built_on_spark_equals_the_duckdb_build(spark_built: SparkBuilt) -> None:
    published = spark_built.workspace.published
    found = differences(spark_built.on_duckdb, published)
    assert len(found) >= 21  # staging, core star and marts
    assert {table: rows for table, rows in found.items() if rows != (0, 0)} == {}
    on_spark, on_duckdb = column_types(published), column_types(spark_built.on_duckdb)
    # the same columns in the same order, with the same DuckDB types: Spark's INT, BIGINT,
    # DECIMAL, DATE, BOOLEAN, DOUBLE, STRING and TIMESTAMP (an instant, written as
    # TIMESTAMP_MICROS) become INTEGER, BIGINT, DECIMAL, DATE, BOOLEAN, DOUBLE, VARCHAR and
    # TIMESTAMP WITH TIME ZONE
    assert {table: on_spark[table] for table in on_duckdb} == on_duckdb
    with duckdb.connect(str(published), read_only=True) as warehouse:
        keys = warehouse.sql(
            "select count(*), count(distinct customer_sk) from dim_customers "
            "where length(customer_sk) = 32"
        ).fetchone()
    assert keys[0] == keys[1] > 50  # md5 keys, the same on both engines (parity above)


def test_the_spark_build_passes_the_gate_and_renders_every_page(spark_built: SparkBuilt) -> None:
    result = spark_built.result
    assert result.gate_passed and result.gate.startswith("quality gate passed: ")
    assert result.published == str(spark_built.workspace.published)
    assert result.dbt["pass"] > 200 and "error" not in result.dbt and "fail" not in result.dbt
    for page in PAGE_CARDS:
        app = render(spark_built.workspace.environment, f"views/{page}.py")
        assert not app.exception, page
        if page == "health":  # its headline is a count, not a card
            assert [title.value for title in app.subheader] == PAGE_CARDS[page]
        else:
            assert_card_titles(app, page)
        assert_readable(app)


def show(settings: Settings, sql: str) -> dict[str, object]:
    """One row of `sql`, its macros rendered for Spark and run on the Spark session."""
    from flows.warehouse.build import run_dbt

    result = run_dbt(settings, "show", "--inline", sql, "--quiet", engine="spark")
    assert result.success, result.exception
    table = result.result.results[0].agate_table
    return dict(zip(table.column_names, table.rows[0], strict=True))


def test_the_silent_differences_of_spark_are_guarded(spark_built: SparkBuilt) -> None:
    """Each check fails on the behaviour the port found: Spark's short day and month names,
    a far future cast from 'infinity' that is NULL with ANSI mode off (a comparison with it
    can never fail), a timestamp's text without DuckDB's +00 (other surrogate keys), INT
    where DuckDB gives BIGINT, a literal with an offset that would not parse."""
    row = show(
        spark_built.settings,
        """
        select
            {{ day_name("date '2024-01-03'") }} as day_name,
            {{ month_name("date '2024-01-03'") }} as month_name,
            {{ far_future() }} > timestamp '9000-01-01' as far_future_is_later,
            {{ key_text("timestamp '2024-01-01 10:00:00.5'", is_timestamp=true) }} as key_text,
            typeof({{ date_part_of('iso_year', "date '2024-12-30'") }}) as iso_year_type,
            {{ date_part_of('iso_year', "date '2024-12-30'") }} as iso_year,
            {{ utc_timestamp("'1900-01-01 00:00:00'") }} is not null as unknown_member_parses,
            cast('x' as bigint) is null as ansi_is_off
        """,
    )
    assert row["day_name"] == "Wednesday" and row["month_name"] == "January"
    assert row["far_future_is_later"] is True
    with duckdb.connect() as connection:  # DuckDB's spelling of the same instant
        connection.execute("set TimeZone = 'UTC'")
        expected = connection.sql(
            "select cast(timestamptz '2024-01-01 10:00:00.5+00' as varchar)"
        ).fetchone()[0]
    assert row["key_text"] == expected == "2024-01-01 10:00:00.5+00"
    assert (row["iso_year_type"], row["iso_year"]) == ("bigint", 2025)
    assert row["unknown_member_parses"] is True
    # ANSI mode is off (dbt-spark forces it): a bad cast is NULL, not an error, so the models
    # cast only typed columns (the lake's Parquet types), and the unknown members are checked
    assert row["ansi_is_off"] is True
    with duckdb.connect(str(spark_built.workspace.published), read_only=True) as warehouse:
        members = warehouse.sql(
            "select valid_from from dim_customers where customer_sk = '-1'"
        ).fetchall()
        days, months = warehouse.sql(
            "select list(distinct day_name), list(distinct month_name) from dim_date"
        ).fetchone()
    assert [str(value[0])[:10] for value in members] == ["1900-01-01"]
    assert all(name.endswith("day") for name in days) and len(days) == 7
    assert {"January", "May", "September"} & set(months)


def test_the_spark_session_logs_no_warning_per_query(spark_built: SparkBuilt) -> None:
    """dbt-spark's session method asks for the session on every query, and Spark warned each
    time ("Using an existing Spark session"): hundreds of lines a build, enough to fill a
    64 KiB pipe and hang a caller that reads the output only at the end (the benchmark did).
    The JVM the build started reads the project's log configuration."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    logs = session._jvm.org.apache.logging.log4j.LogManager
    assert str(logs.getLogger("org.apache.spark.sql.classic.SparkSession").getLevel()) == "ERROR"
    assert str(logs.getRootLogger().getLevel()) == "WARN"


def test_the_spark_session_has_room_for_its_generated_code(spark_built: SparkBuilt) -> None:
    """Quick compilation alone (C1) gives the JVM a 48 MB code cache, which Spark's generated
    code filled in a long session ("Out of space in CodeCache for adapters", a failed build);
    the session's JVM gets the 240 MB the default compiler has."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    runtime = session._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    assert "-XX:ReservedCodeCacheSize=240m" in list(runtime.getInputArguments())


def test_an_incremental_spark_build_equals_a_full_one_and_duckdbs(
    spark_built: SparkBuilt, tmp_path: Path
) -> None:
    """Two more days land; Spark builds incrementally from the first new day (events
    overwritten partition by partition, everything else rebuilt), as the pipeline does after a
    passing build; then in full; then DuckDB. Models only: the data tests ran on the first
    build (a second pass over them would double the module's time, not its coverage)."""
    from flows.ingestion.run import ingest
    from flows.runtime.lock import writer_lock
    from flows.sources.entry import open_sources
    from flows.warehouse.build import build_warehouse

    settings = spark_built.settings
    first, last = date(2025, 10, 11), date(2025, 10, 12)
    with mock.patch.dict(os.environ, spark_built.workspace.environment):
        with writer_lock(settings), open_sources(settings, through=last) as sources:
            reports = ingest(sources.settings, first, last, identities=sources.identities)
        assert sum(sum(report.landed.values()) for report in reports) > 0
    statuses = build_warehouse(settings, lake_since=first, engine="spark", tests=False)
    assert statuses.get("success", 0) > 20 and "error" not in statuses
    incremental = tmp_path / "incremental.duckdb"
    shutil.copyfile(settings.storage.build_path, incremental)
    with duckdb.connect(str(incremental), read_only=True) as warehouse:
        events = warehouse.sql("select count(*), max(event_date) from fact_events").fetchone()
    assert events[1] == last and events[0] > 0

    build_warehouse(settings, full_refresh=True, engine="spark", tests=False)
    full = tmp_path / "full.duckdb"
    shutil.copyfile(settings.storage.build_path, full)

    on_duckdb = settings.replaced(
        engine="duckdb", warehouse_path=tmp_path / "duckdb" / "lakehouse.duckdb"
    )
    build_warehouse(on_duckdb, full_refresh=True, tests=False)
    for left, right in ((incremental, full), (full, on_duckdb.storage.build_path)):
        found = differences(left, right)
        assert {table: rows for table, rows in found.items() if rows != (0, 0)} == {}
    assert last - first == timedelta(days=1)

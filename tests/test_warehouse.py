"""The warehouse against values computed independently from the raw Parquet."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import duckdb
import pyarrow.dataset as ds
import pytest

from flows.data_dictionary import render
from flows.settings import load_settings
from flows.warehouse import build_warehouse, run_dbt
from tests.conftest import Built
from tests.test_ingest import START, sandbox

pytestmark = pytest.mark.e2e


def raw(built: Built, source: str, entity: str) -> list[dict]:
    root = Path(built.settings.lake_uri) / "raw" / source / entity
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def query(built: Built, sql: str) -> list[tuple]:
    with duckdb.connect(str(built.settings.warehouse_path), read_only=True) as warehouse:
        return warehouse.sql(sql).fetchall()


def test_customer_history_is_every_version_in_the_lake(built: Built) -> None:
    versions = {(row["customer_id"], row["updated_at"]) for row in raw(built, "shop", "customers")}
    assert query(built, "select count(*) from dim_customers where customer_id > 0") == [
        (len(versions),)
    ]
    changed = sum(1 for _ in {c for c, _ in versions}) < len(versions)
    assert changed, "some customers changed segment in the window"
    assert query(
        built, "select count(*), count(distinct customer_id) from dim_customers where is_current"
    ) == [(1_001, 1_001)]  # every customer once, and the unknown member


def test_revenue_and_units_agree_with_the_raw_lines(built: Built) -> None:
    latest_status: dict[int, tuple] = {}
    for row in raw(built, "shop", "orders"):
        current = latest_status.get(row["order_id"])
        if current is None or row["updated_at"] > current[0]:
            latest_status[row["order_id"]] = (row["updated_at"], row["status"])
    revenue, units = Decimal("0.00"), 0
    for line in raw(built, "shop", "order_items"):
        status = latest_status[line["order_id"]][1]
        if status not in ("cancelled", "returned"):
            revenue += line["quantity"] * line["unit_price"] - line["discount_amount"]
            units += line["quantity"]
    assert query(built, "select sum(revenue), sum(units) from daily_kpis") == [(revenue, units)]
    assert query(built, "select sum(units), sum(revenue) from product_performance") == [
        (units, revenue)
    ]
    assert query(built, "select sum(lifetime_value), count(*) from customer_lifetime_value") == [
        (revenue, 1_000)
    ]


def test_funnel_counts_every_session_once(built: Built) -> None:
    sessions = {row["session_id"] for row in raw(built, "clickstream", "events")}
    purchases = sum(
        1 for row in raw(built, "clickstream", "events") if row["event_type"] == "purchase"
    )
    assert query(built, "select sum(sessions), sum(purchase_sessions) from funnel_daily") == [
        (len(sessions), purchases)
    ]


def test_docs_generate_offline_and_the_dictionary_is_current(built: Built) -> None:
    with mock.patch.dict(os.environ, built.environment):
        result = run_dbt(load_settings(), "docs", "generate")
    assert result.success
    catalog = json.loads(
        (built.settings.build_path.parent / "dbt-target" / "catalog.json").read_text()
    )
    assert "model.lakehouse.fact_orders" in catalog["nodes"]
    committed = (Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md").read_text()
    assert committed == render(), "run `make docs` and commit docs/data-dictionary.md"


def test_sources_are_fresh_after_ingestion(built: Built) -> None:
    with mock.patch.dict(os.environ, built.environment):
        result = run_dbt(load_settings(), "source", "freshness")
    assert result.success
    assert {str(node.status) for node in result.result} == {"pass"}
    assert len(result.result) == 5


def test_an_incremental_fact_equals_a_full_rebuild(tmp_path: Path, prefect_server: None) -> None:
    sources = sandbox(tmp_path / "incremental", LAKEHOUSE_SCALE_FACTOR="1")
    sources.ingest(START, START + timedelta(days=9))
    with mock.patch.dict(os.environ, sources.environment):
        build_warehouse(load_settings(), full_refresh=True)
    sources.ingest(START + timedelta(days=10), START + timedelta(days=14))
    with mock.patch.dict(os.environ, sources.environment):
        build_warehouse(load_settings())  # incremental
    rebuilt = {
        **sources.environment,
        "LAKEHOUSE_WAREHOUSE_PATH": str(tmp_path / "full" / "w.duckdb"),
    }
    with mock.patch.dict(os.environ, rebuilt):
        build_warehouse(load_settings(), full_refresh=True)
    fact = "select * from fact_orders order by order_item_id"
    with duckdb.connect(str(sources.settings.build_path), read_only=True) as incremental:
        incremental_rows = incremental.sql(fact).fetchall()
    with duckdb.connect(str(tmp_path / "full" / "w.build.duckdb"), read_only=True) as full:
        full_rows = full.sql(fact).fetchall()
    assert len(incremental_rows) > 150
    assert incremental_rows == full_rows


def test_dbt_builds_from_a_lake_on_s3(tmp_path: Path, prefect_server: None, s3) -> None:
    sources = sandbox(tmp_path, s3, LAKEHOUSE_SCALE_FACTOR="1")
    reports = sources.ingest(START, START + timedelta(days=6))
    with mock.patch.dict(os.environ, sources.environment):
        statuses = build_warehouse(load_settings(), full_refresh=True)
    assert statuses.get("error", 0) == statuses.get("fail", 0) == 0
    with duckdb.connect(str(sources.settings.build_path), read_only=True) as warehouse:
        (lines,) = warehouse.sql("select count(*) from fact_orders").fetchone()
    assert lines == reports["shop"].landed["order_items"] > 100


def test_dbt_tests_pass_on_dirty_data_after_quarantine(
    tmp_path: Path, prefect_server: None
) -> None:
    sources = sandbox(tmp_path, LAKEHOUSE_SCALE_FACTOR="1", LAKEHOUSE_DIRTY="true")
    reports = sources.ingest(START, START + timedelta(days=29))
    assert sum(reports["clickstream"].quarantined.values()) > 0
    assert reports["shop"].quarantined["orders"] > 0
    with mock.patch.dict(os.environ, sources.environment):
        statuses = build_warehouse(load_settings(), full_refresh=True)
    assert statuses.get("error", 0) == statuses.get("fail", 0) == 0
    assert statuses["pass"] >= 150
    orders = {row["order_id"] for row in sources.table("raw", "orders").to_pylist()}
    lines = sources.table("raw", "order_items").to_pylist()
    orphans = sum(1 for line in lines if line["order_id"] not in orders)
    with duckdb.connect(str(sources.settings.build_path), read_only=True) as warehouse:
        (unknown, total) = warehouse.sql(
            "select count(*) filter (where order_status = 'unknown'), count(*) from fact_orders"
        ).fetchone()
    # lines whose order header sits in quarantine are kept, with status 'unknown'
    assert (unknown, total) == (orphans, len(lines))
    assert orphans > 0

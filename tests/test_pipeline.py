"""End to end at seed scale on a short window: every line and every cent from lake to dashboard."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from flows.settings import load_settings
from tests.conftest import Built, in_a_flow, settings_environment

pytestmark = pytest.mark.e2e


def raw_table(built: Built, source: str, entity: str):
    root = Path(built.settings.storage.lake_uri) / "raw" / source / entity
    return ds.dataset(root, format="parquet", partitioning="hive").to_table()


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_customers_at_seed_scale(built: Built) -> None:
    """Every customer of the shop database, each with one current version: at scale 1, the
    400 registered before the start and 600 × 30 / 730 in the 30 days (SPEC §2's pace)."""
    database = built.settings.sources.source_db_url.get_secret_value().removeprefix("sqlite:///")
    with sqlite3.connect(database) as shop:
        (in_source,) = shop.execute("select count(*) from customers").fetchone()
    assert in_source == 400 + 600 * 30 // 730
    raw_ids = raw_table(built, "shop", "customers")["customer_id"].to_pylist()
    assert len(set(raw_ids)) == in_source
    with duckdb.connect(str(built.settings.storage.warehouse_path), read_only=True) as warehouse:
        customers, versions, current = warehouse.sql(
            """
            select count(distinct customer_id), count(*), count(*) filter (where is_current)
            from dim_customers where customer_id > 0
            """
        ).fetchone()
    assert (customers, versions, current) == (in_source, len(raw_ids), in_source)


def test_every_raw_order_line_reaches_the_fact_with_every_cent(built: Built) -> None:
    lines = raw_table(built, "shop", "order_items").to_pylist()
    raw_ids = {line["order_item_id"] for line in lines}
    raw_net = sum(
        (line["quantity"] * line["unit_price"] - line["discount_amount"] for line in lines),
        Decimal("0.00"),
    )
    assert len(raw_ids) == len(lines) > 300

    with duckdb.connect(str(built.settings.storage.warehouse_path), read_only=True) as warehouse:
        fact_ids = {
            row[0] for row in warehouse.sql("select order_item_id from fact_orders").fetchall()
        }
        (fact_net,) = warehouse.sql("select sum(net_amount) from fact_orders").fetchone()
        (unknown,) = warehouse.sql(
            "select count(*) from fact_orders where customer_sk = '-1' or product_sk = '-1'"
        ).fetchone()
    assert fact_ids == raw_ids
    assert fact_net == raw_net
    assert unknown == 0


def test_every_order_line_gets_the_customer_segment_of_its_order_time(built: Built) -> None:
    """Sources generated before the run: every customer version still reaches dim_customers.

    The expected segment comes from the shop's own change log, not from the pipeline.
    """
    database = built.settings.sources.source_db_url.get_secret_value().removeprefix("sqlite:///")
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(f"attach '{database}' as shop (type sqlite, read_only)")
        connection.execute(
            f"attach '{built.settings.storage.warehouse_path}' as warehouse (read_only)"
        )
        lines, wrong, changed_customers = connection.execute(
            """
            with versions as (
                select customer_id, segment, cast(updated_at as timestamptz) as changed_at
                from shop.customers_changes
            ),
            expected as (
                select fact.order_item_id, arg_max(versions.segment, versions.changed_at) as segment
                from warehouse.fact_orders as fact
                join versions
                    on fact.customer_id = versions.customer_id
                    and versions.changed_at <= fact.order_at
                group by fact.order_item_id
            )
            select
                count(*),
                count(*) filter (where dim.customer_segment is distinct from expected.segment),
                (select count(*) from (
                    select customer_id from versions group by 1 having count(distinct segment) > 1
                ))
            from warehouse.fact_orders as fact
            join expected using (order_item_id)
            join warehouse.dim_customers as dim using (customer_sk)
            """
        ).fetchone()
    assert changed_customers > 0, "some customers change segment inside the window"
    assert lines > 0
    assert wrong == 0


def test_quality_gate_passed_and_was_stored(built: Built) -> None:
    assert built.result.gate_passed
    stored = json.loads((built.settings.storage.run_state_dir / "quality_gate.json").read_text())
    assert stored["passed"] is True
    assert len(stored["checks"]) == built.result.gate_checks >= 15
    assert {check["outcome"] for check in stored["checks"]} == {"PASSED"}


def test_published_file_opens_read_only_and_is_a_copy_of_the_build(built: Built) -> None:
    assert built.result.published == str(built.settings.storage.warehouse_path)
    with duckdb.connect(str(built.settings.storage.warehouse_path), read_only=True) as warehouse:
        tables = {
            row[0] for row in warehouse.sql("select table_name from duckdb_tables()").fetchall()
        }
    assert {"dim_customers", "dim_products", "dim_date", "fact_orders", "executive_kpis"} <= tables
    assert file_hash(built.settings.storage.warehouse_path) == file_hash(
        built.settings.storage.build_path
    )


def test_a_build_changed_after_the_gate_is_refused_and_the_published_file_kept(
    built: Built, tmp_path: Path
) -> None:
    """The gate passed these bytes: a build file changed since (one byte) is not published."""
    from flows.warehouse.publish import PublishRefused, leftover_copies, publish, record_path

    copy = load_settings(
        lake_root=str(tmp_path / "lake"), warehouse_path=tmp_path / "warehouse" / "w.duckdb"
    )
    copy.storage.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(built.settings.storage.warehouse_path, copy.storage.warehouse_path)
    shutil.copyfile(built.settings.storage.build_path, copy.storage.build_path)
    record_path(copy).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(record_path(built.settings), record_path(copy))
    previous = file_hash(copy.storage.warehouse_path)
    with open(copy.storage.build_path, "r+b") as build:
        build.seek(-1, 2)
        last = build.read(1)
        build.seek(-1, 2)
        build.write(bytes([last[0] ^ 1]))
    with pytest.raises(PublishRefused, match=r"w\.build\.duckdb changed after build \w{12} "):
        publish(copy)
    assert file_hash(copy.storage.warehouse_path) == previous
    assert leftover_copies(copy.storage.warehouse_path) == [], "the copy is removed"
    copy.storage.build_path.unlink()
    with pytest.raises(PublishRefused, match=r"changed after build \w{12} passed the gate"):
        publish(copy)
    assert file_hash(copy.storage.warehouse_path) == previous


def test_failing_contract_blocks_publish_and_keeps_previous_file(
    built: Built, tmp_path: Path
) -> None:
    from flows.pipeline import QualityGateFailed, gate_and_publish
    from flows.warehouse.publish import begin_build, finish_build

    environment = settings_environment(tmp_path)
    shutil.copytree(  # the raw contracts read the lake the build came from
        built.settings.storage.lake_uri,
        environment["LAKEHOUSE_LAKE_ROOT"],
        ignore=shutil.ignore_patterns("_lock"),
    )
    copy = load_settings(
        lake_root=environment["LAKEHOUSE_LAKE_ROOT"],
        warehouse_path=Path(environment["LAKEHOUSE_WAREHOUSE_PATH"]),
    )
    copy.storage.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(built.settings.storage.warehouse_path, copy.storage.warehouse_path)
    shutil.copyfile(built.settings.storage.build_path, copy.storage.build_path)
    previous = file_hash(copy.storage.warehouse_path)
    with duckdb.connect(str(copy.storage.build_path)) as build:
        build.execute(
            """
            insert into fact_orders
            select * replace (0 as quantity, 'lost' as order_status)
            from fact_orders where not is_revenue limit 1
            """
        )
    finish_build(copy, begin_build(copy))  # a build dbt let through with a bad row in it

    with pytest.raises(QualityGateFailed) as failure:
        in_a_flow(gate_and_publish, copy)

    message = str(failure.value)
    assert message.startswith("quality gate failed: ")
    assert message.endswith("; the previous warehouse keeps serving")
    for named in (  # table, column, check, observed value and threshold
        "fact_orders.order_item_id:duplicate (No duplicate values: observed 1, must be 0)",
        "fact_orders.order_status:invalid (No invalid values: observed 1, must be 0)",
        "fact_orders.quantity:invalid (No invalid values: observed 1, must be 0)",
        "fact_orders.:failed_rows.gross_is_quantity_times_price (gross_amount = quantity × "
        "unit_price: observed 1, must be 0)",
        "raw/shop/order_items.:metric.lines_match_fact_orders (lines in the lake − fact_orders "
        "rows: observed -1, must be 0)",
    ):
        assert named in message, message
    assert file_hash(copy.storage.warehouse_path) == previous
    from flows.warehouse.publish import PublishRefused, publish

    with pytest.raises(PublishRefused, match=r"failed the quality gate \(quality gate failed: "):
        publish(copy)  # what `lakehouse publish` does: the rejected build stays unpublished
    assert file_hash(copy.storage.warehouse_path) == previous
    stored = json.loads((copy.storage.run_state_dir / "quality_gate.json").read_text())
    failed = {
        (check["column"], check["check"], check["value"], check["threshold"])
        for check in stored["checks"]
        if check["outcome"] == "FAILED"
    }
    assert {
        ("order_item_id", "duplicate", 1.0, "must be 0"),
        ("order_status", "invalid", 1.0, "must be 0"),
        ("quantity", "invalid", 1.0, "must be 0"),
    } <= failed

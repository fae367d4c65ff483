"""The quality gate's contracts: one for every published table and for each raw entity of the
lake. Each catches the violation it guards against and names the check, the observed value and
the threshold; a failing check blocks the publish, a warning does not.

The violations go into copies: of the session's build file (SQL), or of its lake (Parquet), and
each is verified with its contract alone, so that one violation is all that fails.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pytest
import yaml

from flows.lake.entities import ENTITIES
from flows.settings import Settings
from flows.warehouse.gate import verify_contracts
from tests.cli import Workspace, file_hash
from tests.conftest import E2E_DAYS, E2E_START, REPO, Built, S3Endpoint, in_a_flow

pytestmark = pytest.mark.e2e

CONTRACTS = REPO / "checks" / "contracts"
DAY = "year=2025/month=10/day=05"  # a partition every raw entity of the session's lake has


def contracts() -> dict[str, list[Path]]:
    """The contract files of each dataset they guard (build/main/<model>,
    raw/<source>/<entity>): one, or two for the tables of event grain (the whole table, and its
    rows on the days since the last gated build)."""
    files: dict[str, list[Path]] = {}
    for path in sorted(CONTRACTS.glob("*.yml")):
        files.setdefault(yaml.safe_load(path.read_text())["dataset"], []).append(path)
    return files


def copy_contracts(dataset: str, folder: Path) -> None:
    for path in contracts()[dataset]:
        shutil.copy(path, folder)


def test_every_published_table_and_raw_entity_has_a_contract() -> None:
    models = {f"build/main/{path.stem}" for path in (REPO / "models" / "marts").rglob("*.sql")}
    raw = {f"raw/{entity.source}/{entity.name}" for entity in ENTITIES.values()}
    assert set(contracts()) == models | raw


@dataclass(frozen=True)
class Violation:
    dataset: str  # the contract's dataset
    what: str
    sql: tuple[str, ...]  # run on the build copy; {lake} is the lake copy's root
    check: str  # the failing check, as messages name it
    observed: str  # the observed value as the message shows it
    threshold: str


def raw_row(entity: str, replace: str = "", day: str = DAY, to: str = DAY) -> str:
    """SQL writing one row of a raw partition, changed by `replace`, as a second file in `to`."""
    source = f"{{lake}}/raw/{entity}/{day}/part-0.parquet"
    changed = f"replace ({replace})" if replace else ""
    row = f"select * {changed} from read_parquet('{source}', hive_partitioning = false) limit 1"
    return f"copy ({row}) to '{{lake}}/raw/{entity}/{to}/part-1.parquet'"


VIOLATIONS = [
    Violation(
        "build/main/fact_orders", "duplicate key",
        ("insert into fact_orders select * from fact_orders limit 1",),
        "fact_orders.order_item_id:duplicate", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/fact_orders", "missing column",
        ("alter table fact_orders drop column payment_method",),
        "fact_orders.:schema", "observed missing columns payment_method",
        "must match the contract's columns",
    ),
    Violation(
        "build/main/fact_orders", "stale data: no order in the window's last 16 days",
        ("delete from fact_orders where order_date > date '2025-10-15'",),
        "fact_orders.:freshness", "observed 16.", "must be <= 14; warns unless <= 2",
    ),
    Violation(
        "build/main/fact_events", "value outside the set",
        ("update fact_events set device_type = 'smartwatch' where event_id in"
         " (select min(event_id) from fact_events)",),
        "fact_events.device_type:invalid", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/dim_customers", "overlapping versions",
        ("update dim_customers set valid_to = valid_to + interval 1 hour where customer_sk in"
         " (select min(customer_sk) from dim_customers where valid_to is not null)",),
        "dim_customers.:failed_rows.versions_do_not_overlap", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/dim_products", "duplicate key",
        ("insert into dim_products select * replace ('x' || product_sk as product_sk)"
         " from dim_products where product_id = 1",),
        "dim_products.product_id:duplicate", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/dim_date", "a day missing from the spine",
        ("delete from dim_date where date_day = date '2025-10-20'",),
        "dim_date.:metric.continuous", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/data_as_of", "stale data: as of 10 days before the last ingested day",
        ("update data_as_of set as_of_date = as_of_date - 10",),
        "data_as_of.:freshness", "observed 11", "must be >= 0 and <= 3; warns unless <= 1",
    ),
    Violation(
        "build/main/daily_kpis", "negative amount",
        ("update daily_kpis set discounts = -5 where date_day = date '2025-10-20'",),
        "daily_kpis.discounts:invalid", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/executive_kpis", "broken reconciliation",
        ("update executive_kpis set total_revenue = total_revenue + 1.25",),
        "executive_kpis.:metric.total_revenue_matches_fact_orders", "observed 1.25", "must be 0",
    ),
    Violation(
        "build/main/monthly_kpis", "broken reconciliation",
        ("update monthly_kpis set orders = orders + 1 where month_start = date '2025-10-01'",),
        "monthly_kpis.:metric.months_match_daily_kpis", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/funnel_daily", "funnel counts off",
        ("update funnel_daily set purchases = purchases + 2 where device_type = 'mobile'"
         " and session_date = (select min(session_date) from funnel_daily)",),
        "funnel_daily.:metric.events_match_fact_events", "observed 2", "must be 0",
    ),
    Violation(
        "build/main/funnel_hourly", "an hour outside the day",
        ("update funnel_hourly set event_hour = 24 where event_hour = 23",),
        "funnel_hourly.event_hour:invalid", "observed ", "must be 0",
    ),
    Violation(
        "build/main/category_daily", "value outside the set",
        ("update category_daily set category = 'toys' where category = 'books'",),
        "category_daily.category:invalid", "observed ", "must be 0",
    ),
    Violation(
        "build/main/product_performance", "recent units above all units",
        ("update product_performance set units_last_90_days = units + 1 where product_id = 1",),
        "product_performance.:failed_rows.recent_units_within_units", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/customer_lifetime_value", "duplicate key",
        ("insert into customer_lifetime_value select * from customer_lifetime_value limit 1",),
        "customer_lifetime_value.customer_id:duplicate", "observed 1", "must be 0",
    ),
    Violation(
        "build/main/customer_lifetime_value", "a customer without orders counted as Low",
        ("update customer_lifetime_value set spend_segment = 'Low' where customer_id ="
         " (select min(customer_id) from customer_lifetime_value where total_orders = 0)",),
        "customer_lifetime_value.:failed_rows.no_orders_bands_are_customers_without_orders",
        "observed 1", "must be 0",
    ),
    Violation(
        "build/main/segment_daily", "broken reconciliation",
        ("update segment_daily set revenue = revenue + 1.25"
         " where rowid = (select min(rowid) from segment_daily where revenue > 0)",),
        "segment_daily.:metric.revenue_matches_daily_kpis", "observed 1.25", "must be 0",
    ),
    Violation(
        "raw/shop/customers", "value outside the set",
        (raw_row("shop/customers", "'diamond' as segment"),),
        "raw/shop/customers.segment:invalid", "observed 1", "must be 0",
    ),
    Violation(
        "raw/shop/orders", "duplicate key",
        (raw_row("shop/orders"),),
        "raw/shop/orders.:duplicate", "observed 1", "must be 0",
    ),
    Violation(
        "raw/shop/order_items", "negative amount",
        (raw_row("shop/order_items", "order_item_id + 10000000 as order_item_id,"
                 " -1.00::decimal(12, 2) as discount_amount"),),
        "raw/shop/order_items.discount_amount:invalid", "observed 1", "must be 0",
    ),
    Violation(
        "raw/catalog/products", "a row in another day's partition",
        (raw_row("catalog/products", to="year=2025/month=10/day=06"),),
        "raw/catalog/products.:failed_rows.in_its_partition", "observed 1", "must be 0",
    ),
    Violation(
        "raw/clickstream/events", "broken reconciliation: a partition lost after the build",
        (),  # the test removes the partition
        "raw/clickstream/events.:metric.events_match_fact_events", "observed -", "must be 0",
    ),
]  # fmt: skip


def test_every_contract_has_a_violation_it_catches() -> None:
    assert {violation.dataset for violation in VIOLATIONS} == set(contracts())


@pytest.fixture
def gate_copy(built: Built, tmp_path: Path) -> Settings:
    """Settings whose build file and lake are copies of the session's, with no contract yet."""
    lake = tmp_path / "lake"
    shutil.copytree(built.settings.storage.lake_uri, lake, ignore=shutil.ignore_patterns("_lock"))
    (tmp_path / "contracts").mkdir()
    settings = built.settings.replaced(
        lake_root=str(lake),
        warehouse_path=tmp_path / "warehouse" / "lakehouse.duckdb",
        contracts_dir=tmp_path / "contracts",
    )
    settings.storage.warehouse_path.parent.mkdir()
    shutil.copyfile(built.settings.storage.build_path, settings.storage.build_path)
    return settings


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: f"{v.dataset}: {v.what}")
def test_a_violation_fails_the_gate_naming_check_observed_value_and_threshold(
    gate_copy: Settings, violation: Violation
) -> None:
    copy_contracts(violation.dataset, gate_copy.runs.contracts_dir)
    with duckdb.connect(str(gate_copy.storage.build_path)) as build:
        for sql in violation.sql:
            build.execute(sql.replace("{lake}", gate_copy.storage.lake_uri))
    if violation.dataset == "raw/clickstream/events":
        shutil.rmtree(f"{gate_copy.storage.lake_uri}/raw/clickstream/events/{DAY}")

    result = verify_contracts(gate_copy)

    assert not result.passed
    failed = {check.label: check for check in result.failed_checks}
    assert violation.check in failed, result.summary()
    check = failed[violation.check]
    assert (check.outcome, check.level) == ("FAILED", "fail")
    assert check.message.startswith(f"{violation.check} (")
    assert violation.observed in check.message, check.message
    assert check.message.endswith(f", {violation.threshold})"), check.message
    assert result.summary().startswith("quality gate failed: ")
    assert check.message in result.summary()


def test_the_event_checks_read_the_days_from_since_and_counts_catch_a_repeat_across_days(
    gate_copy: Settings,
) -> None:
    """A repeated event id on a day from `since` on fails the scoped checks; on an older day it
    is outside them (a day the last passing gate saw) and fails them unscoped; an event landed
    again in another day's partition fails the whole-lake count against fact_events."""
    for dataset in ("build/main/fact_events", "raw/clickstream/events"):
        copy_contracts(dataset, gate_copy.runs.contracts_dir)
    day = date(2025, 10, 20)
    with duckdb.connect(str(gate_copy.storage.build_path)) as build:
        build.execute(
            "insert into fact_events select * from fact_events where event_date = ? limit 1", [day]
        )
        # the build's lake has no such row: the count would fail too, so keep it in step
        build.execute(
            f"copy (select * from read_parquet('{gate_copy.storage.lake_uri}/raw/clickstream/"
            f"events/{day:year=%Y/month=%m/day=%d}/part-0.parquet', hive_partitioning = false) "
            f"where event_id = (select max(event_id) from fact_events where event_date = ? "
            f"group by event_id having count(*) > 1)) to '{gate_copy.storage.lake_uri}/raw/"
            f"clickstream/events/{day:year=%Y/month=%m/day=%d}/part-1.parquet'",
            [day],
        )

    def failed(since: date | None) -> set[str]:
        return {check.label for check in verify_contracts(gate_copy, since=since).failed_checks}

    repeated = {
        "fact_events.event_id:duplicate",
        "raw/clickstream/events.event_id:duplicate",
        "raw/clickstream/events._source:duplicate",
    }
    assert failed(day) == failed(None) == repeated
    assert failed(day + timedelta(days=1)) == set()

    # the same event again in the partition of a later day: outside every scoped check
    later = f"{day + timedelta(days=3):year=%Y/month=%m/day=%d}"
    with duckdb.connect() as connection:
        connection.execute(
            raw_row("clickstream/events", day=DAY, to=later).replace(
                "{lake}", gate_copy.storage.lake_uri
            )
        )
    assert failed(day + timedelta(days=4)) == {
        "raw/clickstream/events.:metric.events_match_fact_events"
    }


def test_row_checks_and_hourly_cells_read_the_days_from_since(gate_copy: Settings) -> None:
    """A missing event type and an hour's sessions off by one, on one day: caught from that day
    on and unscoped; from the next day on outside the checks (the days a gate already passed),
    which read the new days only, not the whole table."""
    for dataset in ("build/main/fact_events", "build/main/funnel_hourly"):
        copy_contracts(dataset, gate_copy.runs.contracts_dir)
    day = date(2025, 10, 20)
    with duckdb.connect(str(gate_copy.storage.build_path)) as build:
        build.execute(
            "update fact_events set event_type = null where event_id = (select min(event_id) "
            "from fact_events where event_date = ? and event_type = 'page_view')",
            [day],
        )
        build.execute(
            "update funnel_hourly set sessions = sessions + 1 where rowid = (select min(rowid) "
            "from funnel_hourly where event_date = ? and events > sessions)",
            [day],
        )

    def failed(since: date | None) -> set[str]:
        return {check.label for check in verify_contracts(gate_copy, since=since).failed_checks}

    broken = {"fact_events.event_type:missing", "funnel_hourly.:metric.hours_match_fact_events"}
    assert failed(None) == failed(day) == broken
    assert failed(day + timedelta(days=1)) == set()


def test_the_raw_contracts_read_a_lake_on_s3(built: Built, s3: S3Endpoint, tmp_path: Path) -> None:
    """The session's lake copied to an S3 endpoint: the same checks, read through httpfs."""
    import os

    from flows.settings import load_settings

    bucket = s3.bucket("gate-lake")
    client = s3.client()
    local = Path(built.settings.storage.lake_uri)
    for path in local.rglob("*"):
        if path.is_file() and path.name != "_lock":
            key = f"lake/{path.relative_to(local)}"
            client.put_object(Bucket=bucket.removeprefix("s3://"), Key=key, Body=path.read_bytes())
    for path in CONTRACTS.glob("raw_*.yml"):
        shutil.copy(path, tmp_path)
    environment = {**built.environment, **s3.environment, "LAKEHOUSE_LAKE_ROOT": f"{bucket}/lake"}
    with mock.patch.dict(os.environ, environment):
        settings = load_settings(contracts_dir=tmp_path)

    result = verify_contracts(settings, built.settings.storage.build_path)

    assert result.passed, result.summary()
    assert {check.contract for check in result.checks} == {
        f"raw/{entity.source}/{entity.name}" for entity in ENTITIES.values()
    }
    counted = {c.contract: c.value for c in result.checks if c.check == "row_count"}
    assert counted["raw/clickstream/events"] == warehouse_rows(built, "fact_events")


def warehouse_rows(built: Built, table: str) -> float:
    with duckdb.connect(str(built.settings.storage.warehouse_path), read_only=True) as warehouse:
        return float(warehouse.sql(f"select count(*) from {table}").fetchone()[0])


def test_the_data_timestamp_is_the_end_of_the_last_ingested_day(built: Built) -> None:
    from flows.warehouse.gate import data_timestamp

    last = date.fromisoformat(E2E_START) + timedelta(days=E2E_DAYS - 1)
    assert data_timestamp(built.settings) == datetime.combine(
        last + timedelta(days=1), datetime.min.time(), UTC
    )


def test_a_warning_is_reported_and_stored_but_does_not_block_the_publish(
    gate_copy: Settings, built: Built
) -> None:
    """Two days pass without new data: every freshness check warns, none fails, it publishes."""
    from flows.pipeline import gate_and_publish
    from flows.warehouse.gate import data_timestamp
    from flows.warehouse.publish import begin_build, finish_build

    for path in CONTRACTS.glob("*.yml"):
        shutil.copy(path, gate_copy.runs.contracts_dir)
    finish_build(gate_copy, begin_build(gate_copy))
    two_days_later = data_timestamp(built.settings) + timedelta(days=2)
    with mock.patch("flows.warehouse.gate.data_timestamp", return_value=two_days_later):
        result, published = in_a_flow(gate_and_publish, gate_copy)

    assert result.passed
    warned = {check.label for check in result.warned_checks}
    assert {"data_as_of.:freshness", "fact_orders.:freshness", "fact_events.:freshness"} <= warned
    assert {check.outcome for check in result.checks} == {"PASSED", "WARN"}
    assert result.summary().startswith(f"quality gate passed: {len(result.checks)} checks; ")
    assert "data_as_of.:freshness (" in result.summary()
    assert file_hash(Path(published)) == file_hash(gate_copy.storage.build_path)
    stored = json.loads((gate_copy.storage.run_state_dir / "quality_gate.json").read_text())
    assert stored["passed"] is True
    warnings = [check for check in stored["checks"] if check["outcome"] == "WARN"]
    assert {check["message"] for check in warnings} == {
        check.message for check in result.warned_checks
    }
    (freshness,) = [
        check
        for check in warnings
        if (check["contract"], check["check"]) == ("data_as_of", "freshness")
    ]
    assert (freshness["value"], freshness["threshold"]) == (
        3.0,
        "must be >= 0 and <= 3; warns unless <= 1",
    )


def test_a_violation_in_the_lake_blocks_the_publish_through_the_command_line(
    completed: Workspace, tmp_path: Path
) -> None:
    """A raw order version landed twice: dbt keeps one and passes, the gate refuses the build."""
    workspace = completed.copy(tmp_path / "data")
    partition = next((workspace.lake / "raw" / "shop" / "orders").glob("year=*/month=*/day=*"))
    shutil.copy(partition / "part-0.parquet", partition / "part-1.parquet")
    published = file_hash(workspace.published)

    built = workspace.run("build")  # dbt on the lake as it stands, then the gate

    assert built.returncode == 1, built.stdout + built.stderr
    (message,) = [line for line in built.stderr.splitlines() if line.startswith("error: ")]
    assert message.startswith("error: quality gate failed: raw/shop/orders.:duplicate (")
    assert "observed " in message and ", must be 0)" in message
    assert file_hash(workspace.published) == published

    publish = workspace.run("publish")
    assert publish.returncode != 0
    assert "failed the quality gate (quality gate failed: raw/shop/orders.:duplicate (" in (
        publish.stderr
    )
    assert file_hash(workspace.published) == published

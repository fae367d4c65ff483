"""The warehouse against values computed independently from the raw Parquet."""

from __future__ import annotations

import ast
import ipaddress
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import duckdb
import pyarrow.dataset as ds
import pytest

from flows.settings import Settings, load_settings
from flows.warehouse.build import build_warehouse, run_dbt
from tests.conftest import Built, in_a_flow
from tests.test_ingest import START, sandbox

pytestmark = pytest.mark.e2e


def raw(built: Built, source: str, entity: str) -> list[dict]:
    root = Path(built.settings.storage.lake_uri) / "raw" / source / entity
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def query(built: Built, sql: str) -> list[tuple]:
    with duckdb.connect(str(built.settings.storage.warehouse_path), read_only=True) as warehouse:
        return warehouse.sql(sql).fetchall()


def test_customer_history_is_every_version_in_the_lake(built: Built) -> None:
    versions = {(row["customer_id"], row["updated_at"]) for row in raw(built, "shop", "customers")}
    assert query(built, "select count(*) from dim_customers where customer_id > 0") == [
        (len(versions),)
    ]
    changed = sum(1 for _ in {c for c, _ in versions}) < len(versions)
    assert changed, "some customers changed segment in the window"
    customers = len({c for c, _ in versions})
    assert query(
        built, "select count(*), count(distinct customer_id) from dim_customers where is_current"
    ) == [(customers + 1, customers + 1)]  # every customer once, and the unknown member


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
    customers = len({row["customer_id"] for row in raw(built, "shop", "customers")})
    assert query(built, "select sum(lifetime_value), count(*) from customer_lifetime_value") == [
        (revenue, customers)
    ]


def latest_versions(rows: list[dict], key: str) -> dict[int, dict]:
    """The latest version (by updated_at) of each record in a raw entity."""
    latest: dict[int, dict] = {}
    for row in rows:
        if row[key] not in latest or row["updated_at"] > latest[row[key]]["updated_at"]:
            latest[row[key]] = row
    return latest


def segment_at(versions: list[dict], moment: datetime) -> str:
    """The segment of the customer version valid at `moment`: the first version from
    registration, each later one from its update, until the next (exclusive)."""
    starts = [min(versions[0]["created_at"], versions[0]["updated_at"])]
    starts += [version["updated_at"] for version in versions[1:]]
    (valid,) = [
        version
        for index, (version, start) in enumerate(zip(versions, starts, strict=True))
        if start <= moment and (index + 1 == len(starts) or moment < starts[index + 1])
    ]
    return valid["segment"]


def test_segment_daily_counts_orders_under_the_segment_at_order_time(built: Built) -> None:
    """An independent point-in-time join on the raw lake: each line's order, placed at
    order_at, under the customer version whose validity interval contains order_at."""
    versions: dict[int, list[dict]] = {}
    for row in {
        (r["customer_id"], r["updated_at"]): r for r in raw(built, "shop", "customers")
    }.values():
        versions.setdefault(row["customer_id"], []).append(row)
    for history in versions.values():
        history.sort(key=lambda version: version["updated_at"])
    orders = latest_versions(raw(built, "shop", "orders"), "order_id")
    lines = latest_versions(raw(built, "shop", "order_items"), "order_item_id")
    expected: dict[tuple[date, str], list] = {}  # (day, segment): [orders, revenue orders, revenue]
    counted: set[tuple[int, date, str, bool]] = set()
    not_current = Decimal("0.00")
    for line in lines.values():
        order = orders[line["order_id"]]
        day = order["order_at"].astimezone(UTC).date()
        history = versions[order["customer_id"]]
        segment = segment_at(history, order["order_at"])
        is_revenue = order["status"] not in ("cancelled", "returned")
        cell = expected.setdefault((day, segment), [0, 0, Decimal("0.00")])
        for revenue_order in {False, is_revenue}:
            if (order["order_id"], day, segment, revenue_order) not in counted:
                counted.add((order["order_id"], day, segment, revenue_order))
                cell[1 if revenue_order else 0] += 1
        if is_revenue:
            net = line["quantity"] * line["unit_price"] - line["discount_amount"]
            cell[2] += net
            if segment != history[-1]["segment"]:
                not_current += net

    rows = query(
        built,
        "select order_date, customer_segment, orders, revenue_orders, revenue from segment_daily",
    )
    assert {(day, segment): [n, r, v] for day, segment, n, r, v in rows} == expected
    per_segment: dict[str, Decimal] = {}
    for (_, segment), (_, _, revenue) in expected.items():
        per_segment[segment] = per_segment.get(segment, Decimal("0.00")) + revenue
    assert (
        dict(query(built, "select customer_segment, sum(revenue) from segment_daily group by 1"))
        == per_segment
    )
    # revenue placed under a segment the customer has since left: over 730 days about 24% of
    # the orders; over these 30 days (20 segment changes among 1,000 customers) one revenue
    # order of 213, 2.6% of the revenue, but never none: the join is not on the current version
    assert 0 < not_current / sum(per_segment.values()) < Decimal("0.1")


def test_spend_segment_no_orders_is_every_customer_without_a_revenue_order(
    built: Built,
) -> None:
    orders = latest_versions(raw(built, "shop", "orders"), "order_id")
    ordered = {
        orders[line["order_id"]]["customer_id"]
        for line in raw(built, "shop", "order_items")
        if orders[line["order_id"]]["status"] not in ("cancelled", "returned")
    }
    customers = {row["customer_id"] for row in raw(built, "shop", "customers")}
    without = len(customers - ordered)
    # spend segment: (customers, customers with total_orders = 0)
    rows = query(
        built,
        "select spend_segment, count(*), count(*) filter (where total_orders = 0)"
        " from customer_lifetime_value group by 1",
    )
    by_segment = {segment: (count, never) for segment, count, never in rows}
    assert by_segment.pop("No Orders") == (without, without)
    assert without > 0
    assert {segment: never for segment, (_, never) in by_segment.items()} == {
        segment: 0 for segment in by_segment
    }, "a customer without a revenue order in another spend segment (Low)"
    assert by_segment["Low"][0] > 0


def test_funnel_counts_every_session_once(built: Built) -> None:
    sessions = {row["session_id"] for row in raw(built, "clickstream", "events")}
    purchases = sum(
        1 for row in raw(built, "clickstream", "events") if row["event_type"] == "purchase"
    )
    assert query(built, "select sum(sessions), sum(purchase_sessions) from funnel_daily") == [
        (len(sessions), purchases)
    ]


@contextmanager
def offline() -> Iterator[None]:
    """Any connection to an address other than loopback (or a local socket) fails."""
    connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback:
            raise OSError(f"offline test: a connection to {address} was attempted")
        connect(self, address)

    with mock.patch.object(socket.socket, "connect", loopback_only):
        yield


@dataclass(frozen=True)
class Documented:
    site: Path
    dictionary: str
    manifest: dict
    catalog: dict


@pytest.fixture(scope="module")
def documented(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Documented:
    """`lakehouse docs` on the test build, offline; neither the build nor the published file
    may change (the gate's checksum of the build must still hold)."""
    from flows.warehouse.docs import docs_folder, generate_docs
    from flows.warehouse.publish import file_sha256

    dictionary = tmp_path_factory.mktemp("docs") / "data-dictionary.md"
    with mock.patch.dict(os.environ, built.environment):
        settings = load_settings()
        before = [
            file_sha256(settings.storage.build_path),
            file_sha256(settings.storage.warehouse_path),
        ]
        with offline():
            generated = generate_docs(settings, dictionary)
        assert [
            file_sha256(settings.storage.build_path),
            file_sha256(settings.storage.warehouse_path),
        ] == before
    folder = docs_folder(settings)
    return Documented(
        generated.site,
        dictionary.read_text(),
        json.loads((folder / "manifest.json").read_text()),
        json.loads((folder / "catalog.json").read_text()),
    )


def test_docs_generate_offline_and_the_dictionary_is_current(documented: Documented) -> None:
    site = documented.site.read_text()
    assert documented.site.name == "static_index.html"
    # the static page embeds the manifest and the catalog; its usage tracker stays off
    assert '"send_anonymous_usage_stats": false' in site
    assert "model.lakehouse.fact_orders" in documented.catalog["nodes"]
    assert "| `net_amount` | `decimal(18,2)` |" in documented.dictionary
    assert "| `units` | `bigint` |" in documented.dictionary
    committed = (Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md").read_text()
    assert committed == documented.dictionary, "run `make docs` and commit docs/data-dictionary.md"


def models(documented: Documented) -> dict[str, dict]:
    return {
        unique_id: node
        for unique_id, node in documented.manifest["nodes"].items()
        if node["resource_type"] == "model"
    }


def test_every_model_and_every_built_column_is_described(documented: Documented) -> None:
    undescribed = []
    for unique_id, model in models(documented).items():
        if not model["description"].strip():
            undescribed.append(model["name"])
        columns = {name.lower(): column for name, column in model["columns"].items()}
        for name in documented.catalog["nodes"][unique_id]["columns"]:
            if not columns.get(name.lower(), {}).get("description", "").strip():
                undescribed.append(f"{model['name']}.{name}")
    assert undescribed == []


def _type(name: str) -> str:
    """A type as DuckDB spells it (the contracts say `string`, which DuckDB reads as VARCHAR)."""
    name = name.lower().replace(" ", "")
    return "varchar" if name == "string" else name


def test_contracts_declare_every_column_of_every_mart(documented: Documented) -> None:
    """Every mart (what the app reads, the core star included) has an enforced contract whose
    columns are exactly the built ones, with the types DuckDB reports."""
    enforced = set()
    for unique_id, model in models(documented).items():
        if model["fqn"][1] == "marts":
            assert model["config"]["contract"]["enforced"], model["name"]
        if not model["config"]["contract"]["enforced"]:
            continue
        enforced.add(model["name"])
        declared = {
            name.lower(): _type(column.get("data_type") or "")
            for name, column in model["columns"].items()
        }
        built = {
            name.lower(): _type(column["type"])
            for name, column in documented.catalog["nodes"][unique_id]["columns"].items()
        }
        assert declared == built, model["name"]
    assert {"dim_customers", "dim_products", "dim_date", "fact_orders", "fact_events"} <= enforced
    assert "data_as_of" in enforced


def test_every_table_the_app_reads_is_an_exposed_contracted_model(
    documented: Documented,
) -> None:
    source = (Path(__file__).resolve().parents[1] / "app" / "queries.py").read_text()
    tree = ast.parse(source)
    # tables named after `from` in its SQL (ops.* is the ops database, not dbt) ...
    read = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for name in re.findall(r"\bfrom\s+([a-z_]+)\b(?!\.)", node.value)
    }
    read -= {"duckdb_tables"}  # DuckDB's catalog (Data Health lists every table), not a model
    exposures = {
        exposure["name"]: {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]}
        for exposure in documented.manifest["exposures"].values()
    }
    assert set(exposures) == {
        f"{page}_dashboard" for page in ("executive", "products", "customers", "funnel", "health")
    }
    contracted = {
        model["name"]
        for model in models(documented).values()
        if model["config"]["contract"]["enforced"]
    }
    assert read and read <= set().union(*exposures.values()) and read <= contracted
    # the Data Health page counts the rows of every table the warehouse holds
    tables = {
        model["name"]
        for model in models(documented).values()
        if model["config"]["materialized"] in ("table", "incremental")
    }
    assert exposures["health_dashboard"] == tables


def test_docs_without_a_build_says_to_run_first(tmp_path: Path) -> None:
    from tests.cli import Workspace

    result = Workspace.create(tmp_path, None).run("docs")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("run `lakehouse run` first")


def test_sources_are_fresh_after_ingestion(built: Built) -> None:
    with mock.patch.dict(os.environ, built.environment):
        result = run_dbt(load_settings(), "source", "freshness")
    assert result.success
    checked = [node for node in result.result if str(node.node.resource_type) == "source"]
    assert {str(node.status) for node in checked} == {"pass"}
    assert len(checked) == 5  # (the other result is the on-run-start hook, a no-op on DuckDB)


def warehouse_tables(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as warehouse:
        return [
            row[0]
            for row in warehouse.sql(
                "select table_name from information_schema.tables where table_schema = 'main' "
                "and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]


def test_incremental_builds_equal_a_full_rebuild_table_for_table(
    tmp_path: Path, prefect_server: None
) -> None:
    """Later days, late events into older partitions, status changes: every staging model,
    fact and mart built incrementally equals the same tables rebuilt from scratch."""
    from flows.lake.partitions import Lake
    from flows.pipeline import build, first_day_written_since
    from flows.warehouse.publish import begin_build, read_record, write_record

    sources = sandbox(tmp_path / "incremental", LAKEHOUSE_SCALE_FACTOR="1")
    sources.ingest(START, START + timedelta(days=9))
    # the build task runs on its own here, outside a flow run: its logs stay local
    quiet = {**sources.environment, "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore"}
    with mock.patch.dict(os.environ, quiet):
        in_a_flow(build, load_settings())  # no build before: every partition
        late = add_late_line(sources.settings, START + timedelta(days=1))
        sources.ingest(START + timedelta(days=10), START + timedelta(days=14))
        settings = load_settings()
        previous = read_record(settings)
        probe = begin_build(settings)  # what the next build will read from
        write_record(settings, previous)
        since = first_day_written_since(Lake.from_settings(settings), probe.baseline)
        assert since == START + timedelta(days=1)  # the late line's partition
        in_a_flow(build, settings)  # incremental, from the first partition day written since
        build_warehouse(load_settings())  # incremental without lake_since: every partition
        # a window that starts after a session began: it is recomputed from all its events
        spanning = add_click_after_midnight(sources.settings, START + timedelta(days=14))
        sources.ingest(START + timedelta(days=15), START + timedelta(days=16))
        settings = load_settings()
        assert first_day_written_since(
            Lake.from_settings(settings), read_record(settings).started_at
        ) == START + timedelta(days=15)
        in_a_flow(build, settings)  # the last build: incremental from day 15
    rebuilt = {
        **sources.environment,
        "LAKEHOUSE_WAREHOUSE_PATH": str(tmp_path / "full" / "w.duckdb"),
    }
    with mock.patch.dict(os.environ, rebuilt):
        build_warehouse(load_settings(), full_refresh=True)
    incremental_file = sources.settings.storage.build_path
    full_file = tmp_path / "full" / "w.build.duckdb"
    tables = warehouse_tables(incremental_file)
    assert tables == warehouse_tables(full_file)
    assert {"stg_clickstream__events", "stg_shop__orders", "fact_orders", "funnel_daily"} <= set(
        tables
    )
    with duckdb.connect() as connection:
        connection.execute(f"attach '{incremental_file}' as incremental (read_only)")
        connection.execute(f"attach '{full_file}' as full_build (read_only)")
        for table in tables:
            differing = connection.sql(
                f"""
                select count(*) from (
                    (select * from incremental.{table} except all select * from full_build.{table})
                    union all
                    (select * from full_build.{table} except all select * from incremental.{table})
                )
                """
            ).fetchone()[0]
            assert differing == 0, table
        lines = connection.sql("select count(*) from incremental.fact_orders").fetchone()[0]
        assert connection.execute(
            "select session_date, cast(timezone('UTC', ended_at) as date) "
            "from incremental.stg_clickstream__sessions where session_id = ?",
            [spanning],
        ).fetchone() == (START + timedelta(days=14), START + timedelta(days=15))
    assert lines > 150
    with duckdb.connect(str(incremental_file), read_only=True) as warehouse:
        assert warehouse.execute(
            "select count(*) from fact_orders where order_item_id = ?", [late]
        ).fetchone() == (1,)
    assert_event_tests_read_the_days_from_lake_since(
        sources.environment, incremental_file, START + timedelta(days=15)
    )


EVENT_TABLE_KEYS = {  # table: its key, the column its tests read rows by, and its UTC day
    "stg_clickstream__events": ("event_id", "event_date", "event_date"),
    "stg_clickstream__sessions": (
        "session_id", "ended_at", "cast(timezone('UTC', ended_at) as date)"
    ),
}  # fmt: skip


def assert_event_tests_read_the_days_from_lake_since(
    environment: dict[str, str], build_file: Path, since: date
) -> None:
    """The pipeline's last build ran under the code the earlier ones passed with: the event
    tables' data tests read their days from lake_since on (macros/tests_since.sql), the
    sessions' the sessions ending on them (the ones that build rewrote). A repeated key on such
    a day fails them; one on an older day is outside them, and fails them unscoped."""
    tests = {f"unique_{table}_{key}": table for table, (key, _, _) in EVENT_TABLE_KEYS.items()}
    for test, table in tests.items():
        column = EVENT_TABLE_KEYS[table][1]
        compiled = next((build_file.parent / "dbt-target" / "compiled").rglob(f"{test}.sql"))
        assert f"where {column} >= date '{since}'" in compiled.read_text()

    def repeat_a_row_of_each(day: date | None) -> None:
        with duckdb.connect(str(build_file)) as warehouse:
            for table, (key, _, day_of) in EVENT_TABLE_KEYS.items():
                warehouse.execute(f"delete from {table} where {key} = -1")
                if day is not None:
                    warehouse.execute(
                        f"insert into {table} select * replace (-1 as {key}) "
                        f"from {table} where {day_of} = ? limit 2",
                        [day],
                    )

    def failing_tables(tests_since: date | None) -> set[str]:
        """The tables whose unique test fails, both tests in one dbt invocation."""
        with mock.patch.dict(os.environ, environment):
            result = run_dbt(
                load_settings(), "test", "--quiet", "--select", *tests, tests_since=tests_since
            )
        assert result.exception is None, result.exception
        ran = [node for node in result.result if node.node.name in tests]  # not the hooks
        assert len(ran) == len(tests)
        return {tests[node.node.name] for node in ran if str(node.status) == "fail"}

    repeat_a_row_of_each(since)
    assert failing_tables(since) == set(EVENT_TABLE_KEYS)
    repeat_a_row_of_each(since - timedelta(days=3))
    assert failing_tables(since) == set()
    assert failing_tables(None) == set(EVENT_TABLE_KEYS)
    repeat_a_row_of_each(None)  # as it was


def add_click_after_midnight(settings: Settings, day: date) -> int:
    """A click just after midnight in a session of `day`, landed with the next day's files:
    the session now spans two days. Returns its session_id."""
    root = Path(settings.sources.landing_uri)
    last_hour = sorted((root / "clickstream" / f"{day:%Y/%m/%d}").glob("*.ndjson"))[-1]
    click = json.loads(last_hour.read_text().splitlines()[-1])
    after = f"{day + timedelta(days=1)}T00:00:30Z"
    click.update(event_id=990_000_000_000_777, event_type="page_view", event_at=after,
                 received_at=after, order_id=None)  # fmt: skip
    folder = root / "clickstream" / f"{day + timedelta(days=1):%Y/%m/%d}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"events-{day + timedelta(days=1):%Y%m%d}00-spanning.ndjson").write_text(
        json.dumps(click) + "\n"
    )
    return click["session_id"]


def add_late_line(settings: Settings, day: date) -> int:
    """A line committed late to an order of `day`, stamped with that day: it lands in an old
    partition, far behind the fact's newest change and its lookback."""
    import sqlite3

    database = settings.sources.source_db_url.get_secret_value().removeprefix("sqlite:///")
    line_id = 990_000_000_777
    with sqlite3.connect(database) as shop:
        order_id, product_id = shop.execute(
            "select order_id, product_id from order_items where updated_at like ? limit 1",
            (f"{day}%",),
        ).fetchone()
        shop.execute(
            "insert into order_items values (?, ?, ?, 1, 12.34, 0, ?)",
            (line_id, order_id, product_id, f"{day} 12:00:00.000000"),
        )
    return line_id


def test_dbt_builds_from_a_lake_on_s3(tmp_path: Path, prefect_server: None, s3) -> None:
    sources = sandbox(tmp_path, s3, LAKEHOUSE_SCALE_FACTOR="1")
    reports = sources.ingest(START, START + timedelta(days=6))
    with mock.patch.dict(os.environ, sources.environment):
        statuses = build_warehouse(load_settings(), full_refresh=True)
    assert statuses.get("error", 0) == statuses.get("fail", 0) == 0
    with duckdb.connect(str(sources.settings.storage.build_path), read_only=True) as warehouse:
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
    with duckdb.connect(str(sources.settings.storage.build_path), read_only=True) as warehouse:
        (unknown, total) = warehouse.sql(
            "select count(*) filter (where order_status = 'unknown'), count(*) from fact_orders"
        ).fetchone()
    # lines whose order header sits in quarantine are kept, with status 'unknown'
    assert (unknown, total) == (orphans, len(lines))
    assert orphans > 0

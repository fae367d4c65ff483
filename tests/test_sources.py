"""The three simulated source systems: shop database (SQLite and PostgreSQL), catalog API,
clickstream landing zone."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from flows.ingestion.catalog_client import CatalogApiError, catalog_client, fetch_pages
from generators.catalog_api import SNAPSHOTS_KEPT, CatalogApi
from generators.config import SimulationConfig
from generators.shop_db import TABLES, ShopDatabase
from generators.simulation import Simulation
from generators.sources import write_sources
from infra.postgres import postgres_cluster

LOCAL = pafs.LocalFileSystem()
CONFIG = SimulationConfig(seed=11, scale_factor=0.2, start_date=date(2024, 10, 1), days=60)


@pytest.fixture(scope="module")
def sqlite_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sources")
    written = write_sources(
        CONFIG, f"sqlite:///{root / 'shop.sqlite'}", (LOCAL, str(root / "landing"))
    )
    return root, written


def test_shop_database_holds_the_latest_version_of_every_row(sqlite_sources) -> None:
    root, written = sqlite_sources
    simulation = Simulation(CONFIG)
    latest: dict[str, dict[int, object]] = {table: {} for table in TABLES}
    keys = {"customers": "customer_id", "orders": "order_id", "order_items": "order_item_id"}
    for day in simulation.days():
        for table in TABLES:
            for row in getattr(day, table).to_pylist():
                latest[table][row[keys[table]]] = row
    with ShopDatabase.connect(f"sqlite:///{root / 'shop.sqlite'}") as database:
        for table in TABLES:
            assert database.count(table) == len(latest[table]), table
        statuses = dict(
            database.connection.execute("select order_id, status from orders").fetchall()
        )
    assert statuses == {order_id: row["status"] for order_id, row in latest["orders"].items()}
    assert written["orders"] == sum(day.orders.num_rows for day in simulation.days())


def test_shop_database_enforces_keys_and_checks(sqlite_sources) -> None:
    root, _ = sqlite_sources
    with ShopDatabase.connect(f"sqlite:///{root / 'shop.sqlite'}") as database:
        connection = database.connection
        order_id = connection.execute("select min(order_id) from orders").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            connection.execute(
                "insert into order_items values (1, ?, 1, -2, 9.99, 0, '2024-10-02 00:00:00')",
                (order_id,),
            )
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
            connection.execute(
                "insert into order_items values (2, 99, 1, 1, 9.99, 0, '2024-10-02 00:00:00')"
            )
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            connection.execute(
                "update orders set status = 'shipped' where order_id = ?", (order_id,)
            )


def test_postgresql_target_holds_the_same_rows_as_sqlite(sqlite_sources, tmp_path: Path) -> None:
    root, _ = sqlite_sources
    with postgres_cluster() as url:
        write_sources(CONFIG, url, (LOCAL, str(tmp_path / "landing")))
        with (
            ShopDatabase.connect(url) as postgres,
            ShopDatabase.connect(f"sqlite:///{root / 'shop.sqlite'}") as sqlite,
        ):
            for table in TABLES:
                rows = postgres.read(table)
                assert rows == sqlite.read(table), table
                assert len(rows) > 80  # 89 customers at scale 0.2 after 60 days


def test_landing_zone_has_one_ndjson_file_per_arrival_hour(sqlite_sources) -> None:
    root, written = sqlite_sources
    files = sorted((root / "landing" / "clickstream").rglob("*.ndjson"))
    assert len(files) == written["clickstream_files"] > 600
    lines = 0
    for path in files:
        hour = path.stem.removeprefix("events-")
        for line in path.read_text().splitlines():
            event = json.loads(line)
            assert event["received_at"][:13].replace("-", "").replace("T", "") == hour
            assert event["event_at"] <= event["received_at"]
            lines += 1
    events = sum(day.events.num_rows for day in Simulation(CONFIG).days())
    assert lines == written["clickstream_lines"] == events


def test_catalog_api_serves_every_product_once_despite_failures() -> None:
    simulation = Simulation(CONFIG)
    with CatalogApi(CONFIG, failure_rate=0.2) as api:
        with catalog_client(api.url) as client:
            pages = fetch_pages(client, date(2024, 11, 5), page_size=7, backoff_seconds=0.01)
        products = [product for batch, _ in pages for product in batch]
        assert api.failures > 0
    expected = simulation.catalog.snapshot(simulation.day_index(date(2024, 11, 5))).to_pylist()
    assert [product["id"] for product in products] == [row["product_id"] for row in expected]
    assert [str(product["price"]) for product in products] == [
        str(row["price"]) for row in expected
    ]
    assert set(products[0]) == {
        "id",
        "title",
        "price",
        "description",
        "category",
        "image",
        "rating",
        "stock",
        "updated_at",
    }


def test_catalog_api_keeps_a_few_days_formatted_and_serves_a_forgotten_one_again() -> None:
    """A backfill reads every day once; the API must not hold them all (SF1000: 1.7 GiB)."""
    days = [date(2024, 10, 1 + offset) for offset in range(SNAPSHOTS_KEPT + 4)]
    with CatalogApi(CONFIG) as api, catalog_client(api.url) as client:
        first = fetch_pages(client, days[0], page_size=50)
        for day in days[1:]:
            fetch_pages(client, day, page_size=50)
            assert len(api._snapshots) <= SNAPSHOTS_KEPT
        assert days[0] not in api._snapshots
        assert fetch_pages(client, days[0], page_size=50) == first


def test_catalog_client_gives_up_with_a_clear_error() -> None:
    with (
        CatalogApi(CONFIG, failure_rate=0.999) as api,
        pytest.raises(CatalogApiError) as failure,
    ):
        fetch_pages(
            catalog_client(api.url), date(2024, 11, 5), page_size=20, retries=2, backoff_seconds=0
        )
    message = str(failure.value)
    assert message.startswith(
        f"catalog API {api.url}/products (date 2024-11-05) failed after 3 attempts: HTTP "
    )
    assert message.endswith(
        ("HTTP 500; check LAKEHOUSE_CATALOG_API_URL", "HTTP 429; check LAKEHOUSE_CATALOG_API_URL")
    )


def test_generate_command_writes_both_sources(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    completed = subprocess.run(
        [sys.executable, "-m", "flows.cli", "generate", "--days", "5", "--scale", "0.1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("shop database sqlite:///data/sources/shop.sqlite: customers ")
    assert lines[1].startswith(f"landing zone {tmp_path / 'data' / 'landing'}: ")
    assert (tmp_path / "data" / "sources" / "shop.sqlite").exists()


def test_landing_zone_on_s3_holds_the_same_files_and_lines(s3, tmp_path: Path) -> None:
    from flows.lake.storage import filesystem
    from flows.settings import load_settings

    config = SimulationConfig(seed=3, scale_factor=0.2, start_date=date(2024, 12, 1), days=6)
    landing = s3.bucket("landing-zone") + "/clickstream-landing"
    settings = load_settings(
        **{key.removeprefix("LAKEHOUSE_").lower(): value for key, value in s3.environment.items()},
        landing_root=landing,
    )
    local_root = tmp_path / "landing"
    written_local = write_sources(
        config, f"sqlite:///{tmp_path / 'a.sqlite'}", (LOCAL, str(local_root))
    )
    written_s3 = write_sources(
        config, f"sqlite:///{tmp_path / 'b.sqlite'}", filesystem(landing, settings)
    )
    assert written_s3 == written_local
    client = s3.client()
    contents = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="landing-zone"):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):  # skip folder markers
                body = client.get_object(Bucket="landing-zone", Key=item["Key"])["Body"].read()
                contents[item["Key"].removeprefix("clickstream-landing/")] = body
    local = {
        str(path.relative_to(local_root)): path.read_bytes()
        for path in local_root.rglob("*.ndjson")
    }
    assert contents == local
    assert (
        sum(len(body.splitlines()) for body in contents.values()) == written_s3["clickstream_lines"]
    )

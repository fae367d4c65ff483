"""Ingestion: three sources into atomic, idempotent partitions, on a local lake and on S3."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from flows.lake.entities import ENTITIES
from flows.lake.partitions import Lake
from flows.lake.storage import filesystem
from flows.settings import Settings, load_settings
from generators.shop_db import ShopDatabase
from infra.postgres import postgres_cluster
from tests.conftest import S3Endpoint, settings_environment

START = date(2024, 11, 1)


@dataclass
class Sources:
    """A sandbox: simulated sources and a lake, and the settings that point at them."""

    environment: dict[str, str]

    @property
    def settings(self) -> Settings:
        with mock.patch.dict(os.environ, self.environment):
            return load_settings()

    @property
    def lake(self) -> Lake:
        return Lake.from_settings(self.settings)

    def ingest(self, start: date, end: date) -> dict[str, Counter]:
        """As an entry point does: the sources opened (simulated: advanced through `end`)."""
        from flows.ingestion.run import ingest
        from flows.runtime.lock import writer_lock
        from flows.sources.entry import open_sources

        settings = self.settings
        with writer_lock(settings), open_sources(settings, through=end) as sources:
            # the settings handed on, not the environment
            reports = ingest(sources.settings, start, end, sources.identities)
        return {report.source: report for report in reports}

    def table(self, zone: str, entity: str) -> pa.Table:
        lake = self.lake
        spec = ENTITIES[entity]
        folder = f"{zone}/{spec.source}/{entity}"
        if not lake.exists(folder):
            return pa.table({})
        dataset = ds.dataset(lake.path(folder), filesystem=lake.fs, format="parquet")
        return dataset.to_table()

    def lake_fingerprint(self) -> dict[str, str]:
        """Partition file → hash of its rows without the run id (which differs per run)."""
        lake = self.lake
        from pyarrow import fs as pafs

        selector = pafs.FileSelector(lake.root, recursive=True)
        hashes = {}
        for info in lake.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
                with lake.fs.open_input_file(info.path) as handle:
                    table = pq.read_table(handle)
                lineage = ("_run_id", "_ingested_at")  # differ from run to run
                table = table.drop_columns([c for c in lineage if c in table.column_names])
                hashes[info.path.removeprefix(lake.root)] = hashlib.sha256(
                    repr(table.to_pylist()).encode()
                ).hexdigest()
        return hashes

    def landing_lines(self) -> int:
        fs, root = filesystem(self.settings.sources.landing_uri, self.settings)
        from pyarrow import fs as pafs

        lines = 0
        for info in fs.get_file_info(pafs.FileSelector(f"{root}/clickstream", recursive=True)):
            if info.type == pafs.FileType.File and info.path.endswith(".ndjson"):
                with fs.open_input_stream(info.path) as stream:
                    lines += sum(1 for line in stream.read().splitlines() if line.strip())
        return lines


def sandbox(root: Path, s3: S3Endpoint | None = None, **extra: str) -> Sources:
    defaults = {
        "LAKEHOUSE_START_DATE": START.isoformat(),
        "LAKEHOUSE_DAYS": "30",
        "LAKEHOUSE_SCALE_FACTOR": "0.2",
        "LAKEHOUSE_SEED": "5",
    }
    environment = settings_environment(root, **{**defaults, **extra})
    if s3 is not None:
        bucket = s3.bucket(f"lake-{uuid.uuid4().hex[:12]}")
        environment.update(s3.environment)
        environment["LAKEHOUSE_LAKE_ROOT"] = f"{bucket}/lake"
        environment["LAKEHOUSE_LANDING_ROOT"] = f"{bucket}/landing"
    return Sources(environment)


@pytest.fixture(params=["local", "s3"])
def sources(request: pytest.FixtureRequest, tmp_path: Path, prefect_server: None) -> Sources:
    s3 = request.getfixturevalue("s3") if request.param == "s3" else None
    return sandbox(tmp_path, s3)


def database_rows(sources: Sources, table: str) -> set[tuple]:
    key = {"customers": "customer_id", "orders": "order_id", "order_items": "order_item_id"}[table]
    with ShopDatabase.connect(
        sources.settings.sources.source_db_url.get_secret_value()
    ) as database:
        cursor = database.connection.cursor()
        cursor.execute(f"select {key}, updated_at from {table}")
        return {(row[0], str(row[1])[:19]) for row in cursor.fetchall()}


def lake_rows(sources: Sources, table: str) -> set[tuple]:
    key = {"customers": "customer_id", "orders": "order_id", "order_items": "order_item_id"}[table]
    raw = sources.table("raw", table)
    stamps = [value.strftime("%Y-%m-%d %H:%M:%S") for value in raw["updated_at"].to_pylist()]
    return set(zip(raw[key].to_pylist(), stamps, strict=True))


def test_a_window_lands_every_source_record(sources: Sources) -> None:
    end = START + timedelta(days=9)
    reports = sources.ingest(START, end)

    for table in ("customers", "orders", "order_items"):
        assert database_rows(sources, table) <= lake_rows(sources, table), table
        report = reports["shop"]
        assert report.records[table] == report.landed[table] > 0
    products = sources.table("raw", "products")
    assert products.num_rows == 10 * 89  # round(200 * √0.2) products, one snapshot a day
    keys = zip(
        products["product_id"].to_pylist(), products["snapshot_date"].to_pylist(), strict=True
    )
    assert len(set(keys)) == products.num_rows
    events = sources.table("raw", "events")
    assert events.num_rows == reports["clickstream"].records["events"] == sources.landing_lines()
    state = sources.lake.read_json("_state/clickstream.json")
    assert len(state["files"]) == reports["clickstream"].files > 100


def test_ingesting_a_window_twice_changes_nothing(sources: Sources) -> None:
    end = START + timedelta(days=6)
    sources.ingest(START, end)
    first = sources.lake_fingerprint()
    again = sources.ingest(START, end)
    assert sum(sum(report.landed.values()) for report in again.values()) == 0
    assert sum(sum(report.quarantined.values()) for report in again.values()) == 0
    second = sources.lake_fingerprint()
    data = {path: digest for path, digest in first.items() if "/_state/" not in path}
    assert data == {path: digest for path, digest in second.items() if "/_state/" not in path}
    assert len(data) > 5 * 7


def test_a_changed_order_lands_as_a_new_version_and_the_old_one_stays(
    tmp_path: Path, prefect_server: None
) -> None:
    sources = sandbox(tmp_path)
    sources.ingest(START, START + timedelta(days=9))
    with ShopDatabase.connect(
        sources.settings.sources.source_db_url.get_secret_value()
    ) as database:
        connection = database.connection
        order_id, status, updated = connection.execute(
            "select order_id, status, updated_at from orders where status = 'completed'"
            " order by order_id limit 1"
        ).fetchone()
        connection.execute(
            "update orders set status = 'returned', updated_at = ? where order_id = ?",
            ("2024-11-11 09:30:00.000000", order_id),
        )
        connection.commit()
    report = sources.ingest(START + timedelta(days=10), START + timedelta(days=10))["shop"]
    assert report.landed["orders"] >= 1
    orders = sources.table("raw", "orders").to_pylist()
    history = sorted(
        (row["updated_at"].strftime("%Y-%m-%d %H:%M:%S"), row["status"])
        for row in orders
        if row["order_id"] == order_id
    )
    assert (updated[:19], status) in history
    assert history[-1] == ("2024-11-11 09:30:00", "returned")


def test_catalog_with_twenty_percent_failures_lands_every_product_once(
    tmp_path: Path, prefect_server: None
) -> None:
    sources = sandbox(tmp_path, LAKEHOUSE_CATALOG_FAILURE_RATE="0.2")
    from flows.ingestion.catalog import ingest_catalog_api
    from flows.sources.entry import open_sources

    with open_sources(sources.settings) as opened:  # the embedded API, failing 20% of requests
        report = ingest_catalog_api(opened.settings, START, START + timedelta(days=4))
    products = sources.table("raw", "products")
    pairs = list(
        zip(products["product_id"].to_pylist(), products["snapshot_date"].to_pylist(), strict=True)
    )
    assert len(pairs) == len(set(pairs)) == 5 * 89 == report.landed["products"]


def test_dirty_sources_quarantine_exactly_the_injected_records(
    tmp_path: Path, prefect_server: None
) -> None:
    from generators.simulation import Simulation
    from tests.conftest import world

    sources = sandbox(tmp_path, LAKEHOUSE_DIRTY="true", LAKEHOUSE_SCALE_FACTOR="1")
    end = START + timedelta(days=29)
    reports = sources.ingest(START, end)
    simulation = Simulation(world(sources.settings))
    labels: dict[str, set[int]] = {
        kind: set()
        for kind in (
            "negative_quantity",
            "unknown_product",
            "null_required",
            "extra_column",
            "duplicate_event",
            "malformed_json",
            "late_event",
        )
    }
    for day in simulation.days():
        if day.day > end:
            break
        for row in day.anomalies.to_pylist():
            labels[row["kind"]].add(row["record_id"])
    assert all(labels.values()), "every kind of anomaly occurs in the window"

    quarantine = {
        entity: sources.table("quarantine", entity).to_pylist()
        for entity in ("orders", "order_items", "events")
    }

    def ids(entity: str, reason_prefix: str, key: str) -> set[int]:
        return {
            json.loads(row["record"])[key]
            for row in quarantine[entity]
            if row["reason"].startswith(reason_prefix)
        }

    assert (
        ids("order_items", "out_of_range: quantity", "order_item_id") == labels["negative_quantity"]
    )
    assert ids("order_items", "unknown_product", "order_item_id") == labels["unknown_product"]
    assert ids("orders", "missing_required: customer_id", "order_id") == labels["null_required"]
    assert ids("events", "unknown_column: experiment_variant", "event_id") == labels["extra_column"]
    assert ids("events", "duplicate", "event_id") == labels["duplicate_event"]
    malformed = [row for row in quarantine["events"] if row["reason"] == "malformed_json"]
    assert len(malformed) == len(labels["malformed_json"]) > 0
    reasons = Counter(row["reason"].split(":")[0] for row in quarantine["events"])
    assert set(reasons) == {"malformed_json", "unknown_column", "duplicate"}
    assert {row["reason"].split(":")[0] for row in quarantine["order_items"]} == {
        "out_of_range",
        "unknown_product",
    }

    raw_events = sources.table("raw", "events")
    assert raw_events.num_rows + len(quarantine["events"]) == sources.landing_lines()
    late = labels["late_event"] & set(raw_events["event_id"].to_pylist())
    assert late, "late events land in raw, in the partition of their event date"
    assert reports["clickstream"].quarantined["events"] == len(quarantine["events"])


def test_a_killed_ingestion_leaves_no_partial_partition_and_a_rerun_completes(
    tmp_path: Path, prefect_server: None
) -> None:
    sources = sandbox(tmp_path, LAKEHOUSE_SCALE_FACTOR="1", LAKEHOUSE_DAYS="120")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "PREFECT_"))}
    command = [
        sys.executable,
        "-m",
        "flows.cli",
        "backfill",
        "--start",
        "2024-11-01",
        "--end",
        "2025-02-28",
    ]
    process = subprocess.Popen(
        command,
        env={**env, **sources.environment},
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    raw = tmp_path / "lake" / "raw"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(raw.rglob("*.parquet"))) < 40:
        assert process.poll() is None, "the backfill ended before it could be killed"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    written = list(raw.rglob("*.parquet"))
    assert written, "the backfill was killed before it wrote anything"
    for path in written:
        pq.read_table(path)  # every visible partition file is whole
    assert not (tmp_path / "lake" / "_state" / "clickstream.json").exists()

    reports = sources.ingest(date(2024, 11, 1), date(2025, 2, 28))
    for table in ("customers", "orders", "order_items"):
        assert database_rows(sources, table) <= lake_rows(sources, table), table
    events = sources.table("raw", "events")
    assert events.num_rows == sources.landing_lines()
    assert reports["clickstream"].records["events"] == events.num_rows
    products = sources.table("raw", "products")
    assert products.num_rows == 120 * 200


def test_postgresql_source_gives_the_same_lake_as_sqlite(
    tmp_path: Path, prefect_server: None
) -> None:
    with_sqlite = sandbox(tmp_path / "sqlite")
    end = START + timedelta(days=5)
    with_sqlite.ingest(START, end)
    with postgres_cluster() as url:
        with_postgres = sandbox(tmp_path / "postgres", LAKEHOUSE_SOURCE_DB_URL=url)
        with_postgres.ingest(START, end)
    for table in ("customers", "orders", "order_items"):
        lineage = ["_run_id", "_ingested_at"]
        left = with_sqlite.table("raw", table).drop_columns(lineage).sort_by("_source")
        right = with_postgres.table("raw", table).drop_columns(lineage).sort_by("_source")
        assert left.num_rows > 0
        assert left.to_pylist() == right.to_pylist(), table


def test_a_grown_file_a_late_commit_and_a_changed_row_each_land_exactly_once(
    sources: Sources,
) -> None:
    """The three ways new rows reach data already ingested; the merge must take each once."""
    from flows.ingestion.clickstream import list_landing

    last = START + timedelta(days=5)
    sources.ingest(START, last)
    events_before = sources.table("raw", "events").num_rows

    # 1. a landing file that grows after it was ingested: three more lines at its end
    fs, root = filesystem(sources.settings.sources.landing_uri, sources.settings)
    path = list_landing(fs, root, [last])[-1].path
    with fs.open_input_stream(path) as stream:
        lines = stream.read().decode().splitlines()
    model = json.loads(lines[-1])
    extra = [json.dumps({**model, "event_id": model["event_id"] * 1000 + n}) for n in range(1, 4)]
    with fs.open_output_stream(path) as stream:
        stream.write(("\n".join(lines + extra) + "\n").encode())
    report = sources.ingest(last, last)["clickstream"]
    events = sources.table("raw", "events")
    assert report.landed["events"] == 3
    assert events.num_rows == events_before + 3
    assert len(set(events["_source"].to_pylist())) == events.num_rows
    new_ids = {model["event_id"] * 1000 + n for n in range(1, 4)}
    assert new_ids <= set(events["event_id"].to_pylist())

    # 2. a commit that arrives late, stamped inside the watermark's overlap
    watermark = sources.lake.read_json("_state/shop.json")["watermark"]
    late = (datetime.fromisoformat(watermark) - timedelta(minutes=30)).strftime(
        "%Y-%m-%d %H:%M:%S.%f"
    )
    with ShopDatabase.connect(
        sources.settings.sources.source_db_url.get_secret_value()
    ) as database:
        connection = database.connection
        customer_id = connection.execute("select min(customer_id) from customers").fetchone()[0]
        connection.execute(
            "insert into orders values (?, ?, ?, 'pending', 'paypal', 10.00, ?)",
            (10**9, customer_id, late, late),
        )
        connection.commit()
    report = sources.ingest(last, last)["shop"]
    orders = sources.table("raw", "orders")
    assert report.landed["orders"] == 1
    assert orders["order_id"].to_pylist().count(10**9) == 1

    # 3. the whole window again after a row changed in the source
    with ShopDatabase.connect(
        sources.settings.sources.source_db_url.get_secret_value()
    ) as database:
        connection = database.connection
        connection.execute(
            "update orders set status = 'processing', updated_at = ? where order_id = ?",
            (f"{last} 23:59:00.000000", 10**9),
        )
        connection.commit()
    reports = sources.ingest(START, last)
    assert reports["shop"].landed == Counter(customers=0, orders=1, order_items=0)
    assert sum(reports["clickstream"].landed.values()) == 0
    statuses = [
        row["status"] for row in sources.table("raw", "orders").to_pylist()
        if row["order_id"] == 10**9
    ]  # fmt: skip
    assert sorted(statuses) == ["pending", "processing"]
    for table in ("customers", "orders", "order_items"):
        assert database_rows(sources, table) <= lake_rows(sources, table), table


def test_every_change_between_two_extractions_lands_from_the_change_log(
    tmp_path: Path, prefect_server: None
) -> None:
    """A row changed three times between two runs: the table keeps one, the lake all three."""
    sources = sandbox(tmp_path, LAKEHOUSE_DAYS="3")
    last = START + timedelta(days=2)
    sources.ingest(START, last)
    url = sources.settings.sources.source_db_url.get_secret_value()
    steps = ("processing", "completed", "returned")
    with ShopDatabase.connect(url) as database:
        connection = database.connection
        order_id = connection.execute("select min(order_id) from orders").fetchone()[0]
        for minute, status in enumerate(steps, start=1):
            connection.execute(
                "update orders set status = ?, updated_at = ? where order_id = ?",
                (status, f"{last} 23:5{minute}:00.000000", order_id),
            )
        connection.commit()
        current = connection.execute(
            "select count(*) from orders where order_id = ?", (order_id,)
        ).fetchone()[0]
    assert current == 1, "the source table holds only the current row"

    report = sources.ingest(last, last)["shop"]
    assert report.landed == Counter(customers=0, orders=3, order_items=0)
    versions = {
        row["updated_at"].strftime("%H:%M"): row["status"]
        for row in sources.table("raw", "orders").to_pylist()
        if row["order_id"] == order_id
    }
    assert [versions[f"23:5{minute}"] for minute in (1, 2, 3)] == list(steps)
    assert sources.ingest(last, last)["shop"].landed == Counter(
        customers=0, orders=0, order_items=0
    ), "read again, the change log adds nothing"


def test_a_backlog_read_a_few_changes_at_a_time_lands_what_one_batch_lands(
    tmp_path: Path, prefect_server: None
) -> None:
    """Seven shop changes per batch against the whole backlog at once, on dirty sources: the
    same lake, state and counts, and a change stamped after the window holds its table back
    from inside a batch in the middle of the log."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()  # Prefect's configuration replaces the handlers of its loggers
    progress: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: progress.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("prefect.task_runs").addHandler(handler)
    first, last, later = (START + timedelta(days=n) for n in (4, 9, 20))
    outcomes = {}
    try:
        for name, extra in (("whole", {}), ("batched", {"LAKEHOUSE_SHOP_CHANGES_PER_BATCH": "7"})):
            progress.clear()
            sources = sandbox(tmp_path / name, LAKEHOUSE_DIRTY="true", **extra)
            backlog = sources.ingest(START, first)["shop"]
            read_in_batches = [line for line in progress if line.startswith("shop orders:")]
            with ShopDatabase.connect(
                sources.settings.sources.source_db_url.get_secret_value()
            ) as database:
                order_id = database.connection.execute("select min(order_id) from orders")
                order_id = order_id.fetchone()[0]
                database.connection.execute(
                    "update orders set status = 'cancelled', updated_at = ? where order_id = ?",
                    (f"{later} 08:00:00.000000", order_id),
                )
                database.connection.commit()
            held = sources.ingest(first + timedelta(days=1), last)["shop"]
            caught_up = sources.ingest(later, later)["shop"]
            lake = sources.lake_fingerprint()
            outcomes[name] = {
                "counts": [(r.landed, r.quarantined) for r in (backlog, held, caught_up)],
                "state": {
                    key: value
                    for key, value in sources.lake.read_json("_state/shop.json").items()
                    if key in ("change_ids", "customer_ids", "watermark")
                },
                "lake": {path: digest for path, digest in lake.items() if "/shop/" in path},
                "batches": read_in_batches,
                "late order": [
                    row["status"]
                    for row in sources.table("raw", "orders").to_pylist()
                    if row["order_id"] == order_id
                ],
            }
    finally:
        logging.getLogger("prefect.task_runs").removeHandler(handler)
    whole, batched = outcomes["whole"], outcomes["batched"]
    assert whole["batches"] == [], "one batch: no progress lines"
    orders = whole["state"]["change_ids"]["orders"]
    assert len(batched["batches"]) >= 2
    assert batched["batches"][0].startswith("shop orders: change ids 1–7 of ")
    assert batched["counts"][1][0]["orders"] == 0, "held back by the change after the window"
    assert batched["counts"][2][0]["orders"] > 1, "landed once the window reaches it"
    assert "cancelled" in batched["late order"]
    for key in ("counts", "state", "lake", "late order"):
        assert batched[key] == whole[key], key
    assert orders > 0


def test_landing_lines_skip_empty_and_space_only_lines_and_keep_every_line_number() -> None:
    """What a JSON-lines reader skips (empty lines, lines of spaces) is skipped; anything else,
    a tab or a carriage return alone included, is a line to parse (and quarantine if bad)."""
    import duckdb

    from flows.ingestion.clickstream import split_lines

    connection = duckdb.connect()
    content = '{"a":1}\n\n   \n\t\n  {"b":2}  \n\r\n{"c":3}'
    connection.register(
        "landing_text", pa.table({"file": ["f.ndjson", "empty.ndjson"], "content": [content, ""]})
    )
    split_lines(connection)
    lines = connection.sql("select file, number, line from landing_lines order by all").fetchall()
    assert lines == [
        ("f.ndjson", 1, '{"a":1}'),
        ("f.ndjson", 4, "\t"),
        ("f.ndjson", 5, '  {"b":2}  '),
        ("f.ndjson", 6, "\r"),
        ("f.ndjson", 7, '{"c":3}'),
    ]

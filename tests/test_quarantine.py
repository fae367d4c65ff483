"""Bad source records never block good ones: each goes to quarantine with its reason, the run
publishes, and everything else reconciles."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.cli import Workspace, source_net_revenue, warehouse_value

DAY = "2025-10-10"  # the last day of the completed workspace's window
BAD_LINE_ID = 990_000_000_001


def inject_shop(database: Path) -> Decimal:
    """An order line of quantity 500, one whose discount passes its price, and an order for a
    customer that does not exist.

    Returns the net amount of the bad line (what the warehouse must not count).
    """
    with sqlite3.connect(database) as shop:
        order_id = shop.execute("select max(order_id) from orders").fetchone()[0]
        shop.execute(
            "insert into order_items values (?, ?, 1, 500, 10.00, 0, ?)",
            (BAD_LINE_ID, order_id, f"{DAY} 12:00:00.000000"),
        )
        shop.execute(
            "insert into order_items values (?, ?, 1, 1, 9.99, 50.00, ?)",
            (BAD_LINE_ID + 1, order_id, f"{DAY} 12:00:00.000000"),
        )
        shop.execute(
            "insert into orders values (?, 987654321, ?, 'pending', 'paypal', 10.00, ?)",
            (order_id + 1_000_000, f"{DAY} 12:00:00.000000", f"{DAY} 12:00:01.000000"),
        )
    return Decimal("5000.00") + Decimal("9.99") - Decimal("50.00")


def inject_landing(landing: Path) -> None:
    """A click dated after its arrival, an id beyond int64, and a line that is not JSON."""
    event = {
        "event_id": 990_000_000_000_001, "session_id": 990_000_000_001, "customer_id": None,
        "event_type": "page_view", "event_at": f"{DAY}T23:00:00Z", "product_id": 1,
        "order_id": None, "device_type": "mobile", "browser": "chrome",
        "received_at": f"{DAY}T22:00:00Z",
    }  # fmt: skip
    too_big = {**event, "event_id": 2**64 + 5, "received_at": f"{DAY}T23:00:01Z"}
    lines = [json.dumps(event), json.dumps(too_big), "this is not json {"]
    folder = landing / "clickstream" / DAY.replace("-", "/")
    (folder / f"events-{DAY.replace('-', '')}23.ndjson").write_text("\n".join(lines) + "\n")


def test_each_bad_record_is_quarantined_with_its_reason_and_the_run_publishes(
    completed: Workspace, tmp_path: Path
) -> None:
    workspace = completed.copy(tmp_path / "data")
    bad_net = inject_shop(workspace.root / "sources" / "shop.sqlite")
    inject_landing(workspace.root / "landing")

    result = workspace.run("run")
    assert result.returncode == 0, result.stdout + result.stderr

    with duckdb.connect() as connection:
        reasons = [
            row[0]
            for row in connection.execute(
                "select reason from read_parquet(?, union_by_name = true) order by reason",
                [f"{workspace.lake}/quarantine/**/*.parquet"],
            ).fetchall()
        ]
    for expected in (
        "out_of_range: quantity=500 (must be <= 100)",
        "out_of_range: discount_amount=50.00 (must be <= quantity * unit_price = 9.99)",
        "unknown_customer: customer_id=987654321",
        f"out_of_order: received_at {DAY} 22:00:00+00 is before event_at {DAY} 23:00:00+00",
        f"wrong_type: event_id={2**64 + 5}",
        "malformed_json",
    ):
        assert any(reason.startswith(expected) for reason in reasons), (expected, reasons)

    # everything else landed and reconciles: to the cent, and raw + quarantine = source
    net = warehouse_value(workspace.published, "select sum(net_amount) from fact_orders")
    assert net == source_net_revenue(workspace.root / "sources" / "shop.sqlite") - bad_net
    assert warehouse_value(
        workspace.published, f"select count(*) from fact_orders where order_item_id = {BAD_LINE_ID}"
    ) == 0  # fmt: skip
    verified = workspace.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

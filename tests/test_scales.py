"""The whole pipeline at a tiny scale and at the original's, gated and browsed on every page.

At SF 0.05 most days have no order (about one order every three days): the data's last day
has clicks but no orders, which once emptied the Executive page's headline (issue #12).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from unittest import mock

import duckdb
import pytest

from tests.conftest import E2E_DAYS, PAGE_CARDS, Built, settings_environment
from tests.test_app import assert_readable, headlines, render

PAGES = ["views/executive.py", "views/products.py", "views/customers.py", "views/funnel.py"]


@pytest.fixture(scope="module")
def tiny(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """SF 0.05 over 61 days (2025-09-01 → 2025-10-31), sources simulated as the run goes."""
    from flows.pipeline import lakehouse_pipeline
    from flows.settings import load_settings

    environment = settings_environment(
        tmp_path_factory.mktemp("tiny"),
        LAKEHOUSE_SCALE_FACTOR="0.05",
        LAKEHOUSE_START_DATE="2025-09-01",
        LAKEHOUSE_DAYS="61",
    )
    with mock.patch.dict(os.environ, environment):
        yield Built(load_settings(), environment, lakehouse_pipeline())


def query(built: Built, sql: str) -> list[tuple]:
    with duckdb.connect(str(built.settings.storage.warehouse_path), read_only=True) as warehouse:
        return warehouse.sql(sql).fetchall()


def every_page_renders(built: Built) -> None:
    for page in PAGES:
        app = render(built.environment, page)
        assert len(app.metric) + len(app.subheader) >= 4, page
        assert_readable(app)
    health = render(built.environment, "views/health.py")
    assert_readable(health)
    assert [title.value for title in health.subheader] == PAGE_CARDS["health"]


def test_tiny_scale_over_61_days_builds_passes_the_gate_and_renders(tiny: Built) -> None:
    assert tiny.result.gate_passed, tiny.result.gate
    with duckdb.connect(str(tiny.settings.storage.warehouse_path), read_only=True) as warehouse:
        orders, last_order, as_of, active = warehouse.sql(
            """
            select (select count(distinct order_id) from fact_orders),
                   (select max(order_date) from fact_orders), as_of_date, active_customers_30d
            from executive_kpis
            """
        ).fetchone()
    assert 5 <= orders <= 60  # tiny indeed
    assert str(as_of) == "2025-10-31"
    assert last_order < as_of  # the last day has clicks and no order: the case that crashed
    assert active is not None
    every_page_renders(tiny)


def test_active_customers_of_every_day_are_those_who_ordered_in_its_30_days(tiny: Built) -> None:
    """daily_kpis counts them from spans of activity; here, from each day's 30-day window."""
    ordered = query(
        tiny,
        "select distinct order_date, customer_id from fact_orders where customer_id is not null",
    )
    shown = dict(query(tiny, "select date_day, active_customers_30d from daily_kpis"))
    assert len(shown) == 61 and len(ordered) > 10
    dropped = 0
    for day, active in shown.items():
        window = {day - timedelta(days=n) for n in range(30)}
        expected = {customer for order_day, customer in ordered if order_day in window}
        assert active == len(expected), day
        ever = {customer for order_day, customer in ordered if order_day <= day}
        dropped += len(expected) < len(ever)
    assert dropped, "some customer fell out of a 30-day window: where a span stops is tested"


def test_a_range_without_orders_says_so_instead_of_drawing_empty_axes(tiny: Built) -> None:
    with duckdb.connect(str(tiny.settings.storage.warehouse_path), read_only=True) as warehouse:
        (day,) = warehouse.sql(
            "select min(date_day) from daily_kpis where orders = 0 and date_day > "
            "(select min(date_day) from daily_kpis)"
        ).fetchone()
    app = render(tiny.environment, "views/executive.py", date_range=(day, day))
    assert_readable(app)
    figures = headlines(app)
    assert figures["Total revenue"] == "$0.00"
    assert figures["Total orders"] == "0"
    assert figures["Average order value (0 revenue orders)"] == "—"
    assert "No data for this range." in [info.value for info in app.info]
    products = render(tiny.environment, "views/products.py", date_range=(day, day))
    assert_readable(products)
    assert "No data for this range." in [info.value for info in products.info]
    customers = render(tiny.environment, "views/customers.py", date_range=(day, day))
    assert_readable(customers)
    assert "No data for this range." in [info.value for info in customers.info]


def test_original_scale_over_30_days_builds_passes_the_gate_and_renders(built: Built) -> None:
    assert E2E_DAYS == 30 and built.settings.world.scale_factor == 1
    assert built.result.gate_passed, built.result.gate
    every_page_renders(built)

"""The dashboard renders from the published warehouse and shows what SQL on it says."""

from __future__ import annotations

import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, Built, settings_environment

APP = str(REPO / "app" / "streamlit_app.py")
CENT = Decimal("0.01")


def render(environment: dict[str, str]) -> AppTest:
    with mock.patch.dict(os.environ, environment):
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
    assert not app.exception, [exception.message for exception in app.exception]
    return app


@pytest.mark.e2e
def test_executive_cards_equal_direct_sql_on_the_published_file(built: Built) -> None:
    with duckdb.connect(str(built.settings.warehouse_path), read_only=True) as warehouse:
        revenue, orders, revenue_orders, last_month = warehouse.sql(
            """
            with as_of as (
                select max(order_date) as last_day from fact_orders
            )
            select
                sum(net_amount) filter (where order_status not in ('cancelled', 'returned')),
                count(distinct order_id),
                count(distinct order_id) filter (
                    where order_status not in ('cancelled', 'returned')
                ),
                sum(net_amount) filter (
                    where order_status not in ('cancelled', 'returned')
                    and date_trunc('month', order_date)
                        = date_trunc('month', (select last_day from as_of)) - interval 1 month
                )
            from fact_orders
            """
        ).fetchone()

    app = render(built.environment)
    cards = {metric.label: metric.value for metric in app.metric}
    assert cards == {
        "Total revenue": f"${revenue:,.2f}",
        "Revenue last month (Oct 2025)": f"${last_month:,.2f}",
        "Total orders": f"{orders:,}",
        "Average order value": f"${(revenue / revenue_orders).quantize(CENT, ROUND_HALF_UP):,}",
    }


def test_without_a_warehouse_the_app_says_to_run_the_pipeline(tmp_path: Path) -> None:
    app = render(settings_environment(tmp_path))
    assert [info.value for info in app.info] == [
        f"No published warehouse at `{tmp_path / 'warehouse' / 'lakehouse.duckdb'}` yet: "
        "run `make run` first."
    ]
    assert len(app.metric) == 0

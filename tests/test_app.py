"""The dashboards render from the published marts and show what SQL on them says."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from unittest import mock

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from app.glossary import CARDS, help_for
from app.glossary import render as render_glossary
from tests.cli import Workspace, file_hash
from tests.conftest import (
    E2E_WIN_BACK_MIN_DAYS,
    PAGE_CARDS,
    REPO,
    Built,
    settings_environment,
)

APP = str(REPO / "app" / "streamlit_app.py")
CENT = Decimal("0.01")
REVENUE = "order_status not in ('cancelled', 'returned', 'unknown')"


def render(
    environment: dict[str, str],
    page: str | None = None,
    expect_error: bool = False,
    **widgets: object,
) -> AppTest:
    with mock.patch.dict(os.environ, environment):
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
        if page:
            app.switch_page(page)
            app.run()
        for key, value in widgets.items():
            getattr(app, _widget_kind(key))(key=key).set_value(value)
            app.run()
    assert not app.exception, [exception.message for exception in app.exception]
    assert expect_error or not app.error, [error.value for error in app.error]
    return app


def assert_card_titles(app: AppTest, page: str) -> None:
    """Every card of the page, in order (metric labels first, then the titled cards), each
    with its glossary definition (docs/metrics.md) as the help tooltip."""
    shown = [metric.label for metric in app.metric] + [title.value for title in app.subheader]
    helps = [metric.proto.help for metric in app.metric] + [
        title.proto.help for title in app.subheader
    ]
    expected = PAGE_CARDS[page]
    assert len(shown) == len(expected)
    assert all(title.startswith(card) for title, card in zip(shown, expected, strict=True))
    # a headline's tooltip starts with its exact value: "Exactly $613,988.12. <definition>"
    assert [text.split(". ", 1)[-1] if text.startswith("Exactly ") else text for text in helps] == [
        help_for(card) for card in expected
    ]


def headlines(app: AppTest) -> dict[str, str]:
    """Each headline's exact value, from its tooltip, after checking the compact figure shown
    is the same number to three significant figures (so it fits its column at 1280 px)."""
    exact = {}
    for metric in app.metric:
        value = metric.proto.help.removeprefix("Exactly ").split(". ", 1)[0]
        exact[metric.label] = value
        assert len(metric.value) <= 8, (metric.label, metric.value)
        if value == "—":
            assert metric.value == "—"
            continue
        if value.startswith("$"):  # money: exactly the reference rounding of its exact value
            assert metric.value == reference_compact(value.strip("$").replace(",", "")), value
        number = float(value.strip("$").replace(",", ""))
        shown = metric.value.strip("$").replace(",", "")
        scale = {"K": 1e3, "M": 1e6, "B": 1e9}.get(shown[-1], 1)
        compact = float(shown.rstrip("KMB")) * scale
        assert abs(compact - number) <= max(0.005, abs(number) * 0.005), (metric.label, value)
    return exact


def reference_compact(text: str) -> str:
    """The test's own rounding of an exact money figure: to the cent, half-up; from $1,000 up,
    three significant figures by Decimal's context (half-up), then the suffix the rounded
    figure's magnitude calls for."""
    cents = Decimal(text).quantize(CENT, ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    if abs(cents) < 1000:
        return f"{sign}${abs(cents):,.2f}"
    rounded = Context(prec=3, rounding=ROUND_HALF_UP).plus(abs(cents))
    power = min(rounded.adjusted() // 3 * 3, 9)
    scaled = rounded.scaleb(-power)
    digits = max(0, 2 - scaled.adjusted())
    return f"{sign}${scaled:,.{digits}f}{ {3: 'K', 6: 'M', 9: 'B'}[power] }"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (999.995, "$1.00K"),  # $1,000.00 once rounded to the cent
        (999.99, "$999.99"),
        (1000, "$1.00K"),
        (1234.5, "$1.23K"),
        (9995, "$10.0K"),  # digits follow the rounded figure
        (33650, "$33.7K"),  # a tie, half-up (not $33.6K from the float 33.65)
        (33649.99, "$33.6K"),
        (99949.99, "$99.9K"),
        (99950, "$100K"),
        (614000, "$614K"),
        (999950, "$1.00M"),  # the suffix after rounding: never $1,000K
        (1_000_000 - 0.01, "$1.00M"),
        (Decimal("999499.99"), "$999K"),
        (6_140_000, "$6.14M"),
        (2.5e9, "$2.50B"),
        (-33650, "-$33.7K"),
        (Decimal("0.005"), "$0.01"),
        (0, "$0.00"),
        (None, "—"),
    ],
)
def test_compact_money_rounds_exact_figures_half_up_and_picks_the_suffix_after(
    value: object, shown: str
) -> None:
    from app.layout import compact_money

    assert compact_money(value) == shown
    if value is not None:
        assert reference_compact(str(value)) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(99_999, "99,999"), (100_000, "100K"), (999_499, "999K"), (999_500, "1.00M"), (None, "—")],
)
def test_compact_counts_are_exact_below_100k_then_three_figures(value: object, shown: str) -> None:
    from app.layout import compact_count

    assert compact_count(value) == shown


def _widget_kind(key: str) -> str:
    return "date_input" if key == "date_range" else "pills"


def sql(built: Built, statement: str, params: tuple = ()) -> list[tuple]:
    with duckdb.connect(str(built.settings.storage.warehouse_path), read_only=True) as warehouse:
        return warehouse.execute(statement, list(params)).fetchall()


def money(value: Decimal) -> str:
    return f"${Decimal(value).quantize(CENT, ROUND_HALF_UP):,}"


def _drawn(app: AppTest, index: int) -> tuple[pd.DataFrame, dict]:
    """The rows and the Vega-Lite spec of the page's index-th chart, as sent to the browser."""
    element = app.get("vega_lite_chart")[index]
    return convert_arrow_bytes_to_pandas_df(element.proto.data.data), json.loads(element.proto.spec)


def _plain(values: pd.Series) -> list:
    """Cell values as a reader compares them: days as their ISO text, numbers as Python's."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return [str(value) for value in values]
    return values.tolist()


def _series(rows: pd.DataFrame, encoding: dict, name: str) -> dict:
    return {
        "x": _plain(rows[encoding["x"]["field"]]),
        "y": _plain(rows[encoding["y"]["field"]]),
        "name": name,
    }


def chart(app: AppTest, index: int) -> list[dict]:
    """The chart's series as drawn, each {"x": [...], "y": [...], "name": ...}: one per panel
    of a vertical concatenation (its filter), else one per colour, in the legend's order."""
    data, spec = _drawn(app, index)
    if "vconcat" in spec:
        series = []
        for panel in spec["vconcat"]:
            (keep,) = (step["filter"] for step in panel.get("transform", []))
            rows = data[data[keep["field"]] == keep["equal"]]
            series.append(_series(rows, panel["encoding"], keep["equal"]))
        return series
    encoding = spec.get("encoding", {}) | spec.get("layer", [{}])[0].get("encoding", {})
    color = encoding.get("color")
    if color is None:
        return [_series(data, encoding, "")]
    names = color.get("scale", {}).get("domain") or list(dict.fromkeys(data[color["field"]]))
    groups = [data[data[color["field"]] == name] for name in names]
    return [_series(rows, encoding, name) for name, rows in zip(names, groups, strict=True)]


def close(left: list, right: list) -> bool:
    return len(left) == len(right) and all(
        abs(float(a) - float(b)) < 0.005 for a, b in zip(left, right, strict=True)
    )


UNREADABLE = re.compile(r"\b(?:nan|NaN|None|NaT|null)\b|\$nan|Traceback")


def assert_readable(app: AppTest) -> None:
    """No missing figure leaks into what a user reads: every text element, headline, table
    cell and chart label reads as a number, a word or "—", never nan, None or a trace."""
    texts = [metric.value for metric in app.metric]
    for kind in ("title", "subheader", "caption", "markdown", "info", "success", "warning"):
        texts += [element.value for element in getattr(app, kind)]
    texts += [error.value for error in app.error]
    leaks = [text for text in texts if UNREADABLE.search(str(text))]
    assert not leaks, leaks
    for frame in (element.value for element in app.dataframe):
        text = frame.select_dtypes(exclude="number")
        assert not text.isna().any().any(), frame
        for column in text.columns:
            leaked = text[column].astype(str).str.contains(UNREADABLE)
            assert not leaked.any(), (column, text[column][leaked].tolist())
    for index in range(len(app.get("vega_lite_chart"))):
        for series in chart(app, index):
            for axis in ("x", "y"):
                values = series[axis]
                assert not any(v is None or v != v for v in values), (series["name"], axis)


def table_with(app: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has `column` (tables come and go with the data: the
    win-back list is an info line when nobody qualifies)."""
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


def categorical_axes(app: AppTest, index: int) -> list[str]:
    """The chart's axes that place categories (every label its own slot, in the data's order)."""
    _, spec = _drawn(app, index)
    encoding = spec.get("encoding", {})
    return [f"{axis}axis" for axis in ("x", "y") if encoding.get(axis, {}).get("type") == "nominal"]


def test_every_card_has_one_definition_and_the_glossary_is_current() -> None:
    assert [card for cards in CARDS.values() for card in cards] == [
        card for cards in PAGE_CARDS.values() for card in cards
    ]
    committed = (REPO / "docs" / "metrics.md").read_text()
    assert committed == render_glossary(), "run `make docs` and commit docs/metrics.md"


@pytest.fixture(scope="module")
def as_of(built: Built) -> date:
    return sql(built, "select max(order_date) from fact_orders")[0][0]


# --- Executive ------------------------------------------------------------------------------


def test_executive_cards_equal_sql_on_the_fact(built: Built, as_of: date) -> None:
    revenue, orders, revenue_orders = sql(
        built,
        f"""
        select sum(net_amount) filter (where {REVENUE}), count(distinct order_id),
               count(distinct order_id) filter (where {REVENUE})
        from fact_orders
        """,
    )[0]
    (last_month,) = sql(
        built,
        f"""
        select sum(net_amount) from fact_orders
        where {REVENUE} and date_trunc('month', order_date) = date '2025-10-01'
        """,
    )[0]
    (active,) = sql(
        built,
        "select count(distinct customer_id) from fact_orders"
        " where order_date > ?::date - interval 30 day",
        (as_of,),
    )[0]
    app = render(built.environment)
    cards = headlines(app)
    assert cards == {
        "Total revenue": money(revenue),
        "Revenue last month (Oct 2025)": money(last_month),
        "Total orders": f"{orders:,}",
        f"Average order value ({revenue_orders:,} revenue orders)": money(revenue / revenue_orders),
        "Active customers (last 30 days)": f"{active:,}",
    }
    assert_card_titles(app, "executive")

    monthly = sql(
        built,
        f"""
        select date_trunc('month', order_date), sum(net_amount) filter (where {REVENUE})
        from fact_orders group by 1 order by 1
        """,
    )
    (trend,) = chart(app, 0)
    assert close(trend["y"], [row[1] for row in monthly])
    daily = sql(
        built,
        "select order_date, count(distinct order_id) from fact_orders group by 1 order by 1",
    )
    (orders_chart,) = chart(app, 1)
    assert sum(orders_chart["y"]) == sum(row[1] for row in daily)
    top = sql(
        built,
        f"""
        select category, sum(net_amount) as revenue from fact_orders
        join dim_products using (product_sk) where {REVENUE}
        group by 1 order by 2 desc, 1 limit 5
        """,
    )
    (categories,) = chart(app, 2)
    assert categorical_axes(app, 2) == ["yaxis"]
    assert_readable(app)
    assert categories["y"] == [row[0] for row in top]
    assert close(categories["x"], [row[1] for row in top])


def test_executive_date_range_changes_the_totals(built: Built) -> None:
    start, end = date(2025, 10, 10), date(2025, 10, 20)
    (revenue, orders) = sql(
        built,
        f"""
        select sum(net_amount) filter (where {REVENUE}), count(distinct order_id)
        from fact_orders where order_date between ? and ?
        """,
        (start, end),
    )[0]
    app = render(built.environment, date_range=(start, end))
    cards = headlines(app)
    assert cards["Total revenue"] == money(revenue)
    assert cards["Total orders"] == f"{orders:,}"


# --- Product performance ---------------------------------------------------------------------


def test_product_cards_follow_the_category_filter(built: Built) -> None:
    app = render(built.environment, "views/products.py")
    assert_card_titles(app, "products")
    expected = sql(
        built,
        f"""
        select product_name, sum(net_amount) as revenue, sum(quantity) as units
        from fact_orders join dim_products using (product_sk) where {REVENUE}
        group by dim_products.product_id, product_name
        order by revenue desc, dim_products.product_id limit 10
        """,
    )
    top = app.dataframe[0].value
    assert top.product_name.tolist() == [row[0] for row in expected]
    assert close(top.revenue.tolist(), [row[1] for row in expected])
    assert top.units.tolist() == [row[2] for row in expected]

    app = render(built.environment, "views/products.py", categories=["books"])
    top, categories, slow = (frame.value for frame in app.dataframe)
    assert set(top.category) == {"books"}
    assert categories.category.tolist() == ["books"]
    (books,) = sql(
        built,
        f"""
        select sum(net_amount) from fact_orders join dim_products using (product_sk)
        where {REVENUE} and category = 'books'
        """,
    )[0]
    assert close(categories.revenue.tolist(), [books])
    assert set(slow.category) <= {"books"}
    assert set(slow.inventory_status) <= {"No Sales", "Critical", "Slow"}


def test_the_rating_sales_correlation_equals_numpys(built: Built) -> None:
    """Pearson's r and Spearman's rho on the card, against numpy over the same products
    (Spearman: average ranks for ties, as pandas ranks them), for all categories and one."""
    import pandas as pd

    for categories in (None, ["electronics", "books"]):
        widgets = {"categories": categories} if categories else {}
        app = render(built.environment, "views/products.py", **widgets)
        where = "rating_rate is not null" + (
            f" and category in ({', '.join(repr(c) for c in categories)})" if categories else ""
        )
        rows = sql(built, f"select rating_rate, units from product_performance where {where}")
        rating = np.array([float(row[0]) for row in rows])
        units = np.array([float(row[1]) for row in rows])
        pearson = np.corrcoef(rating, units)[0, 1]
        spearman = np.corrcoef(
            pd.Series(rating).rank(method="average"), pd.Series(units).rank(method="average")
        )[0, 1]
        expected = (
            f"Rating and units sold over {len(rows):,} rated products: "
            f"Pearson r = {pearson:.2f}, Spearman ρ = {spearman:.2f}."
        )
        captions = [caption.value for caption in app.caption]
        assert len(rows) >= 3 and expected in captions, captions


# --- Customer analytics ---------------------------------------------------------------------


def test_customer_cards_follow_the_segment_filter(built: Built) -> None:
    lifetime = sql(
        built,
        f"""
        select customers.customer_segment,
               coalesce(sum(fact_orders.net_amount) filter (where {REVENUE}), 0) as value,
               count(distinct fact_orders.order_id) filter (where {REVENUE}) as orders
        from dim_customers as customers
        left join fact_orders on fact_orders.customer_id = customers.customer_id
        where customers.is_current and customers.customer_id > 0
        group by customers.customer_id, customers.customer_segment
        """,
    )

    def bands(rows: list[tuple]) -> list[int]:
        edges = [("<$100", 100), ("$100-500", 500), ("$500-1K", 1000), ("$1K-5K", 5000)]
        counts = dict.fromkeys(["No Orders", *[name for name, _ in edges], ">$5K"], 0)
        for _, value, orders in rows:
            name = (
                "No Orders"
                if orders == 0
                else next((band for band, limit in edges if value < limit), ">$5K")
            )
            counts[name] += 1
        return list(counts.values())

    app = render(built.environment, "views/customers.py")
    assert_card_titles(app, "customers")
    (distribution,) = chart(app, 1)
    assert distribution["y"] == bands(lifetime)
    assert sum(chart(app, 3)[0]["y"]) == len(lifetime)  # every customer, once

    assert [categorical_axes(app, index) for index in range(5)] == [["xaxis"]] * 5
    spend = dict(zip(chart(app, 2)[0]["x"], chart(app, 2)[0]["y"], strict=True))
    assert spend["No Orders"] == sum(1 for row in lifetime if row[2] == 0)
    assert spend["Low"] == sum(1 for row in lifetime if row[2] > 0 and row[1] < 500)
    assert_readable(app)

    app = render(built.environment, "views/customers.py", segments=["gold"])
    (distribution,) = chart(app, 1)
    assert distribution["y"] == bands([row for row in lifetime if row[0] == "gold"])
    top = table_with(app, "lifetime_value")
    assert len(top) == 20
    assert close(
        top.lifetime_value.tolist(),
        sorted((row[1] for row in lifetime if row[0] == "gold"), reverse=True)[:20],
    )


# Each current customer's revenue orders, first and last order day, lifetime value, and the
# data's last day, from the fact and the dimension.
CUSTOMER_ORDERS = f"""
    select customers.customer_id, customers.customer_segment, customers.customer_name,
        count(distinct lines.order_id) filter (where {REVENUE}) as orders,
        min(lines.order_date) filter (where {REVENUE}) as first_day,
        max(lines.order_date) filter (where {REVENUE}) as last_day,
        coalesce(sum(lines.net_amount) filter (where {REVENUE}), 0) as value,
        (select max(as_of_date) from data_as_of) as as_of
    from dim_customers as customers
    left join fact_orders as lines on lines.customer_id = customers.customer_id
    where customers.is_current and customers.customer_id > 0
    group by all
"""


def test_tiers_and_win_back_equal_what_the_orders_say(built: Built) -> None:
    """Customers per tier with their lifetime value, and the win-back list with its revenue at
    stake, against the definition applied here in Python to each customer's orders (the test
    build sets win-back to 7 days and once the usual gap: 30 days of data hold none at 60)."""
    customers = sql(built, CUSTOMER_ORDERS)
    tiers: dict[str, list] = {}
    lapsed = {}
    for customer_id, tier, name, orders, first, last, value, as_of in customers:
        tiers.setdefault(tier, [0, Decimal(0)])
        tiers[tier][0] += 1
        tiers[tier][1] += value
        if orders >= 2:
            silent, span = (as_of - last).days, (last - first).days
            if silent >= E2E_WIN_BACK_MIN_DAYS and silent * (orders - 1) > span:
                yearly = (value * 365 / (as_of - first).days).quantize(CENT, ROUND_HALF_UP)
                lapsed[customer_id] = (name, yearly)
    assert lapsed, "the test build should hold win-back customers"

    app = render(built.environment, "views/customers.py")
    (bars,) = chart(app, 0)
    order = [tier for tier in ["bronze", "silver", "gold", "platinum"] if tier in tiers]
    assert bars["x"] == order
    assert bars["y"] == [tiers[tier][0] for tier in order]
    shown = table_with(app, "revenue")
    assert close(shown.revenue.tolist(), [tiers[tier][1] for tier in order])

    listed = table_with(app, "yearly_revenue")
    expected = sorted(lapsed.values(), key=lambda pair: pair[1], reverse=True)
    assert sorted(listed.customer_name) == sorted(name for name, _ in expected)
    assert close(listed.yearly_revenue.tolist(), [yearly for _, yearly in expected])
    at_stake = money(sum(yearly for _, yearly in expected))
    summary = f"**{len(lapsed):,}** customers, **{at_stake}** revenue at stake"
    assert any(summary in text.value for text in app.markdown), summary

    gold = render(built.environment, "views/customers.py", segments=["gold"])
    assert chart(gold, 0)[0]["x"] == ["gold"]
    gold_names = sorted(
        lapsed[row[0]][0] for row in customers if row[1] == "gold" and row[0] in lapsed
    )
    gold_listed = [frame.value for frame in gold.dataframe if "yearly_revenue" in frame.value]
    assert sorted(gold_listed[0].customer_name if gold_listed else []) == gold_names
    assert_readable(app)


POINT_IN_TIME = f"""
    select versions.customer_segment, sum(lines.net_amount) as revenue,
           count(distinct lines.order_id) as orders
    from fact_orders as lines
    join dim_customers as versions
        on versions.customer_id = lines.customer_id
        and lines.order_at >= versions.valid_from
        and (lines.order_at < versions.valid_to or versions.valid_to is null)
    where {REVENUE.replace("order_status", "lines.order_status")}
        and lines.order_date between ? and ? and versions.customer_segment in ({{segments}})
    group by 1
"""


def test_revenue_by_segment_follows_the_segment_at_order_time(built: Built) -> None:
    """The card's figures equal a point-in-time join written here (each line to the customer
    version valid when its order was placed), and differ from the customer's segment now."""
    start, end = date(2025, 10, 5), date(2025, 10, 25)
    segments = ["silver", "gold"]
    expected = dict(
        (segment, (revenue, orders))
        for segment, revenue, orders in sql(
            built,
            POINT_IN_TIME.format(segments=", ".join("?" for _ in segments)),
            (start, end, *segments),
        )
    )
    app = render(
        built.environment, "views/customers.py", date_range=(start, end), segments=segments
    )
    (bars,) = chart(app, 4)
    assert bars["x"] == [segment for segment in segments if segment in expected]
    assert close(bars["y"], [expected[segment][0] for segment in bars["x"]])
    shown = table_with(app, "average_order_value")
    assert shown.orders.tolist() == [expected[segment][1] for segment in bars["x"]]
    assert_readable(app)

    (moved,) = sql(
        built,
        f"""
        select count(distinct lines.order_id) from fact_orders as lines
        join dim_customers as placed using (customer_sk)
        join dim_customers as now
            on now.customer_id = lines.customer_id and now.is_current
        where {REVENUE.replace("order_status", "lines.order_status")}
            and placed.customer_segment <> now.customer_segment
        """,
    )[0]
    assert moved > 0  # customers changed segment in the window: the two meanings differ


def test_a_one_day_range_renders_every_page_readably(built: Built) -> None:
    day = date(2025, 10, 15)
    (orders,) = sql(
        built, "select count(distinct order_id) from fact_orders where order_date = ?", (day,)
    )[0]
    for page in (
        "views/executive.py",
        "views/products.py",
        "views/customers.py",
        "views/funnel.py",
    ):
        app = render(built.environment, page, date_range=(day, day))
        assert_readable(app)
        if page == "views/executive.py":
            assert headlines(app)["Total orders"] == f"{orders:,}"


# --- Funnel analysis ------------------------------------------------------------------------


def test_funnel_cards_follow_the_device_filter(built: Built) -> None:
    def events(device: str | None) -> list[int]:
        where = "where device_type = ?" if device else ""
        rows = dict(
            sql(
                built,
                f"select event_type, count(*) from stg_clickstream__events {where} group by 1",
                (device,) if device else (),
            )
        )
        names = ["page_view", "search", "add_to_cart", "remove_from_cart", "purchase"]
        return [rows.get(name, 0) for name in names]

    app = render(built.environment, "views/funnel.py")
    assert_card_titles(app, "funnel")
    assert chart(app, 2)[0]["y"] == events(None)
    hourly_events, _ = chart(app, 3)
    assert sum(hourly_events["y"]) == sum(events(None))
    assert len(hourly_events["x"]) == 24

    app = render(built.environment, "views/funnel.py", devices=["tablet"])
    assert chart(app, 2)[0]["y"] == events("tablet")
    devices = app.dataframe[1].value
    assert devices.device_type.tolist() == ["tablet"]
    (sessions,) = sql(
        built,
        "select count(distinct session_id) from stg_clickstream__events where device_type = ?",
        ("tablet",),
    )[0]
    assert devices.sessions.tolist() == [sessions]


# Sessions and the funnel steps they reached, counted here from the events themselves: a
# session is dated by its first event's day and has its events' device.
SESSION_STEPS = """
    with sessions as (
        select session_id, min(event_date) as session_date, any_value(device_type) as device,
            bool_or(event_type = 'page_view') as viewed,
            bool_or(event_type = 'add_to_cart') as carted,
            bool_or(event_type = 'purchase') as purchased
        from fact_events group by session_id
    )
    select {group}, count(*), count(*) filter (where viewed), count(*) filter (where carted),
        count(*) filter (where purchased)
    from sessions
    where session_date between ? and ? and device in (?, ?)
    group by all order by all
"""


def test_the_funnel_and_its_rates_equal_sessions_counted_from_the_events(built: Built) -> None:
    start, end = date(2025, 10, 6), date(2025, 10, 26)
    chosen = ["desktop", "mobile"]
    per_device = {
        row[0]: row[1:]
        for row in sql(built, SESSION_STEPS.format(group="device"), (start, end, *chosen))
    }
    total = [sum(counts[i] for counts in per_device.values()) for i in range(4)]
    app = render(built.environment, "views/funnel.py", date_range=(start, end), devices=chosen)

    (bars,) = chart(app, 0)
    assert bars["y"] == ["Viewed a product", "Added to cart", "Purchased"]
    assert bars["x"] == total[1:]
    shown = app.dataframe[0].value
    assert shown.device_type.tolist()[-1] == "All chosen"
    assert sorted(shown.device_type.tolist()[:-1]) == sorted(per_device)
    for row in shown.itertuples():
        sessions, viewed, carted, purchased = per_device.get(row.device_type, total)
        assert (row.viewed_sessions, row.cart_sessions, row.purchase_sessions) == (
            viewed,
            carted,
            purchased,
        )
        assert row.view_to_cart_rate == pytest.approx(carted / viewed)
        assert row.cart_to_purchase_rate == pytest.approx(purchased / carted)
        assert row.session_conversion_rate == pytest.approx(purchased / sessions)

    # a 21-day range: one point per day, each rate a ratio of that day's sessions
    daily = sql(built, SESSION_STEPS.format(group="session_date"), (start, end, *chosen))
    view_to_cart, cart_to_purchase, conversion = chart(app, 1)
    assert [day[:10] for day in view_to_cart["x"]] == [str(row[0]) for row in daily]
    assert view_to_cart["y"] == pytest.approx([row[3] / row[2] for row in daily])
    assert cart_to_purchase["y"] == pytest.approx([row[4] / row[3] for row in daily])
    assert conversion["y"] == pytest.approx([row[4] / row[1] for row in daily])

    # counts of very different sizes each get their own value axis
    _, spec = _drawn(app, 4)
    assert len(spec["vconcat"]) == 3
    assert spec["resolve"]["scale"]["y"] == "independent"
    assert_readable(app)


# --- Data health, empty and error states, publishing while browsing --------------------------


def test_a_gate_failure_reaches_the_health_page_from_the_run_that_met_it(
    completed: Workspace, tmp_path: Path
) -> None:
    """The run records itself (Prefect's failure hook publishes ops); the test writes nothing."""
    strict = tmp_path / "contracts"
    shutil.copytree(REPO / "checks" / "contracts", strict)
    contract = strict / "fact_orders.yml"
    contract.write_text(
        contract.read_text().replace("must_be_greater_than: 0", "must_be_greater_than: 10000000", 1)
    )
    workspace = completed.copy(tmp_path / "data", LAKEHOUSE_CONTRACTS_DIR=str(strict))
    published = file_hash(workspace.published)
    result = workspace.run("run")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: quality gate failed: fact_orders.:row_count" in result.stderr
    assert file_hash(workspace.published) == published  # nothing new was published

    app = render(workspace.environment, "views/health.py", expect_error=True)
    assert [(t.value, t.proto.help) for t in app.subheader] == [
        (card, help_for(card)) for card in PAGE_CARDS["health"]
    ]
    assert app.error[0].value.startswith("The last run (Failed) ended at ")
    assert "quality gate failed: fact_orders.:row_count (Row count meets expected threshold: " in (
        app.error[0].value
    )
    assert ", must be > 10000000)" in app.error[0].value
    assert app.error[0].value.endswith("; the previous warehouse keeps serving")
    assert_readable(app)
    runs = app.dataframe[0].value
    assert list(runs.state) == ["Failed", "Completed"]  # the first run, then this one
    # every run's gate verdict, as the runs returned them
    assert list(runs.gate) == ["failed", "passed"]
    assert "flow" not in runs.columns  # in the CSV, not on screen: the table fits 1280 px
    with duckdb.connect(str(workspace.published.with_name("ops.duckdb")), read_only=True) as ops:
        recorded = ops.sql(
            "select state, gate_passed, published is not null from runs order by started_at"
        ).fetchall()
    assert recorded == [("Completed", True, True), ("Failed", False, False)]
    assert runs.started_at.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert runs.rows_landed.iloc[1] > 0 and runs.rows_landed.iloc[0] == 0
    checks = app.dataframe[2].value
    failed = checks[checks.outcome == "FAILED"]
    assert list(zip(failed.contract, failed.check, strict=True)) == [("fact_orders", "row_count")]
    assert (checks.outcome == "PASSED").sum() >= 15
    assert checks.outcome.iloc[0] == "FAILED", "checks not passed come first"
    named = [c.value for c in app.caption if c.value.startswith("Not passed: ")]
    assert named == [
        "Not passed: "
        + "; ".join(
            f"{row.contract}.{row.column + '.' if row.column != '—' else ''}{row.check} "
            f"({row.outcome})"
            for row in checks[checks.outcome != "PASSED"].itertuples()
        )
    ]
    assert named[0].startswith("Not passed: fact_orders.row_count (FAILED)")
    freshness = app.dataframe[3].value  # measured by this (failed) run, after its ingestion
    assert sorted(freshness.source) == [
        "catalog.products",
        "clickstream.events",
        "shop.customers",
        "shop.order_items",
        "shop.orders",
    ]
    assert freshness.load_age_hours.max() < 1  # the first run landed everything minutes ago
    late = freshness[freshness.status != "pass"]
    assert [w.value for w in app.warning] == [
        f"Source {row.source} is {row.status}: {row.note}" for row in late.itertuples()
    ]
    ingestion = app.dataframe[4].value
    assert sorted(ingestion.source) == ["catalog", "clickstream", "shop"]
    with duckdb.connect(str(workspace.published), read_only=True) as warehouse:
        rows = warehouse.sql("select count(*) from fact_orders").fetchone()[0]
        tables = warehouse.sql(
            "select table_name, estimated_size from duckdb_tables() where schema_name = 'main'"
        ).fetchall()
    model_rows = app.dataframe[1].value
    assert dict(zip(model_rows.model, model_rows.rows, strict=True))["fact_orders"] == rows
    assert sorted(model_rows.model) == sorted(name for name, _ in tables)  # every table
    assert {"fact_events", "stg_clickstream__events", "funnel_hourly"} <= set(model_rows.model)

    # the next run passes the gate: the failure is history, no longer a banner
    again = workspace.run("run", LAKEHOUSE_CONTRACTS_DIR=str(REPO / "checks" / "contracts"))
    assert again.returncode == 0, again.stdout + again.stderr
    app = render(workspace.environment, "views/health.py")
    assert app.success[0].value.startswith("The last run published at ")
    assert not [w.value for w in app.warning if "fail" in w.value.lower()]
    assert not app.error
    assert any(
        c.value.startswith("The last failure (Failed) ended at ")
        and c.value.endswith("; every run since has completed.")
        for c in app.caption
    )
    assert list(app.dataframe[0].value.state) == ["Completed", "Failed", "Completed"]
    # a passing build may still warn (named); nothing failed
    assert not any("(FAILED)" in c.value for c in app.caption if c.value.startswith("Not passed"))


def test_without_a_warehouse_the_app_says_to_run_the_pipeline(tmp_path: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=60)
    with mock.patch.dict(os.environ, settings_environment(tmp_path)):
        app.run()
    assert [info.value for info in app.info] == [
        f"No published warehouse at `{tmp_path / 'warehouse' / 'lakehouse.duckdb'}` yet: "
        "run `make run` first."
    ]
    assert len(app.metric) == 0


def test_an_invalid_refresh_setting_is_one_line_on_the_page(built: Built) -> None:
    environment = {**built.environment, "LAKEHOUSE_APP_REFRESH_CUSTOMERS_SECONDS": "soon"}
    app = render(environment, expect_error=True)  # every page: settings are read first
    assert len(app.metric) == 0
    assert [error.value for error in app.error] == [
        "error: invalid setting LAKEHOUSE_APP_REFRESH_CUSTOMERS_SECONDS=soon: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_publish_while_browsing_shows_the_new_data(built: Built, tmp_path: Path) -> None:
    folder = tmp_path / "published"
    folder.mkdir()
    published = folder / "lakehouse.duckdb"
    shutil.copyfile(built.settings.storage.warehouse_path, published)
    environment = {**built.environment, "LAKEHOUSE_WAREHOUSE_PATH": str(published)}
    with mock.patch.dict(os.environ, environment):
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
        before = {metric.label: metric.value for metric in app.metric}["Total orders"]

        newer = folder / "next.duckdb"
        shutil.copyfile(built.settings.storage.warehouse_path, newer)
        with duckdb.connect(str(newer)) as warehouse:
            warehouse.execute("update daily_kpis set orders = orders + 1")
            (days,) = warehouse.execute("select count(*) from daily_kpis").fetchone()
            # the data reaches a day further: an untouched date range follows it
            (first, last) = warehouse.execute(
                "update data_as_of set as_of_date = as_of_date + 1 returning first_day, as_of_date"
            ).fetchone()
        os.replace(newer, published)  # what publish does

        app.run()
    assert not app.exception
    after = {metric.label: metric.value for metric in app.metric}["Total orders"]
    assert int(after.replace(",", "")) == int(before.replace(",", "")) + days
    assert app.date_input(key="date_range").value == (first, last)

"""Executive dashboard: 8 cards."""

from __future__ import annotations

import streamlit as st

from app import charts, queries
from app.layout import (
    as_of_caption,
    auto_refresh,
    card,
    chart,
    count,
    date_range_filter,
    headline,
    in_range,
    last_days,
    refresh_seconds,
)

st.title("Executive")
start, end = date_range_filter()


@auto_refresh("executive")
def body() -> None:
    as_of = as_of_caption(refresh_seconds("executive"))
    latest = queries.headline()
    totals = queries.totals(start, end)

    revenue, last_month, orders, order_value, active = st.columns(5)
    headline(revenue, "Total revenue", totals.revenue, kind="money")
    change = latest.revenue_mom_change_pct
    headline(
        last_month,
        "Revenue last month",
        latest.revenue_last_month,
        kind="money",
        label=f"Revenue last month ({latest.last_month_start:%b %Y})",
        delta=None if change is None or change != change else f"{change:+.1f}% MoM",
    )
    headline(orders, "Total orders", totals.orders, kind="count")
    revenue_orders = count(totals.revenue_orders or 0)
    headline(
        order_value,
        "Average order value",
        totals.average_order_value,
        kind="money",
        label=f"Average order value ({revenue_orders} revenue orders)",
    )
    headline(active, "Active customers (last 30 days)", latest.active_customers_30d, kind="count")
    st.caption(
        f"Total revenue, total orders and average order value: {in_range(start, end).lower()} "
        f"Revenue last month and active customers end on the as-of day ({as_of:%Y-%m-%d})."
    )

    left, right = st.columns(2)
    with left:
        card(
            "Revenue trend, last 12 months",
            f"The 12 months up to {as_of:%B %Y}; not the date range. A dotted line marks a "
            "partial month.",
        )
        trend = queries.revenue_trend(as_of)
        partial = queries.partial_month(trend, as_of)
        chart(charts.monthly_trend, trend, values=["revenue"], partial_to=partial)
    with right:
        card("Daily orders, last 90 days", last_days(90, as_of))
        daily = queries.daily_orders(as_of).rename(columns={"orders": "Orders"})
        chart(
            charts.bars,
            daily,
            values=["Orders"],
            x="date_day",
            y="Orders",
            x_title="Day",
            y_title="Orders",
        )

    card("Top 5 categories by revenue", in_range(start, end))
    top = queries.top_categories(start, end)
    chart(
        charts.bars,
        top,
        values=["revenue"],
        x="category",
        y="revenue",
        x_title="Category",
        y_title="Revenue",
        money=True,
        horizontal=True,
    )


body()

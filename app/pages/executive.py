"""Executive dashboard: 8 cards."""

from __future__ import annotations

import streamlit as st

from app import charts, queries
from app.glossary import help_for
from app.layout import as_of_caption, card, date_range_filter

st.title("Executive")
as_of = as_of_caption()
start, end = date_range_filter()
headline = queries.headline()
totals = queries.totals(start, end)

revenue, last_month, orders, order_value, active = st.columns(5)
revenue.metric("Total revenue", f"${totals.revenue:,.2f}", help=help_for("Total revenue"))
change = headline.revenue_mom_change_pct
last_month.metric(
    f"Revenue last month ({headline.last_month_start:%b %Y})",
    f"${headline.revenue_last_month:,.2f}",
    delta=None if change is None or change != change else f"{change:+.1f}% MoM",
    help=help_for("Revenue last month"),
)
orders.metric("Total orders", f"{int(totals.orders):,}", help=help_for("Total orders"))
order_value.metric(
    "Average order value",
    f"${totals.average_order_value:,.2f}",
    help=help_for("Average order value"),
)
active.metric(
    "Active customers (last 30 days)",
    f"{int(headline.active_customers_30d):,}",
    help=help_for("Active customers (last 30 days)"),
)

left, right = st.columns(2)
with left:
    card("Revenue trend, last 12 months")
    trend = queries.revenue_trend(as_of)
    st.plotly_chart(charts.line(trend, "month_start", "revenue", "Month", "Revenue", money=True))
with right:
    card("Daily orders, last 90 days")
    daily = queries.daily_orders(as_of)
    st.plotly_chart(charts.bars(daily, "date_day", "orders", "Day", "Orders"))

card("Top 5 categories by revenue")
top = queries.top_categories(start, end)
st.plotly_chart(charts.bars(top, "category", "revenue", "Category", "Revenue", True, True))

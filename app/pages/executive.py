"""Executive dashboard."""

from __future__ import annotations

import streamlit as st

from app.data import query

st.title("Executive")

kpis = query(
    """
    select as_of_date, last_month_start, total_revenue, revenue_last_month,
           revenue_mom_change_pct, total_orders, average_order_value
    from executive_kpis
    """
).iloc[0]

st.caption(f"As of {kpis.as_of_date:%Y-%m-%d}, the last simulated day in the warehouse.")
revenue, last_month, orders, order_value = st.columns(4)
revenue.metric("Total revenue", f"${kpis.total_revenue:,.2f}")
change = kpis.revenue_mom_change_pct
last_month.metric(
    f"Revenue last month ({kpis.last_month_start:%b %Y})",
    f"${kpis.revenue_last_month:,.2f}",
    delta=None if change != change or change is None else f"{change:+.1f}% MoM",
)
orders.metric("Total orders", f"{kpis.total_orders:,}")
order_value.metric("Average order value", f"${kpis.average_order_value:,.2f}")

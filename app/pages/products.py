"""Product performance dashboard: 4 cards."""

from __future__ import annotations

import streamlit as st

from app import charts, queries
from app.layout import as_of_caption, card, choice_filter, date_range_filter, table

st.title("Product Performance")
as_of_caption()
start, end = date_range_filter()
chosen = choice_filter("Category", queries.categories(), "categories")

card("Top 10 products by revenue")
table(queries.top_products(chosen), "top_products", money=["revenue"])

card("Category performance")
table(
    queries.category_performance(chosen, start, end),
    "category_performance",
    money=["revenue", "average_item_value"],
)

card("Rating vs sales")
st.plotly_chart(charts.bubbles(queries.rating_vs_sales(chosen)))

card("Slow-moving inventory")
table(queries.slow_movers(chosen), "slow_moving_inventory")

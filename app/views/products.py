"""Product performance dashboard: 4 cards."""

from __future__ import annotations

import streamlit as st

from app import charts, queries
from app.layout import (
    ALL_TIME,
    as_of_caption,
    auto_refresh,
    card,
    chart,
    choice_filter,
    date_range_filter,
    in_range,
    is_missing,
    last_days,
    refresh_seconds,
    table,
)

st.title("Product Performance")
start, end = date_range_filter()
chosen = choice_filter("Category", queries.categories(), "categories", "All categories")


@auto_refresh("products")
def body() -> None:
    as_of = as_of_caption(refresh_seconds("products"))

    card("Top 10 products by revenue", f"{ALL_TIME} Follows the category filter.")
    table(queries.top_products(chosen), "top_products")

    card("Category performance", in_range(start, end))
    table(queries.category_performance(chosen, start, end), "category_performance")

    card("Rating vs sales", f"{ALL_TIME} Bubble size: revenue.")
    ratings = queries.rating_vs_sales(chosen)
    fit = queries.rating_sales_correlation(chosen).iloc[0]
    if fit.products >= 3 and not is_missing(fit.pearson) and not is_missing(fit.spearman):
        st.caption(
            f"Rating and units sold over {int(fit.products):,} rated products: "
            f"Pearson r = {fit.pearson:.2f}, Spearman ρ = {fit.spearman:.2f}."
        )
    else:  # fewer than three products, or ratings or sales all alike
        st.caption("Too few rated products with different ratings and sales for a correlation.")
    chart(charts.bubbles, ratings, values=["units", "revenue"])

    card("Slow-moving inventory", f"{last_days(90, as_of)} Stock as the catalog says now.")
    table(queries.slow_movers(chosen), "slow_moving_inventory")


body()

"""Customer analytics dashboard: 5 cards.

The segment filter means what each card can honestly mean: customers are counted by the
segment they are in now; revenue is counted by the segment its customer was in when the order
was placed (the SCD2 customer version valid at order time), said under each card.
"""

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
    refresh_seconds,
    table,
)

st.title("Customer Analytics")
start, end = date_range_filter()
chosen = choice_filter("Customer segment", queries.segments(), "segments")

NOW = f"{ALL_TIME} Customers in the chosen segments as they are now."
AT_ORDER_TIME = "orders placed while their customer was in a chosen segment"


@auto_refresh("customers")
def body() -> None:
    as_of_caption(refresh_seconds("customers"))

    left, right = st.columns(2)
    with left:
        card("Lifetime value distribution", NOW)
        bands = queries.customers_by("lifetime_value_band", chosen, queries.LIFETIME_VALUE_BANDS)
        chart(
            charts.bars,
            bands,
            values=["customers"],
            x="band",
            y="customers",
            x_title="Lifetime value",
            y_title="Customers",
            categorical=True,
        )
    with right:
        card("Customer segments by spend", NOW)
        spend = queries.customers_by("spend_segment", chosen, queries.SPEND_SEGMENTS)
        chart(
            charts.bars,
            spend,
            values=["customers"],
            x="band",
            y="customers",
            x_title="Spend segment",
            y_title="Customers",
            categorical=True,
        )

    card("Top 20 customers", NOW)
    table(queries.top_customers(chosen), "top_customers")

    card("Order frequency", NOW)
    frequency = queries.customers_by("order_frequency_band", chosen, queries.ORDER_FREQUENCY_BANDS)
    chart(
        charts.bars,
        frequency,
        values=["customers"],
        x="band",
        y="customers",
        x_title="Revenue orders per customer",
        y_title="Customers",
        categorical=True,
    )

    card("Revenue by segment at order time", f"{in_range(start, end)} Revenue of {AT_ORDER_TIME}.")
    segments = queries.revenue_by_segment_at_order_time(chosen, start, end)
    chart(
        charts.bars,
        segments,
        values=["revenue"],
        x="customer_segment",
        y="revenue",
        x_title="Segment at order time",
        y_title="Revenue",
        money=True,
        categorical=True,
    )
    table(
        segments, "revenue_by_segment_at_order_time", {"customer_segment": "Segment at order time"}
    )


body()

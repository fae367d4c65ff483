"""Customer analytics dashboard: 7 cards.

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
    count,
    date_range_filter,
    in_range,
    money,
    refresh_seconds,
    table,
)

st.title("Customer Analytics")
start, end = date_range_filter()
chosen = choice_filter("Customer segment", queries.segments(), "segments", "All segments")

NOW = f"{ALL_TIME} Customers in the chosen segments as they are now."
AT_ORDER_TIME = "orders placed while their customer was in a chosen segment"
# what the win-back table shows; its CSV adds each customer's email and last order day
WIN_BACK_COLUMNS = [
    "customer_name",
    "customer_segment",
    "total_orders",
    "days_since_last_order",
    "average_days_between_orders",
    "yearly_revenue",
]


def customers_by_band(title: str, column: str, bands: list[str], x_title: str) -> None:
    """A card counting the chosen segments' customers, as they are now, by one of the
    customer_lifetime_value bands, every band on the axis in its order."""
    card(title, NOW)
    chart(
        charts.bars,
        queries.customers_by(column, chosen, bands),
        values=["customers"],
        x="band",
        y="customers",
        x_title=x_title,
        y_title="Customers",
        categorical=True,
    )


@auto_refresh("customers")
def body() -> None:
    as_of = as_of_caption(refresh_seconds("customers"))

    card("Customers by tier", f"{ALL_TIME} Each customer in the tier they are in on {as_of}.")
    tiers = queries.customers_by_tier(chosen)
    left, right = st.columns(2)
    with left:
        chart(
            charts.bars,
            tiers,
            values=["customers"],
            x="customer_segment",
            y="customers",
            x_title="Tier",
            y_title="Customers",
            categorical=True,
        )
    with right:
        table(tiers, "customers_by_tier", {"customer_segment": "Tier", "revenue": "Lifetime value"})

    card("Win-back customers", f"On {as_of}. Customers in the chosen segments as they are now.")
    lapsed = queries.win_back(chosen)
    if lapsed.empty:
        st.info("No customer in the chosen segments is lapsed beyond their own rhythm.")
    else:
        st.markdown(
            f"**{count(len(lapsed))}** customers, "
            f"**{money(lapsed.yearly_revenue.sum())}** revenue at stake a year."
        )
        table(lapsed, "win_back_customers", shown=WIN_BACK_COLUMNS)

    left, right = st.columns(2)
    with left:
        customers_by_band(
            "Lifetime value distribution",
            "lifetime_value_band",
            queries.LIFETIME_VALUE_BANDS,
            "Lifetime value",
        )
    with right:
        customers_by_band(
            "Customer segments by spend", "spend_segment", queries.SPEND_SEGMENTS, "Spend segment"
        )

    card("Top 20 customers", NOW)
    table(queries.top_customers(chosen), "top_customers")

    customers_by_band(
        "Order frequency",
        "order_frequency_band",
        queries.ORDER_FREQUENCY_BANDS,
        "Revenue orders per customer",
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

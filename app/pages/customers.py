"""Customer analytics dashboard: 4 cards."""

from __future__ import annotations

import streamlit as st

from app import charts, queries
from app.layout import as_of_caption, card, choice_filter, table

st.title("Customer Analytics")
as_of_caption()
chosen = choice_filter("Customer segment", queries.segments(), "segments")

left, right = st.columns(2)
with left:
    card("Lifetime value distribution")
    bands = queries.customers_by("lifetime_value_band", chosen, queries.LIFETIME_VALUE_BANDS)
    st.plotly_chart(charts.bars(bands, "band", "customers", "Lifetime value", "Customers"))
with right:
    card("Customer segments by spend")
    spend = queries.customers_by("spend_segment", chosen, queries.SPEND_SEGMENTS)
    st.plotly_chart(charts.bars(spend, "band", "customers", "Segment", "Customers"))

card("Top 20 customers")
table(queries.top_customers(chosen), "top_customers", money=["lifetime_value"])

card("Order frequency")
frequency = queries.customers_by("order_frequency_band", chosen, queries.ORDER_FREQUENCY_BANDS)
st.plotly_chart(charts.bars(frequency, "band", "customers", "Orders per customer", "Customers"))

"""Funnel analysis dashboard: 4 cards."""

from __future__ import annotations

import streamlit as st

from app import charts, queries
from app.layout import as_of_caption, card, choice_filter, date_range_filter, table

st.title("Funnel Analysis")
as_of = as_of_caption()
start, end = date_range_filter()
chosen = choice_filter("Device", queries.devices(), "devices")

left, right = st.columns(2)
with left:
    card("Event type distribution")
    types = queries.event_types(chosen, start, end)
    st.plotly_chart(charts.bars(types, "event_type", "events", "Event type", "Events"))
with right:
    card("Device type performance")
    table(queries.device_performance(chosen, start, end), "device_performance")

card("Hourly activity")
hourly = queries.hourly_activity(chosen, start, end)
st.plotly_chart(charts.bars(hourly, "event_hour", ["events", "sessions"], "Hour (UTC)", "Count"))

card("Daily event trend, last 30 days")
daily = queries.daily_events(chosen, as_of)
st.plotly_chart(
    charts.bars(daily, "session_date", ["events", "sessions", "purchases"], "Day", "Count")
)

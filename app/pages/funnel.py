"""Funnel analysis dashboard: 4 cards."""

from __future__ import annotations

import streamlit as st

from app import charts, queries
from app.layout import (
    as_of_caption,
    auto_refresh,
    card,
    chart,
    choice_filter,
    date_range_filter,
    in_range,
    last_days,
    refresh_seconds,
    table,
)

st.title("Funnel Analysis")
start, end = date_range_filter()
chosen = choice_filter("Device", queries.devices(), "devices")

EVENT_TYPES = {
    "page_view": "Page view",
    "search": "Search",
    "add_to_cart": "Add to cart",
    "remove_from_cart": "Remove from cart",
    "purchase": "Purchase",
}
HOURLY = {"events": "Events", "sessions": "Sessions active in the hour"}
DAILY = {"events": "Events", "sessions": "Sessions", "purchases": "Purchase sessions"}


@auto_refresh("funnel")
def body() -> None:
    as_of = as_of_caption(refresh_seconds("funnel"))

    left, right = st.columns(2)
    with left:
        card("Event type distribution", in_range(start, end))
        types = queries.event_types(chosen, start, end)
        types["event_type"] = types.event_type.map(EVENT_TYPES)
        chart(
            charts.bars,
            types,
            values=["events"],
            x="event_type",
            y="events",
            x_title="Event type",
            y_title="Events",
            categorical=True,
        )
    with right:
        card("Device type performance", in_range(start, end))
        table(queries.device_performance(chosen, start, end), "device_performance")

    card("Hourly activity", in_range(start, end))
    hourly = queries.hourly_activity(chosen, start, end).rename(columns=HOURLY)
    values = tuple(HOURLY.values())
    chart(
        charts.bars,
        hourly,
        values=list(values),
        x="event_hour",
        y=values,
        x_title="Hour of day (UTC)",
        y_title="Count",
    )

    card("Daily event trend, last 30 days", last_days(30, as_of))
    daily = queries.daily_events(chosen, as_of).rename(columns=DAILY)
    values = tuple(DAILY.values())
    chart(
        charts.bars,
        daily,
        values=list(values),
        x="session_date",
        y=values,
        x_title="Session day",
        y_title="Count",
    )


body()

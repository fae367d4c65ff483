"""Funnel analysis dashboard: 6 cards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, queries
from app.layout import (
    NO_DATA,
    as_of_caption,
    auto_refresh,
    card,
    chart,
    choice_filter,
    date_range_filter,
    draw,
    in_range,
    last_days,
    refresh_seconds,
    table,
)

st.title("Funnel Analysis")
start, end = date_range_filter()
chosen = choice_filter("Device", queries.devices(), "devices", "All devices")

EVENT_TYPES = {
    "page_view": "Page view",
    "search": "Search",
    "add_to_cart": "Add to cart",
    "remove_from_cart": "Remove from cart",
    "purchase": "Purchase",
}
HOURLY = {"events": "Events", "sessions": "Sessions active in the hour"}
DAILY = {"events": "Events", "sessions": "Sessions", "purchases": "Purchase sessions"}
RATES = {
    "view_to_cart_rate": "Viewed → added to cart",
    "cart_to_purchase_rate": "Added to cart → purchased",
    "session_conversion_rate": "Sessions → purchased",
}
FUNNEL_LABELS = {
    "device_type": "Device",
    "viewed_sessions": "Viewed",
    "cart_sessions": "Added to cart",
    "purchase_sessions": "Purchased",
}


def funnel_steps(devices: pd.DataFrame) -> pd.DataFrame:
    """The steps of the "All chosen" row: sessions at each, and conversion from the step before
    and from all sessions."""
    total = devices.iloc[-1]
    counts = [int(total[column]) for column in queries.FUNNEL_STEPS]
    return pd.DataFrame(
        {
            "step": list(queries.FUNNEL_STEPS.values()),
            "sessions": counts,
            "step_rate": [1.0, total.view_to_cart_rate, total.cart_to_purchase_rate],
            "overall_rate": [c / total.sessions if total.sessions else None for c in counts],
        }
    )


@auto_refresh("funnel")
def body() -> None:
    as_of = as_of_caption(refresh_seconds("funnel"))

    card("Conversion funnel", in_range(start, end))
    devices = queries.funnel_by_device(chosen, start, end)
    if devices.empty:
        st.info(NO_DATA)
    else:
        draw(charts.funnel(funnel_steps(devices)))
        table(devices.drop(columns="sessions"), "conversion_funnel", FUNNEL_LABELS)

    card("Conversion rates over time", in_range(start, end))
    rates = queries.conversion_over_time(chosen, start, end).rename(columns=RATES)
    grain = "Week (from Monday)" if (end - start).days >= 92 else "Day"
    chart(
        charts.rates,
        rates,
        values=list(RATES.values()),
        x="period",
        y=tuple(RATES.values()),
        x_title=grain,
    )

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
        charts.panels,
        hourly,
        values=list(values),
        x="event_hour",
        y=values,
        x_title="Hour of day (UTC)",
    )

    card("Daily event trend, last 30 days", last_days(30, as_of))
    daily = queries.daily_events(chosen, as_of).rename(columns=DAILY)
    values = tuple(DAILY.values())
    chart(
        charts.panels, daily, values=list(values), x="session_date", y=values, x_title="Session day"
    )


body()

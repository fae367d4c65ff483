"""Chart builders: Plotly figures with titles, axis labels, currency formats, axes from zero.

Figures are cached by their data (`st.cache_resource`, keyed on the frame's content): building a
Plotly figure costs more than the cached query behind it, and an unchanged frame draws the
same figure. Streamlit copies a figure before sending it, so a cached one is never mutated.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

MONEY = "$,.2f"


def _style(
    figure: go.Figure,
    x_title: str,
    y_title: str,
    money_axis: str | None = None,
    categories: str | None = None,
) -> go.Figure:
    """Titles, margins, the value axis from zero, and `categories` ("x" or "y") typed as a
    category axis: labels such as "0", "1", "2-3" would otherwise make Plotly type the axis as
    numbers and drop every label that is not one."""
    figure.update_layout(
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin={"t": 30, "l": 10, "r": 10, "b": 10},
        legend_title_text="",
    )
    value_axis = figure.update_xaxes if categories == "y" else figure.update_yaxes
    value_axis(rangemode="tozero")
    if categories == "x":
        figure.update_xaxes(type="category")
    if categories == "y":
        figure.update_yaxes(type="category")
    if money_axis == "y":
        figure.update_yaxes(tickprefix="$", tickformat=",.0f")
    if money_axis == "x":
        figure.update_xaxes(tickprefix="$", tickformat=",.0f")
    return figure


@st.cache_resource(show_spinner=False, max_entries=256)
def monthly_trend(frame: pd.DataFrame, *, partial_to: str | None) -> go.Figure:
    """Revenue per month; with `partial_to` (the as-of day, which does not end its month) the
    last month is drawn apart: a dotted segment to a hollow marker, named in the legend."""
    # months as category labels: a date axis over one month zooms into milliseconds
    frame = frame.assign(month=frame.month_start.dt.strftime("%b %Y"))
    complete = frame if partial_to is None else frame.iloc[:-1]
    figure = go.Figure()
    figure.add_scatter(
        x=complete.month,
        y=complete.revenue,
        mode="lines+markers",
        name="Complete months",
        hovertemplate=f"%{{x}}<br>%{{y:{MONEY}}}<extra></extra>",
    )
    if partial_to is not None:
        tail = frame.iloc[-2:] if len(complete) else frame.iloc[-1:]
        figure.add_scatter(
            x=tail.month,
            y=tail.revenue,
            mode="lines+markers",
            name=f"Partial month (to {partial_to})",
            line={"dash": "dot"},
            marker={"symbol": ["circle", "circle-open"][-len(tail) :], "size": 10},
            hovertemplate=f"%{{x}} (partial)<br>%{{y:{MONEY}}}<extra></extra>",
        )
    figure.update_layout(legend={"orientation": "h", "y": 1.12})
    return _style(figure, "Month", "Revenue", money_axis="y", categories="x")


@st.cache_resource(show_spinner=False, max_entries=256)
def bars(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str | tuple[str, ...],
    x_title: str,
    y_title: str,
    money: bool = False,
    horizontal: bool = False,
    categorical: bool = False,
) -> go.Figure:
    """Bars (grouped when `y` names several columns, each its own legend entry)."""
    columns = list(y) if isinstance(y, tuple) else y
    if horizontal:
        figure = px.bar(frame, x=columns, y=x, orientation="h")
        figure.update_yaxes(autorange="reversed")
        return _style(figure, y_title, x_title, money_axis="x" if money else None, categories="y")
    figure = px.bar(frame, x=x, y=columns, barmode="group")
    if isinstance(columns, list):
        figure.update_layout(legend={"orientation": "h", "y": 1.12})
    if money:
        figure.update_traces(hovertemplate=f"%{{x}}<br>%{{y:{MONEY}}}<extra></extra>")
    return _style(
        figure,
        x_title,
        y_title,
        money_axis="y" if money else None,
        categories="x" if categorical else None,
    )


@st.cache_resource(show_spinner=False, max_entries=256)
def bubbles(frame: pd.DataFrame) -> go.Figure:
    figure = px.scatter(
        frame,
        x="rating_rate",
        y="units",
        size="revenue",
        color="category",
        hover_name="product_name",
        size_max=40,
        labels={"category": "Category", "rating_rate": "Rating", "units": "Units sold"},
    )
    return _style(figure, "Rating (stars)", "Units sold")


@st.cache_resource(show_spinner=False, max_entries=256)
def funnel(steps: pd.DataFrame) -> go.Figure:
    """Sessions reaching each step (`step`, `sessions`, `step_rate`, `overall_rate`), first
    step on top, each bar labelled with its count and conversions: the bars' lengths share one
    axis, so the labels carry the small steps."""
    labels = [
        f"{count:,}"
        if index == 0
        else f"{count:,} ({step:.1%} of the step before, {overall:.1%} of sessions)"
        for index, (count, step, overall) in enumerate(
            zip(steps.sessions, steps.step_rate, steps.overall_rate, strict=True)
        )
    ]
    figure = go.Figure(
        go.Bar(
            x=steps.sessions,
            y=steps.step,
            orientation="h",
            text=labels,
            textposition="auto",
            hovertemplate="%{y}: %{x:,} sessions<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(height=260)
    return _style(figure, "Sessions", "", categories="y")


@st.cache_resource(show_spinner=False, max_entries=256)
def rates(frame: pd.DataFrame, *, x: str, y: tuple[str, ...], x_title: str) -> go.Figure:
    """Fractions 0–1 as percentages over time, one line per column of `y` (its name)."""
    figure = go.Figure()
    for column in y:
        known = frame[column].notna()  # a period without the step's sessions has no rate
        figure.add_scatter(
            x=frame[x][known],
            y=frame[column][known],
            mode="lines+markers",
            name=column,
            hovertemplate=f"%{{x}}<br>{column}: %{{y:.1%}}<extra></extra>",
        )
    figure.update_yaxes(tickformat=".0%")
    figure.update_layout(legend={"orientation": "h", "y": 1.15})
    return _style(figure, x_title, "Conversion")


@st.cache_resource(show_spinner=False, max_entries=256)
def panels(frame: pd.DataFrame, *, x: str, y: tuple[str, ...], x_title: str) -> go.Figure:
    """Bars of each column of `y` in its own panel with its own value axis, stacked over one
    shared x axis: counts of very different sizes (events, sessions, purchases) never share a
    linear axis, where the smallest would be invisible."""
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=len(y), cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=y
    )
    for row, column in enumerate(y, start=1):
        figure.add_bar(
            x=frame[x],
            y=frame[column],
            name=column,
            showlegend=False,
            hovertemplate=f"%{{x}}<br>{column}: %{{y:,}}<extra></extra>",
            row=row,
            col=1,
        )
        figure.update_yaxes(rangemode="tozero", row=row, col=1)
    figure.update_xaxes(title_text=x_title, row=len(y), col=1)
    figure.update_layout(
        height=130 * len(y) + 90, margin={"t": 30, "l": 10, "r": 10, "b": 10}, bargap=0.15
    )
    return figure

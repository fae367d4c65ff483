"""Chart builders: Plotly figures with titles, axis labels and currency formats."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

MONEY = "$,.2f"


def _style(
    figure: go.Figure, x_title: str, y_title: str, money_axis: str | None = None
) -> go.Figure:
    figure.update_layout(
        xaxis_title=x_title, yaxis_title=y_title, margin={"t": 30, "l": 10, "r": 10, "b": 10}
    )
    if money_axis == "y":
        figure.update_yaxes(tickprefix="$", tickformat=",.0f")
    if money_axis == "x":
        figure.update_xaxes(tickprefix="$", tickformat=",.0f")
    return figure


def line(
    frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, money: bool = False
) -> go.Figure:
    figure = px.line(frame, x=x, y=y, markers=True)
    if money:
        figure.update_traces(hovertemplate=f"%{{x}}<br>%{{y:{MONEY}}}")
    return _style(figure, x_title, y_title, "y" if money else None)


def bars(
    frame: pd.DataFrame,
    x: str,
    y: str | list[str],
    x_title: str,
    y_title: str,
    money: bool = False,
    horizontal: bool = False,
) -> go.Figure:
    if horizontal:
        figure = px.bar(frame, x=y, y=x, orientation="h")
        figure.update_yaxes(autorange="reversed")
        return _style(figure, y_title, x_title, "x" if money else None)
    figure = px.bar(frame, x=x, y=y, barmode="group")
    return _style(figure, x_title, y_title, "y" if money else None)


def bubbles(frame: pd.DataFrame) -> go.Figure:
    figure = px.scatter(
        frame,
        x="rating_rate",
        y="units",
        size="revenue",
        color="category",
        hover_name="product_name",
        size_max=40,
    )
    return _style(figure, "Rating (stars)", "Units sold")

"""Chart builders: Vega-Lite specs with titles, axis labels, currency formats, axes from zero.

Vega-Lite rather than Plotly: the browser loads about 1 MB of JavaScript for it instead of
4.7 MB, which is most of what a first visit to a chart page waited for (docs/benchmarks.md,
"what the chart library costs"); decision 022. A builder returns the data it draws and its
spec; `app.layout.chart` hands both to `st.vega_lite_chart`. Specs are plain dicts: no Altair
import, and tests read them as JSON.

Axis types are set, never inferred: band labels such as "0", "1", "2-3" are categories in the
order the query returns them (`sort: null`), days are UTC days, hours are ordinal.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MONEY_AXIS = "$,.0f"
MONEY = "$,.2f"
COUNT = ",d"
PERCENT_AXIS = ".0%"
PERCENT = ".1%"


@dataclass(frozen=True)
class Chart:
    """What `st.vega_lite_chart` draws: the rows and the Vega-Lite spec that encodes them."""

    data: pd.DataFrame
    spec: dict


def _position(frame: pd.DataFrame, field: str, title: str, categorical: bool = False) -> dict:
    """A category-or-time position channel for `field`: days as UTC days, numbers (hours) and
    labels as ordered categories in the frame's order."""
    column = frame[field]
    if not categorical and pd.api.types.is_datetime64_any_dtype(column):
        return {"field": field, "type": "temporal", "timeUnit": "utcyearmonthdate", "title": title}
    kind = "ordinal" if pd.api.types.is_numeric_dtype(column) and not categorical else "nominal"
    return {"field": field, "type": kind, "sort": None, "title": title, "axis": {"labelAngle": 0}}


def _days(frame: pd.DataFrame, field: str) -> pd.DataFrame:
    """`field` as timestamps when it holds dates: Arrow sends `datetime.date` as a date type
    Vega-Lite reads in the browser's time zone; a timestamp is read as UTC."""
    column = frame[field]
    if column.dtype == object and column.notna().any() and hasattr(column.dropna().iloc[0], "year"):
        return frame.assign(**{field: pd.to_datetime(column)})
    return frame


def _value(field: str, title: str | None, number_format: str, axis_format: str | None) -> dict:
    channel: dict = {"field": field, "type": "quantitative", "title": title}
    if axis_format:
        channel["axis"] = {"format": axis_format}
    return channel


def _tooltip(
    field: str, title: str, number_format: str | None = None, kind: str = "nominal"
) -> dict:
    tip = {"field": field, "type": kind, "title": title}
    if number_format:
        tip |= {"type": "quantitative", "format": number_format}
    if kind == "temporal":
        tip |= {"timeUnit": "utcyearmonthdate", "format": "%Y-%m-%d"}
    return tip


def monthly_trend(frame: pd.DataFrame, *, partial_to: str | None) -> Chart:
    """Revenue per month; with `partial_to` (the as-of day, which does not end its month) the
    last month is drawn apart: a dotted segment to a hollow marker, named in the legend."""
    # months as category labels: a time axis over one month zooms into hours
    frame = frame.assign(month=frame.month_start.dt.strftime("%b %Y"))[["month", "revenue"]]
    complete = frame if partial_to is None else frame.iloc[:-1]
    parts = [complete.assign(series="Complete months", hollow=False)]
    if partial_to is not None:
        tail = frame.iloc[-2:] if len(complete) else frame.iloc[-1:]
        hollow = [False, True][-len(tail) :]
        parts.append(tail.assign(series=f"Partial month (to {partial_to})", hollow=hollow))
    data = pd.concat(parts, ignore_index=True)
    series = list(dict.fromkeys(data.series))
    encoding = {
        "x": {
            "field": "month",
            "type": "ordinal",
            "sort": None,
            "title": "Month",
            "axis": {"labelAngle": -45},
        },
        "y": _value("revenue", "Revenue", MONEY, MONEY_AXIS),
        "color": {
            "field": "series",
            "type": "nominal",
            "title": None,
            "scale": {"domain": series},
            "legend": {"orient": "top"},
        },
        "tooltip": [_tooltip("month", "Month"), _tooltip("revenue", "Revenue", MONEY)],
    }
    dotted = {
        "field": "series",
        "type": "nominal",
        "legend": None,
        "scale": {"domain": series, "range": [[1, 0], [4, 3]][: len(series)]},
    }
    spec = {
        "encoding": encoding,
        "layer": [
            {"mark": {"type": "line"}, "encoding": {"strokeDash": dotted}},
            {
                "mark": {"type": "point", "filled": True, "size": 50},
                "transform": [{"filter": "!datum.hollow"}],
            },
            {
                "mark": {"type": "point", "filled": False, "size": 110, "strokeWidth": 2},
                "transform": [{"filter": "datum.hollow"}],
            },
        ],
    }
    return Chart(data, spec)


def bars(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    money: bool = False,
    horizontal: bool = False,
    categorical: bool = False,
) -> Chart:
    """Bars of `y` per `x`; `horizontal` puts the categories down the side, first on top."""
    frame = _days(frame, x)
    number = MONEY if money else COUNT
    value = _value(y, y_title, number, MONEY_AXIS if money else None)
    position = _position(frame, x, x_title, categorical=categorical or horizontal)
    tooltip_kind = position["type"]
    tooltip = [_tooltip(x, x_title, kind=tooltip_kind), _tooltip(y, y_title, number)]
    encoding = (
        {"y": position | {"axis": {"labelLimit": 240}}, "x": value}
        if horizontal
        else {"x": position, "y": value}
    )
    return Chart(
        frame[[x, y]], {"mark": {"type": "bar"}, "encoding": encoding | {"tooltip": tooltip}}
    )


def bubbles(frame: pd.DataFrame) -> Chart:
    """Units sold against rating, one bubble per product sized by its revenue."""
    columns = ["product_name", "category", "rating_rate", "units", "revenue"]
    spec = {
        "mark": {"type": "circle", "opacity": 0.7},
        "encoding": {
            "x": {
                "field": "rating_rate",
                "type": "quantitative",
                "title": "Rating (stars)",
                "scale": {"zero": False},
            },
            "y": _value("units", "Units sold", COUNT, None),
            "size": {
                "field": "revenue",
                "type": "quantitative",
                "title": "Revenue",
                "legend": None,
                "scale": {"range": [20, 1200]},
            },
            "color": {"field": "category", "type": "nominal", "title": "Category"},
            "tooltip": [
                _tooltip("product_name", "Product"),
                _tooltip("category", "Category"),
                _tooltip("rating_rate", "Rating", ".1f"),
                _tooltip("units", "Units sold", COUNT),
                _tooltip("revenue", "Revenue", MONEY),
            ],
        },
    }
    return Chart(frame[columns], spec)


def funnel(steps: pd.DataFrame) -> Chart:
    """Sessions reaching each step (`step`, `sessions`, `step_rate`, `overall_rate`), first
    step on top, each bar labelled with its count and conversions: the bars' lengths share one
    axis, so the labels carry the small steps (dark text on light bars, legible on both)."""
    labels = [
        f"{count:,}"
        if index == 0
        else f"{count:,} ({step:.1%} of the step before, {overall:.1%} of sessions)"
        for index, (count, step, overall) in enumerate(
            zip(steps.sessions, steps.step_rate, steps.overall_rate, strict=True)
        )
    ]
    data = steps[["step", "sessions"]].assign(label=labels)
    spec = {
        "height": {"step": 44},
        "encoding": {
            "y": {
                "field": "step",
                "type": "nominal",
                "sort": None,
                "title": None,
                "axis": {"labelLimit": 240},
            },
            "x": _value("sessions", "Sessions", COUNT, None),
            "tooltip": [_tooltip("step", "Step"), _tooltip("sessions", "Sessions", COUNT)],
        },
        "layer": [
            {"mark": {"type": "bar", "color": "#a6cee3"}},
            {
                "mark": {"type": "text", "align": "left", "dx": 6, "color": "#262730"},
                "encoding": {"text": {"field": "label"}, "x": {"datum": 0}},
            },
        ],
    }
    return Chart(data, spec)


def _long(frame: pd.DataFrame, x: str, y: tuple[str, ...], name: str) -> pd.DataFrame:
    """One row per (x, column of y) with its value; a null value is no row."""
    frame = _days(frame, x)
    long = frame.melt(id_vars=[x], value_vars=list(y), var_name=name, value_name="value")
    return long[long.value.notna()].reset_index(drop=True)


def rates(frame: pd.DataFrame, *, x: str, y: tuple[str, ...], x_title: str) -> Chart:
    """Fractions 0–1 as percentages over time, one line per column of `y` (its name); a
    period without the step's sessions has no rate and no point."""
    data = _long(frame, x, y, "rate")
    position = _position(data, x, x_title) if len(data) else {"field": x, "title": x_title}
    spec = {
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": position,
            "y": _value("value", "Conversion", PERCENT, PERCENT_AXIS),
            "color": {
                "field": "rate",
                "type": "nominal",
                "title": None,
                "scale": {"domain": list(y)},
                "legend": {"orient": "top"},
            },
            "tooltip": [
                _tooltip(x, x_title, kind=position.get("type", "nominal")),
                _tooltip("rate", "Rate"),
                _tooltip("value", "Value", PERCENT),
            ],
        },
    }
    return Chart(data, spec)


def panels(frame: pd.DataFrame, *, x: str, y: tuple[str, ...], x_title: str) -> Chart:
    """Bars of each column of `y` in its own panel with its own value axis, stacked over one
    shared x axis: counts of very different sizes (events, sessions, purchases) never share a
    linear axis, where the smallest would be invisible. Panels are a vertical concatenation,
    not a facet: Streamlit sizes a concatenation to its column and leaves a facet narrow."""
    data = _long(frame, x, y, "measure")
    position = _position(data, x, x_title) if len(data) else {"field": x, "title": x_title}
    tooltip = [
        _tooltip(x, x_title, kind=position.get("type", "nominal")),
        _tooltip("measure", "Measure"),
        _tooltip("value", "Count", COUNT),
    ]
    panel = [
        {
            "title": {"text": column, "anchor": "start", "fontSize": 13},
            "transform": [{"filter": {"field": "measure", "equal": column}}],
            "height": 110,
            "mark": {"type": "bar"},
            "encoding": {
                "x": position | {"title": x_title if column == y[-1] else None},
                "y": _value("value", None, COUNT, None),
                "tooltip": tooltip,
            },
        }
        for column in y
    ]
    return Chart(data, {"vconcat": panel, "resolve": {"scale": {"y": "independent"}}})

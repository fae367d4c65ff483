"""Shared page pieces: filters, cards with their scope, headline figures, charts, tables."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import streamlit as st

from app import queries
from app.charts import Chart
from app.glossary import help_for
from flows.settings import DashboardSettings, load_concern

MISSING = "—"
NO_DATA = "No data for this range."

# What each card covers, said under its title.
ALL_TIME = "All time."


def in_range(start: date, end: date) -> str:
    return f"Follows the date range ({start:%Y-%m-%d} to {end:%Y-%m-%d})."


def last_days(days: int, as_of: date) -> str:
    return f"The {days} days ending {as_of:%Y-%m-%d}; not the date range."


# --- numbers as people read them --------------------------------------------------------------


def is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


CENT = Decimal("0.01")


def exact(value: object) -> Decimal:
    """The figure as a decimal: DECIMAL columns arrive exact; a float by its shortest repr
    (33650.0 is 33650, not 33649.99999…), never by its binary value."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value: object) -> str:
    """$1,234.56 (cents rounded half-up), or — for a missing figure (an average over no
    orders)."""
    if is_missing(value):
        return MISSING
    cents = exact(value).quantize(CENT, ROUND_HALF_UP)
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


def count(value: object) -> str:
    return MISSING if is_missing(value) else f"{int(value):,}"


def _significant(scaled: Decimal) -> Decimal:
    """Three significant figures, half-up, for 1 ≤ |scaled| < 1000 (and 1000 itself when a
    rounding reaches it: the caller then moves to the next suffix)."""
    rounded = scaled
    for digits in (2, 1, 0):  # 9.995 → 10.00 → 10.0: digits follow the rounded figure
        if digits == 0 or abs(scaled) < 10 ** (3 - digits):
            rounded = scaled.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
            if abs(rounded) < 10 ** (3 - digits):
                return rounded
    return rounded


def _compact(value: Decimal, prefix: str) -> str:
    """$33.7K, $1.00M: the suffix is chosen after rounding, so $999,950 is $1.00M, never
    $1,000K. Empty below 1,000 (the caller shows the exact figure)."""
    if abs(value) < 1000:
        return ""
    for power, suffix in ((3, "K"), (6, "M"), (9, "B")):
        rounded = _significant(value.scaleb(-power))
        if abs(rounded) < 1000 or suffix == "B":
            digits = max(0, -rounded.as_tuple().exponent)
            sign = "-" if rounded < 0 else ""
            return f"{sign}{prefix}{abs(rounded):,.{digits}f}{suffix}"
    return ""  # not reached


def compact_money(value: object) -> str:
    """$614K, $6.14M: three significant figures from $1,000 up, so a headline fits its column;
    from the figure rounded to the cent ($999.995 is $1,000.00, so $1.00K)."""
    if is_missing(value):
        return MISSING
    cents = exact(value).quantize(CENT, ROUND_HALF_UP)
    return _compact(cents, "$") or money(cents)


def compact_count(value: object) -> str:
    """Exact below 100,000 (it fits), then 123K, 1.23M."""
    if is_missing(value):
        return MISSING
    return count(value) if abs(int(value)) < 100_000 else _compact(Decimal(int(value)), "")


def headline(
    column: st.delta_generator.DeltaGenerator,
    title: str,
    value: object,
    kind: str,
    label: str | None = None,
    delta: str | None = None,
) -> None:
    """A headline figure: compact so it fits at 1280 px, the exact value first in its tooltip."""
    exact, shown = (money, compact_money) if kind == "money" else (count, compact_count)
    column.metric(
        label or title,
        shown(value),
        delta=delta,
        help=f"Exactly {exact(value)}. {help_for(title)}",
    )


# --- filters --------------------------------------------------------------------------------


def as_of_caption(refresh_seconds: int = 0) -> date:
    as_of = queries.headline().as_of_date.date()
    refresh = f" Refreshes every {_duration(refresh_seconds)}." if refresh_seconds else ""
    st.caption(f"As of {as_of:%Y-%m-%d}, the last simulated day in the warehouse.{refresh}")
    return as_of


def _duration(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


# Filters keep their values from page to page and in the URL, so a link reproduces the view.
# Streamlit forgets a widget's value when the page that drew it is left, so each filter keeps a
# copy of what the reader chose under KEPT + key (its on_change) and is drawn from it on every
# page; its value goes in the URL as ?<key>=… (repeated for several values), read while the
# reader has chosen nothing.
KEPT = "kept:"


def _keep(key: str) -> None:
    st.session_state[KEPT + key] = st.session_state[key]


def _restore(key: str, initial: Callable[[], object]) -> None:
    """Set the widget's value before it is drawn: the value the reader chose, by the widget or
    by opening a link (kept), else `initial()`, worked out again on every run, so an untouched
    range follows the data when a publish adds a day."""
    kept = st.session_state.get(KEPT + key)
    st.session_state[key] = kept if kept is not None else initial()


def _in_url(key: str, values: list[str] | None) -> None:
    """Show the filter in the URL; None (the default) takes it out."""
    if values is None:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = values


def date_range_filter() -> tuple[date, date]:
    """The data's first to last day by default, orders and clickstream events alike."""
    first, last = queries.data_range()

    def from_url() -> tuple[date, date]:
        try:
            days = sorted(date.fromisoformat(day) for day in st.query_params.get_all("date_range"))
        except ValueError:
            return first, last
        if len(days) != 2 or days[0] < first or days[1] > last:
            return first, last
        st.session_state[KEPT + "date_range"] = (days[0], days[1])  # a link's choice holds
        return days[0], days[1]

    _restore("date_range", from_url)
    chosen = st.sidebar.date_input(
        "Date range",
        min_value=first,
        max_value=last,
        key="date_range",
        on_change=_keep,
        args=("date_range",),
    )
    start, end = first, last
    if isinstance(chosen, tuple) and len(chosen) == 2:
        start, end = chosen
    elif isinstance(chosen, tuple) and len(chosen) == 1:
        start = end = chosen[0]  # while a range is half picked: that one day
    whole = (start, end) == (first, last)
    _in_url("date_range", None if whole else [start.isoformat(), end.isoformat()])
    return start, end


def choice_filter(label: str, options: list[str], key: str, everything: str) -> list[str]:
    """Every option as a pill, none picked at first; what nothing picked means is said under
    them (`everything`: "All categories"). A pill is one click, where a drop-down box took two
    and drew its list first (0.1–0.25 s of a filter change)."""

    def from_url() -> list[str]:
        linked = [value for value in st.query_params.get_all(key) if value in options]
        if linked:
            st.session_state[KEPT + key] = linked  # a link's choice holds
        return linked

    _restore(key, from_url)
    st.session_state[key] = [value for value in st.session_state[key] if value in options]
    chosen = st.sidebar.pills(
        label, options, selection_mode="multi", key=key, on_change=_keep, args=(key,)
    )
    if chosen:
        st.sidebar.caption(f"{len(chosen)} of {len(options)} chosen; unpick them all for all.")
    else:
        st.sidebar.caption(f"Nothing picked: {everything.lower()}. Pick any to narrow.")
    _in_url(key, chosen or None)
    return chosen or options


def refresh_seconds(page: str) -> int:
    """The page's auto-refresh interval (LAKEHOUSE_APP_REFRESH_<PAGE>_SECONDS)."""
    return load_concern(DashboardSettings).refresh_seconds(page)


def auto_refresh(page: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Run a page's body as a fragment that re-runs on its own every interval, re-reading the
    warehouse (a newly published file is attached by its next query, app/data.py); the sidebar
    filters stay outside, so a refresh keeps the user's choices."""
    seconds = refresh_seconds(page)
    return st.fragment(run_every=seconds or None)


# --- cards ----------------------------------------------------------------------------------


def card(title: str, scope: str) -> None:
    """A card's title, with its glossary definition as the help tooltip, and what it covers."""
    st.subheader(title, help=help_for(title))
    st.caption(scope)


def has_data(frame: pd.DataFrame, values: list[str]) -> bool:
    """Whether any figure is there to draw: rows with a value that is neither null nor zero."""
    if frame.empty:
        return False
    numbers = frame[values].apply(pd.to_numeric, errors="coerce").fillna(0)
    return bool((numbers != 0).to_numpy().any())


def chart(
    figure: Callable[..., Chart], frame: pd.DataFrame, *, values: list[str], **options: object
) -> None:
    """A chart of `frame` by `figure(frame, **options)`, or "No data for this range." instead of
    empty axes when none of its `values` columns holds a figure."""
    if not has_data(frame, values):
        st.info(NO_DATA)
        return
    draw(figure(frame, **options))


def draw(drawn: Chart) -> None:
    """A chart as wide as its column, in Streamlit's theme."""
    st.vega_lite_chart(drawn.data, drawn.spec, width="stretch")


# --- tables ---------------------------------------------------------------------------------

MONEY = "dollar"
COUNT = "localized"
PERCENT = "percent"  # a fraction 0–1 shown as 12.34%

# Every column a table shows: its human label and, for numbers, its format.
COLUMNS: dict[str, tuple[str, str | None]] = {
    "product_name": ("Product", None),
    "category": ("Category", None),
    "orders": ("Revenue orders", COUNT),
    "units": ("Units sold", COUNT),
    "revenue": ("Revenue", MONEY),
    "average_item_value": ("Average item value", MONEY),
    "stock_quantity": ("In stock", COUNT),
    "units_last_90_days": ("Units sold, last 90 days", COUNT),
    "inventory_status": ("Status", None),
    "customer_name": ("Customer", None),
    "email": ("Email", None),
    "customer_segment": ("Segment (current)", None),
    "total_orders": ("Revenue orders", COUNT),
    "lifetime_value": ("Lifetime value", MONEY),
    "average_order_value": ("Average order value", MONEY),
    "device_type": ("Device", None),
    "events": ("Events", COUNT),
    "sessions": ("Sessions", COUNT),
    "views": ("Page views", COUNT),
    "carts": ("Cart adds", COUNT),
    "purchases": ("Purchases", COUNT),
    "purchase_sessions": ("Purchase sessions", COUNT),
    "viewed_sessions": ("Viewed", COUNT),
    "cart_sessions": ("Added to cart", COUNT),
    "view_to_cart_rate": ("View → cart", PERCENT),
    "cart_to_purchase_rate": ("Cart → purchase", PERCENT),
    "session_conversion_rate": ("Conversion", PERCENT),
    "customers": ("Customers", COUNT),
    "last_order_date": ("Last order", None),
    "days_since_last_order": ("Days silent", COUNT),
    "average_days_between_orders": ("Usual gap (days)", "%.1f"),
    "yearly_revenue": ("Revenue a year", MONEY),
    # data health
    "state": ("State", None),
    "started_at": ("Started (UTC)", None),
    "finished_at": ("Finished (UTC)", None),
    "window_start": ("Window start", None),
    "window_end": ("Window end", None),
    "window": ("Window", None),
    "rows_landed": ("Rows landed", COUNT),
    "quarantined": ("Quarantined", COUNT),
    "gate": ("Gate", None),
    "published": ("Published", None),
    "late_data": ("Past days changed", None),
    "reason": ("Reason", None),
    "flow": ("Flow", None),
    "run_name": ("Run", None),
    "parameters": ("Parameters", None),
    "gate_summary": ("Gate summary", None),
    "model": ("Model", None),
    "rows": ("Rows", COUNT),
    "contract": ("Contract", None),
    "column": ("Column", None),
    "check": ("Check", None),
    "outcome": ("Outcome", None),
    "value": ("Observed", None),
    "threshold": ("Threshold", None),
    "level": ("Level", None),
    "source": ("Source", None),
    "status": ("Status", None),
    "newest_day": ("Newest day", None),
    "data_age_days": ("Data age (days)", COUNT),
    "last_loaded_at": ("Last loaded (UTC)", None),
    "load_age_hours": ("Load age (hours)", "%.1f"),
    "note": ("Note", None),
    "last_ingested_at": ("Last ingested (UTC)", None),
    "watermark": ("Watermark (UTC)", None),
    "records_read": ("Records read", COUNT),
    "landed": ("Landed", COUNT),
}


def column_config(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> dict:
    """Labels and number formats for every column of a table; an unknown column is a bug."""
    config: dict[str, object] = {}
    for name in frame.columns:
        if name not in COLUMNS:
            raise KeyError(f"column {name!r} has no label: add it to app/layout.py COLUMNS")
        label, number_format = COLUMNS[name]
        label = (labels or {}).get(name, label)
        if number_format and pd.api.types.is_numeric_dtype(frame[name]):
            config[name] = st.column_config.NumberColumn(label, format=number_format)
        else:
            config[name] = st.column_config.Column(label)
    return config


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas (CSV injection, OWASP).

    Text that starts with = + - @ or a tab or carriage return gets a leading apostrophe; numbers
    are left as they are, so a negative amount stays a number.
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda value: (
                    f"'{value}"
                    if isinstance(value, str) and value.startswith(FORMULA_STARTS)
                    else value
                )
            )
    return safe


ISO_TIMESTAMP = r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?\+00:00$"


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for display: missing text as —, ISO timestamps as 2026-11-29 09:41:13 (the
    column's label says UTC: a narrower column)."""
    shown = frame.copy()
    for name in shown.columns:
        if shown[name].dtype == object or pd.api.types.is_string_dtype(shown[name]):
            text = shown[name].astype("string")
            text = text.str.replace(ISO_TIMESTAMP, r"\1 \2", regex=True)
            shown[name] = text.fillna(MISSING)
    return shown


def timestamp(value: object) -> str:
    """One ISO timestamp as a sentence says it: 2026-11-29 09:41:13 UTC."""
    if is_missing(value):
        return MISSING
    return readable(pd.DataFrame({"t": [value]})).t.iloc[0] + " UTC"


# Text columns that can run long: a fixed width, the rest of the text on hover, so the table
# fits its column at 1280 px.
LONG_TEXT: dict[str, str | int] = {
    "reason": "medium",
    "late_data": 140,
    "threshold": "medium",
    "note": "medium",
    "contract": "medium",
    "email": "medium",
    "product_name": "medium",
}


def table(
    frame: pd.DataFrame,
    name: str,
    labels: dict[str, str] | None = None,
    shown: list[str] | None = None,
) -> None:
    """A table with human column labels, formatted numbers and readable text, and its data as
    CSV (the CSV keeps every column, `shown` or not, with its name and full precision: it is
    for machines)."""
    if frame.empty:
        st.info(NO_DATA)
        return
    visible = frame[shown] if shown else frame
    config = column_config(visible, labels)
    for column in LONG_TEXT.keys() & set(visible.columns):
        config[column]["width"] = LONG_TEXT[column]
    st.dataframe(readable(visible), hide_index=True, width="stretch", column_config=config)
    st.download_button(
        "Download CSV",
        lambda: csv_safe(frame).to_csv(index=False),  # written on click, not on every rerun
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
        on_click="ignore",
    )

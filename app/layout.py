"""Shared page pieces: filters, card titles, tables with a CSV download."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app import queries
from app.glossary import help_for


def as_of_caption() -> date:
    as_of = queries.headline().as_of_date.date()
    st.caption(f"As of {as_of:%Y-%m-%d}, the last simulated day in the warehouse.")
    return as_of


def date_range_filter() -> tuple[date, date]:
    first, last = queries.data_range()
    chosen = st.sidebar.date_input(
        "Date range", value=(first, last), min_value=first, max_value=last, key="date_range"
    )
    if isinstance(chosen, tuple) and len(chosen) == 2:
        return chosen[0], chosen[1]
    return first, last  # while a range is half picked


def choice_filter(label: str, options: list[str], key: str) -> list[str]:
    chosen = st.sidebar.multiselect(label, options, default=options, key=key)
    return chosen or options  # nothing picked means everything


def card(title: str) -> None:
    """A card's title, with its glossary definition as the help tooltip."""
    st.subheader(title, help=help_for(title))


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


def table(frame: pd.DataFrame, name: str, money: list[str] = ()) -> None:
    config = {column: st.column_config.NumberColumn(format="$%.2f") for column in money}
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)
    st.download_button(
        "Download CSV",
        csv_safe(frame).to_csv(index=False),
        file_name=f"{name}.csv",
        key=f"csv-{name}",
    )

"""Data access: short-lived read-only connections to the published warehouse, cached per version."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from flows.settings import load_settings


class WarehouseMissing(RuntimeError):
    """Nothing has been published yet."""


def warehouse_path() -> Path:
    return load_settings().warehouse_path


def warehouse_version(path: Path) -> str:
    """Changes whenever a new file is published (publish replaces the file by rename)."""
    stat = path.stat()
    return f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"


@st.cache_data(show_spinner=False, max_entries=256)
def _query(path: str, version: str, sql: str, params: tuple = ()) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as connection:
        return connection.execute(sql, list(params)).df()


def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    """Run a select on the published warehouse; the connection is closed before returning."""
    path = warehouse_path()
    if not path.exists():
        raise WarehouseMissing(str(path))
    return _query(str(path), warehouse_version(path), sql, params)

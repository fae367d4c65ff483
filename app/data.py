"""Data access: the published warehouse attached read-only, re-attached when it is replaced.

One in-memory DuckDB connection attaches the published file read-only, and the ops database
published beside it (run history, the last gate, ingestion state) as `ops`; each query runs on
its own cursor. When a publish renames a new file over the old one, the file's identity changes, the
next query attaches the new file, and results are cached per identity. The pipeline never waits
for the dashboard: it builds another file and renames it into place.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from flows.settings import StorageSettings, load_concern


class WarehouseMissing(RuntimeError):
    """Nothing has been published yet."""


_lock = threading.Lock()
_attached: dict[str, object] = {"version": None, "connection": None}


def warehouse_path() -> Path:
    """The published file's path; settings are parsed once per distinct environment (every
    query asks, and parsing them costs milliseconds)."""
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LAKEHOUSE_")))
    return _warehouse_path(environment, Path.cwd())


@functools.lru_cache(maxsize=16)
def _warehouse_path(environment: tuple[tuple[str, str], ...], cwd: Path) -> Path:
    return load_concern(StorageSettings).warehouse_path


def ops_path(warehouse: Path) -> Path:
    """Where the pipeline publishes ops (flows/operations/ops.py::ops_path)."""
    return warehouse.with_name("ops.duckdb")


def file_version(path: Path) -> str:
    """Changes whenever a new file is published (publish replaces the file by rename)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return f"{path}:none"
    return f"{path}:{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"


def warehouse_version(path: Path) -> str:
    """The identity of what is published: the warehouse and its ops database."""
    return f"{file_version(path)}|{file_version(ops_path(path))}"


def _cursor(path: str, version: str) -> duckdb.DuckDBPyConnection:
    with _lock:
        if _attached["version"] != version:
            connection = duckdb.connect()
            quoted = path.replace("'", "''")
            connection.execute(f"attach '{quoted}' as warehouse (read_only)")
            ops = str(ops_path(Path(path))).replace("'", "''")
            if Path(ops_path(Path(path))).exists():
                connection.execute(f"attach '{ops}' as ops (read_only)")
            connection.execute("use warehouse")
            # the previous connection closes once its last cursor is gone
            _attached.update(version=version, connection=connection)
        cursor = _attached["connection"].cursor()  # type: ignore[union-attr]
    cursor.execute("use warehouse")
    return cursor


@st.cache_data(show_spinner=False, max_entries=512)
def _query(path: str, version: str, sql: str, params: tuple = ()) -> pd.DataFrame:
    cursor = _cursor(path, version)
    try:
        return cursor.execute(sql, list(params)).df()
    finally:
        cursor.close()


def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    """Run a select on the published warehouse (and `ops`, when published)."""
    path = warehouse_path()
    if not path.exists():
        raise WarehouseMissing(str(path))
    return _query(str(path), warehouse_version(path), sql, params=params)


def clear_cache() -> None:
    """Forget every cached query result (a benchmark's uncached baseline starts from here)."""
    _query.clear()


def has_ops() -> bool:
    """Whether a pipeline run has published ops yet."""
    return ops_path(warehouse_path()).exists()

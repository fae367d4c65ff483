"""`lakehouse doctor`: try each thing a run needs, say what works and how to fix what does not.

Every check really does the thing (writes and reads a probe object in the lake, loads httpfs
and reads the probe through it, opens the shop database, asks the catalog API and Prefect for
an answer), bounded by short timeouts, and one failure never stops the others.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from flows.runtime.logs import scrub, secrets_of
from flows.settings import Settings

TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _lake(settings: Settings) -> str:
    from flows.lake.partitions import Lake

    lake = Lake.from_settings(settings)
    probe = f"_doctor/probe-{uuid.uuid4().hex}.txt"
    payload = b"lakehouse doctor probe"
    if not settings.storage.is_s3_lake:  # a new lake is a folder that does not exist yet
        lake.fs.create_dir(lake.path("_doctor"), recursive=True)
    with lake.fs.open_output_stream(lake.path(probe)) as stream:
        stream.write(payload)
    try:
        with lake.fs.open_input_stream(lake.path(probe)) as stream:
            if stream.read() != payload:
                raise OSError("the probe read back differs from what was written")
        if settings.storage.is_s3_lake:  # the path dbt and ingestion read S3 by: DuckDB's httpfs
            from flows.runtime.duck import connect

            with connect(settings) as connection:
                text = connection.execute(
                    "select content from read_text(?)", [lake.uri(lake.path(probe))]
                ).fetchone()[0]
            if text.encode() != payload:
                raise OSError("DuckDB read the probe back differently")
    finally:
        lake.fs.delete_file(lake.path(probe))
    how = "pyarrow and DuckDB httpfs" if settings.storage.is_s3_lake else "the local filesystem"
    return f"{settings.storage.lake_uri}: probe written, read back ({how}) and removed"


def _httpfs(settings: Settings) -> str:
    import duckdb

    with duckdb.connect() as connection:
        connection.execute("set autoinstall_known_extensions = false")
        connection.execute("load httpfs")
        version = connection.execute(
            "select extension_version from duckdb_extensions() where extension_name = 'httpfs'"
        ).fetchone()[0]
    return f"httpfs {version} loads (from its pip package)"


def _source_database(settings: Settings) -> str:
    url = settings.sources.source_db_url.get_secret_value()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        if settings.sources.simulate_sources:
            return (
                f"{settings.sources.source_db_display}: not created yet (the first run creates it)"
            )
        raise FileNotFoundError(f"{settings.sources.source_db_display} does not exist")
    from flows.runtime.duck import connect
    from flows.sources.shop_database import attach_shop

    with connect(settings) as connection:
        attach_shop(connection, url)
        tables = connection.execute(
            "select count(*) from duckdb_tables() where database_name = 'shop'"
        ).fetchone()[0]
    return f"{settings.sources.source_db_display}: reachable, {tables} tables"


def _catalog_api(settings: Settings) -> str:
    if not settings.sources.catalog_api_url:
        if not settings.sources.simulate_sources:
            raise ValueError("not set: real sources need the catalog API's URL")
        return "embedded: each run serves the simulated catalog on loopback"
    url = settings.sources.catalog_api_url.rstrip("/") + "/products"
    response = httpx.get(url, params={"limit": 1, "page": 1}, timeout=TIMEOUT_SECONDS)
    response.raise_for_status()
    return f"{url}: HTTP {response.status_code}"


def _prefect_api(settings: Settings) -> str:
    api = os.environ.get("PREFECT_API_URL", "")
    if not api:
        return "none configured: each command starts a temporary Prefect server"
    response = httpx.get(api.rstrip("/") + "/health", timeout=TIMEOUT_SECONDS)
    response.raise_for_status()
    return f"{api}: healthy"


def _resources(settings: Settings) -> str:
    folder = settings.duckdb.temp_directory
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{folder} is not writable")
    threads = settings.duckdb.thread_count
    return f"memory {settings.duckdb.memory_limit}, {threads} threads, spill to {folder}"


CHECKS: list[tuple[str, Callable[[Settings], str], str]] = [
    (
        "lake",
        _lake,
        "check LAKEHOUSE_LAKE_ROOT and, for s3://, LAKEHOUSE_S3_ENDPOINT_URL and its credentials",
    ),
    ("duckdb httpfs", _httpfs, "make install (installs duckdb-extension-httpfs)"),
    ("shop database", _source_database, "check LAKEHOUSE_SOURCE_DB_URL"),
    (
        "catalog API",
        _catalog_api,
        "check LAKEHOUSE_CATALOG_API_URL (empty: the embedded one, with simulated sources)",
    ),
    ("Prefect API", _prefect_api, "start the server (prefect server start) or unset it"),
    (
        "duckdb resources",
        _resources,
        "check LAKEHOUSE_DUCKDB_TEMP_DIRECTORY, _MEMORY_LIMIT and _THREADS",
    ),
]


def diagnose(settings: Settings) -> list[Check]:
    """Every check, in order; a failure is one line naming what failed and why."""
    results = []
    secrets = secrets_of(settings)
    for name, probe, fix in CHECKS:
        try:
            results.append(Check(name, True, probe(settings)))
        except Exception as error:  # each failure is reported, none stops the others
            reason = " ".join(str(error).split()) or type(error).__name__
            results.append(Check(name, False, scrub(reason, secrets), fix=fix))
    return results

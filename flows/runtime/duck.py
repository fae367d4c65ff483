"""DuckDB connections for the pipeline's own work: bounded, in UTC, able to read S3 and the shop.

Every connection gets the settings' memory limit, threads and spill folder (DuckDB's default
would take 80% of RAM), and one S3 secret derived from the settings, so that an endpoint is
written once, in the settings.
"""

from __future__ import annotations

from urllib.parse import urlparse

import duckdb

from flows.settings import Settings


def connect(settings: Settings, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(database, config=settings.duckdb.config())
    connection.execute("set TimeZone = 'UTC'")
    connection.execute("set autoinstall_known_extensions = false")
    if settings.storage.is_s3_lake or settings.sources.landing_root.startswith("s3://"):
        connection.execute("load httpfs")
        connection.execute(s3_secret_sql(settings))
    return connection


def s3_secret_sql(settings: Settings) -> str:
    """The S3 secret of the settings, as DuckDB's CREATE SECRET (credentials chain if no key)."""
    options = [f"region '{settings.s3.region}'", f"url_style '{settings.s3.url_style}'"]
    if settings.s3.endpoint_url:
        endpoint = urlparse(settings.s3.endpoint_url)
        options += [f"endpoint '{endpoint.netloc}'", f"use_ssl {endpoint.scheme == 'https'}"]
    if settings.s3.access_key_id:
        secret = settings.s3.secret_access_key.get_secret_value().replace("'", "''")
        options += [f"key_id '{settings.s3.access_key_id}'", f"secret '{secret}'"]
    else:
        options.append("provider credential_chain")
    return f"create or replace temporary secret lakehouse_s3 (type s3, {', '.join(options)})"


def quoted(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"

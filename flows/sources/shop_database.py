"""The shop database opened in DuckDB, read-only: the one way the pipeline reaches it.

SQLite keeps whatever a writer stored, so its columns are read as text (sqlite_all_varchar)
and typed by the checks; PostgreSQL columns are cast to text where they are read. A database
that cannot be opened is one line naming it, never with its password.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from flows.runtime.duck import quoted
from flows.sources.contract import DatabaseUnavailable, redact_url, scrub

SHOP = "shop"  # the attached database's name


def attach_shop(connection: duckdb.DuckDBPyConnection, url: str) -> None:
    """Attach the shop database read-only as `shop`; every column reads as text.

    SQLite keeps whatever a writer stored, so its columns are read as text (sqlite_all_varchar)
    and typed by the checks; PostgreSQL columns are cast to text in `shop_changes`.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise DatabaseUnavailable(
                f"shop database {path} does not exist: run `lakehouse generate`, "
                "or set LAKEHOUSE_SOURCE_DB_URL to the database to read"
            )
        connection.execute("set sqlite_all_varchar = true")
        target, kind = str(path), "sqlite"
    else:
        target, kind = url.replace("postgres://", "postgresql://", 1), "postgres"
    try:
        connection.execute(f"attach {quoted(target)} as {SHOP} (type {kind}, read_only)")
    except duckdb.Error as error:
        reason = scrub(" ".join(str(error).split()), [urlsplit(url).password or ""])
        raise DatabaseUnavailable(
            f"shop database {redact_url(url)} cannot be opened: {reason}; "
            "check LAKEHOUSE_SOURCE_DB_URL"
        ) from None


def shop_engine(connection: duckdb.DuckDBPyConnection) -> str:
    return connection.execute(
        f"select type from duckdb_databases() where database_name = '{SHOP}'"
    ).fetchone()[0]

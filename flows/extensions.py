"""DuckDB extensions from pip packages: there is no network to download them from."""

from __future__ import annotations

import duckdb
import duckdb_extensions


def install_httpfs() -> None:
    """Install httpfs (for s3://) from its pip package into DuckDB's extension directory."""
    with duckdb.connect() as connection:
        duckdb_extensions.import_extension("httpfs", con=connection)
        connection.execute("load httpfs")


if __name__ == "__main__":
    install_httpfs()
    print("duckdb httpfs extension installed from the duckdb-extension-httpfs package")

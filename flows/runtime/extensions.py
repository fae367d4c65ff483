"""DuckDB extensions from pip packages: there is no network to download them from."""

from __future__ import annotations

import duckdb
import duckdb_extensions

# httpfs: the lake on S3; the scanners: the shop database; json: the landing zone.
EXTENSIONS = ("httpfs", "json", "sqlite_scanner", "postgres_scanner")


def install_extensions() -> None:
    """Install each extension from its pip package into DuckDB's extension directory."""
    with duckdb.connect() as connection:
        for name in EXTENSIONS:
            duckdb_extensions.import_extension(name, con=connection)
            connection.execute(f"load {name}")


if __name__ == "__main__":
    install_extensions()
    print(f"duckdb extensions installed from their pip packages: {', '.join(EXTENSIONS)}")

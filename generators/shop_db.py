"""The shop's OLTP database: SQLite by default, PostgreSQL by URL; the simulator writes each day.

The schema mirrors the original's: primary keys, foreign keys and CHECK constraints. In dirty
mode it is created without the constraints the anomalies break (a legacy replica that never
enforced them), so that bad rows can exist for ingestion to catch.

Each table keeps a change log, `<table>_changes`, filled by triggers on every insert and update
whoever the writer is, as a CDC outbox does: a row changed twice between two extractions keeps
both versions there, while the table itself holds only the current one. The tables, keys and
change log are the pipeline's contract with any shop database (flows/sources/contract.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from flows.sources.contract import (
    SHOP_KEYS,
    SHOP_TABLES,
    DatabaseUnavailable,
    change_log_sql,
    redact_url,
    scrub,
)
from generators.weights import ORDER_STATUSES, PAYMENT_METHODS, SEGMENTS

TABLES, KEYS = SHOP_TABLES, SHOP_KEYS
BATCH_ROWS = 50_000  # rows per executemany: bounded memory whatever the day's size


def _values(names: object) -> str:
    return ", ".join(f"'{name}'" for name in names)  # type: ignore[union-attr]


def schema_sql(strict: bool, timestamp: str) -> list[str]:
    """DDL for both engines; `timestamp` is the engine's UTC timestamp type."""
    required = "not null" if strict else ""
    quantity_check = "check (quantity > 0)" if strict else ""
    return [
        f"""create table if not exists customers (
            customer_id bigint primary key,
            first_name varchar(100) not null,
            last_name varchar(100) not null,
            email varchar(255) not null,
            city varchar(100),
            country varchar(2),
            segment varchar(20) not null check (segment in ({_values(SEGMENTS)})),
            created_at {timestamp} not null,
            updated_at {timestamp} not null
        )""",
        f"""create table if not exists orders (
            order_id bigint primary key,
            customer_id bigint {required} references customers (customer_id),
            order_at {timestamp} not null,
            status varchar(20) not null check (status in ({_values(ORDER_STATUSES)})),
            payment_method varchar(20) not null
                check (payment_method in ({_values(PAYMENT_METHODS)})),
            total_amount numeric(12, 2) not null check (total_amount >= 0),
            updated_at {timestamp} not null
        )""",
        f"""create table if not exists order_items (
            order_item_id bigint primary key,
            order_id bigint not null references orders (order_id),
            product_id bigint not null,
            quantity integer not null {quantity_check},
            unit_price numeric(12, 2) not null check (unit_price > 0),
            discount_amount numeric(12, 2) not null default 0 check (discount_amount >= 0),
            updated_at {timestamp} not null
        )""",
    ]


@dataclass
class ShopDatabase:
    """A connection to the shop database with the simulator's write operations."""

    url: str
    connection: Any
    engine: str  # "sqlite" or "postgresql"

    @classmethod
    @contextmanager
    def connect(cls, url: str, create: bool = False) -> Iterator[ShopDatabase]:
        """Open the database; only the simulator (`create`) may bring a new SQLite file into being.

        A reader that finds no file fails rather than reading an empty database it just made.
        """
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not create and not path.exists():
                raise DatabaseUnavailable(
                    f"shop database {path} does not exist: run `lakehouse generate`, "
                    "or set LAKEHOUSE_SOURCE_DB_URL to the database to read"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            # the simulator writes from a thread of its own (generators/sources.py), one at a time
            connection = sqlite3.connect(path, check_same_thread=False)
            connection.execute("pragma foreign_keys = on")
            connection.execute("pragma journal_mode = wal")
            engine = "sqlite"
        else:
            connection = _connect_postgresql(url)
            engine = "postgresql"
        try:
            yield cls(url, connection, engine)
        finally:
            connection.close()

    @property
    def _placeholder(self) -> str:
        return "?" if self.engine == "sqlite" else "%s"

    def create_schema(self, strict: bool = True) -> None:
        timestamp = "timestamp" if self.engine == "sqlite" else "timestamptz"
        cursor = self.connection.cursor()
        for statement in [*schema_sql(strict, timestamp), *change_log_sql(self.engine, timestamp)]:
            cursor.execute(statement)
        self.connection.commit()

    def apply(self, changes: dict[str, pa.Table], commit: bool = True) -> dict[str, int]:
        """Upsert a day's new and changed rows, in one transaction; returns rows per table.

        `commit=False` leaves the transaction open for the caller to add to and commit (or
        roll back); on an error it is rolled back here either way.
        """
        cursor = self.connection.cursor()
        written = {}
        try:
            for table_name in TABLES:
                table = changes.get(table_name)
                if table is None or table.num_rows == 0:
                    written[table_name] = 0
                    continue
                columns = table.column_names
                updates = ", ".join(
                    f"{column} = excluded.{column}"
                    for column in columns
                    if column != KEYS[table_name]
                )
                statement = (
                    f"insert into {table_name} ({', '.join(columns)}) "
                    f"values ({', '.join([self._placeholder] * len(columns))}) "
                    f"on conflict ({KEYS[table_name]}) do update set {updates}"
                )
                for batch in table.to_batches(BATCH_ROWS):
                    cursor.executemany(statement, self._rows(batch))
                written[table_name] = table.num_rows
            if commit:
                self.connection.commit()
        except Exception:
            self.connection.rollback()
            raise
        return written

    def _rows(self, batch: pa.RecordBatch) -> Iterator[tuple]:
        """The batch's rows as parameter tuples, converted column by column (not row by row).

        SQLite gets fixed-width UTC text timestamps and decimal text; PostgreSQL native values.
        """
        columns = []
        for column in batch.columns:
            if self.engine == "sqlite" and pa.types.is_timestamp(column.type):
                column = pc.strftime(column.cast(pa.timestamp("us", "UTC")), SQLITE_TIMESTAMP)
            elif self.engine == "sqlite" and pa.types.is_decimal(column.type):
                column = column.cast(pa.string())
            columns.append(column.to_pylist())
        return zip(*columns, strict=True)

    def read(self, table_name: str) -> list[tuple]:
        """Every row of a table, by primary key, with values as Python types."""
        cursor = self.connection.cursor()
        cursor.execute(f"select * from {table_name} order by {KEYS[table_name]}")
        return [tuple(_normalized(value) for value in row) for row in cursor.fetchall()]

    def count(self, table_name: str) -> int:
        cursor = self.connection.cursor()
        cursor.execute(f"select count(*) from {table_name}")
        return int(cursor.fetchone()[0])


def _connect_postgresql(url: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=10)
    except psycopg.Error as error:
        reason = scrub(" ".join(str(error).split()), [urlsplit(url).password or ""])
        raise DatabaseUnavailable(
            f"shop database {redact_url(url)} cannot be opened: {reason}; "
            "check LAKEHOUSE_SOURCE_DB_URL"
        ) from None


SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S"  # Arrow's %S carries the microseconds: .ffffff


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _normalized(value: object) -> object:
    """The same value whichever engine returned it: UTC text timestamps, two-decimal money."""
    if isinstance(value, datetime):
        return _sqlite_value(value)
    if isinstance(value, float | Decimal):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return value

"""What the pipeline and its three source systems agree on, written once.

The pipeline reads its sources only through their interfaces (SQL, HTTP, files) and never
imports the simulator; the embedded simulator (generators/) implements the same interfaces from
this module, as a real shop would implement them from its documentation:

- Shop database: the tables, their keys and columns, and the change log every table keeps
  (`<table>_changes`, one row per insert or update, filled by triggers whoever the writer is:
  a CDC outbox), with its DDL for SQLite and PostgreSQL.
- Clickstream landing zone: one NDJSON file per hour of arrival,
  `clickstream/YYYY/MM/DD/events-YYYYMMDDHH.ndjson` under its root, each file written whole.
- Catalog REST API: FakeStore-compatible `GET /products?date=YYYY-MM-DD&limit=N&page=P`,
  `X-Total-Count` with the number of products, at most `CATALOG_MAX_PAGE_SIZE` a page.
- The error a shop database that cannot be opened raises, with one line naming it, and how a
  source's URL is shown: without its password.

Nothing here does I/O or imports the pipeline's stages: both sides can import it cheaply.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit, urlunsplit

SOURCES = ("catalog", "shop", "clickstream")  # the source systems, in the order they are read


def redact_url(url: str) -> str:
    """A URL as it may be shown: the password of its user part replaced, app:***@host/db.

    Every message, log line and record that names a source's URL goes through here.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def scrub(text: str, secrets: list[str]) -> str:
    """Free text (an error, a log line) with every secret in it replaced by ***."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# --- shop database --------------------------------------------------------------------------

SHOP_TABLES = ("customers", "orders", "order_items")  # in foreign-key order
SHOP_KEYS = {"customers": "customer_id", "orders": "order_id", "order_items": "order_item_id"}
SHOP_COLUMNS = {
    "customers": (
        "customer_id", "first_name", "last_name", "email", "city", "country", "segment",
        "created_at", "updated_at",
    ),
    "orders": (
        "order_id", "customer_id", "order_at", "status", "payment_method", "total_amount",
        "updated_at",
    ),
    "order_items": (
        "order_item_id", "order_id", "product_id", "quantity", "unit_price", "discount_amount",
        "updated_at",
    ),
}  # fmt: skip
MONEY_COLUMNS = ("total_amount", "unit_price", "discount_amount")


# Optional: a database may name itself in this one-row, one-column table (`identity`); the
# pipeline records the name with the database's URL, so a lake never mixes two databases. The
# embedded shop writes its world there (seed, scale factor, start date, simulator version).
SOURCE_IDENTITY_TABLE = "source_identity"


class DatabaseUnavailable(RuntimeError):
    """The shop database cannot be opened; the message names it, never with its password."""


def changes_table(table: str) -> str:
    """The change log of `table`: one row per insert or update, in commit order."""
    return f"{table}_changes"


def _log_type(column: str, timestamp: str) -> str:
    """Column types of a change table: as the table's, without its constraints."""
    if column.endswith("_at"):
        return timestamp
    if column in MONEY_COLUMNS:
        return "numeric(12, 2)"
    if column.endswith("_id") or column == "quantity":
        return "bigint"
    return "varchar(255)"


def change_log_sql(engine: str, timestamp: str) -> list[str]:
    """The change tables and the triggers that fill them; `engine` is sqlite or postgresql.

    `change_id` ascends in commit order: the pipeline reads a table's changes past the last
    change id it has read (re-reading a little behind it for commits that landed late).
    """
    statements = []
    for table, columns in SHOP_COLUMNS.items():
        log = changes_table(table)
        names = ", ".join(columns)
        values = ", ".join(f"new.{column}" for column in columns)
        change_id = (
            "change_id integer primary key"  # the rowid: ascending, as long as none is deleted
            if engine == "sqlite"
            else "change_id bigint generated always as identity primary key"
        )
        statements.append(
            f"""create table if not exists {log} (
                {change_id},
                {", ".join(f"{column} {_log_type(column, timestamp)}" for column in columns)}
            )"""
        )
        if engine == "sqlite":
            statements += [
                f"""create trigger if not exists {log}_{event} after {event} on {table}
                begin insert into {log} ({names}) values ({values}); end"""
                for event in ("insert", "update")
            ]
        else:
            statements += [
                f"""create or replace function {log}_capture() returns trigger
                language plpgsql as $$
                begin insert into {log} ({names}) values ({values}); return new; end $$""",
                f"drop trigger if exists {log}_capture on {table}",
                f"""create trigger {log}_capture after insert or update on {table}
                for each row execute function {log}_capture()""",
            ]
    return statements


# --- clickstream landing zone ------------------------------------------------------------------

LANDING_FOLDER = "clickstream"
LANDING_SUFFIX = ".ndjson"


def landing_day_folder(root: str, day: date) -> str:
    """The folder of the hour files that arrived on `day`."""
    return f"{root}/{LANDING_FOLDER}/{day:%Y/%m/%d}"


def landing_hour_path(root: str, received: datetime) -> str:
    """The file that holds the lines received in the hour of `received` (UTC)."""
    return f"{landing_day_folder(root, received)}/events-{received:%Y%m%d%H}{LANDING_SUFFIX}"


def landing_day_prefix(day: date) -> str:
    """The start of the relative path of every hour file that arrived on `day`."""
    return f"{LANDING_FOLDER}/{day:%Y/%m/%d}/"


def landing_file_day(relative: str) -> date:
    """The arrival day of a landing file, from its path relative to the root."""
    year, month, day = relative.removeprefix(f"{LANDING_FOLDER}/").split("/")[:3]
    return date(int(year), int(month), int(day))


def landing_day_sql(relative: str) -> str:
    """DuckDB SQL for the arrival day of a landing file, from its path relative to the root."""
    start = len(LANDING_FOLDER) + 2
    return f"cast(strptime(substr({relative}, {start}, 10), '%Y/%m/%d') as date)"


# --- catalog REST API -------------------------------------------------------------------------

CATALOG_PRODUCTS_PATH = "/products"
CATALOG_DEFAULT_PAGE_SIZE = 50
CATALOG_MAX_PAGE_SIZE = 500  # the most products a page may hold (FakeStore-style APIs cap it)
CATALOG_TOTAL_HEADER = "X-Total-Count"  # optional for a client: a short page ends the catalog
# Where each lake column is in a product's JSON, when the names differ (FakeStore's shape).
CATALOG_FIELDS = {
    "product_id": "$.id",
    "image_url": "$.image",
    "rating_rate": "$.rating.rate",
    "rating_count": "$.rating.count",
    "stock_quantity": "$.stock",
}

"""Read the three sources: rows changed in the shop database, catalog pages, landing files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import pyarrow.fs as pafs

from flows.catalog_client import fetch_products
from flows.schemas import Entity
from generators.shop_db import ShopDatabase

DB_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"


def _bound(database: ShopDatabase, instant: datetime) -> object:
    """A timestamp parameter as the engine compares it (SQLite stores fixed-width UTC text)."""
    if database.engine == "sqlite":
        return instant.astimezone(UTC).strftime(DB_TIMESTAMP)
    return instant


def extract_changed(
    database: ShopDatabase, entity: Entity, since: datetime, until: datetime
) -> list[dict]:
    """Rows of `entity` whose updated_at is in [since, until), as the database holds them."""
    placeholder = "?" if database.engine == "sqlite" else "%s"
    money = {field.name for field in entity.schema if str(field.type).startswith("decimal")}
    columns = ", ".join(
        f"cast(round({name} * 100) as bigint) as {name}" if name in money else name
        for name in entity.schema.names
    )
    cursor = database.connection.cursor()
    cursor.execute(
        f"select {columns} from {entity.name} "
        f"where updated_at >= {placeholder} and updated_at < {placeholder} "
        f"order by updated_at, {entity.key[0]}",
        (_bound(database, since), _bound(database, until)),
    )
    names = entity.schema.names
    stamps = [field.name for field in entity.schema if str(field.type).startswith("timestamp")]
    rows = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        for name in money:
            if row[name] is not None:
                row[name] = _cents(row[name])
        for name in stamps:  # both engines as the same UTC text
            if isinstance(row[name], datetime):
                row[name] = row[name].astimezone(UTC).strftime(DB_TIMESTAMP)
        rows.append(row)
    return rows


def _cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def catalog_records(client: httpx.Client, day: date, page_size: int = 200) -> list[dict]:
    """The catalog as of `day`, in the lake's product columns."""
    return [
        {
            "product_id": product["id"],
            "title": product["title"],
            "description": product.get("description"),
            "category": product["category"],
            "image_url": product.get("image"),
            "rating_rate": (product.get("rating") or {}).get("rate"),
            "rating_count": (product.get("rating") or {}).get("count"),
            "price": product["price"],
            "stock_quantity": product.get("stock"),
            "updated_at": product.get("updated_at"),
            "snapshot_date": day,
        }
        for product in fetch_products(client, day, page_size=page_size)
    ]


@dataclass(frozen=True)
class LandingFile:
    path: str  # inside the landing filesystem
    relative: str  # from the landing root: the name the state and lineage use
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def landing_files(fs: pafs.FileSystem, root: str, day: date) -> list[str]:
    """Hour files that arrived on `day` (the landing zone keeps one folder per arrival day)."""
    folder = f"{root}/clickstream/{day:%Y/%m/%d}"
    selector = pafs.FileSelector(folder, allow_not_found=True)
    return sorted(
        info.path
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File and info.path.endswith(".ndjson")
    )


def read_landing_file(fs: pafs.FileSystem, root: str, path: str) -> LandingFile:
    with fs.open_input_stream(path) as stream:
        data = stream.read()
    return LandingFile(path, path.removeprefix(root).lstrip("/"), data)


def parse_lines(file: LandingFile) -> list[tuple[int, dict | str]]:
    """(line number, record) per line; a line that is not a JSON object stays its text."""
    parsed: list[tuple[int, dict | str]] = []
    for number, line in enumerate(file.data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            parsed.append((number, line))
            continue
        parsed.append((number, record if isinstance(record, dict) else line))
    return parsed

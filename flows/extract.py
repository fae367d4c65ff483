"""Read the three sources into DuckDB, in the shape flows/validation.py checks.

- The shop database is attached with DuckDB's sqlite or postgres extension; its change log
  (`<table>_changes`, filled by triggers) is read past a change-id watermark, so every version of
  a row arrives, however often it changed between two extractions.
- Landing files are read by DuckDB (`read_text`), split into lines and parsed as JSON there.
- Catalog pages come from the REST API; each product is handed to DuckDB as its JSON text.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from flows.catalog_client import fetch_pages
from flows.duck import quoted
from flows.schemas import Entity
from flows.settings import redact_url
from flows.source_contract import (
    CATALOG_MAX_PAGE_SIZE,
    LANDING_FOLDER,
    LANDING_SUFFIX,
    DatabaseUnavailable,
    changes_table,
    landing_day_folder,
    landing_day_prefix,
)
from flows.storage import is_object_store

DB_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
SHOP = "shop"  # the attached database's name
READERS = 8  # landing files read at once from an object store
SHORT_WINDOW_DAYS = 31  # up to this many days, landing folders are listed one by one


# --- shop database ------------------------------------------------------------------------------


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
        password = urlsplit(url).password
        reason = " ".join(str(error).split())
        if password:
            reason = reason.replace(password, "***")
        raise DatabaseUnavailable(
            f"shop database {redact_url(url)} cannot be opened: {reason}; "
            "check LAKEHOUSE_SOURCE_DB_URL"
        ) from None


def shop_engine(connection: duckdb.DuckDBPyConnection) -> str:
    return connection.execute(
        f"select type from duckdb_databases() where database_name = '{SHOP}'"
    ).fetchone()[0]


def _text(column: str, engine: str) -> str:
    return column if engine == "sqlite" else f"cast({column} as varchar)"


def shop_lineage(entity: Entity, row: str = "") -> str:
    """`_source` of a shop row: shop:<table>/<key>@<updated_at as fixed-width UTC text>."""
    key, stamp = f'{row}"{entity.key[0]}"', f"{row}updated_at"
    text = f"coalesce(strftime(try_cast({stamp} as timestamptz), '{DB_TIMESTAMP}'), {stamp})"
    return f"'shop:{entity.name}/' || coalesce({key}, '?') || '@' || coalesce({text}, '?')"


def shop_changes(connection: duckdb.DuckDBPyConnection, entity: Entity, after_change: int) -> str:
    """SQL for the change-log rows after `after_change`, as text, with change_id and lineage."""
    engine = shop_engine(connection)
    names = entity.schema.names
    columns = ", ".join(f'{_text(name, engine)} as "{name}"' for name in names)
    table = f"{SHOP}.{changes_table(entity.name)}"
    return f"""
        select cast(change_id as bigint) as change_id, {columns}
        from {table}
        where cast(change_id as bigint) > {int(after_change)}
    """


def shop_records(entity: Entity, changes: str) -> str:
    """The change rows in the checks' shape; a version read twice is one record."""
    integers = {field.name for field in entity.schema if pa.types.is_integer(field.type)}
    record = ", ".join(
        f"'{name}', "
        + (f'coalesce(to_json(try_cast("{name}" as bigint)), to_json("{name}"))'
           if name in integers else f'to_json("{name}")')
        for name in sorted(entity.schema.names)
    )  # fmt: skip
    return f"""
        select * exclude (change_id),
            cast(json_object({record}) as varchar) as _record,
            {shop_lineage(entity)} as _source,
            cast(try_cast(updated_at as timestamptz) as date) as _fallback_date,
            cast(null as varchar) as _file,
            cast(null as bigint) as _line,
            cast(null as varchar) as _problem
        from ({changes})
        qualify row_number() over (partition by _source order by change_id) = 1
    """


# --- landing zone -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LandingFile:
    path: str  # inside the landing filesystem
    relative: str  # from the landing root: the name the state and lineage use
    size: int


def list_landing(fs: pafs.FileSystem, root: str, days: list[date]) -> list[LandingFile]:
    """The hour files that arrived on `days`.

    A short window lists its day folders; a long one the whole clickstream folder at once (on
    S3 a listing returns 1,000 keys a request, whatever the folders).
    """
    if len(days) <= SHORT_WINDOW_DAYS:
        folders = [landing_day_folder(root, day) for day in days]
    else:
        folders = [f"{root}/{LANDING_FOLDER}"]
    wanted = {landing_day_prefix(day) for day in days}
    width = len(next(iter(wanted), ""))
    files = []
    for folder in folders:
        selector = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
        for info in fs.get_file_info(selector):
            relative = info.path.removeprefix(root).lstrip("/")
            if info.type != pafs.FileType.File or not relative.endswith(LANDING_SUFFIX):
                continue
            if relative[:width] in wanted:
                files.append(LandingFile(info.path, relative, info.size))
    return sorted(files, key=lambda file: file.relative)


def read_landing(
    connection: duckdb.DuckDBPyConnection,
    fs: pafs.FileSystem,
    files: list[LandingFile],
    known: dict[str, str],
) -> None:
    """Register `landing_text` (file, content, sha256, size): the files not ingested before.

    `known` maps a file to the sha256 it had when ingested; a file whose bytes still have it
    is left out. Reading is per file (24 a day whatever the volume; DuckDB's read_text pays
    ~0.3 ms of its own per file), several at once from an object store.
    """

    def read(file: LandingFile) -> bytes:
        with fs.open_input_stream(file.path) as stream:
            return stream.read()

    if is_object_store(fs):  # requests wait on the network: keep several in flight
        with ThreadPoolExecutor(READERS) as pool:
            contents = list(pool.map(read, files))
    else:  # a local read is faster alone than handed to a thread
        contents = [read(file) for file in files]
    shas = [hashlib.sha256(data).hexdigest() for data in contents]
    new = [i for i, file in enumerate(files) if known.get(file.relative) != shas[i]]
    contents = [contents[i] for i in new]
    connection.register(
        "landing_text",
        pa.table(
            {
                "file": pa.array([files[i].relative for i in new], pa.string()),
                "content": _text_array(contents),
                "sha256": pa.array([shas[i] for i in new], pa.string()),
                "size": pa.array([len(data) for data in contents], pa.int64()),
            }
        ),
    )


def _text_array(contents: list[bytes]) -> pa.LargeStringArray:
    """The files as one Arrow text array, built from one buffer; bad UTF-8 becomes U+FFFD."""
    offsets = np.concatenate([[0], np.cumsum([len(data) for data in contents], dtype=np.int64)])
    text = pa.LargeStringArray.from_buffers(
        len(contents), pa.py_buffer(offsets), pa.py_buffer(b"".join(contents))
    )
    try:
        text.validate(full=True)  # UTF-8 of every file at once
    except pa.ArrowInvalid:
        decoded = [data.decode("utf-8", errors="replace") for data in contents]
        return pa.array(decoded, pa.large_string())
    return text


def split_lines(connection: duckdb.DuckDBPyConnection) -> None:
    """Create `landing_lines` (file, number, line) from `landing_text`.

    Blank lines are skipped, as a JSON-lines reader does; numbers count every line.
    """
    connection.execute(
        """
        create or replace temporary table landing_lines as
        with split as (
            select file, string_split(content, chr(10)) as lines from landing_text
        ),
        numbered as (
            select file, generate_subscripts(lines, 1) as number, unnest(lines) as line
            from split
        )
        select * from numbered where trim(line) <> ''
        """
    )


def _structure(paths: list[str]) -> dict:
    """The from_json structure that reads every path as text: {"rating": {"rate": "VARCHAR"}}."""
    structure: dict = {}
    for path in paths:
        node = structure
        *parents, leaf = path.removeprefix("$.").split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = "VARCHAR"
    return structure


def json_records(
    entity: Entity, lines: str, renames: dict[str, str] | None = None, strict_keys: bool = True
) -> str:
    """Lines of JSON objects in the checks' shape: each field as its text.

    Each line is parsed once into a struct of text (numbers keep their JSON spelling, so
    `1.5` stays "1.5" and fails an integer column). `renames` maps a field to the JSON path it
    is read from, when the names differ; with `strict_keys`, a key the entity does not know
    sends the record to quarantine. `lines` has: line, _source, _file, _line, _fallback_date.
    """
    renames = renames or {}
    paths = [renames.get(name, f"$.{name}") for name in entity.schema.names]
    structure = json.dumps(_structure(paths))
    known = ", ".join(quoted(path.removeprefix("$.").split(".")[0]) for path in paths)
    fields = ", ".join(
        f'parsed.value.{path.removeprefix("$.")} as "{name}"'
        for name, path in zip(entity.schema.names, paths, strict=True)
    )
    unknown = (
        f"list_filter(json_keys(line), key -> not list_contains([{known}], key))"
        if strict_keys
        else "[]"
    )
    return f"""
        with objects as (
            select *, coalesce(json_valid(line) and starts_with(ltrim(line), '{{'), false)
                as is_object
            from ({lines})
        ),
        parsed as (
            select *,
                case when is_object then from_json(line, {quoted(structure)}) end as value,
                case when is_object then {unknown} end as unknown_keys
            from objects
        )
        select {fields},
            line as _record, _source, _file, _line, _fallback_date,
            case
                when not is_object then 'malformed_json'
                when len(unknown_keys) > 0
                    then 'unknown_column: ' || array_to_string(list_sort(unknown_keys), ', ')
            end as _problem
        from parsed
    """


# --- catalog ------------------------------------------------------------------------------------


def catalog_pages(
    client: httpx.Client, day: date, page_size: int = CATALOG_MAX_PAGE_SIZE
) -> pa.Table:
    """The catalog as of `day`: each page's JSON text as received, with the day."""
    texts = [text for _, text in fetch_pages(client, day, page_size=page_size)]
    return pa.table(
        {
            "page": pa.array(texts, pa.large_string()),
            "snapshot_date": pa.array([day] * len(texts), pa.date32()),
        }
    )


def catalog_lines(pages: str) -> str:
    """One line per product of the pages, its snapshot date added as a JSON key.

    The pages' JSON was checked by the client; here each product's text is cut out by DuckDB.
    """
    return f"""
        with products as (
            select snapshot_date, unnest(json_extract(page, '$[*]')) as product from ({pages})
        )
        select '{{"snapshot_date":"' || snapshot_date || '",' || substr(product::varchar, 2)
                as line,
            'catalog:/products?date=' || snapshot_date || '#'
                || coalesce(json_extract_string(product, '$.id'), '?') as _source,
            snapshot_date as _fallback_date,
            cast(null as varchar) as _file,
            cast(null as bigint) as _line
        from products
    """


def utc_bound(instant: datetime) -> str:
    return quoted(instant.isoformat())

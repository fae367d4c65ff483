"""The catalog REST API into the lake: one snapshot per business day, paginated and retried.

A day already snapshotted is not fetched again (the catalog of a past day does not change).
Each product's JSON is cut out of the pages by DuckDB and checked there.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from functools import partial

import httpx
import pyarrow as pa
import pyarrow.compute as pc
from prefect import flow, get_run_logger

from flows.ingestion.base import SourceReport, begin_source_run, days_between, io_task, land
from flows.ingestion.catalog_client import CatalogApiError, catalog_client, fetch_pages
from flows.ingestion.records import json_records
from flows.ingestion.validation import Checked, check
from flows.lake.entities import PRODUCTS
from flows.runtime.duck import connect
from flows.settings import Settings
from flows.sources.contract import CATALOG_FIELDS, CATALOG_MAX_PAGE_SIZE

CATALOG_BATCH_PRODUCTS = 500_000  # product rows fetched and landed at once: bounded memory
FIRST_BATCH_DAYS = 7  # days fetched before the catalog's size is known
CATALOG_FETCHERS = 4  # days fetched at once: the client parses one while the API serves another


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


def batch_days(per_day: int) -> int:
    """Days per batch for about CATALOG_BATCH_PRODUCTS product rows, given a day's count
    (0: not known yet, so a first small batch tells it)."""
    return max(1, CATALOG_BATCH_PRODUCTS // per_day) if per_day else FIRST_BATCH_DAYS


@io_task("fetch-catalog")
def fetch_catalog(settings: Settings, client: httpx.Client, days: list[date], run: str) -> Checked:
    """The catalog pages of `days`, checked in one query.

    Days are fetched a few at once: a request mostly waits for the API, which runs beside.
    The first day that fails fails the batch at once: the days not begun are cancelled.
    """
    fetchers = ThreadPoolExecutor(CATALOG_FETCHERS)
    try:
        pages = pa.concat_tables(list(fetchers.map(partial(catalog_pages, client), days)))
    finally:
        fetchers.shutdown(cancel_futures=True)
    with connect(settings) as connection:
        connection.register("pages", pages)
        records = json_records(
            PRODUCTS, catalog_lines("select * from pages"), CATALOG_FIELDS, strict_keys=False
        )
        return check(connection, PRODUCTS, records, run_id=run)


@flow(name="ingest-catalog-api")
def ingest_catalog_api(settings: Settings, start: date, end: date) -> SourceReport:
    """One catalog snapshot per business day, paginated, retried on 5xx, 429 and timeouts.

    A day already snapshotted is not fetched again: the catalog of a past day does not change.
    Days are fetched and landed in batches of about CATALOG_BATCH_PRODUCTS product rows, so
    memory does not grow with the window, and a small catalog's window takes few batches.
    """
    lake, state, report = begin_source_run(settings, "catalog", start)
    taken = set(state.data.get("snapshot_days", []))
    days = [day for day in days_between(start, end) if day.isoformat() not in taken]
    products: list[int] = state.data.get("product_ids", [])
    if days and not settings.sources.catalog_api_url:
        raise CatalogApiError(
            "no catalog API to read: set LAKEHOUSE_CATALOG_API_URL, or run with simulated sources"
        )
    with ExitStack() as stack:
        if days:
            client = stack.enter_context(catalog_client(settings.sources.catalog_api_url))
        per_day = len(products)  # about a day's catalog, once a run has landed one
        position = 0
        while position < len(days):
            batch = days[position : position + batch_days(per_day)]
            position += len(batch)
            checked = fetch_catalog(settings, client, batch, run=report.run_id)
            per_day = max(per_day, -(-checked.records // len(batch)))
            report.records["products"] += checked.records
            land(lake, checked, report)
            taken |= {day.isoformat() for day in batch}
            state.data["snapshot_days"] = sorted(taken)
            landed_ids = pc.unique(checked.good["product_id"]).to_pylist()
            state.data["product_ids"] = sorted(set(products) | set(landed_ids))
            products = state.data["product_ids"]
            state.write()
    state.save(report, start, end)
    get_run_logger().info(report.summary())
    return report

"""The product catalog REST API, simulated: FakeStore-compatible JSON on a loopback port.

GET /products?date=YYYY-MM-DD&limit=N&page=P serves the catalog as of a day of the world (any
day from its start date: the catalog of a day depends on that day alone), one page at a time
(X-Total-Count says how many products there are); GET /products/<id> serves one.
A failure rate makes the server answer 500 or 429 (with Retry-After) at random, seeded, so
clients can prove their retries.
"""

from __future__ import annotations

import json
import random
import threading
from collections import OrderedDict
from datetime import date, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import duckdb
import pyarrow as pa

from flows.sources.contract import (
    CATALOG_DEFAULT_PAGE_SIZE,
    CATALOG_MAX_PAGE_SIZE,
    CATALOG_PRODUCTS_PATH,
    CATALOG_TOTAL_HEADER,
)
from generators.config import SimulationConfig
from generators.simulation import Simulation

# Days whose snapshot is kept formatted: a client pages through a few days at once (the
# pipeline fetches four); every day's kept, an SF1000 backfill held 1.7 GiB of JSON texts.
SNAPSHOTS_KEPT = 8

PRODUCT_JSON = """
    select to_json(struct_pack(
        id := product_id,
        title := title,
        price := cast(price as double),
        description := description,
        category := category,
        image := image_url,
        rating := struct_pack(rate := rating_rate, count := rating_count),
        stock := stock_quantity,
        updated_at := strftime(updated_at, '%Y-%m-%dT%H:%M:%SZ')
    ))::varchar
    from snapshot
"""


def product_texts(connection: duckdb.DuckDBPyConnection, table: pa.Table) -> list[str]:
    """Each catalog row as its JSON text in FakeStore's shape, plus stock and updated_at.

    Formatted by DuckDB over the whole snapshot (the API answers with these texts verbatim).
    """
    connection.register("snapshot", table)
    try:
        return connection.execute(PRODUCT_JSON).to_arrow_table()[0].to_pylist()
    finally:
        connection.unregister("snapshot")


class CatalogApi:
    """Serve a world's catalog; use as a context manager, or start() and stop()."""

    def __init__(self, config: SimulationConfig, failure_rate: float = 0.0, port: int = 0) -> None:
        self.config = config
        self.simulation = Simulation(config)
        self.failure_rate = failure_rate
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[date, tuple[list[int], list[str]]] = OrderedDict()
        self._duckdb = duckdb.connect(config={"threads": "1"})  # formats snapshots, under _lock
        self._duckdb.execute("set TimeZone = 'UTC'")
        self.requests = 0
        self.failures = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> CatalogApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._duckdb.close()

    def __enter__(self) -> CatalogApi:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def products(self, day: date) -> tuple[list[int], list[str]]:
        """The catalog as of `day`: product ids and each product's JSON text."""
        with self._lock:
            if day < self.config.start_date:
                raise ValueError(f"{day} is before the shop opened on {self.config.start_date}")
            if day > self.simulation.config.end_date:  # the world's catalog, further on
                ahead = max(day, self.simulation.config.end_date + timedelta(days=365))
                self.simulation = Simulation(self.config.through(ahead))
            if day in self._snapshots:
                self._snapshots.move_to_end(day)
                return self._snapshots[day]
            table: pa.Table = self.simulation.catalog.snapshot(self.simulation.day_index(day))
            snapshot = (table["product_id"].to_pylist(), product_texts(self._duckdb, table))
            self._snapshots[day] = snapshot
            while len(self._snapshots) > SNAPSHOTS_KEPT:  # the least recently read goes
                self._snapshots.popitem(last=False)
            return snapshot

    def _should_fail(self) -> HTTPStatus | None:
        with self._lock:
            self.requests += 1
            if self._random.random() >= self.failure_rate:
                return None
            self.failures += 1
            return self._random.choice(
                [HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.TOO_MANY_REQUESTS]
            )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection (and thread) per client
            disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stall

            def log_message(self, *_: object) -> None:  # keep test and run output clean
                pass

            def _send(self, status: int, body: object, headers: dict[str, str] | None = None):
                payload = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/health":
                    return self._send(200, {"status": "ok"})
                failure = api._should_fail()
                if failure is not None:
                    headers = (
                        {"Retry-After": "0"} if failure == HTTPStatus.TOO_MANY_REQUESTS else {}
                    )
                    return self._send(failure, {"error": failure.phrase}, headers)
                query = parse_qs(url.query)
                try:
                    day = date.fromisoformat(query.get("date", [str(api.config.end_date)])[0])
                    ids, products = api.products(day)
                    limit = int(query.get("limit", [CATALOG_DEFAULT_PAGE_SIZE])[0])
                    limit = min(limit, CATALOG_MAX_PAGE_SIZE)
                    page = int(query.get("page", ["1"])[0])
                    if limit < 1 or page < 1:
                        raise ValueError("limit and page must be >= 1")
                except ValueError as error:
                    return self._send(400, {"error": str(error)})
                if url.path == CATALOG_PRODUCTS_PATH:
                    start = (page - 1) * limit
                    total = {CATALOG_TOTAL_HEADER: str(len(products))}
                    page_text = "[" + ",".join(products[start : start + limit]) + "]"
                    return self._send(200, page_text, total)
                if url.path.startswith(f"{CATALOG_PRODUCTS_PATH}/"):
                    wanted = url.path.removeprefix(f"{CATALOG_PRODUCTS_PATH}/")
                    match = [
                        text for id_, text in zip(ids, products, strict=True) if str(id_) == wanted
                    ]
                    return (
                        self._send(200, match[0])
                        if match
                        else self._send(404, {"error": "no such product"})
                    )
                return self._send(404, {"error": "not found"})

        return Handler

"""The product catalog REST API, simulated: FakeStore-compatible JSON on a loopback port.

GET /products?date=YYYY-MM-DD&limit=N&page=P serves the catalog as of a simulated day, one page
at a time (X-Total-Count says how many products there are); GET /products/<id> serves one.
A failure rate makes the server answer 500 or 429 (with Retry-After) at random, seeded, so
clients can prove their retries.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import date
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pyarrow as pa

from generators.simulation import Simulation

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def product_json(row: dict) -> dict:
    """One catalog row in FakeStore's shape, plus stock and updated_at."""
    return {
        "id": row["product_id"],
        "title": row["title"],
        "price": float(row["price"]) if isinstance(row["price"], Decimal) else row["price"],
        "description": row["description"],
        "category": row["category"],
        "image": row["image_url"],
        "rating": {"rate": row["rating_rate"], "count": row["rating_count"]},
        "stock": row["stock_quantity"],
        "updated_at": row["updated_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class CatalogApi:
    """Serve a simulation's catalog; use as a context manager, or start() and stop()."""

    def __init__(self, simulation: Simulation, failure_rate: float = 0.0, port: int = 0) -> None:
        self.simulation = simulation
        self.failure_rate = failure_rate
        self._random = random.Random(simulation.config.seed)
        self._lock = threading.Lock()
        self._snapshots: dict[date, list[dict]] = {}
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

    def __enter__(self) -> CatalogApi:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def products(self, day: date) -> list[dict]:
        with self._lock:
            if day not in self._snapshots:
                table: pa.Table = self.simulation.catalog.snapshot(self.simulation.day_index(day))
                self._snapshots[day] = [product_json(row) for row in table.to_pylist()]
            return self._snapshots[day]

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
            def log_message(self, *_: object) -> None:  # keep test and run output clean
                pass

            def _send(self, status: int, body: object, headers: dict[str, str] | None = None):
                payload = json.dumps(body).encode()
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
                    config = api.simulation.config
                    day = date.fromisoformat(query.get("date", [str(config.end_date)])[0])
                    products = api.products(day)
                    limit = min(int(query.get("limit", [DEFAULT_PAGE_SIZE])[0]), MAX_PAGE_SIZE)
                    page = int(query.get("page", ["1"])[0])
                    if limit < 1 or page < 1:
                        raise ValueError("limit and page must be >= 1")
                except ValueError as error:
                    return self._send(400, {"error": str(error)})
                if url.path == "/products":
                    start = (page - 1) * limit
                    total = {"X-Total-Count": str(len(products))}
                    return self._send(200, products[start : start + limit], total)
                if url.path.startswith("/products/"):
                    wanted = url.path.removeprefix("/products/")
                    match = [p for p in products if str(p["id"]) == wanted]
                    return (
                        self._send(200, match[0])
                        if match
                        else self._send(404, {"error": "no such product"})
                    )
                return self._send(404, {"error": "not found"})

        return Handler

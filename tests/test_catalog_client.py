"""The catalog client against real HTTP servers that misbehave: every failure bounded, one line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flows.ingestion.catalog_client import CatalogApiError, catalog_client, fetch_pages

DAY = date(2025, 10, 1)
# (status, headers, body) for a request path with query
Answer = Callable[[str, int], tuple[int, dict[str, str], bytes]]


@contextmanager
def server(answer: Answer) -> Iterator[str]:
    calls = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls["count"] += 1
            status, headers, body = answer(self.path, calls["count"])
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()  # nothing listens on the port afterwards


def products(first: int, count: int) -> bytes:
    return json.dumps([{"id": first + n, "title": f"p{first + n}"} for n in range(count)]).encode()


def fetch(url: str, **options: object) -> list[dict]:
    with catalog_client(url, timeout_seconds=2) as client:
        pages = fetch_pages(client, DAY, page_size=5, backoff_seconds=0.01, **options)
    return [product for batch, _ in pages for product in batch]


def failure_of(answer: Answer, **options: object) -> tuple[str, str]:
    """(the server's URL, the one-line error) of a fetch from a server answering `answer`."""
    with server(answer) as url, pytest.raises(CatalogApiError) as failure:
        fetch(url, **options)
    message = str(failure.value)
    assert "\n" not in message
    return url, message


FIX = "check LAKEHOUSE_CATALOG_API_URL"
# (case, the server's answer to (path, call number), fetch options, the error after the URL)
FAILURES = [
    (
        "repeats its first page",
        lambda path, n: (200, {}, products(1, 5)),
        {},
        f"repeated products on page 2: its pagination is broken; {FIX}",
    ),
    (
        "pages forever",
        lambda path, n: (200, {}, products(n * 10, 5)),
        {"max_pages": 3},
        f"was still paging after 3 pages of 5; {FIX}",
    ),
    (
        "client error",
        lambda path, n: (404, {}, b"no such\ncatalog"),
        {},
        f"answered HTTP 404: 'no such catalog'; {FIX}",
    ),
    (
        "redirect",  # not taken for an empty catalog
        lambda path, n: (301, {"Location": "https://elsewhere/"}, b""),
        {},
        f"answered HTTP 301: ''; {FIX}",
    ),
    (
        "not json",
        lambda path, n: (200, {}, b"<html>maintenance</html>"),
        {},
        f"did not answer JSON: '<html>maintenance</html>'; {FIX}",
    ),
    *[
        (
            f"json {name}",
            lambda path, n, body=body: (200, {}, body),
            {},
            f"did not answer a list of products; {FIX}",
        )
        for name, body in [
            ("object", b'{"id": 1}'),
            ("without id", b'[{"title": "no id"}]'),
            ("list id", b'[{"id": [1]}]'),
            ("numbers", b"[1, 2]"),
        ]
    ],
]


@pytest.mark.parametrize(
    ("answer", "options", "expected"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
def test_a_misbehaving_server_is_one_line_naming_the_url(
    answer: Answer, options: dict, expected: str
) -> None:
    url, message = failure_of(answer, **options)
    assert message == f"catalog API {url}/products (date {DAY}) {expected}"


@pytest.mark.parametrize("retry_after", ["soon", "-5", "nan", "inf", "0"])
def test_transient_failures_then_two_pages_give_every_product_once(retry_after: str) -> None:
    def answer(path: str, call: int) -> tuple[int, dict[str, str], bytes]:
        if call <= 2:  # a Retry-After that is not a usable number falls back to the backoff
            return 503, {"Retry-After": retry_after}, b""
        if "page=1" in path:
            return 200, {"X-Total-Count": "8"}, products(1, 5)
        return 200, {"X-Total-Count": "8"}, products(6, 3)

    began = time.monotonic()
    with server(answer) as url:
        found = fetch(url)
    assert [product["id"] for product in found] == list(range(1, 9))
    assert time.monotonic() - began < 5


def test_a_total_count_that_is_not_a_number_is_ignored() -> None:
    def answer(path: str, call: int) -> tuple[int, dict[str, str], bytes]:
        first = 1 if "page=1" in path else 6
        return 200, {"X-Total-Count": "many"}, products(first, 5 if first == 1 else 2)

    with server(answer) as url:
        assert [product["id"] for product in fetch(url)] == list(range(1, 8))


@pytest.mark.parametrize("userinfo", ["", "reader:s3cr3t@"], ids=["plain", "with-password"])
def test_nothing_listening_fails_fast_and_never_shows_a_password(userinfo: str) -> None:
    with server(lambda path, n: (200, {}, b"[]")) as url:
        port = url.rsplit(":", 1)[1]
    began = time.monotonic()
    with pytest.raises(CatalogApiError) as failure:
        fetch(f"http://{userinfo}127.0.0.1:{port}", retries=2)
    message = str(failure.value)
    assert time.monotonic() - began < 5
    assert "\n" not in message and "s3cr3t" not in message
    shown = userinfo.replace("s3cr3t", "***")  # the user stays, the password never shows
    assert message == (
        f"catalog API http://{shown}127.0.0.1:{port}/products (date {DAY}) failed after 3 "
        "attempts: connection refused; check LAKEHOUSE_CATALOG_API_URL"
    )


def test_an_http_error_never_shows_the_password() -> None:
    with (
        server(lambda path, n: (404, {}, b"gone")) as url,
        pytest.raises(CatalogApiError) as failure,
    ):
        fetch(url.replace("http://", "http://reader:s3cr3t@"))
    assert "s3cr3t" not in str(failure.value)
    shown = url.replace("http://", "http://reader:***@")
    assert str(failure.value).startswith(
        f"catalog API {shown}/products (date {DAY}) answered HTTP 404"
    )


def test_a_catalog_down_fails_a_batch_of_days_at_its_first_failed_day() -> None:
    """Days are fetched a few at once; the first day that fails fails the batch and the days
    not begun are never asked for: one day's retries, not every day's, one after another."""
    from flows.ingestion.catalog import CATALOG_FETCHERS, fetch_catalog
    from flows.settings import load_settings

    asked: list[str] = []

    def down(path: str, n: int) -> tuple[int, dict, bytes]:
        asked.append(path)
        return 503, {}, b"down"

    days = [DAY + timedelta(days=n) for n in range(60)]
    with (
        server(down) as url,
        catalog_client(url, timeout_seconds=2) as client,
        pytest.raises(CatalogApiError, match="failed after 5 attempts: HTTP 503"),
    ):
        fetch_catalog.fn(load_settings(), client, days, run="test")
    # at most the days being fetched when the first failed, and those begun meanwhile
    assert 5 <= len(asked) <= 2 * CATALOG_FETCHERS * 5 < 5 * len(days), len(asked)

"""Read the product catalog REST API page by page, retrying what a busy server throws back."""

from __future__ import annotations

import time
from datetime import date

import httpx

RETRY_STATUSES = {429, 500, 502, 503, 504}


class CatalogApiError(RuntimeError):
    """The API kept failing after every retry, or answered something unusable."""


def get_with_retries(
    client: httpx.Client, url: str, params: dict, retries: int, backoff_seconds: float
) -> httpx.Response:
    """GET with exponential backoff on 5xx, 429 (honouring Retry-After) and timeouts."""
    for attempt in range(retries + 1):
        try:
            response = client.get(url, params=params)
        except httpx.TimeoutException as error:
            failure = f"timeout: {error}"
        else:
            if response.status_code not in RETRY_STATUSES:
                response.raise_for_status()
                return response
            failure = f"HTTP {response.status_code}"
            retry_after = response.headers.get("Retry-After")
            if retry_after is not None and attempt < retries:
                time.sleep(float(retry_after))
                continue
        if attempt < retries:
            time.sleep(backoff_seconds * 2**attempt)
    raise CatalogApiError(f"GET {url} {params} failed after {retries + 1} attempts: {failure}")


def catalog_client(base_url: str, timeout_seconds: float = 10.0) -> httpx.Client:
    """One client per run: connections and TLS setup are reused across pages and days."""
    return httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_seconds)


def fetch_products(
    client: httpx.Client,
    day: date,
    page_size: int = 50,
    retries: int = 6,
    backoff_seconds: float = 0.05,
) -> list[dict]:
    """Every product of the catalog as of `day`, each exactly once."""
    products: list[dict] = []
    page = 1
    while True:
        params = {"date": day.isoformat(), "limit": page_size, "page": page}
        response = get_with_retries(client, "/products", params, retries, backoff_seconds)
        batch = response.json()
        products.extend(batch)
        total = int(response.headers.get("X-Total-Count", len(products)))
        if len(batch) < page_size or len(products) >= total:
            break
        page += 1
    ids = [product["id"] for product in products]
    if len(ids) != len(set(ids)):
        raise CatalogApiError(f"the API returned {len(ids) - len(set(ids))} duplicate products")
    return products

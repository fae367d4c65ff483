"""Benchmark: each dashboard page's queries on the published warehouse, uncached.

    python -m app.bench [--repeat 20]

Prints p50 and p95 per page (all of a page's queries, run one after another, as a first
visit runs them), with the warehouse's scale in the header.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from app import queries
from app.data import _query
from flows.settings import load_settings


def page_queries() -> dict[str, Callable[[], object]]:
    first, last = queries.data_range()
    as_of = queries.headline().as_of_date.date()
    categories, segments, devices = queries.categories(), queries.segments(), queries.devices()
    return {
        "Executive": lambda: (
            queries.headline(),
            queries.totals(first, last),
            queries.revenue_trend(as_of),
            queries.daily_orders(as_of),
            queries.top_categories(first, last),
        ),
        "Product Performance": lambda: (
            queries.top_products(categories),
            queries.category_performance(categories, first, last),
            queries.rating_vs_sales(categories),
            queries.slow_movers(categories),
        ),
        "Customer Analytics": lambda: (
            queries.customers_by("lifetime_value_band", segments, queries.LIFETIME_VALUE_BANDS),
            queries.customers_by("spend_segment", segments, queries.SPEND_SEGMENTS),
            queries.top_customers(segments),
            queries.customers_by("order_frequency_band", segments, queries.ORDER_FREQUENCY_BANDS),
        ),
        "Funnel Analysis": lambda: (
            queries.event_types(devices, first, last),
            queries.device_performance(devices, first, last),
            queries.hourly_activity(devices, first, last),
            queries.daily_events(devices, as_of),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    settings = load_settings()
    pages = page_queries()
    orders = queries.totals(*queries.data_range()).orders
    scale = f"scale factor {settings.scale_factor:g}, {orders:,.0f} orders"
    print(f"warehouse {settings.warehouse_path} ({scale})")
    for name, run in pages.items():
        timings = []
        for _ in range(args.repeat):
            _query.clear()
            began = time.perf_counter()
            run()
            timings.append((time.perf_counter() - began) * 1000)
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(f"{name:<22} p50 {statistics.median(timings):7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()

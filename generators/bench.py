"""Benchmark: the vectorized simulator against a row-at-a-time Faker generator, in one run.

    python -m generators.bench --scale 10

The baseline builds the same entities the way the original did (one Python dict per row, Faker
and `random` per field); it runs on a slice of days, since rows/s is what is compared.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date, datetime, timedelta

from faker import Faker

from generators.catalog import product_count
from generators.config import SimulationConfig
from generators.simulation import Simulation
from generators.weights import (
    CUSTOMERS_PER_SCALE,
    DEVICE_TYPES,
    DEVICE_WEIGHTS,
    ORDER_STATUS_WEIGHTS,
    ORDER_STATUSES,
    ORDERS_PER_SCALE_PER_730_DAYS,
    PAYMENT_METHODS,
    PAYMENT_WEIGHTS,
    SEGMENT_WEIGHTS,
    SEGMENTS,
)


def row_at_a_time(scale: float, days: int, events_per_order: float, seed: int = 42) -> int:
    """The original's way: a dict per row, Faker and random per field. Returns rows made."""
    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    rows: list[dict] = []
    customers = round(CUSTOMERS_PER_SCALE * scale)
    products = product_count(scale)
    for customer_id in range(1, customers + 1):
        rows.append(
            {
                "customer_id": customer_id,
                "first_name": fake.first_name(),
                "last_name": fake.last_name(),
                "email": fake.email(),
                "city": fake.city(),
                "country": fake.country_code(),
                "segment": rng.choices(list(SEGMENTS), list(SEGMENT_WEIGHTS))[0],
                "created_at": fake.date_time_between("-2y", "now"),
            }
        )
    start = datetime(2024, 1, 1)
    orders_per_day = ORDERS_PER_SCALE_PER_730_DAYS * scale / 730
    for day in range(days):
        for product_id in range(1, products + 1):  # the daily catalog snapshot
            rows.append(
                {
                    "product_id": product_id,
                    "title": fake.catch_phrase(),
                    "price": round(rng.uniform(2, 500), 2),
                    "stock_quantity": rng.randint(0, 500),
                    "updated_at": start + timedelta(days=day),
                }
            )
        for _ in range(round(orders_per_day)):
            order_id = len(rows)
            placed = start + timedelta(days=day, seconds=rng.randint(0, 86_399))
            rows.append(
                {
                    "order_id": order_id,
                    "customer_id": rng.randint(1, customers),
                    "order_at": placed,
                    "status": rng.choices(list(ORDER_STATUSES), list(ORDER_STATUS_WEIGHTS))[0],
                    "payment_method": rng.choices(list(PAYMENT_METHODS), list(PAYMENT_WEIGHTS))[0],
                    "updated_at": placed,
                }
            )
            for line in range(rng.choices([1, 2, 3, 4, 5], [40, 35, 15, 7, 3])[0]):
                rows.append(
                    {
                        "order_item_id": order_id * 10 + line,
                        "product_id": rng.randint(1, products),
                        "quantity": rng.choices([1, 2, 3, 4, 5], [60, 25, 10, 3, 2])[0],
                        "unit_price": round(rng.uniform(2, 500), 2),
                    }
                )
            for _ in range(round(events_per_order)):
                rows.append(
                    {
                        "event_id": fake.uuid4(),
                        "session_id": fake.uuid4(),
                        "event_type": rng.choice(["page_view", "add_to_cart", "purchase"]),
                        "event_at": placed - timedelta(seconds=rng.randint(0, 3600)),
                        "device_type": rng.choices(list(DEVICE_TYPES), list(DEVICE_WEIGHTS))[0],
                        "user_agent": fake.user_agent(),
                    }
                )
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--baseline-days", type=int, default=20)
    args = parser.parse_args()

    config = SimulationConfig(scale_factor=args.scale, start_date=date(2024, 1, 1), days=args.days)
    began = time.perf_counter()
    simulation = Simulation(config)
    rows = snapshot_rows = 0
    for day in simulation.days():
        rows += day.rows
        snapshot_rows += day.products.num_rows
    vectorized_seconds = time.perf_counter() - began
    orders = sum(len(simulation.placed(c).orders.order_ids) for c in range(3))
    events_per_order = 0.0
    if orders:
        events_per_order = (
            sum(sum(t.num_rows for t in simulation.placed(c).events.values()) for c in range(3))
            / orders
        )

    began = time.perf_counter()
    baseline_rows = row_at_a_time(args.scale, args.baseline_days, events_per_order)
    baseline_seconds = time.perf_counter() - began

    vectorized_rate = rows / vectorized_seconds
    without_snapshots = (rows - snapshot_rows) / vectorized_seconds
    baseline_rate = baseline_rows / baseline_seconds
    print(f"scale factor {args.scale:g}, {args.days} days")
    print(
        f"vectorized:    {rows:>11,} rows in {vectorized_seconds:7.2f} s = "
        f"{vectorized_rate:>12,.0f} rows/s"
    )
    print(f"  without the daily catalog snapshots: {without_snapshots:,.0f} rows/s")
    print(
        f"row-at-a-time: {baseline_rows:>11,} rows in {baseline_seconds:7.2f} s = "
        f"{baseline_rate:>12,.0f} rows/s ({args.baseline_days} days)"
    )
    print(f"ratio: {vectorized_rate / baseline_rate:,.0f}x")


if __name__ == "__main__":
    main()

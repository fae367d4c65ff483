"""Benchmark: the simulator writing the sources against a row-at-a-time Faker generator, one run.

    python -m tests.bench.generator --scale 10 --days 60

Both sides produce the same rows: the baseline makes, for each simulated day, as many
customers, orders, order lines and clickstream events as the simulator recorded that day, with
the same fields, one Python dict at a time with Faker and `random` (as the original did), and
writes them the way the original did: one INSERT per row into SQLite, one `json.dumps` per
event into hourly NDJSON files. Rates are rows per CPU-second of the process (per core).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import random
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow.fs as pafs
from faker import Faker

from generators import landing_zone
from generators.config import SimulationConfig
from generators.shop_db import ShopDatabase, schema_sql
from generators.simulation import Simulation
from generators.sources import write_sources
from generators.weights import (
    BROWSERS,
    DEVICE_TYPES,
    EVENT_TYPES,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    SEGMENTS,
)

WRITTEN = ("customers", "orders", "order_items", "events")


@dataclass(frozen=True)
class Rate:
    rows: int
    cpu_seconds: float
    wall_seconds: float
    # where the time went: seconds per part (on any of the simulator's threads), and `wall`
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def per_core(self) -> float:
        return self.rows / max(self.cpu_seconds, 1e-9)


def day_mix(config: SimulationConfig) -> list[Counter[str]]:
    """Rows per written entity on each day of the window, as the simulator records them."""
    simulation = Simulation(config)
    return [
        Counter(
            customers=day.customers.num_rows,
            orders=day.orders.num_rows,
            order_items=day.order_items.num_rows,
            events=day.events.num_rows + day.malformed_events.num_rows,
        )
        for day in simulation.days()
    ]


def simulator(config: SimulationConfig, folder: Path) -> Rate:
    """`write_sources`: the simulator writing the shop database and the landing zone."""
    began, cpu = time.perf_counter(), time.process_time()
    written = write_sources(
        config,
        f"sqlite:///{folder / 'shop.sqlite'}",
        (pafs.LocalFileSystem(), str(folder / "landing")),
    )
    rows = sum(written[name] for name in ("customers", "orders", "order_items"))
    rows += written["clickstream_lines"]
    return Rate(rows, time.process_time() - cpu, time.perf_counter() - began)


def profile(config: SimulationConfig, folder: Path) -> dict[str, float]:
    """Where `write_sources`' time goes: the seconds each part takes, on whichever thread.

    The simulator runs its parts on three threads at once (generators/sources.py), so they add
    up to more than its wall time, which is returned as `wall`; a profiler of one thread would
    miss two of them.
    """
    parts = {
        "simulating the days (numpy and Arrow, the customers and catalog included)": (
            Simulation,
            "record",
        ),
        "the shop database (SQLite upserts and their change-log triggers)": (
            ShopDatabase,
            "apply",
        ),
        "the clickstream lines (DuckDB's to_json, sorted by arrival)": (
            landing_zone,
            "event_lines",
        ),
        "the hour files (written aside, renamed)": (landing_zone.HourFiles, "write"),
    }
    spent: Counter[str] = Counter()
    lock = threading.Lock()

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def part(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with lock:
                    spent[name] += time.perf_counter() - began

        return part

    with contextlib.ExitStack() as patches:
        for name, (owner, attribute) in parts.items():
            function = getattr(owner, attribute)
            patches.enter_context(mock.patch.object(owner, attribute, timed(name, function)))
        began = time.perf_counter()
        write_sources(
            config,
            f"sqlite:///{folder / 'profiled.sqlite'}",
            (pafs.LocalFileSystem(), str(folder / "profiled-landing")),
        )
        wall = time.perf_counter() - began
    return {name: spent[name] for name in parts} | {"wall": wall}


def row_at_a_time(mix: list[Counter[str]], start: date, folder: Path, seed: int = 42) -> Rate:
    """The original's way, for the same rows: a dict per row, Faker and random per field."""
    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    began, cpu = time.perf_counter(), time.process_time()
    database = sqlite3.connect(folder / "baseline.sqlite")
    for statement in schema_sql(strict=False, timestamp="timestamp"):
        database.execute(statement)
    landing = folder / "baseline-landing"
    rows = 0
    ids: Counter[str] = Counter()
    for offset, counts in enumerate(mix):
        day = datetime.combine(start + timedelta(days=offset), datetime.min.time(), UTC)

        def moment() -> datetime:
            return day + timedelta(seconds=rng.randint(0, 86_399))  # noqa: B023

        for _ in range(counts["customers"]):
            ids["customers"] += 1
            row = {
                "customer_id": ids["customers"],
                "first_name": fake.first_name(),
                "last_name": fake.last_name(),
                "email": fake.email(),
                "city": fake.city(),
                "country": fake.country_code(),
                "segment": rng.choice(list(SEGMENTS)),
                "created_at": str(moment()),
                "updated_at": str(moment()),
            }
            database.execute(
                "insert or replace into customers values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(row.values()),
            )
        for _ in range(counts["orders"]):
            ids["orders"] += 1
            row = {
                "order_id": ids["orders"],
                "customer_id": rng.randint(1, max(ids["customers"], 1)),
                "order_at": str(moment()),
                "status": rng.choice(list(ORDER_STATUSES)),
                "payment_method": rng.choice(list(PAYMENT_METHODS)),
                "total_amount": round(rng.uniform(20, 800), 2),
                "updated_at": str(moment()),
            }
            database.execute(
                "insert or replace into orders values (?, ?, ?, ?, ?, ?, ?)", tuple(row.values())
            )
        for _ in range(counts["order_items"]):
            ids["order_items"] += 1
            row = {
                "order_item_id": ids["order_items"],
                "order_id": rng.randint(1, max(ids["orders"], 1)),
                "product_id": rng.randint(1, 200),
                "quantity": rng.randint(1, 5),
                "unit_price": round(rng.uniform(2, 500), 2),
                "discount_amount": 0.0,
                "updated_at": str(moment()),
            }
            database.execute(
                "insert or replace into order_items values (?, ?, ?, ?, ?, ?, ?)",
                tuple(row.values()),
            )
        database.commit()
        files: dict[int, list[str]] = {}
        for _ in range(counts["events"]):
            ids["events"] += 1
            at = moment()
            row = {
                "event_id": ids["events"],
                "session_id": rng.randint(1, 10**9),
                "customer_id": rng.randint(1, max(ids["customers"], 1)),
                "event_type": rng.choice(list(EVENT_TYPES)),
                "event_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "product_id": rng.randint(1, 200),
                "order_id": None,
                "device_type": rng.choice(list(DEVICE_TYPES)),
                "browser": rng.choice(list(BROWSERS)),
                "received_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            files.setdefault(at.hour, []).append(json.dumps(row))
        for hour, lines in files.items():
            path = landing / f"{day:%Y/%m/%d}" / f"events-{day:%Y%m%d}{hour:02d}.ndjson"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as handle:
                for line in lines:
                    handle.write(line + "\n")
        rows += sum(counts[name] for name in WRITTEN)
    database.close()
    return Rate(rows, time.process_time() - cpu, time.perf_counter() - began)


def compare(scale: float, days: int, baseline_days: int) -> tuple[Rate, Rate]:
    """(simulator, baseline) on the same window; the baseline covers its first days."""
    config = SimulationConfig(scale_factor=scale, start_date=date(2024, 1, 1), days=days)
    folder = Path(tempfile.mkdtemp(prefix="generator-bench-"))
    try:
        fast = simulator(config, folder)
        fast = replace(fast, phases=profile(config, folder))
        mix = day_mix(config)[:baseline_days]
        slow = row_at_a_time(mix, config.start_date, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return fast, slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--baseline-days", type=int, default=5)
    args = parser.parse_args()
    fast, slow = compare(args.scale, args.days, args.baseline_days)
    print(f"scale factor {args.scale:g}, {args.days} days (baseline: {args.baseline_days} days)")
    for name, rate in (("simulator", fast), ("row at a time", slow)):
        print(
            f"{name:>14}: {rate.rows:>11,} rows written in {rate.wall_seconds:7.2f} s, "
            f"{rate.per_core:>12,.0f} rows per CPU-second"
        )
    print(f"ratio: {fast.per_core / slow.per_core:,.0f}x")


if __name__ == "__main__":
    main()

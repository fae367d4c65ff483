"""Orders placed over a run of days, with their lines and every later status change.

Header totals are the sum of their lines' net amounts, to the cent. Each order walks
pending → processing → completed (or is cancelled, or returned after completion) over the
following days; every step is a new version of the order row with its own updated_at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds, epoch_timestamps, labels, money
from generators.catalog import Catalog
from generators.config import SimulationConfig
from generators.customers import SECONDS_PER_DAY, CustomerBase
from generators.weights import (
    DISCOUNTED_LINE_SHARE,
    LINES_PER_ORDER,
    LINES_PER_ORDER_WEIGHTS,
    MAX_DISCOUNT_RATE,
    MEAN_DEMAND,
    MONTH_DEMAND,
    ORDER_HOUR_WEIGHTS,
    ORDER_STATUS_WEIGHTS,
    ORDER_STATUSES,
    ORDERS_PER_SCALE_PER_730_DAYS,
    PAYMENT_METHODS,
    PAYMENT_WEIGHTS,
    QUANTITIES,
    QUANTITY_WEIGHTS,
    SEGMENT_ORDER_VALUE,
    WEEKDAY_DEMAND,
)

ORDER_ID_DAY_FACTOR = 1_000_000  # order_id = yyyymmdd * factor + sequence within the day
LINE_ID_FACTOR = 10  # order_item_id = order_id * factor + line number
PRICE_NEIGHBOURS = 9  # products of about the wanted price that a line chooses among
LIFECYCLE_DAYS = 28  # the longest an order keeps changing (a return after completion)
PENDING, PROCESSING, COMPLETED, CANCELLED, RETURNED = (
    int(np.flatnonzero(name == ORDER_STATUSES)[0])
    for name in ("pending", "processing", "completed", "cancelled", "returned")
)
HOUR = 3600


@dataclass(frozen=True)
class PlacedOrders:
    """Orders placed on a run of days, sorted by time: every header version, and the lines."""

    versions: pa.Table
    order_items: pa.Table
    order_ids: np.ndarray
    customer_ids: np.ndarray
    order_epoch: np.ndarray
    order_day: np.ndarray  # window day index of each order
    line_order: np.ndarray  # index into order_ids of each line
    line_product_ids: np.ndarray


def expected_orders(config: SimulationConfig, days: list[date]) -> np.ndarray:
    base = ORDERS_PER_SCALE_PER_730_DAYS * config.scale_factor / 730
    weekday = WEEKDAY_DEMAND[[day.weekday() for day in days]]
    month = MONTH_DEMAND[[day.month - 1 for day in days]]
    return base * weekday * month / MEAN_DEMAND


def day_keys(days: list[date]) -> np.ndarray:
    return np.array([int(day.strftime("%Y%m%d")) for day in days], dtype=np.int64)


def sequence_within(group: np.ndarray, groups: int) -> np.ndarray:
    """1, 2, 3… within each group of a sorted group array."""
    counts = np.bincount(group, minlength=groups)
    first = np.cumsum(counts) - counts
    return np.arange(len(group)) - first[group] + 1


def pick_customers(
    rng: np.random.Generator, customers: CustomerBase, before_epoch: np.ndarray
) -> np.ndarray:
    """For each instant, a customer registered before it, the active ones more often."""
    registered = np.searchsorted(customers.created_epoch, before_epoch, side="left")
    cumulative = np.cumsum(customers.activity)
    reach = cumulative[np.maximum(registered, 1) - 1]
    chosen = np.searchsorted(cumulative, rng.random(len(before_epoch)) * reach, side="right")
    return np.minimum(chosen, np.maximum(registered, 1) - 1)


def _choose_products(
    rng: np.random.Generator, wanted_cents: np.ndarray, prices: np.ndarray, popularity: np.ndarray
) -> np.ndarray:
    """Products priced near what each line wants, the popular ones more often."""
    by_price = np.argsort(prices, kind="stable")
    position = np.searchsorted(prices[by_price], wanted_cents)
    offsets = np.arange(PRICE_NEIGHBOURS) - PRICE_NEIGHBOURS // 2
    candidates = by_price[np.clip(position[:, None] + offsets, 0, len(prices) - 1)]
    weights = np.cumsum(popularity[candidates], axis=1)
    pick = (weights < rng.random(len(wanted_cents))[:, None] * weights[:, -1:]).sum(axis=1)
    return candidates[np.arange(len(candidates)), np.minimum(pick, PRICE_NEIGHBOURS - 1)]


def _lifecycle(rng: np.random.Generator, placed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Status and time of each order's versions: [orders, 4] arrays, -1 where none."""
    count = len(placed)
    final = rng.choice(len(ORDER_STATUSES), size=count, p=ORDER_STATUS_WEIGHTS)
    processing_at = placed + rng.integers(HOUR // 2, 36 * HOUR, count)
    completed_at = processing_at + rng.integers(SECONDS_PER_DAY, 5 * SECONDS_PER_DAY, count)
    returned_at = completed_at + rng.integers(3 * SECONDS_PER_DAY, 20 * SECONDS_PER_DAY, count)
    cancel_early = rng.random(count) < 0.6
    cancelled_at = np.where(cancel_early, placed, processing_at) + rng.integers(
        HOUR, 48 * HOUR, count
    )

    status = np.full((count, 4), -1)
    when = np.full((count, 4), -1, dtype=np.int64)
    status[:, 0], when[:, 0] = PENDING, placed
    reaches_processing = (final != PENDING) & ~((final == CANCELLED) & cancel_early)
    status[reaches_processing, 1] = PROCESSING
    when[reaches_processing, 1] = processing_at[reaches_processing]
    reaches_completed = (final == COMPLETED) | (final == RETURNED)
    status[reaches_completed, 2] = COMPLETED
    when[reaches_completed, 2] = completed_at[reaches_completed]
    returned = final == RETURNED
    status[returned, 3], when[returned, 3] = RETURNED, returned_at[returned]
    cancelled = final == CANCELLED
    status[cancelled, 3], when[cancelled, 3] = CANCELLED, cancelled_at[cancelled]
    return status, when


def simulate_orders(
    config: SimulationConfig,
    rng: np.random.Generator,
    first_index: int,
    day_count: int,
    customers: CustomerBase,
    catalog: Catalog,
) -> PlacedOrders:
    """Orders of the window days first_index … first_index + day_count − 1."""
    days = [config.day(first_index + offset) for offset in range(day_count)]
    day_start = np.array([epoch_seconds(day) for day in days], dtype=np.int64)
    registered = np.searchsorted(customers.created_epoch, day_start, side="left")
    per_day = np.where(registered > 0, rng.poisson(expected_orders(config, days)), 0)
    local_day = np.repeat(np.arange(day_count), per_day)
    count = len(local_day)

    hours = rng.choice(24, size=count, p=ORDER_HOUR_WEIGHTS)
    order_epoch = day_start[local_day] + hours * HOUR + rng.integers(0, HOUR, count)
    by_time = np.argsort(order_epoch, kind="stable")
    order_epoch = order_epoch[by_time]
    customer_index = pick_customers(rng, customers, day_start[local_day])
    segment = customers.segment_at(day_start[local_day], customer_index)
    order_ids = day_keys(days)[local_day] * ORDER_ID_DAY_FACTOR + sequence_within(
        local_day, day_count
    )

    # Lines: the segment sets what the order is worth, the lines pick products priced to match.
    wanted_total = rng.uniform(SEGMENT_ORDER_VALUE[segment, 0], SEGMENT_ORDER_VALUE[segment, 1])
    lines_per_order = rng.choice(LINES_PER_ORDER, size=count, p=LINES_PER_ORDER_WEIGHTS)
    line_order = np.repeat(np.arange(count), lines_per_order)
    line_number = sequence_within(line_order, count)
    lines = len(line_order)
    quantity = rng.choice(QUANTITIES, size=lines, p=QUANTITY_WEIGHTS)
    units_per_order = np.bincount(line_order, weights=quantity, minlength=count)
    wanted_unit = 100 * wanted_total[line_order] / units_per_order[line_order]
    wanted_unit *= rng.uniform(0.6, 1.4, lines)
    product_index = _choose_products(
        rng, wanted_unit, catalog.price_cents[first_index], popularity=catalog.popularity
    )
    unit_cents = catalog.price_cents[first_index + local_day[line_order], product_index]
    gross = unit_cents * quantity
    rate = rng.random(lines) * MAX_DISCOUNT_RATE
    discounted = rng.random(lines) < DISCOUNTED_LINE_SHARE
    discount = np.where(discounted, np.floor(gross * rate), 0).astype(np.int64)
    order_total = np.bincount(line_order, weights=gross - discount, minlength=count)

    status, when = _lifecycle(rng, order_epoch)
    exists = status >= 0  # versions after the last simulated day are simply not recorded yet
    rows, _ = np.nonzero(exists)
    payment = rng.choice(len(PAYMENT_METHODS), size=count, p=PAYMENT_WEIGHTS)
    customer_ids = customer_index.astype(np.int64) + 1
    versions = pa.table(
        {
            "order_id": order_ids[rows],
            "customer_id": customer_ids[rows],
            "order_at": epoch_timestamps(order_epoch[rows]),
            "status": labels(ORDER_STATUSES, status[exists]),
            "payment_method": labels(PAYMENT_METHODS, payment[rows]),
            "total_amount": money(order_total.astype(np.int64)[rows]),
            "updated_at": epoch_timestamps(when[exists]),
        }
    )
    line_order_ids = order_ids[line_order]
    product_ids = (product_index + 1).astype(np.int64)
    order_items = pa.table(
        {
            "order_item_id": line_order_ids * LINE_ID_FACTOR + line_number,
            "order_id": line_order_ids,
            "product_id": product_ids,
            "quantity": quantity.astype(np.int64),
            "unit_price": money(unit_cents),
            "discount_amount": money(discount),
            "updated_at": epoch_timestamps(order_epoch[line_order]),
        }
    )
    return PlacedOrders(
        versions=versions,
        order_items=order_items,
        order_ids=order_ids,
        customer_ids=customer_ids,
        order_epoch=order_epoch,
        order_day=first_index + local_day,
        line_order=line_order,
        line_product_ids=product_ids,
    )

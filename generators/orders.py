"""Orders and order lines of one day; header totals are the sum of their lines, to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds, money, timestamps
from generators.config import SimulationConfig
from generators.customers import CustomerBase
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
    WEEKDAY_DEMAND,
)

ORDER_ID_DAY_FACTOR = 1_000_000  # order_id = yyyymmdd * factor + sequence within the day
LINE_ID_FACTOR = 10  # order_item_id = order_id * factor + line number


@dataclass(frozen=True)
class DayOrders:
    orders: pa.Table
    order_items: pa.Table
    order_seconds: np.ndarray  # seconds after midnight of each order, for the clickstream
    order_ids: np.ndarray
    customer_ids: np.ndarray


def expected_orders(config: SimulationConfig, day: date) -> float:
    base = ORDERS_PER_SCALE_PER_730_DAYS * config.scale_factor / 730
    demand = WEEKDAY_DEMAND[day.weekday()] * MONTH_DEMAND[day.month - 1] / MEAN_DEMAND
    return base * demand


def simulate_orders_day(
    config: SimulationConfig,
    day: date,
    customers: CustomerBase,
    price_cents: np.ndarray,
    popularity: np.ndarray,
) -> DayOrders:
    rng = config.rng("orders", day)
    day_start = epoch_seconds(day)
    registered = np.flatnonzero(customers.created_epoch < day_start)
    count = int(rng.poisson(expected_orders(config, day))) if len(registered) else 0

    weights = customers.activity[registered]
    customer_index = (
        registered[rng.choice(len(registered), size=count, p=weights / weights.sum())]
        if count
        else registered[:0]
    )
    customer_ids = customer_index.astype(np.int64) + 1
    order_ids = int(day.strftime("%Y%m%d")) * ORDER_ID_DAY_FACTOR + np.arange(
        1, count + 1, dtype=np.int64
    )
    hours = rng.choice(24, size=count, p=ORDER_HOUR_WEIGHTS)
    seconds = np.sort(hours * 3600 + rng.integers(0, 3600, count))
    order_at = timestamps(day, seconds)

    lines_per_order = rng.choice(LINES_PER_ORDER, size=count, p=LINES_PER_ORDER_WEIGHTS)
    line_order = np.repeat(np.arange(count), lines_per_order)
    line_number = (
        np.arange(len(line_order))
        - np.repeat(np.cumsum(lines_per_order) - lines_per_order, lines_per_order)
        + 1
    )
    product_index = rng.choice(len(price_cents), size=len(line_order), p=popularity)
    quantity = rng.choice(QUANTITIES, size=len(line_order), p=QUANTITY_WEIGHTS)
    unit_cents = price_cents[product_index]
    gross = unit_cents * quantity
    discounted = rng.random(len(line_order)) < DISCOUNTED_LINE_SHARE
    discount = np.where(
        discounted, np.round(gross * rng.random(len(line_order)) * MAX_DISCOUNT_RATE), 0
    ).astype(np.int64)
    net = gross - discount
    order_total = np.bincount(line_order, weights=net, minlength=count).astype(np.int64)

    orders = pa.table(
        {
            "order_id": order_ids,
            "customer_id": customer_ids,
            "order_at": order_at,
            "status": ORDER_STATUSES[
                rng.choice(len(ORDER_STATUSES), size=count, p=ORDER_STATUS_WEIGHTS)
            ],
            "payment_method": PAYMENT_METHODS[
                rng.choice(len(PAYMENT_METHODS), size=count, p=PAYMENT_WEIGHTS)
            ],
            "total_amount": money(order_total),
            "updated_at": order_at,
        }
    )
    line_order_ids = order_ids[line_order]
    order_items = pa.table(
        {
            "order_item_id": line_order_ids * LINE_ID_FACTOR + line_number,
            "order_id": line_order_ids,
            "product_id": (product_index + 1).astype(np.int64),
            "quantity": quantity.astype(np.int64),
            "unit_price": money(unit_cents),
            "discount_amount": money(discount),
            "updated_at": order_at.take(pa.array(line_order)),
        }
    )
    return DayOrders(orders, order_items, seconds, order_ids, customer_ids)

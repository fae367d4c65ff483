"""Clickstream sessions of one day: each order has its purchase session, others drop off."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds, timestamps
from generators.config import SimulationConfig
from generators.customers import CustomerBase
from generators.orders import DayOrders, expected_orders
from generators.weights import (
    BROWSER_WEIGHTS,
    BROWSERS,
    DEVICE_TYPES,
    DEVICE_WEIGHTS,
    EVENT_HOUR_WEIGHTS,
)

# Funnel steps in the order a session walks them.
STEPS = np.array(["page_view", "search", "add_to_cart", "remove_from_cart", "purchase"])
BROWSE_SESSIONS_PER_ORDER = 2.0
ANONYMOUS_BROWSE_SHARE = 0.45  # about 30% of all sessions, since purchase sessions are logged in
MEAN_EXTRA_VIEWS = 1.0
SEARCH_SHARE = 0.45
BROWSE_CART_SHARE = 0.2
REMOVE_SHARE = 0.2
SESSION_ID_DAY_FACTOR = 1_000_000
EVENT_ID_DAY_FACTOR = 100_000_000


def simulate_clickstream_day(
    config: SimulationConfig,
    day: date,
    customers: CustomerBase,
    orders: DayOrders,
    popularity: np.ndarray,
) -> pa.Table:
    rng = config.rng("clickstream", day)
    purchases = len(orders.order_ids)
    browses = int(rng.poisson(expected_orders(config, day) * BROWSE_SESSIONS_PER_ORDER))
    sessions = purchases + browses
    is_purchase = np.arange(sessions) < purchases

    registered = np.flatnonzero(customers.created_epoch < epoch_seconds(day))
    browse_customer = np.full(browses, -1, dtype=np.int64)
    if len(registered):
        weights = customers.activity[registered] / customers.activity[registered].sum()
        known = rng.random(browses) >= ANONYMOUS_BROWSE_SHARE
        browse_customer[known] = (
            registered[rng.choice(len(registered), int(known.sum()), p=weights)] + 1
        )
    session_customer = np.concatenate([orders.customer_ids, browse_customer])

    steps = np.zeros((sessions, len(STEPS)), dtype=np.int64)
    steps[:, 0] = 1 + rng.poisson(MEAN_EXTRA_VIEWS, sessions)
    steps[:, 1] = rng.random(sessions) < SEARCH_SHARE
    steps[:, 2] = np.where(
        is_purchase, 1 + rng.poisson(0.5, sessions), rng.random(sessions) < BROWSE_CART_SHARE
    )
    steps[:, 3] = (steps[:, 2] > 0) & (rng.random(sessions) < REMOVE_SHARE)
    steps[:, 4] = is_purchase
    per_session = steps.sum(axis=1)
    event_session = np.repeat(np.arange(sessions), per_session)
    event_step = np.repeat(np.tile(np.arange(len(STEPS)), sessions), steps.ravel())
    first_event = np.cumsum(per_session) - per_session

    gaps = rng.integers(5, 180, len(event_session))
    gaps[first_event] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first_event], per_session)
    duration = elapsed[first_event + per_session - 1]
    browse_start = rng.choice(24, size=browses, p=EVENT_HOUR_WEIGHTS) * 3600 + rng.integers(
        0, 3600, browses
    )
    session_start = np.concatenate([orders.order_seconds - duration[:purchases], browse_start])
    session_start = np.clip(session_start, 0, None)
    seconds = np.clip(np.repeat(session_start, per_session) + elapsed, 0, 86_399)

    order_id = np.zeros(sessions, dtype=np.int64)
    order_id[:purchases] = orders.order_ids
    event_order = np.where(event_step == 4, order_id[event_session], 0)
    product = rng.choice(len(popularity), size=len(event_session), p=popularity) + 1
    has_product = (event_step != 1) & (event_step != 4)
    customer = session_customer[event_session]
    device = rng.choice(len(DEVICE_TYPES), sessions, p=DEVICE_WEIGHTS)[event_session]
    browser = rng.choice(len(BROWSERS), sessions, p=BROWSER_WEIGHTS)[event_session]
    day_key = int(day.strftime("%Y%m%d"))
    order_by_time = np.lexsort((np.arange(len(seconds)), seconds))

    table = pa.table(
        {
            "event_id": day_key * EVENT_ID_DAY_FACTOR
            + np.arange(1, len(seconds) + 1, dtype=np.int64),
            "session_id": day_key * SESSION_ID_DAY_FACTOR + event_session.astype(np.int64) + 1,
            "customer_id": pa.array(customer, mask=customer < 0),
            "event_type": STEPS[event_step],
            "event_at": timestamps(day, seconds),
            "product_id": pa.array(product, mask=~has_product),
            "order_id": pa.array(event_order, mask=event_step != 4),
            "device_type": DEVICE_TYPES[device],
            "browser": BROWSERS[browser],
        }
    )
    ordered = table.take(pa.array(order_by_time))
    return ordered.set_column(0, "event_id", pa.array(table["event_id"].to_numpy()))

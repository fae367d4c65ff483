"""Clickstream sessions over a run of days.

Every order has its purchase session (its lines are what it adds to cart; its purchase event
carries the order_id); other sessions add to cart and leave, or only browse. Steps follow the
funnel: page_view → search → add_to_cart → remove_from_cart → purchase.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds, epoch_timestamps, labels
from generators.config import SimulationConfig
from generators.customers import SECONDS_PER_DAY, CustomerBase
from generators.orders import (
    PlacedOrders,
    day_keys,
    expected_orders,
    pick_customers,
    sequence_within,
)
from generators.weights import (
    BROWSER_WEIGHTS,
    BROWSERS,
    DEVICE_TYPES,
    DEVICE_WEIGHTS,
    EVENT_HOUR_WEIGHTS,
)

STEPS = np.array(["page_view", "search", "add_to_cart", "remove_from_cart", "purchase"])
VIEW, SEARCH, CART, REMOVE, PURCHASE = range(len(STEPS))
SESSION_ID_DAY_FACTOR = 1_000_000
EVENT_ID_DAY_FACTOR = 100_000_000
EXTRA_VIEWS = (2.0, 1.2, 0.35)  # mean extra page views: purchase, cart-only, browse-only sessions


def simulate_clickstream(
    config: SimulationConfig,
    rng: np.random.Generator,
    first_index: int,
    day_count: int,
    customers: CustomerBase,
    orders: PlacedOrders,
    popularity: np.ndarray,
) -> pa.Table:
    """Events of the window days first_index … first_index + day_count − 1, sorted by time."""
    realism = config.realism
    days = [config.day(first_index + offset) for offset in range(day_count)]
    day_start = np.array([epoch_seconds(day) for day in days], dtype=np.int64)
    expected = expected_orders(config, days)
    cart_rate = 1 / realism.cart_to_purchase - 1
    browse_rate = (
        1 / (realism.cart_to_purchase * realism.view_to_cart) - 1 / realism.cart_to_purchase
    )
    carts_per_day = rng.poisson(expected * cart_rate)
    browses_per_day = rng.poisson(expected * browse_rate)
    purchases = len(orders.order_ids)
    carts, browses = int(carts_per_day.sum()), int(browses_per_day.sum())
    others = carts + browses
    sessions = purchases + others
    kind = np.repeat([0, 1, 2], [purchases, carts, browses])  # purchase, cart-only, browse-only
    other_day = np.concatenate(
        [
            np.repeat(np.arange(day_count), carts_per_day),
            np.repeat(np.arange(day_count), browses_per_day),
        ]
    )
    session_day = np.concatenate([orders.order_day - first_index, other_day])

    # Who: purchase sessions are the ordering customer's; others are anonymous or registered.
    anonymous_rate = realism.anonymous_session_share / (
        1 - realism.cart_to_purchase * realism.view_to_cart
    )
    known = (rng.random(others) >= min(anonymous_rate, 1.0)) & (
        np.searchsorted(customers.created_epoch, day_start[other_day]) > 0
    )
    other_customer = np.where(known, pick_customers(rng, customers, day_start[other_day]) + 1, -1)
    session_customer = np.concatenate([orders.customer_ids, other_customer])

    # What: counts of each funnel step per session, in walking order: the first page view,
    # a search, more page views, carts, a removal, the purchase.
    lines_per_order = np.bincount(orders.line_order, minlength=purchases)
    walk = np.array([VIEW, SEARCH, VIEW, CART, REMOVE, PURCHASE])
    steps = np.zeros((sessions, len(walk)), dtype=np.int64)
    steps[:, 0] = 1
    steps[:, 1] = rng.random(sessions) < realism.search_share
    steps[:, 2] = rng.poisson(np.array(EXTRA_VIEWS)[kind])
    steps[:purchases, 3] = lines_per_order
    steps[purchases : purchases + carts, 3] = 1 + rng.poisson(0.3, carts)
    steps[:, 4] = (steps[:, 3] > 0) & (rng.random(sessions) < realism.remove_share)
    steps[:purchases, 5] = 1
    per_session = steps.sum(axis=1)
    event_session = np.repeat(np.arange(sessions), per_session)
    event_step = np.repeat(np.tile(walk, sessions), steps.ravel())
    first_event = np.cumsum(per_session) - per_session

    # When: purchase sessions end at their order; others start at the event hour weights.
    gaps = rng.integers(5, 180, len(event_session))
    gaps[first_event] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first_event], per_session)
    duration = elapsed[first_event + per_session - 1]
    hours = rng.choice(24, size=others, p=EVENT_HOUR_WEIGHTS)
    other_start = day_start[other_day] + hours * 3600 + rng.integers(0, 3600, others)
    session_start = np.concatenate([orders.order_epoch - duration[:purchases], other_start])
    event_day_start = day_start[session_day][event_session]
    event_epoch = np.clip(
        np.repeat(session_start, per_session) + elapsed,
        event_day_start,
        event_day_start + SECONDS_PER_DAY - 1,
    )

    # Products: a purchase session adds its order's lines to cart; others follow popularity.
    product = rng.choice(len(popularity), size=len(event_session), p=popularity) + 1
    product[(event_step == CART) & (event_session < purchases)] = orders.line_product_ids
    has_product = np.isin(event_step, [VIEW, CART, REMOVE])
    order_id = np.zeros(sessions, dtype=np.int64)
    order_id[:purchases] = orders.order_ids
    device = rng.choice(len(DEVICE_TYPES), sessions, p=DEVICE_WEIGHTS)
    browser = rng.choice(len(BROWSERS), sessions, p=BROWSER_WEIGHTS)
    received = event_epoch + rng.integers(0, 5, len(event_epoch))

    # Ids: sessions numbered within their day; events in time order within their day.
    keys = day_keys(days)
    session_order = np.argsort(session_day, kind="stable")
    session_number = np.empty(sessions, dtype=np.int64)
    session_number[session_order] = sequence_within(session_day[session_order], day_count)
    session_id = keys[session_day] * SESSION_ID_DAY_FACTOR + session_number
    by_time = np.argsort(event_epoch, kind="stable")
    session = event_session[by_time]
    step = event_step[by_time]
    event_local_day = session_day[session]
    customer = session_customer[session]
    return pa.table(
        {
            "event_id": keys[event_local_day] * EVENT_ID_DAY_FACTOR
            + sequence_within(event_local_day, day_count),
            "session_id": session_id[session],
            "customer_id": pa.array(customer, mask=customer < 0),
            "event_type": labels(STEPS, step),
            "event_at": epoch_timestamps(event_epoch[by_time]),
            "product_id": pa.array(product[by_time], mask=~has_product[by_time]),
            "order_id": pa.array(order_id[session], mask=step != PURCHASE),
            "device_type": labels(DEVICE_TYPES, device[session]),
            "browser": labels(BROWSERS, browser[session]),
            "received_at": epoch_timestamps(received[by_time]),
        }
    )

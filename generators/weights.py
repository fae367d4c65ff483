"""The distributions of SPEC §2, in one place."""

from __future__ import annotations

import numpy as np

SEGMENTS = np.array(["bronze", "silver", "gold", "platinum"])
SEGMENT_WEIGHTS = np.array([0.50, 0.30, 0.15, 0.05])

PAYMENT_METHODS = np.array(["credit_card", "debit_card", "paypal", "apple_pay", "google_pay"])
PAYMENT_WEIGHTS = np.array([0.40, 0.25, 0.20, 0.10, 0.05])

ORDER_STATUSES = np.array(["completed", "pending", "processing", "cancelled", "returned"])
ORDER_STATUS_WEIGHTS = np.array([0.75, 0.10, 0.08, 0.05, 0.02])

LINES_PER_ORDER = np.array([1, 2, 3, 4, 5])
LINES_PER_ORDER_WEIGHTS = np.array([0.40, 0.35, 0.15, 0.07, 0.03])

QUANTITIES = np.array([1, 2, 3, 4, 5])
QUANTITY_WEIGHTS = np.array([0.60, 0.25, 0.10, 0.03, 0.02])

DISCOUNTED_LINE_SHARE = 0.20
MAX_DISCOUNT_RATE = 0.30

EVENT_TYPES = np.array(["page_view", "add_to_cart", "remove_from_cart", "purchase", "search"])
DEVICE_TYPES = np.array(["mobile", "desktop", "tablet"])
DEVICE_WEIGHTS = np.array([0.65, 0.30, 0.05])
BROWSERS = np.array(["chrome", "safari", "firefox", "edge"])
BROWSER_WEIGHTS = np.array([0.50, 0.30, 0.15, 0.05])


def hour_weights(peaks: dict[int, float]) -> np.ndarray:
    """24 normalized weights: the listed hours get their weight, every other hour 1."""
    weights = np.ones(24)
    for hour, weight in peaks.items():
        weights[hour] = weight
    return weights / weights.sum()


ORDER_HOUR_WEIGHTS = hour_weights(
    {9: 2, 10: 3, 11: 4, 12: 5, 13: 4, 14: 3, 19: 4, 20: 5, 21: 6, 22: 4}
)
EVENT_HOUR_WEIGHTS = hour_weights(
    {8: 2, 9: 3, 10: 3, 11: 4, 12: 5, 13: 4, 14: 3, 15: 3, 19: 5, 20: 6, 21: 7, 22: 6, 23: 4}
)

# Demand by weekday (Monday first) and by month (January first); the November–December peak.
WEEKDAY_DEMAND = np.array([1.00, 0.95, 0.95, 1.00, 1.05, 1.15, 1.10])
MONTH_DEMAND = np.array([0.85, 0.80, 0.90, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 1.00, 1.35, 1.50])
MEAN_DEMAND = float(WEEKDAY_DEMAND.mean() * MONTH_DEMAND.mean())

# SPEC §2 volumes at scale factor 1.
CUSTOMERS_PER_SCALE = 1_000
ORDERS_PER_SCALE_PER_730_DAYS = 5_000
PRODUCTS_AT_SCALE_1 = 200

# Order value range in dollars by segment (bronze, silver, gold, platinum).
SEGMENT_ORDER_VALUE = np.array([[20, 150], [40, 200], [80, 400], [150, 800]], dtype=float)

"""What a simulation is a pure function of: the seed, the scale, the window and these knobs."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np


@dataclass(frozen=True)
class Realism:
    """Behaviour beyond the original's flat weights; each default is a plausible shop."""

    pre_window_customer_share: float = 0.4  # registered before the first simulated day
    activity_sigma: float = 1.5  # lognormal spread of activity: 20% of customers, ~80% of orders
    segment_change_mean_days: float = 1000.0  # mean wait between a customer's segment changes
    price_change_mean_days: float = 90.0  # mean wait between a product's price changes
    restock_level: int = 20  # stock at or below this is refilled the next day
    view_to_cart: float = 0.17  # share of sessions that add to cart
    cart_to_purchase: float = 0.33  # share of cart sessions that end in a purchase
    anonymous_session_share: float = 0.30
    search_share: float = 0.40  # sessions that search after their first page view
    remove_share: float = 0.15  # cart sessions that remove an item


@dataclass(frozen=True)
class Dirty:
    """Labelled anomalies for proving downstream handling; each rate is a share of its entity."""

    duplicate_events: float = 0.02
    null_required: float = 0.01  # orders without customer_id
    negative_quantity: float = 0.01  # order lines
    unknown_product: float = 0.01  # order lines
    malformed_json: float = 0.01  # clickstream lines
    late_events: float = 0.02  # events landing 1 to 3 days after they happened
    extra_column: float = 0.01  # events carrying a key the schema does not know


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 42
    scale_factor: float = 1.0
    start_date: date = date(2024, 1, 1)
    days: int = 730
    realism: Realism = field(default_factory=Realism)
    dirty: Dirty | None = None

    @property
    def end_date(self) -> date:
        return self.start_date + timedelta(days=self.days - 1)

    def day(self, index: int) -> date:
        return self.start_date + timedelta(days=index)

    def rng(self, stream: str, day: date | None = None) -> np.random.Generator:
        """An independent generator per (seed, stream, day): day d never depends on other days."""
        key = [self.seed, zlib.crc32(stream.encode())]
        if day is not None:
            key.append(day.toordinal())
        return np.random.default_rng(key)

"""One simulated shop: the customer base and catalog, then day after day of orders and clicks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generators.catalog import simulate_catalog
from generators.clickstream import simulate_clickstream_day
from generators.config import SimulationConfig
from generators.customers import CustomerBase, simulate_customers
from generators.orders import simulate_orders_day
from generators.pools import build_pools

ZIPF_EXPONENT = 0.8  # product popularity: a long tail, not a cliff


@dataclass(frozen=True)
class Day:
    """Everything the sources record on one simulated day."""

    day: date
    orders: pa.Table
    order_items: pa.Table
    events: pa.Table


class Simulation:
    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.pools = build_pools(config.seed)

    @cached_property
    def customers(self) -> CustomerBase:
        return simulate_customers(self.config, self.pools)

    @cached_property
    def products(self) -> pa.Table:
        return simulate_catalog(self.config, self.pools)

    @cached_property
    def _price_cents(self) -> np.ndarray:
        cents = pc.multiply(self.products["price"], pa.scalar(100)).cast(pa.int64())
        return cents.to_numpy()

    @cached_property
    def _popularity(self) -> np.ndarray:
        rng = self.config.rng("popularity")
        ranks = rng.permutation(len(self.products)) + 1
        weights = 1.0 / ranks**ZIPF_EXPONENT
        return weights / weights.sum()

    def simulate_day(self, day: date) -> Day:
        orders = simulate_orders_day(
            self.config, day, self.customers, self._price_cents, self._popularity
        )
        events = simulate_clickstream_day(
            self.config, day, self.customers, orders, self._popularity
        )
        return Day(day, orders.orders, orders.order_items, events)

    def days(self) -> Iterator[Day]:
        for index in range(self.config.days):
            yield self.simulate_day(self.config.day(index))

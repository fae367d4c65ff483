"""What a simulated world is a pure function of: the seed, the scale, the start date, these knobs.

The number of days says how far the world has advanced, never which world it is: day D's data
depends on (seed, scale factor, start date, D) only, so simulating N + 1 days equals simulating N
and then one more. Everything random is drawn per fixed block of days (`CHUNK_DAYS`, counted from
the start date) from a generator keyed by the block, never from one stream over the whole window.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np

# The version of the world: bumped whenever the same (seed, scale factor, start date) would give
# other data, so that a lake filled by an older simulator refuses to mix it with the new one.
SIMULATOR_VERSION = 2
CHUNK_DAYS = 14  # days simulated in one vectorized pass (numpy's per-call cost, amortized)


@dataclass(frozen=True)
class Realism:
    """Behaviour beyond the original's flat weights; each default is a plausible shop."""

    pre_window_customer_share: float = 0.4  # registered before the first simulated day
    activity_sigma: float = 1.5  # lognormal spread of activity: 20% of customers, ~80% of orders
    segment_change_mean_days: float = 500.0  # mean wait between a customer's segment changes
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

    @property
    def horizon_days(self) -> int:
        """Days simulated underneath: whole blocks, so that a block never depends on `days`."""
        return -(-self.days // CHUNK_DAYS) * CHUNK_DAYS

    def through(self, last: date) -> SimulationConfig:
        """The same world advanced through `last`."""
        return replace(self, days=(last - self.start_date).days + 1)

    @property
    def world(self) -> dict[str, object]:
        """What identifies the world: everything but how far it has advanced."""
        identity: dict[str, object] = {
            "seed": self.seed,
            "scale_factor": self.scale_factor,
            "start_date": self.start_date.isoformat(),
            "dirty": self.dirty is not None,
            "simulator": SIMULATOR_VERSION,
        }
        if self.realism != Realism():
            identity["realism"] = repr(self.realism)
        if self.dirty is not None and self.dirty != Dirty():
            identity["dirty"] = repr(self.dirty)
        return identity

    @property
    def world_name(self) -> str:
        """The world in words, as the lake records it and errors name it."""
        name = (
            f"simulated shop: seed {self.seed}, scale {self.scale_factor:g}, "
            f"from {self.start_date}, simulator {SIMULATOR_VERSION}"
        )
        if self.dirty is not None:
            name += ", dirty"
        if self.realism != Realism() or self.dirty not in (None, Dirty()):
            knobs = zlib.crc32(repr((self.realism, self.dirty)).encode())
            name += f", knobs {knobs:08x}"
        return name

    def day(self, index: int) -> date:
        return self.start_date + timedelta(days=index)

    def rng(self, stream: str, day: date | None = None) -> np.random.Generator:
        """An independent generator per (seed, stream, day): day d never depends on other days."""
        key = [self.seed, zlib.crc32(stream.encode())]
        if day is not None:
            key.append(day.toordinal())
        return np.random.default_rng(key)

"""The customer base: who registers when, in which segment, how active, and when segments change.

Customers register at a steady rate (a scale factor's count by day 730, SPEC §2), each block of
days drawing its newcomers from its own generator: day D's customers never depend on how many
days are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds, epoch_timestamps, labels
from generators.config import CHUNK_DAYS, SimulationConfig
from generators.pools import Pools
from generators.weights import CUSTOMERS_PER_SCALE, SEGMENT_WEIGHTS, SEGMENTS

SECONDS_PER_DAY = 86_400
PRE_WINDOW_DAYS = 365
MAX_SEGMENT_CHANGES = 3
NOMINAL_DAYS = 730  # a scale factor's customers have all registered 730 days after the start


@dataclass(frozen=True)
class CustomerBase:
    profile: pa.Table  # one row per customer: the attributes that never change
    created_epoch: np.ndarray  # registration time, seconds since 1970, UTC
    activity: np.ndarray  # relative order propensity (heavy-tailed: the Pareto 80/20)
    change_epoch: np.ndarray  # [customers, MAX_SEGMENT_CHANGES] times of segment changes
    segments: np.ndarray  # [customers, MAX_SEGMENT_CHANGES + 1] segment index after k changes
    window_start: int  # first simulated instant, seconds since 1970

    def segment_at(self, epoch: np.ndarray, customer_index: np.ndarray) -> np.ndarray:
        """Segment index of each customer at each instant."""
        changes = (self.change_epoch[customer_index] <= np.asarray(epoch)[..., None]).sum(axis=1)
        return self.segments[customer_index, changes]

    def versions(self, first_epoch: int, end_epoch: int) -> pa.Table:
        """Customer rows as the source records them between two instants (end exclusive).

        The source keeps current rows only: the first day (first_epoch = window start) sees
        every customer registered before the window as of that moment; later days see
        registrations and segment changes as they happen.
        """
        rows, version, updated = self._timeline
        begin, end = np.searchsorted(updated, [first_epoch, end_epoch], side="left")
        rows, version, updated = rows[begin:end], version[begin:end], updated[begin:end]
        if first_epoch <= self.window_start:
            rows, version, updated = self._before_window(rows, version, updated)
        table = self.profile.take(pa.array(rows))
        table = table.append_column("segment", labels(SEGMENTS, self.segments[rows, version]))
        table = table.append_column("created_at", epoch_timestamps(self.created_epoch[rows]))
        return table.append_column("updated_at", epoch_timestamps(updated))

    @cached_property
    def _timeline(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (customer, version, time) of registration and segment change, by time."""
        times = np.concatenate([self.created_epoch[:, None], self.change_epoch], axis=1)
        order = np.argsort(times, axis=None, kind="stable")
        rows, version = np.unravel_index(order, times.shape)
        return rows, version, times.ravel()[order]

    def _before_window(
        self, rows: np.ndarray, version: np.ndarray, updated: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prepend the latest pre-window version of every customer registered before it."""
        times = np.concatenate([self.created_epoch[:, None], self.change_epoch], axis=1)
        before = (times < self.window_start).sum(axis=1)
        existing = np.flatnonzero(before > 0)
        latest = before[existing] - 1
        return (
            np.concatenate([existing, rows]),
            np.concatenate([latest, version]),
            np.concatenate([times[existing, latest], updated]),
        )


def customer_count(scale_factor: float) -> int:
    """Customers registered by the end of the nominal window (SPEC §2: 1,000 at scale 1)."""
    return max(1, round(CUSTOMERS_PER_SCALE * scale_factor))


def registered_before(config: SimulationConfig, day_index: np.ndarray) -> np.ndarray:
    """Customers registered before each window day (index 0 is the start date).

    Those who registered before the window, then a steady stream: the count by a day depends on
    that day alone, never on how many days are simulated.
    """
    total = customer_count(config.scale_factor)
    before = round(total * config.realism.pre_window_customer_share)
    return before + (total - before) * np.asarray(day_index, dtype=np.int64) // NOMINAL_DAYS


def _customer_block(
    rng: np.random.Generator,
    config: SimulationConfig,
    pools: Pools,
    created_epoch: np.ndarray,
    first_id: int,
) -> dict[str, np.ndarray]:
    """Everything about the customers who registered at `created_epoch` (sorted), from `rng`."""
    realism = config.realism
    count = len(created_epoch)
    customer_id = np.arange(first_id, first_id + count, dtype=np.int64)
    activity = rng.lognormal(0.0, realism.activity_sigma, count)
    waits = rng.exponential(
        realism.segment_change_mean_days * SECONDS_PER_DAY, (count, MAX_SEGMENT_CHANGES)
    )
    change_epoch = created_epoch[:, None] + np.cumsum(waits, axis=1).astype(np.int64)
    segments = np.empty((count, MAX_SEGMENT_CHANGES + 1), dtype=np.int64)
    segments[:, 0] = rng.choice(len(SEGMENTS), size=count, p=SEGMENT_WEIGHTS)
    for step in range(MAX_SEGMENT_CHANGES):
        move = np.where(rng.random(count) < 0.5, -1, 1)
        current = segments[:, step]
        move = np.where(current == 0, 1, np.where(current == len(SEGMENTS) - 1, -1, move))
        segments[:, step + 1] = current + move
    return {
        "customer_id": customer_id,
        "created_epoch": created_epoch,
        "activity": activity,
        "change_epoch": change_epoch,
        "segments": segments,
        "first_name": pools.first_names[rng.integers(0, len(pools.first_names), count)],
        "last_name": pools.last_names[rng.integers(0, len(pools.last_names), count)],
        "domain": pools.email_domains[rng.integers(0, len(pools.email_domains), count)],
        "city": pools.cities[rng.integers(0, len(pools.cities), count)],
        "country": pools.countries[rng.integers(0, len(pools.countries), count)],
    }


def simulate_customers(config: SimulationConfig, pools: Pools) -> CustomerBase:
    """Everyone registered by the end of the simulated blocks, ids in order of registration.

    Those registered before the window come from one generator; those registering in a block of
    days from that block's own, so a longer simulation only appends customers.
    """
    window_start = epoch_seconds(config.start_date)
    before = int(registered_before(config, np.array(0)))
    rng = config.rng("customers-before-window")
    offsets = rng.integers(1, PRE_WINDOW_DAYS * SECONDS_PER_DAY, before)
    blocks = [
        _customer_block(
            rng, config, pools, created_epoch=np.sort(window_start - offsets), first_id=1
        )
    ]
    for chunk in range(config.horizon_days // CHUNK_DAYS):
        first_day = chunk * CHUNK_DAYS
        day_index = np.arange(first_day, first_day + CHUNK_DAYS)
        per_day = registered_before(config, day_index + 1) - registered_before(config, day_index)
        days = np.repeat(day_index, per_day)
        rng = config.rng("customers", config.day(first_day))
        created = (
            window_start + days * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, len(days))
        )
        first_id = int(registered_before(config, np.array(first_day))) + 1
        blocks.append(
            _customer_block(rng, config, pools, created_epoch=np.sort(created), first_id=first_id)
        )
    merged = {name: np.concatenate([block[name] for block in blocks]) for name in blocks[0]}
    email = [
        f"{f.lower()}.{la.lower()}{cid}@{d}"
        for f, la, cid, d in zip(
            merged["first_name"],
            merged["last_name"],
            merged["customer_id"],
            merged["domain"],
            strict=True,
        )
    ]
    profile = pa.table(
        {
            "customer_id": merged["customer_id"],
            "first_name": merged["first_name"],
            "last_name": merged["last_name"],
            "email": email,
            "city": merged["city"],
            "country": merged["country"],
        }
    )
    return CustomerBase(
        profile,
        merged["created_epoch"],
        merged["activity"],
        change_epoch=merged["change_epoch"],
        segments=merged["segments"],
        window_start=window_start,
    )

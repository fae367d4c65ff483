"""The customer base: who registers when, in which segment, how active, and when segments change."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds, epoch_timestamps, labels
from generators.config import SimulationConfig
from generators.pools import Pools
from generators.weights import CUSTOMERS_PER_SCALE, SEGMENT_WEIGHTS, SEGMENTS

SECONDS_PER_DAY = 86_400
PRE_WINDOW_DAYS = 365
MAX_SEGMENT_CHANGES = 3


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


def simulate_customers(config: SimulationConfig, pools: Pools) -> CustomerBase:
    rng = config.rng("customers")
    realism = config.realism
    count = max(1, round(CUSTOMERS_PER_SCALE * config.scale_factor))
    customer_id = np.arange(1, count + 1, dtype=np.int64)
    window_start = epoch_seconds(config.start_date)
    pre_window = rng.random(count) < realism.pre_window_customer_share
    offset = np.where(
        pre_window,
        -rng.integers(1, PRE_WINDOW_DAYS * SECONDS_PER_DAY, count),
        rng.integers(0, config.days * SECONDS_PER_DAY, count),
    )
    created_epoch = np.sort(window_start + offset)  # ids in order of registration
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

    first = pools.first_names[rng.integers(0, len(pools.first_names), count)]
    last = pools.last_names[rng.integers(0, len(pools.last_names), count)]
    domain = pools.email_domains[rng.integers(0, len(pools.email_domains), count)]
    email = [
        f"{f.lower()}.{la.lower()}{cid}@{d}"
        for f, la, cid, d in zip(first, last, customer_id, domain, strict=True)
    ]
    profile = pa.table(
        {
            "customer_id": customer_id,
            "first_name": first,
            "last_name": last,
            "email": email,
            "city": pools.cities[rng.integers(0, len(pools.cities), count)],
            "country": pools.countries[rng.integers(0, len(pools.countries), count)],
        }
    )
    return CustomerBase(profile, created_epoch, activity, change_epoch, segments, window_start)

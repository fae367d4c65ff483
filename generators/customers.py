"""The customer base: who registers when, in which segment, and how active they are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds
from generators.config import SimulationConfig
from generators.pools import Pools
from generators.weights import CUSTOMERS_PER_SCALE, SEGMENT_WEIGHTS, SEGMENTS

SECONDS_PER_DAY = 86_400
PRE_WINDOW_SHARE = 0.4  # customers who registered before the first simulated day
PRE_WINDOW_DAYS = 365
PARETO_SHAPE = 1.16  # the shape at which 20% of customers place about 80% of orders


@dataclass(frozen=True)
class CustomerBase:
    table: pa.Table  # one row per customer as first registered
    created_epoch: np.ndarray  # registration time, seconds since 1970, UTC
    activity: np.ndarray  # relative order propensity (Pareto)
    segment_index: np.ndarray


def simulate_customers(config: SimulationConfig, pools: Pools) -> CustomerBase:
    rng = config.rng("customers")
    count = max(1, round(CUSTOMERS_PER_SCALE * config.scale_factor))
    customer_id = np.arange(1, count + 1, dtype=np.int64)
    segment_index = rng.choice(len(SEGMENTS), size=count, p=SEGMENT_WEIGHTS)
    window_start = epoch_seconds(config.start_date)
    pre_window = rng.random(count) < PRE_WINDOW_SHARE
    offset = np.where(
        pre_window,
        -rng.integers(1, PRE_WINDOW_DAYS * SECONDS_PER_DAY, count),
        rng.integers(0, config.days * SECONDS_PER_DAY, count),
    )
    created_epoch = np.sort(window_start + offset)  # ids in order of registration
    activity = rng.pareto(PARETO_SHAPE, count) + 1.0

    first = pools.first_names[rng.integers(0, len(pools.first_names), count)]
    last = pools.last_names[rng.integers(0, len(pools.last_names), count)]
    domain = pools.email_domains[rng.integers(0, len(pools.email_domains), count)]
    email = [
        f"{f.lower()}.{la.lower()}{cid}@{d}"
        for f, la, cid, d in zip(first, last, customer_id, domain, strict=True)
    ]
    created_at = pa.array(created_epoch * 1_000_000, pa.int64()).cast(pa.timestamp("us", "UTC"))
    table = pa.table(
        {
            "customer_id": customer_id,
            "first_name": first,
            "last_name": last,
            "email": email,
            "city": pools.cities[rng.integers(0, len(pools.cities), count)],
            "country": pools.countries[rng.integers(0, len(pools.countries), count)],
            "segment": SEGMENTS[segment_index],
            "created_at": created_at,
            "updated_at": created_at,
        }
    )
    return CustomerBase(table, created_epoch, activity, segment_index)

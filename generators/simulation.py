"""One simulated shop: a customer base and a catalog, then day after day of orders and clicks.

`Simulation.record(day)` is what the three source systems record on a day: new and changed
customers, new orders and status changes of earlier ones, the order lines, the catalog as the
API serves it, and the clickstream events that arrive. It is a pure function of the world (seed,
scale factor, start date) and the day: the same whether simulated alone or inside a batch, and
whether the simulation runs for 30 days or 3,000.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generators.arrow import epoch_seconds
from generators.catalog import Catalog, simulate_catalog
from generators.clickstream import simulate_clickstream
from generators.config import CHUNK_DAYS, SimulationConfig
from generators.customers import SECONDS_PER_DAY, CustomerBase, simulate_customers
from generators.dirty import (
    ANOMALY,
    malformed_line,
    spoil_events,
    spoil_order_items,
    spoil_orders,
)
from generators.orders import LIFECYCLE_DAYS, PlacedOrders, simulate_orders
from generators.pools import build_pools

MAX_ARRIVAL_DELAY_DAYS = 4  # late events arrive up to 3 days late, plus a collector's seconds
ANOMALY_SCHEMA = pa.schema(
    [("kind", pa.string()), ("entity", pa.string()), ("record_id", pa.int64())]
)


@dataclass(frozen=True)
class Placed:
    """What happened in a chunk of days: orders placed (with all later versions) and clicks.

    Every table is split by the window day on which the sources record its rows.
    """

    orders: PlacedOrders
    order_versions: dict[int, pa.Table]
    order_items: dict[int, pa.Table]
    events: dict[int, pa.Table]


class ChunkCache:
    """The last chunks asked for, up to a count: the oldest one asked is dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.chunks: OrderedDict[int, dict[int, pa.Table]] = OrderedDict()

    def get(self, chunk: int) -> dict[int, pa.Table] | None:
        if chunk in self.chunks:
            self.chunks.move_to_end(chunk)
        return self.chunks.get(chunk)

    def put(self, chunk: int, tables: dict[int, pa.Table]) -> None:
        self.chunks[chunk] = tables
        self.chunks.move_to_end(chunk)
        while len(self.chunks) > self.size:
            self.chunks.popitem(last=False)


@dataclass(frozen=True)
class Day:
    """Everything the sources record on one simulated day."""

    day: date
    customers: pa.Table
    orders: pa.Table
    order_items: pa.Table
    products: pa.Table
    events: pa.Table
    malformed_events: pa.Table  # received_at, line: clickstream lines that are not JSON
    anomalies: pa.Table  # kind, entity, record_id: the labels of dirty mode

    @property
    def rows(self) -> int:
        return (
            sum(
                table.num_rows
                for table in (
                    self.customers,
                    self.orders,
                    self.order_items,
                    self.products,
                    self.events,
                )
            )
            + self.malformed_events.num_rows
        )


def _by_day(table: pa.Table, column: str, window_start: int) -> dict[int, pa.Table]:
    """Split rows by the window day (index) of a timestamp column, keeping their order."""
    micros = table[column].cast(pa.int64()).to_numpy()
    day = (micros // 1_000_000 - window_start) // SECONDS_PER_DAY
    if len(day) and np.any(day[1:] < day[:-1]):
        order = np.argsort(day, kind="stable")
        table, day = table.take(pa.array(order)), day[order]
    groups = {-1: table.slice(0, 0)}  # -1: the empty table, for days with no rows
    days, starts = np.unique(day, return_index=True)
    ends = [*starts[1:], len(day)] if len(day) else []
    for d, begin, end in zip(days, starts, ends, strict=True):
        groups[int(d)] = table.slice(begin, end - begin)
    return groups


def _split_labels(table: pa.Table, entity: str, key: str) -> tuple[pa.Table, pa.Table]:
    """Drop the label column, returning the labels as (kind, entity, record_id)."""
    if ANOMALY not in table.column_names:
        return table, ANOMALY_SCHEMA.empty_table()
    labelled = table.filter(pc.is_valid(table[ANOMALY]))
    labels = pa.table(
        {
            "kind": labelled[ANOMALY],
            "entity": pa.array([entity] * labelled.num_rows, pa.string()),
            "record_id": labelled[key],
        },
        schema=ANOMALY_SCHEMA,
    )
    return table.drop_columns([ANOMALY]), labels


class Simulation:
    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.pools = build_pools(config.seed)
        # A day reads the chunks placed up to its lookback before it: 28 days for an order's
        # versions, 4 for an event's arrival. Each part keeps as many chunks as that needs
        # (a chunk's events are most of its memory: 0.3 GB at scale factor 1000).
        self._cached = {
            "order_versions": ChunkCache(LIFECYCLE_DAYS // CHUNK_DAYS + 2),
            "order_items": ChunkCache(2),
            "events": ChunkCache(MAX_ARRIVAL_DELAY_DAYS // CHUNK_DAYS + 2),
        }

    @cached_property
    def customers(self) -> CustomerBase:
        return simulate_customers(self.config, self.pools)

    @cached_property
    def catalog(self) -> Catalog:
        return simulate_catalog(self.config, self.pools)

    def day_index(self, day: date) -> int:
        index = (day - self.config.start_date).days
        if not 0 <= index < self.config.days:
            raise ValueError(f"{day} is outside the simulated window")
        return index

    def _placed(self, chunk: int) -> Placed:
        """A whole block of days, even past the last simulated one: a block never depends on
        how many days are simulated (the days after the last are simply not recorded yet)."""
        first = chunk * CHUNK_DAYS
        rng = self.config.rng(f"chunk-{chunk}")
        placed = simulate_orders(
            self.config,
            rng,
            first,
            day_count=CHUNK_DAYS,
            customers=self.customers,
            catalog=self.catalog,
        )
        events = simulate_clickstream(
            self.config,
            rng,
            first,
            day_count=CHUNK_DAYS,
            customers=self.customers,
            orders=placed,
            popularity=self.catalog.popularity,
        )
        versions, order_items = placed.versions, placed.order_items
        dirty = self.config.dirty
        if dirty is not None:
            versions = spoil_orders(rng, dirty, versions, order_ids=placed.order_ids)
            order_items = spoil_order_items(rng, dirty, order_items)
            events = spoil_events(rng, dirty, events)
        window_start = epoch_seconds(self.config.start_date)
        return Placed(
            placed,
            _by_day(versions, "updated_at", window_start),
            _by_day(order_items, "updated_at", window_start),
            events=_by_day(events, "received_at", window_start),
        )

    def record(self, day: date) -> Day:
        index = self.day_index(day)
        start = epoch_seconds(day)
        end = start + SECONDS_PER_DAY
        orders = self._recorded(index, LIFECYCLE_DAYS, "order_versions")
        order_items = self._recorded(index, 0, "order_items")
        arrivals = self._recorded(index, MAX_ARRIVAL_DELAY_DAYS, "events")
        orders, order_labels = _split_labels(orders, "orders", "order_id")
        order_items, item_labels = _split_labels(order_items, "order_items", "order_item_id")
        events, event_labels = _split_labels(arrivals, "events", "event_id")
        malformed = pa.table(
            {"received_at": events["received_at"].slice(0, 0), "line": pa.array([], pa.string())}
        )
        if self.config.dirty is not None:
            is_malformed = pc.fill_null(pc.equal(arrivals[ANOMALY], "malformed_json"), False)
            broken = events.filter(is_malformed)
            malformed = pa.table(
                {
                    "received_at": broken["received_at"],
                    "line": pa.array(
                        [malformed_line(row) for row in broken.to_pylist()], pa.string()
                    ),
                }
            )
            events = events.filter(pc.invert(is_malformed))
        customers = self.customers.versions(start if index else self.customers.window_start, end)
        return Day(
            day=day,
            customers=customers,
            orders=orders,
            order_items=order_items,
            products=self.catalog.snapshot(index),
            events=events,
            malformed_events=malformed,
            anomalies=pa.concat_tables([order_labels, item_labels, event_labels]),
        )

    def _part(self, chunk: int, part: str) -> dict[int, pa.Table]:
        """One part of a chunk by recording day, placed again if its cache let it go."""
        tables = self._cached[part].get(chunk)
        if tables is None:
            placed = self._placed(chunk)
            for name, cache in self._cached.items():
                if cache.get(chunk) is None:
                    cache.put(chunk, getattr(placed, name))
            tables = getattr(placed, part)
        return tables

    def _recorded(self, index: int, lookback_days: int, part: str) -> pa.Table:
        """Rows recorded on window day `index` by chunks placed up to `lookback_days` before."""
        first_chunk = max(0, index - lookback_days) // CHUNK_DAYS
        parts = [self._part(c, part) for c in range(first_chunk, index // CHUNK_DAYS + 1)]
        tables = [groups[index] for groups in parts if index in groups]
        if not tables:
            return parts[-1][-1]
        return pa.concat_tables(tables, promote_options="default")

    def days(self) -> Iterator[Day]:
        for index in range(self.config.days):
            yield self.record(self.config.day(index))

"""Dirty mode: every labelled anomaly is really in the data, at the configured rate (±1 pp)."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest

from generators.config import Dirty, SimulationConfig
from tests.test_generators import Simulated, simulate

DIRTY = Dirty()


@pytest.fixture(scope="module")
def dirty() -> Simulated:
    simulated = simulate(
        SimulationConfig(
            seed=42, scale_factor=1, start_date=date(2024, 1, 1), days=730, dirty=DIRTY
        )
    )
    anomalies = pa.concat_tables([day.anomalies for day in simulated.days])
    simulated.sql.register("anomalies", anomalies)
    malformed = pa.concat_tables([day.malformed_events for day in simulated.days])
    simulated.sql.register("malformed", malformed)
    return simulated


def labelled(simulated: Simulated, kind: str) -> set[int]:
    return simulated.ids(f"select record_id from anomalies where kind = '{kind}'")


def test_orders_without_customer(dirty: Simulated) -> None:
    nulls = dirty.ids("select distinct order_id from orders where customer_id is null")
    (orders,) = dirty.one("select count(distinct order_id) from orders")
    assert nulls == labelled(dirty, "null_required")
    assert abs(len(nulls) / orders - DIRTY.null_required) <= 0.01


def test_order_lines_with_negative_quantity_or_unknown_product(dirty: Simulated) -> None:
    negative = dirty.ids("select order_item_id from order_items where quantity < 0")
    unknown = dirty.ids(
        "select order_item_id from order_items"
        " where product_id not in (select product_id from products)"
    )
    (lines,) = dirty.one("select count(*) from order_items")
    assert negative == labelled(dirty, "negative_quantity")
    assert unknown == labelled(dirty, "unknown_product")
    assert abs(len(negative) / lines - DIRTY.negative_quantity) <= 0.01
    assert abs(len(unknown) / lines - DIRTY.unknown_product) <= 0.01


def test_clickstream_anomalies(dirty: Simulated) -> None:
    duplicated, late, extra = (
        dirty.ids(query)
        for query in (
            "select event_id from events group by 1 having count(*) > 1",
            "select event_id from events where received_at - event_at >= interval 1 day",
            "select event_id from events where experiment_variant is not null",
        )
    )
    (on_time_lag,) = dirty.one(
        "select max(received_at - event_at) from events where experiment_variant is null"
        " and event_id not in (select record_id from anomalies where kind = 'late_event')"
    )
    lines = [row[0] for row in dirty.sql.sql("select line from malformed").fetchall()]
    broken = 0
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
        broken += 1
    (events, copies) = dirty.one(
        "select count(distinct event_id), count(*) - count(distinct event_id) from events"
    )
    recorded = events + broken  # every event the collector saw once, readable or not
    assert duplicated == labelled(dirty, "duplicate_event")
    assert late == labelled(dirty, "late_event")
    assert extra == labelled(dirty, "extra_column")
    assert broken == len(labelled(dirty, "malformed_json"))
    assert on_time_lag.total_seconds() < 5
    for count, rate in [
        (copies, DIRTY.duplicate_events),
        (len(late), DIRTY.late_events),
        (len(extra), DIRTY.extra_column),
        (broken, DIRTY.malformed_json),
    ]:
        assert abs(count / recorded - rate) <= 0.01


def test_clean_mode_has_no_anomalies() -> None:
    clean = simulate(SimulationConfig(seed=42, start_date=date(2024, 1, 1), days=30))
    assert sum(day.anomalies.num_rows for day in clean.days) == 0
    assert sum(day.malformed_events.num_rows for day in clean.days) == 0
    assert "experiment_variant" not in clean.days[0].events.column_names

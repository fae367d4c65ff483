"""Dirty mode: labelled anomalies injected into what the sources record.

Each record gets at most one anomaly, chosen with the configured rates, and the label names the
kind and the record, so a test can prove that downstream handling catches exactly these.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generators.config import Dirty

ANOMALY = "_anomaly"  # column carrying the label until the day's records are assembled
UNKNOWN_PRODUCT_OFFSET = 1_000_000
SECONDS_PER_DAY = 86_400


def _pick(rng: np.random.Generator, count: int, rates: list[float]) -> np.ndarray:
    """For each record, the index of its anomaly in `rates`, or -1 for none (exclusive draws)."""
    draw = rng.random(count)
    edges = np.cumsum(rates)
    kind = np.searchsorted(edges, draw, side="right")
    return np.where(kind < len(rates), kind, -1)


def _label(kinds: np.ndarray, names: list[str]) -> pa.Array:
    labels = np.array([*names, ""], dtype=object)[kinds]
    return pa.array(labels, pa.string(), mask=kinds < 0)


def spoil_orders(
    rng: np.random.Generator, dirty: Dirty, versions: pa.Table, order_ids: np.ndarray
) -> pa.Table:
    """Orders without customer: every version of a chosen order loses its customer_id."""
    kinds = _pick(rng, len(order_ids), [dirty.null_required])
    bad_ids = order_ids[kinds == 0]
    is_bad = pc.is_in(versions["order_id"], pa.array(bad_ids)).to_numpy(zero_copy_only=False)
    customer = versions["customer_id"].to_numpy()
    versions = versions.set_column(
        versions.schema.get_field_index("customer_id"),
        "customer_id",
        pa.array(customer, mask=is_bad),
    )
    # the label travels with the insert (the first version) only
    is_insert = versions["status"].to_numpy(zero_copy_only=False) == "pending"
    kinds_by_row = np.where(is_bad & is_insert, 0, -1)
    return versions.append_column(ANOMALY, _label(kinds_by_row, ["null_required"]))


def spoil_order_items(rng: np.random.Generator, dirty: Dirty, order_items: pa.Table) -> pa.Table:
    """Negative quantities and product ids the catalog never had."""
    kinds = _pick(rng, order_items.num_rows, [dirty.negative_quantity, dirty.unknown_product])
    quantity = order_items["quantity"].to_numpy()
    product = order_items["product_id"].to_numpy()
    quantity = np.where(kinds == 0, -quantity, quantity)
    product = np.where(kinds == 1, product + UNKNOWN_PRODUCT_OFFSET, product)
    order_items = order_items.set_column(
        order_items.schema.get_field_index("quantity"), "quantity", pa.array(quantity)
    )
    order_items = order_items.set_column(
        order_items.schema.get_field_index("product_id"), "product_id", pa.array(product)
    )
    return order_items.append_column(
        ANOMALY, _label(kinds, ["negative_quantity", "unknown_product"])
    )


EVENT_KINDS = ["duplicate_event", "malformed_json", "late_event", "extra_column"]


def spoil_events(rng: np.random.Generator, dirty: Dirty, events: pa.Table) -> pa.Table:
    """Duplicates, lines that are not JSON, events arriving 1–3 days late, an unknown key.

    Malformed lines stay rows here, marked, so they keep their arrival time; the landing zone
    writes them as broken text.
    """
    rates = [dirty.duplicate_events, dirty.malformed_json, dirty.late_events, dirty.extra_column]
    kinds = _pick(rng, events.num_rows, rates)
    received = events["received_at"].cast(pa.int64()).to_numpy()
    delay_days = rng.integers(1, 4, events.num_rows)
    received = np.where(kinds == 2, received + delay_days * SECONDS_PER_DAY * 1_000_000, received)
    events = events.set_column(
        events.schema.get_field_index("received_at"),
        "received_at",
        pa.array(received).cast(pa.timestamp("us", "UTC")),
    )
    variant = np.where(kinds == 3, "B", None)
    events = events.append_column("experiment_variant", pa.array(variant, pa.string()))
    labelled = events.append_column(ANOMALY, _label(np.where(kinds == 0, -1, kinds), EVENT_KINDS))
    duplicates = events.filter(pa.array(kinds == 0)).append_column(
        ANOMALY, pa.array(["duplicate_event"] * int((kinds == 0).sum()), pa.string())
    )
    return pa.concat_tables([labelled, duplicates])


def malformed_line(record: dict) -> str:
    """A JSON line cut short, as a crashed collector leaves it."""
    text = json.dumps(record, default=str)
    return text[: max(1, len(text) // 2)]

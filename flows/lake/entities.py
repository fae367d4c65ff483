"""The lake's raw schemas, declared once per entity, and the rules a record must pass to land.

A record that breaks a rule goes to quarantine with the rule's reason; nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from flows.lake.vocabulary import value_set

UTC = pa.timestamp("us", "UTC")
MONEY = pa.decimal128(12, 2)

# Lineage columns every raw row carries: the run, where it was read, and when it was landed.
LINEAGE = [
    pa.field("_run_id", pa.string()),
    pa.field("_source", pa.string()),
    pa.field("_ingested_at", UTC),
]


@dataclass(frozen=True)
class Entity:
    source: str
    name: str
    schema: pa.Schema  # the fields of a valid record, without lineage
    key: tuple[str, ...]  # what identifies one record (one version of a row)
    partition_by: str  # timestamp column whose UTC date is the record's partition
    required: tuple[str, ...]
    allowed: dict[str, tuple[str, ...]]
    positive: tuple[str, ...] = ()  # numeric columns that must be > 0
    non_negative: tuple[str, ...] = ()
    maximum: dict[str, float] = field(default_factory=dict)  # numeric columns' upper bounds
    # (later, earlier): timestamps that must not come before another of the same record
    not_before: tuple[tuple[str, str], ...] = ()
    # (column, columns): the column must not exceed the product of the others in its record
    at_most: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Which row a partition keeps when a key arrives again: the one landed first (a version or
    # a line never changes once written) or the latest (a re-fetched snapshot replaces the old).
    winner: Literal["first", "latest"] = "first"
    # The timestamp whose day a record changes figures of, when that can be an earlier day than
    # the one it lands on: an order's status change is about the day the order was placed.
    about: str | None = None

    @property
    def raw_schema(self) -> pa.Schema:
        return pa.schema([*self.schema, *LINEAGE])


CUSTOMERS = Entity(
    source="shop",
    name="customers",
    schema=pa.schema(
        [
            ("customer_id", pa.int64()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("email", pa.string()),
            ("city", pa.string()),
            ("country", pa.string()),
            ("segment", pa.string()),
            ("created_at", UTC),
            ("updated_at", UTC),
        ]
    ),
    key=("customer_id", "updated_at"),
    partition_by="updated_at",
    required=("customer_id", "email", "segment", "created_at", "updated_at"),
    allowed={"segment": value_set("customer_segment")},
    not_before=(("updated_at", "created_at"),),
)

ORDERS = Entity(
    source="shop",
    name="orders",
    schema=pa.schema(
        [
            ("order_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("order_at", UTC),
            ("status", pa.string()),
            ("payment_method", pa.string()),
            ("total_amount", MONEY),
            ("updated_at", UTC),
        ]
    ),
    key=("order_id", "updated_at"),
    partition_by="updated_at",
    required=("order_id", "customer_id", "order_at", "status", "total_amount", "updated_at"),
    allowed={
        "status": value_set("order_status"),
        "payment_method": value_set("payment_method"),
    },
    non_negative=("total_amount",),
    not_before=(("updated_at", "order_at"),),
    about="order_at",
)

ORDER_ITEMS = Entity(
    source="shop",
    name="order_items",
    schema=pa.schema(
        [
            ("order_item_id", pa.int64()),
            ("order_id", pa.int64()),
            ("product_id", pa.int64()),
            ("quantity", pa.int64()),
            ("unit_price", MONEY),
            ("discount_amount", MONEY),
            ("updated_at", UTC),
        ]
    ),
    key=("order_item_id", "updated_at"),
    partition_by="updated_at",
    required=("order_item_id", "order_id", "product_id", "quantity", "unit_price", "updated_at"),
    allowed={},
    positive=("quantity", "unit_price"),
    non_negative=("discount_amount",),
    maximum={"quantity": 100, "unit_price": 10_000},
    at_most=(("discount_amount", ("quantity", "unit_price")),),  # never more than the line
)

PRODUCTS = Entity(
    source="catalog",
    name="products",
    schema=pa.schema(
        [
            ("product_id", pa.int64()),
            ("title", pa.string()),
            ("description", pa.string()),
            ("category", pa.string()),
            ("image_url", pa.string()),
            ("rating_rate", pa.float64()),
            ("rating_count", pa.int64()),
            ("price", MONEY),
            ("stock_quantity", pa.int64()),
            ("updated_at", UTC),
            ("snapshot_date", pa.date32()),
        ]
    ),
    key=("product_id", "snapshot_date"),
    partition_by="snapshot_date",
    required=("product_id", "title", "category", "price", "snapshot_date"),
    allowed={"category": value_set("product_category")},
    positive=("price",),
    non_negative=("stock_quantity", "rating_rate"),
    maximum={"price": 10_000, "rating_rate": 5},
    winner="latest",
)

EVENTS = Entity(
    source="clickstream",
    name="events",
    schema=pa.schema(
        [
            ("event_id", pa.int64()),
            ("session_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("event_type", pa.string()),
            ("event_at", UTC),
            ("product_id", pa.int64()),
            ("order_id", pa.int64()),
            ("device_type", pa.string()),
            ("browser", pa.string()),
            ("received_at", UTC),
        ]
    ),
    key=("_source",),  # file and line: the same line read twice is the same record
    partition_by="event_at",
    required=("event_id", "session_id", "event_type", "event_at", "device_type"),
    allowed={
        "event_type": value_set("event_type"),
        "device_type": value_set("device_type"),
        "browser": value_set("browser"),
    },
    not_before=(("received_at", "event_at"),),
    about="event_at",
)

ENTITIES = {entity.name: entity for entity in (CUSTOMERS, ORDERS, ORDER_ITEMS, PRODUCTS, EVENTS)}

QUARANTINE_SCHEMA = pa.schema(
    [
        ("record", pa.string()),  # the record as received: JSON text or the raw line
        ("reason", pa.string()),
        ("_run_id", pa.string()),
        ("_source", pa.string()),
        ("partition_date", pa.date32()),
    ]
)

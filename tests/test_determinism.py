"""The sources are a pure function of (seed, scale factor, start date, days)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from flows.landing import land_window
from flows.settings import load_settings
from generators.config import SimulationConfig
from generators.simulation import Simulation


def content_hash(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def lake_hashes(root: Path) -> dict[str, str]:
    """Partition path -> hash of the rows it holds (independent of Parquet writer metadata)."""
    return {
        str(path.relative_to(root)): content_hash(pq.read_table(path))
        for path in sorted(root.rglob("*.parquet"))
    }


def land(root: Path, seed: int) -> dict[str, str]:
    settings = load_settings(
        lake_root=str(root / "lake"),
        warehouse_path=root / "warehouse" / "lakehouse.duckdb",
        seed=seed,
        start_date=date(2024, 11, 20),
        days=20,
    )
    land_window(settings)
    return lake_hashes(root / "lake")


def test_same_settings_land_identical_lakes_and_another_seed_differs(tmp_path: Path) -> None:
    first = land(tmp_path / "first", seed=42)
    again = land(tmp_path / "again", seed=42)
    other = land(tmp_path / "other", seed=43)

    # customers, orders, lines, products and events: every day has some at seed scale
    assert len(first) == 5 * 20
    assert first == again
    assert first.keys() == other.keys()
    assert all(first[path] != other[path] for path in first)


def test_a_day_is_the_same_alone_or_in_a_batch() -> None:
    config = SimulationConfig(seed=42, start_date=date(2024, 1, 1), days=10)
    batch = {day.day: day for day in Simulation(config).days()}
    alone = Simulation(config).record(date(2024, 1, 7))
    for entity in ("customers", "orders", "order_items", "products", "events"):
        assert content_hash(getattr(alone, entity)) == content_hash(
            getattr(batch[alone.day], entity)
        )

"""The sources are a pure function of (seed, scale factor, start date, days)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pyarrow.fs as pafs

from generators.config import SimulationConfig
from generators.shop_db import TABLES, ShopDatabase
from generators.sources import write_sources


def source_hashes(root: Path, seed: int) -> dict[str, str]:
    """Write the sources under `root`; hash every table's rows and every landing file."""
    config = SimulationConfig(seed=seed, start_date=date(2024, 11, 20), days=20)
    url = f"sqlite:///{root / 'shop.sqlite'}"
    write_sources(config, url, (pafs.LocalFileSystem(), str(root / "landing")))
    hashes = {}
    with ShopDatabase.connect(url) as database:
        for table in TABLES:
            hashes[table] = hashlib.sha256(repr(database.read(table)).encode()).hexdigest()
    for path in sorted((root / "landing").rglob("*.ndjson")):
        hashes[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def test_same_settings_give_identical_sources_and_another_seed_differs(tmp_path: Path) -> None:
    first = source_hashes(tmp_path / "first", seed=42)
    again = source_hashes(tmp_path / "again", seed=42)
    other = source_hashes(tmp_path / "other", seed=43)
    assert len(first) > 3 + 20 * 20  # three tables and an hour file for most hours
    assert first == again
    assert all(first[name] != other[name] for name in TABLES)
    assert sum(first[name] != other.get(name) for name in first) > 0.9 * len(first)

"""The simulated world is stable: day D depends on (seed, scale, start date, D), never on how
many days are simulated, so a shorter world is a prefix of a longer one and advancing a day at a
time writes the same sources, byte for byte, as one batch."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import httpx
import pyarrow.fs as pafs
import pytest

from flows.sources.contract import SHOP_KEYS, SHOP_TABLES, changes_table, landing_day_prefix
from generators.catalog_api import CatalogApi
from generators.config import Dirty, SimulationConfig
from generators.simulation import Simulation
from generators.sources import SourceWriter, batch_days, write_sources

LOCAL = pafs.LocalFileSystem()
START = date(2024, 10, 1)


def world(days: int, dirty: bool = False) -> SimulationConfig:
    return SimulationConfig(
        seed=11, scale_factor=0.2, start_date=START, days=days, dirty=Dirty() if dirty else None
    )


def database(root: Path) -> str:
    return f"sqlite:///{root / 'shop.sqlite'}"


def rows(root: Path, table: str, order: str) -> list[tuple]:
    with sqlite3.connect(root / "shop.sqlite") as connection:
        return connection.execute(f"select * from {table} order by {order}").fetchall()


def landing(root: Path) -> dict[str, str]:
    """Every landing file by its path under the root, with the hash of its bytes."""
    return {
        str(path.relative_to(root / "landing")): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((root / "landing").rglob("*.ndjson"))
    }


def snapshot(root: Path) -> dict[str, list[tuple]]:
    """Every table and change log of the shop database, row by row (change ids included)."""
    tables = {table: rows(root, table, SHOP_KEYS[table]) for table in SHOP_TABLES}
    logs = {changes_table(t): rows(root, changes_table(t), "change_id") for t in SHOP_TABLES}
    return {**tables, **logs}


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_a_shorter_world_is_the_prefix_of_a_longer_one(tmp_path: Path, dirty: bool) -> None:
    """20 days and 47 days (across blocks of 14 and batches of 7): the first 20 are the same."""
    short, long = world(20, dirty), world(47, dirty)
    write_sources(short, database(tmp_path / "short"), (LOCAL, str(tmp_path / "short/landing")))
    write_sources(long, database(tmp_path / "long"), (LOCAL, str(tmp_path / "long/landing")))

    for table in SHOP_TABLES:
        log = changes_table(table)
        shorter = rows(tmp_path / "short", log, "change_id")
        longer = rows(tmp_path / "long", log, "change_id")
        assert len(shorter) > 25 and len(longer) > len(shorter), table
        assert longer[: len(shorter)] == shorter, f"{log} of 20 days is a prefix of 47 days'"
        # the table of 20 days: the latest version, by the change log, of each of its rows
        latest = {row[1]: row[1:] for row in shorter}  # change_id, then the table's columns
        assert rows(tmp_path / "short", table, SHOP_KEYS[table]) == sorted(latest.values())

    short_files, long_files = landing(tmp_path / "short"), landing(tmp_path / "long")
    last = START + timedelta(days=19)
    arrived = {name: date(*map(int, name.split("/")[1:4])) for name in long_files}
    assert short_files == {name: h for name, h in long_files.items() if arrived[name] <= last}
    assert len(short_files) > 10 * 20  # an hour file for most hours with events

    short_sim, long_sim = Simulation(short), Simulation(long)
    for index in range(20):
        assert short_sim.catalog.snapshot(index).equals(long_sim.catalog.snapshot(index)), index
        day = short.day(index)
        for part in ("customers", "orders", "order_items", "events", "anomalies"):
            assert getattr(short_sim.record(day), part).equals(
                getattr(long_sim.record(day), part)
            ), (day, part)


def test_the_catalog_api_serves_the_same_day_whatever_the_window() -> None:
    """Over HTTP, as ingestion reads it: a day's pages from a 10-day and a 400-day world."""
    day = START + timedelta(days=7)
    pages = []
    for days in (10, 400):
        with CatalogApi(world(days)) as api:
            answer = httpx.get(f"{api.url}/products", params={"date": str(day), "limit": 500})
            pages.append((answer.status_code, answer.headers["X-Total-Count"], answer.text))
    assert pages[0] == pages[1] and pages[0][0] == 200
    with CatalogApi(world(10)) as api:  # past the window: the shop keeps trading
        later = httpx.get(f"{api.url}/products", params={"date": "2025-06-30", "limit": 5})
        before = httpx.get(f"{api.url}/products", params={"date": "2024-09-30", "limit": 5})
    assert later.status_code == 200 and len(later.json()) == 5
    assert before.status_code == 400 and "before the shop opened" in before.text


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_advancing_day_by_day_writes_what_one_batch_writes(tmp_path: Path, dirty: bool) -> None:
    """Sources written for 31 days at once, and for 27 days then 1, then 3 more (the way
    `lakehouse run` then `lakehouse daily` advance them): the same tables, change logs (change
    ids included) and landing files, byte for byte."""
    config = world(31, dirty)
    batch, steps = tmp_path / "batch", tmp_path / "steps"
    write_sources(config, database(batch), (LOCAL, str(batch / "landing")))
    for last in (26, 27, 30):
        with SourceWriter.open(
            world(27, dirty), database(steps), (LOCAL, str(steps / "landing"))
        ) as writer:
            writer.advance_to(START + timedelta(days=last))
    assert snapshot(steps) == snapshot(batch)
    assert landing(steps) == landing(batch)
    with SourceWriter.open(config, database(steps), (LOCAL, str(steps / "landing"))) as writer:
        assert writer.simulated_through() == START + timedelta(days=30)
        assert not writer.advance_to(START + timedelta(days=5)), "the world never moves back"


def test_a_week_is_written_at_once_up_to_the_scales_where_it_would_not_fit_in_memory() -> None:
    """About 600k events per batch at most: a week up to SF300, two days at SF1000 (the
    sources do not depend on it: the test above crosses batches at other days)."""
    assert [batch_days(scale) for scale in (0.2, 1, 100, 300, 1000, 5000)] == [7, 7, 7, 7, 2, 1]


def test_another_world_replaces_the_sources_instead_of_mixing(tmp_path: Path) -> None:
    url, landing_root = database(tmp_path), (LOCAL, str(tmp_path / "landing"))
    write_sources(world(5), url, landing_root)
    other = SimulationConfig(seed=12, scale_factor=0.2, start_date=START, days=5)
    with SourceWriter.open(other, url, landing_root) as writer:
        assert writer.simulated_through() == START - timedelta(days=1), "emptied for seed 12"
        writer.advance_to(other.end_date)
    fresh = tmp_path / "fresh"
    write_sources(other, database(fresh), (LOCAL, str(fresh / "landing")))
    assert snapshot(tmp_path) == snapshot(fresh)
    with sqlite3.connect(tmp_path / "shop.sqlite") as connection:
        (name,) = connection.execute("select identity from source_identity").fetchone()
    assert name == "simulated shop: seed 12, scale 0.2, from 2024-10-01, simulator 2"


def test_a_year_and_a_day_equals_a_year_then_one_more_day(tmp_path: Path) -> None:
    """The newcomer's case at the default length: 730 days, then `lakehouse daily`."""
    config = SimulationConfig(seed=42, scale_factor=0.1, start_date=date(2024, 1, 1), days=731)
    whole, then = tmp_path / "whole", tmp_path / "then"
    write_sources(config, database(whole), (LOCAL, str(whole / "landing")))
    with SourceWriter.open(config, database(then), (LOCAL, str(then / "landing"))) as writer:
        writer.advance_to(date(2025, 12, 30))
        written = writer.advance_to(date(2025, 12, 31))
    assert written["orders"] > 0 and written["clickstream_lines"] > 0
    assert snapshot(then) == snapshot(whole)
    assert landing(then) == landing(whole)
    customers = {row[0] for row in rows(whole, "customers", "customer_id")}
    assert len(customers) == 100  # scale 0.1: SPEC §2's 1,000 × 0.1 registered by day 730


def test_a_batch_whose_hour_files_fail_leaves_nothing_of_itself_in_the_database(
    tmp_path: Path,
) -> None:
    """The shop database and the landing zone are written on two threads at once: when a
    batch's hour files cannot be written (a file stands where its day's folder goes), the
    error reaches the caller, the database holds the batches before it, each with its mark,
    and nothing of that batch; the next advance, once the obstacle is gone, writes the same
    sources as a run that never failed, change logs included."""
    config = world(30)
    failed, clean = tmp_path / "failed", tmp_path / "clean"
    blocked = START + timedelta(days=16)  # in the third batch of 7 days (days 14 to 20)
    obstacle = failed / "landing" / landing_day_prefix(blocked)  # the day's folder, as a file
    with SourceWriter.open(config, database(failed), (LOCAL, str(failed / "landing"))) as writer:
        obstacle.parent.mkdir(parents=True)  # after opening: new sources start with no landing
        obstacle.write_text("not a folder")
        with pytest.raises(OSError):
            writer.advance_to(config.end_date)
        assert writer.simulated_through() == START + timedelta(days=13)
    day_after_mark = (START + timedelta(days=14)).isoformat()
    for table in SHOP_TABLES:
        updated = [row[-1] for row in rows(failed, table, SHOP_KEYS[table])]
        assert updated and max(updated) < day_after_mark, table
        logged = [row[-1] for row in rows(failed, changes_table(table), "change_id")]
        assert max(logged) < day_after_mark, f"{changes_table(table)} holds the failed batch"

    obstacle.unlink()
    with SourceWriter.open(config, database(failed), (LOCAL, str(failed / "landing"))) as writer:
        writer.advance_to(config.end_date)
    write_sources(config, database(clean), (LOCAL, str(clean / "landing")))
    assert snapshot(failed) == snapshot(clean)
    assert landing(failed) == landing(clean)

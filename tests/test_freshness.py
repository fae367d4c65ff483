"""Source freshness on two clocks, measured by every run from the lake's manifests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb

from flows.lake.partitions import Lake
from flows.operations.freshness import Threshold, measure, thresholds, warnings
from flows.operations.ops import ops_path
from tests.conftest import E2E_DAYS, E2E_START, Built

END = date.fromisoformat(E2E_START) + timedelta(days=E2E_DAYS - 1)
SOURCES = [
    "shop.customers",
    "shop.orders",
    "shop.order_items",
    "catalog.products",
    "clickstream.events",
]


def test_thresholds_are_the_dbt_sources_freshness_config() -> None:
    assert thresholds() == {
        source: Threshold(warn_hours=48, error_hours=168)
        for source in ("shop", "catalog", "clickstream")
    }


def test_a_run_that_landed_its_window_is_fresh_on_both_clocks(built: Built) -> None:
    measured = measure(Lake.from_settings(built.settings), END)
    assert [item.source for item in measured] == SOURCES
    by_source = {item.source: item for item in measured}
    for source in ("shop.orders", "shop.order_items", "clickstream.events"):
        assert by_source[source].newest_day == END.isoformat()
        assert by_source[source].data_age_days == 0
    assert all(item.status == "pass" for item in measured), warnings(measured)
    assert all(0 <= item.load_age_hours < 2 for item in measured)
    assert warnings(measured) == []


def test_data_older_than_the_expected_day_is_a_warning_then_stale(built: Built) -> None:
    lake = Lake.from_settings(built.settings)
    three_days_on = {item.source: item for item in measure(lake, END + timedelta(days=3))}
    assert three_days_on["clickstream.events"].status == "warn"
    assert three_days_on["clickstream.events"].data_age_days == 3
    assert three_days_on["clickstream.events"].note == f"newest data {END} is 3 days before " + (
        (END + timedelta(days=3)).isoformat()
    )
    a_month_on = measure(lake, END + timedelta(days=30))
    assert {item.status for item in a_month_on} == {"stale"}
    assert "clickstream.events stale: newest data" in "\n".join(warnings(a_month_on))


def test_no_load_for_days_is_a_warning_on_the_load_clock(built: Built) -> None:
    lake = Lake.from_settings(built.settings)
    later = datetime.now(UTC) + timedelta(days=3)
    measured = measure(lake, END, now=later)
    assert {item.status for item in measured} == {"warn"}
    assert all(item.note.startswith("last loaded 7") for item in measured)  # ~72 h ago


def test_an_empty_lake_is_stale_everywhere(tmp_path) -> None:
    from flows.settings import load_settings

    lake = Lake.from_settings(load_settings(lake_root=str(tmp_path / "lake")))
    measured = measure(lake, END)
    assert {(item.status, item.note, item.newest_day) for item in measured} == {
        ("stale", "no data in the lake", "")
    }


def test_the_run_record_and_ops_carry_what_the_run_measured(built: Built) -> None:
    with duckdb.connect(str(ops_path(built.settings)), read_only=True) as ops:
        rows = ops.sql("select source, status, data_age_days from ops.freshness").fetchall()
        runs = ops.sql("select freshness_warnings from ops.runs").fetchall()
    assert sorted(source for source, _, _ in rows) == sorted(SOURCES)
    assert {status for _, status, _ in rows} == {"pass"}
    assert runs == [("",)]
    assert built.result.freshness_warnings == []

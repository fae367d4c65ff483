"""Bad settings meet a one-line error naming the setting, a non-zero exit, and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.settings import SettingsError, load_settings
from tests.conftest import settings_environment


def run_cli(cwd: Path, environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", *args],
        cwd=cwd,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variables", "args", "message"),
    [
        (
            {"LAKEHOUSE_SCALE_FACTOR": "lots"},
            (),
            "error: invalid setting LAKEHOUSE_SCALE_FACTOR=lots: "
            "Input should be a valid number, unable to parse string as a number",
        ),
        (
            {"LAKEHOUSE_SCALE_FACTOR": "0"},
            (),
            "error: invalid setting LAKEHOUSE_SCALE_FACTOR=0: must be > 0 and <= 1000",
        ),
        (
            {"LAKEHOUSE_SCALE_FACTOR": "5000"},
            (),
            "error: invalid setting LAKEHOUSE_SCALE_FACTOR=5000: must be > 0 and <= 1000",
        ),
        (
            {"LAKEHOUSE_DAYS": "-3"},
            (),
            "error: invalid setting LAKEHOUSE_DAYS=-3: must be >= 1",
        ),
        ({}, ("--days", "-3"), "error: invalid setting LAKEHOUSE_DAYS=-3: must be >= 1"),
        (
            {"LAKEHOUSE_LOCK_WAIT_SECONDS": "-1"},
            (),
            "error: invalid setting LAKEHOUSE_LOCK_WAIT_SECONDS=-1: must be >= 0",
        ),
        (
            {"LAKEHOUSE_APP_REFRESH_FUNNEL_SECONDS": "-5"},
            (),
            "error: invalid setting LAKEHOUSE_APP_REFRESH_FUNNEL_SECONDS=-5: must be >= 0",
        ),
        (
            {"LAKEHOUSE_DUCKDB_MEMORY_LIMIT": "lots"},
            (),
            "error: invalid setting LAKEHOUSE_DUCKDB_MEMORY_LIMIT=lots: "
            "must be a size with a unit, e.g. 2GB or 512MiB",
        ),
        (
            {"LAKEHOUSE_DUCKDB_THREADS": "-1"},
            (),
            "error: invalid setting LAKEHOUSE_DUCKDB_THREADS=-1: "
            "must be >= 0 (0: one per CPU core)",
        ),
        (
            {"LAKEHOUSE_SHOP_CHANGES_PER_BATCH": "0"},
            (),
            "error: invalid setting LAKEHOUSE_SHOP_CHANGES_PER_BATCH=0: must be >= 1",
        ),
        (
            {"LAKEHOUSE_DBT_LOG_LEVEL": "loud"},
            (),
            "error: invalid setting LAKEHOUSE_DBT_LOG_LEVEL=loud: "
            "Input should be 'debug', 'info', 'warn', 'error' or 'none'",
        ),
        (
            {"LAKEHOUSE_START_DATE": "2024-13-01"},
            (),
            "error: invalid setting LAKEHOUSE_START_DATE=2024-13-01: Input should be a valid "
            "date or datetime, month value is outside expected range of 1-12",
        ),
    ],
)
def test_invalid_setting_is_one_line_and_writes_nothing(
    tmp_path: Path, variables: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    completed = run_cli(tmp_path, {**settings_environment(tmp_path), **variables}, *args)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [message]
    assert list(tmp_path.iterdir()) == []


def test_unwritable_lake_root_is_refused_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    environment = settings_environment(tmp_path, LAKEHOUSE_LAKE_ROOT=str(blocker / "lake"))
    completed = run_cli(tmp_path, environment)
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        f"error: invalid setting LAKEHOUSE_LAKE_ROOT={blocker / 'lake'}: "
        f"{blocker} is not a writable folder"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


def test_settings_read_from_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("LAKEHOUSE_"):
            monkeypatch.delenv(key)
    (tmp_path / ".env").write_text("LAKEHOUSE_SEED=7\nLAKEHOUSE_DAYS=10\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert (settings.world.seed, settings.world.days, settings.world.scale_factor) == (7, 10, 1.0)
    assert str(settings.world.end_date) == "2024-01-10"


def test_overrides_are_validated_like_the_environment() -> None:
    with pytest.raises(SettingsError, match=r"^invalid setting LAKEHOUSE_SEED=-1: must be >= 0$"):
        load_settings(seed=-1)


def test_duckdb_resources_reach_ingestion_dbt_and_the_gate(tmp_path: Path) -> None:
    """Non-default memory, threads and spill folder on every connection the pipeline opens."""
    import duckdb

    from flows.runtime.duck import connect
    from flows.warehouse.build import dbt_environment
    from flows.warehouse.gate import gate_connection

    spill = tmp_path / "spill"
    settings = load_settings(
        duckdb_memory_limit="300MB", duckdb_threads=1, duckdb_temp_directory=spill
    )
    with connect(settings) as connection:
        memory, threads, folder = connection.execute(
            "select current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchone()
    assert (memory, threads, folder) == ("286.1 MiB", 1, str(spill))
    environment = dbt_environment(settings)
    assert environment["DBT_LAKEHOUSE_MEMORY_LIMIT"] == "300MB"
    assert environment["DBT_LAKEHOUSE_THREADS"] == "1"
    assert environment["DBT_LAKEHOUSE_TEMP_DIRECTORY"] == str(spill)
    duckdb.connect(str(tmp_path / "build.duckdb")).close()
    with gate_connection(settings, tmp_path / "build.duckdb") as (build, raw):
        for gate in (build, raw):
            memory, threads = gate.execute(
                "select current_setting('memory_limit'), current_setting('threads')"
            ).fetchone()
            assert (memory, threads) == ("286.1 MiB", 1)
    assert load_settings().duckdb.thread_count == len(os.sched_getaffinity(0)), (
        "0 means one per core"
    )

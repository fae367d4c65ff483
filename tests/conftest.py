"""Fixtures: temp lakes and warehouses, one Prefect test server, one small end-to-end build."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from flows.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
E2E_DAYS = 45
E2E_START = "2025-10-01"


def settings_environment(root: Path, **extra: str) -> dict[str, str]:
    """LAKEHOUSE_* variables that put every output under `root`."""
    return {
        "LAKEHOUSE_LAKE_ROOT": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE_PATH": str(root / "warehouse" / "lakehouse.duckdb"),
        **extra,
    }


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server for the whole session (starting one costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@dataclass(frozen=True)
class Built:
    settings: Settings
    environment: dict[str, str]
    result: object  # flows.pipeline.PipelineResult


@pytest.fixture(scope="session")
def built(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The whole pipeline, run once at seed scale on a short window, in a temp dir."""
    from flows.pipeline import lakehouse_pipeline

    environment = settings_environment(
        tmp_path_factory.mktemp("e2e"), LAKEHOUSE_START_DATE=E2E_START, LAKEHOUSE_DAYS=str(E2E_DAYS)
    )
    with mock.patch.dict(os.environ, environment):
        result = lakehouse_pipeline()
        yield Built(load_settings(), environment, result)

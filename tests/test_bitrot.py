"""Bit rot: bytes flipped inside a partition file, its size unchanged. `lakehouse verify` names
every corrupt file (checked against its manifest's sha256 before anything reads it) and
`lakehouse repair` sets it aside and reads its rows again from the sources, on a local lake
and on S3."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from unittest import mock

import pyarrow.dataset as ds
import pytest

from flows.lake.entities import ENTITIES
from flows.lake.partitions import Lake
from flows.settings import load_settings
from tests.cli import Workspace
from tests.conftest import PrefectServer, S3Endpoint

pytestmark = pytest.mark.e2e


def flipped(data: bytes) -> bytes:
    """16 bytes in the middle inverted: same size, other content."""
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 16]) + data[middle + 16 :]


def lake_of(workspace: Workspace) -> Lake:
    with mock.patch.dict(os.environ, workspace.environment):
        return Lake.from_settings(load_settings())


def lake_lines(lake: Lake) -> set[str]:
    """The lineage (`_source`) of every raw and quarantined order line in the lake."""
    files = [
        info.path
        for zone in ("raw", "quarantine")
        for info in lake.partition_files(zone, ENTITIES["order_items"]).values()
    ]
    table = ds.dataset(files, filesystem=lake.fs, format="parquet").to_table(columns=["_source"])
    return set(table["_source"].to_pylist())


def source_lines(workspace: Workspace) -> set[str]:
    with sqlite3.connect(workspace.root / "sources" / "shop.sqlite") as shop:
        rows = shop.execute("select order_item_id, updated_at from order_items").fetchall()
    return {f"shop:order_items/{key}@{stamp}" for key, stamp in rows}


def corrupt_and_repair(workspace: Workspace) -> None:
    lake = lake_of(workspace)
    partitions = lake.partition_files("raw", ENTITIES["order_items"])
    day = sorted(partitions)[len(partitions) // 2]
    path = partitions[day].path
    with lake.fs.open_input_stream(path) as stream:
        data = stream.read()
    with lake.fs.open_output_stream(path) as stream:
        stream.write(flipped(data))
    assert lake.partition_files("raw", ENTITIES["order_items"])[day].size == len(data)

    verified = workspace.run("verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "error" not in verified.stderr and "thrift" not in verified.stdout
    shown = lake.uri(path)
    assert (
        f"raw/shop/order_items {day}: {shown} is corrupt: its sha256 differs from the "
        "manifest's, same size"
    ) in verified.stdout.splitlines()

    repaired = workspace.run("repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    relative = path.removeprefix(lake.root + "/")
    assert any(
        line.startswith(f"set aside {relative}.damaged-") for line in repaired.stdout.splitlines()
    ), repaired.stdout
    assert f"repaired: raw/shop/order_items {day}: {shown} is corrupt" in repaired.stdout
    again = workspace.run("verify")
    assert again.returncode == 0, again.stdout + again.stderr
    assert lake_lines(lake) == source_lines(workspace), "the lines the source holds, each once"


def test_a_corrupt_partition_on_a_local_lake_is_named_and_restored(
    completed: Workspace, tmp_path: Path
) -> None:
    corrupt_and_repair(completed.copy(tmp_path / "data"))


def test_a_corrupt_partition_on_s3_is_named_and_restored(
    prefect_api: PrefectServer, s3: S3Endpoint, tmp_path: Path
) -> None:
    bucket = s3.bucket("bitrot")
    workspace = Workspace.create(
        tmp_path / "data", prefect_api.url,
        LAKEHOUSE_LAKE_ROOT=f"{bucket}/lake", LAKEHOUSE_LANDING_ROOT=f"{bucket}/landing",
        **s3.environment,
    )  # fmt: skip
    ingested = workspace.run("backfill", "--start", "2025-10-01", "--end", "2025-10-10")
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    corrupt_and_repair(workspace)

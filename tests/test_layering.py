"""The seam between the simulator and the pipeline, enforced: the pipeline reads its sources
through their interfaces only, and never loads the simulator, on real sources or simulated ones
(the embedded shop is a process of its own)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests import layering
from tests.cli import Workspace, alive, children
from tests.conftest import PrefectServer
from tests.layering import violations


def test_every_layer_holds() -> None:
    assert violations() == []


def test_a_broken_rule_is_named(tmp_path: Path, monkeypatch) -> None:
    """Each rule fails on the imports it forbids (a checker that cannot fail proves nothing)."""
    files = {
        "flows/ingestion/shop.py": "def read():\n    from generators.simulation import x\n",
        "flows/ingestion/catalog.py": "from flows.warehouse.gate import verify_contracts\n",
        "flows/lake/partitions.py": "from flows.lake.manifests import Manifest\n",
        "flows/lake/manifests.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from flows.lake.partitions import Lake\n"
        ),
        "flows/sources/embedded.py": "from generators.simulation import Simulation\n",
        "flows/pipeline.py": "",
        "flows/warehouse/gate.py": "",
        "generators/simulation.py": "from flows.lake.partitions import Lake\n",
        "app/data.py": "from flows.lake.partitions import Lake\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(layering, "REPO", tmp_path)
    assert layering.violations() == [
        "import cycle: flows.lake.manifests ↔ flows.lake.partitions",
        "app.data imports flows.lake.partitions (the app imports the settings only)",
        "flows.ingestion.catalog imports flows.warehouse.gate (flows.ingestion must not)",
        "flows.ingestion.shop imports the simulator (generators.simulation)",
        "flows.sources.embedded imports the simulator (generators.simulation)",
        "generators.simulation imports flows.lake.partitions "
        "(the simulator uses only the contract)",
    ]


# Runs the `lakehouse ingest` command in this process on real sources, then lists what loaded.
INGEST_AND_LIST = """
import sys
from flows.cli import app
try:
    app(["ingest", "--date", "2025-10-02"], standalone_mode=False)
finally:
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print("LOADED", " ".join(loaded))
"""


def test_a_run_on_real_sources_never_loads_the_simulator(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    """The sources written beforehand and the catalog served by their own processes, as real
    systems would be; the ingestion's process never imports `generators` (nor Faker)."""
    workspace = Workspace.create(tmp_path / "data", prefect_api.url, LAKEHOUSE_DAYS="2")
    generated = workspace.run("generate")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    catalog = workspace.start("catalog-api", "--port", "0")
    try:
        line = catalog.stdout.readline()
        assert line.startswith("catalog API on http://127.0.0.1:"), line
        url = line.split()[3].removesuffix("/products")
        environment = workspace.process_environment(
            LAKEHOUSE_SIMULATE_SOURCES="false", LAKEHOUSE_CATALOG_API_URL=url
        )
        ran = subprocess.run(
            [sys.executable, "-c", INGEST_AND_LIST],
            env=environment, cwd=workspace.root, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        catalog.terminate()
        catalog.wait(30)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "shop — customers: " in ran.stdout  # it did ingest, from the real interfaces
    (loaded,) = [line for line in ran.stdout.splitlines() if line.startswith("LOADED ")]
    modules = set(loaded.split()[1:])
    assert {"flows", "prefect", "duckdb"} <= modules
    assert not modules & {"generators", "faker"}, loaded


def test_a_run_on_the_embedded_shop_never_loads_the_simulator_either(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    """Simulated mode: the shop is advanced and its catalog served by a process of its own;
    the pipeline's process reads them through their interfaces and imports none of it."""
    workspace = Workspace.create(tmp_path / "data", prefect_api.url, LAKEHOUSE_DAYS="2")
    workspace.root.mkdir(parents=True, exist_ok=True)
    ran = subprocess.run(
        [sys.executable, "-c", INGEST_AND_LIST],
        env=workspace.process_environment(), cwd=workspace.root,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "shop — customers: " in ran.stdout and "catalog — products: " in ran.stdout
    (loaded,) = [line for line in ran.stdout.splitlines() if line.startswith("LOADED ")]
    modules = set(loaded.split()[1:])
    assert not modules & {"generators", "faker"}, loaded


def _shops(pid: int) -> set[int]:
    found = set()
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"generators.embedded" in command:
            found.add(child)
    return found


def _simulated_through(database: Path) -> str | None:
    """The last day the shop has marked written, once it has marked one."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1) as shop:
            row = shop.execute("select simulated_through from simulator_state").fetchone()
    except sqlite3.Error:  # not created yet, or a write in progress
        return None
    return row[0] if row else None


def test_a_command_killed_while_the_shop_writes_leaves_no_shop_and_loses_no_day(
    tmp_path: Path,
) -> None:
    """SIGKILL on `lakehouse generate` mid-simulation: the shop's process dies with it (its
    open transaction rolls back), and the next `generate` ends with the same sources as an
    uninterrupted one."""
    settings = {"LAKEHOUSE_DAYS": "180", "LAKEHOUSE_SCALE_FACTOR": "2"}
    killed = Workspace.create(tmp_path / "killed", None, **settings)
    killed.root.mkdir(parents=True, exist_ok=True)
    process = killed.start("generate")
    deadline = time.monotonic() + 60
    while not (shops := _shops(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shops, "the shop's process never started"
    # killed as soon as the shop has marked its first written week, with more on their way
    while _simulated_through(killed.root / "sources" / "shop.sqlite") is None:
        assert process.poll() is None, "generate finished before it could be killed"
        assert time.monotonic() < deadline, "the shop never marked a written week"
        time.sleep(0.02)
    assert process.poll() is None, "generate finished before it could be killed"
    process.kill()
    process.wait()
    deadline = time.monotonic() + 15
    while alive(shops) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(shops), "the shop's process outlived the command that started it"

    again = killed.run("generate")
    assert again.returncode == 0, again.stdout + again.stderr
    reference = Workspace.create(tmp_path / "reference", None, **settings)
    fresh = reference.run("generate")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    query = "select count(*), sum(quantity * unit_price) from order_items"
    with (
        sqlite3.connect(killed.root / "sources" / "shop.sqlite") as resumed,
        sqlite3.connect(reference.root / "sources" / "shop.sqlite") as whole,
    ):
        assert resumed.execute(query).fetchone() == whole.execute(query).fetchone()
        assert resumed.execute("pragma integrity_check").fetchone() == ("ok",)

"""The seam between the simulator and the pipeline, enforced: the pipeline reads its sources
through their interfaces only, and a run on real sources never loads the simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import layering
from tests.cli import Workspace
from tests.conftest import PrefectServer
from tests.layering import violations


def test_every_seam_holds() -> None:
    assert violations() == []


def test_a_broken_seam_is_named(tmp_path: Path, monkeypatch) -> None:
    """The rules fail on the imports they forbid (a checker that cannot fail proves nothing)."""
    for folder in ("flows", "generators"):
        (tmp_path / folder).mkdir()
    (tmp_path / "flows" / "ingest.py").write_text(
        "def read():\n    from generators.simulation import Simulation\n"
    )
    (tmp_path / "flows" / "verify.py").write_text("import flows.embedded_sources\n")
    (tmp_path / "generators" / "shop.py").write_text("from flows.lake import Lake\n")
    monkeypatch.setattr(layering, "REPO", tmp_path)
    assert layering.violations() == [
        "flows/ingest.py imports the simulator (generators.simulation)",
        f"flows/verify.py imports flows.embedded_sources (only {layering.GATEWAY_USERS} may)",
        "generators/shop.py imports flows.lake (the simulator may use only the contract)",
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

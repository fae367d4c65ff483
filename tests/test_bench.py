"""`make bench` must not rot: the benchmark end to end at a tiny scale, every section written.

Figures are not asserted (no timed assertions); the report's shape and its row counts are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows import bench
from tests.conftest import PrefectServer


def test_the_benchmark_runs_every_stage_and_writes_its_report(
    tmp_path: Path, prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api.url)
    output = tmp_path / "benchmarks.md"
    bench.main(
        [
            "--scales", "0.05",
            "--days", "3",
            "--s3-scale", "0",
            "--generator-scale", "0.05",
            "--generator-days", "2",
            "--root", str(tmp_path / "bench"),
            "--output", str(output),
        ]
    )  # fmt: skip
    report = output.read_text()
    for section in ("# Benchmarks", "- Machine:", "- Versions:", "## Scale factor 0.05 (3 days",
                    "## Targets", "## Generator"):  # fmt: skip
        assert section in report
    for stage in ("sources", "ingest", "build", "new day: ingest", "new day: build"):
        assert re.search(rf"^\| {re.escape(stage)} \| `lakehouse .+` \| [\d.]+ \|", report, re.M)
    peaks = [float(value) for value in re.findall(r"\| ([\d.]+) GiB \|", report)]
    assert len(peaks) == 5 and all(peak > 0 for peak in peaks), "every stage's memory sampled"
    events = int(re.search(r"events ([\d,]+)", report).group(1).replace(",", ""))
    assert events > 0
    assert "one new day after a full SF0.05 build" in report
    assert not (tmp_path / "bench" / "sf0.05").exists(), "each scale's folder is removed"

"""`make bench` must not rot: the benchmark end to end at a tiny scale, every section written.

Figures are not asserted (no timed assertions); the report's shape and its row counts are.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.bench import pipeline as bench
from tests.conftest import Built, PrefectServer, S3Endpoint


def test_the_benchmark_runs_every_stage_and_writes_its_report(
    tmp_path: Path, prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api.url)
    output = tmp_path / "benchmarks.md"
    bench.main(
        [
            "--scales", "0.05", "0.02",
            "--stage-scales", "0.05",  # stage by stage; SF0.02: one run and the next day
            "--days", "3",
            "--s3-scales",  # none: the S3 comparison runs four full runs
            "--generator-scale", "0.05",
            "--generator-days", "2",
            "--no-spark",  # tests/test_spark.py builds on Spark; here its minutes would add up
            "--root", str(tmp_path / "bench"),
            "--output", str(output),
        ]
    )  # fmt: skip
    report = output.read_text()
    for section in ("# Benchmarks", "- Machine:", "- Versions:", "## Scale factor 0.05 (3 days",
                    "## Targets", "## Generator"):  # fmt: skip
        assert section in report
    for stage in ("sources", "ingest", "build", "new day", "run", "new day after run"):
        assert re.search(rf"^\| {re.escape(stage)} \| `lakehouse .+` \| [\d.]+ \|", report, re.M)
    peaks = [float(value) for value in re.findall(r"^\|.* ([\d.]+) GiB \|$", report, re.M)]
    assert len(peaks) == 6 and all(peak > 0 for peak in peaks), "every stage's memory sampled"
    # the run-only scale: its disk, where each command's time went, the new day's share
    # (scales in ascending order)
    run_only = report[report.index("## Scale factor 0.02") : report.index("## Scale factor 0.05")]
    assert "| sources |" not in run_only and "| run |" in run_only
    assert re.search(
        r"- disk after `lakehouse run`: [\d.]+ [MG]iB \(lake [\d.]+ [MG]iB, landing", run_only
    )
    for command in ("run", "daily"):
        went = re.search(rf"- where `lakehouse {command}`'s [\d.]+ s went: (.+)", run_only)
        phases = [part.rsplit(" ", 2)[0] for part in went.group(1).split(", ")]
        assert phases[0] == "start-up" and phases[-1] == "publish and exit", phases
        assert {"catalog", "shop", "clickstream", "dbt build", "gate"} <= set(phases)
    assert re.search(
        r"\| one new day \(`lakehouse daily` after `lakehouse run`\) at SF0.02 \|", report
    )
    events = int(re.search(r"events ([\d,]+)", report).group(1).replace(",", ""))
    assert events > 0
    assert "one new day after a full SF0.05 build" in report
    assert "- Spark: not measured (--no-spark)" in report
    for command in ("run", "daily"):  # the processes a user's command starts, each sampled
        apart = re.search(
            rf"- peak memory of `lakehouse {command}` by process \(each at its own peak\): (.+)",
            run_only,
        )
        roles = [part.rsplit(" ", 2)[0] for part in apart.group(1).split(", ")]
        assert roles[:3] == ["the command", "the simulated shop", "Prefect's server"], roles
    for command in ("run", "daily"):  # where each command's dbt build went, from run_results
        assert re.search(
            rf"- dbt in `lakehouse {command}`: \d+ nodes in [\d.]+ s by dbt's clock; .*model "
            r"[\d.]+ s.*; slowest: \w+ [\d.]+ s",
            run_only,
        )
    profiled = re.search(
        r"- where the simulator's time goes \(seconds of each part on whichever of its three "
        r"threads runs it, ([\d.]+) s of wall time\): (.+)",
        report,
    )
    parts = dict(part.rsplit(" ", 2)[:2] for part in profiled.group(2).split("; "))
    assert [name.split(" (")[0] for name in parts] == [
        "simulating the days", "the shop database", "the clickstream lines", "the hour files"
    ], profiled.group(2)  # fmt: skip
    assert sum(map(float, parts.values())) > 0 and float(profiled.group(1)) > 0
    assert not (tmp_path / "bench" / "sf0.05").exists(), "each scale's folder is removed"
    assert not (tmp_path / "bench" / "sf0.02-run").exists()


def test_a_command_past_the_benchmarks_budget_is_stopped_and_its_phase_named(
    tmp_path: Path, prefect_api: PrefectServer
) -> None:
    """An SF1000 attempt's limit: a `lakehouse run` given a budget shorter than itself is
    stopped with its whole process group (its temporary Prefect server, the embedded shop),
    and the report says where it was."""
    environment = bench.environment_for(tmp_path, 0.05, 3)
    environment.pop("PREFECT_API_URL", None)  # its own temporary server, as a user's run
    stopped = bench.measure(["run"], environment, tmp_path, budget_seconds=12, check=False)
    assert stopped.failure.startswith("stopped at the budget of 0.2 min, in "), stopped.failure
    assert stopped.failure.endswith(stopped.reached())
    assert 12 <= stopped.seconds < 60
    assert processes_of(tmp_path) == [], "every process of the stopped run ended"
    assert stopped.seconds < 12 + 15, "the run ended on SIGTERM, not at the grace's SIGKILL"
    said = [line for line in stopped.output.splitlines() if line.startswith("error: ")]
    assert said and said[-1].startswith("error: stopped by SIGTERM; a build it had not"), said
    report = bench.render("cmd", [_run_only(stopped)], None, [])
    assert f"| SF1000 `lakehouse run` | {stopped.failure} | ≤ 900 s | **not met** |" in report
    assert f"- `lakehouse run` did not finish: {stopped.failure}" in report


def test_a_run_stopped_while_simulating_is_projected_from_the_shops_progress() -> None:
    """An SF1000 attempt stops in the simulator: its last progress line (the format the
    pipeline logs, tests/test_daily_life.py) says how long all its days would take."""
    began = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    output = "\n".join(
        [
            "12:00:06.000 | INFO    | Flow run 'a' - Beginning flow run 'a' for flow 'lakehouse'",
            "12:00:07.000 | INFO    | Flow run 'b' - Beginning subflow run 'b' for flow "
            "'simulate-sources'",
            "12:02:07.000 | INFO    | Flow run 'b' - simulating: 73 of 730 days written in 120.0 s",
            "12:14:07.000 | INFO    | Flow run 'b' - simulating: 584 of 730 days written in "
            "840.3 s",
        ]
    )
    stopped = bench.Measured("run", 900.0, 0, output, began, "stopped at the budget of 15 min")
    assert stopped.reached() == "simulate" and stopped.simulated() == (584, 730, 840.3)
    report = bench.render("cmd", [_run_only(stopped)], None, [])
    assert (
        "- when stopped, the simulated shop had written 584 of 730 days in 840 s: at that pace "
        "its 730 days alone take about 1050 s"
    ) in report


def test_a_runs_peak_memory_is_named_by_the_phase_it_happened_in() -> None:
    """The memory samples of a run fall in the phases its console's timestamps mark: the report
    says which stage holds the peak (where an SF1000 run outgrows its memory target)."""
    began = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    output = "\n".join(
        [
            "12:00:06.000 | INFO    | Flow run 'a' - Beginning flow run 'a' for flow 'lakehouse'",
            "12:00:07.000 | INFO    | Flow run 'b' - Beginning subflow run 'b' for flow "
            "'simulate-sources'",
            "12:01:07.000 | INFO    | Flow run 'c' - Beginning subflow run 'c' for flow "
            "'ingest-shop-db'",
            "12:02:07.000 | INFO    | Flow run 'd' - Beginning subflow run 'd' for flow "
            "'ingest-clickstream'",
        ]
    )
    memory = [
        (1.0, bench.GIB // 10),
        (30.0, bench.GIB),
        (66.0, bench.GIB + 1),
        (70.0, 5 * bench.GIB),
        (130.0, 2 * bench.GIB),
    ]
    apart = {  # sampled in any order, reported in a fixed one
        "others": bench.GIB // 4,
        "the simulated shop": 3 * bench.GIB,
        "the command": bench.GIB,
    }
    run = bench.Measured(
        "run", 200.0, 5 * bench.GIB, output, began, "stopped at 15 min", memory, apart
    )
    assert run.peaks() == [
        ("start-up", bench.GIB // 10),
        ("simulate", bench.GIB + 1),
        ("shop", 5 * bench.GIB),
        ("clickstream", 2 * bench.GIB),
    ]
    report = bench.render("cmd", [_run_only(run)], None, [])
    assert (
        "- peak memory of `lakehouse run` by phase: start-up 0.10 GiB, simulate 1.00 GiB, "
        "shop 5.00 GiB, clickstream 2.00 GiB"
    ) in report
    assert (
        "- peak memory of `lakehouse run` by process (each at its own peak): the command 1.00 GiB,"
        " the simulated shop 3.00 GiB, others 0.25 GiB"
    ) in report


def processes_of(folder: Path) -> list[str]:
    """Processes whose environment names the folder: the run and every child it started."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(folder).encode() in (entry / "environ").read_bytes():
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


def _run_only(run: bench.Measured) -> bench.ScaleReport:
    report = bench.ScaleReport(1000, 730)
    report.stages["run"] = run
    return report


def test_the_s3_benchmark_reports_each_placement_and_what_a_request_costs(
    s3: S3Endpoint,
) -> None:
    """The S3 part of `make bench` short of its full runs: the request-rate probe against the
    real server, and the report's rows for the lake on S3 (the target) and for the lake with
    the landing zone (reported with its object count, no target)."""
    rates = bench.request_rates(s3.server, count=48)
    assert [rate.method for rate in rates] == ["PUT", "HEAD + GET"]
    assert all(rate.per_second > 0 and rate.client_cores > 0 for rate in rates)
    assert all(rate.server_cores > 0 for rate in rates), "the server's CPU is read from /proc"
    runs = [
        bench.S3Report(1, 66.0, 60.0, landing_on_s3=96.0, landing_objects=17520),
        bench.S3Report(10, 90.0, 70.0),
    ]
    report = bench.render("python -m tests.bench.pipeline", [], None, runs, rates)
    assert (
        "| SF1 `lakehouse run`, the lake on S3 (SeaweedFS on loopback) / local | "
        "1.10× (66 s / 60 s) | ≤ 1.2× | met |"
    ) in report
    assert (
        "| SF10 `lakehouse run`, the lake on S3 (SeaweedFS on loopback) / local | "
        "1.29× (90 s / 70 s) | ≤ 1.2× | **not met** |"
    ) in report
    assert (
        "| SF1 `lakehouse run`, the lake and the landing zone on S3 / local | 1.60× (96 s / 60 s) "
        "| none: 17,520 hourly objects written and read | |"
    ) in report
    assert "SF10 `lakehouse run`, the lake and the landing zone" not in report, "not measured"
    assert re.search(r"^- PUT: [\d,]+ objects/s, the server using [\d.]+ cores", report, re.M)


def test_the_dashboard_benchmark_times_every_page_and_writes_its_section(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m tests.bench.dashboards` on the small build: every page's queries and renders,
    the HUGEINT
    baseline, one page in the browser (when there is one), its section written in place."""
    from tests.bench import dashboards as app_bench
    from tests.bench.browser import NoBrowser, browser_path

    for name, value in built.environment.items():
        monkeypatch.setenv(name, value)
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\n## Targets\n\nstages\n\n---\n\n## Scale factor 100\n")
    try:
        browser = ["--browser-repeat", "1", "--browser-pages", "funnel"]
        browser_path()
    except NoBrowser:
        browser = ["--no-browser"]
    arguments = ["--repeat", "2", "--render-repeat", "1", *browser, "--output", str(output)]
    text = app_bench.main(arguments)
    app_bench.write_section(output, text)  # a second run replaces the section

    report = output.read_text()
    assert report.count(app_bench.SECTION) == 1
    rule = report.index("\n---\n")
    assert report.index("## Targets") < report.index(app_bench.SECTION) < rule
    assert "stages" in report and "## Scale factor 100" in report, "the rest is kept"
    section = report[report.index(app_bench.SECTION) : rule]
    number = r"[\d,.]+"
    for spec in app_bench.PAGES:
        assert re.search(rf"^\| {spec.name}( \| {number}){{10}} \|$", section, re.M), spec.name
        for what in app_bench.TARGETS:
            assert re.search(rf"^\| {spec.name} \| {what} \| ", section, re.M)
    assert re.search(rf"published warehouse {number} ms vs .* HUGEINT {number} ms", section)
    assert re.search(r"published funnel marts' integer columns: \d+ BIGINT", section)
    if browser == ["--no-browser"]:
        assert "- browser: skipped (--no-browser)" in section
    else:  # the funnel page: first visit, filter change and return visit all measured
        assert re.search(rf"^\| Funnel Analysis( \| {number}){{11}} \|$", section, re.M)
        assert re.search(rf"^\| Funnel Analysis \| first visit \| {number} \| ", section, re.M)


def test_the_hugeint_copy_casts_the_funnel_sums_and_nothing_else(
    built: Built, tmp_path: Path
) -> None:
    from tests.bench.dashboards import hugeint_copy, sum_types

    copy = tmp_path / "hugeint.duckdb"
    hugeint_copy(built.settings.storage.warehouse_path, copy)
    assert set(sum_types(copy)) == {"HUGEINT", "BIGINT"}  # event_hour stays BIGINT
    assert sum_types(copy)["BIGINT"] == 1
    assert sum_types(built.settings.storage.warehouse_path).get("HUGEINT", 0) == 0

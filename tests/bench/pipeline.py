"""The platform's benchmark: stage by stage at each scale, one new day, S3 against local.

    python -m tests.bench.pipeline [--scales 1 10] [--full-run] [--stage-scales 1 10]
        [--budget-minutes 30] [--days 730] [--s3-scales 1 10] [--output docs/benchmarks.md]

Every figure comes from the real command line run as a user runs it, in a fresh folder per
scale under --root: wall time, rows per second and the peak memory of the command's whole
process tree (sampled from /proc; elsewhere the peak of its largest process). Ratios are
against a baseline measured in the same run. Nothing here is asserted: `make bench` prints
and writes the figures, met or not.

At the scales in --stage-scales the stage commands are measured one by one. `--full-run`
adds, at those scales, and always at the others: one `lakehouse run` on fresh sources, the
disk it leaves, then `lakehouse daily` after it (one new day), each with where its time went
(phases read from the console's timestamps). Past the budget a command is stopped and the
report names the phase it had reached (an attempt at SF1000).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from flows.warehouse.spark import spark_missing
from tests.bench import generator as generator_bench

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
GIB = 2**30
START = date(2024, 1, 1)


# Where a run's time goes, read from its console lines: each phase starts at its line's
# timestamp and ends where the next begins (the last one at the command's end).
PHASES = (
    ("simulate", "for flow 'simulate-sources'"),
    ("catalog", "for flow 'ingest-catalog-api'"),
    ("shop", "for flow 'ingest-shop-db'"),
    ("clickstream", "for flow 'ingest-clickstream'"),
    ("dbt build", "building the warehouse"),
    ("gate", "gating build"),
    ("publish and exit", "publishing the gated build"),
)
STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) \| ")
SIMULATING = re.compile(r"simulating: ([\d,]+) of ([\d,]+) days written in ([\d.]+) s")


@dataclass
class Measured:
    command: str
    seconds: float
    peak_bytes: int
    output: str
    began: datetime | None = None  # the wall clock (UTC) when the command started
    failure: str = ""  # why it did not finish: its exit status and last line, or the budget
    memory: list[tuple[float, int]] = field(default_factory=list)  # (seconds in, bytes) samples
    # the peak of each role in the tree (process_role): the command, the simulated shop, ...
    by_process: dict[str, int] = field(default_factory=dict)

    def phases(self) -> list[tuple[str, float]]:
        """(phase, seconds) from the console's timestamps; "start-up" (imports, the Prefect
        server) until the first flow run begins. Empty when the output has no timestamps."""
        if self.began is None:
            return []
        marks: list[tuple[str, float]] = []
        for line in self.output.splitlines():
            stamp = STAMP.match(line)
            if not stamp:
                continue
            label = (
                "start-up"
                if not marks
                else next((name for name, marker in PHASES if marker in line), None)
            )
            if label is None or (marks and label == marks[-1][0]):
                continue
            hours, minutes, seconds = stamp.groups()
            clock = self.began.replace(
                hour=int(hours), minute=int(minutes), second=0, microsecond=0
            ) + timedelta(seconds=float(seconds))
            if clock < self.began - timedelta(minutes=1):  # past midnight
                clock += timedelta(days=1)
            offset = (clock - self.began).total_seconds()
            if label == "start-up":
                marks.append(("start-up", 0.0))
                label = "flow start"
            marks.append((label, offset))
        if not marks:  # it ended before its first flow run began
            return []
        ends = [offset for _, offset in marks[1:]] + [self.seconds]
        spent = [(name, end - start) for (name, start), end in zip(marks, ends, strict=True)]
        # the first flow run's own start is start-up too
        merged: list[tuple[str, float]] = []
        for name, seconds in spent:
            if name == "flow start" and merged:
                merged[-1] = ("start-up", merged[-1][1] + seconds)
            else:
                merged.append((name, seconds))
        return merged

    def simulated(self) -> tuple[int, int, float] | None:
        """(days written, days asked, seconds) at the simulated shop's last progress line."""
        found = SIMULATING.findall(self.output)
        if not found:
            return None
        done, total, seconds = found[-1]
        return int(done.replace(",", "")), int(total.replace(",", "")), float(seconds)

    def peaks(self) -> list[tuple[str, int]]:
        """(phase, peak bytes of the process tree while it ran), for the phases sampled."""
        bounds, start = [], 0.0
        for name, seconds in self.phases():
            bounds.append((name, start, start + seconds))
            start += seconds
        return [
            (name, max(sampled))
            for name, begin, end in bounds
            if (sampled := [size for at, size in self.memory if begin <= at < end])
        ]

    def reached(self) -> str:
        """The last phase the command began."""
        phases = self.phases()
        return phases[-1][0] if phases else "start-up"


@dataclass
class ScaleReport:
    scale: float
    days: int
    stages: dict[str, Measured] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    spark: dict[str, float] = field(default_factory=dict)  # where a Spark build's time went
    spark_skipped: str = ""  # why the Spark build was not measured
    disk: dict[str, int] = field(default_factory=dict)  # bytes per folder after `lakehouse run`
    dbt: dict[str, DbtSpent] = field(default_factory=dict)  # per stage of bench_run

    def seconds(self, *names: str) -> float:
        return sum(self.stages[name].seconds for name in names)

    def peak(self) -> int:
        return max((stage.peak_bytes for stage in self.stages.values()), default=0)


# Who a process of a command's tree is, by its command line (the first that matches): a
# limit is found by process, not only by phase (the catalog API's cache showed only this way).
PROCESS_ROLES = (
    ("the simulated shop", "generators.embedded"),
    ("Prefect's server", "uvicorn"),
    ("Prefect's server", "prefect server"),
)


ROLES = ("the command", *dict.fromkeys(role for role, _ in PROCESS_ROLES), "others")


def process_role(pid: int, command_pid: int, command_line: str) -> str:
    if pid == command_pid:
        return "the command"
    return next((role for role, mark in PROCESS_ROLES if mark in command_line), "others")


def tree_rss(pid: int) -> dict[str, int]:
    """Resident bytes of a process and all its descendants, from /proc, summed by role."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    family, frontier = {pid}, {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - family
        family |= frontier
    by_role: dict[str, int] = {}
    for member in sorted(family):
        try:
            status = Path(f"/proc/{member}/status").read_text().splitlines()
            command_line = Path(f"/proc/{member}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        for line in status:
            if line.startswith("VmRSS:"):
                role = process_role(member, pid, command_line.decode(errors="replace"))
                by_role[role] = by_role.get(role, 0) + int(line.split()[1]) * 1024
    return by_role


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(process: subprocess.Popen[str], grace_seconds: float = 30) -> None:
    """Stop a command as a worker cancels a run, then make sure nothing of it is left.

    SIGTERM goes to the command alone: it stops its own temporary Prefect server and the
    embedded shop. A SIGTERM to the whole group would stop that server first, and the run
    would spend its grace reporting its end to a server that is gone. What is still alive
    after the grace, the command or any child, is killed.
    """
    group = process.pid  # started with start_new_session: the group's id is its leader's pid
    process.terminate()
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        process.poll()  # reap the leader, so a finished one stops counting as alive
        if not group_alive(group):
            return
        time.sleep(0.2)
    if group_alive(group):
        os.killpg(group, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while group_alive(group) and time.monotonic() < deadline:  # the kernel ends them at once
        time.sleep(0.1)


def measure(
    arguments: list[str],
    environment: dict[str, str],
    cwd: Path,
    budget_seconds: float | None = None,
    check: bool = True,
) -> Measured:
    """Run one `lakehouse` command; its wall time and the peak memory of its process tree.

    A command still running after `budget_seconds` is stopped (its whole process group).
    With `check`, a command that fails or is stopped raises; without, the result says why.
    """
    began_at = datetime.now(UTC)
    began = time.perf_counter()
    failure = ""
    # the output goes to a file: a pipe read only at the end fills up (64 KiB) and blocks a
    # command that logs more than that, such as a Spark build
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [LAKEHOUSE, *arguments],
            env=environment,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: a stop reaches every child
        )
        memory: list[tuple[float, int]] = []
        by_process: dict[str, int] = {}
        sampled = Path("/proc").exists()
        while process.poll() is None:
            if sampled:
                roles = tree_rss(process.pid)
                memory.append((time.perf_counter() - began, sum(roles.values())))
                for role, size in roles.items():
                    by_process[role] = max(by_process.get(role, 0), size)
            if budget_seconds is not None and time.perf_counter() - began > budget_seconds:
                stop_group(process)
                failure = f"stopped at the budget of {budget_seconds / 60:g} min"
                break
            time.sleep(0.2)
        log.seek(0)
        output = log.read()
    seconds = time.perf_counter() - began
    peak = max((size for _, size in memory), default=0)
    if not sampled:  # no /proc: the largest finished child, in KiB on Linux and bytes on macOS
        unit = 1 if sys.platform == "darwin" else 1024
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
    if not failure and process.returncode != 0:
        last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
        failure = f"exit {process.returncode}: {last.strip()[:300]}"
    measured = Measured(
        " ".join(arguments), seconds, peak, output, began_at, failure, memory, by_process
    )
    if failure:
        failure += f", in {measured.reached()}"
        measured.failure = failure
        if check:
            raise RuntimeError(
                f"lakehouse {' '.join(arguments)} failed ({failure}):\n{output[-2000:]}"
            )
    return measured


def size_text(size: int) -> str:
    return f"{size / GIB:.2f} GiB" if size >= GIB else f"{size / 2**20:,.0f} MiB"


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def environment_for(folder: Path, scale: float, days: int, **extra: str) -> dict[str, str]:
    """Settings for one folder; PREFECT_API_URL passes through (the shared server, if any)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    return {
        **inherited,
        "LAKEHOUSE_SCALE_FACTOR": f"{scale:g}",
        "LAKEHOUSE_DAYS": str(days),
        "LAKEHOUSE_START_DATE": START.isoformat(),
        "LAKEHOUSE_LAKE_ROOT": str(folder / "lake"),
        "LAKEHOUSE_LANDING_ROOT": str(folder / "landing"),
        "LAKEHOUSE_SOURCE_DB_URL": f"sqlite:///{folder / 'sources' / 'shop.sqlite'}",
        "LAKEHOUSE_WAREHOUSE_PATH": str(folder / "warehouse" / "lakehouse.duckdb"),
        "LAKEHOUSE_DUCKDB_TEMP_DIRECTORY": str(folder / "tmp"),
        **extra,
    }


def lake_rows(lake: Path) -> dict[str, int]:
    """Rows in raw per entity (Parquet footers, through DuckDB)."""
    counts = {}
    with duckdb.connect() as connection:
        for source, entity in (
            ("catalog", "products"),
            ("shop", "customers"),
            ("shop", "orders"),
            ("shop", "order_items"),
            ("clickstream", "events"),
        ):
            pattern = lake / "raw" / source / entity / "*" / "*" / "*" / "*.parquet"
            counts[entity] = connection.execute(
                f"select count(*) from read_parquet('{pattern}')"
            ).fetchone()[0]
    return counts


def bench_scale(
    root: Path,
    scale: float,
    days: int,
    full_run: bool,
    spark: bool = True,
    stages: bool = True,
    budget_seconds: float | None = None,
) -> ScaleReport:
    """Stages in one folder (unless not `stages`), then (optionally) one `lakehouse run` on
    fresh sources and the next night's `lakehouse daily` after it.

    Without stages (the largest scales) a run that fails or outlasts `budget_seconds` is
    reported, with the phase it reached, instead of ending the benchmark.
    """
    report = ScaleReport(scale, days)
    folder = root / f"sf{scale:g}"
    shutil.rmtree(folder, ignore_errors=True)
    if stages:
        folder.mkdir(parents=True)
        environment = environment_for(folder, scale, days)
        last = START + timedelta(days=days - 1)
        steps = [
            ("sources", ["generate"]),
            ("ingest", ["backfill", "--start", START.isoformat(), "--end", last.isoformat()]),
            ("build", ["build"]),
            # a user's next night: the shop trades a day more, ingested, built, gated, published
            ("new day", ["daily"]),
        ]
        for name, arguments in steps:
            print(f"  sf{scale:g} {name}: lakehouse {' '.join(arguments)}", flush=True)
            report.stages[name] = measure(arguments, environment, folder, budget_seconds)
        report.rows = lake_rows(folder / "lake")
        if spark:
            bench_spark(report, folder, environment)
        else:
            report.spark_skipped = "--no-spark"
        shutil.rmtree(folder, ignore_errors=True)
    if full_run or not stages:
        bench_run(report, root, budget_seconds, check=stages)
    return report


def bench_run(report: ScaleReport, root: Path, budget_seconds: float | None, check: bool) -> None:
    """`lakehouse run` on fresh sources as a user types it (its own temporary Prefect server),
    the disk it leaves, then `lakehouse daily` after it: the next night's one new day."""
    scale = report.scale
    fresh = root / f"sf{scale:g}-run"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    alone = environment_for(fresh, scale, report.days)
    alone.pop("PREFECT_API_URL", None)  # as a user runs it: its own temporary server
    for name, arguments in (("run", ["run"]), ("new day after run", ["daily"])):
        print(f"  sf{scale:g} {name}: lakehouse {' '.join(arguments)}", flush=True)
        measured = measure(arguments, alone, fresh, budget_seconds, check=check)
        report.stages[name] = measured
        spent = dbt_breakdown(fresh / "warehouse" / "dbt-target")
        if spent is not None and not measured.failure:
            report.dbt[name] = spent
        if name == "run":
            report.disk = {folder.name: folder_bytes(folder) for folder in sorted(fresh.iterdir())}
            if not report.rows and not measured.failure:
                report.rows = lake_rows(fresh / "lake")
        if measured.failure:
            print(f"  sf{scale:g} {name}: {measured.failure}", flush=True)
            break
    shutil.rmtree(fresh, ignore_errors=True)


@dataclass(frozen=True)
class DbtSpent:
    """Where a dbt build's time went, from its run_results.json."""

    elapsed: float  # dbt's own clock, from its start to its end
    by_kind: dict[str, float]  # node kind: the sum of its nodes' execution times
    nodes: int
    slowest: list[tuple[str, float]]  # (node, seconds), the slowest first


def dbt_breakdown(target: Path) -> DbtSpent | None:
    """The last dbt build of a warehouse folder's dbt target; None when there is none."""
    import json

    path = target / "run_results.json"
    if not path.exists():
        return None
    results = json.loads(path.read_text())
    by_kind: dict[str, float] = {}
    timed = []
    for node in results["results"]:
        kind = node["unique_id"].split(".")[0]
        if kind == "operation":
            kind = "lake tables registered (on-run-start)"
        by_kind[kind] = by_kind.get(kind, 0.0) + node["execution_time"]
        timed.append((node["unique_id"].split(".")[-1], node["execution_time"]))
    slowest = sorted(timed, key=lambda pair: -pair[1])[:3]
    return DbtSpent(results["elapsed_time"], by_kind, len(timed), slowest)


def spark_breakdown(folder: Path) -> dict[str, float]:
    """Where the last Spark build's time went, from dbt's run_results.json."""
    spent = dbt_breakdown(folder / "warehouse" / "dbt-target-spark")
    assert spent is not None, "a Spark build leaves its run_results.json"
    return {"dbt": spent.elapsed, **spent.by_kind}


def bench_spark(report: ScaleReport, folder: Path, environment: dict[str, str]) -> None:
    """The same lake rebuilt in full on DuckDB, then on Spark (models, tests, load, gate)."""
    report.spark_skipped = spark_missing()
    if report.spark_skipped:
        report.spark_skipped = f"this machine lacks {report.spark_skipped}"
        print(f"  sf{report.scale:g} Spark: skipped, {report.spark_skipped}", flush=True)
        return
    for name, arguments in (
        ("rebuild on DuckDB", ["build", "--full-refresh"]),
        ("rebuild on Spark", ["build", "--engine", "spark", "--full-refresh"]),
    ):
        print(f"  sf{report.scale:g} {name}: lakehouse {' '.join(arguments)}", flush=True)
        report.stages[name] = measure(arguments, environment, folder)
    report.spark = spark_breakdown(folder)


@dataclass
class S3Report:
    """`lakehouse run` at one scale with the lake on S3 against a local folder."""

    scale: float
    on_s3: float  # seconds, the lake on SeaweedFS (loopback), the landing zone local
    local: float  # seconds, both local folders
    landing_on_s3: float = 0.0  # seconds, the lake and the clickstream landing zone on SeaweedFS
    landing_objects: int = 0  # hourly landing-zone files the run writes and reads
    requests: Counter[str] = field(default_factory=Counter)  # by HTTP method, first run
    rerun_requests: Counter[str] = field(default_factory=Counter)  # a second run, nothing new


def s3_settings(url: str, access_key: str, secret_key: str) -> dict[str, str]:
    return {
        "LAKEHOUSE_LAKE_ROOT": "s3://bench/lake",
        "LAKEHOUSE_LANDING_ROOT": "s3://bench/landing",
        "LAKEHOUSE_S3_ENDPOINT_URL": url,
        "LAKEHOUSE_S3_ACCESS_KEY_ID": access_key,
        "LAKEHOUSE_S3_SECRET_ACCESS_KEY": secret_key,
    }


@contextmanager
def counting_moto() -> Iterator[tuple[str, Counter[str]]]:
    """moto's S3 server behind a WSGI layer that counts requests by method: how many requests a
    run makes is a property of the project, whoever serves them (its timings are moto's own)."""
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *_: object) -> None:  # a line per request would drown the report
            pass

    counts: Counter[str] = Counter()
    app = DomainDispatcherApplication(create_backend_app)

    def counted(environ: dict, start_response: object) -> object:
        counts[environ["REQUEST_METHOD"]] += 1
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counted, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", counts
    finally:
        server.shutdown()


@dataclass
class RequestRate:
    """Small-object requests per second one S3 client gets from the server, and the cores each
    side used meanwhile: what hourly landing-zone files cost, whatever the pipeline does."""

    method: str
    per_second: float
    server_cores: float
    client_cores: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process, from /proc (0 without /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_rates(server: object, count: int = 4000, size: int = 8000) -> list[RequestRate]:
    """PUT, then HEAD + GET (pyarrow's read of a whole object), `count` objects of `size`
    bytes, 16 at a time, as the shop writes and ingestion reads the landing zone."""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlparse

    import pyarrow.fs as pafs

    endpoint = urlparse(server.url)
    fs = pafs.S3FileSystem(
        access_key=server.access_key,
        secret_key=server.secret_key,
        endpoint_override=endpoint.netloc,
        scheme=endpoint.scheme,
        region="us-east-1",
        allow_delayed_open=True,
    )
    server.client().create_bucket(Bucket="rates")
    body = os.urandom(size)
    paths = [f"rates/day={i // 24}/hour={i % 24}.ndjson" for i in range(count)]

    def put(path: str) -> None:
        with fs.open_output_stream(path) as stream:
            stream.write(body)

    def get(path: str) -> bytes:
        with fs.open_input_stream(path) as stream:
            return stream.read()

    rates = []
    for method, call in (("PUT", put), ("HEAD + GET", get)):
        server_before, client_before = cpu_seconds(server.process.pid), time.process_time()
        began = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(call, paths))
        seconds = time.perf_counter() - began
        rates.append(
            RequestRate(
                method,
                count / seconds,
                (cpu_seconds(server.process.pid) - server_before) / seconds,
                (time.process_time() - client_before) / seconds,
            )
        )
    return rates


def bench_s3(root: Path, scale: float, days: int, count: bool = True) -> S3Report:
    """`lakehouse run` with lake and landing zone on a real S3 server (SeaweedFS on loopback,
    infra/seaweed.py), then on a local folder; then the requests a run makes, counted on moto
    (a first run and a second one that finds nothing new). moto's timings would measure moto."""
    import boto3

    from infra.seaweed import ACCESS_KEY, SECRET_KEY, seaweed_server

    def client(url: str) -> object:
        return boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def fresh(name: str) -> Path:
        folder = root / f"{name}-sf{scale:g}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    timings = {}
    objects = 0
    with seaweed_server() as server:
        client(server.url).create_bucket(Bucket="bench")
        for target in ("lake on s3", "lake and landing on s3", "local"):
            folder = fresh(target.replace(" ", "-"))
            extra = {}
            if target != "local":
                prefix = target.replace(" ", "-")
                extra = s3_settings(server.url, ACCESS_KEY, SECRET_KEY)
                extra["LAKEHOUSE_LAKE_ROOT"] = f"s3://bench/{prefix}/lake"
                extra["LAKEHOUSE_LANDING_ROOT"] = f"s3://bench/{prefix}/landing"
                if target == "lake on s3":  # the shop's landing zone beside it, as the issue ran
                    extra["LAKEHOUSE_LANDING_ROOT"] = str(folder / "landing")
            print(f"  {target} sf{scale:g}: lakehouse run", flush=True)
            run = measure(["run"], environment_for(folder, scale, days, **extra), folder)
            timings[target] = run.seconds
            if target == "local":
                objects = sum(1 for _ in (folder / "landing").rglob("*.ndjson"))
            shutil.rmtree(folder, ignore_errors=True)
    report = S3Report(
        scale,
        timings["lake on s3"],
        timings["local"],
        landing_on_s3=timings["lake and landing on s3"],
        landing_objects=objects,
    )
    if not count:
        return report
    with counting_moto() as (url, counts):
        client(url).create_bucket(Bucket="bench")
        folder = fresh("moto")
        environment = environment_for(
            folder, scale, days, **s3_settings(url, ACCESS_KEY, SECRET_KEY)
        )
        for counted in (report.requests, report.rerun_requests):
            counts.clear()
            print(f"  moto sf{scale:g}: lakehouse run, requests counted", flush=True)
            measure(["run"], environment, folder)
            counted.update(counts)
        shutil.rmtree(folder, ignore_errors=True)
    return report


@contextmanager
def shared_prefect_server() -> Iterator[None]:
    """One Prefect server for every stage command (unless PREFECT_API_URL names one already)."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from flows.runtime.prefect_server import start_server, stop_server

    process, url = start_server(120)
    os.environ["PREFECT_API_URL"] = url
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        stop_server(process)


def versions() -> str:
    import dbt.version
    import prefect

    return (
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"dbt-core {dbt.version.__version__}, Prefect {prefect.__version__}"
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    except OSError:
        memory = 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, {memory / GIB:.0f} GiB RAM, {platform.system()}"


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


# Issue 25's targets for one `lakehouse run` on fresh sources: seconds, and peak memory
RUN_TARGETS = {1: (20, None), 10: (40, None), 100: (300, 4 * GIB), 1000: (900, 4 * GIB)}


def target_rows(reports: list[ScaleReport]) -> list[str]:
    """The run, memory and one-new-day rows of the targets table."""
    lines = []
    for report in reports:
        seconds, memory = RUN_TARGETS.get(int(report.scale), (None, None))
        run = report.stages.get("run")
        if seconds is not None:
            if run is not None:
                what = "`lakehouse run`"
                measured = f"{run.seconds:.0f} s" if not run.failure else run.failure
                met = not run.failure and run.seconds <= seconds
            elif "build" in report.stages:
                what = "sources + ingest + build"
                total = report.seconds("sources", "ingest", "build")
                measured, met = f"{total:.0f} s", total <= seconds
            else:
                continue
            lines.append(
                f"| SF{report.scale:g} {what} | {measured} | ≤ {seconds} s | {verdict(met)} |"
            )
        if memory is not None and report.stages:
            peak = report.peak()
            lines.append(
                f"| SF{report.scale:g} peak memory | {peak / GIB:.2f} GiB | "
                f"≤ {memory / GIB:.0f} GiB | {verdict(peak <= memory)} |"
            )
    for report in reports:
        run, day = report.stages.get("run"), report.stages.get("new day after run")
        if run is not None and day is not None and not run.failure and not day.failure:
            share = 100 * day.seconds / run.seconds
            lines.append(
                f"| one new day (`lakehouse daily` after `lakehouse run`) at "
                f"SF{report.scale:g} | {share:.1f}% ({day.seconds:.0f} s / {run.seconds:.0f} s)"
                f" | ≤ 10% | {verdict(share <= 10)} |"
            )
        elif "new day" in report.stages and "build" in report.stages:
            full = report.seconds("sources", "ingest", "build")
            share = 100 * report.seconds("new day") / full
            lines.append(
                f"| one new day after a full SF{report.scale:g} build | {share:.1f}% | ≤ 10% | "
                f"{verdict(share <= 10)} |"
            )
    return lines


def simulated_text(stage: Measured) -> list[str]:
    """For a run stopped while simulating: how far the shop got, and its pace's projection."""
    progress = stage.simulated()
    if not stage.failure or stage.reached() != "simulate" or progress is None:
        return []
    done, total, seconds = progress
    return [
        f"- when stopped, the simulated shop had written {done:,} of {total:,} days in "
        f"{seconds:.0f} s: at that pace its {total:,} days alone take about "
        f"{seconds * total / done:.0f} s"
    ]


def dbt_text(stage: Measured, spent: DbtSpent | None) -> list[str]:
    """Where the command's dbt build went: nodes, their kinds' times, the slowest ones."""
    if spent is None:
        return []
    kinds = ", ".join(
        f"{kind} {seconds:.1f} s"
        for kind, seconds in sorted(spent.by_kind.items(), key=lambda pair: -pair[1])
    )
    slowest = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in spent.slowest)
    return [
        f"- dbt in `lakehouse {stage.command}`: {spent.nodes} nodes in {spent.elapsed:.1f} s "
        f"by dbt's clock; the nodes' own times (2 threads overlap them): {kinds}; "
        f"slowest: {slowest}"
    ]


def render(
    command: str,
    reports: list[ScaleReport],
    generator: tuple[generator_bench.Rate, generator_bench.Rate] | None,
    s3: list[S3Report],
    rates: list[RequestRate] | None = None,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m tests.bench.pipeline`); every figure is from the",
        "command line run as a user runs it, in a fresh folder, on this machine, in one sitting.",
        "",
        f"- Machine: {machine()}",
        f"- Versions: {versions()}",
        f"- Command: `{command}`",
        "- Peak memory: the command's whole process tree.",
        "- The stage commands share one Prefect server started by the benchmark (as a deployment",
        "  shares its server); `run` is one `lakehouse run` on fresh sources as a user types it,",
        "  starting its own temporary Prefect server. `full` = sources + ingest + build.",
        "",
    ]
    for report in reports:
        total_rows = sum(report.rows.values())
        lines += [
            f"## Scale factor {report.scale:g} ({report.days} days, {total_rows:,} rows in raw)",
            "",
            "| stage | command | wall s | rows/s | peak memory |",
            "|---|---|---:|---:|---:|",
        ]
        for name, stage in report.stages.items():
            rows = total_rows if name in ("ingest", "run") and not stage.failure else 0
            rate = f"{rows / stage.seconds:,.0f}" if rows else ""
            wall = f"{stage.seconds:.1f}" + (" (did not finish)" if stage.failure else "")
            lines.append(
                f"| {name} | `lakehouse {stage.command}` | {wall} | {rate} | "
                f"{stage.peak_bytes / GIB:.2f} GiB |"
            )
        lines.append("")
        if "new day" in report.stages:
            full = report.seconds("sources", "ingest", "build")
            new_day = report.seconds("new day")
            lines.append(
                f"- full (sources + ingest + build): {full:.1f} s; one new day (`lakehouse "
                f"daily`): {new_day:.1f} s = {100 * new_day / full:.1f}% of the full build"
            )
        if report.disk:
            parts = ", ".join(f"{name} {size_text(size)}" for name, size in report.disk.items())
            total = size_text(sum(report.disk.values()))
            lines.append(f"- disk after `lakehouse run`: {total} ({parts})")
        for name in ("run", "new day after run"):
            stage = report.stages.get(name)
            if stage is None:
                continue
            if stage.failure:
                lines.append(f"- `lakehouse {stage.command}` did not finish: {stage.failure}")
            spent = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in stage.phases())
            if spent:
                lines.append(
                    f"- where `lakehouse {stage.command}`'s {stage.seconds:.1f} s went: {spent}"
                )
            peaks = ", ".join(f"{phase} {size / GIB:.2f} GiB" for phase, size in stage.peaks())
            if peaks:
                lines.append(f"- peak memory of `lakehouse {stage.command}` by phase: {peaks}")
            apart = ", ".join(
                f"{role} {stage.by_process[role] / GIB:.2f} GiB"
                for role in ROLES
                if role in stage.by_process
            )
            if apart:
                lines.append(
                    f"- peak memory of `lakehouse {stage.command}` by process (each at its own "
                    f"peak): {apart}"
                )
            lines += simulated_text(stage) + dbt_text(stage, report.dbt.get(name))
        if report.rows:
            lines.append(f"- raw rows: {', '.join(f'{k} {v:,}' for k, v in report.rows.items())}")
        lines.append("")
        if report.spark:
            duck, spark = (
                report.stages[name].seconds for name in ("rebuild on DuckDB", "rebuild on Spark")
            )
            spent = report.spark
            parts = ", ".join(
                f"{name} {seconds:.1f} s"
                for name, seconds in spent.items()
                if name not in ("dbt", "exposure")
            )
            lines += [
                f"- Spark: a full rebuild takes {spark:.1f} s against DuckDB's {duck:.1f} s "
                f"({spark / duck:.1f}×); of it dbt {spent['dbt']:.1f} s ({parts}), the rest "
                "the JVM's start, the load into DuckDB, the gate and the publish",
                "",
            ]
        elif report.spark_skipped:
            lines += [f"- Spark: not measured ({report.spark_skipped})", ""]
    lines += ["## Targets", "", "| what | measured | target | |", "|---|---:|---:|---|"]
    lines += target_rows(reports)
    if generator is not None:
        fast, slow = generator
        ratio = fast.per_core / slow.per_core
        lines += [
            f"| generator incl. writing the sources | {fast.per_core:,.0f} rows/s/core | "
            f"≥ 2,000,000 | {verdict(fast.per_core >= 2_000_000)} |",
            f"| generator / same-mix row-at-a-time Faker baseline | {ratio:,.0f}× | ≥ 300× | "
            f"{verdict(ratio >= 300)} |",
        ]
    for s3_run in s3:
        ratio = s3_run.on_s3 / s3_run.local
        lines.append(
            f"| SF{s3_run.scale:g} `lakehouse run`, the lake on S3 (SeaweedFS on loopback) / "
            f"local | {ratio:.2f}× ({s3_run.on_s3:.0f} s / {s3_run.local:.0f} s) | ≤ 1.2× | "
            f"{verdict(ratio <= 1.2)} |"
        )
    for s3_run in s3:
        if s3_run.landing_on_s3:
            ratio = s3_run.landing_on_s3 / s3_run.local
            lines.append(
                f"| SF{s3_run.scale:g} `lakehouse run`, the lake and the landing zone on S3 / "
                f"local | {ratio:.2f}× ({s3_run.landing_on_s3:.0f} s / {s3_run.local:.0f} s) | "
                f"none: {s3_run.landing_objects:,} hourly objects written and read | |"
            )
    if rates:
        lines += [
            "",
            "## What a small S3 request costs on this machine",
            "",
            "SeaweedFS on loopback, 8 KB objects, 16 requests in flight from one pyarrow client:",
            "",
        ]
        lines += [
            f"- {rate.method}: {rate.per_second:,.0f} objects/s, the server using "
            f"{rate.server_cores:.2f} cores and the client {rate.client_cores:.2f}"
            for rate in rates
        ]
    if s3:
        lines += ["", "## S3 requests per run", ""]
        lines += [
            "Counted on moto's S3 server (by HTTP method); timings above are SeaweedFS's.",
            "",
        ]
        for s3_run in s3:
            if not s3_run.requests:  # not counted at this scale (--s3-count-scales)
                continue
            for label, counted in (
                ("first run", s3_run.requests),
                ("second run", s3_run.rerun_requests),
            ):
                methods = ", ".join(f"{m} {n:,}" for m, n in counted.most_common())
                lines.append(
                    f"- SF{s3_run.scale:g} {label}: {sum(counted.values()):,} requests ({methods})"
                )
    if generator is not None:
        fast, slow = generator
        lines += [
            "",
            "## Generator",
            "",
            f"- simulator writing the shop database and landing zone: {fast.rows:,} rows in "
            f"{fast.wall_seconds:.1f} s, {fast.per_core:,.0f} rows per CPU-second",
            f"- row-at-a-time Faker baseline, same entities, counts per day and fields, writing "
            f"row by row: {slow.rows:,} rows in {slow.wall_seconds:.1f} s, "
            f"{slow.per_core:,.0f} rows per CPU-second",
        ]
        if fast.phases:
            parts = {name: seconds for name, seconds in fast.phases.items() if name != "wall"}
            lines.append(
                f"- where the simulator's time goes (seconds of each part on whichever of its "
                f"three threads runs it, {fast.phases['wall']:.1f} s of wall time): "
                + "; ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items())
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="*", default=[1.0, 10.0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument(
        "--full-run", action="store_true", help="also one `lakehouse run` per scale"
    )
    parser.add_argument(
        "--s3-scales", type=float, nargs="*", default=[1.0, 10.0], help="none: skip S3"
    )
    parser.add_argument(
        "--s3-count-scales",
        type=float,
        nargs="*",
        default=[1.0],
        help="scales whose requests are counted on moto (slow: moto serves them in Python)",
    )
    parser.add_argument("--generator-scale", type=float, default=10.0, help="0: skip it")
    parser.add_argument("--generator-days", type=int, default=60)
    parser.add_argument(
        "--no-spark", action="store_true", help="skip the rebuilds on DuckDB and on Spark"
    )
    parser.add_argument(
        "--stage-scales",
        type=float,
        nargs="*",
        default=[1.0, 10.0],
        help="scales measured stage by stage too; the others: one run and one new day only",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=15.0,  # issue 25's SF1000 target: a run past it has failed it anyway
        help="a command still running after this long is stopped and reported as such",
    )
    parser.add_argument("--root", type=Path, default=Path("data/bench"))
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    command = "python -m tests.bench.pipeline " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    args.root.mkdir(parents=True, exist_ok=True)
    reports = []
    with shared_prefect_server():
        for scale in sorted(args.scales):
            print(f"scale factor {scale:g}, {args.days} days", flush=True)
            reports.append(
                bench_scale(
                    args.root.resolve(),
                    scale,
                    args.days,
                    full_run=args.full_run,
                    spark=not args.no_spark,
                    stages=scale in args.stage_scales,
                    budget_seconds=args.budget_minutes * 60,
                )
            )
    generator = None
    if args.generator_scale:
        print(f"generator: scale factor {args.generator_scale:g}", flush=True)
        generator = generator_bench.compare(
            args.generator_scale, args.generator_days, max(1, args.generator_days // 30)
        )
    s3 = []
    for scale in args.s3_scales:
        print(f"S3 against local: scale factor {scale:g}", flush=True)
        count = scale in args.s3_count_scales
        s3.append(bench_s3(args.root.resolve(), scale, args.days, count=count))
    rates = []
    if args.s3_scales:
        from infra.seaweed import seaweed_server

        print("S3: small-object request rates", flush=True)
        with seaweed_server() as server:
            rates = request_rates(server)
    text = render(command.strip(), reports, generator, s3, rates)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

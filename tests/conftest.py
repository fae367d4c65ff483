"""Fixtures: temp lakes and warehouses, one Prefect test server, one small end-to-end build."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import pytest

from flows.settings import Settings, load_settings, switch_telemetry_off

if TYPE_CHECKING:
    from generators.config import SimulationConfig

switch_telemetry_off()  # the test process imports dbt, Soda and Prefect as the entry points do

REPO = Path(__file__).resolve().parents[1]
# Every card title on every page (the Executive "Revenue last month" label also names the month).
PAGE_CARDS = {
    "executive": [
        "Total revenue",
        "Revenue last month",
        "Total orders",
        "Average order value",
        "Active customers (last 30 days)",
        "Revenue trend, last 12 months",
        "Daily orders, last 90 days",
        "Top 5 categories by revenue",
    ],
    "products": [
        "Top 10 products by revenue",
        "Category performance",
        "Rating vs sales",
        "Slow-moving inventory",
    ],
    "customers": [
        "Customers by tier",
        "Win-back customers",
        "Lifetime value distribution",
        "Customer segments by spend",
        "Top 20 customers",
        "Order frequency",
        "Revenue by segment at order time",
    ],
    "funnel": [
        "Conversion funnel",
        "Conversion rates over time",
        "Event type distribution",
        "Device type performance",
        "Hourly activity",
        "Daily event trend, last 30 days",
    ],
    "health": ["Last pipeline runs", "Rows per model", "Quality gate", "Freshness and quarantine"],
}
E2E_DAYS = 30
E2E_WIN_BACK_MIN_DAYS = 7
E2E_START = "2025-10-02"  # to 2025-10-31: the as-of day ends its month


SHARED_BUILDS = ("built", "completed")
GROUPS_VARIABLE = "LAKEHOUSE_TEST_GROUPS"  # the file where workers write each test's group


def pytest_configure(config: pytest.Config) -> None:
    """The controller (with -n) names a file where its workers write each test's group."""
    if getattr(config.option, "numprocesses", None) and GROUPS_VARIABLE not in os.environ:
        folder = Path(tempfile.mkdtemp(prefix="lakehouse-test-groups-"))
        os.environ[GROUPS_VARIABLE] = str(folder / "groups.json")


# The longest modules (minutes each, on 2 cores) start first, so the workers finish
# together instead of one running a long module alone at the end (longest-first scheduling).
LONGEST_FIRST = (
    "test_stack",
    "test_daily_life",
    "test_lifecycle",
    "test_spark",
    "test_s3_server",
    "test_deployments",
)


REQUIRE_SPARK = "LAKEHOUSE_REQUIRE_SPARK"  # set (.ci/run, CI): a machine without Spark fails


def spark_tests_not_run() -> str:
    """Why the Spark tests cannot run here ('' when they can)."""
    from flows.warehouse.spark import spark_missing

    missing = spark_missing()
    return f"this machine lacks {missing}" if missing else ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Spark's tests left out, by name, where the optional extra or Java is missing (`make run`
    and `make test` never download Spark; .ci/run installs it and requires them); the longest
    modules first; each test's group: the session build it uses, else its module (module
    fixtures)."""
    absent = spark_tests_not_run()
    if absent:
        if os.environ.get(REQUIRE_SPARK):
            raise pytest.UsageError(f"{REQUIRE_SPARK} is set but {absent}")
        left_out = [item for item in items if item.get_closest_marker("spark")]
        items[:] = [item for item in items if not item.get_closest_marker("spark")]
        config.hook.pytest_deselected(items=left_out)
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))
    target = os.environ.get(GROUPS_VARIABLE)
    if not target:
        return
    groups = {
        item.nodeid: next((name for name in SHARED_BUILDS if name in item.fixturenames), None)
        or item.module.__name__
        for item in items
    }
    aside = Path(f"{target}.{os.getpid()}")
    aside.write_text(json.dumps(groups))
    aside.replace(target)


@pytest.hookimpl(trylast=True)  # after the durations, beside the counts
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say it, at the end where it is read, when the Spark tests were left out."""
    absent = spark_tests_not_run()
    if absent:
        terminalreporter.write_line(
            f"Spark engine tests NOT run (tests/test_spark.py): {absent}", yellow=True, bold=True
        )


@pytest.hookimpl(optionalhook=True)  # only with xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Tests that share a session build run on one worker, so each build is made once.

    xdist's own `--dist loadgroup` cannot mark tests under pytest 9 (it rewrites a node id
    pytest no longer reads), so the groups the workers wrote choose the scope here.
    """
    from xdist.scheduler import LoadScopeScheduling

    class SharedBuildScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = json.loads(Path(os.environ[GROUPS_VARIABLE]).read_text())
            return self.groups.get(nodeid, nodeid)

    return SharedBuildScheduling(config, log)


def in_a_flow(function: object, *arguments: object) -> object:
    """Run a stage of the pipeline inside a flow run, as the run flows do (its tasks and its
    Prefect artifacts belong to one)."""
    from prefect import flow

    name = getattr(function, "name", None) or getattr(function, "__name__", "stage")

    @flow(name=f"test-{name}")
    def stage() -> object:
        return function(*arguments)  # type: ignore[operator]

    return stage()


def world(settings: Settings) -> SimulationConfig:
    """The simulated world of the settings through their window's end, as the shop runs it."""
    from generators.config import Dirty, SimulationConfig

    return SimulationConfig(
        seed=settings.world.seed,
        scale_factor=settings.world.scale_factor,
        start_date=settings.world.start_date,
        days=settings.world.days,
        dirty=Dirty() if settings.world.dirty else None,
    )


def settings_environment(root: Path, **extra: str) -> dict[str, str]:
    """LAKEHOUSE_* variables that put every output under `root`."""
    return {
        "LAKEHOUSE_LAKE_ROOT": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE_PATH": str(root / "warehouse" / "lakehouse.duckdb"),
        "LAKEHOUSE_SOURCE_DB_URL": f"sqlite:///{root / 'sources' / 'shop.sqlite'}",
        "LAKEHOUSE_LANDING_ROOT": str(root / "landing"),
        **extra,
    }


@pytest.fixture(scope="session")
def prefect_server(prefect_api: PrefectServer) -> Iterator[None]:
    """In-process flows report to the server the command-line runs use (one start, not two)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_api.url}):
        yield


@dataclass(frozen=True)
class Built:
    settings: Settings
    environment: dict[str, str]
    result: object  # flows.pipeline.PipelineResult


@pytest.fixture(scope="session")
def built(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The whole pipeline at seed scale on a short window, in a temp dir.

    The sources are generated first, as `lakehouse generate` does, so the run finds every day
    already written: history must still arrive whole, through the shop's change log.
    """
    from flows.lake.storage import filesystem
    from flows.pipeline import lakehouse_pipeline
    from generators.sources import write_sources

    environment = settings_environment(
        tmp_path_factory.mktemp("e2e"),
        LAKEHOUSE_START_DATE=E2E_START,
        LAKEHOUSE_DAYS=str(E2E_DAYS),
        # win-back customers within 30 days of data: settings other than the defaults
        LAKEHOUSE_WIN_BACK_MIN_DAYS=str(E2E_WIN_BACK_MIN_DAYS),
        LAKEHOUSE_WIN_BACK_GAP_MULTIPLE="1",
    )
    with mock.patch.dict(os.environ, environment):
        settings = load_settings()
        write_sources(
            world(settings),
            settings.sources.source_db_url.get_secret_value(),
            filesystem(settings.sources.landing_uri, settings),
        )
        result = lakehouse_pipeline()
        yield Built(load_settings(), environment, result)


@dataclass(frozen=True)
class S3Endpoint:
    url: str  # http://127.0.0.1:<port>
    environment: dict[str, str]  # LAKEHOUSE_S3_* settings pointing at it
    server: object = None  # infra.seaweed.Seaweed for the real server (stop/start), else None

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return f"s3://{name}"


def s3_environment(url: str) -> dict[str, str]:
    return {
        "LAKEHOUSE_S3_ENDPOINT_URL": url,
        "LAKEHOUSE_S3_REGION": "us-east-1",
        "LAKEHOUSE_S3_ACCESS_KEY_ID": "testing",
        "LAKEHOUSE_S3_SECRET_ACCESS_KEY": "testing",
        "LAKEHOUSE_S3_URL_STYLE": "path",
    }


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Endpoint]:
    """A real S3 server: SeaweedFS's S3 gateway on a free loopback port (infra/seaweed.py),
    for the lake, the landing zone, the lock's conditional writes and DuckDB's httpfs."""
    from infra.seaweed import seaweed_server

    with seaweed_server() as server:
        yield S3Endpoint(server.url, s3_environment(server.url), server)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Endpoint]:
    """moto's S3 server, for what only AWS implements (KMS keys, storage classes, lifecycle
    transitions, public access blocks): each test that takes it says which."""
    import logging
    import socket

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        yield S3Endpoint(url, s3_environment(url))
    finally:
        server.stop()


@dataclass(frozen=True)
class PrefectServer:
    url: str  # PREFECT_API_URL for command-line runs
    database: Path  # where it keeps flow runs and their parameters


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect server for `lakehouse` processes: each would otherwise start its own."""
    from flows.runtime.prefect_server import start_server, stop_server

    database = tmp_path_factory.mktemp("prefect-server") / "prefect.db"
    connection = f"sqlite+aiosqlite:///{database}"
    # both names: the test harness sets the current one, which would win over the older alias
    process, url = start_server(
        120,
        {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": connection,
            "PREFECT_API_DATABASE_CONNECTION_URL": connection,
        },
    )
    try:
        yield PrefectServer(url, database)
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def completed(prefect_api: PrefectServer, tmp_path_factory: pytest.TempPathFactory):
    """`lakehouse run` once on a small window; tests copy it rather than run it again."""
    from tests.cli import Workspace

    workspace = Workspace.create(tmp_path_factory.mktemp("completed"), prefect_api.url)
    result = workspace.run("run")
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace


ARTEFACTS = REPO / "test-output"  # CI uploads it (.github/workflows/ci.yml)
BUILT_SETTINGS = pytest.StashKey[Settings]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Remember the session build's settings (its files are in a temp dir) for the end."""
    built = (getattr(item, "funcargs", None) or {}).get("built")
    if isinstance(built, Built):
        item.config.stash[BUILT_SETTINGS] = built.settings


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Keep the session build's dbt artefacts and gate results where CI uploads them:
    test-output/dbt/ (run_results.json, manifest.json) and test-output/gate/ (quality_gate.json).
    """
    import shutil

    settings = session.config.stash.get(BUILT_SETTINGS, None)
    if settings is None:  # no test used the session build (in this xdist worker)
        return
    target = settings.storage.build_path.parent / "dbt-target"
    for source, folder in (
        (target / "run_results.json", "dbt"),
        (target / "manifest.json", "dbt"),
        (settings.storage.run_state_dir / "quality_gate.json", "gate"),
    ):
        if source.is_file():
            (ARTEFACTS / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, ARTEFACTS / folder / source.name)

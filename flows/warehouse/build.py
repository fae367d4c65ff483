"""Build the warehouse with dbt into the build file; the published file is never opened here."""

from __future__ import annotations

import gc
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from urllib.parse import urlparse

from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner, dbtRunnerResult

from flows.settings import PROJECT_DIR, Settings
from flows.warehouse.spark import check_spark, load_into_duckdb, spark_environment


class BuildError(RuntimeError):
    """dbt failed: a model did not build or a dbt test failed."""


def dbt_environment(settings: Settings, read_only: bool = False) -> dict[str, str]:
    """The profile's inputs, derived from the settings (profiles.yml holds no values).

    `read_only` opens the build file read-only: dbt can read it but not change a byte.
    """
    endpoint = urlparse(settings.s3.endpoint_url) if settings.s3.endpoint_url else None
    bucket = (
        settings.storage.lake_uri.removeprefix("s3://").split("/")[0]
        if settings.storage.is_s3_lake
        else ""
    )
    return {
        "DBT_LAKEHOUSE_BUILD_PATH": str(settings.storage.build_path.resolve()),
        "DBT_LAKEHOUSE_ACCESS_MODE": "read_only" if read_only else "automatic",
        "DBT_LAKEHOUSE_LAKE_URI": settings.storage.lake_uri,
        # the secret applies to the lake's bucket only; a local lake never uses it
        "DBT_LAKEHOUSE_S3_SCOPE": f"s3://{bucket or 'no-s3-lake-configured'}",
        "DBT_LAKEHOUSE_S3_REGION": settings.s3.region,
        "DBT_LAKEHOUSE_S3_ENDPOINT": endpoint.netloc if endpoint else "s3.amazonaws.com",
        "DBT_LAKEHOUSE_S3_URL_STYLE": settings.s3.url_style,
        "DBT_LAKEHOUSE_S3_USE_SSL": "false" if endpoint and endpoint.scheme == "http" else "true",
        "DBT_ENV_SECRET_S3_KEY_ID": settings.s3.access_key_id,
        "DBT_ENV_SECRET_S3_SECRET": settings.s3.secret_access_key.get_secret_value(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LAKEHOUSE_WIN_BACK_MIN_DAYS": str(settings.runs.win_back_min_days),
        "DBT_LAKEHOUSE_WIN_BACK_GAP_MULTIPLE": str(settings.runs.win_back_gap_multiple),
        **{
            f"DBT_LAKEHOUSE_{name.upper()}": value
            for name, value in settings.duckdb.config().items()
        },
        **spark_environment(settings),
    }


# What dbt's unit tests depend on besides these settings: the project's code and dbt itself.
CODE = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests/dbt")
# The settings the models' logic reads: those dbt_project.yml turns into vars (win-back
# thresholds …). The profile's (paths, the lake, S3, DuckDB's limits) say where things are and
# how they are read, not what a unit test's fixed rows go through.
LOGIC_SETTING = re.compile(r"env_var\('([A-Z0-9_]+)'")


def code_fingerprint(settings: Settings) -> str:
    """A digest of everything a dbt unit test's outcome depends on: the project's files (models,
    macros, tests, dbt_project.yml, the profile), dbt's, its adapter's and DuckDB's versions, the
    engine,
    and the settings dbt_project.yml reads into vars (win-back thresholds). Unit tests run
    fixed rows through the models' SQL, so under one fingerprint they pass or fail the same
    way every day; the lake's data and where it lies never reach them."""
    from importlib.metadata import version

    tools = [version(name) for name in ("dbt-core", "dbt-duckdb", "duckdb")]
    digest = hashlib.sha256(f"{tools}|{settings.runs.engine}".encode())
    paths = []
    for name in CODE:
        path = PROJECT_DIR / name
        paths += sorted(path.rglob("*")) if path.is_dir() else [path]
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    environment = dbt_environment(settings)
    for key in sorted(set(LOGIC_SETTING.findall((PROJECT_DIR / "dbt_project.yml").read_text()))):
        digest.update(f"{key}={environment.get(key, '')}\0".encode())
    return digest.hexdigest()


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(
    settings: Settings,
    *args: str,
    read_only: bool = False,
    target: str = "dbt-target",
    engine: str = "duckdb",
    lake_since: date | None = None,
    tests_since: date | None = None,
) -> dbtRunnerResult:
    """Invoke dbt in-process against this repository's project and profile.

    `target` names dbt's artefact folder beside the build file (its own folder keeps another
    command's partial-parse cache apart); `read_only` opens the build file read-only; `engine`
    is the profile's target: duckdb (the build file) or spark (flows/warehouse/spark.py).
    `lake_since` reaches the models as an environment variable, not a dbt var: dbt re-parses
    the whole project (3–5 s) whenever its vars change, and they would change every day.
    `tests_since` the same way: the day from which the data tests of a model whose meta names
    `tests_since` read its rows (macros/tests_since.sql).
    """
    settings.storage.build_path.parent.mkdir(parents=True, exist_ok=True)
    if engine != "duckdb":
        target = f"{target}-{engine}"
    command = [
        *args,
        "--target",
        "build" if engine == "duckdb" else engine,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(settings.storage.build_path.parent / target),
        "--log-path",
        str(settings.storage.build_path.parent / "dbt-logs"),
        "--log-level-file",
        settings.runs.dbt_log_level,
    ]
    environment = dbt_environment(settings, read_only)
    environment["DBT_LAKEHOUSE_LAKE_SINCE"] = lake_since.isoformat() if lake_since else ""
    environment["DBT_LAKEHOUSE_TESTS_SINCE"] = tests_since.isoformat() if tests_since else ""
    with _environment(environment):
        try:
            result = dbtRunner().invoke(command)
            if result.exception is not None and "not in the graph" in str(result.exception):
                # a stale partial-parse cache after models changed: parse everything once more
                result = dbtRunner().invoke([*command, "--no-partial-parse"])
        finally:
            release_build_file()
        return result


def release_build_file() -> None:
    """Close dbt-duckdb's kept-open connection, so the gate can open the build file read-only.

    The profile keeps one connection open for the whole dbt run (a third faster than one per
    model); dbt-duckdb holds it on a class, so it is dropped and collected here.
    """
    DuckDBConnectionManager.close_all_connections()
    gc.collect()


# dbt's node statuses in words, in the order a summary names them
STATUS_WORDS = {
    "success": "built",
    "pass": "tests passed",
    "warn": "tests warned",
    "no-op": "with nothing to do",
    "skipped": "skipped",
    "fail": "tests failed",
    "error": "errors",
}


def describe_statuses(statuses: dict[str, int]) -> str:
    """dbt's results as a line of words: "23 built, 242 tests passed, 5 with nothing to do"."""
    named = [
        f"{statuses[status]:,} {words}"
        for status, words in STATUS_WORDS.items()
        if statuses.get(status)
    ]
    named += [
        f"{count:,} {status}"
        for status, count in sorted(statuses.items())
        if status not in STATUS_WORDS and count
    ]
    return ", ".join(named) or "nothing built"


def build_warehouse(
    settings: Settings,
    full_refresh: bool = False,
    lake_since: date | None = None,
    engine: str = "duckdb",
    tests: bool = True,
    unit_tests: bool = True,
) -> dict[str, int]:
    """`dbt build` (models and dbt tests); raises BuildError naming what failed.

    Without `unit_tests`, dbt's unit tests are left out (`--exclude test_type:unit`): for a
    build whose code fingerprint is the one they last passed under (code_fingerprint). Such a
    build with a `lake_since` also limits the data tests of the event tables to their days from
    lake_since on (macros/tests_since.sql): the same tests already passed on the older rows,
    which no build has touched since.

    `lake_since` is the earliest lake partition day written since the last build that passed:
    incremental models read only partitions from that day on. None: they read every partition.
    On Spark, the tables built are then loaded into the DuckDB build file. Without `tests`,
    `dbt run`: the models alone (a comparison of engines, not a build to publish).
    """
    if engine == "spark":
        check_spark(settings)
    options = ["--full-refresh"] if full_refresh else []
    if tests and not unit_tests:
        options += ["--exclude", "test_type:unit"]
    since = None if full_refresh else lake_since
    command = "build" if tests else "run"
    result = run_dbt(
        settings,
        command,
        "--quiet",
        *options,
        engine=engine,
        lake_since=since,
        tests_since=since if tests and not unit_tests else None,
    )
    if result.exception is not None:
        why = str(result.exception) or type(result.exception).__name__
        raise BuildError(f"dbt could not run: {why}") from result.exception
    failures = [
        f"{node.node.name}: {node.status}" + (f" ({node.message})" if node.message else "")
        for node in (result.result or [])
        if str(node.status) in {"error", "fail"}
    ]
    if failures or not result.success:
        raise BuildError(
            "dbt build failed: "
            + "; ".join(failures or ["see dbt logs"])
            + "; the previous warehouse keeps serving "
            "(after a model change, try: lakehouse run --full-refresh)"
        )
    statuses: dict[str, int] = {}
    for node in result.result:
        statuses[str(node.status)] = statuses.get(str(node.status), 0) + 1
    if engine == "spark":
        manifest = settings.storage.build_path.parent / "dbt-target-spark" / "manifest.json"
        load_into_duckdb(settings, manifest)
    return statuses

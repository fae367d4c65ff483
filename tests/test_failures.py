"""Every failure a user meets is one clear line, a non-zero exit, and no secret anywhere.

The faults are real ones: nothing listening on a port, a file that is not JSON, a database
that is not there, a server that cannot start in time, a lock held by another process.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest

from infra.postgres import postgres_cluster
from tests.cli import Workspace, wait_for_line
from tests.conftest import PrefectServer, S3Endpoint

SECRET = "pw-7f3a9c-do-not-print"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The command failed with exactly one line on stderr that says so, and no traceback."""
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


@pytest.fixture
def workspace(tmp_path: Path, prefect_api: PrefectServer) -> Workspace:
    return Workspace.create(tmp_path, prefect_api.url, LAKEHOUSE_DAYS="3")


def test_unreachable_catalog_api_is_one_line_naming_the_url(workspace: Workspace) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = workspace.run("ingest", "--date", "2025-10-01", LAKEHOUSE_CATALOG_API_URL=url)
    line = one_error_line(result)
    assert f"{url}/products" in line and "LAKEHOUSE_CATALOG_API_URL" in line
    assert len((result.stdout + result.stderr).splitlines()) < 40
    assert "Traceback" in workspace.log.read_text()  # the whole trace is kept, in the file


def test_a_broken_state_file_is_named(workspace: Workspace) -> None:
    state = workspace.lake / "_state" / "shop.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    line = one_error_line(workspace.run("ingest", "--date", "2025-10-01"))
    assert str(state) in line and "lakehouse repair" in line

    repaired = workspace.run("repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "set aside _state/shop.json.damaged-" in repaired.stdout
    assert workspace.run("verify").returncode == 0


def test_database_password_is_never_printed_or_written(workspace: Workspace) -> None:
    url = f"postgresql://shop:{SECRET}@127.0.0.1:{free_port()}/shop"
    result = workspace.run(
        "ingest", "--date", "2025-10-01",
        LAKEHOUSE_SOURCE_DB_URL=url, LAKEHOUSE_SIMULATE_SOURCES="false",
    )  # fmt: skip
    line = one_error_line(result)
    assert "shop database postgresql://shop:***@127.0.0.1:" in line
    assert SECRET not in result.stdout + result.stderr + workspace.log.read_text()

    invalid = workspace.run("run", LAKEHOUSE_SOURCE_DB_URL=f"mysql://shop:{SECRET}@db/shop")
    assert invalid.returncode == 2
    assert invalid.stderr.strip() == (
        "error: invalid setting LAKEHOUSE_SOURCE_DB_URL=mysql://shop:***@db/shop: "
        "must start with sqlite:/// or postgresql://"
    )


def test_a_missing_sqlite_source_is_refused_not_created(workspace: Workspace) -> None:
    missing = workspace.root / "nowhere" / "shop.sqlite"
    result = workspace.run(
        "ingest", "--date", "2025-10-01",
        LAKEHOUSE_SOURCE_DB_URL=f"sqlite:///{missing}", LAKEHOUSE_SIMULATE_SOURCES="false",
    )  # fmt: skip
    line = one_error_line(result)
    assert f"shop database {missing} does not exist" in line
    assert not missing.exists()


def test_a_prefect_server_that_cannot_start_in_time_is_one_line_and_leaves_nothing(
    workspace: Workspace,
) -> None:
    process = workspace.start("ingest", "--date", "2025-10-01", PREFECT_API_URL="",
                              LAKEHOUSE_PREFECT_STARTUP_SECONDS="0.05")  # fmt: skip
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 1
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: the temporary Prefect server did not answer within 0.05 s; raise "
        "LAKEHOUSE_PREFECT_STARTUP_SECONDS, or set PREFECT_API_URL to a running server "
        f"(full trace in {workspace.log})"
    ]


def test_a_temporary_prefect_server_says_how_long_it_took(workspace: Workspace) -> None:
    """Without PREFECT_API_URL a command starts its own server: seconds of every command, so
    it says how many and how to spare them; with a running server (the other tests) it is
    silent."""
    result = workspace.run("ingest", "--date", "2025-10-01", PREFECT_API_URL="")
    assert result.returncode == 0, result.stdout + result.stderr
    announced = re.findall(r"^temporary Prefect server ready in (\d+\.\d) s \(set PREFECT_API_URL "
                           r"to use a running one\)$", result.stdout, re.M)  # fmt: skip
    assert len(announced) == 1 and float(announced[0]) > 0
    again = workspace.run("ingest", "--date", "2025-10-02")
    assert again.returncode == 0 and "temporary Prefect server" not in again.stdout


def test_postgres_password_reaches_no_file_no_output_and_no_prefect_record(
    tmp_path: Path, prefect_api: PrefectServer
) -> None:
    with postgres_cluster() as url:
        secret_url = url.replace("postgres@", f"postgres:{SECRET}@")  # trust auth: accepted
        workspace = Workspace.create(
            tmp_path / "data", prefect_api.url, LAKEHOUSE_DAYS="4",
            LAKEHOUSE_SOURCE_DB_URL=secret_url,
        )  # fmt: skip
        result = workspace.run("run")
        verified = workspace.run("verify")  # the sources' side read from PostgreSQL as well
    assert result.returncode == 0, result.stdout + result.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert SECRET not in result.stdout + result.stderr + verified.stdout + verified.stderr
    written = [path for path in workspace.root.rglob("*") if path.is_file()]
    assert prefect_api.database.exists()  # the server that recorded this run's flows
    written += list(prefect_api.database.parent.glob("prefect.db*"))
    assert len(written) > 50
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path


def listeners(port: int) -> list[str]:
    """Local addresses listening on `port`, IPv4 and IPv6, as the kernel lists them."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
                found.append(fields[1])
    return found


def test_serve_listens_on_loopback_only(tmp_path: Path) -> None:
    """Also: before it listens, `serve` runs every page once (a fresh workspace: no warehouse,
    each page saying so), and says it did."""
    port = free_port()
    workspace = Workspace.create(tmp_path, None)
    process = workspace.start("serve", "--port", str(port))
    try:
        deadline = time.monotonic() + 60
        listening: list[str] = []
        while not listening and time.monotonic() < deadline:
            time.sleep(0.5)
            listening = listeners(port)
        assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1, nothing else, no IPv6
        assert f"dashboard on http://127.0.0.1:{port}" in wait_for_line(process, "dashboard on")[0]
        said = "".join(wait_for_line(process, "dashboards: every page run once in"))
        assert "pages not warmed" not in said
    finally:
        process.kill()
        process.wait()


def test_s3_lock_names_its_holder_and_a_stale_one_is_taken_over(
    s3: S3Endpoint, tmp_path: Path
) -> None:
    from flows.runtime.lock import LockHeld, writer_lock
    from flows.settings import load_settings

    bucket = s3.bucket("lock-test")
    environment = {
        **s3.environment,
        "LAKEHOUSE_LAKE_ROOT": f"{bucket}/lake",
        "LAKEHOUSE_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "lakehouse.duckdb"),
    }
    with mock.patch.dict(os.environ, environment):
        settings = load_settings()
    # another process holds it: a child that takes the lock and waits
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys, time; from flows.runtime.lock import writer_lock; "
            "from flows.settings import load_settings\n"
            "with writer_lock(load_settings()):\n print('held', flush=True); time.sleep(60)",
        ],
        env={**os.environ, **environment}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as refused, writer_lock(settings):
            pass
        assert f"another run is writing to {bucket}/lake: " in str(refused.value)
        assert f"(pid {holder.pid} on {socket.gethostname()}" in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: on this host its pid is gone, so the lock is stale
    with writer_lock(settings):
        lock = s3.client().get_object(Bucket="lock-test", Key="lake/_lock.json")["Body"].read()
        assert f'"pid": {os.getpid()}'.encode() in lock
    assert "Contents" not in s3.client().list_objects_v2(Bucket="lock-test", Prefix="lake/_lock")


def test_incomplete_s3_uploads_and_publish_copies_are_cleaned_up(
    s3: S3Endpoint, tmp_path: Path
) -> None:
    from flows.operations.cleanup import clean_leftovers
    from flows.settings import load_settings

    bucket = s3.bucket("cleanup-test")
    client = s3.client()
    client.create_multipart_upload(Bucket="cleanup-test", Key="lake/raw/x/part-0.parquet")
    client.create_multipart_upload(Bucket="cleanup-test", Key="elsewhere/keep-me")
    warehouse = tmp_path / "warehouse" / "lakehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    (warehouse.parent / ".lakehouse.duckdb.777.tmp").write_bytes(b"\0" * 1024)
    environment = {
        **s3.environment,
        "LAKEHOUSE_LAKE_ROOT": f"{bucket}/lake",
        "LAKEHOUSE_LANDING_ROOT": str(tmp_path / "landing"),
        "LAKEHOUSE_WAREHOUSE_PATH": str(warehouse),
    }
    with mock.patch.dict(os.environ, environment):
        removed = clean_leftovers(load_settings())
    assert removed == [
        f"1 unfinished publish copies in {warehouse.parent}",
        f"1 incomplete multipart uploads under {bucket}/lake",
    ]
    uploads = client.list_multipart_uploads(Bucket="cleanup-test").get("Uploads", [])
    assert [upload["Key"] for upload in uploads] == ["elsewhere/keep-me"]
    assert list(warehouse.parent.iterdir()) == []

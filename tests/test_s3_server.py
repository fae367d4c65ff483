"""Faults on a real S3 server (SeaweedFS, infra/seaweed.py): the server goes away in the middle
of a run, and comes back. moto cannot be stopped and started under a running command; a server
of its own per test can, without touching the session's."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.seaweed import seaweed_server
from tests.cli import Workspace, source_net_revenue, wait_for_line, warehouse_value
from tests.conftest import PrefectServer, s3_environment

pytestmark = pytest.mark.e2e


def test_the_s3_server_stopped_mid_run_is_one_line_and_the_next_run_reconciles(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    with seaweed_server() as server:
        workspace = Workspace.create(
            tmp_path / "data",
            prefect_api.url,
            **s3_environment(server.url),
            LAKEHOUSE_LAKE_ROOT="s3://lake-on-seaweed/lake",
        )
        provisioned = workspace.run("infra", "provision", timeout=120)
        assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr

        process = workspace.start("run")
        read = wait_for_line(process, "for flow 'ingest-shop-db'")
        server.stop()  # the catalog has landed; the shop's partitions are on their way
        rest, _ = process.communicate(timeout=600)
        output = "".join(read) + rest
        assert process.returncode == 1, output
        errors = [line for line in output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, output
        assert server.url.removeprefix("http://") in errors[0], errors[0]
        assert "Traceback" not in output
        assert not workspace.published.exists()  # nothing was published from half a lake

        server.start()
        again = workspace.run("run", timeout=600)
        assert again.returncode == 0, again.stdout + again.stderr
        verified = workspace.run("verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        net = warehouse_value(workspace.published, "select sum(net_amount) from fact_orders")
        assert net == source_net_revenue(workspace.root / "sources" / "shop.sqlite")


def test_provision_on_a_server_that_cannot_serve_encryption_is_one_line(
    tmp_path: Path,
) -> None:
    """SeaweedFS without an SSE-S3 key accepts default encryption, then refuses every object:
    provisioning writes one object to find out, and says so, instead of leaving a lake no run
    can write to."""
    with seaweed_server(sse_key=None) as server:
        workspace = Workspace.create(
            tmp_path / "data",
            None,
            **s3_environment(server.url),
            LAKEHOUSE_LAKE_ROOT="s3://no-sse/lake",
        )
        result = workspace.run("infra", "provision", timeout=180)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and len(errors) == 1, result.stdout + result.stderr
    assert "bucket no-sse took its settings but refuses new objects (InternalError)" in errors[0]
    assert "WEED_S3_SSE_KEY" in errors[0] and "Traceback" not in result.stderr

"""Flow-run heartbeats on a configured server: the run's own, none from its subflows.

Prefect 3.9 gives every flow run a heartbeat thread whose stop waits up to a second
(flows/runtime/heartbeats.py); a subflow's heartbeat says nothing its parent's does not. Read
back from the Prefect server the session's `lakehouse run` reported to: its events and its
flow runs, as a zombie-detection automation would see them.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.test_daily_life import run_records

pytestmark = pytest.mark.e2e

HEARTBEAT = "prefect.flow-run.heartbeat"


def subflow_runs(api: str, parent: str) -> list[dict]:
    """Every flow run below `parent`, at any depth (the ingestion's subflows have their own)."""
    found: list[dict] = []
    parents = [parent]
    while parents:
        children = httpx.post(
            f"{api}/flow_runs/filter",
            json={"flow_runs": {"parent_flow_run_id": {"any_": parents}}},
        ).json()
        found += children
        parents = [run["id"] for run in children]
    return found


def heartbeats(api: str, run_ids: list[str]) -> dict[str, int]:
    """Heartbeat events the server holds per flow run id."""
    response = httpx.post(
        f"{api}/events/filter",
        json={
            "filter": {
                "event": {"name": [HEARTBEAT]},
                "resource": {"id": [f"prefect.flow-run.{run}" for run in run_ids]},
            },
            "limit": 50,  # the most one page holds; a heartbeat every 180 s, 6 flow runs
        },
    )
    assert response.status_code == 200, response.text
    counts: dict[str, int] = {}
    for event in response.json()["events"]:
        run = event["resource"]["prefect.resource.id"].removeprefix("prefect.flow-run.")
        counts[run] = counts.get(run, 0) + 1
    return counts


def test_a_run_on_a_configured_server_sends_its_heartbeat_and_its_subflows_none(
    completed: object, prefect_api: object
) -> None:
    api = prefect_api.url
    run = run_records(completed)[-1]["run_id"]
    subflows = [sub["id"] for sub in subflow_runs(api, run)]
    flows = {
        httpx.get(f"{api}/flows/{sub['flow_id']}").json()["name"] for sub in subflow_runs(api, run)
    }
    assert {"simulate-sources", "ingest", "ingest-catalog-api", "ingest-shop-db"} <= flows
    # the server stores events a moment after they arrive: wait for the run's own heartbeat
    deadline = time.monotonic() + 30
    while not (counts := heartbeats(api, [run, *subflows])).get(run):
        assert time.monotonic() < deadline, f"no heartbeat from the run {run} on its server"
        time.sleep(0.5)
    assert {sub: counts[sub] for sub in subflows if sub in counts} == {}

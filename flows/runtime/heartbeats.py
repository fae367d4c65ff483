"""Flow runs that send no heartbeat: where one could tell nothing, and costs a second to stop.

Prefect 3.9 gives every flow run, subflows included, a heartbeat thread (every 180 s by
default, for a server's detection of crashed runs). The thread sleeps in one-second steps and a
flow run's end waits for the step in progress: up to a second per flow run. Measured on this
machine, an empty subflow took 1.1 s with its heartbeat and 0.12 s without; `lakehouse daily`
runs seven flows.

- A subflow runs in its parent's process and thread: the parent's heartbeat already says that
  process is alive. Theirs add nothing.
- A temporary server (flows/runtime/prefect_server.py) ends with the run's process: nothing is
  left to watch for a crashed run.

A run on a configured server (a deployment's, or PREFECT_API_URL) keeps its own heartbeat at
the frequency Prefect's settings give it (PREFECT_FLOWS_HEARTBEAT_FREQUENCY).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_flow_heartbeats() -> Iterator[None]:
    """Flow runs started inside this block send no heartbeats (their parent's go on)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # None switches them off; the environment cannot say None (an integer ≥ 30 or nothing)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield

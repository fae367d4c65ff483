"""The Prefect API for a command-line run: the configured server, or a temporary one of our own.

Prefect's own ephemeral server is started as a plain child process: a run killed with SIGKILL
leaves it running, and on a busy machine its 20-second start-up limit fails the run. Ours is the
same server (uvicorn on loopback, the same database under PREFECT_HOME), started with
PR_SET_PDEATHSIG so the kernel stops it when the run dies however it dies, with a start-up limit
that is a setting, and stopped when the run ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from flows.runtime.heartbeats import no_flow_heartbeats

PR_SET_PDEATHSIG = 1


class PrefectServerError(RuntimeError):
    """The temporary Prefect server did not start; the message says why."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    startup_seconds: float, overrides: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """A Prefect API server on a free loopback port; returns the process and its API URL.

    `overrides` are environment variables for the server (tests give it a database of its own).
    """
    import prefect
    from prefect.settings import get_current_settings

    port = _free_port()
    environment = {
        **os.environ,
        **get_current_settings().to_environment_variables(exclude_unset=True),
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **(overrides or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(prefect.__module_path__.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        env=environment,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + startup_seconds
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                error = (process.stderr.read() if process.stderr else b"").decode()[-500:]
                raise PrefectServerError(
                    f"the temporary Prefect server exited with code {process.returncode}: "
                    + (" ".join(error.split()) or "no output")
                )
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    stop_server(process)
    raise PrefectServerError(
        f"the temporary Prefect server did not answer within {startup_seconds:g} s; raise "
        "LAKEHOUSE_PREFECT_STARTUP_SECONDS, or set PREFECT_API_URL to a running server"
    )


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def prefect_api(
    startup_seconds: float, announce: Callable[[str], None] | None = None
) -> Iterator[str]:
    """The Prefect API URL for this run; starts (and afterwards stops) a server if none is set,
    and tells `announce` how long it took: seconds of every command, worth knowing how to
    spare (a running server, PREFECT_API_URL)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    began = time.perf_counter()
    process, url = start_server(startup_seconds)
    if announce is not None:
        announce(
            f"temporary Prefect server ready in {time.perf_counter() - began:.1f} s "
            "(set PREFECT_API_URL to use a running one)"
        )
    try:
        # no UI is served and the server ends with the run: no "View at" links to print
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_UI_URL: ""}):
            try:
                # the server ends with this process: no one is left to read a heartbeat
                with no_flow_heartbeats():
                    yield url
            finally:
                _flush_to_api()
    finally:
        stop_server(process)


def _flush_to_api() -> None:
    """Send the logs and events still queued, while the server is up to receive them."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    EventsWorker.drain_all(timeout=10)

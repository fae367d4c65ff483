"""A stop request (SIGTERM) is a stop, even when a library wraps it: never retried away."""

from __future__ import annotations

import os
import signal
import threading

import duckdb
from prefect.states import Failed
from prefect.utilities.engine import capture_sigterm

from flows.ingestion.base import is_transient
from flows.runtime.stop import raise_stopped, stopping_signal


def test_a_query_interrupted_by_sigterm_in_a_flow_is_a_stop_and_not_retried() -> None:
    """Inside a flow run Prefect turns SIGTERM into an exception; DuckDB, mid-query, turns
    that into RuntimeError('Query interrupted'). An ingestion task retried on it would carry
    on as if nothing were asked (a `lakehouse run` ran to the end after its SIGTERM)."""
    previous = signal.signal(signal.SIGTERM, raise_stopped)  # as the CLI installs it
    interrupted: Exception | None = None
    try:
        with capture_sigterm():  # what Prefect's flow engine wraps a flow run in
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
            try:
                duckdb.sql("select count(*) from range(1000000000000)").fetchall()
            except Exception as error:  # the wrapped form is the point
                interrupted = error
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert isinstance(interrupted, RuntimeError), interrupted
    assert stopping_signal(interrupted) == "SIGTERM"
    assert is_transient(None, None, Failed(data=interrupted)) is False
    assert is_transient(None, None, Failed(data=RuntimeError("connection reset"))) is True
    assert stopping_signal(RuntimeError("Query interrupted")) == ""

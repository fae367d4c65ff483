"""Stop requests: a SIGTERM (`kill`, a supervisor) or Ctrl-C, told apart from failures.

A stop reaches the code as an exception raised in the main thread: Prefect's
`TerminationSignal` inside a flow run, `Stopped` outside one, `KeyboardInterrupt` for Ctrl-C.
A library may wrap it: DuckDB turns it into `RuntimeError('Query interrupted')` caused by it,
a dbt invocation into its result's exception. So a stop is found by walking the chain, and a
task that failed of one is never retried (retrying would undo the stop).
"""

from __future__ import annotations

import signal


class Stopped(BaseException):
    """A SIGTERM outside a flow run, raised so the command's cleanup runs and it says why
    it ended, instead of dying mid-line."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal = signal_number


def raise_stopped(signal_number: int, _frame: object) -> None:
    """A SIGTERM handler; Prefect hands the signal on to it after a flow run ends by one."""
    raise Stopped(signal_number)


def stopping_signal(error: BaseException) -> str:
    """The signal's name ("SIGTERM", "SIGINT") when `error` is, or was caused by, a stop
    request; "" otherwise."""
    from prefect.exceptions import TerminationSignal

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, TerminationSignal | Stopped):
            return signal.Signals(current.signal).name
        if isinstance(current, KeyboardInterrupt):
            return "SIGINT"
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return ""

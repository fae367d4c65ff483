"""One writer at a time on a lake and its warehouse; readers are never blocked.

The lock names its holder (run, command, host, pid, start) and carries a heartbeat, so a second
writer can say exactly who is in the way. Two stores:
- a local folder: `flock` on a lock file. The kernel releases it when the holder dies, even by
  SIGKILL, so a killed run never leaves a lock that has to be broken by guesswork.
- S3: an object created with a conditional PUT (If-None-Match: *); the holder rewrites it every
  few seconds with If-Match on its own ETag. A lock whose heartbeat is older than `stale_after`
  (or whose holder, on this host, is no longer alive) is taken over with If-Match on the stale
  ETag, so of two runs that find the same stale lock only one wins.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from flows.settings import Settings

HEARTBEAT_SECONDS = 10.0
WAIT_POLL_SECONDS = 2.0  # how often a waiting run tries the lock again
STALE_AFTER_SECONDS = 120.0


class LockHeld(RuntimeError):
    """Another run holds the writer lock; the message names it."""


@dataclass(frozen=True)
class Holder:
    owner: str  # unique per acquisition
    command: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str

    @classmethod
    def me(cls) -> Holder:
        """This process: the command a user typed, and the Prefect flow run it is, if any."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        command = " ".join(os.path.basename(arg) for arg in sys.argv[:2]) or "python"
        if "prefect" in sys.modules:  # in a flow run, the run is what a user can look up
            from prefect.runtime import flow_run

            if flow_run.get_id():
                run = f"Prefect flow run {flow_run.get_name()} ({flow_run.get_id()})"
                typed = command.startswith("lakehouse ")
                command = f"{command}` as `{run}" if typed else run
        return cls(uuid.uuid4().hex, command, socket.gethostname(), os.getpid(), now, now)

    def beat(self) -> Holder:
        return replace(self, heartbeat_at=datetime.now(UTC).isoformat(timespec="seconds"))

    def age(self) -> float:
        """Seconds since the last heartbeat."""
        return (datetime.now(UTC) - datetime.fromisoformat(self.heartbeat_at)).total_seconds()

    def is_dead_here(self) -> bool:
        """On this host and its process is gone."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self) -> str:
        started = self.started_at.replace("T", " ").replace("+00:00", " UTC")
        return (
            f"`{self.command}` (pid {self.pid} on {self.host}, started {started}, "
            f"last heartbeat {self.age():.0f} s ago)"
        )

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, data: bytes) -> Holder | None:
        try:
            return cls(**json.loads(data))
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError):
            return None


class LockStore(Protocol):
    where: str

    def acquire(self, holder: Holder) -> Holder | None:
        """Take the lock for `holder`; returns the current holder if someone else has it."""

    def beat(self, holder: Holder) -> bool:
        """Refresh the heartbeat; False if the lock is no longer ours."""

    def release(self, holder: Holder) -> None: ...


class FileLockStore:
    """A lock file in a local folder, held with flock for the life of the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path.parent)
        self._handle: int | None = None

    def acquire(self, holder: Holder) -> Holder | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            current = Holder.decode(os.pread(handle, 65536, 0))
            os.close(handle)
            return current or Holder(
                "?",
                "another run",
                "?",
                pid=0,
                started_at="?",
                heartbeat_at=datetime.now(UTC).isoformat(),
            )
        self._handle = handle
        self._write(holder)
        return None

    def _write(self, holder: Holder) -> None:
        assert self._handle is not None
        data = holder.encode()
        os.ftruncate(self._handle, 0)
        os.pwrite(self._handle, data, 0)

    def beat(self, holder: Holder) -> bool:
        if self._handle is None:
            return False
        self._write(holder)
        return True

    def release(self, holder: Holder) -> None:
        if self._handle is not None:
            os.ftruncate(self._handle, 0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None


class S3LockStore:
    """A lock object on S3, written only with conditional requests."""

    def __init__(self, client: object, where: str, stale_after: float) -> None:
        """`where`: the lake's s3://bucket/prefix; the lock object is <prefix>/_lock.json."""
        bucket, _, prefix = where.removeprefix("s3://").partition("/")
        self.client = client
        self.bucket = bucket
        self.key = f"{prefix.rstrip('/')}/_lock.json" if prefix else "_lock.json"
        self.where = where
        self.stale_after = stale_after
        self._etag: str | None = None

    def _put(self, holder: Holder, **condition: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.put_object(  # type: ignore[attr-defined]
                Bucket=self.bucket, Key=self.key, Body=holder.encode(), **condition
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in {
                "PreconditionFailed",
                "ConditionalRequestConflict",
            }:
                return False
            raise
        self._etag = answer["ETag"]
        return True

    def _current(self) -> tuple[Holder | None, str | None]:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key)  # type: ignore[attr-defined]
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None, None
            raise
        return Holder.decode(answer["Body"].read()), answer["ETag"]

    def acquire(self, holder: Holder) -> Holder | None:
        for _ in range(3):
            if self._put(holder, IfNoneMatch="*"):
                return None
            current, etag = self._current()
            if etag is None:
                continue  # released in between: try again
            stale = current is None or current.age() > self.stale_after or current.is_dead_here()
            if not stale:
                return current
            if self._put(holder, IfMatch=etag):
                return None
        current, _ = self._current()
        return current or holder

    def beat(self, holder: Holder) -> bool:
        return self._etag is not None and self._put(holder, IfMatch=self._etag)

    def release(self, holder: Holder) -> None:
        from botocore.exceptions import ClientError

        if self._etag is None:
            return
        # a ClientError: taken over after we went silent, the lock is someone else's now
        with suppress(ClientError):
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self._etag)  # type: ignore[attr-defined]
        self._etag = None


class _Heartbeat(threading.Thread):
    def __init__(self, stores: list[LockStore], holder: Holder, every: float) -> None:
        super().__init__(name="writer-lock-heartbeat", daemon=True)
        self.stores, self.holder, self.every = stores, holder, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.holder = self.holder.beat()
            for store in self.stores:
                with suppress(Exception):  # a missed beat is retried at the next one
                    store.beat(self.holder)


def lock_stores(settings: Settings) -> list[LockStore]:
    """The lake's lock, then the warehouse folder's."""
    from flows.lake.storage import s3_client

    warehouse = FileLockStore(settings.storage.warehouse_path.parent / ".writer.lock")
    if settings.storage.is_s3_lake:
        lake: LockStore = S3LockStore(
            s3_client(settings), settings.storage.lake_uri, STALE_AFTER_SECONDS
        )
    else:
        lake = FileLockStore(Path(settings.storage.lake_uri) / "_lock")
    return [lake, warehouse]


def _acquire(store: LockStore, holder: Holder, wait_seconds: float) -> None:
    """Take `store`'s lock, waiting up to `wait_seconds` for its holder; LockHeld after that."""
    deadline = time.monotonic() + wait_seconds
    announced = ""
    while (current := store.acquire(holder)) is not None:
        if time.monotonic() >= deadline:
            waited = f" (waited {wait_seconds:g} s)" if wait_seconds else ""
            raise LockHeld(
                f"another run is writing to {store.where}: {current.describe()}{waited}; "
                "wait for it to finish, or stop it"
            )
        if current.owner != announced:
            logging.getLogger("lakehouse").warning(
                "waiting up to %g s for %s to release %s",
                wait_seconds,
                current.describe(),
                store.where,
            )
            announced = current.owner
        time.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def ensure_lock_free(settings: Settings) -> None:
    """LockHeld, naming the holder, if another run holds the writer lock now.

    For a command whose flow takes the lock itself: the holder is named before anything starts.
    The lock is taken and given back at once; the flow then takes it for its run.
    """
    holder = Holder.me()
    for store in lock_stores(settings):
        _acquire(store, holder, settings.runs.lock_wait_seconds)
        store.release(holder)


@contextmanager
def writer_lock(settings: Settings, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Hold the lake's and the warehouse's writer locks for the body.

    Taken once per run, by its entry point (a command, or a run flow); not re-entrant: a second
    acquisition in the same process is refused like any other writer's.
    """
    stores = lock_stores(settings)
    holder = Holder.me()
    with ExitStack() as stack:
        for store in stores:
            _acquire(store, holder, settings.runs.lock_wait_seconds)
            stack.callback(store.release, holder)
        beat = _Heartbeat(stores, holder, heartbeat_seconds)
        beat.start()
        stack.callback(beat.join)
        stack.callback(beat.stopped.set)
        yield

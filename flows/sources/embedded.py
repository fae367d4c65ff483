"""The embedded sources, seen from the pipeline: the simulated shop runs as a process beside it.

The pipeline never imports the simulator (generators/). In simulated mode
(LAKEHOUSE_SIMULATE_SOURCES=true) an entry point starts the shop, `python -m generators.embedded`,
and talks to it through pipes (the protocol is in that module's docstring): the shop says which
world it is, serves its catalog API on loopback for as long as the run reads it, and writes the
days the world has not reached yet into the shop database and the landing zone when asked.
Ingestion then reads them through their interfaces only, exactly as it reads real sources.

The world is a function of (seed, scale factor, start date): LAKEHOUSE_DAYS only says how far
`lakehouse run` advances it, and `lakehouse daily` advances it one more day each time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from prefect import flow, get_run_logger

from flows.lake.partitions import Lake
from flows.lake.storage import s3_options
from flows.settings import Settings
from flows.sources.identity import (
    SourceIdentity,
    catalog_location,
    database_location,
    landing_location,
)

SHOP_MODULE = "generators.embedded"
STOP_SECONDS = 30
PROGRESS_STEPS = 10  # a simulation of many days says how far it is at each tenth of them


class ShopFailed(RuntimeError):
    """The simulated shop could not do what it was asked (its one line says why)."""


def _world(settings: Settings) -> dict[str, object]:
    world = settings.world
    return {
        "seed": world.seed,
        "scale_factor": world.scale_factor,
        "start_date": world.start_date.isoformat(),
        "dirty": world.dirty,
    }


def _request(settings: Settings, catalog_port: int | None) -> dict[str, object]:
    landing = settings.sources.landing_uri
    return {
        "world": _world(settings),
        "database_url": settings.sources.source_db_url.get_secret_value(),
        "landing": {
            "uri": landing,
            "s3": s3_options(settings) if landing.startswith("s3://") else None,
        },
        "catalog": None
        if catalog_port is None
        else {"port": catalog_port, "failure_rate": settings.sources.catalog_failure_rate},
    }


@lru_cache(maxsize=16)
def _world_name(world: str) -> str:
    answer = subprocess.run(
        [sys.executable, "-m", SHOP_MODULE, "--world-name"],
        input=json.dumps({"world": json.loads(world)}) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise ShopFailed(f"the simulated shop did not start: {answer.stderr.strip()[-500:]}")
    return answer.stdout.strip()


def world_name(settings: Settings) -> str:
    """The simulated world's name, as the lake records it (asked of the shop once per world)."""
    return _world_name(json.dumps(_world(settings), sort_keys=True))


def identities(settings: Settings, lake: Lake) -> dict[str, SourceIdentity]:
    """Each embedded source: where it lives, and the world it serves."""
    name = world_name(settings)
    return {
        "catalog": SourceIdentity(catalog_location(settings), name),
        "shop": SourceIdentity(database_location(settings, lake), name),
        "clickstream": SourceIdentity(landing_location(settings, lake), name),
    }


@dataclass(frozen=True)
class Advanced:
    """What advancing the sources did."""

    through: date  # the last day the sources hold now
    days: int  # days written by this call
    rows: dict[str, int] = field(default_factory=dict)  # per table, and clickstream lines/files

    def summary(self) -> str:
        if not self.days:
            return f"simulated sources already hold every day through {self.through}"
        rows = ", ".join(f"{name} {count:,}" for name, count in sorted(self.rows.items()))
        return f"simulated {self.days:,} days through {self.through}: {rows}"


@dataclass
class Shop:
    """The running simulated shop: its world, its catalog API's URL, and a pipe to advance it."""

    process: subprocess.Popen[str]
    world_name: str
    catalog_url: str | None

    def _answer(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=STOP_SECONDS)
            raise ShopFailed(
                f"the simulated shop stopped (exit {self.process.returncode}); "
                "its output is above in this command's log"
            )
        return json.loads(line)

    def advance(
        self, through: date, progress: Callable[[int, int], None] | None = None
    ) -> Advanced:
        """Write every day of the world the sources lack, through `through`."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"advance_through": through.isoformat()}) + "\n")
        self.process.stdin.flush()
        while True:
            answer = self._answer()
            if "progress" in answer:
                if progress:
                    progress(*answer["progress"])  # type: ignore[misc]
            elif "error" in answer:
                raise ShopFailed(str(answer["error"]))
            else:
                done: dict = answer["advanced"]  # type: ignore[assignment]
                return Advanced(date.fromisoformat(done["through"]), done["days"], done["rows"])


def _die_with_the_pipeline() -> None:
    """In the shop's process before it starts (Linux): killed when the process that started it
    dies, even by SIGKILL, so a killed command never leaves a shop writing its sources behind
    (an open SQLite or PostgreSQL transaction rolls back; landing files are whole or absent)."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextmanager
def running_shop(settings: Settings, catalog_port: int | None = 0) -> Iterator[Shop]:
    """The simulated shop while in use; with a catalog port (0: any free one), its catalog API.

    Closing its stdin stops it; a shop that does not stop in time is killed."""
    process = subprocess.Popen(
        [sys.executable, "-m", SHOP_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_the_pipeline if sys.platform == "linux" else None,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(json.dumps(_request(settings, catalog_port)) + "\n")
        process.stdin.flush()
        shop = Shop(process, "", None)
        hello = shop._answer()
        if "error" in hello:
            raise ShopFailed(str(hello["error"]))
        shop.world_name = str(hello["world_name"])
        shop.catalog_url = hello["catalog_url"]  # type: ignore[assignment]
        yield shop
    finally:
        if process.stdin and not process.stdin.closed:
            with suppress(BrokenPipeError):
                process.stdin.close()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@flow(name="simulate-sources")
def simulate_sources(shop: Shop, through: date) -> Advanced:
    """Advance the embedded shop database and landing zone through `through`.

    Writing a window takes minutes at large scale factors: a line at each tenth of its days
    says how far it is and how long it has taken, so the rest can be told from it.
    """
    logger = get_run_logger()
    began = time.perf_counter()
    said = 0

    def progress(done: int, total: int) -> None:
        nonlocal said
        step = done * PROGRESS_STEPS // total
        if step > said and done < total:
            said = step
            seconds = time.perf_counter() - began
            logger.info(f"simulating: {done:,} of {total:,} days written in {seconds:.1f} s")

    advanced = shop.advance(through, progress)
    get_run_logger().info(advanced.summary())
    return advanced

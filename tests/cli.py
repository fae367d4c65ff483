"""Drive the `lakehouse` command line as a user does: real processes, real signals, real files."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.conftest import settings_environment

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
SMALL = {
    "LAKEHOUSE_START_DATE": "2025-10-01",
    "LAKEHOUSE_DAYS": "10",
    "LAKEHOUSE_SCALE_FACTOR": "0.2",
    "LAKEHOUSE_SEED": "11",
}


@dataclass
class Workspace:
    """A data directory (sources, lake, warehouse) and the environment that points at it."""

    root: Path
    environment: dict[str, str]

    @classmethod
    def create(cls, root: Path, prefect_api_url: str | None, **extra: str) -> Workspace:
        environment = settings_environment(root, **{**SMALL, **extra})
        if prefect_api_url:
            environment["PREFECT_API_URL"] = prefect_api_url
        return cls(root, environment)

    def copy(self, root: Path, **extra: str) -> Workspace:
        """The same data under another root (every setting path follows it)."""
        shutil.copytree(self.root, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("_lock"))
        environment = {
            key: value.replace(str(self.root), str(root)) for key, value in self.environment.items()
        }
        return Workspace(root, {**environment, **extra})

    @property
    def published(self) -> Path:
        return Path(self.environment["LAKEHOUSE_WAREHOUSE_PATH"])

    @property
    def lake(self) -> Path:
        return Path(self.environment["LAKEHOUSE_LAKE_ROOT"])

    @property
    def log(self) -> Path:
        return self.published.parent.parent / "logs" / "lakehouse.log"

    def process_environment(self, **extra: str) -> dict[str, str]:
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LAKEHOUSE_", "PREFECT_API_URL"))
        }
        return {**inherited, "PYTHONUNBUFFERED": "1", **self.environment, **extra}

    def run(
        self, *arguments: str, timeout: float = 300, **extra: str
    ) -> subprocess.CompletedProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [LAKEHOUSE, *arguments],
            env=self.process_environment(**extra),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *arguments: str, **extra: str) -> subprocess.Popen:
        self.root.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [LAKEHOUSE, *arguments],
            env=self.process_environment(**extra),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


PROJECT = Path(__file__).resolve().parents[1]
PROJECT_PARTS = ("flows", "generators", "models", "macros", "checks", "tests/dbt")


def project_copy(root: Path) -> Path:
    """This project's code in `root`: run the command line with PYTHONPATH=root to use it.

    For a code change made by a test (a bug in a model) without touching the repository.
    """
    for part in PROJECT_PARTS:
        shutil.copytree(PROJECT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT / name, root / name)
    return root


def wait_for_line(process: subprocess.Popen, marker: str, timeout: float = 240) -> list[str]:
    """Read the process's output until a line contains `marker`; returns the lines read."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the process ended before {marker!r}:\n{''.join(lines)}")
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} within {timeout} s:\n{''.join(lines)}")


def children(pid: int) -> set[int]:
    """Every descendant of a process, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def warehouse_value(path: Path, sql: str) -> object:
    with duckdb.connect(str(path), read_only=True) as warehouse:
        return warehouse.sql(sql).fetchone()[0]


def source_net_revenue(database: Path) -> Decimal:
    """Net revenue of every order line as the shop database holds it now, in exact cents."""
    with sqlite3.connect(database) as sqlite:
        (cents,) = sqlite.execute(
            """
            select sum(quantity * cast(round(unit_price * 100) as integer)
                       - cast(round(discount_amount * 100) as integer))
            from order_items
            """
        ).fetchone()
    return Decimal(cents) / 100

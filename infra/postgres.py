"""A throwaway PostgreSQL cluster on a free loopback port: for tests that need a real server, and
the Prefect server's database in the stack as processes (infra/stack.py)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql package"
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_cluster(
    user: str = "postgres", password: str | None = None, database: str = "postgres"
) -> Iterator[str]:
    """Start initdb + pg_ctl in a temp dir; yield a connection URL; stop and remove it after.

    With `user`, `password` and `database`, that role and database are made (as the compose
    file's postgres image makes them), and the URL is theirs. PostgreSQL refuses to run as
    root, so as root the cluster runs as the `postgres` user.
    """
    binaries = _binaries()
    folder = Path(tempfile.mkdtemp(prefix="lakehouse-pg-"))
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        str(binaries / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(folder / "log"),
        "-w",
        "start",
    )
    try:
        if user != "postgres" or password is not None:
            secret = (password or "").replace("'", "''")
            client = binaries / "psql"
            client = client if client.exists() else Path(shutil.which("psql") or "psql")
            psql = [str(client), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
            run(*psql, "-c", f"create role \"{user}\" login password '{secret}'")
            if database != "postgres":
                run(*psql, "-c", f'create database "{database}" owner "{user}"')
        credentials = f"{user}:{password}" if password is not None else user
        yield f"postgresql://{credentials}@127.0.0.1:{port}/{database}"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)

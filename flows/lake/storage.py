"""One storage code path for local folders and s3:// (AWS S3, MinIO, any S3 endpoint).

Whole objects only: a local file is written aside and renamed, an S3 object is one PUT, so no
reader (the pipeline, DuckDB, the simulator's landing zone's readers) ever sees half of one.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from flows.settings import Settings


def is_object_store(fs: pafs.FileSystem) -> bool:
    return fs.type_name != "local"


def write_atomically(fs: pafs.FileSystem, path: str, data: bytes | memoryview) -> None:
    """An S3 PUT of a complete object is atomic; on a folder, write aside and rename."""
    if is_object_store(fs):
        with fs.open_output_stream(path) as stream:
            stream.write(data)
        return
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def s3_filesystem(settings: Settings) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(**s3_options(settings))


def s3_options(settings: Settings) -> dict[str, object]:
    """pyarrow's S3FileSystem options for the settings (plain values: a process can be sent
    them, as the embedded shop is, to write the landing zone the pipeline reads)."""
    options: dict[str, object] = {
        "region": settings.s3.region,
        "force_virtual_addressing": settings.s3.url_style == "vhost",
        # every call bounded: an endpoint that stops answering fails the run, never hangs it
        "connect_timeout": 10,
        "request_timeout": 60,
        # a small object goes up in one PUT instead of a three-request multipart upload
        "allow_delayed_open": True,
    }
    if settings.s3.access_key_id:
        options["access_key"] = settings.s3.access_key_id
        options["secret_key"] = settings.s3.secret_access_key.get_secret_value()
    if settings.s3.endpoint_url:
        endpoint = urlparse(settings.s3.endpoint_url)
        options["endpoint_override"] = endpoint.netloc
        options["scheme"] = endpoint.scheme
    return options


def filesystem(uri: str, settings: Settings) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path (no trailing slash) for a local path or s3:// URI."""
    if uri.startswith("s3://"):
        return s3_filesystem(settings), uri.removeprefix("s3://").rstrip("/")
    return pafs.LocalFileSystem(), uri.rstrip("/")


def s3_client(settings: Settings) -> object:
    """A boto3 S3 client for what pyarrow cannot do: conditional writes, multipart clean-up."""
    import boto3
    from botocore.config import Config

    options: dict[str, object] = {
        "region_name": settings.s3.region,
        "config": Config(
            s3={"addressing_style": "path" if settings.s3.url_style == "path" else "virtual"},
            connect_timeout=10,
            read_timeout=30,
            retries={"max_attempts": 3},
        ),
    }
    if settings.s3.endpoint_url:
        options["endpoint_url"] = settings.s3.endpoint_url
    if settings.s3.access_key_id:
        options["aws_access_key_id"] = settings.s3.access_key_id
        options["aws_secret_access_key"] = settings.s3.secret_access_key.get_secret_value()
    return boto3.client("s3", **options)

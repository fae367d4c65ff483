"""One storage code path for local folders and s3:// (AWS S3, MinIO, any S3 endpoint)."""

from __future__ import annotations

from urllib.parse import urlparse

import pyarrow.fs as pafs

from flows.settings import Settings


def s3_filesystem(settings: Settings) -> pafs.S3FileSystem:
    options: dict[str, object] = {
        "region": settings.s3_region,
        "force_virtual_addressing": settings.s3_url_style == "vhost",
    }
    if settings.s3_access_key_id:
        options["access_key"] = settings.s3_access_key_id
        options["secret_key"] = settings.s3_secret_access_key.get_secret_value()
    if settings.s3_endpoint_url:
        endpoint = urlparse(settings.s3_endpoint_url)
        options["endpoint_override"] = endpoint.netloc
        options["scheme"] = endpoint.scheme
    return pafs.S3FileSystem(**options)


def filesystem(uri: str, settings: Settings) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path (no trailing slash) for a local path or s3:// URI."""
    if uri.startswith("s3://"):
        return s3_filesystem(settings), uri.removeprefix("s3://").rstrip("/")
    return pafs.LocalFileSystem(), uri.rstrip("/")

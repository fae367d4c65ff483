"""What a killed run leaves behind, removed by the next writer while it holds the writer lock.

Only a writer holding the lock runs this, so nothing found here can belong to a live run:
- copies a publish was making beside the warehouse (full-size DuckDB files);
- files a local partition or state write was making aside before its rename;
- multipart uploads to the lake or landing zone on S3 that were never completed (they cost
  storage and never show up in a listing).
"""

from __future__ import annotations

import os
from pathlib import Path

from flows.settings import Settings
from flows.warehouse.publish import leftover_copies


def _local_temporaries(root: Path) -> list[Path]:
    """Files written aside by generators.objects.write_atomically: `.<hex>.tmp`."""
    found = []
    for folder, _, names in os.walk(root):
        found += [
            Path(folder, name) for name in names if name.startswith(".") and name.endswith(".tmp")
        ]
    return found


def _abort_uploads(settings: Settings, uri: str) -> int:
    from flows.lake.storage import s3_client

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = s3_client(settings)
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])  # type: ignore[attr-defined]
    for upload in uploads:
        client.abort_multipart_upload(  # type: ignore[attr-defined]
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    return len(uploads)


def clean_leftovers(settings: Settings) -> list[str]:
    """Remove what killed runs left; returns one line per kind of thing removed."""
    removed = []
    copies = leftover_copies(settings.storage.warehouse_path)
    for path in copies:
        path.unlink(missing_ok=True)
    if copies:
        removed.append(
            f"{len(copies)} unfinished publish copies in {settings.storage.warehouse_path.parent}"
        )
    temporaries = []
    for uri in {settings.storage.lake_uri, settings.sources.landing_uri}:
        if uri.startswith("s3://"):
            if aborted := _abort_uploads(settings, uri):
                removed.append(f"{aborted} incomplete multipart uploads under {uri}")
        elif Path(uri).exists():
            temporaries += _local_temporaries(Path(uri))
    temporaries += (
        _local_temporaries(settings.storage.run_state_dir)
        if settings.storage.run_state_dir.exists()
        else []
    )
    for path in temporaries:
        path.unlink(missing_ok=True)
    if temporaries:
        removed.append(f"{len(temporaries)} unfinished temporary files")
    return removed

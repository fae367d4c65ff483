"""Write whole objects to a local folder or an object store: readers never see half of one."""

from __future__ import annotations

import os
import uuid

import pyarrow.fs as pafs


def is_object_store(fs: pafs.FileSystem) -> bool:
    return fs.type_name != "local"


def write_atomically(fs: pafs.FileSystem, path: str, data: bytes) -> None:
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

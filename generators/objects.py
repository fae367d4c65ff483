"""Write whole objects to a local folder or an object store: readers never see half of one."""

from __future__ import annotations

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
    folder = path.rsplit("/", 1)[0]
    fs.create_dir(folder, recursive=True)
    temporary = f"{folder}/.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(temporary) as stream:
        stream.write(data)
    fs.move(temporary, path)

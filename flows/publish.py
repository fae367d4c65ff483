"""Publish a build that passed the gate: copy it beside the warehouse, then rename over it.

A rename within one folder is atomic, so a reader opens either the previous file or the new
one; a reader that already holds the previous file keeps reading it undisturbed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flows.settings import Settings


def publish(settings: Settings) -> Path:
    source = settings.build_path
    target = settings.warehouse_path
    if not source.exists():
        raise FileNotFoundError(f"no build to publish at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target

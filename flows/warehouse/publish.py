"""Publish only a build that passed dbt and the gate, byte for byte as the gate saw it.

Every build gets an id and a record beside the warehouse (runs/build.json) that moves through
building → built (dbt passed; file checkpointed, its sha256 taken) → gated or rejected (the
quality gate's verdict on that very file) → published. Publishing refuses anything but a gated
build whose file still has the checksum the gate recorded, copies it beside the warehouse while
hashing the copy, and renames it over the old file. A rename within one folder is atomic, so a
reader opens either the previous file or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from flows.settings import Settings

CHUNK = 8 * 1024 * 1024
MAX_FREE_SHARE = 0.2  # a build file with more free space than this is compacted before the gate


class PublishRefused(RuntimeError):
    """The build is not one that passed dbt and the gate; the previous warehouse keeps serving."""


@dataclass(frozen=True)
class BuildRecord:
    build_id: str
    status: str  # building, failed, built, gated, rejected, published
    started_at: str
    sha256: str = ""
    detail: str = ""
    # when the last build that passed dbt started: lake partitions written after it are new
    # to the build file, and incremental models read from the first of their days
    baseline: str = ""
    engine: str = "duckdb"  # what dbt built on: its incremental state lives there
    code: str = ""  # the code fingerprint this build ran under (warehouse/build.py)
    # the code fingerprint of the last build that passed dbt with its unit tests: under the
    # same one they cannot change their verdict, so a build may leave them out
    tested_code: str = ""
    # the checks fingerprint the gate ran under (warehouse/gate.py::checks_fingerprint), and
    # when the last build that passed the gate started and that build's checks fingerprint:
    # under the same one, the gate's event checks read only the days written since
    checks: str = ""
    gated_at: str = ""
    gated_checks: str = ""


def record_path(settings: Settings) -> Path:
    return settings.storage.run_state_dir / "build.json"


def read_record(settings: Settings) -> BuildRecord | None:
    path = record_path(settings)
    if not path.exists():
        return None
    try:
        return BuildRecord(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError):
        return None  # unreadable: treated as no verified build


def write_record(settings: Settings, record: BuildRecord) -> BuildRecord:
    path = record_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(record), indent=1))
    temporary.replace(path)
    return record


DBT_PASSED = ("built", "gated", "rejected", "published")
GATE_PASSED = ("gated", "published")


def begin_build(settings: Settings, code: str = "") -> BuildRecord:
    """A new build id; until dbt passes, nothing built under it can be published.

    The baseline carries over only from a build on the same engine: another engine's
    incremental tables know nothing of what this one's last build read. `code`: this build's
    code fingerprint; the one its unit tests last passed under carries over the same way, and
    so do the start and the checks fingerprint of the last build that passed the gate.
    """
    started = datetime.now(UTC).isoformat()
    previous = read_record(settings)
    engine = settings.runs.engine
    baseline = tested_code = gated_at = gated_checks = ""
    if previous is not None and previous.engine == engine and settings.storage.build_path.exists():
        passed = previous.status in DBT_PASSED
        baseline = previous.started_at if passed else previous.baseline
        tested_code = previous.code if passed else previous.tested_code
        gated = previous.status in GATE_PASSED
        gated_at = previous.started_at if gated else previous.gated_at
        gated_checks = previous.checks if gated else previous.gated_checks
    record = BuildRecord(
        uuid.uuid4().hex,
        "building",
        started,
        baseline=baseline,
        engine=engine,
        code=code,
        tested_code=tested_code,
        gated_at=gated_at,
        gated_checks=gated_checks,
    )
    return write_record(settings, record)


def fail_build(settings: Settings, record: BuildRecord, reason: str) -> BuildRecord:
    return write_record(settings, replace(record, status="failed", detail=reason))


def finish_build(settings: Settings, record: BuildRecord) -> BuildRecord:
    """dbt passed: fold the WAL into the file, then take the checksum the gate will check."""
    with duckdb.connect(str(settings.storage.build_path)) as connection:
        connection.execute("checkpoint")
        free, total = connection.execute(
            "select free_blocks, total_blocks from pragma_database_size()"
        ).fetchone()
    if total and free / total > MAX_FREE_SHARE:
        compact(settings.storage.build_path)
    return write_record(
        settings, replace(record, status="built", sha256=file_sha256(settings.storage.build_path))
    )


def compact(path: Path) -> None:
    """Rewrite a DuckDB file without the free blocks incremental builds leave behind.

    DuckDB reuses freed blocks but never shrinks a file; a copy of the database holds only
    live data. The copy replaces the file by rename, so a crash leaves one or the other.
    """
    fresh = path.with_name(f".{path.name}.compact.tmp")
    fresh.unlink(missing_ok=True)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{path}' as built (read_only)")
        connection.execute(f"attach '{fresh}' as fresh")
        connection.execute("copy from database built to fresh")
        connection.execute("detach fresh")
    fresh.replace(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def record_gate(
    settings: Settings, record: BuildRecord, passed: bool, detail: str, checks: str = ""
) -> BuildRecord:
    """The gate's verdict on the build, and the checks fingerprint it ran under."""
    status = "gated" if passed else "rejected"
    return write_record(settings, replace(record, status=status, detail=detail, checks=checks))


def publishable(settings: Settings) -> BuildRecord:
    """The build record if its build may be published; PublishRefused says why not.

    The build's bytes are checked against the record as `publish` copies them: one read of a
    file of gigabytes, not two.
    """
    record = read_record(settings)
    if record is None:
        raise PublishRefused(
            f"no verified build at {settings.storage.build_path}: run `lakehouse run` to build one"
        )
    refusals = {
        "building": "did not finish (its run was interrupted)",
        "failed": f"failed dbt ({record.detail})",
        "built": "has not been through the quality gate",
        "rejected": f"failed the quality gate ({record.detail})",
    }
    if record.status in refusals:
        raise PublishRefused(
            f"build {record.build_id[:12]} {refusals[record.status]}; not published, "
            "the previous warehouse keeps serving; run `lakehouse run` to build again"
        )
    if not settings.storage.build_path.exists():
        raise changed_after_the_gate(settings, record)
    return record


def changed_after_the_gate(settings: Settings, record: BuildRecord) -> PublishRefused:
    return PublishRefused(
        f"{settings.storage.build_path} changed after build {record.build_id[:12]} passed the "
        "gate; not published; run `lakehouse run` to build again"
    )


def publish(settings: Settings) -> Path:
    """Copy the gated build beside the warehouse, check the copy's checksum, rename it in."""
    record = publishable(settings)
    target = settings.storage.warehouse_path
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_copy_path(target)
    digest = hashlib.sha256()
    try:
        with open(settings.storage.build_path, "rb") as source, open(temporary, "wb") as copy:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                copy.write(chunk)
            copy.flush()
            os.fsync(copy.fileno())
        if digest.hexdigest() != record.sha256:
            raise changed_after_the_gate(settings, record)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    write_record(settings, replace(record, status="published"))
    return target


def temporary_copy_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def leftover_copies(target: Path) -> list[Path]:
    """Copies a killed publish left behind (only ever removed while holding the writer lock)."""
    return sorted(target.parent.glob(f".{target.name}.*.tmp"))

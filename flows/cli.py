"""The `lakehouse` command line."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from flows.settings import (
    Settings,
    SettingsError,
    WindowError,
    check_window,
    ensure_writable,
    load_settings,
    switch_telemetry_off,
)
from infra.provision import ArchiveClass

if TYPE_CHECKING:
    from flows.pipeline import PipelineResult

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _every_command() -> None:
    """The `lakehouse` command line."""
    switch_telemetry_off()  # before any tool (Prefect, dbt, Soda, Streamlit) is imported


SeedOption = Annotated[int | None, typer.Option(help="Simulation seed [LAKEHOUSE_SEED]")]
ScaleOption = Annotated[float | None, typer.Option(help="Scale factor [LAKEHOUSE_SCALE_FACTOR]")]
DaysOption = Annotated[int | None, typer.Option(help="Days to simulate [LAKEHOUSE_DAYS]")]
EngineOption = Annotated[
    Literal["duckdb", "spark"] | None,
    typer.Option(
        help="The engine the models build on [LAKEHOUSE_ENGINE]; spark needs Java and the extra"
    ),
]
StartOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day [LAKEHOUSE_START_DATE]")
]


def plural(number: int, noun: str) -> str:
    """'1 problem', '2 problems': the count and its noun, agreed."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
        ensure_writable(settings)
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    return settings


PRELOADED = ("flows.pipeline",)


def _preload(modules: tuple[str, ...]) -> None:
    """Import modules a command will need (any failure is left for the real import to raise)."""
    for module in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(module)


@contextmanager
def _command(
    settings: Settings,
    prefect: bool = True,
    lock: bool = False,
    guard: bool = False,
    lock_free: bool = False,
) -> Iterator[None]:
    """Run a command: on failure one clear line on stderr and a non-zero exit, the trace in the log.

    With `guard`, the sources are checked against the ones the lake holds data from before
    anything else, so sources of another world are refused with nothing written, not even a
    lock; with `lock`, the lake's writer lock is taken next and held, so a second writer is
    refused at once; with `lock_free`, for commands whose flow takes the lock itself, only
    whether another run holds it is checked, so that run is named at once, before any Prefect
    server starts; with `prefect`, the command gets a Prefect API: the configured server or a
    temporary one that lives exactly as long as this process (flows/runtime/prefect_server.py).
    """
    from flows.runtime import logs
    from flows.runtime.lock import LockHeld, ensure_lock_free, writer_lock
    from flows.runtime.stop import raise_stopped, stopping_signal
    from flows.sources.contract import scrub
    from flows.sources.identity import SourcesDiffer
    from flows.warehouse.publish import PublishRefused
    from flows.warehouse.spark import SparkUnavailable

    logs.configure(settings)
    try:
        with ExitStack() as stack:
            if threading.current_thread() is threading.main_thread():
                previous = signal.signal(signal.SIGTERM, raise_stopped)
                stack.callback(signal.signal, signal.SIGTERM, previous)
            if guard:
                from flows.sources.entry import guard_sources

                guard_sources(settings)
            if lock:
                stack.enter_context(writer_lock(settings))
            elif lock_free:
                ensure_lock_free(settings)
            if settings.runs.engine == "spark":  # what to install, before anything starts
                from flows.warehouse.spark import check_spark

                check_spark(settings)
            if prefect:
                from flows.runtime.prefect_server import prefect_api

                # the pipeline's imports (dbt, Prefect's engine, Arrow) load while the
                # temporary server starts in its own process: seconds off every command
                preloading = threading.Thread(target=_preload, args=(PRELOADED,), daemon=True)
                preloading.start()
                # an exit while a thread is mid-import aborts the interpreter (SIGABRT):
                # whatever happens, the preload ends before this command does
                stack.callback(preloading.join)
                stack.enter_context(prefect_api(settings.runs.prefect_startup_seconds, typer.echo))
            yield
    except typer.Exit:
        raise
    except BaseException as error:
        stopped_by = stopping_signal(error)
        if not stopped_by and not isinstance(error, Exception):
            raise  # SystemExit and the like: not a failure to report
        logging.getLogger("lakehouse").error("%s failed", " ".join(sys.argv[1:2]), exc_info=error)
        text = (
            f"stopped by {stopped_by}; a build it had not published stays unpublished"
            if stopped_by
            else " ".join(str(error).split()) or type(error).__name__
        )
        message = scrub(text, logs.secrets_of(settings))
        expected = LockHeld | PublishRefused | SourcesDiffer | SparkUnavailable
        if not isinstance(error, expected):  # expected states: no trace to read
            message += f" (full trace in {settings.storage.log_path})"
        typer.echo(f"error: {message}", err=True)
        if stopped_by:
            # the shell's convention for a command ended by a signal; at once, as the signal
            # would: a library thread still mid-query aborts the interpreter's shutdown
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + signal.Signals[stopped_by].value)
        raise typer.Exit(EXIT_LOCKED if isinstance(error, LockHeld) else EXIT_FAILED) from None


@app.command()
def run(
    seed: SeedOption = None,
    scale: ScaleOption = None,
    days: DaysOption = None,
    start_date: StartOption = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild incremental models from scratch (after a model change)")
    ] = False,
    new_lake: Annotated[
        bool,
        typer.Option(
            help="Delete this lake and start a new one from the sources (after a change of "
            "seed, scale, start date or source); the published warehouse serves until replaced"
        ),
    ] = False,
    engine: EngineOption = None,
) -> None:
    """Run the whole pipeline: sources → lake → dbt → Soda gate → publish."""
    start = start_date.date() if start_date else None
    settings = _settings_or_exit(
        seed=seed, scale_factor=scale, days=days, start_date=start, engine=engine
    )
    typer.echo(
        f"lakehouse: seed {settings.world.seed}, scale {settings.world.scale_factor:g}, "
        f"{settings.world.start_date} → {settings.world.end_date} ({settings.world.days} days)"
    )
    began = time.perf_counter()
    # the flow takes the writer lock itself; every setting the command line chose reaches it
    # as a parameter (the window as dates, the world as seed, scale and start date)
    with _command(settings, guard=not new_lake, lock_free=True):
        from flows.pipeline import lakehouse_pipeline

        world = settings.world
        result = lakehouse_pipeline(
            start=world.start_date,
            end=world.end_date,
            seed=seed,
            scale_factor=scale,
            start_date=start,
            full_refresh=full_refresh,
            new_lake=new_lake,
            engine=engine,
        )
    _report(result, began)


@app.command()
def daily(
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="Business day; default: the day after the last one ingested",
        ),
    ] = None,
    engine: EngineOption = None,
) -> None:
    """One business day, as the daily deployment runs it: ingest, build incrementally, publish.

    On the simulated shop, the day after the last one ingested: the shop trades one more day.
    """
    settings = _settings_or_exit(engine=engine)
    began = time.perf_counter()
    with _command(settings, guard=True, lock_free=True):  # the flow takes the lock itself
        from flows.pipeline import daily_pipeline

        result = daily_pipeline(day=day.date() if day else None, engine=engine)
    _report(result, began)


# what a row landed in raw is, per entity: the shop's change log brings every version of a row,
# the catalog a snapshot of every product per day
LANDED_ROWS = {
    "customers": "customer versions",
    "orders": "order versions",
    "order_items": "order item versions",
    "products": "product snapshot rows",
    "events": "events",
}


def _report(result: PipelineResult, began: float) -> None:
    for note in result.notes:
        typer.echo(note)
    rows = ", ".join(
        f"{LANDED_ROWS.get(name, name)} {count:,}"
        for name, count in sorted(result.rows_landed.items())
    )
    typer.echo(f"landed {result.window[0]} → {result.window[1]}: {rows or 'nothing new'}")
    if result.late:
        typer.echo(result.late_summary())
    typer.echo(result.gate)
    typer.echo(f"published {result.published} in {time.perf_counter() - began:.1f} s")
    typer.echo("open the dashboard with: make serve  (or: lakehouse serve)")


@app.command()
def generate(
    seed: SeedOption = None,
    scale: ScaleOption = None,
    days: DaysOption = None,
    start_date: StartOption = None,
    dirty: Annotated[
        bool | None,
        typer.Option("--dirty/--clean", help="Inject labelled anomalies [LAKEHOUSE_DIRTY]"),
    ] = None,
    through: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="Last day to simulate; default: the window's last day"
        ),
    ] = None,
) -> None:
    """Advance the simulated sources: the shop database and the clickstream landing zone.

    Days the sources already hold are kept (the world only moves forward); sources of another
    world (seed, scale, start date) are replaced. `run` and `daily` do this themselves.
    """
    start = start_date.date() if start_date else None
    settings = _settings_or_exit(
        seed=seed, scale_factor=scale, days=days, start_date=start, dirty=dirty
    )
    last = through.date() if through else settings.world.end_date
    if last < settings.world.start_date:
        message = f"error: --through {last} is before the start date {settings.world.start_date}"
        typer.echo(message, err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    from rich.progress import Progress

    from flows.sources.embedded import running_shop

    began = time.perf_counter()
    with (
        _command(settings, prefect=False),
        running_shop(settings, catalog_port=None) as shop,
        Progress(transient=True) as bar,
    ):
        task = bar.add_task("simulating days", total=None)
        advanced = shop.advance(
            last, lambda done, total: bar.update(task, completed=done, total=total)
        )
    written = advanced.rows
    typer.echo(
        f"shop database {settings.sources.source_db_display}: "
        f"customers {written.get('customers', 0):,}, "
        f"orders {written.get('orders', 0):,}, order_items {written.get('order_items', 0):,} "
        "rows written"
    )
    typer.echo(
        f"landing zone {settings.sources.landing_uri}: {written.get('clickstream_lines', 0):,} "
        f"clickstream lines in {written.get('clickstream_files', 0):,} hourly files"
    )
    typer.echo(
        f"the sources hold every day through {advanced.through} "
        f"({advanced.days:,} new) in {time.perf_counter() - began:.1f} s; "
        "serve the catalog: lakehouse catalog-api"
    )


@app.command("catalog-api")
def catalog_api(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8600,
) -> None:
    """Serve the simulated product catalog REST API until interrupted."""
    settings = _settings_or_exit()
    from flows.sources.embedded import running_shop

    with _command(settings, prefect=False), running_shop(settings, catalog_port=port) as shop:
        typer.echo(f"catalog API on {shop.catalog_url}/products (Ctrl-C stops it)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@app.command("ingest")
def ingest_day(
    day: Annotated[
        datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Business day to ingest")
    ],
) -> None:
    """Ingest one business day from the three sources into the lake."""
    _ingest_window(day.date(), day.date())


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First business day")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last business day")],
) -> None:
    """Ingest a window of business days in one batch (idempotent: a second run adds nothing)."""
    if end < start:
        typer.echo(f"error: --end {end:%Y-%m-%d} is before --start {start:%Y-%m-%d}", err=True)
        raise typer.Exit(2)
    _ingest_window(start.date(), end.date())


def _ingest_window(start: date, end: date) -> None:
    settings = _settings_or_exit()
    try:
        check_window(settings, start, end)
    except WindowError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    began = time.perf_counter()
    with _command(settings, lock=True, guard=True):
        from flows.ingestion.run import ingest
        from flows.sources.entry import open_sources

        with open_sources(settings, through=end) as sources:
            reports = ingest(sources.settings, start, end, identities=sources.identities)
    for report in reports:
        typer.echo(report.summary())
    typer.echo(f"ingested {start} to {end} in {time.perf_counter() - began:.1f} s")


@app.command()
def build(
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild incremental models from scratch (after a model change)")
    ] = False,
    engine: EngineOption = None,
) -> None:
    """Rebuild the warehouse from the lake without ingesting, gate it, publish it."""
    settings = _settings_or_exit(engine=engine)
    began = time.perf_counter()
    with _command(settings, lock_free=True):  # the flow takes the writer lock itself
        from flows.pipeline import build_and_publish

        result = build_and_publish(full_refresh=full_refresh, engine=engine)
    from flows.warehouse.build import describe_statuses

    typer.echo(f"dbt: {describe_statuses(result.dbt)}")
    typer.echo(result.gate)
    typer.echo(f"published {result.published} in {time.perf_counter() - began:.1f} s")


@app.command()
def publish() -> None:
    """Publish the current build, only if it passed dbt and the quality gate in its run."""
    settings = _settings_or_exit()
    with _command(settings, prefect=False, lock=True):
        from flows.warehouse.publish import publish as publish_build

        published = publish_build(settings)
    typer.echo(f"published {published}")


@app.command()
def docs() -> None:
    """Build the dbt docs site and docs/data-dictionary.md from the last build (read-only)."""
    settings = _settings_or_exit()
    if not settings.storage.build_path.exists():
        typer.echo(
            f"error: no build at {settings.storage.build_path}: run `lakehouse run` first", err=True
        )
        raise typer.Exit(EXIT_FAILED)
    # the writer lock: a run must not rebuild the file while dbt reads it
    with _command(settings, prefect=False, lock=True):
        from flows.warehouse.docs import generate_docs

        generated = generate_docs(settings)
    typer.echo(f"dbt docs site: {generated.site} (one file, no server: open it in a browser)")
    typer.echo(f"wrote {generated.dictionary}")


@app.command()
def verify() -> None:
    """Compare the lake with its manifests and with the sources; exit 1 if anything is off."""
    settings = _settings_or_exit()
    with _command(settings, prefect=False):
        from flows.lake.partitions import Lake
        from flows.operations.verify import verify as verify_lake

        findings = verify_lake(settings, Lake.from_settings(settings), deep=True)
    for finding in findings:
        typer.echo(finding.line())
    if findings:
        typer.echo(
            f"{plural(len(findings), 'problem')}; `lakehouse repair` ingests again what is missing"
        )
        raise typer.Exit(EXIT_FAILED)
    typer.echo(f"the lake at {settings.storage.lake_uri} agrees with its manifests and its sources")


@app.command()
def repair() -> None:
    """Set damaged state aside, re-ingest what the lake lacks, and verify again."""
    settings = _settings_or_exit()
    with _command(settings, lock=True, guard=True):
        import uuid

        from flows.operations.repair import repair_lake
        from flows.sources.entry import open_sources

        with open_sources(settings) as sources:
            outcome = repair_lake(sources.settings, sources.identities, f"repair-{uuid.uuid4()}")
    for moved in outcome.plan.set_aside:
        typer.echo(f"set aside {moved}")
    for finding in outcome.plan.findings:
        typer.echo(f"repaired: {finding.line()}")
    for loss in outcome.losses:
        typer.echo(f"lost: {loss}", err=True)
    for finding in outcome.remaining:
        typer.echo(f"still wrong: {finding.line()}", err=True)
    if outcome.remaining:
        raise typer.Exit(EXIT_FAILED)
    short = len(outcome.losses)
    lost = f"; {plural(short, 'partition')} {'is' if short == 1 else 'are'} short of rows (above)"
    lost = lost if short else ""
    typer.echo(f"the lake agrees with its manifests and its sources{lost}")


@app.command()
def doctor() -> None:
    """Check the settings, the lake, httpfs, the sources and Prefect; say how to fix what fails."""
    settings = _settings_or_exit()
    from flows.operations.doctor import diagnose

    checks = diagnose(settings)
    width = max(len(check.name) for check in checks)
    typer.echo(f"settings{' ' * (width - 8)}  ok    valid (LAKEHOUSE_* and .env)")
    for check in checks:
        status = "ok  " if check.ok else "FAIL"
        typer.echo(f"{check.name:<{width}}  {status}  {check.detail}")
        if check.fix:
            typer.echo(f"{'':<{width}}        fix: {check.fix}")
    failed = [check.name for check in checks if not check.ok]
    total = len(checks) + 1  # the settings, checked before anything else
    if failed:
        summary = f"{len(failed)} of {total} checks failed: {', '.join(failed)}"
        typer.echo(f"error: {summary}", err=True)
        raise typer.Exit(EXIT_FAILED)
    typer.echo(f"all {total} checks passed")


infra = typer.Typer(no_args_is_help=True, help="The storage the lakehouse runs on.")
app.add_typer(infra, name="infra")


@infra.command()
def provision(
    bucket: Annotated[
        list[str] | None,
        typer.Option(
            "--bucket",
            help="Another bucket to provision the same way (repeatable); the lake's and the "
            "landing zone's come from LAKEHOUSE_LAKE_ROOT and LAKEHOUSE_LANDING_ROOT",
        ),
    ] = None,
    kms_key_id: Annotated[
        str | None,
        typer.Option(help="Default encryption SSE-KMS with this key instead of SSE-S3 (AES256)"),
    ] = None,
    archive_class: Annotated[
        ArchiveClass,
        typer.Option(
            help="Where raw partitions go after 90 days: GLACIER_IR (read as they are), or "
            "GLACIER / DEEP_ARCHIVE (a restore before every read)"
        ),
    ] = "GLACIER_IR",
    quarantine_expiry_days: Annotated[
        int,
        typer.Option(
            min=0,
            help="Expire quarantined records after this many days; 0: keep them (the default: "
            "`lakehouse verify` counts a vanished quarantine partition as lost)",
        ),
    ] = 0,
) -> None:
    """Create the project's S3 buckets and configure them; every setting is read back.

    Versioning, default encryption, the public access block and lifecycle rules (raw partitions
    tiered, old versions and incomplete uploads removed, quarantine expired when asked).
    Idempotent: a setting is written only when it differs, so a second run changes nothing.
    """
    settings = _settings_or_exit()
    from infra.provision import ProvisionError, Request, plan_buckets, summary

    try:
        plans = plan_buckets(settings, bucket)
    except ProvisionError as error:  # NothingToProvision, a bad --bucket name
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    request = Request(
        kms_key_id=kms_key_id,
        archive_class=archive_class,
        quarantine_expiry_days=quarantine_expiry_days,
    )
    endpoint = settings.s3.endpoint_url or f"AWS S3 ({settings.s3.region})"
    outcomes = []
    width = max(len(plan.name) for plan in plans)
    with _command(settings, prefect=False):
        from infra.provision import provision as provision_buckets

        for outcome in provision_buckets(settings, plans, request):
            outcomes.append(outcome)
            typer.echo(outcome.line(width))
    typer.echo(summary(outcomes, endpoint))


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port for the dashboard")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the dashboard to the network")
    ] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="Do not open a browser")] = True,
) -> None:
    """Serve the dashboards on the last published warehouse."""
    settings = _settings_or_exit()
    typer.echo(f"dashboard on http://{host}:{port} reading {settings.storage.warehouse_path}")
    from app.serve import options

    # streamlit run, the pages' modules imported before the first visit
    command = [sys.executable, "-m", "app.serve", *options(port, host, headless)]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    app()

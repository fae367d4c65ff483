"""The `lakehouse` command line."""

from __future__ import annotations

import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from flows.settings import Settings, SettingsError, ensure_writable, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
SeedOption = Annotated[int | None, typer.Option(help="Simulation seed [LAKEHOUSE_SEED]")]
ScaleOption = Annotated[float | None, typer.Option(help="Scale factor [LAKEHOUSE_SCALE_FACTOR]")]
DaysOption = Annotated[int | None, typer.Option(help="Days to simulate [LAKEHOUSE_DAYS]")]
StartOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day [LAKEHOUSE_START_DATE]")
]
APP_ENTRYPOINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def _settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
        ensure_writable(settings)
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    return settings


@app.command()
def run(
    seed: SeedOption = None,
    scale: ScaleOption = None,
    days: DaysOption = None,
    start_date: StartOption = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild incremental models from scratch (after a model change)")
    ] = False,
) -> None:
    """Run the whole pipeline: sources → lake → dbt → Soda gate → publish."""
    start = start_date.date() if start_date else None
    settings = _settings_or_exit(seed=seed, scale_factor=scale, days=days, start_date=start)
    typer.echo(
        f"lakehouse: seed {settings.seed}, scale {settings.scale_factor:g}, "
        f"{settings.start_date} → {settings.end_date} ({settings.days} days)"
    )
    from flows.pipeline import QualityGateFailed, lakehouse_pipeline
    from flows.warehouse import BuildError

    began = time.perf_counter()
    try:
        result = lakehouse_pipeline(
            start_date=settings.start_date,
            days=settings.days,
            seed=settings.seed,
            scale_factor=settings.scale_factor,
            full_refresh=full_refresh,
        )
    except QualityGateFailed as error:
        typer.echo(f"error: {error}; the previous warehouse keeps serving", err=True)
        raise typer.Exit(1) from None
    except BuildError as error:
        typer.echo(
            f"error: {error}; the previous warehouse keeps serving "
            "(after a model change, try: lakehouse run --full-refresh)",
            err=True,
        )
        raise typer.Exit(1) from None
    rows = ", ".join(f"{name} {count:,}" for name, count in sorted(result.rows_landed.items()))
    typer.echo(f"landed: {rows}")
    typer.echo(f"{result.gate.summary()}")
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
) -> None:
    """Simulate the sources: write the shop database and the clickstream landing zone."""
    start = start_date.date() if start_date else None
    settings = _settings_or_exit(
        seed=seed, scale_factor=scale, days=days, start_date=start, dirty=dirty
    )
    from rich.progress import Progress

    from flows.ingest import simulation_config
    from flows.storage import filesystem
    from generators.simulation import Simulation
    from generators.sources import write_sources

    simulation = Simulation(simulation_config(settings))
    began = time.perf_counter()
    with Progress(transient=True) as bar:
        task = bar.add_task("simulating days", total=settings.days)
        written = write_sources(
            simulation,
            settings.source_db_url,
            filesystem(settings.landing_uri, settings),
            lambda done, total: bar.update(task, completed=done),
        )
    typer.echo(
        f"shop database {settings.source_db_url}: customers {written['customers']:,}, "
        f"orders {written['orders']:,}, order_items {written['order_items']:,} rows written"
    )
    typer.echo(
        f"landing zone {settings.landing_uri}: {written['clickstream_lines']:,} clickstream lines "
        f"in {written['clickstream_files']:,} hourly files"
    )
    typer.echo(
        f"done in {time.perf_counter() - began:.1f} s; serve the catalog: lakehouse catalog-api"
    )


@app.command("catalog-api")
def catalog_api(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8600,
) -> None:
    """Serve the simulated product catalog REST API until interrupted."""
    settings = _settings_or_exit()
    from flows.ingest import simulation_config
    from generators.catalog_api import CatalogApi
    from generators.simulation import Simulation

    simulation = Simulation(simulation_config(settings))
    with CatalogApi(simulation, settings.catalog_failure_rate, port) as api:
        typer.echo(f"catalog API on {api.url}/products (Ctrl-C stops it)")
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
    if not settings.start_date <= start <= end <= settings.end_date and settings.simulate_sources:
        typer.echo(
            f"error: {start} to {end} is outside the simulated window "
            f"{settings.start_date} to {settings.end_date}",
            err=True,
        )
        raise typer.Exit(2)
    from flows.ingest import ingest

    began = time.perf_counter()
    for report in ingest(start, end):
        typer.echo(report.summary())
    typer.echo(f"ingested {start} to {end} in {time.perf_counter() - began:.1f} s")


@app.command()
def publish() -> None:
    """Verify the current build against the contracts and publish it if it passes."""
    settings = _settings_or_exit()
    from flows.pipeline import QualityGateFailed, gate_and_publish

    try:
        gate, published = gate_and_publish()
    except QualityGateFailed as error:
        typer.echo(f"error: {error}; the previous warehouse keeps serving", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{gate.summary()}; published {published} ({settings.warehouse_path})")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port for the dashboard")] = 8501,
    headless: Annotated[bool, typer.Option(help="Do not open a browser")] = True,
) -> None:
    """Serve the dashboards on the last published warehouse."""
    settings = _settings_or_exit()
    typer.echo(f"dashboard on http://localhost:{port} reading {settings.warehouse_path}")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_ENTRYPOINT),
        "--server.port",
        str(port),
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
    ]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    app()

"""Benchmark: every dashboard page on the published warehouse, from the queries to the browser.

    python -m tests.bench.dashboards [--repeat 20] [--render-repeat 10] [--browser-repeat 3]
        [--no-browser]
                        [--pages executive funnel ...] [--output docs/benchmarks.md]

Per page (Executive, Product Performance, Customer Analytics, Funnel Analysis, Data Health):

- queries: all of the page's queries, run one after another on an empty cache as a first
  visit runs them (the filters' choices and the as-of day included): p50 and p95;
- cached render: the page's script run by Streamlit (streamlit.testing AppTest, in this
  process) when every query is a cache hit: the time of the page's own script
  (`st.Page.run`: its queries' cache lookups, building the chart specs, every element
  marshalled for the browser), and its parts: building figures (app.charts),
  `st.vega_lite_chart` (the spec and its rows serialised), tables (`st.dataframe` and the CSV
  download built with it), query cache hits; the same run on an empty cache is the uncached render;
- first visit (headless Chromium, a fresh server per visit started as `lakehouse serve`
  starts it, a fresh browser context): from the request to the page drawn, every card title,
  chart and table in place and Streamlit's script state back to not running; filter change:
  one sidebar filter changed to the end of the rerun, charts redrawn (tests/bench/browser.py).

Baselines in the same run: the Funnel page's mart queries on the published warehouse vs on a
copy whose mart sums are HUGEINT (what `sum` gives when a model leaves its type to DuckDB), and
the cached render vs the uncached one. The Targets table says met or not met; figures are
never asserted. `--output` writes the report as the "Dashboards" section of a markdown file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from app import queries
from app.data import clear_cache, has_ops
from flows.settings import load_settings

ENTRYPOINT = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
TARGETS = {"first visit": 2000.0, "filter change": 500.0, "cached render": 100.0}
SECTION = "## Dashboards"


@dataclass(frozen=True)
class PageSpec:
    name: str
    slug: str  # its URL path and the page file's name


PAGES = [
    PageSpec("Executive", "executive"),
    PageSpec("Product Performance", "products"),
    PageSpec("Customer Analytics", "customers"),
    PageSpec("Funnel Analysis", "funnel"),
    PageSpec("Data Health", "health"),
]


# --- queries --------------------------------------------------------------------------------


def funnel_mart_queries(devices: list[str], first: dt.date, last: dt.date, as_of: dt.date):
    return lambda: (
        queries.funnel_by_device(devices, first, last),
        queries.conversion_over_time(devices, first, last),
        queries.event_types(devices, first, last),
        queries.device_performance(devices, first, last),
        queries.hourly_activity(devices, first, last),
        queries.daily_events(devices, as_of),
    )


def page_queries() -> dict[str, Callable[[], object]]:
    """Per page, everything it queries on a first visit with its filters' defaults."""
    first, last = queries.data_range()
    as_of = queries.headline().as_of_date.date()
    categories, segments, devices = queries.categories(), queries.segments(), queries.devices()
    ops = has_ops()

    def shared() -> None:  # the as-of caption and the date range every page starts with
        queries.headline()
        queries.data_range()

    funnel = funnel_mart_queries(devices, first, last, as_of)
    return {
        "Executive": lambda: (
            shared(),
            queries.totals(first, last),
            queries.revenue_trend(as_of),
            queries.daily_orders(as_of),
            queries.top_categories(first, last),
        ),
        "Product Performance": lambda: (
            shared(),
            queries.categories(),
            queries.top_products(categories),
            queries.category_performance(categories, first, last),
            queries.rating_vs_sales(categories),
            queries.slow_movers(categories),
        ),
        "Customer Analytics": lambda: (
            queries.headline(),
            queries.segments(),
            queries.customers_by_tier(segments),
            queries.win_back(segments),
            queries.customers_by("lifetime_value_band", segments, queries.LIFETIME_VALUE_BANDS),
            queries.customers_by("spend_segment", segments, queries.SPEND_SEGMENTS),
            queries.top_customers(segments),
            queries.customers_by("order_frequency_band", segments, queries.ORDER_FREQUENCY_BANDS),
        ),
        "Funnel Analysis": lambda: (shared(), queries.devices(), funnel()),
        "Data Health": lambda: (
            queries.headline(),
            queries.rows_per_model(),
            ops
            and (
                queries.pipeline_runs(),
                queries.gate_summary(),
                queries.gate_checks(),
                queries.source_freshness(),
                queries.ingestion(),
            ),
        ),
    }


def timed(run: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each run on an empty query cache."""
    timings = []
    for _ in range(repeat):
        clear_cache()
        began = time.perf_counter()
        run()
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


# --- the HUGEINT baseline -------------------------------------------------------------------

FUNNEL_MARTS = ("funnel_daily", "funnel_hourly")
NOT_SUMS = ("_id", "_key", "_hour")  # integer columns that are not additive


def sum_types(warehouse: Path) -> dict[str, int]:
    """How many integer columns of the Funnel marts are BIGINT and how many HUGEINT."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            f"""
            select data_type, count(*) from duckdb_columns()
            where table_name in ({", ".join("?" for _ in FUNNEL_MARTS)})
              and data_type in ('BIGINT', 'HUGEINT')
            group by 1
            """,
            list(FUNNEL_MARTS),
        ).fetchall()
    return dict(rows)


def hugeint_copy(warehouse: Path, target: Path) -> None:
    """The Funnel marts with every additive integer column cast to HUGEINT."""
    with duckdb.connect(str(target)) as copy:
        quoted = str(warehouse).replace("'", "''")
        copy.execute(f"attach '{quoted}' as published (read_only)")
        for table in FUNNEL_MARTS:
            columns = copy.execute(
                """
                select column_name, data_type from duckdb_columns()
                where database_name = 'published' and table_name = ? order by column_index
                """,
                [table],
            ).fetchall()
            select = ", ".join(
                f'"{name}"::hugeint as "{name}"'
                if kind in ("BIGINT", "INTEGER") and not name.endswith(NOT_SUMS)
                else f'"{name}"'
                for name, kind in columns
            )
            copy.execute(f"create table {table} as select {select} from published.{table}")


@contextmanager
def warehouse_at(path: Path) -> Iterator[None]:
    """The app's queries read `path` for the duration (LAKEHOUSE_WAREHOUSE_PATH)."""
    before = os.environ.get("LAKEHOUSE_WAREHOUSE_PATH")
    os.environ["LAKEHOUSE_WAREHOUSE_PATH"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LAKEHOUSE_WAREHOUSE_PATH", None)
        else:
            os.environ["LAKEHOUSE_WAREHOUSE_PATH"] = before
        clear_cache()


@dataclass(frozen=True)
class Baseline:
    bigint_ms: list[float]
    hugeint_ms: list[float]
    types: dict[str, int]


def hugeint_baseline(warehouse: Path, repeat: int) -> Baseline:
    first, last = queries.data_range()
    as_of = queries.headline().as_of_date.date()
    run = funnel_mart_queries(queries.devices(), first, last, as_of)
    published = timed(run, repeat)
    with tempfile.TemporaryDirectory(prefix="app-bench-") as folder:
        copy = Path(folder) / "hugeint.duckdb"
        hugeint_copy(warehouse, copy)
        with warehouse_at(copy):
            hugeint = timed(run, repeat)
    return Baseline(published, hugeint, sum_types(warehouse))


# --- the page's script run by Streamlit -----------------------------------------------------

ROOT = "page"
PARTS = ("figures", "vega_lite_chart", "tables", "cache hits", "settings")


@dataclass
class Clock:
    """Milliseconds spent in each part during one script run, exclusive of the parts called
    inside it (a query's settings load counts as settings, not as a cache hit); `whole` keeps
    each part's inclusive time."""

    spent: dict[str, float] = field(default_factory=dict)
    whole: dict[str, float] = field(default_factory=dict)
    stack: list[str] = field(default_factory=list)

    def wrap(self, part: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed_call(*args: object, **kwargs: object) -> object:
            if part != ROOT and not self.stack:  # outside the page script (the entry script)
                return function(*args, **kwargs)
            self.stack.append(part)
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - began) * 1000
                self.stack.pop()
                self.spent[part] = self.spent.get(part, 0.0) + elapsed
                self.whole[part] = self.whole.get(part, 0.0) + elapsed
                if self.stack:
                    parent = self.stack[-1]
                    self.spent[parent] = self.spent.get(parent, 0.0) - elapsed

        return timed_call


@contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """Time the page script and its parts (module attributes the pages look up per call)."""
    import streamlit
    from streamlit.navigation.page import StreamlitPage

    from app import charts, data, layout

    patches = [
        (StreamlitPage, "run", clock.wrap(ROOT, StreamlitPage.run)),
        (streamlit, "vega_lite_chart", clock.wrap("vega_lite_chart", streamlit.vega_lite_chart)),
        (layout, "table", clock.wrap("tables", layout.table)),
        (queries, "query", clock.wrap("cache hits", queries.query)),
        (data, "warehouse_path", clock.wrap("settings", data.warehouse_path)),
        *[
            (charts, name, clock.wrap("figures", getattr(charts, name)))
            for name in ("monthly_trend", "bars", "bubbles", "funnel", "rates", "panels")
        ],
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


@dataclass(frozen=True)
class Render:
    uncached_ms: float  # the page script on an empty query cache
    cached_ms: list[float]  # the page script, every query a cache hit
    parts_ms: dict[str, float]  # median per part over the cached runs
    apptest_ms: float  # AppTest.run() of a cached run: the page script plus the entry
    # script (set_page_config, st.navigation) and AppTest's own thread and message handling
    titles: list[str]  # what the page shows: metric labels and card titles
    charts: int
    tables: int


def render(spec: PageSpec, repeat: int) -> Render:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ENTRYPOINT), default_timeout=300)
    app.run()  # the default page (Executive): imports, the first run's fixed costs
    if spec.slug != "executive":
        app.switch_page(f"views/{spec.slug}.py")
        app.run()
    _check(app, spec)

    def one_run() -> tuple[Clock, float]:
        clock = Clock()
        with instrumented(clock):
            began = time.perf_counter()
            app.run()
            whole = (time.perf_counter() - began) * 1000
        _check(app, spec)
        return clock, whole

    clear_cache()
    uncached, _ = one_run()
    runs = [one_run() for _ in range(repeat)]
    parts = {part: p50([clock.spent.get(part, 0.0) for clock, _ in runs]) for part in PARTS}
    parts["rest"] = p50([clock.spent[ROOT] for clock, _ in runs])
    parts[ROOT] = p50([clock.whole[ROOT] for clock, _ in runs])
    # a headline's label may end in a figure of the filters ("Average order value (4,535
    # revenue orders)"): the fixed start is what every state of the page shows
    titles = [re.sub(r" \(.*\)$", "", metric.label) for metric in app.metric]
    titles += [title.value for title in app.subheader]
    return Render(
        uncached_ms=uncached.whole[ROOT],
        cached_ms=[clock.whole[ROOT] for clock, _ in runs],
        parts_ms=parts,
        apptest_ms=p50([whole for _, whole in runs]),
        titles=titles,
        charts=len(app.get("vega_lite_chart")),
        tables=len(app.dataframe),
    )


def _check(app: object, spec: PageSpec) -> None:
    errors = [exception.message for exception in app.exception] + [e.value for e in app.error]
    if errors:
        raise RuntimeError(f"{spec.name}: {errors}")
    if not app.title or app.title[0].value != spec.name:
        shown = app.title[0].value if app.title else None
        raise RuntimeError(f"expected the {spec.name} page, got {shown}")


# --- the report -----------------------------------------------------------------------------


def browser_render(total: float, marks: dict[str, float], script: float) -> float | None:
    """What is left of a visit once the frontend is loaded and the server's script has run:
    the browser receiving and drawing the page (Vega's and the data grid's JavaScript,
    charts, tables)."""
    if "connected" not in marks:
        return None
    return total - marks["connected"] - script


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "—"
    return "met" if value <= target else "**not met**"


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.machine()}, {cores} cores, {platform.system()}, Python {sys.version.split()[0]}"
    )


def report(
    header: list[str],
    query_ms: dict[str, list[float]],
    renders: dict[str, Render],
    visits: dict[str, list] | None,
    baseline: Baseline | None,
    browser_note: str,
) -> str:
    lines = [SECTION, "", *header, ""]
    lines += [
        "| page | queries p50 ms | queries p95 ms | uncached render ms | cached render ms "
        "| figures ms | vega_lite_chart ms | tables ms | cache hits ms | settings ms | rest ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, timings in query_ms.items():
        done = renders.get(name)
        if done is None:
            cells = ["—"] * 8
        else:
            parts = done.parts_ms
            cells = [
                ms(done.uncached_ms),
                ms(parts["page"]),
                *[ms(parts[part]) for part in PARTS],
                ms(parts["rest"]),
            ]
        lines.append(f"| {name} | {ms(p50(timings))} | {ms(p95(timings))} | {' | '.join(cells)} |")
    lines += [
        "",
        "- queries: the page's queries one after another on an empty cache (DuckDB, pandas).",
        "- render: the page's script run by Streamlit (AppTest, in-process), p50; cached = every "
        "query a cache hit. Its parts: figures = building the Vega-Lite specs and their rows "
        "(app.charts); vega_lite_chart = `st.vega_lite_chart` serialising them; tables = "
        "`st.dataframe` and its download button (the CSV is written on click); cache hits = "
        "`app.data.query` on a warm cache (the file stat, `st.cache_data` hashing the arguments "
        "and returning a copy of the frame); settings = the warehouse path behind each query "
        "(settings parsed once per environment); "
        "rest = the page's other Streamlit elements (titles, metrics, captions, widgets) and "
        "code. Each part excludes the parts it calls.",
    ]
    if renders:
        apptest = ", ".join(f"{name} {ms(done.apptest_ms)}" for name, done in renders.items())
        lines.append(
            "- a whole cached `AppTest.run()` (adds the entry script, st.navigation and AppTest's "
            f"own message handling), ms: {apptest}."
        )
    lines.append("")
    if visits:
        lines += [
            "| page | first visit p50 ms | max ms | frontend ms | server script ms "
            "| browser render ms | filter change p50 ms | max ms | server script ms "
            "| return visit p50 ms | frontend ms | server script ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, page_visits in visits.items():

            def median(values: list[float | None]) -> str:
                present = [value for value in values if value is not None]
                return ms(p50(present)) if present else ms(None)

            changes = [one.filter_change_ms for one in page_visits if one.filter_change_ms]
            cells = [
                median([one.first_visit_ms for one in page_visits]),
                ms(max(one.first_visit_ms for one in page_visits)),
                median([one.milestones.get("connected") for one in page_visits]),
                median([one.server_ms["first"] for one in page_visits]),
                median(
                    [
                        browser_render(one.first_visit_ms, one.milestones, one.server_ms["first"])
                        for one in page_visits
                    ]
                ),
                median(changes),
                ms(max(changes) if changes else None),
                median([one.server_ms.get("change") for one in page_visits]),
                median([one.return_visit_ms for one in page_visits]),
                median([one.return_milestones.get("connected") for one in page_visits]),
                median([one.server_ms["return"] for one in page_visits]),
            ]
            lines.append(f"| {name} | {' | '.join(cells)} |")
        lines += [
            "",
            "- first visit: headless Chromium, a fresh server per visit started as `lakehouse "
            "serve` starts it (`python -m app.serve`: before it listens, the pages' modules "
            "imported and every page run once with its default filters, so their queries are "
            "cached) and a fresh browser context (the frontend downloaded), from the request to "
            "every card title, chart and table drawn "
            "with Streamlit's script state back to not running. It adds up as frontend = from "
            "the navigation's start to the websocket connected (HTML, Streamlit's JavaScript, "
            "the session); server script = the script run timed inside the server (the "
            "outermost `StreamlitPage.run`: the page's first compile in a session, the "
            "cache lookups, the figures, the elements); browser render = the rest "
            "(the browser receiving and drawing the page: Vega's and the data grid's JavaScript, "
            "the charts, the tables).",
            "- filter change: the first of the page's choice pills picked (none at first: every "
            "option; Executive: the date range's start a year later) from the click that picks "
            "it or commits the date to the rerun's end, every chart on the page redrawn; its "
            "queries are new to the cache. Data Health has no filter.",
            "- return visit: then a new tab in the same browser context (the browser's cache kept, "
            "a new Streamlit session) on the same server (modules imported, the default "
            "filters' queries cached).",
            "",
        ]
    else:
        lines += [f"- browser: {browser_note}", ""]
    lines += ["### Targets", "", "| page | what | measured | target | |", "|---|---|---:|---:|---|"]
    for name in query_ms:
        page_visits = (visits or {}).get(name)
        firsts = [one.first_visit_ms for one in page_visits] if page_visits else []
        changes = [one.filter_change_ms for one in page_visits or [] if one.filter_change_ms]
        measured = {
            "first visit": p50(firsts) if firsts else None,
            "filter change": p50(changes) if changes else None,
            "cached render": renders[name].parts_ms["page"] if name in renders else None,
        }
        for what, target in TARGETS.items():
            value = measured[what]
            lines.append(
                f"| {name} | {what} | {ms(value)} | ≤ {target:,.0f} ms | {verdict(value, target)} |"
            )
    lines += ["", "### Baselines (same run)", ""]
    if baseline:
        bigint, hugeint = p50(baseline.bigint_ms), p50(baseline.hugeint_ms)
        types = ", ".join(f"{count} {kind}" for kind, count in sorted(baseline.types.items()))
        lines.append(
            f"- Funnel mart queries (event types, devices, hourly, daily), p50: published "
            f"warehouse {ms(bigint)} ms vs a copy whose sums are HUGEINT {ms(hugeint)} ms: "
            f"**{hugeint / bigint:.1f}×** (published funnel marts' integer columns: {types})."
        )
    for name, done in renders.items():
        cached = done.parts_ms["page"]
        lines.append(
            f"- {name} render: cached {ms(cached)} ms vs uncached {ms(done.uncached_ms)} ms "
            f"(**{cached / done.uncached_ms:.0%}**); figures + vega_lite_chart "
            f"{(done.parts_ms['figures'] + done.parts_ms['vega_lite_chart']) / cached:.0%} "
            "of the cached render."
        )
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Put the section in the markdown file: in place of the previous one, else before a
    `---` rule (what follows it is another sitting), else at the end."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    if SECTION in lines:
        start = lines.index(SECTION)
        end = next(
            (
                index
                for index in range(start + 1, len(lines))
                if lines[index].startswith("## ") or lines[index] == "---"
            ),
            len(lines),
        )
        kept = [*lines[:start], *section.rstrip("\n").splitlines(), "", *lines[end:]]
    elif "---" in lines:
        rule = lines.index("---")
        kept = [*lines[:rule], *section.rstrip("\n").splitlines(), "", *lines[rule:]]
    else:
        kept = [*lines, "", *section.rstrip("\n").splitlines()]
    path.write_text(re.sub(r"\n{3,}", "\n\n", "\n".join(kept).rstrip("\n") + "\n"))


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="query runs per page")
    parser.add_argument("--render-repeat", type=int, default=10, help="cached renders per page")
    parser.add_argument(
        "--browser-repeat", type=int, default=3, help="first visits per page (fresh servers)"
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the headless browser")
    parser.add_argument(
        "--pages", nargs="+", choices=[spec.slug for spec in PAGES], help="default: all"
    )
    parser.add_argument(
        "--browser-pages",
        nargs="+",
        choices=[spec.slug for spec in PAGES],
        help="pages visited in the browser (default: those of --pages)",
    )
    parser.add_argument("--output", type=Path, help="write the Dashboards section here")
    args = parser.parse_args(argv)

    settings = load_settings()
    warehouse = settings.storage.warehouse_path
    if not warehouse.exists():
        raise SystemExit(f"no published warehouse at {warehouse}: run `lakehouse run` first")
    specs = [spec for spec in PAGES if not args.pages or spec.slug in args.pages]
    orders = queries.totals(*queries.data_range()).orders
    scale = f"scale factor {settings.world.scale_factor:g}, {orders:,.0f} orders"
    header = [
        f"Written by `python -m tests.bench.dashboards` on {dt.date.today():%Y-%m-%d}.",
        "",
        f"- Warehouse: `{warehouse}` ({scale})",
        f"- Machine: {machine()}, load average {os.getloadavg()[0]:.1f} at the start",
        f"- Versions: Streamlit {_version('streamlit')} (Vega-Lite charts), "
        f"DuckDB {duckdb.__version__}",
    ]
    print("\n".join(header[2:]), flush=True)

    everything = page_queries()
    query_ms = {spec.name: timed(everything[spec.name], args.repeat) for spec in specs}
    print("queries timed", flush=True)
    baseline = hugeint_baseline(warehouse, args.repeat)
    renders = {spec.name: render(spec, args.render_repeat) for spec in specs}
    print("renders timed", flush=True)

    visits, note = None, ""
    if args.no_browser:
        note = "skipped (--no-browser)"
    else:
        from tests.bench import browser as bench_browser

        try:
            bench_browser.browser_path()
        except bench_browser.NoBrowser as error:
            note = f"skipped: {error}"
            print(note, file=sys.stderr)
        else:
            pages = {
                spec.name: (
                    "" if spec.slug == "executive" else spec.slug,
                    bench_browser.Expected(
                        renders[spec.name].titles,
                        renders[spec.name].charts,
                        renders[spec.name].tables,
                    ),
                )
                for spec in specs
                if not args.browser_pages or spec.slug in args.browser_pages
            }
            visits = bench_browser.measure(pages, args.browser_repeat)
            print("browser timed", flush=True)

    header[3] += f", {os.getloadavg()[0]:.1f} at the end"
    text = report(header, query_ms, renders, visits, baseline, note)
    print(text)
    if args.output:
        write_section(args.output, text)
        print(f"wrote the {SECTION[3:]} section of {args.output}")
    return text


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()

"""The browser half of `python -m tests.bench.dashboards`: `streamlit run` headless, timed in
Chromium.

Each page's first visit is timed on a fresh server (its own process, started as `lakehouse
serve` starts it: the app's modules imported and every page run once with its default
filters before it listens, as after a restart or a deploy), in a fresh browser context (the
browser's cache empty). The page is drawn when Streamlit's script state is back to "not running", no
element is stale, every card title the page shows is in the page, and every chart (its marks)
and table has been drawn. A filter change then picks the first of the page's choice pills (none
at first, meaning every option; the Executive page has none: its date range starts a year
later instead) and is timed from the click to the end of the rerun it starts, charts
redrawn.

The browser is the system's: LAKEHOUSE_BROWSER_PATH, else /usr/bin/chromium. It is never
downloaded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.serve import options, wait_until_healthy
from flows.runtime.prefect_server import stop_server

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "app" / "streamlit_app.py"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 120_000

# Milestones of a visit, in ms since the navigation started (performance.now()): the app's
# shell in the page, the websocket connected, the first script run started and ended.
MILESTONES = """
window.__bench = {};
const poll = setInterval(() => {
  const marks = window.__bench;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return;
  const now = performance.now();
  marks.shell ??= now;
  if (app.getAttribute('data-test-connection-state') === 'CONNECTED') marks.connected ??= now;
  const state = app.getAttribute('data-test-script-state');
  if (state === 'running') marks.running ??= now;
  if (marks.running !== undefined && state === 'notRunning') {
    marks.finished ??= now;
    clearInterval(poll);
  }
}, 2);
"""
# Drawn: the script has finished, nothing is stale, and what the page shows is all there.
DRAWN = """
([titles, charts, tables, since]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (since !== null && !(window.__benchRuns || []).some((t) => t > since)) return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  const text = document.body.innerText;
  if (!titles.every((title) => text.includes(title))) return false;
  const plots = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  if (plots.length < charts) return false;
  if (!plots.every((plot) => plot.querySelector('svg .role-mark > path'))) return false;
  const grids = document.querySelectorAll('[data-testid="stDataFrame"] canvas');
  if (grids.length < tables) return false;
  window.__benchDrawn = performance.now();
  return true;
}
"""
# Records when each script run starts, so a rerun is told from the state before it.
WATCH_RUNS = """
() => {
  window.__benchRuns = [];
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') {
      window.__benchRuns.push(performance.now());
    }
  }).observe(app, { attributes: true, attributeFilter: ['data-test-script-state'] });
  return performance.now();
}
"""


class NoBrowser(RuntimeError):
    """No Chromium at LAKEHOUSE_BROWSER_PATH or /usr/bin/chromium, or no Playwright."""


def browser_path() -> str:
    path = os.environ.get("LAKEHOUSE_BROWSER_PATH", "/usr/bin/chromium")
    if not Path(path).exists():
        raise NoBrowser(
            f"no browser at {path}: install Debian's chromium or set LAKEHOUSE_BROWSER_PATH "
            "(or run with --no-browser)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        raise NoBrowser(
            "Playwright is not installed (pip install -e '.[test]'), or run with --no-browser"
        ) from error
    return path


@dataclass(frozen=True)
class Expected:
    """What a page shows once drawn (taken from a script run of the same page)."""

    titles: list[str]
    charts: int
    tables: int


@dataclass(frozen=True)
class Visit:
    first_visit_ms: float  # fresh server and browser context: request to page drawn
    milestones: dict[str, float]  # of the first visit, ms from the navigation's start
    filter_change_ms: float | None  # None: the page has no filter
    return_visit_ms: float  # a new tab of the same context on the same server: caches warm
    return_milestones: dict[str, float]
    server_ms: dict[str, float]  # the page script's run in the server: first, change, return


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# `python -m app.serve` (`lakehouse serve`: the pages' modules imported before it listens),
# with each script run timed in the server and appended to the file named by the first
# argument, in ms: Streamlit runs the entry script (app/streamlit_app.py) as a page, which runs
# the chosen page, so the outermost `StreamlitPage.run` is the whole run.
TIMED_SERVER = r"""
import sys, threading, time
from streamlit.navigation.page import StreamlitPage
log, sys.argv = sys.argv[1], ["streamlit", *sys.argv[2:]]
untimed, depth = StreamlitPage.run, threading.local()
def run(self):
    depth.value = getattr(depth, "value", 0) + 1
    began = time.perf_counter()
    try:
        return untimed(self)
    finally:
        depth.value -= 1
        if not depth.value:
            with open(log, "a") as out:
                out.write(f"{(time.perf_counter() - began) * 1000}\n")
StreamlitPage.run = run
from app.serve import warm_pages, warm_up
warm_up()  # as `lakehouse serve` (app/serve.py) does before it listens
warm_pages()
open(log, "w").close()  # the warm-up's runs are not a visitor's
from streamlit.web.cli import main
main(prog_name="streamlit")
"""


@dataclass(frozen=True)
class Server:
    url: str
    timings: Path  # the page script runs, one line each

    def script_runs(self) -> list[float]:
        text = self.timings.read_text() if self.timings.exists() else ""
        return [float(line) for line in text.splitlines()]


@contextmanager
def streamlit_server() -> Iterator[Server]:
    """`streamlit run app/streamlit_app.py` headless on a free loopback port, each page script
    run timed in the server."""
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="app-bench-server-"))
    timings = folder / "script-runs.tsv"
    command = [sys.executable, "-c", TIMED_SERVER, str(timings), "run", str(ENTRYPOINT)]
    command += options(port)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_healthy(url, process)
            except RuntimeError as error:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{error}:\n{tail}") from None
            yield Server(url, timings)
        finally:
            stop_server(process)
            timings.unlink(missing_ok=True)
            folder.rmdir()


def _change_filter(page: object) -> Callable[[], None] | None:
    """Prepare one sidebar filter change: the action that commits it, None when no filter.

    Choice pills (none picked: every option): pick the first, which commits it. Otherwise the
    date range (Executive):
    its start moved one year later with the keyboard, committed when the field loses focus, as
    a user's click elsewhere does.
    """
    sidebar = page.locator('[data-testid="stSidebar"]')
    pills = sidebar.locator('[data-testid="stButtonGroup"] button')
    if pills.count():
        return pills.first.click  # a pick commits at once
    start_year = sidebar.locator('[role="spinbutton"][aria-label="year, Date range start date"]')
    if start_year.count():
        start_year.press("ArrowUp")
        return page.locator("h1").first.click
    return None


def _open(context: object, url: str, expected: Expected) -> tuple[object, float]:
    """A new tab opening the page: the tab and ms from the request to the page drawn."""
    page = context.new_page()
    page.add_init_script(MILESTONES)
    arguments = [expected.titles, expected.charts, expected.tables, None]
    began = time.perf_counter()
    page.goto(url)
    page.wait_for_function(DRAWN, arg=arguments, polling="raf", timeout=TIMEOUT_MS)
    drawn = (time.perf_counter() - began) * 1000
    _check_no_error(page, url)
    return page, drawn


def _last_run(server: Server, count: int) -> float:
    """The server's time for the visit's count-th script run (waits for its line)."""
    deadline = time.monotonic() + 10
    while len(runs := server.script_runs()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    if len(runs) != count:
        raise RuntimeError(f"expected {count} script runs in the server, saw {len(runs)}")
    return runs[-1]


def _milestones(page: object) -> dict[str, float]:
    return page.evaluate("({...window.__bench, drawn: window.__benchDrawn})")


def visit(browser: object, server: Server, url: str, expected: Expected) -> Visit:
    """On a fresh server, in a fresh browser context: the first visit and a filter change, then
    a return visit (a new tab: a new Streamlit session, the browser's cache kept)."""
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    try:
        page, first = _open(context, url, expected)
        marks = _milestones(page)
        runs = {"first": _last_run(server, 1)}
        change = None
        commit = _change_filter(page)
        if commit is not None:
            since = page.evaluate(WATCH_RUNS)
            # one option chosen may leave a card with "No data" instead of its chart or table:
            # every card title, and every chart the page now has drawn, no element stale
            arguments = [expected.titles, 0, 0, since]
            began = time.perf_counter()
            commit()
            page.wait_for_function(DRAWN, arg=arguments, polling="raf", timeout=TIMEOUT_MS)
            change = (time.perf_counter() - began) * 1000
            _check_no_error(page, url)
            runs["change"] = _last_run(server, 2)
        page.close()
        page, again = _open(context, url, expected)
        runs["return"] = _last_run(server, len(runs) + 1)
        return Visit(first, marks, change, again, _milestones(page), runs)
    finally:
        context.close()


def _check_no_error(page: object, url: str) -> None:
    text = page.inner_text("body")
    for marker in ("Traceback", "could not be drawn", "This app has encountered an error"):
        if marker in text:
            raise RuntimeError(f"{url} shows an error: {marker}")


def measure(pages: dict[str, tuple[str, Expected]], repeat: int) -> dict[str, list[Visit]]:
    """Per page name: `repeat` visits, each on a fresh server. pages: name -> (slug, expected)."""
    from playwright.sync_api import sync_playwright

    executable = browser_path()
    visits: dict[str, list[Visit]] = {name: [] for name in pages}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=BROWSER_ARGS
        )
        try:
            for _ in range(repeat):
                for name, (slug, expected) in pages.items():
                    print(f"  {name}: a first visit and a filter change", flush=True)
                    with streamlit_server() as server:
                        url = f"{server.url}/{slug}"
                        visits[name].append(visit(browser, server, url, expected))
        finally:
            browser.close()
    return visits

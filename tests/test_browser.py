"""The dashboards in a real browser: `streamlit run` on a free port, headless Chromium.

The unit tests (tests/test_app.py) check the figures the pages build; only a browser shows what
Vega-Lite and Streamlit then draw: a category on a numeric axis is silently dropped, a
headline figure too wide for its column is cut with an ellipsis. So every page is opened at 1280
and 1920 px wide and checked for:

- every card title (tests/conftest.py PAGE_CARDS);
- every data point of every chart drawn (test_every_chart_draws_all_its_points);
- no error text, no "nan"/"None" leaking into what the reader sees;
- headline figures (st.metric) shown whole, not ellipsized;

and a full-page screenshot of each goes to test-output/screenshots/<page>-<width>.png (CI uploads
that folder).

The browser is the system's (Debian's chromium, installed by .ci/run); set
LAKEHOUSE_BROWSER_PATH to use another (GitHub's runners: google-chrome).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from app.serve import options, wait_until_healthy
from tests.bench.browser import BROWSER_ARGS
from tests.conftest import PAGE_CARDS, REPO, Built

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = REPO / "test-output" / "screenshots"
WIDTHS = (1280, 1920)  # a laptop and a desktop screen
LOAD_TIMEOUT_MS = 60_000  # a page's run plus the lazily loaded chart and grid code, on 2 busy cores
# Text that must never reach the reader. Case-sensitive words with word boundaries, so
# "Nonetheless" or "nanosecond" pass; "$nan" is caught by \bnan\b ($ is not a word character)
# and any *Error exception name ("ValueError") by \w*Error.
BAD_WORDS = re.compile(r"\b(?:nan|NaN|None|Traceback|\w*Error)\b")
BAD_PHRASES = ("could not be drawn", "This app has encountered an error")


def browser_path() -> str:
    path = os.environ.get("LAKEHOUSE_BROWSER_PATH", "/usr/bin/chromium")
    if not Path(path).exists():
        raise RuntimeError(
            f"no browser at {path}: install Debian's chromium (.ci/run does) "
            "or set LAKEHOUSE_BROWSER_PATH"
        )
    return path


@contextmanager
def dashboard(environment: dict[str, str]) -> Iterator[str]:
    """The dashboards started as `lakehouse serve` starts them, on a free loopback port: its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "app.serve", *options(port)]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
    except RuntimeError:
        process.kill()
        raise
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(built: Built) -> Iterator[str]:
    """One server for the module, on the session build's warehouse."""
    with dashboard(built.environment) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module; each page visit opens its own tab."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=browser_path(),
            headless=True,
            args=BROWSER_ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


# Settled: the script run is over (Streamlit's running indicator is gone), no element is still a
# loading skeleton (charts and tables load their code lazily), every chart has drawn its marks,
# and nothing has moved for a few polls (Streamlit sizes a chart to its column, then Vega
# redraws).
SETTLED = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testScriptState !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  if (!document.querySelector('[data-testid="stHeading"]')) return false;
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  if (!charts.every(chart => chart.querySelector('svg .role-mark'))) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  const signature = JSON.stringify([
    main ? main.scrollHeight : 0,
    charts.map(chart => {
      const svg = chart.querySelector('svg');
      return [svg.getAttribute('width'), svg.getAttribute('height'),
              chart.querySelectorAll('.role-mark > path').length];
    }),
  ]);
  if (window.__settledSignature === signature) window.__settledPolls += 1;
  else { window.__settledSignature = signature; window.__settledPolls = 0; }
  return window.__settledPolls >= 3;
}
"""


@dataclass(frozen=True)
class Visit:
    """One page, loaded and settled in its own tab at one width."""

    name: str  # PAGE_CARDS key
    width: int
    page: object  # playwright.sync_api.Page

    @property
    def label(self) -> str:
        return f"{self.name} page at {self.width} px"


def settle(page: object) -> None:
    page.wait_for_function(SETTLED, timeout=LOAD_TIMEOUT_MS, polling=250)


@pytest.fixture(
    scope="module",
    params=[(name, width) for name in PAGE_CARDS for width in WIDTHS],
    ids=lambda param: f"{param[0]}-{param[1]}",
)
def visit(request: pytest.FixtureRequest, server: str, browser: object) -> Iterator[Visit]:
    """Each page at each width, loaded once for all the checks on it (pytest groups the tests
    by this module-scoped parameter, so one tab is open at a time), with its screenshot taken
    before any check, so a failing page still leaves its picture.

    Streamlit scrolls inside its main block, not the document, so a full-page screenshot shows
    only the viewport: the viewport is made as tall as the content instead.
    """
    name, width = request.param
    page = browser.new_page(viewport={"width": width, "height": 1000})
    try:
        page.goto(f"{server}/{'' if name == 'executive' else name}")
        try:
            settle(page)
            height = page.evaluate(
                "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
            )
            page.set_viewport_size({"width": width, "height": max(1000, height)})
            settle(page)
        finally:  # a page that never settles leaves its picture too
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        yield Visit(name, width, page)
    finally:
        page.close()


def test_every_card_title_is_shown(visit: Visit) -> None:
    """Every card of PAGE_CARDS has its title on the page (a card that errors or vanishes)."""
    text = visit.page.inner_text("body")
    missing = [title for title in PAGE_CARDS[visit.name] if title not in text]
    assert not missing, f"{visit.label}: card titles not shown: {missing}"


def test_no_error_or_missing_value_text(visit: Visit) -> None:
    """No error, stack trace or missing value (nan, None, $nan) in what the reader sees.

    Read: the page's visible text, every chart's SVG text (tick labels, axis titles, legends),
    and the tables' cells. st.dataframe draws its cells on a canvas, so they are not in the
    page's text; the grid keeps a hidden accessibility table of the cells it has drawn, which is
    read instead: only the rows and columns in view (a wide table shows more columns at 1920 px
    than at 1280). It leaves a null cell empty where the canvas shows a grey "None", so nulls in
    tables are not caught here (tests/test_app.py checks the frames behind the tables).
    """
    text = visit.page.inner_text("body")
    chart_text = visit.page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg text')]"
        ".map(node => node.textContent).join('\\n')"
    )
    table_cells = visit.page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=\"stDataFrame\"] table td')]"
        ".map(node => node.textContent).join('\\n')"
    )
    found = []
    sources = (("page text", text), ("chart text", chart_text), ("table cell", table_cells))
    for where, content in sources:
        for line in content.splitlines():
            if BAD_WORDS.search(line) or any(phrase in line for phrase in BAD_PHRASES):
                found.append(f"{where}: {line.strip()[:160]!r}")
    assert not found, f"{visit.label} shows error or missing-value text:\n" + "\n".join(found)


# For each chart (in page order, named by the card title above it): its points Vega drew, and
# where. A point is one element of a bar or point mark (`g.role-mark.mark-rect > path`,
# `.mark-symbol > path`; a line's points are its point marks; text labels and legends are not
# points). Drawn means its coordinates are numbers (Vega writes NaN for a value its scale
# cannot place) and its middle lies inside its view's plot area (the view's background
# rectangle, 1 px slack). A bar of value 0 has no height but has its place, so it counts.
DRAWN_POINTS = """
() => {
  const headings = [...document.querySelectorAll('[data-testid="stHeading"]')];
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  return charts.map((chart, chartIndex) => {
    const title = headings
      .filter(h => h.compareDocumentPosition(chart) & Node.DOCUMENT_POSITION_FOLLOWING)
      .map(h => h.innerText.trim()).pop() || '';
    const points = [...chart.querySelectorAll(
      'g.role-mark.mark-rect > path, g.role-mark.mark-symbol > path')];
    const misplaced = [];
    let drawn = 0;
    for (const point of points) {
      const where = (point.getAttribute('d') || '') + (point.getAttribute('transform') || '');
      const view = point.closest('g.mark-group')?.querySelector(':scope > g > path.background');
      const area = view?.getBoundingClientRect();
      const box = point.getBoundingClientRect();
      const x = box.x + box.width / 2, y = box.y + box.height / 2;
      const inside = area && x >= area.left - 1 && x <= area.right + 1
        && y >= area.top - 1 && y <= area.bottom + 1;
      if (!where.includes('NaN') && Number.isFinite(x) && Number.isFinite(y) && inside) {
        drawn += 1;
      } else {
        misplaced.push(point.getAttribute('aria-label') || where.slice(0, 60));
      }
    }
    return {chart: chartIndex, title, drawn, misplaced};
  });
}
"""


def sent_points(environment: dict[str, str], name: str) -> list[int]:
    """Per chart of the page with its default filters, in page order: the rows sent to the
    browser with both positions present (a null value is no point), read from Streamlit's
    own script run of the page."""
    with mock.patch.dict(os.environ, environment):
        app = AppTest.from_file(REPO / "app" / "streamlit_app.py", default_timeout=60)
        app.run()
        app.switch_page(f"views/{name}.py")
        app.run()
    counts = []
    for element in app.get("vega_lite_chart"):
        data = convert_arrow_bytes_to_pandas_df(element.proto.data.data)
        spec = json.loads(element.proto.spec)
        view = spec["vconcat"][0] if "vconcat" in spec else spec
        encoding = view.get("encoding", {}) | view.get("layer", [{}])[0].get("encoding", {})
        positions = [encoding[axis]["field"] for axis in ("x", "y")]
        counts.append(int(data[positions].notna().all(axis=1).sum()))
    return counts


@pytest.fixture(scope="module")
def sent(built: Built) -> dict[str, list[int]]:
    return {name: sent_points(built.environment, name) for name in PAGE_CARDS}


def test_every_chart_draws_all_its_points(visit: Visit, sent: dict[str, list[int]]) -> None:
    """Every data point of every chart is drawn where its axis places it.

    An axis of the wrong type drops points without an error: labels such as "0", "1", "2-3"
    on a numeric scale, a day the time scale cannot parse. Counting the rows the page sent
    against the marks Vega placed inside its plot area catches any such drop.
    """
    charts = visit.page.evaluate(DRAWN_POINTS)
    expected = sent[visit.name]
    failures = []
    if len(charts) != len(expected):
        failures.append(f"{len(expected)} charts sent, {len(charts)} drawn")
    for chart, points in zip(charts, expected, strict=False):
        if chart["drawn"] == points and not chart["misplaced"]:
            continue
        missing = chart["misplaced"]
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if missing[10:] else "")
        failures.append(
            f"chart {chart['chart'] + 1} {chart['title']!r}: {points} data points, "
            f"{chart['drawn']} drawn" + (f"; misplaced: {shown}" if missing else "")
        )
    assert not failures, f"{visit.label}: points missing from charts:\n" + "\n".join(failures)


def test_headline_figures_are_not_cut_off(visit: Visit) -> None:
    """Each st.metric value shows whole: no element inside it is wider than its box.

    Streamlit ellipsizes a metric value too wide for its column ("$613,988…"): the reader sees
    a wrong number. The overflowing element is the value's inner markdown block, so all of the
    value's elements are measured, not only the outer one.
    """
    cut = visit.page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
        .filter(value => [value, ...value.querySelectorAll('*')]
          .some(node => getComputedStyle(node).overflowX !== 'visible'
                        && node.scrollWidth > node.clientWidth + 1))
        .map(value => {
          const box = value.querySelector('.stMarkdownEllipsis') || value;
          const label = value.closest('[data-testid="stMetric"]')
            ?.querySelector('[data-testid="stMetricLabel"]')?.innerText.trim();
          return `${label}: ${value.innerText.trim()} needs ${box.scrollWidth} px, ` +
                 `has ${box.clientWidth} px`;
        })"""
    )
    assert not cut, f"{visit.label}: headline figures cut off:\n" + "\n".join(cut)


# Each table's grid: wider than its column means a horizontal scroll bar and columns cut off.
WIDE_TABLES = """
() => {
  const headings = [...document.querySelectorAll('[data-testid="stHeading"]')];
  return [...document.querySelectorAll('[data-testid="stDataFrame"]')].map((frame, index) => {
    const title = headings
      .filter(h => h.compareDocumentPosition(frame) & Node.DOCUMENT_POSITION_FOLLOWING)
      .map(h => h.innerText.trim()).pop() || '';
    const scroller = frame.querySelector('.dvn-scroller');
    if (!scroller) return `table ${index + 1} under ${JSON.stringify(title)}: no grid drawn`;
    return scroller.scrollWidth > scroller.clientWidth + 1
      ? `table ${index + 1} under ${JSON.stringify(title)}: ${scroller.scrollWidth} px of ` +
        `columns in ${scroller.clientWidth} px` : null;
  }).filter(Boolean);
}
"""


def test_every_table_fits_its_column(visit: Visit) -> None:
    """No table needs a horizontal scroll bar: a column cut off at the edge ("Purchase eve…",
    a device's purchases out of view) is a figure the reader never sees."""
    wide = visit.page.evaluate(WIDE_TABLES)
    assert not wide, f"{visit.label}: tables wider than their column:\n" + "\n".join(wide)


def test_filters_keep_their_state_across_pages_and_in_the_url(server: str, browser: object) -> None:
    """A date range given in a link holds on the page it opens and on the next page the
    reader clicks to, and stays in the URL; the Executive page has its own path."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(f"{server}/executive?date_range=2025-10-05&date_range=2025-10-12")
        settle(page)
        assert page.inner_text("h1") == "Executive"
        assert "Page not found" not in page.inner_text("body")
        assert "2025-10-05 to 2025-10-12" in page.inner_text("body")

        page.click("[data-testid='stSidebarNav'] a >> text=Customer Analytics")
        page.wait_for_function(
            "() => document.querySelector('h1')?.innerText === 'Customer Analytics'",
            timeout=LOAD_TIMEOUT_MS,
        )
        settle(page)
        assert "Follows the date range (2025-10-05 to 2025-10-12)." in page.inner_text("body")
        page.wait_for_function(
            "() => location.search.includes('date_range=2025-10-05')", timeout=10_000
        )

        # a segment picked on Customer Analytics goes in the URL as well
        page.goto(f"{server}/customers?segments=gold")
        settle(page)
        assert "1 of" in page.inner_text("[data-testid='stSidebar']")
        assert "segments=gold" in page.url
        # one click on another pill adds it, in the caption and in the URL
        page.click("[data-testid='stSidebar'] [data-testid='stButtonGroup'] button >> text=silver")
        page.wait_for_function("() => location.search.includes('segments=silver')", timeout=10_000)
        settle(page)
        assert "2 of 4 chosen" in page.inner_text("[data-testid='stSidebar']")
        assert "segments=gold" in page.url
    finally:
        page.close()

"""Auto-refresh in a real browser: a page re-reads a newly published warehouse on its own.

The Executive page runs its body as a fragment every LAKEHOUSE_APP_REFRESH_EXECUTIVE_SECONDS;
here that is 2 s, the warehouse is replaced as `lakehouse publish` does (a rename), and the
headline changes with no click, no reload and the user's date range kept.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Built
from tests.test_browser import browser_path, dashboard

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def total_orders(page: object) -> int:
    metric = page.locator('[data-testid="stMetric"]', has_text="Total orders")
    value = metric.locator('[data-testid="stMetricValue"]').inner_text()
    return int(re.sub(r"[^0-9]", "", value))


def test_a_page_shows_a_new_publish_on_its_own(built: Built, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    folder = tmp_path / "published"
    folder.mkdir()
    published = folder / "lakehouse.duckdb"
    shutil.copyfile(built.settings.storage.warehouse_path, published)
    environment = {
        **built.environment,
        "LAKEHOUSE_WAREHOUSE_PATH": str(published),
        "LAKEHOUSE_APP_REFRESH_EXECUTIVE_SECONDS": "2",
    }
    with dashboard(environment) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_path(), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.goto(url)
        page.get_by_text("Total orders").first.wait_for(timeout=30_000)
        assert page.get_by_text("Refreshes every 2 s.").count() == 1
        before = total_orders(page)

        newer = folder / "next.duckdb"
        shutil.copyfile(built.settings.storage.warehouse_path, newer)
        with duckdb.connect(str(newer)) as warehouse:
            warehouse.execute("update daily_kpis set orders = orders + 1")
            (days,) = warehouse.execute("select count(*) from daily_kpis").fetchone()
        os.replace(newer, published)  # what publish does

        deadline = time.monotonic() + 30
        while total_orders(page) == before and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert total_orders(page) == before + days
        browser.close()

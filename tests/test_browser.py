"""The dashboards in a real browser: `streamlit run` on a free port, headless Chromium.

The browser is the system's (Debian's chromium, installed by .ci/run); set
LAKEHOUSE_BROWSER_PATH to use another (GitHub's runners: google-chrome).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PAGE_CARDS, REPO, Built

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = REPO / "test-output" / "screenshots"
PAGES = {("" if page == "executive" else page): titles for page, titles in PAGE_CARDS.items()}
ERROR_TEXT = ("Traceback", "Error", "could not be drawn", "This app has encountered an error")


def browser_path() -> str:
    path = os.environ.get("LAKEHOUSE_BROWSER_PATH", "/usr/bin/chromium")
    if not Path(path).exists():
        raise RuntimeError(
            f"no browser at {path}: install Debian's chromium (.ci/run does) "
            "or set LAKEHOUSE_BROWSER_PATH"
        )
    return path


@pytest.fixture(scope="module")
def server(built: Built) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "app" / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **built.environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("streamlit did not start within 60 s")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_every_page_shows_all_its_cards_and_no_error(server: str) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_path(),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 2200})
        seen = []
        for path, titles in PAGES.items():
            page.goto(f"{server}/{path}")
            for title in titles:
                page.get_by_text(title, exact=False).first.wait_for(timeout=30_000)
                seen.append(title)
            page.wait_for_timeout(1_500)  # let the charts draw before the screenshot
            text = page.inner_text("body")
            assert not [marker for marker in ERROR_TEXT if marker in text], path
            page.screenshot(path=str(SCREENSHOTS / f"{path or 'executive'}.png"), full_page=True)
        browser.close()
    assert len(seen) == 24  # 20 dashboard cards and 4 on the health page
    assert len(list(SCREENSHOTS.glob("*.png"))) == 5

"""`lakehouse serve`: Streamlit with the dashboards warmed before it listens.

A page's first script run in a fresh server imports pandas, DuckDB and pyarrow (about a
second), then runs its queries on an empty cache (0.2–0.4 s), while the browser waits for the
chart and table code the same busy process serves. Before it listens, the server imports them
and runs every page once with its default filters (Streamlit's own headless runner), so the
first visitor's queries are cache hits; about a second more at start. The cache is keyed on
the warehouse file, so a publish later is still seen.

    python -m app.serve [streamlit run options]
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parent / "streamlit_app.py"


def options(port: int, host: str = "127.0.0.1", headless: bool = True) -> list[str]:
    """The `streamlit run` options of every start of the dashboards (CLI, tests, bench)."""
    return [
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
    ]


def wait_until_healthy(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    """Return once Streamlit at `url` answers its health check; RuntimeError if the process
    ends or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start within {seconds:g} s")
        time.sleep(0.1)


def warm_up() -> None:
    """Import what every page imports (the script runs in this process, sharing sys.modules)."""
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401  (charts, tables and the query cache serialise through Arrow)
    from streamlit.elements import arrow, vega_charts  # noqa: F401

    from app import charts, layout, queries  # noqa: F401


PAGES = ("views/products.py", "views/customers.py", "views/funnel.py", "views/health.py")


def warm_pages() -> float:
    """Run every page once with its default filters in this process (the default page, then
    PAGES), filling the query cache the server's sessions share: seconds taken. A page that
    fails here fails the same way for its visitor, who sees why; the server starts anyway."""
    from streamlit.testing.v1 import AppTest

    began = time.perf_counter()
    try:
        app = AppTest.from_file(str(ENTRYPOINT), default_timeout=60)
        app.run()
        for page in PAGES:
            app.switch_page(page)
            app.run()
    except Exception as error:  # a warm-up, never a reason not to serve
        print(f"dashboards: pages not warmed ({type(error).__name__}: {error})", file=sys.stderr)
    # The runner read Streamlit's config before `streamlit run` adds its flags; the server
    # then warns that [server] options changed, though it starts with the flags' values.
    logging.getLogger("streamlit.config").addFilter(
        lambda record: "[server] config option section" not in record.getMessage()
    )
    return time.perf_counter() - began


def main(options: list[str]) -> None:
    from flows.settings import switch_telemetry_off

    switch_telemetry_off()
    from streamlit.web import cli

    warm_up()
    print(f"dashboards: every page run once in {warm_pages():.1f} s", file=sys.stderr)
    sys.argv = ["streamlit", "run", str(ENTRYPOINT), *options]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])

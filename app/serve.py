"""`lakehouse serve`: Streamlit with the dashboards' heavy modules imported before it listens.

A page's first script run in a fresh server imports pandas, DuckDB and Plotly (about a second);
importing them here moves that cost to the server's start, before the first visitor.

    python -m app.serve [streamlit run options]
"""

from __future__ import annotations

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
    import plotly.express
    import plotly.io
    import pyarrow  # noqa: F401  (st.dataframe and the query cache serialise through Arrow)
    from streamlit.elements import arrow, plotly_chart  # noqa: F401

    from app import charts, layout, queries  # noqa: F401

    plotly.io.to_json({"data": [], "layout": {}}, validate=False)  # its JSON engine, loaded once


def main(options: list[str]) -> None:
    from flows.settings import switch_telemetry_off

    switch_telemetry_off()
    from streamlit.web import cli

    warm_up()
    sys.argv = ["streamlit", "run", str(ENTRYPOINT), *options]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])

"""`lakehouse serve`: Streamlit with the dashboards' heavy modules imported before it listens.

A page's first script run in a fresh server imports pandas, DuckDB and Plotly (about a second);
importing them here moves that cost to the server's start, before the first visitor.

    python -m app.serve [streamlit run options]
"""

from __future__ import annotations

import sys
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parent / "streamlit_app.py"


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
    from streamlit.web import cli

    warm_up()
    sys.argv = ["streamlit", "run", str(ENTRYPOINT), *options]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])

"""Entry point: `streamlit run app/streamlit_app.py` (or `make serve`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `app` and `flows` as packages

from app.data import WarehouseMissing, warehouse_path
from flows.settings import SettingsError

st.set_page_config(page_title="E-commerce lakehouse", layout="wide")
# Headline labels wrap rather than end in "…" when five share a row at 1280 px.
st.html('<style>[data-testid="stMetricLabel"] * {white-space: normal !important;}</style>')
# Narrower side margins: the room goes to the tables and charts (Streamlit's wide layout keeps
# 5rem on each side).
st.html(
    "<style>[data-testid='stMainBlockContainer'] "
    "{padding-left: 2rem !important; padding-right: 2rem !important;}</style>"
)
# Chosen options as quiet grey chips: the theme's red reads as an error.
st.html(
    "<style>[data-testid='stSidebar'] [data-baseweb='tag'] "
    "{background-color: #e6e9ef !important; color: #262730 !important;}"
    "[data-testid='stSidebar'] [data-baseweb='tag'] svg {fill: #262730 !important;}</style>"
)

PAGES = [
    # served at / (a default page's own path is not served) and, hidden, at /executive. The
    # pages live in app/views, not app/pages: Streamlit serves a `pages` folder beside the entry
    # script as pages of its own to a first request for their path, without this script
    st.Page("views/executive.py", title="Executive", default=True, url_path="home"),
    st.Page("views/executive.py", title="Executive", url_path="executive", visibility="hidden"),
    st.Page("views/products.py", title="Product Performance"),
    st.Page("views/customers.py", title="Customer Analytics"),
    st.Page("views/funnel.py", title="Funnel Analysis"),
    st.Page("views/health.py", title="Data Health"),
]

try:
    published = warehouse_path()
except SettingsError as error:  # the CLI's one line, where the user looks
    st.error(f"error: {error}")
    st.stop()

if not published.exists():
    st.title("E-commerce lakehouse")
    st.info(f"No published warehouse at `{published}` yet: run `make run` first.")
    st.stop()

page = st.navigation(PAGES)
try:
    page.run()
except SettingsError as error:
    st.error(f"error: {error}")
except WarehouseMissing:
    st.info("The warehouse disappeared: run `make run` to publish it again.")
except Exception as error:  # a clear message, never a stack trace
    st.error(f"This page could not be drawn: {type(error).__name__}. See the server log.")
    print(f"page {page.title} failed: {error!r}", file=sys.stderr)

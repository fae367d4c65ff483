"""Entry point: `streamlit run app/streamlit_app.py` (or `make serve`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `app` and `flows` as packages

from app.data import WarehouseMissing, warehouse_path

st.set_page_config(page_title="E-commerce lakehouse", layout="wide")

pages = [st.Page("pages/executive.py", title="Executive", default=True)]

if not warehouse_path().exists():
    st.title("E-commerce lakehouse")
    st.info(f"No published warehouse at `{warehouse_path()}` yet: run `make run` first.")
    st.stop()

try:
    st.navigation(pages).run()
except WarehouseMissing:
    st.info("The warehouse disappeared: run `make run` to publish it again.")

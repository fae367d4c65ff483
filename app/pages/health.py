"""Data health: last runs, rows per model, quality results, freshness, quarantine."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from app import queries
from app.layout import as_of_caption, card, table
from flows.lake import Lake
from flows.run_log import read_runs
from flows.settings import load_settings

st.title("Data Health")
settings = load_settings()
as_of_caption()

runs = read_runs(settings)
card("Last pipeline runs")
if runs:
    last = runs[-1]
    failures = [run for run in runs if run["status"] == "failed"]
    if last["status"] == "failed":
        st.error(f"The last run failed at {last['finished_at']}: {last['detail']}")
    elif failures:
        st.warning(f"Last failure, at {failures[-1]['finished_at']}: {failures[-1]['detail']}")
    else:
        st.success(f"The last run published at {last['finished_at']}.")
    table(pd.DataFrame(runs[::-1])[["status", "finished_at", "detail"]], "pipeline_runs")
else:
    st.info("No pipeline run recorded yet.")

card("Rows per model")
table(queries.rows_per_model(), "rows_per_model")

card("Quality gate")
gate_file = settings.run_state_dir / "quality_gate.json"
if gate_file.exists():
    gate = json.loads(gate_file.read_text())
    if gate.get("lake"):
        st.error(
            "The last build was refused: the lake disagrees with its manifests — "
            + "; ".join(gate["lake"])
            + ". The next run ingests again what is missing."
        )
    checks = pd.DataFrame(gate["checks"])
    passed = int((checks.outcome == "PASSED").sum())
    st.metric("Checks passed", f"{passed} of {len(checks)}")
    table(checks, "quality_checks")
else:
    st.info("No quality gate result yet.")

card("Freshness and quarantine")
ingestion = []
lake = Lake.from_settings(settings)
for source in ("catalog", "shop", "clickstream"):
    state = lake.read_json(f"_state/{source}.json")
    if state and state.get("runs"):
        last = state["runs"][-1]
        ingestion.append(
            {
                "source": source,
                "last_ingested_at": last["finished_at"],
                "watermark": state.get("watermark", ""),
                "records_read": sum(last["records"].values()),
                "landed": sum(last["landed"].values()),
                "quarantined": sum(last["quarantined"].values()),
            }
        )
if ingestion:
    table(pd.DataFrame(ingestion), "ingestion")
else:
    st.info("No ingestion state in the lake yet.")

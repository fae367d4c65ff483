"""Data health: last runs, rows per model, quality results, freshness, quarantine.

Everything here comes from what the pipeline published: the warehouse, and the ops database
its runs rewrite as they end, failed runs included (flows/operations/ops.py). No lake, no
state files.
"""

from __future__ import annotations

import streamlit as st

from app import queries
from app.data import has_ops
from app.layout import as_of_caption, auto_refresh, card, refresh_seconds, table, timestamp

st.title("Data Health")
# what the runs table shows; its CSV has every column (flow, run name, parameters, the gate's
# one-line summary)
RUN_COLUMNS = ["state", "started_at", "window", "rows_landed", "gate", "late_data", "reason"]


def check_name(row: object) -> str:
    """contract.column.check (outcome), or contract.check for a table-level check."""
    column = row.column if isinstance(row.column, str) and row.column else ""
    return f"{row.contract}.{column + '.' if column else ''}{row.check} ({row.outcome})"


@auto_refresh("health")
def body() -> None:
    as_of_caption(refresh_seconds("health"))
    published_ops = has_ops()

    card("Last pipeline runs", "Every recorded run, newest first.")
    runs = queries.pipeline_runs() if published_ops else None
    if runs is not None and len(runs):
        last = runs.iloc[0]
        failures = runs[runs.state != "Completed"]
        if last.state != "Completed":
            st.error(
                f"The last run ({last.state}) ended at {timestamp(last.finished_at)}: {last.reason}"
            )
        else:  # a failure the runs since have put right is history, not an alarm
            st.success(f"The last run published at {timestamp(last.finished_at)}.")
            if len(failures):
                first = failures.iloc[0]
                st.caption(
                    f"The last failure ({first.state}) ended at {timestamp(first.finished_at)}; "
                    "every run since has completed."
                )
        table(runs, "pipeline_runs", shown=RUN_COLUMNS)
    else:
        st.info("No pipeline run recorded yet.")

    card("Rows per model", "The published warehouse.")
    table(queries.rows_per_model(), "rows_per_model")

    card("Quality gate", "The last build put through the gate.")
    gate = queries.gate_summary() if published_ops else None
    if gate is not None and len(gate):
        if gate.lake.iloc[0]:
            st.error(
                "The last build was refused: the lake disagrees with its manifests — "
                f"{gate.lake.iloc[0]}. The next run ingests again what is missing."
            )
        checks = queries.gate_checks()
        passed = int((checks.outcome == "PASSED").sum())
        st.metric("Checks passed", f"{passed} of {len(checks)}")
        others = checks[checks.outcome != "PASSED"]
        if len(others):  # listed first in the table too
            st.caption("Not passed: " + "; ".join(map(check_name, others.itertuples())))
        table(checks, "quality_checks")
    else:
        st.info("No quality gate result yet.")

    card("Freshness and quarantine", "As the last run measured them.")
    freshness = queries.source_freshness() if published_ops else None
    if freshness is not None and len(freshness):
        late = freshness[freshness.status != "pass"]
        for row in late.itertuples():
            st.warning(f"Source {row.source} is {row.status}: {row.note}")
        if not len(late):
            st.success(f"All {len(freshness)} sources are fresh (data age and load age).")
        table(freshness, "source_freshness")
    ingestion = queries.ingestion() if published_ops else None
    if ingestion is not None and len(ingestion):
        table(ingestion, "ingestion")
    else:
        st.info("No ingestion recorded yet.")


body()

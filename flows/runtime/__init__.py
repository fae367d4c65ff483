"""What every command runs on: the writer lock, logs and secrets, DuckDB connections, Prefect."""

"""Prefect flows, the pipeline's stages and the `lakehouse` command line."""

"""Ingestion: the three sources into the lake's raw and quarantine zones, one module per source."""

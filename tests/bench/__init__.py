"""Benchmarks, outside the product: `make bench` runs them (docs/benchmarks.md)."""

"""Benchmarks of the monitor: `python -m bench` (see bench/README.md)."""

"""Benchmarks: `make bench` prints measured numbers (see __main__.py)."""

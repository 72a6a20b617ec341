"""Benchmarks: run with `make bench-<name>` (not part of the test suite)."""

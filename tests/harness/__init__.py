"""Reusable helpers that start real daemons privately for tests and benchmarks."""

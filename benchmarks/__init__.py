"""Benchmark workloads W1-W12 (see ``python -m benchmarks -h`` and ``docs/benchmarks.md``).

Each workload runs on derivax and, when installed, on JAX, PyTorch and a hand-written NumPy
version, in the same process, and reports medians and ratios derivax/peer. Speed is never
asserted in tests; these numbers are the record.
"""

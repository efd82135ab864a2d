"""Helpers shared by scripts/bench.py and scripts/bench_knitr.py."""

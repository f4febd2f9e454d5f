"""rds_guard's benchmarks: ``python bench/run.py`` (or ``make bench``) writes docs/benchmarks.md.

Benchmarks are not tests: nothing here asserts a time. tests/test_bench_smoke.py runs every
benchmark function with tiny counts so that the harness itself keeps working.
"""

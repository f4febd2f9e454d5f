"""The pure core: policy, templates, rules, operations and decide.

Plain functions over frozen dataclasses. Nothing here imports botocore or any part of
rds_guard outside this folder; the tests hold it to that (tests/test_architecture.py).
"""

"""Fixtures shared by the audit log's tests (their helpers are in tests/audit_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """Where a test's log goes: ``audit.jsonl`` in its own temporary directory."""
    return tmp_path / "audit.jsonl"

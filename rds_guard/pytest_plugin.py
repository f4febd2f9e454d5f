"""pytest plugin: make a team's own tests fail when their code would break the snapshot policy.

Registered through the ``pytest11`` entry point, so it is active wherever rds_guard is
installed. It adds the option ``--rds-guard-policy PATH`` (ini: ``rds_guard_policy``) and two
fixtures:

- ``rds_guard_policy`` installs the policy, in its own mode, on boto3's default session for
  one test and yields the `Guard`. Only clients created after the fixture ran are guarded:
  create clients inside the test (or in a fixture that depends on this one), not at import.
- ``rds_guard_audit`` yields a callable returning the audit records (dicts) written during
  the test, in order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .guard import Guard

OPTION = "--rds-guard-policy"
INI = "rds_guard_policy"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--rds-guard-policy`` and the ``rds_guard_policy`` ini key."""
    group = parser.getgroup("rds_guard", "rds_guard snapshot policy")
    group.addoption(
        OPTION,
        dest="rds_guard_policy",
        default=None,
        metavar="PATH",
        help="policy file for the rds_guard_policy fixture"
        " (default: the ini key, then $RDS_GUARD_POLICY, then ./rds_guard.toml)",
    )
    parser.addini(INI, "policy file for the rds_guard_policy fixture", default=None)


def _policy_path(config: pytest.Config) -> str | None:
    given = config.getoption("rds_guard_policy")
    if given:
        return str(given)
    configured = config.getini(INI)
    if configured:
        return str(config.rootpath / str(configured))
    return None


class _AuditCollector(logging.Handler):
    """Collects the records a guard emits on ``rds_guard.audit``."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parsed = json.loads(record.getMessage())
        except ValueError:
            return
        if isinstance(parsed, dict):
            self.records.append(parsed)


@pytest.fixture
def rds_guard_policy(request: pytest.FixtureRequest) -> Iterator[Guard]:
    """The policy installed on boto3's default session for this test; yields the `Guard`."""
    import boto3

    from .guard import install

    session = boto3._get_default_session()
    guard = install(session, policy=_policy_path(request.config))
    try:
        yield guard
    finally:
        guard.uninstall()


@pytest.fixture
def rds_guard_audit(rds_guard_policy: Guard) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """A callable returning the audit records written during this test (dicts, in order)."""
    collector = _AuditCollector()
    audit_logger = logging.getLogger("rds_guard.audit")
    previous_level = audit_logger.level
    audit_logger.addHandler(collector)
    if audit_logger.getEffectiveLevel() > logging.INFO:
        audit_logger.setLevel(logging.INFO)
    try:
        yield lambda: list(collector.records)
    finally:
        audit_logger.removeHandler(collector)
        audit_logger.setLevel(previous_level)

"""pytest plugin: make a team's own tests fail when their code would break the snapshot policy.

Registered through the ``pytest11`` entry point. Option ``--rds-guard-policy`` (ini key
``rds_guard_policy``); fixtures ``rds_guard_policy`` (the guard on boto3's default session for
one test) and ``rds_guard_audit`` (the records written during that test); ``--rds-guard-all``
(ini ``rds_guard_autouse = true``) guards every test. See docs/integrations.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .core.policy import Policy
    from .guard import Guard

OPTION = "--rds-guard-policy"
ALL_OPTION = "--rds-guard-all"
INI = "rds_guard_policy"
AUTOUSE_INI = "rds_guard_autouse"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--rds-guard-policy``, ``--rds-guard-all`` and their ini keys."""
    group = parser.getgroup("rds_guard", "rds_guard snapshot policy")
    group.addoption(
        OPTION,
        dest="rds_guard_policy",
        default=None,
        metavar="PATH",
        help="policy file for the rds_guard_policy fixture"
        " (default: the ini key, then $RDS_GUARD_POLICY, then ./rds_guard.toml)",
    )
    group.addoption(
        ALL_OPTION,
        dest="rds_guard_all",
        action="store_true",
        default=False,
        help="guard every test, not only those that request the rds_guard_policy fixture",
    )
    parser.addini(
        INI, "policy file for the rds_guard_policy fixture, relative to the rootdir", default=None
    )
    parser.addini(AUTOUSE_INI, "guard every test (as --rds-guard-all)", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse an empty ``--rds-guard-policy`` or ini key (``--rds-guard-policy="$POLICY"``,
    ``-o rds_guard_policy=$POLICY`` with the variable unset): the fixture would quietly judge
    by another policy, found as `install` finds one. With ``--rds-guard-all`` (or
    ``rds_guard_autouse``), every test uses the guard (`_EveryTest`)."""
    given = config.getoption("rds_guard_policy")
    configured = config.getini(INI)
    if given == "" or (given is None and configured is not None and not configured.strip()):
        where = OPTION if given == "" else f"The ini key {INI}"
        raise pytest.UsageError(
            f"{where} is empty: name a policy file, or leave it out to use"
            f" {'the ini key, ' if given == '' else ''}$RDS_GUARD_POLICY or ./rds_guard.toml"
        )
    if config.getoption("rds_guard_all") or config.getini(AUTOUSE_INI):
        config.pluginmanager.register(_EveryTest(), "rds_guard_every_test")


class _EveryTest:
    """``--rds-guard-all``: the guard as an autouse fixture, which pytest sets up after the
    fixtures of a wider scope than the test's (as for a test that asks for it: a client one
    makes predates every test's guard, whichever test runs first) and before the test's own."""

    @pytest.fixture(autouse=True)
    def _rds_guard_every_test(self, rds_guard_policy: Guard) -> Guard:
        return rds_guard_policy


def policy_path(config: pytest.Config) -> Path:
    """The policy file the option or the ini key names, else the one `install` would find
    ($RDS_GUARD_POLICY, ./rds_guard.toml) from where pytest starts, not from where a test has
    moved to. Raises `PolicyError` when there is none."""
    from .core.policy import POLICY_ENV, PolicyError, find_policy_path

    given = config.getoption("rds_guard_policy")
    if given:
        return config.invocation_params.dir / str(given)
    configured = config.getini(INI)
    if configured:
        return config.rootpath / str(configured)
    start = config.invocation_params.dir
    found = find_policy_path(start)
    if found is None:
        raise PolicyError(
            f"no policy given: no {OPTION}, no ini key {INI}, {POLICY_ENV} is not set and"
            f" there is no rds_guard.toml in {start}, where pytest started"
        )
    return Path(found)


class _AuditReader:
    """The records one guard's audit log gains from now on, read back from the file: not
    from the ``rds_guard.audit`` logger, which a suite may silence (``logging.disable``).
    This process's, on this host; in the test's own log, a forked child's too: the records
    its guard's writer sealed with the guard's policy (``policy_sha256``), not those another
    process's ``rds-guard audit rotate`` or ``repair`` wrote there. In a log shared by
    several processes (``shared``: the one $RDS_GUARD_AUDIT_PATH names), only this
    process's.
    The records after the log's last seq now, wherever they are: a rotation during the test
    moves the earlier ones into an archive of the series; read on from where the log ended
    now (a long shared log is not read again), or from its first record when the file that
    held its last one is gone (the log deleted, and made again)."""

    def __init__(self, path: Path | None, *, shared: bool = False, policy_sha256: str = "") -> None:
        from .audit.ledger.series import Cursor, Series  # imported once a guard is installed

        self.path = path
        self.shared = shared
        self.policy_sha256 = policy_sha256
        self.after: int = 0
        self.cursor: Cursor | None = None
        if path is None:
            return
        series = Series(path)
        files, last = series.files(), series.last()
        if files and last is not None:
            size = _size(files[-1].path)  # the live file's end: where its next record starts
            self.after, self.cursor = last[0], Cursor(files[-1].id, size, size, last[0])

    def records(self) -> list[dict[str, object]]:
        """The records written since, in order (each a dict); a line cut short is left out."""
        if self.path is None:
            return []
        from .audit.ledger.series import Series
        from .audit.record import parse_record, writer

        series = Series(self.path)
        after, cursor = self.after, self.cursor
        if cursor is not None and all(log.id != cursor.file for log in series.files()):
            after, cursor = 0, None  # the file is gone: a log made again, from its first record
        # as the writer put them: a test that stands in for gethostname changes neither
        own = writer()
        records = (parse_record(entry.line) for entry in series.entries(after + 1, cursor))
        return [r for r in records if r is not None and self._ours(r, own)]

    def _ours(self, record: Mapping[str, object], own: tuple[int, str]) -> bool:
        if (record.get("pid"), record.get("host")) == own:
            return True
        return (
            not self.shared
            and bool(self.policy_sha256)
            and record.get("policy") == self.policy_sha256
        )


def _size(path: Path | None) -> int:
    try:
        return 0 if path is None else path.stat().st_size
    except OSError:
        return 0


def _kept_local(policy: Policy) -> Policy:
    """``policy`` without its ``[audit.ledger]``: a test's records are not the fleet's, and a
    suite run with real credentials must not write them into the ledger its policy names
    (nor make a test wait for it, in ``required`` mode). Its rules, and so its digest, are
    the file's."""
    if policy.audit.ledger is None:
        return policy
    from dataclasses import replace

    local = replace(policy, audit=replace(policy.audit, ledger=None))
    object.__setattr__(local, "sha256", policy.sha256)  # where its records go is no rule
    return local


_READER = pytest.StashKey[_AuditReader]()
"""The test's reader of its guard's log, made when the guard is installed."""


@pytest.fixture
def rds_guard_policy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guard]:
    """The policy installed on boto3's default session for this test (and on any default
    session the test sets up, as ``moto.mock_aws`` does), without its ``[audit.ledger]``;
    yields the `Guard`."""
    from .core.policy import resolve_policy
    from .errors import AuditError, PolicyError
    from .guard import AUDIT_PATH_ENV, install

    audit_path = None
    if not os.environ.get(AUDIT_PATH_ENV):
        audit_path = tmp_path_factory.mktemp("rds-guard-audit") / "rds-guard-audit.jsonl"
    failure = None
    try:
        policy = _kept_local(resolve_policy(policy_path(request.config)))
        guard = install(policy=policy, audit_path=audit_path)
    except (PolicyError, AuditError) as error:
        failure = f"rds_guard_policy: {error}"
    if failure is not None:  # outside the except block: one line, no chained traceback
        pytest.fail(failure, pytrace=False)
    # from the install on: a fixture set up before rds_guard_audit may already have called
    audit = guard.audit
    request.node.stash[_READER] = _AuditReader(
        None if audit is None else Path(audit.path),
        shared=audit_path is None,
        policy_sha256=guard.policy.sha256,
    )
    try:
        yield guard
    finally:
        guard.uninstall()


@pytest.fixture
def rds_guard_audit(
    request: pytest.FixtureRequest, rds_guard_policy: Guard
) -> Callable[[], list[dict[str, Any]]]:
    """A callable returning the audit records the ``rds_guard_policy`` guard wrote during this
    test, from its install on (dicts, in order), read back from its audit log. A policy
    whose audit log is off is a setup error: the records would always be none."""
    if rds_guard_policy.audit is None:
        pytest.fail(
            "rds_guard_audit: the policy's audit log is off ([audit] enabled = false): there"
            " are no records to read",
            pytrace=False,
        )
    reader: _AuditReader = request.node.stash[_READER]
    return reader.records

"""The pytest plugin, as a team would use it: pytester runs their test files under moto.

The plugin is registered through the ``pytest11`` entry point, so the inner runs load it as
any project with rds_guard installed would. Each inner test file uses ``moto.mock_aws`` and the
``rds_guard_policy`` / ``rds_guard_audit`` fixtures, and asserts on its own; the outer tests
check which inner tests passed or failed and why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from policies import EXAMPLE, LEDGER, write_policy
from servers import MotoServer

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent

HELPERS = """
import boto3
import pytest
from datetime import UTC, datetime
from moto import mock_aws

import rds_guard
from aws import make_cluster, snapshot_tags

TODAY = datetime.now(UTC).strftime("%Y%m%d")


def compliant(rds):
    return rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=f"orders-daily-{TODAY}",
        Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "prod"}],
    )


def noncompliant(rds):
    return rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="nightly",
        Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "prod"}],
    )


def blocked_on_a_new_client():
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    with pytest.raises(rds_guard.PolicyViolation):
        noncompliant(rds)

"""
"""What the inner test files share: the suite's own AWS helpers (tests/aws.py), and a
compliant and a non-compliant backup."""

BACKUPS = (
    HELPERS
    + """

@mock_aws
def test_compliant_backup(rds_guard_policy):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    compliant(rds)
    assert snapshot_tags(rds, f"orders-daily-{TODAY}")["backup-policy"] == "standard-35d"


def test_noncompliant_backup(rds_guard_policy):
    with mock_aws():
        rds = boto3.client("rds", region_name="us-east-1")
        make_cluster(rds)
        noncompliant(rds)
"""
)


@pytest.fixture(autouse=True)
def _helpers_importable(pytester: pytest.Pytester) -> None:
    """The inner runs import tests/aws.py (see `HELPERS`)."""
    pytester.syspathinsert(TESTS)


@pytest.fixture
def policy_dir(pytester: pytest.Pytester) -> Path:
    """The example policy as policies/snapshots.toml in the inner project."""
    return write_policy(pytester.path / "policies", EXAMPLE, name="snapshots.toml").parent


def assert_noncompliant_failed_with_policy_violation(result: pytest.RunResult) -> None:
    """test_noncompliant_backup failed on a PolicyViolation naming the identifier rule."""
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*rds_guard.errors.PolicyViolation: rds_guard blocked CreateDBClusterSnapshot:",
            "*[[]identifier.pattern[]] DBClusterSnapshotIdentifier: 'nightly' does not match*",
            "FAILED test_backups.py::test_noncompliant_backup - *",
        ]
    )


def test_command_line_option_names_the_policy(pytester: pytest.Pytester, policy_dir: Path) -> None:
    """--rds-guard-policy PATH: the compliant backup passes, the other fails, blocked."""
    pytester.makepyfile(test_backups=BACKUPS)
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    assert_noncompliant_failed_with_policy_violation(result)


def test_command_line_option_is_relative_to_where_pytest_starts(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--rds-guard-policy from a subdirectory: the path is read from there, not from the
    rootdir (``policies/snapshots.toml`` from there names no file)."""
    sub = pytester.mkpydir("backups")
    (sub / "test_backups.py").write_text(BACKUPS)
    monkeypatch.chdir(sub)
    result = pytester.runpytest("--rds-guard-policy", "../policies/snapshots.toml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*PolicyViolation: rds_guard blocked CreateDBClusterSnapshot:"])
    from_the_rootdir = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    from_the_rootdir.assert_outcomes(errors=2)  # the policy is not found: nothing runs
    from_the_rootdir.stdout.fnmatch_lines(
        ["rds_guard_policy: */backups/policies/snapshots.toml: cannot read policy file: *"]
    )


def test_ini_key_names_the_policy_relative_to_the_rootdir(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rds_guard_policy in the ini file, run from a subdirectory: found from the rootdir."""
    pytester.makeini("[pytest]\nrds_guard_policy = policies/snapshots.toml\n")
    sub = pytester.mkpydir("backups")
    (sub / "test_backups.py").write_text(BACKUPS)
    monkeypatch.chdir(sub)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*PolicyViolation: rds_guard blocked CreateDBClusterSnapshot:"])


def test_command_line_option_wins_over_the_ini_key(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """The ini names a broken policy; the option names the good one and is the one used."""
    write_policy(policy_dir, "version = 2\n", name="broken.toml")
    pytester.makeini("[pytest]\nrds_guard_policy = policies/broken.toml\n")
    pytester.makepyfile(test_backups=BACKUPS)
    assert_noncompliant_failed_with_policy_violation(
        pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    )
    ini_only = pytester.runpytest()
    ini_only.assert_outcomes(errors=2)
    ini_only.stdout.fnmatch_lines(
        ["*rds_guard_policy: *broken.toml:1: version: unsupported version 2*"]
    )
    assert "Traceback" not in ini_only.stdout.str()


@pytest.mark.parametrize("how", ["environment", "cwd"])
def test_without_option_or_ini_the_policy_is_found_as_install_finds_it(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """$RDS_GUARD_POLICY, then ./rds_guard.toml."""
    if how == "environment":
        monkeypatch.setenv("RDS_GUARD_POLICY", str(policy_dir / "snapshots.toml"))
    else:
        write_policy(pytester.path, EXAMPLE)
    pytester.makepyfile(test_backups=BACKUPS)
    assert_noncompliant_failed_with_policy_violation(pytester.runpytest())


def test_an_empty_option_is_a_usage_error_not_another_policy(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """``--rds-guard-policy="$POLICY"`` with the variable unset: the run stops, naming the
    option, where it judged by ./rds_guard.toml (a policy the team did not mean)."""
    write_policy(pytester.path, EXAMPLE, mode="warn")
    pytester.makepyfile(test_backups=BACKUPS)
    result = pytester.runpytest("--rds-guard-policy=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rds-guard-policy is empty: name a policy file*"])


@pytest.mark.parametrize("where", ["-o", "ini file"])
def test_an_empty_ini_key_is_a_usage_error_not_another_policy(
    pytester: pytest.Pytester, policy_dir: Path, where: str
) -> None:
    """``-o rds_guard_policy=$POLICY`` with the variable unset (or the key left empty in
    the ini file) stops the run, where it judged by ./rds_guard.toml in warn mode."""
    write_policy(pytester.path, EXAMPLE, mode="warn")
    pytester.makepyfile(test_backups=BACKUPS)
    if where == "-o":
        pytester.makeini("[pytest]\nrds_guard_policy = policies/snapshots.toml\n")
        result = pytester.runpytest("-o", "rds_guard_policy=")
    else:
        pytester.makeini("[pytest]\nrds_guard_policy =\n")
        result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*The ini key rds_guard_policy is empty: name a policy file*"])


@pytest.mark.parametrize("how", ["environment", "./rds_guard.toml"])
def test_a_policy_found_as_install_finds_it_is_found_from_where_pytest_starts(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """$RDS_GUARD_POLICY given relative, or ./rds_guard.toml, is found from where pytest
    starts, as the option is: a test that moves elsewhere first (an autouse ``chdir``) was
    judged by the policy it found there (warn mode), or by none."""
    if how == "environment":
        monkeypatch.setenv("RDS_GUARD_POLICY", "policies/snapshots.toml")
    else:
        write_policy(pytester.path, EXAMPLE)
    elsewhere = pytester.path / "elsewhere"
    write_policy(elsewhere, EXAMPLE, mode="warn")
    pytester.makeconftest(
        f"""
import pytest

@pytest.fixture(autouse=True)
def _moved(monkeypatch):
    monkeypatch.chdir({str(elsewhere)!r})
"""
    )
    pytester.makepyfile(test_backups=BACKUPS)
    assert_noncompliant_failed_with_policy_violation(pytester.runpytest())


def test_no_policy_anywhere_is_a_setup_error(pytester: pytest.Pytester) -> None:
    """Nothing names a policy: the tests using the fixture error at setup, in one line."""
    pytester.makepyfile(test_backups=BACKUPS)
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [f"*rds_guard_policy: *no policy given*no rds_guard.toml in {pytester.path}, where*"]
    )


def test_module_level_client_is_not_guarded_but_one_made_in_the_test_is(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """The documented limitation: a client created at import time predates the fixture."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """

MODULE_RDS = boto3.client("rds", region_name="us-east-1")  # created at import time


@mock_aws
def test_module_level_client_is_not_reached(rds_guard_policy):
    make_cluster(MODULE_RDS)
    noncompliant(MODULE_RDS)  # sent: no PolicyViolation
    assert snapshot_tags(MODULE_RDS, "nightly") == {"team": "orders", "env": "prod"}
    with pytest.raises(rds_guard.PolicyViolation):
        noncompliant(boto3.client("rds", region_name="us-east-1"))
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=1)


def test_audit_callable_returns_the_records_of_its_own_test_only(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """Two tests, each sees only its own records; the policy's audit path is left alone."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """

@mock_aws
def test_first(rds_guard_audit):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    compliant(rds)
    records = rds_guard_audit()
    assert [r["event"] for r in records] == ["requested", "created"]
    assert records[0]["call"] == records[1]["call"]
    assert records[1]["snapshot"] == f"orders-daily-{TODAY}"
    assert records[1]["tags"]["backup-policy"] == "standard-35d"


@mock_aws
def test_second(rds_guard_policy, rds_guard_audit):
    blocked_on_a_new_client()
    (record,) = rds_guard_audit()
    assert record["event"] == "blocked"
    assert record["snapshot"] == "nightly"
    assert [v["rule"] for v in record["violations"]] == ["identifier.pattern"]
    assert rds_guard_policy.audit.path.name == "rds-guard-audit.jsonl"
    assert rds_guard_policy.audit.path.read_text().count("\\n") == 1
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=2)
    assert not (policy_dir / "rds-guard-audit.jsonl").exists()


def test_audit_callable_returns_the_records_with_logging_silenced(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """A suite that silences logging (`logging.disable`, in a conftest or the test itself)
    still gets its records: they are read back from the log (it got none)."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """
import logging


@mock_aws
def test_quiet(rds_guard_audit):
    logging.disable(logging.CRITICAL)
    try:
        rds = boto3.client("rds", region_name="us-east-1")
        make_cluster(rds)
        compliant(rds)
        assert [r["event"] for r in rds_guard_audit()] == ["requested", "created"]
    finally:
        logging.disable(logging.NOTSET)
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=1)


def test_audit_callable_returns_the_records_while_the_test_stands_in_for_the_host_name(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """A test that stands in for `socket.gethostname` (or `os.getpid`) still gets its
    records: they are told from another process's by the pid and host the writer put in
    them, not by what those functions answer when the records are read."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """
import os
import socket


@mock_aws
def test_elsewhere(rds_guard_audit, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "build-agent-7")
    monkeypatch.setattr(os, "getpid", lambda: 1)
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    compliant(rds)
    with pytest.raises(rds_guard.PolicyViolation):
        noncompliant(rds)
    assert [r["event"] for r in rds_guard_audit()] == ["requested", "created", "blocked"]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=1)


def test_audit_callable_returns_what_a_forked_child_wrote_to_the_test_s_own_log(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """docs/integrations.md: the records the fixture's guard wrote during the test. Code under
    test that makes its calls in a forked worker and swallows the error (a nightly job's
    pool) left a `blocked` record in the test's own log, and `rds_guard_audit()` returned
    none of it: only a log shared by several processes leaves out the others' records."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """
import os


@mock_aws
def test_in_a_child(rds_guard_audit):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    pid = os.fork()
    if pid == 0:
        try:
            noncompliant(rds)
        except Exception:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    assert [r["event"] for r in rds_guard_audit()] == ["blocked"]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=1)


def test_audit_callable_leaves_out_what_another_process_writes_to_a_shared_log(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$RDS_GUARD_AUDIT_PATH names one log for several processes: a record another process
    writes there during the test is not this test's."""
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(pytester.path / "shared.jsonl"))
    pytester.makepyfile(
        test_backups=HELPERS
        + """
import os
import subprocess
import sys

WRITE = (
    "import sys; from rds_guard import audit;"
    " audit.AuditLog(sys.argv[1], fsync=False).write('blocked', call='other')"
)


@mock_aws
def test_shared(rds_guard_audit):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    subprocess.run([sys.executable, "-c", WRITE, os.environ["RDS_GUARD_AUDIT_PATH"]], check=True)
    compliant(rds)
    assert [r["event"] for r in rds_guard_audit()] == ["requested", "created"]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "shared.jsonl").read_text().count('"event":"blocked"') == 1


def test_audit_callable_leaves_out_the_records_of_another_guard(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """The code under test installs a guard of its own, on its own session and log: its
    records are not the fixture's guard's, and `rds_guard_audit` does not return them."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """

@mock_aws
def test_own_guard(rds_guard_policy, rds_guard_audit, tmp_path):
    session = boto3.Session(region_name="us-east-1")
    rds_guard.install(session, policy=str(rds_guard_policy.policy.source),
                      audit_path=tmp_path / "own.jsonl")
    own = session.client("rds")
    make_cluster(own)
    with pytest.raises(rds_guard.PolicyViolation):
        noncompliant(own)
    assert (tmp_path / "own.jsonl").read_text().count("\\n") == 1
    assert rds_guard_audit() == []
    rds = boto3.client("rds", region_name="us-east-1")
    compliant(rds)
    assert [r["event"] for r in rds_guard_audit()] == ["requested", "created"]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=1)


def test_warn_policy_is_installed_in_its_own_mode(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """mode = "warn": the non-compliant backup is sent, and its record carries the violation."""
    write_policy(policy_dir, EXAMPLE, name="warn.toml", mode="warn")
    pytester.makepyfile(
        test_backups=HELPERS
        + """

@mock_aws
def test_warned(rds_guard_policy, rds_guard_audit):
    assert rds_guard_policy.policy.mode == "warn"
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    noncompliant(rds)
    assert snapshot_tags(rds, "nightly")["managed-by"] == "rds-guard"
    requested, created = rds_guard_audit()
    assert (requested["event"], created["event"]) == ("requested", "created")
    assert [v["rule"] for v in requested["violations"]] == ["identifier.pattern"]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/warn.toml")
    result.assert_outcomes(passed=1)


def test_the_guard_is_gone_after_the_test(pytester: pytest.Pytester, policy_dir: Path) -> None:
    """A later test without the fixture makes the non-compliant snapshot unhindered."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """

@mock_aws
def test_guarded(rds_guard_policy):
    blocked_on_a_new_client()


@mock_aws
def test_unguarded_afterwards():
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    noncompliant(rds)
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=2)


def test_a_guard_the_suite_installed_is_suspended_for_a_test_using_the_fixture(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """docs/integrations.md: installs nest. The suite's own `enforce` guard on boto3's
    default session is suspended while the fixture's `warn` one is in force (the call is
    only warned about, and recorded by the fixture's guard), and in force again after."""
    write_policy(policy_dir, EXAMPLE, name="warn.toml", mode="warn")
    pytester.makepyfile(
        test_backups=HELPERS
        + """

@pytest.fixture(scope="module")
def suite_guard():
    with mock_aws():
        boto3.setup_default_session(region_name="us-east-1")
        guard = rds_guard.install(boto3.DEFAULT_SESSION, policy="policies/snapshots.toml")
        yield guard
        guard.uninstall()


def test_suite_guard_first(suite_guard):
    blocked_on_a_new_client()


def test_fixture_policy_alone(suite_guard, rds_guard_policy, rds_guard_audit):
    assert rds_guard_policy.policy.mode == "warn"
    rds = boto3.client("rds", region_name="us-east-1")
    noncompliant(rds)
    assert [r["event"] for r in rds_guard_audit()] == ["requested", "created"]


def test_suite_guard_again(suite_guard):
    with pytest.raises(rds_guard.PolicyViolation):  # the cluster is there: the mock is the module's
        noncompliant(boto3.client("rds", region_name="us-east-1"))
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/warn.toml")
    result.assert_outcomes(passed=3)


UNASKED = (
    HELPERS
    + """

@mock_aws
def test_a_test_that_never_asks_for_the_guard():
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    noncompliant(rds)
"""
)


@pytest.mark.parametrize("how", ["option", "ini"])
def test_every_test_can_be_guarded_without_asking(
    pytester: pytest.Pytester, policy_dir: Path, how: str
) -> None:
    """--rds-guard-all (or rds_guard_autouse = true): a test that does not request the
    fixture is guarded too; without it, the same test passes unguarded."""
    pytester.makepyfile(test_unasked=UNASKED)
    pytester.makeini("[pytest]\nrds_guard_policy = policies/snapshots.toml\n")
    pytester.runpytest().assert_outcomes(passed=1)
    if how == "option":
        result = pytester.runpytest("--rds-guard-all")
    else:
        pytester.makeini(
            "[pytest]\nrds_guard_policy = policies/snapshots.toml\nrds_guard_autouse = true\n"
        )
        result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*PolicyViolation*", "*[[]identifier.pattern[]]*"])


def test_every_test_is_guarded_alike_whatever_the_scope_of_its_fixtures(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """--rds-guard-all: a client made by a module-scoped fixture predates every test's
    guard, as when each test asks for the fixture (docs/integrations.md): the first test's
    guard reached it, the second's did not, so whether a test was guarded hung on which ran
    first. Each test made with a function-scoped client is guarded."""
    pytester.makepyfile(
        test_scopes=HELPERS
        + """

@pytest.fixture(scope="module")
def shared():
    with mock_aws():
        rds = boto3.client("rds", region_name="us-east-1")
        make_cluster(rds)
        yield rds


@pytest.mark.parametrize("run", ["1", "2"])
def test_a_client_of_a_wider_scope(shared, run):
    # made before any test's guard: not reached, in either run
    shared.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="nightly" + run
    )
""",
        test_own=HELPERS
        + """

@pytest.mark.parametrize("run", [1, 2])
@mock_aws
def test_a_client_of_the_test(run):
    blocked_on_a_new_client()
""",
    )
    pytester.makeini("[pytest]\nrds_guard_policy = policies/snapshots.toml\n")
    pytester.runpytest("--rds-guard-all").assert_outcomes(passed=4)
    alone = pytester.runpytest(
        "--rds-guard-all", "test_scopes.py::test_a_client_of_a_wider_scope[2]"
    )
    alone.assert_outcomes(passed=1)


def test_the_audit_callable_of_a_policy_whose_log_is_off_is_a_setup_error(
    pytester: pytest.Pytester,
) -> None:
    """With ``[audit] enabled = false`` the records would always be none, and an
    ``assert rds_guard_audit() == []`` would hold for nothing: one line at setup."""
    write_policy(pytester.path, EXAMPLE.replace("[audit]\n", "[audit]\nenabled = false\n"))
    pytester.makepyfile(
        test_off="def test_records(rds_guard_audit):\n    assert rds_guard_audit() == []\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*rds_guard_audit: the policy's audit log is off*"])


@pytest.mark.parametrize("off", ["autoload off", "-p no:rds_guard"])
def test_a_suite_that_requires_the_plugin_fails_when_it_is_turned_off(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch, off: str
) -> None:
    """Plugins turned off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``, common in CI, or ``-p
    no:rds_guard``) would leave the suite green and unguarded, two warnings about unknown
    ini keys aside: with ``required_plugins = rds_guard`` (docs/integrations.md) the run
    stops instead, and ``-p rds_guard`` loads it again without autoload."""
    pytester.makepyfile(test_unasked=UNASKED)
    pytester.makeini(
        "[pytest]\nrequired_plugins = rds_guard\n"
        "rds_guard_policy = policies/snapshots.toml\nrds_guard_autouse = true\n"
    )
    args = ["-p", "no:rds_guard"] if off == "-p no:rds_guard" else []
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # the runs are processes of their own
    if off == "autoload off":
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*Missing required plugins: rds_guard*"])
    if off == "autoload off":
        result = pytester.runpytest_subprocess("-p", "rds_guard")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*PolicyViolation*", "*[[]identifier.pattern[]]*"])


def test_a_broken_policy_is_one_line_without_a_chained_traceback(
    pytester: pytest.Pytester,
) -> None:
    write_policy(pytester.path, "version = 1\n[naming\n")
    pytester.makepyfile(test_unasked=UNASKED)
    result = pytester.runpytest("--rds-guard-all")
    result.assert_outcomes(errors=1)
    # found from where pytest started: named so
    result.stdout.fnmatch_lines(
        [f"*rds_guard_policy: {pytester.path}/rds_guard.toml:2: invalid TOML*"]
    )
    assert "During handling of the above exception" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("shared", [False, True], ids=["its own log", "a shared log"])
def test_audit_callable_follows_the_log_through_a_rotation(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    """A rotation during the test: the records before it (now in the archive) and after it
    are the test's, however far the new file has grown; an earlier test's are not."""
    if shared:
        monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(pytester.path / "shared.jsonl"))
    pytester.makepyfile(
        test_backups=HELPERS
        + """
import subprocess
import sys


def named(rds, name):
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=f"orders-daily-{name}",
        Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "prod"}],
    )


@mock_aws
def test_before(rds_guard_policy):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    named(rds, "20261101")


@mock_aws
def test_rotating(rds_guard_policy, rds_guard_audit):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    named(rds, "20261102")
    rotate = [sys.executable, "-m", "rds_guard", "audit", "rotate"]
    subprocess.run([*rotate, str(rds_guard_policy.audit.path)], check=True)
    for day in range(3, 7):
        named(rds, f"2026110{day}")
    created = [r["snapshot"] for r in rds_guard_audit() if r["event"] == "created"]
    assert created == [f"orders-daily-2026110{day}" for day in range(2, 7)]
    assert len(rds_guard_audit()) == 10
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=2)


def test_audit_callable_returns_what_a_fixture_did_before_it_was_set_up(
    pytester: pytest.Pytester, policy_dir: Path
) -> None:
    """A fixture of the test's that makes a snapshot through the guard, set up before
    `rds_guard_audit` (listed first): its records are the test's too, in either order."""
    pytester.makepyfile(
        test_backups=HELPERS
        + """

@pytest.fixture
def seeded(rds_guard_policy):
    with mock_aws():
        rds = boto3.client("rds", region_name="us-east-1")
        make_cluster(rds)
        compliant(rds)
        yield rds


def test_seeded_first(seeded, rds_guard_audit):
    assert [r["event"] for r in rds_guard_audit()] == ["requested", "created"]


def test_audit_first(rds_guard_audit, seeded):
    assert [r["event"] for r in rds_guard_audit()] == ["requested", "created"]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=2)


def test_an_audit_log_install_cannot_write_is_one_line(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An `AuditError` at install (here $RDS_GUARD_AUDIT_PATH names a missing directory) is
    a setup error of one line, as a policy that cannot be loaded is."""
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(pytester.path / "missing" / "a.jsonl"))
    pytester.makepyfile(test_unasked=UNASKED)
    result = pytester.runpytest("--rds-guard-all", "--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*rds_guard_policy: *the directory * does not exist*"])
    assert "Traceback" not in result.stdout.str()


def test_audit_callable_reads_a_shared_log_made_again_from_its_first_record(
    pytester: pytest.Pytester, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared log held an earlier test's records; this test deletes it, and the guard
    starts it again at seq 1: the new file's records are the test's."""
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(pytester.path / "shared.jsonl"))
    pytester.makepyfile(
        test_backups=HELPERS
        + """
import os


@mock_aws
def test_before(rds_guard_policy):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    compliant(rds)


@mock_aws
def test_made_again(rds_guard_policy, rds_guard_audit):
    rds = boto3.client("rds", region_name="us-east-1")
    make_cluster(rds)
    os.remove(rds_guard_policy.audit.path)
    with pytest.raises(rds_guard.PolicyViolation):
        noncompliant(rds)
    assert [(r["event"], r["seq"]) for r in rds_guard_audit()] == [("blocked", 1)]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "policies/snapshots.toml")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["ship", "required"])
def test_the_fixture_never_ships_a_tests_records_to_the_policys_ledger(
    pytester: pytest.Pytester,
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """A policy with ``[audit.ledger]``: the fixture's log went to the test's own directory,
    but its records were shipped to the table the policy names (a suite run with real
    credentials wrote into the fleet's ledger). Every client here reaches the moto server,
    which counts what it is sent: the guarded call is made and recorded locally, and no
    request reaches DynamoDB (nor STS, which names the stream) during or after the test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    write_policy(pytester.path, LEDGER, name="ledger.toml", mode=mode)
    pytester.makepyfile(
        test_backups="""
import boto3

def test_recorded_here(rds_guard_policy, rds_guard_audit):
    assert rds_guard_policy.policy.sha256
    rds = boto3.client("rds", region_name="us-east-1")
    rds.create_db_cluster(
        DBClusterIdentifier="orders", Engine="aurora-postgresql",
        MasterUsername="admin", MasterUserPassword="password123",
    )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-daily-20261203"
    )
    assert [r["event"] for r in rds_guard_audit()] == ["requested", "created"]
"""
    )
    result = pytester.runpytest("--rds-guard-policy", "ledger.toml")
    result.assert_outcomes(passed=1)
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert [a for a in moto_server.actions() if not a.startswith("CreateDBCluster")] == []

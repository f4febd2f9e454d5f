"""The exceptions survive pickling and copying (process pools, deep-copied contexts)."""

from __future__ import annotations

import copy
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import botocore.session
import pytest

import rds_guard

ROUND_TRIPS: list[Callable[[object], object]] = [
    lambda e: pickle.loads(pickle.dumps(e)),
    copy.copy,
    copy.deepcopy,
]


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
def test_policy_violation_round_trips(round_trip: Callable[[object], object]) -> None:
    """A PolicyViolation keeps its operation, its violations and its text."""
    error = rds_guard.PolicyViolation(
        "CreateDBSnapshot", [rds_guard.Violation("tags.required", "Tags.team", None, "missing")]
    )
    again = round_trip(error)
    assert isinstance(again, rds_guard.PolicyViolation)
    assert (again.operation, again.violations, str(again)) == (
        error.operation,
        error.violations,
        str(error),
    )


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
def test_audit_and_policy_errors_round_trip(round_trip: Callable[[object], object]) -> None:
    """AuditError keeps its path; PolicyError its path, line and key."""
    audit = round_trip(rds_guard.AuditError("disk full", path="/var/log/x.jsonl"))
    assert isinstance(audit, rds_guard.AuditError)
    assert (audit.path, str(audit)) == ("/var/log/x.jsonl", "rds_guard audit log: disk full")
    policy = round_trip(rds_guard.PolicyError("bad", path="p.toml", line=3, key="tags.x"))
    assert isinstance(policy, rds_guard.PolicyError)
    assert (policy.path, policy.line, policy.key, str(policy)) == (
        "p.toml",
        3,
        "tags.x",
        "p.toml:3: tags.x: bad",
    )


def test_policy_error_without_a_file_is_the_problem_alone() -> None:
    """No path: no '<policy>:' prefix, just the key and the problem."""
    assert str(rds_guard.PolicyError("no policy given")) == "no policy given"
    assert str(rds_guard.PolicyError("bad", key="mode")) == "mode: bad"


# --- the public API given the wrong things ------------------------------------------------


def test_load_policy_and_install_given_the_wrong_type_say_what_they_take(
    tmp_path: pytest.TempPathFactory,
) -> None:
    import botocore.session

    with pytest.raises(TypeError, match=r"a policy file's path .* not NoneType"):
        rds_guard.load_policy(None)  # type: ignore[arg-type]
    with pytest.raises(rds_guard.PolicyError, match="the path is empty"):
        rds_guard.load_policy("")
    session = botocore.session.Session()
    with pytest.raises(TypeError, match="policy must be a Policy, a policy file's path or None"):
        rds_guard.install(session, policy=5)  # type: ignore[arg-type]
    policy = rds_guard.Policy.from_toml("version = 1\n")
    with pytest.raises(
        TypeError, match=r"audit_path must be a str or an os.PathLike giving one, not int"
    ):
        rds_guard.install(session, policy=policy, audit_path=5)  # type: ignore[arg-type]


class _BytesPath:
    """An ``os.PathLike`` whose ``__fspath__`` gives bytes (``os.fspath`` takes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> bytes:
        return os.fsencode(self.path)


def test_a_path_like_giving_bytes_is_refused_by_name_and_nothing_is_made(tmp_path: Path) -> None:
    """The policy's path and ``audit_path`` as objects whose ``__fspath__`` gives bytes: the
    guard's own `TypeError` saying what it takes (it had pathlib's, from deep inside the load
    and the install), and no log is created."""
    import botocore.session

    policy_file = tmp_path / "rds_guard.toml"
    policy_file.write_text("version = 1\n")
    with pytest.raises(TypeError, match=r"a policy file's path must be a str or an os.PathLike"):
        rds_guard.load_policy(_BytesPath(policy_file))  # type: ignore[arg-type]
    log = tmp_path / "audit.jsonl"
    with pytest.raises(TypeError, match=r"_BytesPath whose __fspath__ gives bytes"):
        rds_guard.install(
            botocore.session.Session(),
            policy=str(policy_file),
            audit_path=_BytesPath(log),  # type: ignore[arg-type]
        )
    assert not log.exists()


@pytest.mark.parametrize(
    ("audit_path", "words"), [("", r"path \(audit_path\) is empty"), ("a\0b", "NUL byte")]
)
def test_an_audit_path_that_names_no_file_is_an_audit_error(audit_path: str, words: str) -> None:
    import botocore.session

    policy = rds_guard.Policy.from_toml("version = 1\n[audit]\npath = 'audit.jsonl'\n")
    with pytest.raises(rds_guard.AuditError, match=words):
        rds_guard.install(botocore.session.Session(), policy=policy, audit_path=audit_path)


@pytest.mark.parametrize("named_by", ["audit.path", "audit_path", "a hard link"])
def test_an_audit_path_that_names_the_policy_file_is_an_audit_error_at_install(
    tmp_path: Path, named_by: str
) -> None:
    """A log written over its own policy would end the policy at the next load: install
    refuses it at once, whatever names it, and leaves the policy as it was."""
    import botocore.session

    policy_path = tmp_path / "rds_guard.toml"
    text = "version = 1\n[audit]\npath = 'rds_guard.toml'\n"
    given: str | None = None
    if named_by != "audit.path":
        text = "version = 1\n"
        given = str(policy_path)
    policy_path.write_text(text)
    if named_by == "a hard link":  # a symbolic link is refused as one
        given = str(tmp_path / "log.jsonl")
        os.link(policy_path, given)
    policy = rds_guard.load_policy(policy_path)
    with pytest.raises(rds_guard.AuditError, match="is the policy file itself"):
        rds_guard.install(botocore.session.Session(), policy=policy, audit_path=given)
    assert policy_path.read_text() == text


LINE_BREAKERS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]
"""Every character ``str.splitlines()`` breaks a line at."""


@pytest.mark.parametrize("breaker", LINE_BREAKERS, ids=repr)
def test_a_policy_violation_lists_one_violation_a_line_whatever_the_keys_hold(
    breaker: str,
) -> None:
    """DESIGN §3: ``str()`` lists every violation, one a line. A tag key, a tag value and a
    name holding a line break (which a caller passes on from elsewhere) are shown escaped:
    no line of the message is forged, and the break still shows where it was."""
    policy = rds_guard.Policy.from_toml(
        'version = 1\n[tags]\nrequired = ["team"]\nallowed = { env = ["prod"] }\n'
        '[naming]\npattern = "^[a-z][a-z0-9-]*$"\n[audit]\nenabled = false\n'
    )
    forged = f"x{breaker}  [tags.required] Tags.owner: forged"
    decision = rds_guard.evaluate(
        policy,
        "CreateDBClusterSnapshot",
        {
            "DBClusterIdentifier": "orders",
            "DBClusterSnapshotIdentifier": forged,
            "Tags": [{"Key": forged, "Value": "v"}, {"Key": "env", "Value": forged}],
        },
    )
    error = rds_guard.PolicyViolation("CreateDBClusterSnapshot", decision.violations)
    lines = str(error).splitlines()
    assert len(lines) == 1 + len(decision.violations) >= 4
    assert all(line.isprintable() for line in lines)
    assert not any("Tags.owner" in line and line.startswith("  [tags.required]") for line in lines)
    assert any(repr(breaker)[1:-1] in line for line in lines[1:])
    # the data keeps the caller's text as it is
    assert any(forged in v.field or forged == v.value for v in decision.violations)


HOSTILE = "\x1b[2K\rFAKE\n\u2028\u202e"
"""What would clear a terminal line, start a new one, or reverse the rest of it."""


def _one_clean_line(text: str) -> None:
    assert "\n" not in text and "\r" not in text and "\x1b" not in text
    assert "\u2028" not in text and "\u202e" not in text


def test_an_audit_error_naming_a_hostile_path_is_one_line(tmp_path: Path) -> None:
    """A policy's audit path holding an escape sequence and line breaks: install's
    `AuditError` said it raw, splitting the line a program logs and writing the escape to
    its terminal. ``str()`` escapes it; ``.detail`` keeps the path as given."""
    policy = tmp_path / "policy.toml"
    missing = tmp_path / f"missing{HOSTILE}" / "audit.jsonl"
    quoted = "".join(
        char if " " <= char <= "~" and char not in '"\\' else f"\\u{ord(char):04x}"
        for char in str(missing)
    )
    policy.write_text(f'version = 1\n[audit]\npath = "{quoted}"\n')
    with pytest.raises(rds_guard.AuditError) as caught:
        rds_guard.install(botocore.session.Session(), policy=policy)
    _one_clean_line(str(caught.value))
    assert "\\x1b[2K\\rFAKE\\n" in str(caught.value)
    assert HOSTILE in caught.value.detail


def test_a_policy_error_naming_a_hostile_path_is_one_line(tmp_path: Path) -> None:
    """The policy file's own path holding an escape sequence and line breaks: ``str()`` of
    its `PolicyError` said it raw. It is escaped, as the keys it names already were; ``.path``
    keeps it as given."""
    policy = tmp_path / f"policy{HOSTILE}.toml"
    policy.write_text("version = 1\nunknown = 1\n")
    with pytest.raises(rds_guard.PolicyError) as caught:
        rds_guard.load_policy(policy)
    _one_clean_line(str(caught.value))
    assert ".toml:2: unknown: unknown key" in str(caught.value)
    assert caught.value.path == str(policy)


def test_a_policy_error_quoting_a_hostile_value_is_one_line() -> None:
    """The problem quotes what the file holds (an unknown service's name): a value holding an
    escape sequence and line breaks is escaped in ``str()`` as the path is."""
    escapes = "".join(f"\\u{ord(char):04x}" for char in HOSTILE)  # TOML's escapes
    text = f'version = 1\nservices = ["{escapes}rds"]\n'
    with pytest.raises(rds_guard.PolicyError) as caught:
        rds_guard.Policy.from_toml(text, "p.toml")
    _one_clean_line(str(caught.value))
    assert str(caught.value).startswith("p.toml:2: services")
    assert "FAKE" in str(caught.value)

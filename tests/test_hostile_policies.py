"""Hostile policy files: what a broken, malicious or simply odd policy does to the loader and to
the guard. Each is a `PolicyError` naming the file (and the line and key where they can be
known) or, for values that only go wrong at call time, a violation: never another exception,
never a hang. Timeouts here only detect hangs; they are no performance assertions.

(Catastrophically backtracking regexes are covered by tests/test_regex_safety.py.)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

import rds_guard
from rds_guard import PolicyError, load_policy

T = TypeVar("T")

HANG_TIMEOUT = 60.0
"""Seconds after which a call is taken to hang: a hang detector, never a speed requirement."""


def without_hanging(call: Callable[[], T]) -> T:
    """Run ``call`` in a daemon thread; fail if it has not returned after `HANG_TIMEOUT`."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(HANG_TIMEOUT)
    assert not worker.is_alive(), f"still running after {HANG_TIMEOUT}s: it hangs"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def policy_error_of(call: Callable[[], object]) -> PolicyError:
    """The PolicyError ``call`` raises (run under the hang detector)."""
    with pytest.raises(PolicyError) as caught:
        without_hanging(call)
    return caught.value


# --- files that are not regular files -------------------------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """A FIFO at the policy path: opening it for reading would block until a writer comes."""
    fifo = tmp_path / "rds_guard.toml"
    os.mkfifo(fifo)
    error = policy_error_of(lambda: load_policy(fifo))
    assert error.path == str(fifo)
    assert str(error) == f"{fifo}: is a FIFO, not a policy file"


def test_a_fifo_with_a_writer_that_never_closes_is_refused(tmp_path: Path) -> None:
    """A FIFO whose writer keeps it open: reading to the end would never finish."""
    fifo = tmp_path / "rds_guard.toml"
    os.mkfifo(fifo)
    reader_side = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY)
    try:
        os.write(writer, b"version = 1\n")
        error = policy_error_of(lambda: load_policy(fifo))
    finally:
        os.close(writer)
        os.close(reader_side)
    assert "is a FIFO" in error.problem


def test_a_fifo_named_by_install_is_refused(tmp_path: Path) -> None:
    """install(policy=FIFO) goes through the same loader: a PolicyError, not a hang."""
    import boto3

    fifo = tmp_path / "policy.toml"
    os.mkfifo(fifo)
    session = boto3.Session(region_name="us-east-1")
    error = policy_error_of(lambda: rds_guard.install(session, policy=fifo))
    assert error.path == str(fifo) and "FIFO" in error.problem


def test_an_endless_character_device_is_refused_not_drained() -> None:
    """/dev/zero never ends: reading it would fill the memory. Refused as a device."""
    error = policy_error_of(lambda: load_policy("/dev/zero"))
    assert str(error) == "/dev/zero: is a character device, not a policy file"


def test_a_socket_is_refused(tmp_path: Path) -> None:
    """A Unix socket at the policy path cannot even be opened for reading: a PolicyError."""
    import socket

    path = tmp_path / "p.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        error = policy_error_of(lambda: load_policy(path))
    assert error.path == str(path)
    assert error.problem.startswith("cannot read policy file") or "socket" in error.problem


def test_a_directory_named_by_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$RDS_GUARD_POLICY naming a directory: a PolicyError from install, before any client."""
    import boto3

    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path))
    error = policy_error_of(lambda: rds_guard.install(boto3.Session(region_name="us-east-1")))
    assert str(tmp_path) in str(error)
    assert "RDS_GUARD_POLICY" in str(error)


# --- huge integers --------------------------------------------------------------------------

HUGE_HEX = "0x" + "f" * 5000  # int() of a hex literal has no digit limit; str() of it has
HUGE_OCTAL = "0o" + "7" * 6000
HUGE_BINARY = "0b" + "1" * 20000


@pytest.mark.parametrize(
    "literal",
    [HUGE_HEX, HUGE_OCTAL, HUGE_BINARY, "18446744073709551616"],
    ids=["hex", "octal", "binary", "2**64"],
)
@pytest.mark.parametrize(
    ("body", "key", "line"),
    [
        pytest.param("version = {}\n", "version", 1, id="version"),
        pytest.param("version = 1\nmode = {}\n", "mode", 2, id="mode"),
        pytest.param("version = 1\nmode = [{}]\n", "mode", 2, id="mode"),
        pytest.param("version = 1\n[tags]\ninherit = {}\n", "tags.inherit", 3, id="tags.inherit"),
        pytest.param(
            "version = 1\n[tags]\nrequired = [{}]\n", "tags.required[0]", 3, id="tags.required[0]"
        ),
        pytest.param("version = 1\nservices = [{}]\n", "services[0]", 2, id="services[0]"),
        pytest.param(
            "version = 1\n[audit]\nenabled = {}\n", "audit.enabled", 3, id="audit.enabled"
        ),
        pytest.param(
            "version = 1\n[sharing]\naccounts = [{}]\n",
            "sharing.accounts[0]",
            3,
            id="sharing.accounts[0]",
        ),
        pytest.param(
            "version = 1\n[naming]\npattern = {}\n", "naming.pattern", 3, id="naming.pattern"
        ),
    ],
)
def test_a_huge_integer_is_a_short_policy_error(
    tmp_path: Path, literal: str, body: str, key: str, line: int
) -> None:
    """An integer too long for str() (a 5000-digit hex literal): a PolicyError, not ValueError."""
    path = tmp_path / "p.toml"
    path.write_text(body.format(literal))
    error = policy_error_of(lambda: load_policy(path))
    assert type(error) is PolicyError
    assert (error.path, error.key, error.line) == (str(path), key, line)
    assert len(str(error)) < 300, str(error)[:300]


# --- text that is not valid Unicode ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param('version = 1\nmode = "\ud800"\n', 2, id="in-a-value"),
        pytest.param("version = 1\n# \udcff (a surrogate-escaped byte)\n", 2, id="in-a-comment"),
        pytest.param('version = 1\n\n[tags.defaults]\n"\udfff" = "x"\n', 4, id="in-a-key"),
        pytest.param('version = 1\n[naming]\ngenerate = "{utcnow:%Y\ud800}"\n', 3, id="strftime"),
    ],
)
def test_from_toml_with_a_lone_surrogate_is_a_policy_error(text: str, line: int) -> None:
    """Python text holding a lone surrogate (no file can): a PolicyError, not UnicodeError."""
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(text, "inline.toml"))
    assert (error.path, error.line) == ("inline.toml", line)
    assert "lone surrogate U+D" in error.problem


def test_non_utf8_bytes_through_install_name_the_file_and_line(tmp_path: Path) -> None:
    """Latin-1 bytes on line 3 of the file install() is given: a PolicyError naming both."""
    import boto3

    path = tmp_path / "p.toml"
    path.write_bytes(b'version = 1\n[tags.defaults]\nowner = "J\xfcrgen"\n')
    session = boto3.Session(region_name="us-east-1")
    error = policy_error_of(lambda: rds_guard.install(session, policy=path))
    assert str(error) == f"{path}:3: not UTF-8 text"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param("version = 1\n".encode("utf-16"), "not UTF-8 text", id="utf-16"),
        pytest.param(b"\xef\xbb\xbfversion = 1\n", "invalid TOML", id="utf-8-bom"),
        pytest.param(b"version = 1\n\x00\x00\x00\n", "invalid TOML", id="nul-bytes"),
        pytest.param(bytes(range(256)), "not UTF-8 text", id="every-byte"),
    ],
)
def test_bytes_that_are_no_policy_are_a_policy_error_on_line_1_or_2(
    tmp_path: Path, data: bytes, problem: str
) -> None:
    """UTF-16, a byte-order mark, NUL bytes, binary junk: a PolicyError with its line."""
    path = tmp_path / "p.toml"
    path.write_bytes(data)
    error = policy_error_of(lambda: load_policy(path))
    assert error.path == str(path)
    assert error.problem.startswith(problem)
    assert error.line in (1, 2)

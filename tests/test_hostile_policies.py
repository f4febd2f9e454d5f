"""Hostile policy files: what a broken, malicious or simply odd policy does to the loader and to
the guard. Each is a `PolicyError` naming the file (and the line and key where they can be
known) or, for values that only go wrong at call time, a violation: never another exception,
never a hang. Timeouts here only detect hangs; they are no performance assertions.

(How RE2's dialect is read and refused is covered by tests/core/test_regex.py.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

import botocore.session
import pytest
from audit_helpers import call_with_timeout
from aws import count_sent, guarded_client, make_cluster
from policies import FROM_ENVIRONMENT, write_policy

import rds_guard
from rds_guard import PolicyError, cli, load_policy

T = TypeVar("T")

HANG_TIMEOUT = 60.0
"""Seconds after which a call is taken to hang: a hang detector, never a speed requirement."""


def without_hanging(call: Callable[[], T]) -> T:
    """``call()`` under tests/audit_helpers.py's hang detector, after `HANG_TIMEOUT`."""
    return cast(T, call_with_timeout(call, HANG_TIMEOUT))


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


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        pytest.param("version = 1\nmode = {}\n", "mode", 2, id="a-string-key"),
        pytest.param(
            'version = 1\n[tags]\nrequired = [\n  "a",\n  {}\n]\n',
            "tags.required",
            5,
            id="in-an-array",
        ),
        pytest.param("version = 1\n[audit]\nlock_timeout = -{}\n", "audit.lock_timeout", 3),
        pytest.param(  # runs of digits before it that are no integer: a float, a string...
            "version = 1\nmode = {0}.5\n[tags.defaults]\nx = 'id {0} y'\n[audit]\n"
            "lock_timeout = {0}\n",
            "audit.lock_timeout",
            6,
            id="after-a-float-and-a-string",
        ),
        pytest.param(
            "# {0}\nversion = 1\nmode = {0}e1\n[audit]\nlock_timeout = {0}\n",
            "audit.lock_timeout",
            5,
            id="after-a-comment-and-an-exponent",
        ),
        pytest.param(  # no number of runs that are no integer hides it
            "version = 1\n" + "# {0}\n" * 25 + "[audit]\nlock_timeout = {0}\n",
            "audit.lock_timeout",
            28,
            id="after-25-comments",
        ),
        pytest.param(
            "version = 1\n[tags]\nrequired = [" + "'{0}', " * 25 + "\n  -{0}]\n",
            "tags.required",
            4,
            id="signed-after-25-strings-in-an-array",
        ),
    ],
)
@pytest.mark.parametrize("digits", ["9" * 4301, "1_" * 4300 + "1"], ids=["plain", "underscores"])
def test_a_decimal_integer_python_will_not_read_names_its_line_and_key(
    tmp_path: Path, text: str, key: str, line: int, digits: str
) -> None:
    """``tomllib`` refuses a decimal integer of more than 4,300 digits (Python's limit on
    converting text to int) with a `ValueError` that says nowhere: the policy error said
    "cannot parse TOML: ValueError", no line, no key."""
    path = tmp_path / "p.toml"
    path.write_text(text.format(digits))
    error = policy_error_of(lambda: load_policy(path))
    assert (error.path, error.key, error.line) == (str(path), key, line)
    assert "an integer of more digits than Python reads" in str(error)
    assert len(str(error)) < 300, str(error)[:300]


# --- text that is not valid Unicode ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        pytest.param('version = 1\nmode = "\ud800"\n', 2, "mode", id="in-a-value"),
        pytest.param(
            "version = 1\n# \udcff (a surrogate-escaped byte)\n", 2, None, id="in-a-comment"
        ),
        pytest.param('version = 1\n\n[tags.defaults]\n"\udfff" = "x"\n', 4, None, id="in-a-key"),
        pytest.param(
            'version = 1\n[naming]\ngenerate = "{utcnow:%Y\ud800}"\n',
            3,
            "naming.generate",
            id="strftime",
        ),
        pytest.param(
            'version = 1\n[tags]\nrequired = [\n  "a",\n  "b\udcff",\n]\n',
            5,
            "tags.required",
            id="in-an-array",
        ),
    ],
)
def test_from_toml_with_a_lone_surrogate_is_a_policy_error(
    text: str, line: int, key: str | None
) -> None:
    """Python text holding a lone surrogate (no file can): a PolicyError, not UnicodeError,
    naming the key whose value holds it (none for a comment or a key)."""
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(text, "inline.toml"))
    assert (error.path, error.line, error.key) == ("inline.toml", line, key)
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
        pytest.param(b"\xef\xbb\xbfversion = 1\n", "starts with a byte order mark", id="utf-8-bom"),
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


@pytest.mark.parametrize(
    ("data", "problem", "line"),
    [
        (
            "version: 1\nmode: warn\n",
            "invalid TOML: Expected '=' after a key in a key/value pair (it looks like YAML: a"
            " policy is TOML, `version = 1`)",
            1,
        ),
        ("# a policy\n---\nversion: 1\n", "(it looks like YAML: a policy is TOML", 2),
        ('{"version": 1}\n', "invalid TOML: Invalid statement (it looks like JSON", 1),
        ("version = 1\n[tags]\n[tags]\n", "invalid TOML: Cannot declare [tags] twice", 3),
        (
            'version = 1\n[tags.defaults]\na = "b"\n[tags.defaults]\n',
            "invalid TOML: Cannot declare [tags.defaults] twice",
            4,
        ),
        ('version = 1\n["naming"]\nx =\n', "invalid TOML: Invalid value", 3),
        (
            'version = 1\nmode = "warn"\n  mode = "enforce"  \n',
            "invalid TOML: Cannot overwrite a value (first at line 2)",
            3,
        ),
    ],
    ids=["yaml", "yaml-document", "json", "table-twice", "dotted-table-twice", "toml", "twice"],
)
def test_a_policy_in_yaml_or_json_says_so(
    tmp_path: Path, data: str, problem: str, line: int
) -> None:
    """A first policy written in YAML or JSON got the TOML parser's word alone ("Expected '='
    after a key"), a table declared twice was shown as a Python tuple, ``('tags',)``, and a
    key set twice was not shown at all (tomllib names none)."""
    path = tmp_path / "p.toml"
    path.write_text(data)
    error = policy_error_of(lambda: load_policy(path))
    assert (error.line, problem in error.problem) == (line, True), error.problem
    assert data.startswith(("version: 1", "#", "{")) == ("looks like" in error.problem)


# --- a value of another TOML type wherever a string belongs ---------------------------------

STRING_KEYS = [
    # (the key as PolicyError names it, the document with {} where the value goes, its line)
    ("mode", "version = 1\nmode = {}\n", 2),
    ("services[0]", "version = 1\nservices = [{}]\n", 2),
    ("services[1]", 'version = 1\nservices = ["rds", {}]\n', 2),
    ("naming.pattern", "version = 1\n[naming]\npattern = {}\n", 3),
    ("naming.generate", "version = 1\n[naming]\ngenerate = {}\n", 3),
    (
        "naming.operations.CopyDBSnapshot.pattern",
        "version = 1\n[naming.operations.CopyDBSnapshot]\npattern = {}\n",
        3,
    ),
    (
        "naming.operations.DeleteDBCluster.generate",
        "version = 1\n\n[naming.operations.DeleteDBCluster]\ngenerate = {}\n",
        4,
    ),
    ("tags.required[0]", "version = 1\n[tags]\nrequired = [{}]\n", 3),
    ("tags.defaults.owner", "version = 1\n[tags.defaults]\nowner = {}\n", 3),
    ("tags.forced.compliance", "version = 1\n[tags.forced]\ncompliance = {}\n", 3),
    ("tags.allowed.env[0]", "version = 1\n[tags.allowed]\nenv = [{}]\n", 3),
    ("tags.patterns.owner", "version = 1\n[tags.patterns]\nowner = {}\n", 3),
    ("sharing.accounts[0]", "version = 1\n[sharing]\naccounts = [{}]\n", 3),
    ("audit.path", "version = 1\n[audit]\npath = {}\n", 3),
    ("audit.hmac_key_env", "version = 1\n[audit]\nhmac_key_env = {}\n", 3),
    ("tags.defaults.owner", "version = 1\ntags = {{ defaults = {{ owner = {} }} }}\n", 2),
    ("tags.forced.compliance", "version = 1\ntags.forced.compliance = {}\n", 2),
]

NOT_STRINGS = [
    ("1979-05-27T07:32:00Z", "a datetime"),
    ("1979-05-27T07:32:00.999999-07:00", "a datetime"),
    ("1979-05-27T07:32:00", "a datetime"),
    ("1979-05-27", "a date"),
    ("07:32:00", "a time"),
    ('["x"]', "an array"),
    ("[]", "an array"),
    ('{ x = "y" }', "a table"),
    ("{}", "a table"),
    ("42", "an integer"),
    ("-0x2a", None),  # TOML has no negative hex: invalid TOML
    ("4.2e1", "a number"),
    ("inf", "a number"),
    ("nan", "a number"),
    ("true", "a boolean"),
]


@pytest.mark.parametrize(
    ("literal", "kind"), [pytest.param(lit, kind, id=lit) for lit, kind in NOT_STRINGS]
)
@pytest.mark.parametrize(
    ("key", "document", "line"),
    [pytest.param(*case, id=f"{case[0]}@{case[2]}") for case in STRING_KEYS],
)
def test_every_string_key_refuses_every_other_toml_type(
    tmp_path: Path, key: str, document: str, line: int, literal: str, kind: str | None
) -> None:
    """Datetimes, dates, times, arrays, tables, numbers and booleans where a string belongs:
    a PolicyError naming the file, the line and the key (and the type that was found)."""
    path = tmp_path / "p.toml"
    path.write_text(document.format(literal))
    error = policy_error_of(lambda: load_policy(path))
    assert (error.path, error.line) == (str(path), line)
    if kind is None:
        assert error.problem.startswith("invalid TOML")
        return
    assert error.key == key
    if key == "mode":
        assert error.problem.startswith('must be "enforce" or "warn", not ')
    else:
        assert error.problem.endswith(f"not {kind}")


# --- size and depth -------------------------------------------------------------------------

MIB = 1024 * 1024
FIVE_MB = 5 * 1024 * 1024
UNDER_A_MIB = MIB - 4096
"""A value or a filler that leaves a policy just under the 1 MiB a policy file may hold."""


@pytest.mark.parametrize("table", ["defaults", "forced"])
def test_a_mib_of_tag_templates_is_refused_by_their_count_before_any_is_read(table: str) -> None:
    """Defaults were not counted against AWS's 50 tags per snapshot: a MiB of them loaded
    (every create then blocked by `tags.aws`), after seconds of rendering each one's dates
    several times over; a MiB of forced ones was refused only after that. The count is
    checked first, defaults in it."""
    lines = "".join(f"k{i} = '{{utcnow}}'\n" for i in range(UNDER_A_MIB // 24))
    error = policy_error_of(
        lambda: rds_guard.Policy.from_toml(f"version = 1\n[tags.{table}]\n{lines}")
    )
    assert error.key == f"tags.{table}"
    assert f"name {UNDER_A_MIB // 24} keys between them" in error.problem


def test_a_policy_of_just_under_1_mib_of_comments_loads(tmp_path: Path) -> None:
    """A MiB of comments and blank lines around a real policy: it loads, and its digest is of
    the whole file."""
    import hashlib

    filler = ("# " + "x" * 98 + "\n") * (UNDER_A_MIB // 202)
    data = (filler + 'version = 1\nmode = "warn"\n' + filler).encode()
    assert len(data) <= MIB
    path = tmp_path / "p.toml"
    path.write_bytes(data)
    policy = without_hanging(lambda: load_policy(path))
    assert policy.mode == "warn"
    assert policy.sha256 == hashlib.sha256(data).hexdigest()


def test_a_policy_file_over_1_mib_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """5 MB (comments around a valid policy): a PolicyError saying how large a policy may
    be, naming the file; only a byte past the limit is read."""
    path = tmp_path / "p.toml"
    path.write_text("version = 1\n" + ("# " + "x" * 98 + "\n") * (FIVE_MB // 100))
    error = policy_error_of(lambda: load_policy(path))
    assert (error.path, error.line, error.key) == (str(path), None, None)
    assert error.problem == (
        "is more than 1,048,576 bytes: a policy file may hold at most 1,048,576 (1 MiB)"
    )


def test_policy_text_over_1_mib_is_refused_before_it_is_parsed() -> None:
    """Policy.from_toml counts the text's UTF-8 bytes: a MiB of 'é' is two."""
    error = policy_error_of(lambda: rds_guard.Policy.from_toml("# " + "é" * (MIB // 2), "t.toml"))
    assert (error.path, error.line) == ("t.toml", None)
    assert error.problem == (
        f"is {MIB + 2:,} bytes: a policy file may hold at most 1,048,576 (1 MiB)"
    )
    error = policy_error_of(lambda: rds_guard.Policy.from_toml("x" * FIVE_MB, "t.toml"))
    assert error.problem.startswith(f"is at least {FIVE_MB:,} bytes")


def test_a_policy_of_exactly_1_mib_is_read(tmp_path: Path) -> None:
    """The limit itself is allowed: 1,048,576 bytes are parsed (here: an unknown key)."""
    path = tmp_path / "p.toml"
    head = "version = 1\nx = 1\n"
    path.write_text(head + "#" * (MIB - len(head) - 1) + "\n")
    assert path.stat().st_size == MIB
    error = policy_error_of(lambda: load_policy(path))
    assert (error.line, error.key, error.problem.split(" (")[0]) == (2, "x", "unknown key")


@pytest.mark.parametrize(
    ("tail", "key", "problem"),
    [
        pytest.param(
            "mode = 'x{}'\n", "mode", 'must be "enforce" or "warn", not \'xxxx', id="mode"
        ),
        pytest.param(
            "[tags.defaults]\nnote = 'x{}'\n",
            "tags.defaults.note",
            "characters long: a template makes a snapshot name or a tag (at most 256",
            id="tag-value",
        ),
        pytest.param(
            "[tags.forced]\n'k{}' = 'x'\n", "tags.forced.k", "tag key 'kxxx", id="tag-key"
        ),
        pytest.param("x = 1\n#{}\n", "x", "unknown key", id="unknown-key"),
    ],
)
def test_a_value_of_a_megabyte_is_a_short_policy_error_on_its_line(
    tmp_path: Path, tail: str, key: str, problem: str
) -> None:
    """A value of a megabyte (or a megabyte after the error): the error names its line and
    key, and its message stays short."""
    path = tmp_path / "p.toml"
    path.write_text("version = 1\n" + tail.replace("{}", "x" * UNDER_A_MIB))
    error = policy_error_of(lambda: load_policy(path))
    assert error.path == str(path)
    assert error.line == 2 or (error.line == 3 and "[" in tail)
    assert error.key is not None and error.key.startswith(key)
    assert problem in error.problem
    assert len(str(error)) < 1000


def test_a_megabyte_of_junk_is_a_policy_error_on_its_first_line(tmp_path: Path) -> None:
    """A megabyte of random-looking bytes that are valid UTF-8 but no TOML."""
    path = tmp_path / "p.toml"
    path.write_text("version = 1\n" + "=}{[]\"'\\" * (UNDER_A_MIB // 8))
    error = policy_error_of(lambda: load_policy(path))
    assert (error.path, error.line) == (str(path), 2)
    assert error.problem.startswith("invalid TOML")


DEPTH = 10_000


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("version = 1\nmode = " + "[" * DEPTH + "]" * DEPTH + "\n", id="arrays"),
        pytest.param(
            "version = 1\nmode = " + "{ a = " * DEPTH + "1" + " }" * DEPTH + "\n",
            id="inline-tables",
        ),
        pytest.param(
            "version = 1\n[tags]\nrequired = " + "[" * DEPTH + "]" * DEPTH + "\n",
            id="arrays-in-a-table",
        ),
        pytest.param("version = 1\n" + "[" * DEPTH + "\n", id="unclosed-arrays"),
        pytest.param(
            "version = 1\n[tags." + ".".join(["t"] * DEPTH) + "]\n", id="deep-table-header"
        ),
        pytest.param("version = 1\n" + ".".join(["a"] * DEPTH) + " = 1\n", id="deep-dotted-key"),
    ],
)
def test_10_000_levels_of_nesting_are_a_policy_error(tmp_path: Path, document: str) -> None:
    """10,000 nested arrays, inline tables, table headers or dotted keys, in a file: a
    PolicyError naming the file, never a RecursionError."""
    path = tmp_path / "p.toml"
    path.write_text(document)
    error = policy_error_of(lambda: load_policy(path))
    assert type(error) is PolicyError
    assert error.path == str(path)
    assert error.line in (None, 2, 3)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("version = 1\n" + ".".join(["a"] * 20_000) + " = 1\n", id="dotted-key"),
        pytest.param("version = 1\n[" + ".".join(["a"] * 20_000) + "]\n", id="table-header"),
        pytest.param("version = 1\n" + " . ".join(['"a"'] * 20_000) + " = 1\n", id="quoted-parts"),
    ],
)
def test_a_key_of_20_000_parts_is_refused_before_it_is_parsed(document: str) -> None:
    """tomllib takes seconds on a key of 20,000 dotted parts (quadratic): refused first, on
    its line, the key cut short in the message."""
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(document, "p.toml"))
    assert (error.path, error.line) == ("p.toml", 2)
    assert error.problem == "a key of more than 32 dotted parts (no policy key has more than four)"
    assert error.key is not None and error.key.startswith("a.a.a")
    assert len(str(error)) < 300


@pytest.mark.parametrize(
    ("lines", "line", "key", "problem"),
    [
        pytest.param(
            [f"[t{n}.b.b.b.b.b.b.b]" for n in range(300)],
            258,
            "t256.b.b.b.b.b.b.b",
            "more than 256 table headers",
            id="headers",
        ),
        pytest.param(
            [f"  [[ t{n} ]]" for n in range(300)], 258, "t256", "more than 256 table headers"
        ),
        pytest.param(
            [f"t{n}.b.b.b.b.b.b.b = 1" for n in range(600)],
            587,
            "t585.b.b.b.b.b.b.b",
            "more than 4096 dots in its keys and table headers together",
            id="dotted-keys",
        ),
        pytest.param(
            [f'"x\\"{n}" . b . "c" = 1' for n in range(3000)],
            2050,
            '"x\\"2048".b.c',
            "more than 4096 dots in its keys and table headers together",
            id="quoted-parts-escaped-quotes",
        ),
    ],
)
def test_a_policy_of_too_many_headers_or_dots_is_refused_before_it_is_parsed(
    lines: list[str], line: int, key: str, problem: str
) -> None:
    """tomllib takes seconds on a MiB of dotted table headers (or dotted keys): more than any
    policy needs is refused first, at the header or key that goes past the bound."""
    document = "version = 1\n" + "\n".join(lines) + "\n"
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(document, "p.toml"))
    assert (error.path, error.line, error.key) == ("p.toml", line, key)
    assert error.problem.startswith(problem), error.problem


def test_as_many_headers_and_dots_as_allowed_and_dots_in_quoted_keys_are_parsed() -> None:
    """256 headers, 4096 dots in keys, and dots inside quoted keys (a tag key may hold dots)
    are read as TOML: the policy's own errors follow (here: an unknown key)."""
    headers = "".join(f"[t{n}.b.b.b.b.b.b.b]\n" for n in range(256))
    dotted = "".join(f"k{n}.a.b.c.d.e.f.g = 1\n" for n in range(4096 // 7 - 256))
    allowed = "".join(f'"app.kubernetes.io/n{n}" = ["a"]\n' for n in range(3000))
    quoted = "[tags.allowed]\n" + allowed
    error = policy_error_of(lambda: rds_guard.Policy.from_toml("version = 1\n" + headers + dotted))
    assert (error.line, error.key) == (2, "t0")
    assert error.problem.startswith("unknown key")
    policy = rds_guard.Policy.from_toml("version = 1\n" + quoted)
    assert len(policy.tags.allowed) == 3000


def test_nested_headers_are_refused_at_the_first_of_more_than_32_parts() -> None:
    """[a], [a.a], ... 299 headers: the one of 33 parts (line 34) is refused."""
    document = "version = 1\n" + "".join(f"[{'.'.join(['a'] * n)}]\n" for n in range(1, 300))
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(document))
    assert error.line == 34
    assert error.key == ".".join(["a"] * 33)


def test_a_key_of_32_parts_is_parsed() -> None:
    """32 parts is no problem to tomllib: the key is read, and is unknown."""
    document = "version = 1\n" + ".".join(["a"] * 32) + " = 1\n"
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(document))
    assert (error.line, error.key) == (2, "a")
    assert error.problem.startswith("unknown key")


def test_a_line_of_many_dots_outside_keys_is_no_deep_key() -> None:
    """Dots in a value (a regex, a comment) are no key parts: the policy loads."""
    document = "version = 1\n[tags.patterns]\nowner = '" + "\\." * 100 + "' # " + "." * 100 + "\n"
    policy = without_hanging(lambda: rds_guard.Policy.from_toml(document))
    assert policy.tags.patterns["owner"].fullmatch("." * 100)


# --- the line finder behind every message ---------------------------------------------------

MULTILINE = "version = 1\nunknown = 1\nx = '''\n{}\n'''\n"


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(MULTILINE.format("[" + " " * 4000), id="bracket-and-spaces"),
        pytest.param(MULTILINE.format(("[" + " " * 4000 + "\n") * 250), id="a-megabyte-of-them"),
        pytest.param(MULTILINE.format("[" * 500_000), id="brackets"),
        pytest.param(MULTILINE.format("k = [" * 100_000), id="assignments"),
        pytest.param(
            "version = 1\nunknown = 1\nx = [" + "[1, '[', \"]\"], " * 50_000 + "]\n",
            id="arrays",
        ),
        pytest.param("version = 1\nunknown = 1\n" + "a" * 500_000 + "\n", id="bare-words"),
    ],
)
def test_reporting_an_error_is_linear_in_the_text(document: str) -> None:
    """The line finder reads the text once (it took 71 s to report an unknown key next to a
    multi-line string holding '[' and 4,000 spaces): the key is reported on its line."""
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(document, "p.toml"))
    assert error.path == "p.toml"
    assert error.line in (2, 3)


def test_the_line_finder_skips_what_multiline_strings_hold() -> None:
    """A multi-line string holding '[naming]' and 'pattern = 1' lines: the error names the
    key's own line, not one inside the string."""
    document = (
        "version = 1\n[audit]\npath = '''\n[naming]\npattern = 1\n'''\n[naming]\npattern = 5\n"
    )
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(document))
    assert (error.key, error.line) == ("naming.pattern", 8)


# --- regexes that made Python's re backtrack for seconds --------------------------------------

BACKTRACKED = [
    # the first-contact report: each took seconds on its value under Python's re
    (r"^(a?){28}a{28}$", "a" * 28, True),
    (r"^((a+)+b)$", "a" * 40, False),
    (r"^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*$", "a" * 60 + "!", False),
    (r"(.+Ω)+", "Ω" * 40 + "1", False),
    # the shapes the hand-written checker used to refuse
    (r"^([a-z]+)+-x$", "a" * 60, False),
    (r"(a+)+", "a" * 60 + "!", False),
    (r"(a*)*b", "a" * 60, False),
    (r"^(\w+\s?)+$", "a" * 60 + "!", False),
    (r"^(\d+)*$", "1" * 60 + "a", False),
    (r"(.*a){12}", "a" * 60 + "!", False),
    (r"(x+x+)+y", "x" * 60, False),
    (r"^(([a-z])+.)+[A-Z]([a-z])+$", "a" * 60, False),
    (r"(a|a)*b", "a" * 60, False),
    (r"(a|aa)*b", "a" * 60, False),
    (r"^(a|b|ab)*$", "ab" * 60 + "!", False),
    (r"(\w|\d\d)+x", "1" * 60, False),
    (r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+$", "a" * 60 + "!", False),
]
HOSTILE_VALUES = [
    "a" * 255 + "!",
    "a " * 127 + "!",
    "x" * 63 + "-",
    "1." * 120 + "!",
    "ab" * 127 + "!",
    "Ω" * 255 + "1",
]


@pytest.mark.parametrize(("pattern", "value", "matches"), BACKTRACKED)
def test_a_pattern_that_backtracked_matches_at_once(
    pattern: str, value: str, matches: bool
) -> None:
    """RE2 never backtracks: the value that took Python's re seconds is judged at once."""
    compiled = rds_guard.Policy.from_toml(
        f"version = 1\n[tags.patterns]\nowner = '{pattern}'\n"
    ).tags.patterns["owner"]
    assert without_hanging(lambda: compiled.fullmatch(value)) is matches


@pytest.mark.parametrize("pattern", [case[0] for case in BACKTRACKED])
def test_every_hostile_value_up_to_aws_limits_is_judged_without_hanging(pattern: str) -> None:
    """As a naming pattern and as a tag pattern, on identifiers and tag values up to AWS's
    255 and 256 characters: a decision, never a hang."""
    # an identifier holds lowercase ASCII letters, digits and hyphens only: a literal Ω or @,
    # or a class of none of them ([A-Z], [_]), never matches one, and a naming pattern is
    # refused for it
    naming = pattern.replace("Ω", "z").replace("(@)", "(-)")
    naming = naming.replace("[A-Z]", "[a-z]").replace("[_]", "[-]")
    policy = rds_guard.Policy.from_toml(
        f"version = 1\n[naming]\npattern = '{naming}'\n[tags.patterns]\nowner = '{pattern}'\n"
        "[audit]\nenabled = false\n"
    )
    values = [*HOSTILE_VALUES, *(case[1] for case in BACKTRACKED)]

    def evaluate_all() -> list[rds_guard.Decision]:
        return [
            rds_guard.evaluate(
                policy,
                "CreateDBSnapshot",
                {
                    "DBInstanceIdentifier": "db",
                    "DBSnapshotIdentifier": value[:255],
                    "Tags": [{"Key": "owner", "Value": value[:256]}],
                },
            )
            for value in values
        ]

    decisions = without_hanging(evaluate_all)
    assert len(decisions) == len(values)


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        (r"^(?>(a+)+b)$", "atomic group"),
        (r"(?>a+)+x", "atomic group"),
        (r"(a++)+x", "possessive repeat ++"),
        (r"([a-z]++)+-x", "possessive repeat ++"),
    ],
)
def test_the_old_way_out_of_backtracking_is_refused_by_name(pattern: str, named: str) -> None:
    """Atomic groups and possessive repeats, which the old checker asked for, do not exist in
    RE2 (which needs neither): a PolicyError naming the construct, at its column."""
    error = policy_error_of(
        lambda: rds_guard.Policy.from_toml(
            f"version = 1\n[tags.patterns]\nowner = '{pattern}'\n", "p.toml"
        )
    )
    assert (error.key, error.line) == ("tags.patterns.owner", 3)
    assert f"RE2 has no {named}" in error.problem
    assert "column" in error.problem


# --- regexes that would make RE2 itself slow to load ------------------------------------------

UNICODE_CLASSES = ["\\\\w", "\\\\d", "\\\\W", "\\\\D", "\\\\p{L}", "[\\\\w]"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            '[naming]\npattern = "' + "\\\\w" * 300_000 + '"\n',
            "may hold 65,536 characters in all",
            id="a-megabyte-of-\\w",
        ),
        pytest.param(
            '[naming]\npattern = "' + "a" * 1_000_000 + '"\n',
            "may hold 65,536 characters in all",
            id="a-megabyte-of-text",
        ),
        pytest.param(
            "[tags.patterns]\n"
            + "".join(f'k{i} = "^{UNICODE_CLASSES[i % 6]}{i}$"\n' for i in range(70)),
            "may hold 64 Unicode classes in all",
            id="70-patterns-with-a-class",
        ),
        pytest.param(
            "[tags.patterns]\n"
            + "".join(f'k{i} = "^(.{{1,30}}){{1,30}}{i}$"\n' for i in range(40)),
            "may compile to 200,000 RE2 instructions in all",
            id="40-large-programs",
        ),
        pytest.param(
            "[tags.patterns]\n" + "".join(f'k{i} = "^{"a" * 70}{i}$"\n' for i in range(1_000)),
            "may hold 65,536 characters in all",
            id="1,000-longer-patterns",
        ),
        pytest.param(
            "[tags.patterns]\n" + "".join(f'k{i} = "^a{i}(b|c)+$"\n' for i in range(30_000)),
            "may hold 1,024 regexes in all",
            id="30,000-patterns",
        ),
        pytest.param(
            "[tags.patterns]\n" + "".join(f"k{i:x} = ''\n" for i in range(60_000)),
            "may hold 1,024 regexes in all",
            id="60,000-empty-patterns",
        ),
    ],
)
def test_regexes_that_would_take_re2_seconds_to_build_are_refused(body: str, problem: str) -> None:
    """RE2 builds \\w in up to half a millisecond and compiles about a million instructions a
    second: a policy's regexes are held to 1,024 regexes, 64 Unicode classes, 200,000
    instructions and 65,536 characters in all, each charged before RE2 does the work."""
    error = policy_error_of(lambda: rds_guard.Policy.from_toml("version = 1\n" + body, "p.toml"))
    assert error.path == "p.toml" and error.line is not None
    assert problem in error.problem


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[tags.defaults]\nk = "{utcnow:' + "%c" * 500_000 + '}"\n', "tags.defaults.k"),
        ('[tags.forced]\nk = "' + "%Y" * 500_000 + '"\n', "tags.forced.k"),
        ('[naming]\ngenerate = "{utcnow:' + "%Y" * 250_000 + '}"\n', "naming.generate"),
    ],
    ids=["%c-in-a-default", "%Y-in-a-forced-tag", "%Y-in-generate"],
)
def test_a_template_longer_than_anything_it_could_make_is_refused_unread(
    body: str, key: str
) -> None:
    """A template is rendered at load for the days it is checked on: a mebibyte of ``%c``
    rendered twelve million characters, each checked against AWS's tag rules, for 16 seconds.
    A template is at most 4,096 characters, refused before anything of it is rendered."""
    error = policy_error_of(lambda: rds_guard.Policy.from_toml("version = 1\n" + body, "p.toml"))
    assert (error.path, error.line, error.key) == ("p.toml", 3, key)
    assert "characters long" in error.problem and "longer than 4096 is not read" in error.problem


def test_a_template_of_4096_characters_is_read() -> None:
    """At the limit, the template is read: what it renders is judged as for any other."""
    text = "{utcnow:%Y}" + "a" * 4085
    error = policy_error_of(
        lambda: rds_guard.Policy.from_toml(f'version = 1\n[tags.defaults]\nk = "{text}"\n')
    )
    assert "is not read" not in error.problem
    assert "must be 0 to 256 characters long, is 4089" in error.problem


def test_a_policy_within_the_regex_budget_loads() -> None:
    """64 Unicode classes, spread over patterns: it loads."""
    body = "".join(f'k{i} = "^{UNICODE_CLASSES[i % 6]}-{i}$"\n' for i in range(64))
    policy = without_hanging(
        lambda: rds_guard.Policy.from_toml("version = 1\n[tags.patterns]\n" + body)
    )
    assert len(policy.tags.patterns) == 64


def test_a_policy_of_1024_regexes_loads_and_the_next_is_refused_at_its_line() -> None:
    """Every regex costs RE2 time however short it is: a policy holds at most 1,024, its
    naming patterns counted with its tag patterns; the first past that is named."""
    body = "".join(f"k{i} = '^v{i}$'\n" for i in range(1_024))
    head = "version = 1\n[tags.patterns]\n"
    policy = without_hanging(lambda: rds_guard.Policy.from_toml(head + body))
    assert len(policy.tags.patterns) == 1_024
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(head + body + "last = 'x'\n"))
    assert (error.key, error.line) == ("tags.patterns.last", 3 + 1_024)
    assert "may hold 1,024 regexes in all" in error.problem
    named = "[naming]\npattern = '^{source}-[0-9]+$'\n"
    error = policy_error_of(lambda: rds_guard.Policy.from_toml(head + body + named))
    assert (error.key, error.line) == ("naming.pattern", 4 + 1_024)
    assert "may hold 1,024 regexes in all" in error.problem


# --- {env:NAME} that expands, at call time, to something AWS forbids ------------------------

SAFE_ENV = {"SNAPSHOT_PREFIX": "orders", "APP_OWNER": "team-a", "COST_CENTER": "cc-1"}
FORBIDDEN = [  # (no NUL: the environment cannot hold one)
    pytest.param("line\nbreak", id="newline"),
    pytest.param("aws:owner", id="aws-prefix"),
    pytest.param("RDS:owner", id="rds-prefix-any-case"),
    pytest.param("x" * 300, id="300-characters"),
    pytest.param("tab\there", id="tab"),
    pytest.param("\udcff-not-utf8", id="surrogate-escaped-byte"),
    pytest.param("\u200bzero-width", id="zero-width-space"),
]


def evaluated(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> rds_guard.Decision:
    for name, value in {**SAFE_ENV, **env}.items():
        monkeypatch.setenv(name, value)
    policy = rds_guard.Policy.from_toml(FROM_ENVIRONMENT)
    return rds_guard.evaluate(
        policy,
        "CreateDBClusterSnapshot",
        {"DBClusterIdentifier": "orders"},
        source_tags=None,
    )


def test_the_env_policy_is_fine_with_safe_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: with ordinary values the same policy breaks no rule."""
    decision = evaluated(monkeypatch, {})
    assert decision.allowed, decision.violations
    assert decision.params["DBClusterSnapshotIdentifier"].startswith("orders-manual-")


@pytest.mark.parametrize("value", FORBIDDEN)
@pytest.mark.parametrize(
    ("variable", "field"),
    [("APP_OWNER", "Tags.owner"), ("COST_CENTER", "Tags.cost-center")],
)
def test_a_tag_template_expanding_to_a_forbidden_value_is_tags_aws(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str, value: str
) -> None:
    """{env:NAME} in tags.defaults / tags.forced expanding to a newline, an aws: prefix, 300
    characters, a surrogate-escaped byte...: a tags.aws violation on that tag."""
    decision = evaluated(monkeypatch, {variable: value})
    found = [v for v in decision.violations if v.field == field]
    assert [v.rule for v in found] == ["tags.aws"], decision.violations
    assert [v.field for v in decision.violations] == [field]


@pytest.mark.parametrize("value", FORBIDDEN)
def test_a_generated_identifier_expanding_to_a_forbidden_value_is_identifier_aws(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """naming.generate with {env:NAME} expanding to what AWS forbids in an identifier."""
    decision = evaluated(monkeypatch, {"SNAPSHOT_PREFIX": value})
    assert [v.rule for v in decision.violations] == ["identifier.aws"]
    assert decision.violations[0].field == "DBClusterSnapshotIdentifier"


def test_an_unset_variable_is_template_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset {env:NAME}: template.env naming the variable, not a KeyError."""
    monkeypatch.delenv("APP_OWNER", raising=False)
    for name in ("SNAPSHOT_PREFIX", "COST_CENTER"):
        monkeypatch.setenv(name, SAFE_ENV[name])
    policy = rds_guard.Policy.from_toml(FROM_ENVIRONMENT)
    decision = rds_guard.evaluate(policy, "CreateDBClusterSnapshot", {"DBClusterIdentifier": "o"})
    assert [(v.rule, v.field, v.value) for v in decision.violations] == [
        ("template.env", "tags.defaults.owner", "APP_OWNER")
    ]


@pytest.mark.parametrize("value", FORBIDDEN)
def test_a_forbidden_expansion_through_a_guarded_client_is_a_violation(
    moto_inprocess: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    """The same expansions through a real guarded client: PolicyViolation naming tags.aws and
    identifier.aws, and nothing is sent; never an exception of another kind."""
    for name in SAFE_ENV:
        monkeypatch.setenv(name, value)
    client = guarded_client(write_policy(tmp_path, FROM_ENVIRONMENT))
    make_cluster(client)
    sent = count_sent(client)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        without_hanging(lambda: client.create_db_cluster_snapshot(DBClusterIdentifier="orders"))
    # blocked on the identifier, yet the source is read, so the defaults are judged too
    assert {(v.rule, v.field) for v in caught.value.violations} == {
        ("identifier.aws", "DBClusterSnapshotIdentifier"),
        ("tags.aws", "Tags.cost-center"),
        ("tags.aws", "Tags.owner"),
    }
    assert sent.count("CreateDBClusterSnapshot") == 0
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        without_hanging(
            lambda: client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-1"
            )
        )
    assert {(v.rule, v.field) for v in caught.value.violations} == {
        ("tags.aws", "Tags.owner"),
        ("tags.aws", "Tags.cost-center"),
    }
    assert sent.count("CreateDBClusterSnapshot") == 0


CREDENTIALS_IN_VALUES = [
    pytest.param("postgres://app:hunter2@db.internal/prod", "hunter2", id="url-password"),
    pytest.param("https://deploy@git.internal/orders", "deploy@", id="url-user"),
    pytest.param("key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", id="access-key-id"),
    pytest.param("ci_AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", id="access-key-id-after-_"),
    pytest.param("ASIAIOSFODNN7EXAMPLE_x", "ASIAIOSFODNN7EXAMPLE", id="access-key-id-before-_"),
    pytest.param("svcAKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", id="access-key-id-in-a-word"),
]
"""Values a variable of an innocent name may hold, each with the part that must never be
written: what the audit log's redaction hides in a message (docs/audit.md)."""


@pytest.mark.parametrize(("value", "secret"), CREDENTIALS_IN_VALUES)
def test_a_variable_whose_value_shows_a_credential_is_template_env(
    monkeypatch: pytest.MonkeyPatch, value: str, secret: str
) -> None:
    """{env:NAME} of a name no credential word is in, whose value shows one: template.env
    naming the variable, the tag not made, the value quoted nowhere; in ``generate`` too."""
    decision = evaluated(monkeypatch, {"APP_OWNER": value})
    assert [(v.rule, v.field, v.value) for v in decision.violations] == [
        ("template.env", "tags.defaults.owner", "APP_OWNER")
    ]
    assert "holds" in decision.violations[0].message
    assert secret not in repr(decision)
    assert "owner" not in decision.tags
    named = evaluated(monkeypatch, {"APP_OWNER": "team-a", "SNAPSHOT_PREFIX": value})
    assert [(v.rule, v.field) for v in named.violations] == [("template.env", "naming.generate")]
    assert secret not in repr(named)


def test_a_variable_holding_a_plain_url_is_written_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Control: a URL without user information, or with an ``@`` past its host, is no
    credential: the tag holds it."""
    for url in ("https://wiki.example.com/orders", "https://example.com/team/@orders"):
        decision = evaluated(monkeypatch, {"APP_OWNER": url})
        assert decision.allowed, decision.violations
        assert decision.tags["owner"] == url


@pytest.mark.parametrize(("value", "secret"), CREDENTIALS_IN_VALUES)
def test_a_credential_in_a_variables_value_never_reaches_aws_nor_the_audit_log(
    moto_inprocess: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, secret: str
) -> None:
    """Through a real guarded client: blocked on template.env, nothing sent, and the audit
    log's ``blocked`` record holds neither the value nor the credential in it."""
    for name, safe in SAFE_ENV.items():
        monkeypatch.setenv(name, safe)
    monkeypatch.setenv("COST_CENTER", value)
    audited = FROM_ENVIRONMENT.replace("enabled = false", 'path = "audit.jsonl"\nfsync = false')
    client = guarded_client(write_policy(tmp_path, audited))
    make_cluster(client)
    sent = count_sent(client)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        without_hanging(lambda: client.create_db_cluster_snapshot(DBClusterIdentifier="orders"))
    assert [(v.rule, v.field) for v in caught.value.violations] == [
        ("template.env", "tags.forced.cost-center")
    ]
    assert sent.count("CreateDBClusterSnapshot") == 0
    log = (tmp_path / "audit.jsonl").read_text()
    assert '"event":"blocked"' in log.replace(" ", "")
    assert secret not in log and secret not in str(caught.value)


def test_in_warn_mode_a_credential_in_a_variables_value_is_sent_nowhere(
    moto_inprocess: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Warn mode sends the call: without the tag the value would have made, the warning and
    the records naming the variable alone, the snapshot's tags (as AWS holds them) free of it."""
    secret = "hunter2"
    for name, safe in SAFE_ENV.items():
        monkeypatch.setenv(name, safe)
    monkeypatch.setenv("COST_CENTER", f"postgres://app:{secret}@db.internal/prod")
    audited = FROM_ENVIRONMENT.replace("enabled = false", 'path = "audit.jsonl"\nfsync = false')
    client = guarded_client(write_policy(tmp_path, audited, mode="warn"))
    make_cluster(client)
    with caplog.at_level("WARNING", logger="rds_guard"):
        made = client.create_db_cluster_snapshot(DBClusterIdentifier="orders")
    arn = made["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    tags = client.list_tags_for_resource(ResourceName=arn)["TagList"]
    assert "cost-center" not in {tag["Key"] for tag in tags}
    assert {"Key": "owner", "Value": "team-a"} in tags
    assert "template.env" in caplog.text and "COST_CENTER" in caplog.text
    assert secret not in caplog.text
    assert secret not in (tmp_path / "audit.jsonl").read_text()


def test_a_removed_working_directory_is_a_policy_error_not_an_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No policy named, run from a folder since removed: the messages that name the working
    directory, and a policy text whose audit path is taken from it."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.delenv("RDS_GUARD_POLICY", raising=False)
    with pytest.raises(PolicyError, match="in the working directory, which was removed"):
        rds_guard.install(botocore.session.Session())
    with pytest.raises(PolicyError, match="taken from the working directory: No such file"):
        rds_guard.Policy.from_toml("version = 1\n")
    assert cli.main(["check"]) == 2
    assert "(in the working directory, which was removed)" in capsys.readouterr().err

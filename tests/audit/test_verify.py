"""Verification: the chain walked, and every kind of tampering named with its line."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_helpers import (
    first_format_log,
    lines_of,
    make_log,
    relink,
    reseal,
    synthetic_log,
    write_lines,
)

from rds_guard import audit
from rds_guard.errors import AuditError

# --- verification -------------------------------------------------------------------------


@pytest.fixture
def ten(log_path: Path) -> list[bytes]:
    make_log(log_path, 10)
    return lines_of(log_path)


def _verify(
    path: Path, *, hmac_key: bytes | None = None, head: str | None = None
) -> audit.VerifyResult:
    return audit.verify([path], hmac_key=hmac_key, head=head)


def test_verify_ok(log_path: Path, ten: list[bytes]) -> None:
    result = _verify(log_path)
    assert result.summary() == f"ok: 10 records, head {hashlib.sha256(ten[-1]).hexdigest()}"


def test_verify_an_empty_log(log_path: Path) -> None:
    log_path.touch()
    assert _verify(log_path).summary() == f"ok: 0 records, head {'0' * 64}"


def test_verify_a_flipped_byte(log_path: Path, ten: list[bytes]) -> None:
    ten[4] = ten[4].replace(b'"event":"requested"', b'"event":"requesteD"')
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 5)
    assert result.summary().startswith("line 5: edited: ")


def test_verify_an_edited_prev(log_path: Path, ten: list[bytes]) -> None:
    ten[6] = ten[6][:9] + b"f" * 64 + ten[6][73:]
    write_lines(log_path, ten)
    assert (_verify(log_path).reason, _verify(log_path).line) == ("edited", 7)


def test_verify_an_edited_seq(log_path: Path, ten: list[bytes]) -> None:
    ten[3] = ten[3].replace(b'"seq":4,', b'"seq":9,')
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 4)
    assert "own SHA-256 digest does not match" in str(result.detail)
    ten[3] = reseal(ten[3])  # sealed again: only the chain gives it away
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 4)
    assert "seq was changed" in str(result.detail)
    assert len(result.findings) == 1


def test_verify_a_deleted_line(log_path: Path, ten: list[bytes]) -> None:
    del ten[5]
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("removed", 6)
    assert "seq jumps from 5 to 7" in str(result.detail)


def test_verify_a_deleted_first_line(log_path: Path, ten: list[bytes]) -> None:
    write_lines(log_path, ten[1:])
    assert (_verify(log_path).reason, _verify(log_path).line) == ("removed", 1)


def test_verify_swapped_lines(log_path: Path, ten: list[bytes]) -> None:
    ten[2], ten[3] = ten[3], ten[2]
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("reordered", 3)


def test_verify_of_two_logs_given_as_one_says_the_second_starts_a_chain_of_its_own(
    tmp_path: Path,
) -> None:
    """Two logs of their own given to one `verify` (``verify *.jsonl`` across hosts): the
    second one's first record is out of place, and the finding says why it is (its prev is
    64 zeros), not only that its seq comes after the first log's last."""
    here, there = tmp_path / "here.jsonl", tmp_path / "there.jsonl"
    make_log(here, 2)
    make_log(there, 2)
    result = audit.verify([here, there])
    assert [(f.line, f.reason, f.path) for f in result.findings[:1]] == [(1, "reordered", there)]
    detail = result.findings[0].detail
    assert "seq 1 comes after seq 2: the file starts a chain of its own" in detail
    # a first record moved behind later ones in one file is out of place as before
    lines = lines_of(here)
    write_lines(here, [lines[1], lines[0]])
    assert "chain of its own" not in str(audit.verify([here]).findings)
    # a file whose first line says seq 1 but links to a record: no chain of its own
    write_lines(here, lines)
    linked = lines_of(there)
    linked[0] = reseal(linked[0].replace(audit.ZERO_HASH.encode(), b"1" * 64, 1))
    write_lines(there, linked)
    found = audit.verify([here, there]).findings
    assert (found[0].line, found[0].reason) == (1, "reordered")
    assert found[0].detail.endswith("seq 1 comes after seq 2")


def test_verify_a_duplicated_line(log_path: Path, ten: list[bytes]) -> None:
    ten.insert(4, ten[3])
    write_lines(log_path, ten)
    assert (_verify(log_path).reason, _verify(log_path).line) == ("reordered", 5)


def test_verify_a_line_cut_mid_way(log_path: Path, ten: list[bytes]) -> None:
    data = log_path.read_bytes()
    log_path.write_bytes(data[: len(data) - 40])
    result = _verify(log_path)
    assert (result.reason, result.line) == ("torn", 10)


def test_verify_a_whole_last_record_missing_only_its_newline(
    log_path: Path, ten: list[bytes]
) -> None:
    """The writer keeps such a record (it adds the newline), so verify counts it and ends its
    head there, and still reports the missing newline."""
    write_lines(log_path, ten, final_newline=False)
    result = _verify(log_path)
    assert (result.reason, result.line, result.records) == ("torn", 10, 10)
    assert result.head == hashlib.sha256(ten[-1]).hexdigest()
    assert result.detail is not None and "the next writer keeps it" in result.detail
    assert audit.head(log_path) == (10, result.head)


def test_verify_a_cut_at_a_line_boundary_needs_the_head(log_path: Path, ten: list[bytes]) -> None:
    head = hashlib.sha256(ten[-1]).hexdigest()
    write_lines(log_path, ten[:8])
    assert _verify(log_path).ok
    assert _verify(log_path, head=head.upper()).reason == "head"
    assert _verify(log_path, head=head).line == 8
    write_lines(log_path, ten)
    assert _verify(log_path, head=head).ok


def test_verify_an_edited_last_record(log_path: Path, ten: list[bytes]) -> None:
    """The last record vouches for itself: an edit is caught without the head; sealed again
    (anyone can, for SHA-256), only the head (or a checkpoint) shows it."""
    head = hashlib.sha256(ten[-1]).hexdigest()
    ten[-1] = ten[-1].replace(b'"event":"requested"', b'"event":"created"')
    write_lines(log_path, ten)
    assert (_verify(log_path).reason, _verify(log_path).line) == ("edited", 10)
    ten[-1] = reseal(ten[-1])
    write_lines(log_path, ten)
    assert _verify(log_path).ok
    assert _verify(log_path, head=head).reason == "head"


def test_verify_a_line_that_is_not_a_record(log_path: Path, ten: list[bytes]) -> None:
    ten.insert(3, b"hello")
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 4)
    assert "not an audit record" in str(result.detail)


@pytest.mark.parametrize("rest", [b"this is not json", b'"x":}', b"}}"])
def test_verify_a_last_line_that_is_not_a_record(
    log_path: Path, ten: list[bytes], rest: bytes
) -> None:
    head = hashlib.sha256(ten[-1]).hexdigest()
    with log_path.open("ab") as stream:
        stream.write(b'{"prev":"%s","seq":11,%s\n' % (head.encode(), rest))
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 11)
    assert result.detail == f"{log_path}: not an audit record"
    assert (result.records, result.head) == (10, head)
    with pytest.raises(AuditError, match="line 11 is not an audit record"):
        audit.AuditLog(log_path, fsync=False).write("requested")  # writers agree


@pytest.mark.parametrize(
    ("edit", "detail"),
    [
        (lambda line: line[:-1] + b",this is not json", "not an audit record"),
        (lambda line: b"XXXXXXXXX" + line[9:], "not an audit record"),
        (lambda line: line + b" ", "in the first format (no digest of its own) after sealed"),
    ],
    ids=["not-json", "prefix", "trailing-space"],
)
def test_verify_a_line_in_the_middle_without_a_records_envelope(
    log_path: Path, ten: list[bytes], edit: Callable[[bytes], bytes], detail: str
) -> None:
    ten[4] = edit(ten[4])
    relink(ten, 4)  # the next line vouches for it: only its shape gives it away
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 5)
    assert detail in str(result.detail)
    assert [f.line for f in result.findings] == [5]


def test_verify_checks_the_last_line_of_every_file(log_path: Path) -> None:
    make_log(log_path, 3)
    archive = audit.rotate(log_path)
    make_log(log_path, 2)
    old, new = lines_of(archive), lines_of(log_path)
    old[-1] = reseal(old[-1][:73] + b'","seq":3,"x":},"digest":"')  # sealed, yet not JSON
    chain = [*old, *new]
    relink(chain, len(old) - 1)
    write_lines(archive, chain[: len(old)])
    write_lines(log_path, chain[len(old) :])
    result = audit.verify([archive, log_path])
    assert (result.reason, result.line, result.path) == ("edited", 3, archive)
    assert result.detail == f"{archive}: not an audit record"


def test_verify_a_keyed_log_without_the_key_says_so(log_path: Path) -> None:
    """Not a finding: the records name their algorithm, so verify knows a key is missing."""
    make_log(log_path, 6, hmac_key=b"k")
    with pytest.raises(audit.KeyRequired) as caught:
        _verify(log_path)
    message = str(caught.value)
    assert f"{log_path}:1:" in message and "HMAC-keyed" in message
    assert "--key-env" in message and "hmac_key_env" in message
    assert caught.value.line == 1
    assert isinstance(caught.value, AuditError)


@pytest.mark.parametrize("at", [0, 5, 10], ids=["before", "between", "after"])
def test_a_line_saying_hmac_in_a_plain_log_is_a_finding_not_a_missing_key(
    log_path: Path, ten: list[bytes], at: int
) -> None:
    """A line that claims hmac-sha256 among a plain log's records (put before them, between
    them or after them) cannot make verify ask for a key the log never had, and hide the
    edits beside it: it is reported, and so is the edit."""
    ten[2] = reseal(ten[2].replace(b'"notes":["m:2"]', b'"notes":["m:X"]'))
    forged = ten[-1].replace(b'"seq":10', b'"seq":11').replace(b'"sha256"', b'"hmac-sha256"')
    assert forged != ten[-1]
    write_lines(log_path, [*ten[:at], forged, *ten[at:]])
    result = _verify(log_path)
    found = {(f.line, f.reason) for f in result.findings}
    assert (at + 1, "edited") in found
    assert "hmac-sha256 among plain records" in str(
        next(f.detail for f in result.findings if f.line == at + 1)
    )
    assert any(f.line in (3, 4) for f in result.findings)  # the edit, not hidden


def test_a_stream_rotated_to_a_key_still_needs_the_key(log_path: Path) -> None:
    """A ledger's stream runs across the files of a series: after ``rotate --key-env`` the
    keyed ``rotated`` record follows plain records in one stream, linking on. It is no line
    added among them: the walk needs the key there, as it does across files."""
    make_log(log_path, 3)
    archive = audit.rotate(log_path, hmac_key=b"k")
    make_log(log_path, 1, hmac_key=b"k")
    lines = [*lines_of(archive), *lines_of(log_path)]
    with pytest.raises(audit.KeyRequired) as caught:
        audit.verify_lines(lines)
    assert caught.value.line == 4
    assert audit.verify_lines(lines, hmac_key=b"k").ok


def test_a_last_line_that_does_not_link_blames_neither_line_alone(
    log_path: Path, ten: list[bytes]
) -> None:
    """The line before the last edited and resealed: the last line's prev no longer links,
    and no line after it tells which of the two was changed. The finding said the last line
    was changed and no longer hashed to "the next line's prev", of which there is none."""
    ten[8] = reseal(ten[8].replace(b'"notes":["m:8"]', b'"notes":["m:X"]'))
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert (result.reason, result.line) == ("edited", 10)
    assert result.detail.endswith(
        "line 10's prev does not link to line 9: one of the two was changed (no line after it"
        " tells which)"
    )


def test_verify_a_plain_log_with_a_key(log_path: Path, ten: list[bytes]) -> None:
    result = _verify(log_path, hmac_key=b"k")
    assert (result.reason, result.line) == ("key", 1)
    assert "plain SHA-256" in str(result.detail)
    assert len(result.findings) == 1


def test_verify_with_the_wrong_key(log_path: Path) -> None:
    make_log(log_path, 6, hmac_key=b"right")
    assert _verify(log_path, hmac_key=b"right").ok
    wrong = _verify(log_path, hmac_key=b"wrong")
    assert (wrong.reason, wrong.line, len(wrong.findings)) == ("key", 1, 1)
    assert "lines 1-6" in str(wrong.detail) and "wrong key" in str(wrong.detail)


def test_verify_an_edit_in_a_keyed_log(log_path: Path) -> None:
    make_log(log_path, 8, hmac_key=b"k")
    lines = lines_of(log_path)
    lines[2] = lines[2].replace(b'"notes":["m:2"]', b'"notes":["m:X"]')
    write_lines(log_path, lines)
    result = _verify(log_path, hmac_key=b"k")
    assert (result.reason, result.line) == ("edited", 3)


def test_verify_reports_the_file_of_the_bad_line(log_path: Path) -> None:
    make_log(log_path, 3)
    archive = audit.rotate(log_path)
    make_log(log_path, 3)
    lines = lines_of(archive)
    lines[2] = lines[2].replace(b"m:2", b"m:Z")  # the archive's last line
    write_lines(archive, lines)
    result = audit.verify([archive, log_path])
    assert (result.reason, result.line, result.path) == ("edited", 3, archive)
    assert str(archive) in result.summary()


def test_verify_rejects_a_malformed_head(log_path: Path, ten: list[bytes]) -> None:
    with pytest.raises(ValueError, match="64 hex"):
        _verify(log_path, head="abc")


def test_verify_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        audit.verify([tmp_path / "missing.jsonl"])


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    return path, synthetic_log(path, 150_000)


def test_verify_streams_in_flat_memory(big_log: tuple[Path, str]) -> None:
    path, head = big_log
    assert path.stat().st_size > 60_000_000
    tracemalloc.start()
    try:
        result = audit.verify([path], head=head)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.records == 150_000
    assert peak < 12_000_000


# --- every bad line ---------------------------------------------------------------------------


def test_verify_reports_every_bad_line_and_resynchronises(log_path: Path) -> None:
    make_log(log_path, 30)
    lines = lines_of(log_path)
    lines[2] = lines[2].replace(b'"m:2"', b'"m:X"')  # edited
    lines[9], lines[10] = lines[10], lines[9]  # swapped
    del lines[20]  # removed (seq 21)
    lines.insert(25, b"garbage")  # a line that is no record
    write_lines(log_path, lines)
    result = _verify(log_path)
    assert [(f.line, f.reason) for f in result.findings] == [
        (3, "edited"),
        (10, "reordered"),
        (11, "reordered"),
        (21, "removed"),
        (26, "edited"),
    ]
    assert result.summary().splitlines()[0] == str(result.findings[0])
    assert all(str(log_path) in str(f) for f in result.findings)
    assert (result.line, result.reason) == (3, "edited")


def test_verify_caps_the_findings_and_counts_the_rest(log_path: Path) -> None:
    make_log(log_path, 150)
    lines = [line.replace(b'"requested"', b'"requesteD"') for line in lines_of(log_path)]
    write_lines(log_path, lines)
    result = audit.verify([log_path])
    assert (len(result.findings), result.more) == (100, 50)
    assert result.summary().splitlines()[-1] == "... and 50 more bad lines"
    assert len(audit.verify([log_path], max_findings=3).findings) == 3


def test_a_line_replaced_by_garbage_is_one_finding(log_path: Path, ten: list[bytes]) -> None:
    ten[4] = b"garbage"
    write_lines(log_path, ten)
    assert [(f.line, f.reason) for f in _verify(log_path).findings] == [(5, "edited")]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'version = 1\n[audit]\npath = "x"\n', id="a-policy-file"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40, id="a-binary"),
        pytest.param(b"\n\n\n", id="empty-lines"),
        pytest.param(b'{"hello": "world"}\n', id="json-but-no-record"),
        pytest.param(b'{"prev":"0000"}\n', id="a-record-start-but-no-record"),
        pytest.param(b"   \n\t\n \n", id="blank-lines"),
    ],
)
def test_something_that_is_not_an_audit_log_is_its_own_error(
    log_path: Path, content: bytes
) -> None:
    log_path.write_bytes(content)
    with pytest.raises(audit.NotAnAuditLog) as caught:
        _verify(log_path)
    assert f"{log_path} is not an audit log" in str(caught.value)
    assert isinstance(caught.value, AuditError)


@pytest.mark.parametrize("size", [1, 300, 70_000])
def test_a_file_of_zeros_is_a_torn_first_record_as_head_and_the_writers_take_it(
    log_path: Path, size: int
) -> None:
    """What a crash may leave of a first record (docs/audit.md): `head` says no record yet,
    a writer writes over it, so verify says torn (exit 1), not "not an audit log" (exit 2)."""
    log_path.write_bytes(bytes(size))
    result = _verify(log_path)
    assert (result.ok, result.records) == (False, 0)
    assert [(f.line, f.reason) for f in result.findings] == [(1, "torn")]
    assert f"({size} bytes)" in result.findings[0].detail
    assert audit.head([log_path]).seq == 0
    log_path.write_bytes(bytes(size) + b"x")  # zeros and then other bytes: no record cut short
    with pytest.raises(audit.NotAnAuditLog, match="is not an audit log"):
        _verify(log_path)


@pytest.mark.parametrize("first", [b"garbage", b"", b"X" + b"y" * 300])
def test_a_log_whose_first_line_is_damaged_is_still_a_log(
    log_path: Path, ten: list[bytes], first: bytes
) -> None:
    ten[0] = first
    write_lines(log_path, ten)
    result = _verify(log_path)
    assert [(f.line, f.reason) for f in result.findings] == [(1, "edited")]
    assert result.records == 9


@pytest.mark.parametrize("how", ["written-over", "put-before"])
def test_damage_longer_than_the_lookahead_at_a_logs_start_is_a_finding(
    log_path: Path, how: str
) -> None:
    """Junk over (or before) the first 150 lines of a keyed log of 300 records, more lines
    than the walk looks ahead from the first: still a damaged log, every junk line a finding
    (exit 1), not "not an audit log" (exit 2, a setup error to a monitor); the writers go on
    appending to it. Before, a first line followed by 100 lines or more that are no record
    was taken for a file that is no log. A file in which no line is a record is still none."""
    make_log(log_path, 300, hmac_key=b"k")
    lines = lines_of(log_path)
    junk = [b'{"prev":"damaged"}'] * 150
    lines = junk + (lines[150:] if how == "written-over" else lines)
    write_lines(log_path, lines)
    result = audit.verify([log_path], hmac_key=b"k")
    assert result.records == (150 if how == "written-over" else 300)
    assert [(f.line, f.reason) for f in result.findings][:2] == [(1, "edited"), (2, "edited")]
    assert not result.ok and result.more + len(result.findings) >= 150
    write_lines(log_path, junk)
    with pytest.raises(audit.NotAnAuditLog, match="line 1 is not an audit record"):
        audit.verify([log_path], hmac_key=b"k")


def test_each_file_of_a_series_must_be_an_audit_log(log_path: Path) -> None:
    make_log(log_path, 3)
    archive = audit.rotate(log_path)
    log_path.write_bytes(b"not a log\n")
    with pytest.raises(audit.NotAnAuditLog, match=str(log_path)):
        audit.verify([archive, log_path])


# --- lines from anywhere ----------------------------------------------------------------------


def test_verify_lines_walks_lines_that_come_from_no_file(log_path: Path) -> None:
    head = make_log(log_path, 2500, hmac_key=b"k")
    lines = lines_of(log_path)
    from_a_file = audit.verify([log_path], hmac_key=b"k")
    from_lines = audit.verify_lines(iter(lines), hmac_key=b"k", head=head)
    assert from_lines == from_a_file
    with_newlines = audit.verify_lines((line + b"\n" for line in lines), hmac_key=b"k")
    assert with_newlines.ok and with_newlines.records == 2500
    lines[1200] = lines[1200].replace(b"m:1200", b"m:XXXX")
    result = audit.verify_lines(lines, hmac_key=b"k")
    assert [(f.line, f.reason, f.path) for f in result.findings] == [(1201, "edited", None)]
    assert result.summary().startswith("line 1201: edited: not authentic")
    with pytest.raises(audit.KeyRequired):
        audit.verify_lines(lines)
    with pytest.raises(audit.NotAnAuditLog):
        audit.verify_lines([b"hello", b"world"])
    damaged_first = audit.verify_lines([b"hello", *lines[1:]], hmac_key=b"k")
    assert [(f.line, f.reason) for f in damaged_first.findings][:2] == [
        (1, "edited"),
        (1201, "edited"),
    ]


# --- checkpoints and head ---------------------------------------------------------------------


def test_head_of_a_log_and_of_a_series(log_path: Path) -> None:
    log_path.touch()
    assert audit.head(log_path) == audit.Checkpoint(0, "0" * 64)
    make_log(log_path, 4, hmac_key=b"k")
    with pytest.raises(audit.KeyRequired):
        audit.head(log_path)
    checkpoint = audit.head(log_path, hmac_key=b"k")
    assert checkpoint == audit.verify([log_path], hmac_key=b"k").checkpoint
    assert checkpoint == (4, audit.chain_hash(lines_of(log_path)[-1], b"k"))
    archive = audit.rotate(log_path, hmac_key=b"k")
    series = audit.head([archive, log_path], hmac_key=b"k")
    assert series.seq == 5 and audit.verify([archive, log_path], hmac_key=b"k").head == (
        series.digest
    )
    assert audit.parse_checkpoint(str(series)) == series
    assert audit.parse_checkpoint(f" {series.seq}:{series.digest.upper()}\n") == series
    # any iterable of paths, as verify takes (a generator), and a pruned archive
    assert audit.head((p for p in [archive, log_path]), hmac_key=b"k") == series
    archive.unlink()
    assert audit.head([archive, log_path], hmac_key=b"k") == series
    too_long = log_path.with_name("x" * 300)  # a name no file can have: passed over, not read
    assert audit.head([too_long, log_path], hmac_key=b"k") == series
    with pytest.raises(AuditError, match="are one file"):
        audit.head([log_path, log_path], hmac_key=b"k")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "5",
        "0:" + "a" * 64,
        "x:" + "a" * 64,
        "5:abc",
        "5-" + "a" * 64,
        "\u00b2:" + "a" * 64,  # a digit to str.isdigit, not to int
        "9" * 5000 + ":" + "a" * 64,  # more digits than int() reads
    ],
)
def test_a_malformed_checkpoint_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="SEQ:HEX"):
        audit.parse_checkpoint(text)


def test_head_refuses_a_last_line_that_is_not_authentic(log_path: Path) -> None:
    make_log(log_path, 3)
    lines = lines_of(log_path)
    lines[-1] = lines[-1].replace(b"m:2", b"m:X")
    write_lines(log_path, lines)
    with pytest.raises(AuditError, match="line 3 is not authentic"):
        audit.head(log_path)


def test_checkpoints_in_a_series_and_before_it(log_path: Path) -> None:
    make_log(log_path, 4)
    early = audit.head(log_path)
    archive = audit.rotate(log_path)
    make_log(log_path, 3)
    late = audit.head(log_path)
    assert audit.verify([archive, log_path], checkpoints=[early, late]).ok
    alone = audit.verify([log_path], checkpoints=[early, late])
    assert (alone.reason, len(alone.findings)) == ("head", 1)
    assert "seq 4 is before the first record walked (seq 5)" in str(alone.detail)
    wrong = audit.verify([archive, log_path], checkpoints=[(early.seq, "ab" * 32)])
    assert (wrong.reason, wrong.line, wrong.path) == ("head", 4, archive)


def test_two_checkpoints_of_one_seq_must_both_hold(log_path: Path) -> None:
    """docs/cli.md: every ``--checkpoint SEQ:HEX`` must hold. Two given for one seq, one of
    them wrong: a `head` finding, in either order; the same one twice is one check."""
    real = audit.Checkpoint(8, make_log(log_path, 8))
    wrong = (real.seq, "0" * 64)
    for given in ([wrong, real], [real, wrong]):
        result = audit.verify([log_path], checkpoints=given)
        assert [(f.line, f.reason) for f in result.findings] == [(8, "head")]
        assert f"not the checkpoint's {'0' * 64}" in result.findings[0].detail
    assert audit.verify([log_path], checkpoints=[real, real]).ok


def test_a_checkpoint_on_a_removed_record(log_path: Path, ten: list[bytes]) -> None:
    checkpoint = audit.head(log_path)._replace(seq=10)
    del ten[6]
    write_lines(log_path, ten)
    seventh = (7, audit.chain_hash(ten[6]))
    result = audit.verify([log_path], checkpoints=[checkpoint, seventh])
    assert [(f.line, f.reason) for f in result.findings] == [(7, "removed"), (9, "head")]
    assert "no record with the checkpoint's seq 7" in result.findings[1].detail


# --- keys and algorithms ----------------------------------------------------------------------


@pytest.mark.parametrize("key", [b"k", bytes(range(100))], ids=["short-key", "long-key"])
def test_verify_a_keyed_log_under_the_fast_path(log_path: Path, key: bytes) -> None:
    head = make_log(log_path, 3000, hmac_key=key)
    result = audit.verify([log_path], hmac_key=key, head=head)
    assert (result.ok, result.records, result.seq) == (True, 3000, 3000)


def test_a_plain_record_after_keyed_ones_is_a_downgrade(log_path: Path) -> None:
    make_log(log_path, 3, hmac_key=b"k")
    make_log(log_path.with_name("other.jsonl"), 1)
    lines = lines_of(log_path)
    plain = (
        b'{"prev":"'
        + audit.chain_hash(lines[-1]).encode()
        + b'","seq":4,'
        + (lines_of(log_path.with_name("other.jsonl"))[0].split(b'"seq":1,', 1)[1])
    )
    lines.append(reseal(plain))
    write_lines(log_path, lines)
    result = audit.verify([log_path], hmac_key=b"k")
    assert (result.reason, result.line) == ("key", 4)
    assert "downgrade" in str(result.detail)


def test_verify_of_a_badly_damaged_log_streams_in_flat_memory(tmp_path: Path) -> None:
    """Findings past the cap are only counted, and the look-ahead around a bad line is
    bounded: memory stays flat however many lines are bad."""
    path = tmp_path / "damaged.jsonl"
    synthetic_log(path, 40_000)
    with path.open("r+b") as stream:
        data = bytearray(stream.read())
        for at in range(5000, len(data), 7919):
            if data[at] not in b'\n"\\':
                data[at] = ord("#")
        stream.seek(0)
        stream.write(data)
    tracemalloc.start()
    try:
        result = audit.verify([path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.findings) == 100 and result.more > 1000
    assert peak < 12_000_000


@pytest.mark.parametrize("count", [1, 3, 6])  # 4 or more once read as a keyed log
@pytest.mark.parametrize("key", [None, b"k"], ids=["sha256", "hmac"])
def test_line_endings_converted_to_crlf_are_named_as_such(
    log_path: Path, count: int, key: bytes | None
) -> None:
    """Every record intact, each line ending with CR LF (a text-mode copy): verify names the
    carriage return on every line, not an edit of each record (nor a record of the first
    format, which would send the reader to `rotate`), and a writer refuses the log saying
    so."""
    make_log(log_path, count, hmac_key=key)
    log_path.write_bytes(log_path.read_bytes().replace(b"\n", b"\r\n"))
    result = audit.verify(log_path, hmac_key=key)
    assert [(f.line, f.reason) for f in result.findings] == [
        (n, "edited") for n in range(1, count + 1)
    ]
    assert all("ends with a carriage return" in f.detail for f in result.findings)
    # sealed records, their chain's name hidden behind the CR: none of the first format
    assert (result.first_format, result.unsealed_end) == (0, False)
    with (
        audit.AuditLog(log_path, hmac_key=key) as log,
        pytest.raises(AuditError, match=f":{count}: line {count} ends with a carriage return"),
    ):
        log.write("requested")
    log_path.write_bytes(log_path.read_bytes().replace(b"\r\n", b"\n"))
    assert audit.verify(log_path, hmac_key=key).ok


@pytest.mark.parametrize("key", [None, b"k"], ids=["sha256", "hmac"])
def test_an_edited_last_line_of_a_crlf_copy_is_not_called_intact(
    log_path: Path, key: bytes | None
) -> None:
    """A CRLF copy whose last record was also edited: the carriage return is named on the
    lines that hold without it, and the edited one is not authentic, as it is once the line
    endings are converted back."""
    make_log(log_path, 4, hmac_key=key)
    lines = lines_of(log_path)
    lines[-1] = lines[-1].replace(b'"m:3"', b'"m:X"')
    log_path.write_bytes(b"".join(line + b"\r\n" for line in lines))
    findings = audit.verify(log_path, hmac_key=key).findings
    assert all("ends with a carriage return" in f.detail for f in findings[:3])
    assert (findings[3].line, findings[3].reason) == (4, "edited")
    assert "not authentic" in findings[3].detail and "carriage return" not in findings[3].detail
    write_lines(log_path, lines)
    (finding,) = audit.verify(log_path, hmac_key=key).findings
    assert (finding.line, finding.reason) == (4, "edited")


@pytest.mark.parametrize("edited", [False, True], ids=["intact", "edited"])
@pytest.mark.parametrize("key", [None, b"k"], ids=["sha256", "hmac"])
def test_a_carriage_return_on_the_last_line_alone_is_named_as_such(
    log_path: Path, key: bytes | None, edited: bool
) -> None:
    """An editor that touched the last line alone gave it a CR LF: its chain's name, hidden
    behind the carriage return, read as a record of the first format after sealed ones. The
    carriage return is named when the record holds and links on without it; an edited one
    is not called intact."""
    make_log(log_path, 4, hmac_key=key)
    lines = lines_of(log_path)
    if edited:
        lines[-1] = lines[-1].replace(b'"m:3"', b'"m:X"')
    log_path.write_bytes(b"".join(line + b"\n" for line in lines[:-1]) + lines[-1] + b"\r\n")
    (finding,) = audit.verify(log_path, hmac_key=key).findings
    assert (finding.line, finding.reason) == (4, "edited")
    assert ("ends with a carriage return" in finding.detail) is not edited, finding.detail


def test_a_first_format_log_converted_to_crlf_still_counts_its_records(log_path: Path) -> None:
    """Records of the first format, which carry no digest of their own, are counted as such
    whatever their line endings: the note that sends the reader to `rotate` still holds."""
    first_format_log(log_path, 3)
    log_path.write_bytes(log_path.read_bytes().replace(b"\n", b"\r\n"))
    result = audit.verify(log_path)
    assert (result.first_format, result.unsealed_end) == (3, True)


def test_verify_reads_any_iterable_of_files_once_and_refuses_none(
    log_path: Path, ten: list[bytes]
) -> None:
    """A generator or ``Path.glob`` is walked like a list (a damaged log is never ok because
    the files were used up before the walk), and no file at all is an error, not ok."""
    write_lines(log_path, [*ten[:4], ten[4].replace(b'"m:4"', b'"m:x"'), *ten[5:]])
    by_list = audit.verify([log_path])
    assert not by_list.ok
    for paths in ((p for p in [log_path]), log_path.parent.glob("audit.jsonl")):
        result = audit.verify(paths)
        assert (result.ok, result.records, result.findings) == (
            False,
            by_list.records,
            by_list.findings,
        )
    with pytest.raises(ValueError, match="no file to verify"):
        audit.verify([])


@pytest.mark.parametrize(
    ("tail", "said"),
    [
        (
            lambda lines: [*lines[:-3], b"".join(lines[-3:])],
            "holds 3 whole record(s) one after another, which no write cut off leaves: the next"
            " writer refuses it",
        ),
        (
            lambda lines: [*lines[:-1], lines[-1][:30] + b"x" * (audit.torn.KEEP_LIMIT + 5)],
            f"not zeros past its first {audit.torn.KEEP_LIMIT}: longer than any write leaves;"
            " the next writer refuses it",
        ),
        (
            lambda lines: [*lines[:-1], lines[-1][:30] + b"\0" * (audit.torn.KEEP_LIMIT + 5)],
            "a write was cut off (the next writer repairs it)",
        ),
    ],
    ids=["records-joined", "too-long", "zeros-after-a-cut"],
)
def test_verify_says_what_the_next_writer_does_with_a_torn_line(
    log_path: Path, tail: Callable[[list[bytes]], list[bytes]], said: str
) -> None:
    """`verify` said "a write was cut off (the next writer repairs it)" of bytes after the
    last newline that the writer refuses as damage (records joined, or more than a write
    leaves); it says so, and still that of what a crash leaves."""
    make_log(log_path, 6)
    write_lines(log_path, tail(lines_of(log_path)), final_newline=False)
    result = audit.verify([log_path])
    assert result.reason == "torn" and said in str(result.findings[-1])


def test_a_torn_tail_too_long_to_read_says_what_decides_it(log_path: Path) -> None:
    """Past 64 MiB `verify` keeps only a line's start, so it cannot tell zeros (which the
    next writer drops) from anything else (which it refuses): it said "not zeros" of a record
    cut off and then a file system's zeros. It says what the next writer decides by."""
    make_log(log_path, 3)
    whole = lines_of(log_path)
    with log_path.open("ab") as stream:
        stream.write(whole[-1][:30])
    os.truncate(log_path, log_path.stat().st_size + (70 << 20))  # a hole: zeros
    result = audit.verify([log_path])
    assert result.reason == "torn"
    assert (
        f"the next writer drops it as a write cut off when all past its first "
        f"{audit.torn.KEEP_LIMIT} bytes is zeros, and refuses it otherwise"
    ) in str(result.findings[-1])
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    assert audit.verify([log_path]).ok

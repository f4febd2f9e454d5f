"""The tail: what a writer checks before chaining onto a record it did not write itself."""

from __future__ import annotations

import json
import os
import pickle
import time
import tracemalloc
from pathlib import Path

import pytest
from audit_helpers import (
    first_format_log,
    lines_of,
    make_log,
    records_of,
    reseal,
    write_lines,
    writer_refuses,
)

from rds_guard import audit
from rds_guard.audit import fileio, tail
from rds_guard.cli import main
from rds_guard.errors import AuditError


def test_an_unkeyed_writer_catches_accidental_damage_to_the_last_record(log_path: Path) -> None:
    make_log(log_path, 3)
    lines = lines_of(log_path)
    lines[-1] = lines[-1].replace(b'"m:2"', b'"m:3"')  # still JSON, still a record
    write_lines(log_path, lines)
    writer_refuses(log_path, "line 3 is not authentic: edited, or written with another key")
    writer_refuses(
        log_path, f"audit verify {log_path} \\(rds-guard audit repair --force {log_path} mov"
    )


def test_a_last_record_that_does_not_follow_the_one_before(log_path: Path) -> None:
    """Its own digest holds: the writer says a line before it was edited, removed or added,
    not that the last record was edited (it was not)."""
    make_log(log_path, 4)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:2], lines[3]])  # seq 3 removed
    writer_refuses(
        log_path,
        "line 3 does not chain onto the records before it: a line before it edited, removed "
        "or added \\(its prev does not link to the line before it\\)",
    )
    with pytest.raises(audit.NotAuthentic) as caught:
        audit.AuditLog(log_path, fsync=False).write("requested")
    assert "not authentic" not in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.line, again.unlinked, again.finding) == (3, True, caught.value.finding)
    relinked = reseal(b'{"prev":"' + audit.chain_hash(lines[1]).encode() + lines[3][73:])
    write_lines(log_path, [*lines[:2], relinked])
    writer_refuses(log_path, "its seq 4 does not follow seq 2")


def test_a_first_line_must_start_a_chain_or_continue_one(log_path: Path) -> None:
    make_log(log_path, 4)
    write_lines(log_path, lines_of(log_path)[3:])  # everything before seq 4 cut off
    writer_refuses(log_path, "neither seq 1 after 64 zeros nor a rotated record")
    make_log(log_path.with_name("x.jsonl"), 2)
    audit.rotate(log_path.with_name("x.jsonl"))
    with audit.AuditLog(log_path.with_name("x.jsonl"), fsync=False) as log:
        log.write("requested")  # a file that starts with rotated is fine


def test_a_damaged_line_before_the_last_does_not_stop_writers(log_path: Path) -> None:
    make_log(log_path, 3)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines[:2], b"damaged", lines[2]])
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested", notes=["after"])
    result = audit.verify([log_path])
    assert [(f.line, f.reason) for f in result.findings] == [(3, "edited")]


def test_one_record_copied_back_behind_a_damaged_line_iswriter_refuses(log_path: Path) -> None:
    """Without the key, a junk line and a byte copy of an old authentic record (seq 2) after
    the last one: the copy cannot be linked to the junk, so the writer holds it to the last
    record before the damage, seq 5, which it does not come after. One copied record is not
    a way to take the head back (docs/audit.md: a replay needs two consecutive records)."""
    key = b"k"
    make_log(log_path, 5, hmac_key=key)
    lines = lines_of(log_path)
    write_lines(log_path, [*lines, b"junk", lines[1]])
    writer_refuses(log_path, "its seq 2 does not come after seq 5", key)
    with pytest.raises(AuditError, match="does not come after seq 5"):
        audit.head(log_path, hmac_key=key)


def test_a_record_after_damage_at_the_start_of_the_file_is_chained_onto(log_path: Path) -> None:
    """Damage where the file starts, then a record: no record before the damage to hold it
    to, so the writer chains on (a bad line before the last one does not stop writers) and
    verify reports the damage."""
    make_log(log_path, 3)
    lines = lines_of(log_path)
    write_lines(log_path, [b"junk", lines[1]])
    with audit.AuditLog(log_path, fsync=False) as log:
        assert log.write("requested")["seq"] == 3
    assert audit.verify([log_path]).reason is not None


def test_a_seq_too_long_for_an_integer_is_damage_not_a_crash(log_path: Path) -> None:
    """A seq of 5000 digits (Python refuses to read more than 4300 as an int): before the
    last record, writers go on and verify reports it; as the last line, it is damage
    (AuditError), never a ValueError."""
    make_log(log_path, 3)
    lines = lines_of(log_path)
    huge = lines[1].replace(b'"seq":2,', b'"seq":' + b"9" * 5000 + b",")
    write_lines(log_path, [lines[0], huge, lines[2]])
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    assert audit.verify([log_path]).reason == "edited"
    write_lines(log_path, [lines[0], huge])
    writer_refuses(log_path, "line 2 is not an audit record")


def test_a_first_record_without_an_event_is_refused_not_a_crash(log_path: Path) -> None:
    """A lone sealed line with no ``event`` (anyone can seal a plain SHA-256 line): refused
    as a first line that starts no chain, never a KeyError."""
    make_log(log_path, 3)
    line = lines_of(log_path)[2].replace(b'"event":"requested",', b"")
    write_lines(log_path, [reseal(line)])
    writer_refuses(log_path, "neither seq 1 after 64 zeros nor a rotated record")


def test_a_record_naming_an_unknown_algorithm_is_not_authentic(log_path: Path) -> None:
    make_log(log_path, 2)
    lines = lines_of(log_path)
    lines[-1] = reseal(lines[-1].replace(b'"chain":"sha256"', b'"chain":"md5"'))
    write_lines(log_path, lines)
    writer_refuses(log_path, "it names no known chain")
    assert audit.verify([log_path]).reason == "edited"


def test_an_unkeyed_writer_refuses_a_keyed_first_format_log(log_path: Path) -> None:
    first_format_log(log_path, 3, hmac_key=b"k")
    writer_refuses(log_path, "do not chain with plain SHA-256")


def test_a_keyed_writer_chains_onto_records_another_keyed_writer_wrote(log_path: Path) -> None:
    first = audit.AuditLog(log_path, fsync=False, hmac_key=b"k")
    second = audit.AuditLog(log_path, fsync=False, hmac_key=b"k")
    for _ in range(3):
        first.write("requested")
        second.write("requested")
    first.close()
    second.close()
    assert audit.verify([log_path], hmac_key=b"k").records == 6
    writer_refuses(log_path, "not authentic", key=b"another key")
    # the advice works as given: verify and repair of a keyed log need the key's option
    writer_refuses(
        log_path,
        f"run rds-guard audit verify {log_path} --key-env VAR \\(rds-guard audit repair --force"
        f" {log_path} --key-env VAR moves it aside, with the key the log was written with\\)",
        key=b"another key",
    )


def test_a_torn_line_after_an_unauthentic_record_is_not_repaired_on_the_fly(
    log_path: Path,
) -> None:
    make_log(log_path, 2, hmac_key=b"k")
    lines = lines_of(log_path)
    lines[-1] = lines[-1].replace(b'"m:1"', b'"m:X"')
    write_lines(log_path, lines)
    with log_path.open("ab") as stream:
        stream.write(b'{"prev":"ab')
    writer_refuses(log_path, "line 2 is not authentic", key=b"k")
    assert [r["event"] for r in records_of(log_path)] == ["requested", "requested"]
    assert json.loads(lines_of(log_path)[1])["notes"] == ["m:X"]


# --- a writer that holds the log open -------------------------------------------------------

KEY = b"the audit key"


def test_a_writer_holding_the_log_open_checks_a_record_added_behind_its_back(
    log_path: Path,
) -> None:
    """The application's writer knows the end it left; a record someone without the key
    appends after it (linked and sealed as best they can) is read and refused before anything
    is chained onto it."""
    with audit.AuditLog(log_path, fsync=False, hmac_key=KEY) as log:
        for _ in range(3):
            log.write("blocked")
        last = lines_of(log_path)[-1]
        forged = b'{"prev":"' + audit.chain_hash(last, b"a guess").encode() + last[73:]
        forged = forged.replace(b'"seq":3,', b'"seq":4,').replace(b"blocked", b"created")
        with log_path.open("ab") as stream:
            stream.write(reseal(forged, b"a guess") + b"\n")
        before = log_path.read_bytes()
        with pytest.raises(AuditError, match="line 4 is not authentic"):
            log.write("requested")
    assert log_path.read_bytes() == before


def test_a_writer_never_vouches_for_its_last_record_edited_in_place(log_path: Path) -> None:
    """The last record rewritten in place, its length kept. The writer sees the file changed
    and refuses; were the edit too quick for the file's change time to move, it would chain
    onto the bytes it wrote itself, never onto the edit: either way verify reports the line."""
    log = audit.AuditLog(log_path, fsync=False, hmac_key=KEY)
    for _ in range(3):
        log.write("blocked")
    original = lines_of(log_path)[-1]
    time.sleep(0.05)  # past the clock tick of the last write: the change time moves
    with log_path.open("r+b") as stream:
        stream.seek(log_path.stat().st_size - len(original) - 1)
        stream.write(original.replace(b'"event":"blocked"', b'"event":"created"'))
    try:
        log.write("requested")
    except AuditError as exc:
        assert "line 3 is not authentic" in str(exc)
        assert len(lines_of(log_path)) == 3
    else:
        assert json.loads(lines_of(log_path)[3])["prev"] == audit.chain_hash(original, KEY)
    finally:
        log.close()
    result = audit.verify([log_path], hmac_key=KEY)
    assert [(f.line, f.reason) for f in result.findings] == [(3, "edited")]


LONG = fileio.TAIL_BLOCK * 2 + 5  # a line that spans three blocks


@pytest.mark.parametrize(
    ("lines", "torn"),
    [
        ([b"a" * LONG, b"b" * LONG, b"c" * LONG], b"d" * LONG),
        ([b"a", b"b" * LONG, b"c"], b""),
        ([b"a", b"", b"c"], b"d"),
        ([b"a" * LONG], b"d"),
        ([], b"d" * LONG),
        ([], b""),
    ],
    ids=["long-lines", "a-long-line-before", "an-empty-line-before", "one-line", "torn", "empty"],
)
def test_the_tail_is_read_whatever_the_length_of_its_lines(
    log_path: Path, lines: list[bytes], torn: bytes
) -> None:
    log_path.write_bytes(b"".join(line + b"\n" for line in lines) + torn)
    size = log_path.stat().st_size
    complete_end = size - len(torn)
    last_start = complete_end - len(lines[-1]) - 1 if lines else 0
    before_start = last_start - len(lines[-2]) - 1 if len(lines) > 1 else 0
    fd = os.open(log_path, os.O_RDONLY)
    try:
        scan = tail.scan_tail(fd, size)
    finally:
        os.close(fd)
    assert scan == tail.TailScan(
        complete_end=complete_end,
        last_line=lines[-1] if lines else None,
        last_start=last_start,
        before=lines[-2] if len(lines) > 1 else None,
        before_start=before_start,
        torn_bytes=len(torn),
        longest=tail.LONGEST_KEPT,
    )


@pytest.mark.parametrize("where", ["last", "before"])
def test_a_line_longer_than_any_record_is_not_held_in_memory(log_path: Path, where: str) -> None:
    """A hole of 64 MiB made a line of zeros (another process, or ``truncate -s +16G``): the
    writer kept every block back to the newline before it, and joined them, three times the
    line in memory (16 GiB: the guarded process killed by the kernel). Its bytes are read as
    no record now, without keeping them: the call fails closed with the `AuditError` of a
    damaged log (last), or the record before it is looked for (before)."""
    make_log(log_path, 3)
    lines = lines_of(log_path)
    write_lines(log_path, lines[:2])
    with open(log_path, "ab") as file:
        file.truncate(log_path.stat().st_size + (64 << 20) + 16)  # past what repair reads
        file.seek(0, os.SEEK_END)
        file.write(b"\n" if where == "last" else b"\n" + lines[2] + b"\n")
    tracemalloc.start()
    try:
        if where == "last":
            with pytest.raises(AuditError) as refused, audit.AuditLog(log_path, fsync=False) as log:
                log.write("requested")
            assert "line 3 is not an audit record: the log is damaged" in str(refused.value)
            assert "audit repair" in str(refused.value)  # which moves zeros aside
        else:  # the record after the damage follows the one before it: chained onto
            with audit.AuditLog(log_path, fsync=False) as log:
                assert log.write("requested")["seq"] == 4
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


def test_damage_longer_than_repair_reads_names_where_to_cut_it(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Junk of more than 64 MiB appended as a last line: the writer's error said only "run
    rds-guard audit repair", which stops on a line that long, and every guarded call stayed
    refused. It now says what to do then: cut the line out by hand, from the byte where it
    starts; once cut, a write goes on."""
    make_log(log_path, 2)
    start = log_path.stat().st_size
    with open(log_path, "ab") as file:
        for _ in range(65):
            file.write(b"junk" * (1 << 18))  # 1 MiB at a time
        file.write(b"\n")
    with pytest.raises(AuditError) as refused, audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested")
    message = str(refused.value)
    assert "line 3 is not an audit record: the log is damaged; run rds-guard audit" in message
    assert "(should it say the line, 68,157,440 bytes, is longer than it reads" in message
    assert f"cut the line out by hand: it starts at byte {start:,})" in message
    assert main(["audit", "repair", str(log_path)]) == 2
    assert "longer than any record" in capsys.readouterr().err  # as foretold
    os.truncate(log_path, start)
    with audit.AuditLog(log_path, fsync=False) as log:
        assert log.write("requested")["seq"] == 3


@pytest.mark.parametrize("key", [None, b"k" * 32], ids=["sha256", "hmac"])
def test_a_record_of_0_1_0_longer_than_a_writer_reads_is_rotated_onto(
    log_path: Path, capsys: pytest.CaptureFixture[str], key: bytes | None
) -> None:
    """rds_guard 0.1.0 did not cut records: a blocked call's 1.2 MB identifier made a record
    of 1.2 MB, authentic. After the upgrade every call failed closed on it as "not an audit
    record: the log is damaged; run repair", while verify said "ok", and repair, rotate and
    head all stopped on it too: only an edit by hand got the guard going again. A writer now
    names its length and what to run; rotate, repair and head read it (as verify does), and
    the writes go on in the rotated file, chained onto it."""
    make_log(log_path, 2, hmac_key=key)
    lines = lines_of(log_path)
    big = reseal(lines[1].replace(b'"m:1"', b'"' + b"x" * 1_200_000 + b'"'), key)
    write_lines(log_path, [lines[0], big])
    assert audit.verify([log_path], hmac_key=key).ok
    with pytest.raises(AuditError) as refused:
        audit.AuditLog(log_path, fsync=False, hmac_key=key).write("requested")
    assert f"line 2 is {len(big):,} bytes, longer than appending a record reads" in str(
        refused.value
    )
    assert f"run rds-guard audit rotate {log_path}" in str(refused.value)
    assert audit.head([log_path], hmac_key=key).seq == 2
    assert audit.repair(log_path, hmac_key=key).lines_moved == 0
    archive = audit.rotate(log_path, hmac_key=key)
    with audit.AuditLog(log_path, fsync=False, hmac_key=key) as log:
        assert log.write("requested")["seq"] == 4  # after the rotated record
    assert lines_of(archive) == [lines[0], big]
    assert audit.verify([archive, log_path], hmac_key=key).ok


def test_a_forged_long_last_line_is_not_rotated_onto_under_a_key(log_path: Path) -> None:
    """Whoever can write a keyed log but holds no key appends a line longer than a writer
    reads, starting as a record, so that the writer sends the user to `rotate`: rotate, repair
    and head read it, find it is not authentic, and refuse it (repair moves nothing); the log
    is left as it was, and verify fails on it."""
    key = b"k" * 32
    make_log(log_path, 2, hmac_key=key)
    lines = lines_of(log_path)
    forged = reseal(lines[1].replace(b'"m:1"', b'"' + b"x" * 1_200_000 + b'"'), b"w" * 32)
    write_lines(log_path, [lines[0], forged])
    before = log_path.read_bytes()
    with pytest.raises(AuditError, match="run rds-guard audit rotate"):
        audit.AuditLog(log_path, fsync=False, hmac_key=key).write("requested")
    for maintain in (
        lambda: audit.rotate(log_path, hmac_key=key),
        lambda: audit.head([log_path], hmac_key=key),
    ):
        with pytest.raises(AuditError, match="line 2 is not authentic"):
            maintain()
    repaired = audit.repair(log_path, hmac_key=key)
    assert not repaired.repaired
    assert repaired.refused is not None and "line 2 is not authentic" in repaired.refused
    assert log_path.read_bytes() == before
    assert not audit.verify([log_path], hmac_key=key).ok


def test_a_last_line_longer_than_rotate_reads_is_not_sent_to_rotate(log_path: Path) -> None:
    """A last line that starts as a record and is longer than `rotate` reads
    (`tail.LONGEST_MAINTAINED`): the writer's error does not send the user to a rotate that
    would refuse it too, and rotate names the same way out."""
    make_log(log_path, 2)
    lines = lines_of(log_path)
    junk = lines[1][:80] + b"x" * (tail.LONGEST_MAINTAINED + 1)
    write_lines(log_path, [lines[0], junk])
    for attempt in (
        lambda: audit.AuditLog(log_path, fsync=False).write("requested"),
        lambda: audit.rotate(log_path),
    ):
        with pytest.raises(AuditError) as refused:
            attempt()
        assert f"line 2 is {len(junk):,} bytes" in str(refused.value)
        assert "cut it out by hand" in str(refused.value)
        assert "run rds-guard audit rotate" not in str(refused.value)


def test_a_tail_of_records_is_read_in_one_read(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a writer does each time another writer has written: the last block holds both
    lines it needs."""
    make_log(log_path, 20)
    reads: list[int] = []
    real_pread = os.pread

    def counting(fd: int, length: int, offset: int) -> bytes:
        reads.append(offset)
        return real_pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", counting)
    fd = os.open(log_path, os.O_RDONLY)
    try:
        scan = tail.scan_tail(fd, log_path.stat().st_size)
    finally:
        os.close(fd)
    assert scan.last_line == lines_of(log_path)[-1]
    assert len(reads) == 1

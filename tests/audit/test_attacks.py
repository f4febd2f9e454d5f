"""The audit trail against someone who can write the file (issue "trust"), tried as an
attacker would: each test is one attack, and each failed against the first release.

A forged last line or a made-up ``rotated`` head on a keyed log, verify of a keyed log
without its key, repair of a damaged middle line followed by good records, a writer that
takes the lock and hangs, a log truncated or rewritten behind a checkpoint, and a log in the
first format (written here by hand, byte for byte as the first release wrote it).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from audit_helpers import (
    first_format_line,
    first_format_log,
    lines_of,
    make_log,
    records_of,
    relink,
    reseal,
    stopped_lock_holder,
    write_lines,
)

from rds_guard import audit
from rds_guard.errors import AuditError

KEY = b"the audit key"

HANG = 60.0
"""Seconds after which something is taken to hang: a hang detector, never a speed limit."""


def notes(record: dict[str, object]) -> list[str]:
    """A record's notes."""
    value = record["notes"]
    assert isinstance(value, list)
    return [str(note) for note in value]


# --- a forged last line ---------------------------------------------------------------------


@pytest.fixture
def keyed_log(log_path: Path) -> list[bytes]:
    """A keyed log whose last record is a ``blocked`` call."""
    make_log(log_path, 4, hmac_key=KEY)
    with audit.AuditLog(log_path, fsync=False, hmac_key=KEY) as log:
        log.write("blocked", snapshot="orders-manual-1", notes=["blocked by policy"])
    return lines_of(log_path)


@pytest.mark.parametrize("reseal_it", [False, True], ids=["bytes-edited", "resealed"])
def test_a_forged_last_line_of_a_keyed_log_is_caught_by_verify_and_by_the_writer(
    log_path: Path, keyed_log: list[bytes], reseal_it: bool
) -> None:
    """``blocked`` turned into ``created``, ``prev`` kept: verify with the key reports the
    line, and the application's next write refuses to seal it (nothing written)."""
    last = keyed_log[-1].replace(b'"event":"blocked"', b'"event":"created"')
    keyed_log[-1] = reseal(last, b"a guess") if reseal_it else last
    write_lines(log_path, keyed_log)
    forged = log_path.read_bytes()

    result = audit.verify([log_path], hmac_key=KEY)
    assert not result.ok
    assert (result.line, result.reason) == (5, "edited")
    assert "not authentic" in str(result.detail)

    with audit.AuditLog(log_path, fsync=False, hmac_key=KEY) as log:
        for _ in range(2):
            with pytest.raises(AuditError) as caught:
                log.write("requested", snapshot="orders-manual-2")
            message = str(caught.value)
            assert f"{log_path}:5: line 5 is not authentic" in message
            assert "edited, or written with another key" in message
    assert log_path.read_bytes() == forged


def test_a_forged_last_line_is_not_damage_for_repair_unless_forced(
    log_path: Path, keyed_log: list[bytes]
) -> None:
    keyed_log[-1] = keyed_log[-1].replace(b'"event":"blocked"', b'"event":"created"')
    write_lines(log_path, keyed_log)
    forged = log_path.read_bytes()
    result = audit.repair(log_path, hmac_key=KEY)
    assert result.refused is not None and "line 5 is not authentic" in result.refused
    assert log_path.read_bytes() == forged

    result = audit.repair(log_path, hmac_key=KEY, force=True)
    assert result.repaired and result.first_line == 5 and result.records_moved == 1
    assert result.moved_to is not None
    assert result.moved_to.read_bytes() == keyed_log[-1] + b"\n"
    repaired = records_of(log_path)[-1]
    assert (repaired["event"], repaired["seq"]) == ("repaired", 5)
    assert any(str(note).startswith("forced: line 5 is not authentic") for note in notes(repaired))
    assert audit.verify([log_path], hmac_key=KEY).ok
    with audit.AuditLog(log_path, fsync=False, hmac_key=KEY) as log:
        log.write("requested")
    assert audit.verify([log_path], hmac_key=KEY).ok


def test_a_last_line_downgraded_to_plain_sha256_is_caught(
    log_path: Path, keyed_log: list[bytes]
) -> None:
    """The attacker seals the forged line with SHA-256 (which needs no key) and says so."""
    last = keyed_log[-1].replace(b'"event":"blocked"', b'"event":"created"')
    keyed_log[-1] = reseal(last.replace(b'"chain":"hmac-sha256"', b'"chain":"sha256"'))
    write_lines(log_path, keyed_log)
    assert audit.is_authentic(keyed_log[-1])  # a valid plain SHA-256 seal
    result = audit.verify([log_path], hmac_key=KEY)
    assert (result.line, result.reason) == (5, "key")
    assert "downgrade" in str(result.detail)
    with pytest.raises(AuditError, match="plain SHA-256"):
        audit.AuditLog(log_path, fsync=False, hmac_key=KEY).write("requested")


def appended_plain_record(keyed_log: list[bytes]) -> bytes:
    """A ``created`` record someone without the key appends to a keyed log: sealed with plain
    SHA-256 (which needs no key), linked to the last line as a plain chain would link it."""
    record = json.loads(keyed_log[-1])
    record.update(
        prev=audit.chain_hash(keyed_log[-1]),
        seq=record["seq"] + 1,
        event="created",
        snapshot="evil",
        chain="sha256",
    )
    return reseal(json.dumps(record, separators=(",", ":")).encode())


def test_a_plain_record_appended_to_a_keyed_log_is_never_vouched_for(
    log_path: Path, keyed_log: list[bytes]
) -> None:
    """Rotate with the key would have sealed the forgery into the keyed chain (the keyed
    writer's refusal pointed to it); it refuses now, and repair --force moves it aside."""
    write_lines(log_path, [*keyed_log, appended_plain_record(keyed_log)])
    assert audit.verify([log_path], hmac_key=KEY).reason == "key"
    with pytest.raises(audit.KeyRequired):  # a writer without the key does not go on plain
        audit.AuditLog(log_path, fsync=False).write("requested")
    for attempt in (
        lambda: audit.AuditLog(log_path, fsync=False, hmac_key=KEY).write("requested"),
        lambda: audit.rotate(log_path, hmac_key=KEY),
    ):
        with pytest.raises(audit.NotAuthentic, match="downgrade"):
            attempt()
    assert not list(log_path.parent.glob(f"{log_path.name}.*"))  # nothing rotated
    assert audit.repair(log_path, hmac_key=KEY).refused
    moved = audit.repair(log_path, hmac_key=KEY, force=True)
    assert (moved.first_line, moved.records_moved) == (6, 1)
    assert audit.verify([log_path], hmac_key=KEY).ok
    assert [r["snapshot"] for r in records_of(log_path)].count("evil") == 0


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "keyed"])
def test_a_first_format_line_appended_after_sealed_records_is_moved_by_repair_force(
    log_path: Path, key: bytes | None
) -> None:
    """One line in the first format appended to a sealed log: every writer refused it, and so
    did repair and rotate with or without --force, so no tool could clear it."""
    make_log(log_path, 4, hmac_key=key)
    sealed = lines_of(log_path)
    write_lines(log_path, [*sealed, first_format_line("0" * 64, 99)])
    assert audit.verify([log_path], hmac_key=key).reason == "edited"
    with pytest.raises(audit.NotAuthentic, match="first format"):
        audit.AuditLog(log_path, fsync=False, hmac_key=key).write("requested")
    assert audit.repair(log_path, hmac_key=key).refused
    moved = audit.repair(log_path, hmac_key=key, force=True)
    assert (moved.first_line, moved.records_moved) == (5, 1)
    assert lines_of(log_path)[:4] == sealed
    with audit.AuditLog(log_path, fsync=False, hmac_key=key) as log:
        log.write("requested")
    assert audit.verify([log_path], hmac_key=key).ok


# --- a made-up rotated head -----------------------------------------------------------------


def made_up_rotated(chain: str) -> bytes:
    """A ``rotated`` record as an attacker without the key would write it."""
    record = json.loads(first_format_line("f" * 64, 3, event="rotated", rotated_from="x.1-2"))
    record["chain"] = chain
    record["digest"] = "0" * 64
    line = json.dumps(record, separators=(",", ":")).encode()
    return reseal(line) if chain == "sha256" else line


@pytest.mark.parametrize("chain", ["sha256", "hmac-sha256"])
def test_a_keyed_log_replaced_by_a_made_up_rotated_record(
    log_path: Path, keyed_log: list[bytes], chain: str
) -> None:
    """Every line deleted and a made-up ``rotated`` record left: verify --key-env reports
    it, and the writer refuses to chain onto it."""
    write_lines(log_path, [made_up_rotated(chain)])
    result = audit.verify([log_path], hmac_key=KEY)
    assert not result.ok
    assert result.line == 1
    assert result.reason == ("key" if chain == "sha256" else "edited")
    refusal = "chain is plain SHA-256" if chain == "sha256" else "line 1 is not authentic"
    with pytest.raises(AuditError, match=refusal):
        audit.AuditLog(log_path, fsync=False, hmac_key=KEY).write("requested")
    assert lines_of(log_path) == [made_up_rotated(chain)]


@pytest.mark.parametrize(
    "made_up",
    [
        first_format_line("0" * 64, 1, event="blocked"),
        first_format_line("f" * 64, 3, event="rotated", rotated_from="x"),
    ],
    ids=["a-first-record", "a-rotated-record"],
)
def test_a_keyed_log_replaced_by_a_made_up_first_format_record_is_caught_under_the_key(
    log_path: Path, keyed_log: list[bytes], made_up: bytes
) -> None:
    """The first format carries no digest of its own, and a lone record in it links to
    nothing the key can check: under the key it is a finding, the writer refuses it, rotate
    and repair with the key do not seal it, head with the key gives no checkpoint of it, and a
    checkpoint taken before catches it."""
    checkpoint = audit.head(log_path, hmac_key=KEY)
    write_lines(log_path, [made_up])
    result = audit.verify([log_path], hmac_key=KEY)
    assert (result.ok, result.reason, result.line) == (False, "key", 1)
    assert "nothing in the log was written with the key" in str(result.detail)
    assert audit.verify([log_path], hmac_key=KEY, checkpoints=[checkpoint]).reason == "key"
    with pytest.raises(AuditError, match="first record format"):
        audit.AuditLog(log_path, fsync=False, hmac_key=KEY).write("requested")
    for vouch in (audit.rotate, audit.repair, audit.head):
        with pytest.raises(AuditError, match="no record before it links to it"):
            vouch(log_path, hmac_key=KEY)
    assert lines_of(log_path) == [made_up]
    assert audit.verify([log_path]).ok  # without the key, a chain of its own, as documented


# --- verify without the key -------------------------------------------------------------------


def test_verify_of_a_keyed_log_without_the_key_says_the_key_is_missing(
    log_path: Path, keyed_log: list[bytes]
) -> None:
    with pytest.raises(audit.KeyRequired) as caught:
        audit.verify([log_path])
    assert "edited" not in str(caught.value)
    assert "--key-env" in str(caught.value) and "hmac_key_env" in str(caught.value)
    with pytest.raises(audit.KeyRequired):
        audit.AuditLog(log_path, fsync=False).write("requested")
    with pytest.raises(audit.KeyRequired):
        audit.repair(log_path)
    assert lines_of(log_path) == keyed_log


# --- repair of a damaged middle line ------------------------------------------------------------


def test_repair_never_discards_the_authentic_records_after_a_damaged_line(
    log_path: Path,
) -> None:
    """One damaged middle line, then 999 intact chained records and an empty last line:
    repair refuses; ``force`` moves them and says so; seqs are never reused."""
    make_log(log_path, 1010)
    lines = lines_of(log_path)
    lines[10] = b"\x00" * 40
    write_lines(log_path, [*lines, b""])
    before = log_path.read_bytes()

    result = audit.repair(log_path)
    assert result.refused is not None
    assert "999 complete record(s) follow the damage at line 11" in result.refused
    assert "lines 11-1011" in result.describe()
    assert log_path.read_bytes() == before

    dry = audit.repair(log_path, force=True, dry_run=True)
    assert dry.dry_run and dry.records_moved == 999 and log_path.read_bytes() == before

    result = audit.repair(log_path, force=True)
    assert result.repaired and result.records_moved == 999
    assert (
        result.moved_to is not None
        and result.moved_to.read_bytes()
        == before[len(b"".join(line + b"\n" for line in lines[:10])) :]
    )
    repaired = records_of(log_path)[-1]
    assert repaired["seq"] == 11
    assert "forced: 999 complete record(s) follow the damage at line 11" in notes(repaired)[1]
    assert audit.verify([log_path]).ok


@pytest.mark.parametrize("last", [b"damaged last line", b""], ids=["damaged", "empty"])
def test_repair_of_one_damaged_last_line(log_path: Path, last: bytes) -> None:
    make_log(log_path, 5)
    with log_path.open("ab") as stream:
        stream.write(last + b"\n")
    result = audit.repair(log_path)
    assert result.repaired and result.first_line == 6 and result.records_moved == 0
    assert [r["event"] for r in records_of(log_path)][-1] == "repaired"
    assert audit.verify([log_path]).ok


# --- a writer that takes the lock and hangs -------------------------------------------------------


@pytest.fixture
def stopped_holder(log_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process that takes the log's flock and is then stopped (SIGSTOP); killed at the end."""
    make_log(log_path, 2)
    with stopped_lock_holder(log_path) as holder:
        yield holder


def test_a_stopped_lock_holder_is_an_audit_error_not_a_hang(
    log_path: Path, stopped_holder: subprocess.Popen[str]
) -> None:
    before = log_path.read_bytes()
    log = audit.AuditLog(log_path, fsync=False, lock_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(AuditError) as caught:
        log.write("requested")
    assert time.monotonic() - started < HANG
    message = str(caught.value)
    assert str(log_path) in message and "0.3s" in message
    if Path("/proc/locks").exists():
        assert f"held by pid {stopped_holder.pid}" in message
    assert log_path.read_bytes() == before
    for maintenance in (audit.rotate, audit.repair):
        with pytest.raises(AuditError, match="cannot lock"):
            maintenance(log_path, lock_timeout=0.2)
    assert log_path.read_bytes() == before
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl"]


def test_writes_go_on_once_the_holder_is_gone(
    log_path: Path, stopped_holder: subprocess.Popen[str]
) -> None:
    log = audit.AuditLog(log_path, fsync=False, lock_timeout=0.2)
    with pytest.raises(AuditError):
        log.write("requested")
    stopped_holder.kill()
    stopped_holder.wait(HANG)
    log.write("requested", notes=["after"])
    log.close()
    assert audit.verify([log_path]).records == 3


# --- checkpoints ----------------------------------------------------------------------------------


def test_a_checkpoint_holds_a_grown_log_and_catches_a_truncated_one(log_path: Path) -> None:
    make_log(log_path, 5)
    checkpoint = audit.head(log_path)
    assert checkpoint.seq == 5
    assert str(checkpoint) == f"5:{audit.chain_hash(lines_of(log_path)[-1])}"
    make_log(log_path, 3)  # the log grows
    assert audit.verify([log_path], checkpoints=[checkpoint]).ok

    lines = lines_of(log_path)
    write_lines(log_path, lines[:4])  # cut at a line boundary, before the checkpoint
    assert audit.verify([log_path]).ok  # the chain alone cannot tell
    result = audit.verify([log_path], checkpoints=[checkpoint])
    assert (result.reason, result.line) == ("head", 4)
    assert "ends at seq 4, before the checkpoint's seq 5" in str(result.detail)


def test_a_checkpoint_catches_a_log_rewritten_up_to_it(log_path: Path) -> None:
    """An unkeyed log rebuilt from scratch (every digest recomputed, as anyone can): the
    chain verifies, the checkpoint kept elsewhere does not."""
    make_log(log_path, 6)
    checkpoint = audit.head(log_path)
    make_log(log_path, 2)
    lines = lines_of(log_path)
    lines[0] = reseal(lines[0].replace(b'"m:0"', b'"m:forged"'))
    relink(lines, 0)
    write_lines(log_path, lines)
    assert audit.verify([log_path]).ok
    result = audit.verify([log_path], checkpoints=[(checkpoint.seq, checkpoint.digest)])
    assert (result.reason, result.line) == ("head", 6)
    assert "the log was rewritten up to it" in str(result.detail)


# --- a log in the first format --------------------------------------------------------------------


def test_a_first_format_log_verifies_and_an_unkeyed_writer_continues_it(log_path: Path) -> None:
    head = first_format_log(log_path, 4)
    result = audit.verify([log_path])
    assert (result.ok, result.records, result.head, result.first_format) == (True, 4, head, 4)
    assert result.unsealed_end
    make_log(log_path, 2)
    new = lines_of(log_path)[4:]
    assert all(audit.chain_of(line) == "sha256" for line in new)
    assert json.loads(new[0])["prev"] == head
    result = audit.verify([log_path])
    assert (result.ok, result.records, result.first_format) == (True, 6, 4)
    assert not result.unsealed_end

    with log_path.open("ab") as stream:  # a first-format record after sealed ones
        stream.write(first_format_line(audit.chain_hash(lines_of(log_path)[-1]), 7) + b"\n")
    result = audit.verify([log_path])
    assert (result.reason, result.line) == ("edited", 7)
    assert "first format" in str(result.detail)


def test_a_keyed_writer_refuses_a_first_format_tail_until_rotate(log_path: Path) -> None:
    head = first_format_log(log_path, 3, hmac_key=KEY)
    assert audit.verify([log_path], hmac_key=KEY).ok
    before = log_path.read_bytes()
    with pytest.raises(AuditError) as caught:
        audit.AuditLog(log_path, fsync=False, hmac_key=KEY).write("requested")
    assert "first record format" in str(caught.value)
    assert f"rds-guard audit rotate {log_path}" in str(caught.value)
    assert log_path.read_bytes() == before

    archive = audit.rotate(log_path, hmac_key=KEY)
    [rotated] = lines_of(log_path)
    assert audit.chain_of(rotated) == "hmac-sha256" and audit.is_authentic(rotated, KEY)
    assert json.loads(rotated)["prev"] == head
    make_log(log_path, 2, hmac_key=KEY)
    result = audit.verify([archive, log_path], hmac_key=KEY)
    assert (result.ok, result.records, result.first_format) == (True, 6, 3)
    assert audit.verify([log_path], hmac_key=KEY).continues == archive.name


def test_a_first_release_log_upgraded_to_a_key_as_documented_verifies_under_it(
    log_path: Path,
) -> None:
    """A log the first release wrote without a key, sealed by `rotate` and then rotated with
    the key (docs/audit.md), is the plain prefix of a keyed series: it verified with a `key`
    finding under the key ("plain SHA-256, not HMAC-SHA256"), an honest history read wrong.
    The plain part is still vouched for by the keyed record after it, and by nothing else;
    a checkpoint taken of it before the key holds under the key (its digest plain SHA-256)."""
    first_format_log(log_path, 3)
    before = audit.head(log_path)  # a checkpoint of the first release's log, without a key
    sealed = audit.rotate(log_path)
    keyed = audit.rotate(log_path, hmac_key=KEY)
    make_log(log_path, 2, hmac_key=KEY)
    files = [sealed, keyed, log_path]
    result = audit.verify(files, hmac_key=KEY, checkpoints=[before])
    assert (result.ok, result.records, result.first_format) == (True, 7, 3)
    assert str(audit.head(files, hmac_key=KEY)) == f"7:{result.head}"
    assert audit.verify([sealed], hmac_key=KEY).head == before.digest  # a plain end, plain

    lines = lines_of(sealed)  # an edit of the first-format part, relinked up to the key
    lines[1] = first_format_line(audit.chain_hash(lines[0]), 2, event="created")
    lines[2] = first_format_line(audit.chain_hash(lines[1]), 3)
    write_lines(sealed, lines)
    [rotated] = lines_of(keyed)
    write_lines(keyed, [reseal(b'{"prev":"' + audit.chain_hash(lines[2]).encode() + rotated[73:])])
    assert audit.verify(files[:2]).ok  # without the key, nothing vouches for the plain part
    result = audit.verify(files, hmac_key=KEY)
    assert (result.reason, result.path, result.line) == ("edited", keyed, 1)

    first_format_log(log_path, 3)  # alone, under the key: nothing written with it
    result = audit.verify([log_path], hmac_key=KEY)
    assert (result.reason, result.line) == ("key", 1)
    assert "no HMAC-keyed record vouches for it" in str(result.detail)


def test_a_keyed_first_release_log_relinked_in_plain_sha256_is_caught_under_the_key(
    log_path: Path,
) -> None:
    """Past a link under the key, a first-format record linked in plain SHA-256 is a
    downgrade, not the plain prefix of a keyed series. Control: the honest log's head or
    checkpoint taken without the key holds under it (its records name no algorithm)."""
    first_format_log(log_path, 4, hmac_key=KEY)
    lines = lines_of(log_path)
    plain = audit.chain_hash(lines[-1])  # its last record's digest taken without the key
    assert audit.verify([log_path], hmac_key=KEY, head=plain).ok  # as a checkpoint of it is
    assert audit.verify([log_path], hmac_key=KEY, checkpoints=[(4, plain)]).ok
    lines[2] = first_format_line(audit.chain_hash(lines[1]), 3, event="created")
    lines[3] = first_format_line(audit.chain_hash(lines[2]), 4)
    write_lines(log_path, lines)
    result = audit.verify([log_path], hmac_key=KEY)
    assert (result.reason, result.line, len(result.findings)) == ("key", 3, 1)
    assert "plain SHA-256, not HMAC-SHA256 under the given key" in str(result.detail)


def _rewritten_plain(path: Path, also: Callable[[list[bytes]], None]) -> None:
    """Every record of the file re-sealed as plain SHA-256 and relinked, its first `prev`
    kept, after ``also`` changed what it likes: what anyone without the key can do to a
    keyed file."""
    lines = [line.replace(b'"chain":"hmac-sha256"', b'"chain":"sha256"') for line in lines_of(path)]
    also(lines)
    lines[0] = reseal(lines[0])
    relink(lines, 0)
    write_lines(path, lines)


def _named_elsewhere(lines: list[bytes]) -> None:
    named = lines[0].replace(b'"rotated_from":"audit.jsonl.1-3"', b'"rotated_from":"x.jsonl"')
    assert named != lines[0]
    lines[0] = named


def _no_longer_rotated(lines: list[bytes]) -> None:
    plain = lines[0].replace(b'"event":"rotated"', b'"event":"requested"')
    assert plain != lines[0]
    lines[0] = plain


@pytest.mark.parametrize(
    "also",
    [lambda lines: None, _named_elsewhere, _no_longer_rotated],
    ids=["as-it-was", "rotated-from-elsewhere", "no-rotated-record"],
)
def test_a_keyed_rotate_refuses_a_plain_rewrite_of_a_file_that_continues_a_keyed_one(
    log_path: Path, also: Callable[[list[bytes]], None]
) -> None:
    """A keyed log's live file (it starts with `rotated`) rewritten as plain SHA-256 by
    someone without the key: every keyed writer refuses it and points to `rotate --key-env`,
    which took the forgery into the keyed series (`verify` of the files after it then
    passed). A keyed archive of the log lies beside it, however the forger rewrote the
    fields that name it: a keyed log never goes plain, and rotate refuses, changing
    nothing."""
    make_log(log_path, 3, hmac_key=KEY)
    archive = audit.rotate(log_path, hmac_key=KEY)
    assert archive.name == "audit.jsonl.1-3"
    make_log(log_path, 2, hmac_key=KEY)
    _rewritten_plain(log_path, also)
    before = log_path.read_bytes()
    with pytest.raises(AuditError, match="rds-guard audit rotate"):
        audit.AuditLog(log_path, fsync=False, hmac_key=KEY).write("requested")
    with pytest.raises(AuditError) as caught:
        audit.rotate(log_path, hmac_key=KEY)
    assert caught.value.detail.startswith(
        f"{log_path}: its records are not HMAC-keyed, and {archive.name} beside it, an archive"
        " of the log, is"
    )
    assert log_path.read_bytes() == before
    assert sorted(log_path.parent.iterdir()) == sorted([archive, log_path])


def test_a_plain_series_still_goes_keyed_through_rotate(log_path: Path) -> None:
    """A plain file that continues a plain archive is no downgrade: it goes keyed."""
    make_log(log_path, 3)
    first = audit.rotate(log_path)
    make_log(log_path, 2)
    second = audit.rotate(log_path, hmac_key=KEY)
    make_log(log_path, 1, hmac_key=KEY)
    assert audit.verify([first, second, log_path], hmac_key=KEY).ok


def test_a_plain_log_goes_keyed_through_rotate(log_path: Path) -> None:
    make_log(log_path, 3)
    with pytest.raises(AuditError, match="rds-guard audit rotate"):
        audit.AuditLog(log_path, fsync=False, hmac_key=KEY).write("requested")
    archive = audit.rotate(log_path, hmac_key=KEY)
    make_log(log_path, 2, hmac_key=KEY)
    assert audit.verify([archive, log_path], hmac_key=KEY).ok  # the HMAC records vouch
    assert audit.verify([archive]).ok
    with pytest.raises(AuditError, match="HMAC-keyed"):
        audit.AuditLog(log_path, fsync=False).write("requested")

"""The ``kind`` index against someone who can write the table: it is how `verify --ledger`
and the checkpoints find every stream (its marker, seq 0) and every fork (an item of its
own), and a writer's ``PutItem`` can overwrite either item with one that is not listed.
docs/ledger.md, Guarantees: a writer cannot "delete anything" undetected, and an auditor
relies on "every fork is visible". Against moto's server over HTTP.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from ledger_helpers import (
    KEY_ALIAS,
    item_at,
    ledger_findings,
    put_raw,
    ship,
    stream_of,
    write_log,
)

from rds_guard.audit.ledger import Fork, LedgerTable
from rds_guard.audit.ledger.checkpoints import (
    ALGORITHM,
    CheckpointStore,
    ForkEntry,
    body_digest,
    name_of,
    parse_body,
    write_checkpoint,
)
from rds_guard.audit.ledger.history import read_history
from rds_guard.audit.ledger.items import fork_key, full_sha256, line_digest, record_item, text
from rds_guard.audit.ledger.verify import verify_ledger

NOT_LISTED = {"note": {"S": "nothing to see here"}}
"""What the overwriting item holds besides its key: no ``kind``, so the index drops it."""


def _overwrite(table: LedgerTable, stream: str, seq: int) -> None:
    put_raw(table, {"stream": {"S": stream}, "seq": {"N": str(seq)}, **NOT_LISTED})


def _cloned(table: LedgerTable, tmp_path: Path) -> tuple[Path, list[bytes], str]:
    """Two logs sharing their first three records (a cloned disk), each with two of its own;
    the clone is shipped. Returns the original's path and lines, and the stream."""
    original, clone = tmp_path / "a" / "audit.jsonl", tmp_path / "b" / "audit.jsonl"
    original.parent.mkdir()
    clone.parent.mkdir()
    write_log(original, 3)
    shutil.copy(original, clone)
    lines = write_log(original, 2, note="a")
    write_log(clone, 2, note="b")
    ship(clone, table)
    return original, lines, stream_of(table, clone)


def _forked(table: LedgerTable, tmp_path: Path) -> tuple[str, list[bytes]]:
    """`_cloned`, then the original's run refused at the ledger's head (seq 5), a fork.
    Returns the stream and the original's lines."""
    original, lines, stream = _cloned(table, tmp_path)
    with pytest.raises(Fork):
        ship(original, table)
    return stream, lines


def _verify(table: LedgerTable, store: CheckpointStore) -> list[tuple[int, str]]:
    return sorted(ledger_findings(table, history=read_history(store)))


def _verify_lines(table: LedgerTable, store: CheckpointStore) -> list[str]:
    return verify_ledger(table, history=read_history(store)).lines()


def test_a_marker_overwritten_is_put_back_by_the_next_run(
    table: LedgerTable,
    store: CheckpointStore,
    log_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Never checkpointed, the stream drops out of the index, so out of `verify --ledger`
    and of every later checkpoint, for as long as the marker stays overwritten: the host's
    next run puts it back, and says so; the next checkpoint holds the stream."""
    write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    _overwrite(table, stream, 0)
    assert stream not in set(table.streams())
    write_log(log_path, 1)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        ship(log_path, table)
    assert [r.getMessage() for r in caplog.records if "marker" in r.getMessage()] == [
        f"{log_path}: the marker of stream {stream} (its item at seq 0, which lists the stream "
        "for verify --ledger and the checkpoints) held something else; put back. Someone who "
        "can write the table overwrote it"
    ]
    assert list(table.streams()) == [stream]
    assert text(item_at(table, stream, 0), "kind") == "stream"
    written = write_checkpoint(table, store).checkpoint
    assert written is not None and written.head_of(stream) is not None


def test_a_marker_there_already_is_left_as_it_is(
    table: LedgerTable, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The marker is put at every run that checks the ledger's head: one that is there (its
    kind and first record alike) is not written again, and nothing is said."""
    write_log(log_path, 2)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    first = item_at(table, stream, 0)
    write_log(log_path, 1)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        ship(log_path, table)
    assert item_at(table, stream, 0) == first
    assert caplog.records == []


def test_a_marker_overwritten_after_a_checkpoint_is_a_checkpoint_finding(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Once checkpointed, the stream is walked all the same (the checkpoints name it), and
    the index no longer listing it is a finding until its host ships again."""
    write_log(log_path, 3)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    _overwrite(table, stream, 0)
    assert _verify(table, store) == [(3, "checkpoint")]
    (finding,) = _verify_lines(table, store)
    assert finding == (
        f"line 3: checkpoint: {stream}: the ledger no longer lists it (its marker, the item at "
        "seq 0, was overwritten), and checkpoint 1 held it"
    )
    ship(log_path, table)
    assert _verify(table, store) == []


def test_a_stream_kept_out_of_the_index_is_found_by_a_scan_and_pinned(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Its marker overwritten just before every checkpoint, a stream never checkpointed is
    listed by no index: a checkpoint with ``scan`` reads the table's keys, pins the stream
    and says why; from then on, every verify holds it to that head."""
    write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    _overwrite(table, stream, 0)
    assert table.scanned_streams() == {stream}
    unscanned = write_checkpoint(table, store)
    assert unscanned.checkpoint is not None and unscanned.checkpoint.streams == ()
    outcome = write_checkpoint(table, store, scan=True)
    assert outcome.checkpoint is not None
    head = outcome.checkpoint.head_of(stream)
    assert head is not None and head.size == 3
    assert outcome.findings == [
        f"{stream}: the table holds it (found by a scan), but no marker lists it (its item at "
        "seq 0 was overwritten): someone who can write the table kept it out of the index"
    ]
    assert _verify(table, store) == [(3, "checkpoint")]


def test_verify_with_a_scan_reports_a_stream_no_marker_lists(
    table: LedgerTable, log_path: Path, tmp_path: Path
) -> None:
    """Without checkpoints, verify walks what the index lists; with ``scan``, every stream
    the table holds, and one no marker lists is ``unlisted-stream``. A fork's item is no
    stream of its own."""
    _forked(table, tmp_path)
    write_log(log_path, 2)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    _overwrite(table, stream, 0)
    assert stream not in {summary.stream for summary in verify_ledger(table).streams}
    result = verify_ledger(table, scan=True)
    assert stream in {summary.stream for summary in result.streams}
    assert sorted((f.line, f.reason) for f in result.findings) == [
        (2, "unlisted-stream"),
        (5, "fork"),
    ]
    ship(log_path, table)  # the host's next run puts the marker back
    assert [f.reason for f in verify_ledger(table, scan=True).findings] == ["fork"]


def test_a_host_that_starts_shipping_while_the_table_is_scanned_is_no_finding(
    table: LedgerTable, store: CheckpointStore, tmp_path: Path
) -> None:
    """A new host ships its first records (its marker first) as the scan starts: the scan
    sees its stream, which the index lists when read after it. Neither the checkpoint nor
    verify calls it kept out of the index (it was once: read before the scan)."""
    logs = [tmp_path / f"{name}.jsonl" for name in ("a", "b", "c")]
    write_log(logs[0], 2)
    ship(logs[0], table)
    for path in logs[1:]:
        write_log(path, 2, note=path.stem)
    waiting = list(logs[1:])

    def a_host_ships(**_: object) -> None:
        if waiting:
            ship(waiting.pop(0), table)

    table.clients.dynamodb.meta.events.register("before-call.dynamodb.Scan", a_host_ships)
    outcome = write_checkpoint(table, store, scan=True)
    assert outcome.checkpoint is not None and outcome.findings == []
    assert len(outcome.checkpoint.streams) == 2
    result = verify_ledger(table, scan=True)
    assert (result.findings, len(result.streams)) == ((), 3)


def test_a_stream_whose_marker_the_index_lags_behind_is_walked_by_a_scan(
    table: LedgerTable, tmp_path: Path
) -> None:
    """The ``kind`` index is eventually consistent: its answer leaves out the marker of a
    stream that just started. A scan finds the stream, its marker read at seq 0: walked, no
    finding (it was neither walked nor reported)."""
    logs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in logs:
        write_log(path, 2, note=path.stem)
        ship(path, table)
    late = stream_of(table, logs[1])

    def of_the_index(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["of the kind index"] = params.get("IndexName") == "kind"

    def lagging(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("of the kind index"):
            parsed["Items"] = [i for i in parsed.get("Items", []) if i["stream"]["S"] != late]

    events = table.clients.dynamodb.meta.events
    events.register("before-parameter-build.dynamodb.Query", of_the_index)
    events.register("after-call.dynamodb.Query", lagging)
    assert late not in set(table.streams())
    result = verify_ledger(table, scan=True)
    assert result.ok and late in {summary.stream for summary in result.streams}


def test_a_fork_overwritten_after_a_checkpoint_is_found_by_verify_and_the_next_checkpoint(
    table: LedgerTable, store: CheckpointStore, tmp_path: Path
) -> None:
    """The fork's item is under the writer's own account: overwritten, the index drops it
    and nothing else lists it. The checkpoint pins it (its key, seq and the refused line's
    digest): verify reports it gone, and the next checkpoint says so and keeps it."""
    stream, lines = _forked(table, tmp_path)
    assert ledger_findings(table) == [(5, "fork")]
    written = write_checkpoint(table, store).checkpoint
    assert written is not None
    pinned = ForkEntry(fork_key(stream, lines[4]), 5, full_sha256(lines[4]))
    assert written.forks == (pinned,)
    _overwrite(table, pinned.key, 5)
    assert table.forks() == []
    assert _verify(table, store) == [(5, "checkpoint")]
    outcome = write_checkpoint(table, store)
    assert outcome.findings == [
        f"{stream}: the fork at seq 5 that a checkpoint recorded (item {pinned.key}, digest "
        f"{pinned.digest}) is no longer in the ledger as it was: overwritten since"
    ]
    assert outcome.checkpoint is not None and outcome.checkpoint.forks == (pinned,)


def test_a_fork_made_to_hold_another_line_is_found(
    table: LedgerTable, store: CheckpointStore, tmp_path: Path
) -> None:
    """The writer keeps the fork listed (its kind, its stream) but puts another line in it,
    one that makes the fork look harmless: the checkpoint pinned the refused line's digest,
    so verify and the next checkpoint still find it changed."""
    stream, lines = _forked(table, tmp_path)
    write_checkpoint(table, store)
    key = fork_key(stream, lines[4])
    forged = item_at(table, key, 5) | {"line": {"S": lines[3].decode()}}
    put_raw(table, forged)
    assert [text(fork, "line") for fork in table.forks()] == [lines[3].decode()]
    # edited thrice: the line is seq 4's, not under its key, nor holding its digest
    edited = [(5, "edited")] * 3
    assert _verify(table, store) == [(5, "checkpoint"), *edited, (5, "fork")]
    assert write_checkpoint(table, store).findings == [
        f"{stream}: the fork at seq 5 that a checkpoint recorded (item {key}, digest "
        f"{full_sha256(lines[4])}) is no longer in the ledger as it was: overwritten since"
    ]


@pytest.mark.parametrize("checkpointed", [True, False], ids=["checkpointed", "not-yet"])
def test_a_forks_line_edited_around_its_own_digest_is_found(
    table: LedgerTable, store: CheckpointStore, tmp_path: Path, checkpointed: bool
) -> None:
    """The writer edits what the clone wrote (``requested`` made ``blocked``) but keeps the
    line's own digest field, which is all a checkpoint pinned, and names another stream as
    forked (``of``): the checkpoint pins the whole line, and the item's key is its line's
    under the stream forked, so verify finds the edit either way, and names the stream the
    key is under."""
    stream, lines = _forked(table, tmp_path)
    if checkpointed:
        write_checkpoint(table, store)
    key = fork_key(stream, lines[4])
    other = f"{stream.rsplit('/', 1)[0]}/0000000000000000"
    edited = lines[4].replace(b'"event":"requested"', b'"event":"blocked"')
    assert edited != lines[4] and line_digest(edited) == line_digest(lines[4])
    put_raw(table, item_at(table, key, 5) | {"line": {"S": edited.decode()}, "of": {"S": other}})
    found = verify_ledger(table, history=read_history(store) if checkpointed else None).findings
    assert sorted((f.line, f.reason) for f in found) == [
        *([(5, "checkpoint")] if checkpointed else []),
        (5, "edited"),
        (5, "fork"),
    ]
    assert {f.stream for f in found} == {stream}
    if checkpointed:
        assert write_checkpoint(table, store).findings != []


def test_a_record_below_a_checkpoint_given_a_line_break_and_its_digest_is_found(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A line break after a record's line, and the item's digest made the one such a line
    gets (its SHA-256: the own digest is no longer where a sealed line carries it): the walk
    of the lines takes a line's newline off, as it does a file's, and saw the record as
    shipped."""
    lines = write_log(log_path, 5)
    ship(log_path, table)
    write_checkpoint(table, store)
    stream = stream_of(table, log_path)
    put_raw(table, record_item(stream, 3, lines[2] + b"\n"))
    assert _verify(table, store) == [(3, "edited")]


def test_an_item_put_at_a_forks_key_beforehand_does_not_keep_the_fork_out(
    table: LedgerTable, tmp_path: Path
) -> None:
    """Whoever can predict the refused line (the one who cloned the disk) puts an item at
    the fork's key first: the fork item replaces it, and the fork is reported."""
    original, lines, stream = _cloned(table, tmp_path)
    _overwrite(table, fork_key(stream, lines[4]), 5)
    with pytest.raises(Fork) as refused:
        ship(original, table)
    assert "it replaced an item someone had put at its key" in str(refused.value)
    (fork,) = table.forks(stream)
    assert text(fork, "line") == lines[4].decode()
    assert ledger_findings(table) == [(5, "fork")]


def test_a_signed_checkpoint_that_drops_a_fork_is_a_finding(
    table: LedgerTable, store: CheckpointStore, tmp_path: Path
) -> None:
    """Checkpoints never drop a fork: one that does (signed with the fleet's key: a
    checkpointer gone wrong, or a KMS admin) is reported by verify --checkpoints."""
    _forked(table, tmp_path)
    write_checkpoint(table, store)
    first_body, _ = store.read(store.location.key(name_of(1)))
    first = parse_body(first_body)
    assert first.forks
    body = dataclasses.replace(first, number=2, prev=body_digest(first_body), forks=()).body()
    signed = store.clients.kms.sign(
        KeyId=store.key_arn(),
        Message=hashlib.sha256(body).digest(),
        MessageType="DIGEST",
        SigningAlgorithm=ALGORITHM,
    )
    store.clients.s3.put_object(
        Bucket=store.location.bucket,
        Key=store.location.key(name_of(2)),
        Body=body,
        Metadata={"signature": base64.b64encode(signed["Signature"]).decode("ascii")},
    )
    history = read_history(store)
    (fork,) = first.forks
    assert [finding.detail for finding in history.findings] == [
        f"{store.location}{name_of(2)}: drops the fork of stream {fork.stream} at seq 5"
    ]


def test_a_fork_item_whose_seq_is_no_whole_number_is_reported_not_a_crash(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """A writer puts a fork item at seq 2.5 (the key takes any number): it stopped verify and
    every checkpoint (`int("2.5")`, exit 2) for the whole fleet. It is listed as a fork,
    and checkpoints are written all the same."""
    write_log(log_path, 2)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    put_raw(
        table,
        {
            "stream": {"S": f"{stream}/fork/0000000000000000"},
            "seq": {"N": "2.5"},
            "kind": {"S": "fork"},
        },
    )
    # and as a fork item that holds no line
    assert [kind for _, kind in ledger_findings(table)] == ["fork", "edited"]
    assert write_checkpoint(table, store).checkpoint is not None
    assert [kind for _, kind in _verify(table, store)] == ["edited", "fork"]


# The attributes beside a record's line: docs/ledger.md's verify "holds every item to its
# line", and query reads the ``snapshot`` index. A writer of the table who changes only them
# leaves the line, its digest and the chain intact.

ATTRIBUTE_EDITS = {
    "digest removed": lambda item: item.pop("digest"),
    "digest of another type": lambda item: item.update(digest={"L": []}),
    "snapshot removed": lambda item: item.pop("snapshot"),
    "snapshot of another": lambda item: item.update(snapshot={"S": "prod-final"}),
    "time moved": lambda item: item.update(time={"S": "2000-01-01T00:00:00Z"}),
    "event changed": lambda item: item.update(event={"S": "deleted"}),
    "kind added": lambda item: item.update(kind={"S": "stream"}),
}


@pytest.mark.parametrize("edit", list(ATTRIBUTE_EDITS), ids=list(ATTRIBUTE_EDITS))
def test_an_attribute_changed_beside_an_intact_line_is_found(
    table: LedgerTable, store: CheckpointStore, log_path: Path, edit: str
) -> None:
    """Removing an item's ``digest`` passed verify while every checkpoint after refused the
    stream: one PutItem held the stream's records unpinned, verify saying ok. An index
    attribute that is not its line's hid the record from query, or put it under another
    snapshot. Each is an edit verify reports, and a checkpointer does not sign."""
    write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    assert write_checkpoint(table, store).findings == []
    write_log(log_path, 3)
    ship(log_path, table)
    item = item_at(table, stream, 5)
    ATTRIBUTE_EDITS[edit](item)
    put_raw(table, item)
    found = verify_ledger(table, history=read_history(store)).findings
    assert [(f.line, f.reason) for f in found] == [(5, "edited")]
    assert found[0].detail.startswith(f"{stream}: the item at seq 5 ")
    outcome = write_checkpoint(table, store)
    assert [finding.split(": ", 1)[1] for finding in outcome.findings] == [
        found[0].detail.split(": ", 1)[1]
    ]
    assert outcome.checkpoint is not None
    assert outcome.checkpoint.head_of(stream).size == 3  # type: ignore[union-attr]


def test_a_checkpoint_numbered_0_is_reported_and_never_trusted(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """Checkpoints are numbered from 1, and without ``--policy`` the first one's key is the
    one trusted: a checkpoint 0 signed with someone else's key set the key, and verify blamed
    the genuine checkpoint 1 for it. It is reported as what it is, and read as nothing."""
    write_log(log_path, 2)
    ship(log_path, table)
    assert write_checkpoint(table, store).findings == []
    kms = table.clients.kms
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    forger = CheckpointStore(table.clients, store.location, other["KeyId"])
    genuine = read_history(store).checkpoints[0]
    assert forger.put(dataclasses.replace(genuine, number=0, key=other["Arn"]))
    history = read_history(store)
    assert [c.number for c in history.checkpoints] == [1]
    assert [(f.number, f.detail) for f in history.findings] == [
        (
            0,
            f"s3://{store.location.bucket}/{store.location.prefix}{name_of(0)}: named like a"
            " checkpoint but none of the series (numbered from 1, one name per number):"
            " someone who can write the bucket put it there; it is not read",
        )
    ]
    # the guards' checkpointer does not take it for the newest either
    assert write_checkpoint(table, store).checkpoint.number == 2  # type: ignore[union-attr]


def test_checkpoints_asked_for_where_there_are_none_is_a_finding(
    table: LedgerTable, store: CheckpointStore, log_path: Path
) -> None:
    """``--checkpoints`` with a mistyped prefix said ok, the very answer of a verify without
    it: the auditor believed the ledger pinned."""
    write_log(log_path, 2)
    ship(log_path, table)
    assert write_checkpoint(table, store).findings == []
    typo = CheckpointStore(
        table.clients, dataclasses.replace(store.location, prefix="rds-gaurd/"), KEY_ALIAS
    )
    result = verify_ledger(table, history=read_history(typo))
    assert not result.ok
    assert [(f.line, f.reason) for f in result.findings] == [(0, "checkpoint")]
    assert "no checkpoint there, so none pins the ledger" in result.findings[0].detail
    assert verify_ledger(table, history=read_history(store)).ok


def test_a_record_filed_under_a_forks_key_is_a_stream_to_the_scan(
    table: LedgerTable, store: CheckpointStore, log_path: Path, tmp_path: Path
) -> None:
    """A writer of the table files a record of its own making under a key that looks like a
    fork's (``<stream>/fork/...``, no ``kind``): the scan took every such key for a fork's,
    so neither ``verify`` nor a checkpoint walked or pinned it (exit 0), and it could be
    edited again at will. Only a fork's own item (its kind) is no stream: this one is a
    stream no marker lists, ``unlisted-stream`` to ``verify`` (and ``edited``: not named
    after its first record), and a checkpoint's finding."""
    write_log(log_path, 3)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    forged = write_log(tmp_path / "forged.jsonl", 1, snapshot="prod-db-daily-20261129")
    hidden = f"{stream}/fork/deadbeefdeadbeef"
    put_raw(table, record_item(hidden, 1, forged[0]))
    result = verify_ledger(table, scan=True)
    assert [(f.reason, f.stream) for f in result.findings] == [
        ("edited", hidden),  # its first record is not the one its name is made from
        ("unlisted-stream", hidden),
    ]
    outcome = write_checkpoint(table, store, scan=True)
    assert outcome.checkpoint is not None and outcome.checkpoint.head_of(hidden) is not None
    assert [finding.split(":")[0] for finding in outcome.findings] == [hidden]

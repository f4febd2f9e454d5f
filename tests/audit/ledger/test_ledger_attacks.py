"""The fleet ledger against someone who can write a host's log, or who holds the ledger's
table, tried as an attacker would: each test is one attack on a promise of docs/ledger.md
(or docs/cli.md), quoted in its docstring.

A ledger that hangs in ``required`` mode, a log sealed again over records already shipped, a
damaged line in the middle of a log, a record deleted from the middle of the ledger and put
back with ``rds-guard audit ship --from``, and authentic records replayed behind the writer.
Against moto's server over HTTP; failures injected with botocore's ``before-send``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import relink, reseal, write_lines
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from cli_helpers import run_main
from ledger_helpers import (
    LEDGER_URL,
    REGION,
    complete_lines,
    delete_item,
    dynamodb_error,
    item_at,
    ledger_findings,
    ledger_guard,
    on_send,
    ship,
    snapshot,
    stored_lines,
    stored_seqs,
    stream_of,
    wait_until,
    write_log,
)
from servers import MotoServer

import rds_guard
from rds_guard import audit
from rds_guard.audit.ledger import (
    Clients,
    Fork,
    LedgerTable,
    LedgerUnavailable,
    RemoteAhead,
    Reordered,
    Shipper,
    ShipRefused,
    ShipResult,
    UnreadableLine,
)
from rds_guard.audit.ledger.items import text
from rds_guard.audit.ledger.spool import CLOSE_WAIT, ShippingLog
from rds_guard.audit.ledger.state import state_path
from rds_guard.audit.ledger.verify import verify_ledger
from rds_guard.core.policy import LedgerPolicy


def _stored_items(table: LedgerTable, stream: str) -> list[dict[str, Any]]:
    """The items the ledger holds for ``stream``'s records, whole, in seq order."""
    return list(table.records(stream))


@contextlib.contextmanager
def _shipped_by_a_shipper_that_lives_on(
    table: LedgerTable, log_path: Path
) -> Iterator[tuple[Shipper, list[bytes], list[dict[str, Any]]]]:
    """A log of 8 records shipped by a shipper kept open, as the guard's thread keeps one:
    the shipper, the log's lines and the stream's items as the ledger then holds them."""
    lines = write_log(log_path, 8)
    shipper = Shipper(log_path, table)
    try:
        assert shipper.ship().acked == 8
        yield shipper, lines, _stored_items(table, stream_of(table, log_path))
    finally:
        shipper.close()


def _append(path: Path, lines: list[bytes]) -> None:
    """Append ``lines`` to the log, as anyone who can write the file can."""
    with open(path, "ab") as log:
        log.write(b"".join(line + b"\n" for line in lines))


def _findings(path: Path) -> list[tuple[int, str]]:
    return [(finding.line, finding.reason) for finding in audit.verify(path).findings]


def _header(request: AWSPreparedRequest, name: str) -> str:
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def _snapshot(rds: Any, day: int) -> Any:
    return snapshot(rds, f"orders-manual-202611{day:02}")


# --- 1. a ledger that hangs, in required mode ------------------------------------------------


def test_required_mode_gives_up_on_a_hung_ledger_within_three_attempts(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every PutItem to the ledger hangs until the client's read timeout fires. docs/ledger.md:
    "retries unset: 3 attempts in standard mode; a connection must open within 2 seconds, an
    answer come within 10, so that a ledger out of reach holds a `required`-mode call for
    seconds, not minutes", and "the call fails with `LedgerUnavailable` (an `AuditError`):
    nothing is sent". The ledger's clients carry those timeouts; the timeout botocore raises
    when a read hangs is tried 3 times, no more; the call fails with LedgerUnavailable, a
    local ``failed`` record says why, and RDS never sees the request."""
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")  # the defaults the docs describe: retries unset
    monkeypatch.delenv("AWS_RETRY_MODE")
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    try:
        assert isinstance(guard.audit, ShippingLog)
        dynamodb = guard.audit.clients.dynamodb
        config = dynamodb.meta.config
        assert (config.connect_timeout, config.read_timeout) == (2, 10)
        attempts: dict[str, list[str]] = defaultdict(list)

        def hang(request: AWSPreparedRequest, **_: Any) -> None:
            invocation = _header(request, "amz-sdk-invocation-id")
            attempts[invocation].append(_header(request, "amz-sdk-request"))
            # what botocore raises once a real hang outlasts read_timeout: 3 real hangs
            # would hold this test for more than 30 s
            raise ReadTimeoutError(endpoint_url=request.url)

        on_send(dynamodb, "PutItem", hang)
        started = time.monotonic()
        with pytest.raises(LedgerUnavailable, match='mode = "required"') as refused:
            _snapshot(rds, 29)
        elapsed = time.monotonic() - started
    finally:
        guard.uninstall()
    # the shipping thread may still be trying its last run: its attempts count too
    wait_until(lambda: not any(t.name == "rds-guard-ledger" for t in threading.enumerate()), 30)
    assert isinstance(refused.value, rds_guard.AuditError)
    assert "Read timeout on endpoint URL" in refused.value.detail
    assert aws.count("CreateDBClusterSnapshot") == 0
    assert attempts  # the call's own put, and any the shipping thread made meanwhile
    expected = ["attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3"]
    assert all(tries == expected for tries in attempts.values()), dict(attempts)
    # only a hang detector: injected at once, three timeouts cost botocore's backoff (< 3 s)
    assert elapsed < 30
    records = [json.loads(line) for line in complete_lines(tmp_path / "audit.jsonl")]
    assert [record["event"] for record in records] == ["requested", "failed"]
    assert records[1]["error"]["code"] == "LedgerUnavailable"


def test_required_mode_keeps_an_endpoints_password_out_of_the_record_and_the_error(
    aws: MotoServer, table: LedgerTable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The ledger's endpoint names a proxy with a password, and cannot be reached: botocore
    quotes the URL whole. The ``failed`` record redacted it in its ``error`` but kept it in
    its ``notes``, and the `LedgerUnavailable` message and the shipping thread's warning
    quoted it too. docs/audit.md: a URL's user information is replaced by ``[redacted]``."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    url = "http://proxyuser:Pr0xyS3cret@127.0.0.1:9/"
    try:
        assert isinstance(guard.audit, ShippingLog)

        def unreachable(request: AWSPreparedRequest, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url=url)

        on_send(guard.audit.clients.dynamodb, "PutItem", unreachable)
        with pytest.raises(LedgerUnavailable) as refused:
            _snapshot(rds, 29)
        guard.audit.ship_once(timeout=None)
    finally:
        guard.uninstall()
    assert aws.count("CreateDBClusterSnapshot") == 0
    redacted = "http://[redacted]@127.0.0.1:9/"
    assert redacted in str(refused.value) and "Pr0xyS3cret" not in str(refused.value)
    text = (tmp_path / "audit.jsonl").read_text()
    assert redacted in text and "Pr0xyS3cret" not in text
    assert "Pr0xyS3cret" not in caplog.text


# --- 2. a log sealed again over records already shipped --------------------------------------


def _seal_again(path: Path, lines: list[bytes]) -> list[bytes]:
    """Rewrite the third record (a ``requested`` turned ``blocked``) and re-seal it and
    every record after it: plain SHA-256, so the forged log verifies."""
    forged = list(lines)
    forged[2] = reseal(forged[2].replace(b'"requested"', b'"blocked"'))
    relink(forged, 2)
    write_lines(path, forged)
    return forged


def test_a_log_sealed_again_over_shipped_records_is_a_fork(
    table: LedgerTable, log_path: Path
) -> None:
    """Someone who can write the file rewrites a record the ledger already holds and
    re-seals the chain after it; the file verifies. docs/ledger.md: "The local record at
    that seq must have the same digest: another digest is a **fork**", and the shipper
    "writes the refused record to the ledger as an item of its own, so that `verify
    --ledger` reports it with both digests". The next run refuses at the ledger's head,
    records the forged line as a fork item, and every record item stays byte for byte."""
    lines = write_log(log_path, 8)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    before = _stored_items(table, stream)
    forged = _seal_again(log_path, lines)
    assert audit.verify(log_path).ok  # locally, nothing shows
    with pytest.raises(Fork) as refused:
        ship(log_path, table)
    assert refused.value.seq == 8
    assert log_path.read_bytes() == b"".join(line + b"\n" for line in forged)
    assert _stored_items(table, stream) == before
    assert "rewritten and sealed again" in refused.value.detail
    (fork,) = table.forks(stream)
    assert text(fork, "line") == forged[7].decode()
    assert (text(fork, "digest"), text(fork, "stored")) == (
        audit.own_digest(forged[7]),
        audit.own_digest(lines[7]),
    )
    assert ledger_findings(table) == [(8, "fork")]


def test_the_guards_own_shipper_meets_a_log_sealed_again_at_its_next_run(
    table: LedgerTable, log_path: Path
) -> None:
    """The same attack under a shipper that lives on, as the guard's thread keeps one, and
    a writer that chains its next record onto the forged head (it authenticates). The
    promise is per run (docs/ledger.md, "How a run goes", 2: "The local record at that seq
    must have the same digest: another digest is a **fork**"): that shipper's next run
    refuses too, and the record chained onto the forgery is not shipped."""
    with _shipped_by_a_shipper_that_lives_on(table, log_path) as (shipper, lines, before):
        _seal_again(log_path, lines)
        write_log(log_path, 1)
        with pytest.raises(Fork) as refused:
            shipper.ship()
    stream = stream_of(table, log_path)
    assert refused.value.seq == 8
    assert _stored_items(table, stream) == before
    assert ledger_findings(table) == [(8, "fork")]


# --- 3. a damaged line in the middle of the local log ----------------------------------------


def _torn(line: bytes) -> bytes:
    return line[: len(line) // 2]


def _flipped(line: bytes) -> bytes:
    return line.replace(b'"event":', b'"event";', 1)


@pytest.mark.parametrize("damage", [_torn, _flipped], ids=["torn", "flipped"])
def test_a_line_that_is_no_record_is_not_shipped(
    table: LedgerTable,
    log_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[bytes], bytes],
) -> None:
    """The fifth line is cut short or has a byte flipped, its start (``prev``, ``seq``)
    intact. docs/ledger.md: "A line that is no record is not shipped; records after a
    missing seq are shipped as they are (the ledger mirrors the log, and `verify` reports
    the gap in both)." The damaged bytes never reach the ledger; the records around them
    do, byte for byte; the shipper warns of the missing seq; both verifies report it."""
    lines = write_log(log_path, 8)
    damaged = damage(lines[4])
    assert audit.parse_record(damaged) is None
    assert damaged.startswith(lines[4].split(b',"time":')[0])  # its prev and seq as written
    write_lines(log_path, [*lines[:4], damaged, *lines[5:]])
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        result = ship(log_path, table)
    assert (result.shipped, result.acked, result.error, result.missing) == (7, 8, None, [(5, 5)])
    assert result.damaged == []  # records follow it: the gap in the seqs names it
    stream = stream_of(table, log_path)
    assert stored_lines(table, stream) == lines[:4] + lines[5:]
    assert "the local log has no record with seq 5 (the next is 6)" in caplog.text
    assert ledger_findings(table) == [(6, "removed")]
    assert _findings(log_path) == [(5, "edited")]


def test_a_last_record_made_junk_is_no_up_to_date(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last line is made junk before it is shipped: no seq is missing after it, and
    ship said "up to date" (exit 0). docs/ledger.md: exit 1 when a log "lacks records (a
    damaged line, ...)". The run ships the rest, names the line (its byte offset) and exits 1,
    and says so again on the next run, while the line is there."""
    lines = write_log(log_path, 6)
    write_lines(log_path, [*lines[:5], _flipped(lines[5])])
    offset = sum(len(line) + 1 for line in lines[:5])
    for _ in range(2):
        done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
        assert done.code == 1
        (shipped,) = json.loads(done.out)["logs"]
        assert shipped["damaged"] == [{"path": str(log_path), "offset": offset}]
        assert (shipped["acked"], shipped["missing"]) == (5, [])
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL)
    assert done.code == 1
    assert f"the line at byte {offset} of {log_path} is no record (damaged?)" in done.out
    assert "up to date" not in done.out
    assert stored_lines(table, stream_of(table, log_path)) == lines[:5]


def test_junk_after_the_last_record_is_named_however_the_run_reads_the_file(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Junk after the last record, and the last record acknowledged made junk (the saved
    cursor then fits no line: the run reads the file from its start): the trailing junk is
    named all the same, the junk with a record after it is not (no seq is missing)."""
    lines = write_log(log_path, 6)
    assert ship(log_path, table).acked == 6
    more = write_log(log_path, 1)  # seq 7
    junk = b"junk after the last record"
    write_lines(log_path, [*lines[:5], lines[5][:40], *more[-1:], junk])
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
    (shipped,) = json.loads(done.out)["logs"]
    offset = sum(len(line) + 1 for line in [*lines[:5], lines[5][:40], more[-1]])
    assert shipped["damaged"] == [{"path": str(log_path), "offset": offset}]
    assert (done.code, shipped["acked"], shipped["missing"]) == (1, 7, [])


def test_many_junk_lines_after_the_last_record_are_named_three_and_counted(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five junk lines after the last record: `--json` names every one; the line a person
    reads names the first three and counts the rest, so it stays one readable line."""
    lines = write_log(log_path, 2)
    junk = [f"junk {index}".encode() for index in range(5)]
    write_lines(log_path, [*lines, *junk])
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
    (shipped,) = json.loads(done.out)["logs"]
    assert done.code == 1 and len(shipped["damaged"]) == 5
    text = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL)
    assert text.code == 1 and len(text.out.splitlines()) == 1
    assert text.out.count("is no record (damaged?)") == 3
    assert text.out.rstrip().endswith("; 2 more such line(s)")


@pytest.mark.parametrize("shipped_before", [False, True], ids=["new", "shipped"])
@pytest.mark.parametrize("empty", [False, True], ids=["flipped", "empty-line-first"])
def test_a_live_file_whose_first_line_is_junk_is_named_never_up_to_date(
    table: LedgerTable,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    shipped_before: bool,
    empty: bool,
) -> None:
    """The live file's first line made junk, before or after its records were shipped: the
    series cannot be walked from it, and ship said "up to date" (exit 0) while none of the
    records after it ever reached the ledger. The line is named (byte 0), the run exits 1
    without saying "up to date", and nothing of the file is shipped."""
    lines = write_log(log_path, 4)
    stream = ""
    if shipped_before:
        assert ship(log_path, table).acked == 4
        stream = stream_of(table, log_path)
    write_lines(log_path, [b"", *lines] if empty else [_flipped(lines[0]), *lines[1:]])
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
    (shipped,) = json.loads(done.out)["logs"]
    assert (done.code, shipped["shipped"]) == (1, 0)
    assert shipped["acked"] == 0  # nothing of the log can be held to the ledger
    assert shipped["damaged"] == [{"path": str(log_path), "offset": 0}]
    said = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL)
    assert said.code == 1
    assert f"the line at byte 0 of {log_path} is no record (damaged?)" in said.out
    assert "up to date" not in said.out
    assert "its first line holds no record (damaged?): nothing of the log is shipped" in said.err
    if shipped_before:
        assert stored_seqs(table, stream) == [1, 2, 3, 4]


def test_the_guard_thread_warns_of_junk_after_the_last_record_once(
    table: LedgerTable, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The guard's thread ships the same log again and again: junk after the last record is
    a warning the first time, not on every run while it stays, and again once it changes."""
    lines = write_log(log_path, 3)
    write_lines(log_path, [*lines, b"junk"])
    shipper = Shipper(log_path, table)
    try:
        with caplog.at_level(logging.WARNING, logger="rds_guard"):
            for _ in range(3):
                assert shipper.ship().damaged
            write_lines(log_path, [*lines, b"junk", b"more junk"])
            assert len(shipper.ship().damaged) == 2
    finally:
        shipper.close()
    warnings = [r.getMessage() for r in caplog.records if "hold no record" in r.getMessage()]
    assert [message.split(": ", 1)[1][:2] for message in warnings] == ["1 ", "2 "]


def test_ship_names_missing_and_damaged_beside_an_error_and_never_up_to_date() -> None:
    """`ShipResult.describe`: a run that stopped on an error still names the seqs missing and
    the damaged lines it found (as ``--json`` does); missing seqs are never "up to date"."""
    stopped = ShipResult(
        Path("log"),
        "s",
        acked=3,
        last=9,
        error="no link",
        missing=[(2, 2)],
        damaged=[("f", 7)],
        confirmed=True,
    )
    said = stopped.describe()
    assert "6 record(s) wait: no link" in said
    assert "seq 2 in no record of the log" in said
    assert "the line at byte 7 of f is no record" in said
    gap = ShipResult(Path("log"), "s", acked=9, last=9, missing=[(4, 5)]).describe()
    assert "up to date" not in gap and "seqs 4 to 5 in no record" in gap
    fine = ShipResult(Path("log"), "s", acked=9, last=9).describe()
    assert fine.endswith("acknowledged through seq 9, up to date")


def test_a_ledger_error_message_cannot_forge_a_line_of_the_applications_log(
    table: LedgerTable, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever answers for the ledger (a proxy, an endpoint the environment names) puts a
    line break and a terminal escape in its error message: the guard's shipping thread logs
    the error, and the message would have forged a line of the application's log. It is one
    line, each such character written as its escape."""
    write_log(log_path, 3)
    message = "denied\nrds_guard: WARNING all records shipped\x1b[2J"

    def deny(request: Any, **_: Any) -> Any:
        return dynamodb_error("AccessDeniedException", message)

    clients = Clients(REGION)
    on_send(clients.dynamodb, "PutItem", deny)
    log = ShippingLog(log_path, ledger=LedgerPolicy(table.name, REGION), clients=clients)
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        try:
            log.start()  # the thread: it logs why the records wait
            wait_until(lambda: "cannot be reached" in caplog.text, what="the thread's warning")
        finally:
            log.close()
    (warning,) = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert "denied\\nrds_guard: WARNING all records shipped\\x1b[2J" in warning
    assert all(r.getMessage().isprintable() for r in caplog.records)


def test_a_log_named_with_a_line_break_is_warned_of_on_one_line(
    table: LedgerTable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The shipper's warnings name the log: a path holding a line break (a directory an
    application was given) split each into two lines of the application's log, the second
    one the path's to write. Each is one line, the break written as its escape."""
    log_path = tmp_path / "logs\nrds_guard: WARNING forged" / "audit.jsonl"
    log_path.parent.mkdir()
    lines = write_log(log_path, 6)
    write_lines(log_path, [*lines[:2], *lines[3:], b"junk"])  # seq 3 missing, junk at the end
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        result = ship(log_path, table)
    assert (result.missing, len(result.damaged)) == ([(3, 3)], 1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("no record with seq 3" in m for m in messages)
    assert any("hold no record" in m for m in messages)
    assert all("logs\\nrds_guard: WARNING forged" in m and m.isprintable() for m in messages)


def test_a_flood_of_junk_lines_is_counted_not_held(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever can write the log appends 300,000 empty lines after its last record: a run
    held a tuple per line (hundreds of megabytes for millions), on every run of the guard's
    thread. It keeps the first hundred and counts the rest: `--json` names 100 and counts
    them all, the text line names three and counts the others, and the run exits 1."""
    lines = write_log(log_path, 2)
    with log_path.open("ab") as log:
        log.write(b"\n" * 300_000)
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
    (shipped,) = json.loads(done.out)["logs"]
    assert (done.code, shipped["acked"]) == (1, 2)
    assert (len(shipped["damaged"]), shipped["damaged_count"]) == (100, 300_000)
    first = sum(len(line) + 1 for line in lines)
    assert shipped["damaged"][:2] == [
        {"path": str(log_path), "offset": first},
        {"path": str(log_path), "offset": first + 1},
    ]
    said = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL)
    assert said.code == 1 and said.out.rstrip().endswith("; 299997 more such line(s)")


def test_a_shipped_record_made_junk_is_named_by_its_gap_only(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line made junk after its record was shipped: with the state file, the run resumes
    past it and the ledger holds the record: nothing to say (exit 0; `verify` of the file
    says it). Without the state file, the run holds the file to the ledger from its start:
    seq 2 is missing from the file (records follow the junk: the gap names it)."""
    lines = write_log(log_path, 6)
    assert ship(log_path, table).acked == 6
    write_lines(log_path, [lines[0], _flipped(lines[1]), *lines[2:]])
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
    (shipped,) = json.loads(done.out)["logs"]
    assert (done.code, shipped["damaged"], shipped["acked"]) == (0, [], 6)
    state_path(log_path).unlink()
    done = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--json")
    (shipped,) = json.loads(done.out)["logs"]
    assert (done.code, shipped["damaged"], shipped["missing"]) == (1, [], [[2, 2]])
    assert stored_lines(table, stream_of(table, log_path)) == lines


def test_a_damaged_record_is_mirrored_and_reported_never_taken_as_fine(
    table: LedgerTable, log_path: Path
) -> None:
    """One byte of the fifth record's event is flipped: the line still parses (a record),
    but its bytes no longer match its digest. docs/ledger.md: "the ledger mirrors the log,
    and `verify` reports" it: the ledger holds the line as the file does, and verify of the
    ledger says ``edited`` at that seq, as verify of the file does."""
    lines = write_log(log_path, 8)
    lines[4] = lines[4].replace(b'"requested"', b'"requestee"')
    write_lines(log_path, lines)
    assert ship(log_path, table).acked == 8
    assert stored_lines(table, stream_of(table, log_path)) == lines
    (finding,) = verify_ledger(table).findings
    assert (finding.line, finding.reason) == (5, "edited")
    assert "does not match its bytes" in finding.detail
    assert _findings(log_path) == [(5, "edited")]


# --- 4. rds-guard audit ship --from -----------------------------------------------------------


def test_ship_from_a_seq_puts_back_a_record_deleted_from_the_middle(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An account admin deletes seq 4 from the ledger. docs/ledger.md: "`--from SEQ` looks
    for missing records from that seq on rather than from the last one acknowledged: a
    record deleted from the middle of the ledger is put back", and "Exit 0 when every
    record after the last one acknowledged is in the ledger (a record deleted ... below
    that point ... `verify --ledger` finds it, `--from` puts it back)". A run from the last
    seq acknowledged does not look below it and `verify --ledger` finds the gap; one with
    ``--from 2`` puts the item back byte for byte, finds the rest there, exits 0 and says
    so."""
    lines = write_log(log_path, 10)
    assert run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL).code == 0
    stream = stream_of(table, log_path)
    deleted = item_at(table, stream, 4)
    delete_item(table, stream, 4)
    assert run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL).code == 0
    assert 4 not in stored_seqs(table, stream)
    assert ledger_findings(table) == [(5, "removed")]  # what finds it: verify --ledger
    back = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL, "--from", "2")
    assert (back.code, back.err) == (0, "")
    assert back.out == (
        f"{log_path} -> {stream}: 1 shipped, 6 already there; acknowledged through seq 10, "
        "up to date\n"
    )
    assert item_at(table, stream, 4) == deleted
    assert stored_lines(table, stream) == lines
    assert verify_ledger(table).ok


# --- 5. authentic records replayed behind the writer -----------------------------------------


def test_records_replayed_behind_the_writer_are_refused_not_shipped(
    table: LedgerTable, log_path: Path
) -> None:
    """Copies of records 3 and 4 are appended to a shipped log of 8: authentic bytes, an
    old seq. docs/audit.md: the writer "chains on; `verify` ... reports the replay
    (`reordered`...)"; docs/ledger.md: "A head beyond the local log's end, with the same
    record at the local end, is a ledger **ahead of the file** ... The shipper refuses
    (exit 1, `RemoteAhead`), ships nothing". Once the writer has chained a record onto the
    copies, its seq is one the ledger holds with another record: a fork. Neither the copies
    nor what follows them is shipped as new; every item stays byte for byte."""
    lines = write_log(log_path, 8)
    ship(log_path, table)
    stream = stream_of(table, log_path)
    before = _stored_items(table, stream)
    _append(log_path, lines[2:4])
    assert _findings(log_path) == [(9, "reordered"), (10, "reordered")]
    replayed = log_path.read_bytes()
    with pytest.raises(RemoteAhead) as ahead:
        ship(log_path, table)
    assert "nothing was shipped" in ahead.value.detail
    assert log_path.read_bytes() == replayed
    assert _stored_items(table, stream) == before
    write_log(log_path, 1)
    assert json.loads(complete_lines(log_path)[-1])["seq"] == 5
    with pytest.raises(Fork) as forked:
        ship(log_path, table)
    assert forked.value.seq == 5
    assert _stored_items(table, stream) == before


def _replayed_under_a_required_guard(
    aws: MotoServer,
    table: LedgerTable,
    tmp_path: Path,
    copies: Callable[[list[bytes]], list[bytes]],
) -> tuple[LedgerUnavailable, list[bytes]]:
    """Three calls through a guard in ``required`` mode, all shipped; then ``copies`` of the
    shipped lines are appended to the log, and a fourth call is made. It must fail, unsent,
    the ledger holding what it held: the refusal and the lines shipped before."""
    rds, guard = ledger_guard(aws, tmp_path, mode="required")
    log = tmp_path / "audit.jsonl"
    try:
        for day in (1, 2, 3):
            _snapshot(rds, day)
        assert isinstance(guard.audit, ShippingLog)
        guard.audit.ship_once(timeout=None)  # the last outcome too, wherever it was shipped
        stream = stream_of(table, log)
        before = _stored_items(table, stream)
        shipped = complete_lines(log)
        assert stored_lines(table, stream) == shipped
        _append(log, copies(shipped))
        with pytest.raises(LedgerUnavailable, match='mode = "required"') as refused:
            _snapshot(rds, 4)
    finally:
        guard.uninstall()
    assert aws.count("CreateDBClusterSnapshot") == 3
    assert _stored_items(table, stream) == before
    return refused.value, shipped


def test_required_mode_sends_no_call_after_records_replayed_behind_the_writer(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The replay under a running guard in ``required`` mode, whose shipper lives on: the
    next call's ``requested`` record chains onto the copies with a seq the ledger already
    holds. docs/ledger.md: "the `requested` record of a call ... must be acknowledged by
    DynamoDB before the call is sent. If it cannot be (..., a fork), ... the call fails with
    `LedgerUnavailable` (an `AuditError`): nothing is sent." The call fails, RDS never sees
    it, and the ledger holds what it held."""
    refused, _ = _replayed_under_a_required_guard(aws, table, tmp_path, lambda lines: lines[1:3])
    assert isinstance(refused, rds_guard.AuditError)
    # the copies, and the records chained onto them, whose seqs the log already holds
    assert _findings(tmp_path / "audit.jsonl") == [
        (7, "reordered"),
        (8, "reordered"),
        (9, "reordered"),
        (10, "reordered"),
    ]


def test_required_mode_sends_no_call_after_the_records_just_below_it_are_replayed(
    aws: MotoServer, table: LedgerTable, tmp_path: Path
) -> None:
    """The replay placed so that the next call's ``requested`` record takes the very seq the
    shipper acknowledged last (copies of the two records before it): that seq is in the
    ledger already, with the original record, and the log still holds that original where
    the shipper left it. docs/ledger.md: the ``requested`` record "must be acknowledged by
    DynamoDB before the call is sent". The call fails, RDS never sees it, and the ledger
    holds what it held."""
    # the copies end just below the last record shipped: the next record takes its seq
    refused, shipped = _replayed_under_a_required_guard(
        aws, table, tmp_path, lambda lines: lines[-3:-1]
    )
    assert "older records were copied into the log" in refused.detail
    log = tmp_path / "audit.jsonl"
    assert json.loads(complete_lines(log)[-2])["seq"] == len(shipped)  # the call's record


def test_records_chained_onto_a_replay_below_the_head_are_refused_not_shipped(
    table: LedgerTable, log_path: Path
) -> None:
    """Copies of records 6 and 7 of a shipped log of 8, then two records the writer chains
    onto them (seq 8, which the ledger holds with another record, and 9): a shipper must
    not pass over the new seq 8 as shipped and put seq 9, whose link then holds to nothing
    in the ledger. It refuses (`Reordered`), for a shipper that lives on and a new one
    alike, and the ledger holds what it held."""
    with _shipped_by_a_shipper_that_lives_on(table, log_path) as (shipper, lines, before):
        _append(log_path, lines[5:7])
        write_log(log_path, 2)
        with pytest.raises(Reordered) as refused:
            shipper.ship()
    stream = stream_of(table, log_path)
    assert "the record with seq 6 comes after seq 8" in refused.value.detail
    with pytest.raises(Reordered):
        ship(log_path, table)
    assert _stored_items(table, stream) == before
    assert verify_ledger(table).ok


def test_a_line_too_long_to_read_stops_shipping_after_the_records_before_it(
    table: LedgerTable, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three records, then a line of 80 MiB (a hole `truncate` left), then a record: the
    records before it are shipped, and shipping stops there with a refusal naming the byte
    the line starts at (the CLI: exit 1, a finding). The read's error was taken for a ledger
    out of reach: none of its batch was sent, and the shipping thread tried again for ever."""
    write_log(log_path, 3)
    start = log_path.stat().st_size
    with open(log_path, "ab") as file:
        file.truncate(start + (80 << 20))
        file.seek(0, 2)
        file.write(b"\n")
    with pytest.raises(UnreadableLine) as refused:
        ship(log_path, table, batch=25)
    assert f"the line at byte {start} is longer than any record" in refused.value.detail
    assert "nothing is shipped from it on" in refused.value.detail
    assert [
        json.loads(line)["seq"] for line in stored_lines(table, stream_of(table, log_path))
    ] == [
        1,
        2,
        3,
    ]
    run = run_main(capsys, "audit", "ship", str(log_path), "--ledger", LEDGER_URL)
    assert run.code == 1 and run.out.startswith("refused: ") and "longer than any" in run.out


# --- a record that holds more than ASCII ------------------------------------------------------


@pytest.mark.parametrize(
    ("note", "shipped"),
    [(b"\xc3\xa9", True), (b"\xed\xa0\x80", False)],
    ids=["utf-8", "a surrogate's bytes"],
)
def test_a_resealed_record_that_is_no_ascii_is_shipped_or_refused_never_a_crash(
    table: LedgerTable, log_path: Path, note: bytes, shipped: bool
) -> None:
    """Someone who can write the file seals a record again with a note in raw UTF-8: it
    verifies, and the guard's writer chains onto it. `audit ship` failed on it with
    `UnicodeDecodeError` (exit 2, nothing shipped, ever); now it ships, or, for bytes no
    string item can hold, refuses the stream (a finding), as for a fork."""
    lines = write_log(log_path, 3)
    lines[-1] = reseal(lines[-1].replace(b'"notes":[]', b'"notes":["' + note + b'"]'))
    write_lines(log_path, lines)
    lines = write_log(log_path, 2)
    assert audit.verify(log_path).ok
    if shipped:
        assert ship(log_path, table).acked == 5
        assert stored_lines(table, stream_of(table, log_path)) == lines
    else:
        with pytest.raises(ShipRefused, match="seq 3 holds bytes"):
            ship(log_path, table)


# --- a slow ledger at uninstall ---------------------------------------------------------------


def test_closing_a_shipping_log_leaves_a_backlog_a_slow_ledger_cannot_take_in_the_file(
    table: LedgerTable, log_path: Path
) -> None:
    """docs/ledger.md: uninstalling "gives the thread up to 3 seconds to ship what is left".
    With a backlog of 1,000 records and every put slowed to 0.2 s (a minute's work for the
    thread), `close` waited for all of it; the thread now stops after the batch under way,
    puts nothing once that batch is done, and the next run ships the rest."""
    write_log(log_path, 1000)
    clients = Clients(REGION)
    puts: list[float] = []

    def slow(**_: Any) -> None:
        time.sleep(0.2)
        puts.append(time.monotonic())

    on_send(clients.dynamodb, "PutItem", slow)
    log = ShippingLog(log_path, ledger=LedgerPolicy(table.name, REGION), clients=clients)
    before = set(threading.enumerate())
    log.start()
    (thread,) = [t for t in set(threading.enumerate()) - before if t.name == "rds-guard-ledger"]
    wait_until(lambda: puts, what="the thread's first put")
    closing = time.monotonic()
    log.close()
    assert time.monotonic() - closing < CLOSE_WAIT + 2.0, "close waited past its 3 seconds"
    thread.join(60)  # a hang detector only
    shipped = len(puts)
    time.sleep(1.0)
    assert len(puts) == shipped < 1000, "the thread went on putting after close"
    assert ship(log_path, table).acked == 1000

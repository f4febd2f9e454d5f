"""``verify --ledger`` against what someone with write access to the table can do: an edited
item, a deleted one in the middle, a deleted tail (re-shipping puts it back), a deleted
stream, an item holding another seq's record, a stream whose first record was replaced."""

from __future__ import annotations

import json
from pathlib import Path

from ledger_helpers import (
    delete_item,
    item_at,
    ledger_findings,
    put_raw,
    ship,
    stream_of,
    write_log,
)

from rds_guard import audit
from rds_guard.audit.ledger import LedgerTable
from rds_guard.audit.ledger.items import line_of, record_item
from rds_guard.audit.ledger.verify import verify_ledger


def _shipped(table: LedgerTable, log_path: Path, count: int = 10) -> str:
    write_log(log_path, count)
    ship(log_path, table)
    return stream_of(table, log_path)


def test_an_intact_ledger_verifies(table: LedgerTable, log_path: Path) -> None:
    stream = _shipped(table, log_path)
    result = verify_ledger(table)
    assert result.ok and result.records == 10
    assert result.lines()[0] == "ok: 1 streams, 10 records (no checkpoints checked)"
    assert result.lines()[1].startswith(f"  {stream}: 10 records, head ")
    assert result.streams[0].head == audit.head(log_path).digest


def test_an_edited_item_is_found(table: LedgerTable, log_path: Path) -> None:
    stream = _shipped(table, log_path)
    line = line_of(item_at(table, stream, 4)) or b""
    put_raw(table, record_item(stream, 4, line.replace(b'"requested"', b'"created"')))
    result = verify_ledger(table)
    assert [(f.line, f.reason) for f in result.findings] == [(4, "edited")]
    assert str(result.findings[0]).startswith(f"line 4: edited: {stream}: ")


def test_a_deleted_middle_item_is_found_and_put_back_by_shipping_from_the_start(
    table: LedgerTable, log_path: Path
) -> None:
    stream = _shipped(table, log_path)
    delete_item(table, stream, 5)
    assert ledger_findings(table) == [(6, "removed")]
    assert ship(log_path, table).shipped == 0  # resumes from the last acknowledged
    assert ship(log_path, table, start=1).shipped == 1
    assert verify_ledger(table).ok


def test_shipping_from_past_the_end_of_the_log_checks_its_last_record(
    table: LedgerTable, log_path: Path
) -> None:
    stream = _shipped(table, log_path)
    delete_item(table, stream, 10)
    result = ship(log_path, table, start=10**22)
    assert (result.shipped, result.acked, result.last) == (1, 10, 10)  # not "through 10**22-1"
    assert verify_ledger(table).ok
    again = ship(log_path, table, start=10**22)
    assert (again.shipped, again.acked) == (0, 10)


def test_a_deleted_tail_is_put_back_by_the_next_run(table: LedgerTable, log_path: Path) -> None:
    """Without a checkpoint a cut tail looks like a shorter stream; the shipper compares its
    state with the ledger's head and sends the tail again."""
    stream = _shipped(table, log_path)
    for seq in (8, 9, 10):
        delete_item(table, stream, seq)
    assert verify_ledger(table).ok  # nothing shows it: that is what checkpoints are for
    result = ship(log_path, table)
    assert (result.shipped, result.acked) == (3, 10)
    assert verify_ledger(table).records == 10


def test_a_deleted_stream_leaves_its_marker_without_records(
    table: LedgerTable, log_path: Path
) -> None:
    stream = _shipped(table, log_path, 3)
    for seq in (1, 2, 3):
        delete_item(table, stream, seq)
    assert ledger_findings(table) == [(0, "missing-stream")]
    assert "only its marker" in verify_ledger(table).findings[0].detail


def test_a_stream_named_that_the_ledger_never_held_is_said_to_have_no_marker(
    table: LedgerTable, log_path: Path
) -> None:
    _shipped(table, log_path, 3)
    result = verify_ledger(table, stream="111122223333/us-east-1/nothing")
    assert [(f.line, f.reason) for f in result.findings] == [(0, "missing-stream")]
    assert "holds no record of it, nor its marker (is the stream's name right?)" in (
        result.findings[0].detail
    )


def test_an_item_holding_another_records_line_is_found(table: LedgerTable, log_path: Path) -> None:
    stream = _shipped(table, log_path)
    seven = line_of(item_at(table, stream, 7)) or b""
    put_raw(table, record_item(stream, 3, seven))
    findings = ledger_findings(table)
    assert (3, "edited") in findings


def test_a_digest_attribute_that_is_not_its_lines_is_found(
    table: LedgerTable, log_path: Path
) -> None:
    stream = _shipped(table, log_path)
    item = item_at(table, stream, 2)
    item["digest"] = {"S": "0" * 64}
    put_raw(table, item)
    result = verify_ledger(table)
    assert [(f.line, f.reason) for f in result.findings] == [(2, "edited")]
    assert "carries a digest its line does not have" in result.findings[0].detail


def test_a_rebuilt_stream_is_not_the_one_named(
    table: LedgerTable, log_path: Path, tmp_path: Path
) -> None:
    """Someone rewrites a plain-SHA-256 stream from its first record on, a valid chain: the
    stream's name (its first record's digest) gives it away."""
    stream = _shipped(table, log_path, 3)
    other = tmp_path / "other.jsonl"
    for seq, line in enumerate(write_log(other, 3, note="forged "), start=1):
        put_raw(table, record_item(stream, seq, line))
    assert ledger_findings(table) == [(1, "edited")]


def _copied(table: LedgerTable, stream: str, account: str, region: str) -> str:
    """Every item of ``stream``, its marker too, put under another account's and region's
    key with the same id: what a writer of another account who can read the table can do."""
    copy = f"{account}/{region}/{stream.rsplit('/', 1)[-1]}"
    answer = table.clients.dynamodb.query(
        TableName=table.name,
        KeyConditionExpression="stream = :s",
        ExpressionAttributeValues={":s": {"S": stream}},
    )
    for item in answer["Items"]:
        put_raw(table, {**item, "stream": {"S": copy}})
    return copy


def test_one_log_under_two_streams_is_found(
    table: LedgerTable, log_path: Path, tmp_path: Path
) -> None:
    """A whole stream copied under another account's key walks as a chain of its own, and
    verify said ok, while `query` listed each record under both accounts. The same first
    record in two streams is one log twice: `duplicate-stream`, under the second stream."""
    stream = _shipped(table, log_path, 4)
    _shipped(table, tmp_path / "other.jsonl", 2)
    copy = _copied(table, stream, "999999999999", "eu-west-1")
    result = verify_ledger(table)
    assert [(f.line, f.reason, f.stream) for f in result.findings] == [
        (1, "duplicate-stream", max(stream, copy))
    ]
    assert f"its first record is also the first of {min(stream, copy)}" in (
        result.findings[0].detail
    )
    assert verify_ledger(table, stream=stream).ok  # one stream alone: nothing to compare


def test_findings_as_json(table: LedgerTable, log_path: Path) -> None:
    stream = _shipped(table, log_path)
    delete_item(table, stream, 5)
    document = verify_ledger(table).as_dict()
    assert json.loads(json.dumps(document))["findings"][0]["reason"] == "removed"
    assert document["streams"][0]["stream"] == stream  # type: ignore[index]


def test_one_stream_only(table: LedgerTable, log_path: Path, tmp_path: Path) -> None:
    first = _shipped(table, log_path, 3)
    second = _shipped(table, tmp_path / "second.jsonl", 4)
    delete_item(table, second, 2)
    assert verify_ledger(table, stream=first).ok
    assert not verify_ledger(table, stream=second).ok
    assert [s.stream for s in verify_ledger(table).streams] == sorted([first, second])


def test_progress_is_told_the_records_read(table: LedgerTable, log_path: Path) -> None:
    _shipped(table, log_path, 1500)
    told: list[tuple[int, int | None]] = []
    verify_ledger(table, progress=lambda done, total: told.append((done, total)))
    assert told == [(1000, 1500), (1500, 1500)]

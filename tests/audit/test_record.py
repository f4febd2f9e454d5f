"""The record: its fields in order, normalised values, one line whatever they hold, call ids,
the chain's hash."""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import os
import re
import socket
from pathlib import Path

import pytest
from audit_helpers import FIRST_FORMAT_FIELDS, call_with_timeout, lines_of, make_log, records_of

from rds_guard import audit
from rds_guard.audit.record import (
    LINE_END,
    LINE_START,
    PREV_END,
    SEQ_DIGITS,
    SEQ_KEY,
    parse_time,
    prev_of,
    seq_of,
)
from rds_guard.audit.redact import WITHHELD, without_signing_values
from rds_guard.errors import Violation

# --- the record ---------------------------------------------------------------------------


TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


PREFIX = re.compile(rb'\{"prev":"[0-9a-f]{64}","seq":[1-9][0-9]*,')


def test_contract_constants() -> None:
    # the first format's fields (pinned in audit_helpers), then the chain and own digest
    assert (*FIRST_FORMAT_FIELDS, "chain", "digest") == audit.RECORD_FIELDS
    assert audit.EXTRA_FIELDS == (
        "dropped_bytes",
        "dropped_sha256",
        "rotated_from",
        "expires",
        "snapshot_created",
    )
    assert audit.CHAINS == ("sha256", "hmac-sha256")
    assert {
        "blocked",
        "requested",
        "created",
        "failed",
        "unknown",
        "tagged",
        "untagged",
        "shared",
        "unshared",
        "deleted",
        "repaired",
        "rotated",
        "presigned",
        "exported",
    } == audit.EVENTS


def test_record_has_every_field_in_order_with_defaults(log_path: Path) -> None:
    log = audit.AuditLog(log_path, fsync=False, policy_sha256="ab" * 32)
    returned = log.write("blocked", operation="CreateDBSnapshot")
    log.close()
    [line] = lines_of(log_path)
    record = json.loads(line)
    assert list(record) == list(audit.RECORD_FIELDS)
    assert record == returned
    assert record["prev"] == audit.ZERO_HASH
    assert record["seq"] == 1
    assert TIME.fullmatch(record["time"])
    assert record["event"] == "blocked"
    assert record["operation"] == "CreateDBSnapshot"
    assert record["policy"] == "ab" * 32
    assert record["pid"] == os.getpid()
    assert record["host"] == socket.gethostname()
    for name in ("call", "service", "region", "snapshot", "source", "arn", "error", "request_id"):
        assert record[name] is None, name
    for name in ("injected", "inherited", "violations", "notes"):
        assert record[name] == [], name
    assert record["tags"] == {}
    assert record["chain"] == "sha256"
    assert record["digest"] == hashlib.sha256(line[: line.rindex(b',"digest":"')]).hexdigest()


def test_time_is_utc_now_with_microseconds(log_path: Path) -> None:
    from datetime import UTC, datetime

    before = datetime.now(UTC)
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write("requested")
    after = datetime.now(UTC)
    written = datetime.strptime(str(record["time"]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= written <= after


def test_a_record_time_reads_back_aware_and_anything_else_is_none(log_path: Path) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    with audit.AuditLog(log_path, fsync=False) as log:
        written = str(log.write("requested")["time"])
    assert parse_time(written) == datetime.strptime(written, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC
    )
    assert parse_time("2026-12-01T10:00:00+02:00") == datetime(
        2026, 12, 1, 10, tzinfo=timezone(timedelta(hours=2))
    )
    # a forged record's time without a zone would not compare with an aware one: no time
    for text in ("2026-12-01T10:00:00", "yesterday", "", "2026-13-01T00:00:00Z"):
        assert parse_time(text) is None, text


def test_every_line_starts_with_prev_at_a_fixed_offset(log_path: Path) -> None:
    make_log(log_path, 12, tags={"k": "v"})
    for seq, line in enumerate(lines_of(log_path), start=1):
        assert PREFIX.match(line)
        assert line[:9] == b'{"prev":"'
        assert line[73:81] == b'","seq":'
        assert line[81:].startswith(b"%d," % seq)


def test_the_layout_constants_say_where_prev_and_seq_sit(log_path: Path) -> None:
    make_log(log_path, 3)
    lines = lines_of(log_path)
    line = lines[-1]
    assert line.startswith(LINE_START) and line[-1] == LINE_END
    assert prev_of(line) == hashlib.sha256(lines[1]).hexdigest().encode()
    assert line[PREV_END:SEQ_DIGITS] == SEQ_KEY
    assert seq_of(line) == 3
    zeros = b"0" * 64
    assert seq_of(b'{"seq":7,"prev":"' + zeros + b'"}') == 7  # laid out otherwise
    assert seq_of(b'{"prev":"' + zeros + b'","seq":"7"}') is None  # seq not a number
    assert seq_of(b"not a record") is None


def test_fields_are_normalised(log_path: Path) -> None:
    violation = Violation("tags.required", "Tags.team", None, "team is required")
    as_dict = {"rule": "identifier.pattern", "field": "X", "value": "v", "message": "m"}
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write(
            "failed",
            call="c1",
            snapshot="Orders-Manual-1",
            tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "prod"}],
            injected=("env",),
            violations=[violation, as_dict],
            error={"code": "SnapshotQuotaExceeded", "message": "too many"},
            notes=["n"],
        )
    assert record["snapshot"] == "orders-manual-1"
    assert record["tags"] == {"team": "a", "env": "prod"}
    assert record["injected"] == ["env"]
    assert record["violations"] == [violation.as_dict(), as_dict]
    assert record["error"] == {"code": "SnapshotQuotaExceeded", "message": "too many"}
    assert json.loads(lines_of(log_path)[0]) == record


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("notes", 7, "expected a list of strings, got int"),
        ("tags", 7, "tags: expected a mapping, got int"),
        ("tags", [("team", "a")], "tags: expected a mapping or a list"),
        ("violations", "tags.required", "violations: expected a list"),
        ("violations", [7], "violations: expected Violation or dict, got int"),
        ("error", "Throttling", "error: expected a {'code', 'message'} dict, got str"),
        ("dropped_bytes", True, "expected an int, got bool"),
    ],
)
def test_a_field_of_the_wrong_shape_is_refused(
    log_path: Path, field: str, value: object, message: str
) -> None:
    with (
        audit.AuditLog(log_path, fsync=False) as log,
        pytest.raises(TypeError, match=re.escape(message)),
    ):
        log.write("failed", **{field: value})
    assert not log_path.exists() or log_path.read_bytes() == b""


def test_an_exception_is_recorded_as_its_type_and_message(log_path: Path) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write("unknown", error=TimeoutError("read timed out"), region=42)
    assert record["error"] == {"code": "TimeoutError", "message": "read timed out"}
    assert record["region"] == "42"


def test_untagged_records_list_removed_keys_with_null(log_path: Path) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("untagged", tags={"team": None, "env": None})
    assert json.loads(lines_of(log_path)[0])["tags"] == {"team": None, "env": None}


def test_extra_fields_come_after_notes_and_before_chain_and_digest(log_path: Path) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("repaired", dropped_bytes=5, dropped_sha256="0" * 64, rotated_from="x")
    record = json.loads(lines_of(log_path)[0])
    assert list(record) == [
        *audit.RECORD_FIELDS[:-2],
        "dropped_bytes",
        "dropped_sha256",
        "rotated_from",
        "chain",
        "digest",
    ]
    assert record["dropped_bytes"] == 5


@pytest.mark.parametrize(
    "field",
    [
        "PreSignedUrl",
        "aws_secret_access_key",
        "Signature",
        "credentials",
        "prev",
        "seq",
        "pid",
        "chain",
        "digest",
    ],
)
def test_only_known_fields_are_taken(log_path: Path, field: str) -> None:
    log = audit.AuditLog(log_path, fsync=False)
    with pytest.raises(TypeError, match=field):
        log.write("requested", **{field: "secret"})
    log.close()
    assert not log_path.exists() or log_path.read_bytes() == b""


def test_unknown_event_is_refused(log_path: Path) -> None:
    with pytest.raises(ValueError, match="bogus"):
        audit.AuditLog(log_path).write("bogus")
    assert not log_path.exists()


NASTY = [
    "line\nbreak",
    "carriage\rreturn",
    "sep\u2028arator\u2029",
    "lone \ud800 surrogate \udfff",
    'quote " and \\ backslash',
    "nul \x00 and \x1b[31m escape",
    "emoji \U0001f600 and accents é",
    '{"prev":"' + "0" * 64,
]


@pytest.mark.parametrize("value", NASTY)
def test_one_record_is_one_line_whatever_the_values(log_path: Path, value: str) -> None:
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("tagged", tags={value: value}, snapshot=value, notes=[value])
        log.write("tagged", tags={"plain": "x"})
    data = log_path.read_bytes()
    assert data.count(b"\n") == 2
    assert data.isascii()
    first = json.loads(data.split(b"\n")[0])
    assert first["tags"] == {value: value}
    assert first["notes"] == [value]
    assert audit.verify([log_path]).ok


def test_new_call_id_is_unique_hex() -> None:
    ids = {audit.new_call_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_requested_and_outcome_share_the_call_id(log_path: Path) -> None:
    call = audit.new_call_id()
    with audit.AuditLog(log_path, fsync=False) as log:
        log.write("requested", call=call, snapshot="s1")
        log.write("created", call=call, snapshot="s1", request_id="r-1")
    requested, created = records_of(log_path)
    assert requested["call"] == created["call"] == call
    assert (requested["event"], created["event"]) == ("requested", "created")


# --- the chain ----------------------------------------------------------------------------


def test_chain_is_sha256_of_the_previous_lines_full_bytes(log_path: Path) -> None:
    head = make_log(log_path, 5)
    lines = lines_of(log_path)
    assert json.loads(lines[0])["prev"] == "0" * 64
    for before, line in itertools.pairwise(lines):
        assert json.loads(line)["prev"] == hashlib.sha256(before).hexdigest()
    assert head == hashlib.sha256(lines[-1]).hexdigest()
    result = audit.verify([log_path])
    assert (result.ok, result.records, result.head) == (True, 5, head)


@pytest.mark.parametrize(
    "key", ["clé secrète".encode(), bytes(range(100))], ids=["key", "long-key"]
)
def test_chain_is_hmac_sha256_with_a_key(log_path: Path, key: bytes) -> None:
    make_log(log_path, 5, hmac_key=key)
    lines = lines_of(log_path)
    for before, line in itertools.pairwise(lines):
        expected = hmac.new(key, before, hashlib.sha256).hexdigest()
        assert json.loads(line)["prev"] == expected
    assert audit.verify([log_path], hmac_key=key).ok


# --- each line's own digest ---------------------------------------------------------------

SEALED_END = re.compile(rb',"chain":"(sha256|hmac-sha256)","digest":"([0-9a-f]{64})"\}$')


@pytest.mark.parametrize(
    "key", [None, b"k", bytes(range(100))], ids=["sha256", "hmac-sha256", "hmac-long-key"]
)
def test_every_line_ends_with_its_chain_and_its_own_digest(
    log_path: Path, key: bytes | None
) -> None:
    make_log(log_path, 4, hmac_key=key)
    for line in lines_of(log_path):
        found = SEALED_END.search(line)
        assert found is not None
        signed = line[: -len(b',"digest":"') - 64 - 2]
        assert line == signed + b',"digest":"' + found.group(2) + b'"}'
        expected = (
            hashlib.sha256(signed).hexdigest()
            if key is None
            else hmac.new(key, signed, hashlib.sha256).hexdigest()
        )
        assert found.group(1).decode() == ("sha256" if key is None else "hmac-sha256")
        assert found.group(2).decode() == expected
        assert audit.own_digest(line) == expected
        assert audit.chain_of(line) == found.group(1).decode()
        assert audit.is_authentic(line, key)
        assert line.startswith(b'{"prev":"')  # prev stays first, the digest covers it


def test_own_digest_chain_and_authenticity_of_other_lines() -> None:
    zeros = "0" * 64
    first_format = json.dumps({"prev": zeros, "seq": 1, "notes": []}).encode()
    assert audit.own_digest(first_format) is None
    assert audit.chain_of(first_format) is None
    assert not audit.is_authentic(first_format)
    unknown = b'{"prev":"%s","seq":1,"chain":"md5","digest":"%s"}' % (zeros.encode(), b"a" * 64)
    assert audit.own_digest(unknown) == "a" * 64
    assert audit.chain_of(unknown) == ""
    assert not audit.is_authentic(unknown)
    assert audit.own_digest(b"garbage") is None


def test_an_hmac_line_is_authentic_only_under_its_key(log_path: Path) -> None:
    make_log(log_path, 1, hmac_key=b"right")
    [line] = lines_of(log_path)
    assert audit.is_authentic(line, b"right")
    assert not audit.is_authentic(line, b"wrong")
    assert not audit.is_authentic(line)  # no key: cannot tell, so not authentic


def test_a_changed_byte_anywhere_before_the_digest_breaks_it(log_path: Path) -> None:
    make_log(log_path, 1)
    [line] = lines_of(log_path)
    for at in range(0, len(line) - 66, 37):
        changed = line[:at] + bytes([line[at] ^ 1]) + line[at + 1 :]
        assert not audit.is_authentic(changed), at


def test_the_stream_id_is_the_first_records_own_digest(log_path: Path) -> None:
    make_log(log_path, 2)
    first = lines_of(log_path)[0]
    assert audit.stream_id(first) == json.loads(first)["digest"][:16]
    old = b'{"prev":"' + b"0" * 64 + b'","seq":1,"notes":[]}'
    assert audit.stream_id(old) == hashlib.sha256(old).hexdigest()[:16]


QUOTINGS: list[tuple[str, str | None]] = [
    ("x-amz-security-token:IQoJtoken/+=\n", "x-amz-security-token:[redacted]\n"),
    (
        "?X-Amz-Security-Token=IQo%2Bt&X-Amz-Signature=ab12",
        "?X-Amz-Security-Token=[redacted]&X-Amz-Signature=[redacted]",
    ),
    (
        "Credential=AKIAIOSFODNN7EXAMPLE/20261129/us-east-1/rds/aws4_request, Signature=0f9e",
        "Credential=[redacted], Signature=[redacted]",
    ),
    (  # a URL quoted encoded, as in a form body's PreSignedUrl
        "X-Amz-Credential%3DAKID%2F20261129%26X-Amz-Security-Token%3DIQo%252B%26"
        "X-Amz-Signature%3dab12 end",
        "X-Amz-Credential%3D[redacted] end",
    ),
    (
        '{"X-Amz-Security-Token": "IQoJ", "x-amz-signature":"ab12"}',
        '{"X-Amz-Security-Token": "[redacted]", "x-amz-signature":"[redacted]"}',
    ),
    (
        "<X-Amz-Security-Token>IQoJ</X-Amz-Security-Token> Signature%3Dab12",
        "<X-Amz-Security-Token>[redacted]</X-Amz-Security-Token> Signature%3D[redacted]",
    ),
    (  # a dict of headers as Python shows it
        "{'X-Amz-Security-Token': 'IQoJ', 'X-Amz-Signature': 'ab12'}",
        "{'X-Amz-Security-Token': '[redacted]', 'X-Amz-Signature': '[redacted]'}",
    ),
    (
        "X-Amz-Security-Token=\"IQoJ\" x-amz-security-token:\t'IQoJ'",
        "X-Amz-Security-Token=\"[redacted]\" x-amz-security-token:\t'[redacted]'",
    ),
    (  # JSON inside a JSON string
        '{\\"X-Amz-Security-Token\\": \\"IQoJ\\"}',
        '{\\"X-Amz-Security-Token\\": \\"[redacted]\\"}',
    ),
    (
        "X-Amz-Security-Token%253DIQoJ X-Amz-Signature&#61;ab12 Signature%253Dab12",
        "X-Amz-Security-Token%253D[redacted] X-Amz-Signature&#61;[redacted]"
        " Signature%253D[redacted]",
    ),
    (
        "Authorization: AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo=",
        "Authorization: AWS AKIAIOSFODNN7EXAMPLE:[redacted]",
    ),
    (
        'the endpoint URL: "http://admin:S3CRET@127.0.0.1:9/", https://k@h/',
        'the endpoint URL: "http://[redacted]@127.0.0.1:9/", https://[redacted]@h/',
    ),
    (  # a password's own @ and / are written %40 and %2F
        'URL: "http://admin:s3cr%40t%2Fpw@127.0.0.1:9/"',
        'URL: "http://[redacted]@127.0.0.1:9/"',
    ),
    (  # a URL inside a query, encoded once
        "PreSignedUrl=https%3A%2F%2Fadmin%3AS3CRET%40rds.amazonaws.com%2F%3FAction",
        "PreSignedUrl=https%3A%2F%2F[redacted]%40rds.amazonaws.com%2F%3FAction",
    ),
    (  # botocore's repr of a prepared request: header values are bytes
        "<AWSPreparedRequest headers={'X-Amz-Security-Token': b'IQoJ', 'X-Amz-Date': b'2026'}>",
        "<AWSPreparedRequest headers={'X-Amz-Security-Token': b'[redacted]',"
        " 'X-Amz-Date': b'2026'}>",
    ),
    (  # a parsed query: each value a list
        "{'X-Amz-Security-Token': ['IQoJ'], \"X-Amz-Signature\": [\"ab12\"]}",
        "{'X-Amz-Security-Token': ['[redacted]'], \"X-Amz-Signature\": [\"[redacted]\"]}",
    ),
    (
        "X-Amz-Security-Token%3A%20IQoJ X-Amz-Signature&#x3D;ab12 Signature&#x3d;ab12",
        "X-Amz-Security-Token%3A%20[redacted] X-Amz-Signature&#x3D;[redacted]"
        " Signature&#x3d;[redacted]",
    ),
    (
        'aws_session_token=IQoJ SecurityToken=IQoJ "SessionToken": "IQoJ",'
        " aws_secret_access_key = wJalr",
        'aws_session_token=[redacted] SecurityToken=[redacted] "SessionToken":'
        ' "[redacted]", aws_secret_access_key = [redacted]',
    ),
    (  # a body quoted back: ModifyDBInstance takes two passwords
        "MasterUserPassword=hunter2&TdeCredentialPassword=hunter3&Action=ModifyDBInstance",
        "MasterUserPassword=[redacted]&TdeCredentialPassword=[redacted]&Action=ModifyDBInstance",
    ),
    ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer [redacted]"),
    (  # a password holds any character: quoted, it is redacted to its closing quote
        '{"MasterUserPassword": "ab,cd&ef<gh]", "x": 1} {\'TdeCredentialPassword\': \'a"b\'}',
        '{"MasterUserPassword": "[redacted]", "x": 1} {\'TdeCredentialPassword\': \'[redacted]\'}',
    ),
    (  # an escaped quote of the value's own kind is part of it: repr, JSON, JSON in JSON
        "{'MasterUserPassword': 'a\\'b c', 'x': 1}"
        ' {"TdeCredentialPassword": "d\\"e f"}'
        ' "{\\"NewPassword\\": \\"g\\\\\\"h i\\", \\"y\\": \\"j\\\\\\\\\\", \\"z\\": 2}"',
        "{'MasterUserPassword': '[redacted]', 'x': 1}"
        ' {"TdeCredentialPassword": "[redacted]"}'
        ' "{\\"NewPassword\\": \\"[redacted]\\", \\"y\\": \\"j\\\\\\\\\\", \\"z\\": 2}"',
    ),
    (  # JSON may escape a token's slashes, JSON in JSON twice
        '{"X-Amz-Security-Token":"IQoJb3Jp\\/TAIL+xyz=="} "{\\"SessionToken\\":\\"ab\\\\\\/cd\\"}"',
        '{"X-Amz-Security-Token":"[redacted]"} "{\\"SessionToken\\":\\"[redacted]\\"}"',
    ),
    (  # a form body quoted as HTML, and XML
        "Action=CreateDBSnapshot&MasterUserPassword&#61;pw tail&x=1"
        " <MasterUserPassword>a b</MasterUserPassword> AWSAccessKeyId=AKIAEXAMPLE&y=2",
        "Action=CreateDBSnapshot&MasterUserPassword&#61;[redacted]&x=1"
        " <MasterUserPassword>[redacted]</MasterUserPassword> AWSAccessKeyId=[redacted]&y=2",
    ),
    ("session-token=IQoJ&x=1", "session-token=[redacted]&x=1"),
    (  # a form body parsed and quoted as Python writes it: pairs, lists, bytes
        "[('Action', 'ModifyDBInstance'), ('MasterUserPassword', 'hunter2 p&w=rd\\'\"x')]"
        " {'MasterUserPassword': ['correct horse'], 'x': ['1']}"
        " [(b'TdeCredentialPassword', b'a b')]",
        "[('Action', 'ModifyDBInstance'), ('MasterUserPassword', '[redacted]')]"
        " {'MasterUserPassword': ['[redacted]'], 'x': ['1']}"
        " [(b'TdeCredentialPassword', b'[redacted]')]",
    ),
    (  # a header or a log line: a password may hold spaces, so to the end of the line
        "MasterUserPassword: correct horse\nNewMasterUserPassword = battery staple\nnext",
        "MasterUserPassword: [redacted]\nNewMasterUserPassword = [redacted]\nnext",
    ),
    (  # a form body quoted in a log line: a space written as itself
        "MasterUserPassword=correct horse&Action=ModifyDBInstance",
        "MasterUserPassword=[redacted]&Action=ModifyDBInstance",
    ),
    (  # names with hyphens, as headers are written
        'X-Db-Password: correct horse\nMaster-User-Password=a b&x=1 {"X-Db-Password": "c d"}',
        'X-Db-Password: [redacted]\nMaster-User-Password=[redacted]&x=1 {"X-Db-Password":'
        ' "[redacted]"}',
    ),
    (  # botocore's validation report, to the last ", type: " (a repr may hold one)
        "Invalid type for parameter MasterUserPassword, value: ['correct, type: horse'],"
        " type: <class 'list'>, valid types: <class 'str'>",
        "Invalid type for parameter MasterUserPassword, value: [redacted], type: <class"
        " 'list'>, valid types: <class 'str'>",
    ),
    (  # RFC 3986 allows ' in user information, and an @ botocore does not refuse
        'URL: "http://admin:pa\'ss!W0rd@127.0.0.1:9/" and http://admin:p@ssW0rd@h:9/x',
        'URL: "http://[redacted]@127.0.0.1:9/" and http://[redacted]@h:9/x',
    ),
    (  # botocore's repr of credentials, their vars(), a request's headers as tuples
        "ReadOnlyCredentials(access_key='AKIAIOSFODNN7EXAMPLE', secret_key='wJalrXUtnFEMI"
        "/K7MDENG+bPxRfiCYEXAMPLEKEY', token='FwoGZXIvYXdzEJr//////////wEaDA==')"
        " {'secret_key': 'wJalr/K7+', \"token\": \"FwoG\"} [('X-Amz-Security-Token',"
        " b'FwoGZXIvYXdz'), ('X-Amz-Date', '20261129T120000Z')]",
        "ReadOnlyCredentials(access_key='AKIAIOSFODNN7EXAMPLE', secret_key='[redacted]',"
        " token='[redacted]') {'secret_key': '[redacted]', \"token\": \"[redacted]\"}"
        " [('X-Amz-Security-Token', b'[redacted]'), ('X-Amz-Date', '20261129T120000Z')]",
    ),
    (  # STS's XML, and keys written key=value
        "<SecretAccessKey>wJalr/K7+</SecretAccessKey><SessionToken>FwoG=</SessionToken>"
        " secret_key=wJalr token=FwoG",
        "<SecretAccessKey>[redacted]</SecretAccessKey><SessionToken>[redacted]"
        "</SessionToken> secret_key=[redacted] token=[redacted]",
    ),
    (  # a password with a space or a quote, not URL-encoded: to the last @ all the same
        'URL: "http://user:s3 cret@127.0.0.1:9/" URL: "http://user:s3cr"t@h:9/"'
        " (http://user:s3cr<t@h:9/)",
        'URL: "http://[redacted]@127.0.0.1:9/" URL: "http://[redacted]@h:9/"'
        " (http://[redacted]@h:9/)",
    ),
    (  # a raw # or ? in a password: urllib takes its start for the port
        "argument --endpoint-url: Port could not be cast to integer value as 's3cr':"
        " 'http://u:s3cr#et@127.0.0.1:9' http://u:pa?ss@h:9/ \"http://u:12#x y@h\"",
        "argument --endpoint-url: Port could not be cast to integer value as [redacted]:"
        " 'http://[redacted]@127.0.0.1:9' http://[redacted]@h:9/ \"http://[redacted]@h\"",
    ),
    (  # credentials' names hyphenated, a secret key's with spaces around its colon
        "aws-secret-access-key=wJalr AWS-SESSION-TOKEN: IQoJ SecretKey: wJalr/K7"
        " secret-key = wJalr",
        "aws-secret-access-key=[redacted] AWS-SESSION-TOKEN: [redacted] SecretKey: [redacted]"
        " secret-key = [redacted]",
    ),
    (  # a token or a password quoted after a colon or an = with spaces: not prose
        "token: 'IQoJ' Token = \"FwoG\" Password = 'correct horse' password: \"a b\" x",
        "token: '[redacted]' Token = \"[redacted]\" Password = '[redacted]' password:"
        ' "[redacted]" x',
    ),
    ("a query holding an address: http://h?to=ops:a@example.com http://h:9#x", None),
    ("mail ops@example.com, see https://docs.aws.amazon.com/a@b and http://[::1]:9/", None),
    (  # a command line quoted in an error
        "aws configure --secret-access-key wJalrXUtn/K7MDENG --session-token IQoJb3J x",
        "aws configure --secret-access-key [redacted] --session-token [redacted] x",
    ),
    ("--aws-session-token=IQoJb3J x", "--aws-session-token=[redacted] x"),
    (  # a failed subprocess's message: its arguments as a list
        "Command '['aws', '--session-token', 'IQoJb3J', '--secret-access-key', 'wJalr/K7']'",
        "Command '['aws', '--session-token', '[redacted]', '--secret-access-key', '[redacted]']'",
    ),
    ("--session-token\nIQoJb3J", "--session-token\n[redacted]"),
    (
        "x_amz_security_token=IQoJb3J&x_amz_signature=ab12",
        "x_amz_security_token=[redacted]&x_amz_signature=[redacted]",
    ),
    ('"http://h:9" said "ops@example.com"; an invalid token, a NextToken: x', None),
    ("Invalid endpoint: http://localhost:9 ; mail ops@example.com", None),
    ('proxy http://p:3128 refused alice@corp. Invalid endpoint: "http://h:9". ops@x', None),
    ('the token= is missing, token="" is empty, token: expired', None),
    ("The request signature we calculated does not match the signature you provided", None),
    ("Invalid password: must contain 8 characters. The bearer of this request is ok", None),
    ("['https://rds.amazonaws.com','user@example.com'] ('http://h', 'me@x')", None),
    ("Signature expired: 20261129T120000Z is now earlier than 20261129T120500Z", None),
    ("DBClusterSnapshotNotFoundFault: orders-daily-1 not found", None),
    (  # http.client's refusal of a header: the value's repr, no name before it
        "An HTTP Client raised an unhandled exception: Invalid header value b'IQoJb3J\\r'",
        "An HTTP Client raised an unhandled exception: Invalid header value [redacted]",
    ),
    (
        "Invalid header value 'AWS4 Credential=A\\nB/x' (retried)",
        "Invalid header value [redacted] (retried)",
    ),
    ("InvalidArgument: Invalid header value for x-amz-object-lock-mode: GOVERNANCE2", None),
    (  # an = or : encoded three times, JSON-escaped, or as HTML's named entity
        "X-Amz-Signature%25253Dab12 X-Amz-Signature\\u003dab12 x-amz-credential\\u003AAKIA"
        " X-Amz-Security-Token&equals;IQoJ X-Amz-Security-Token&colon;IQoJ",
        "X-Amz-Signature%25253D[redacted] X-Amz-Signature\\u003d[redacted]"
        " x-amz-credential\\u003A[redacted] X-Amz-Security-Token&equals;[redacted]"
        " X-Amz-Security-Token&colon;[redacted]",
    ),
    (  # a header's name and its value with a tab or spaces between (a dump of headers)
        "X-Amz-Security-Token\tIQoJb3JpZ2luX2VjEJr/+== X-Amz-Signature  "
        "5d672d79c15b13162d9279b0855cfba6",
        "X-Amz-Security-Token\t[redacted] X-Amz-Signature  [redacted]",
    ),
    (  # AWS's own words after such a name: prose, kept
        "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong;"
        " expecting 'us-west-2'. X-Amz-Security-Token header is missing",
        None,
    ),
    (  # a value in angle brackets
        "x-amz-security-token=<IQoJb3J==> token=<FwoG>",
        "x-amz-security-token=<[redacted] token=<[redacted]",
    ),
    (
        "password = correct horse\nPassword  =battery",
        "password = [redacted]\nPassword  =[redacted]",
    ),
    (  # quoted under an encoding the patterns do not read: recorded decoded, redacted
        "{&quot;X-Amz-Security-Token&quot;: &quot;IQoJb3J&quot;}",
        '{"X-Amz-Security-Token": "[redacted]"}',
    ),
    (
        "{&#39;MasterUserPassword&#39;: &#39;correct horse&#39;}",
        "{'MasterUserPassword': '[redacted]'}",
    ),
    ("X-Amz-Signature&#061;ab12", "X-Amz-Signature=[redacted]"),
    ("X%2DAmz%2DSignature%3Dab12", "X-Amz-Signature=[redacted]"),
    ("X-Amz-Signature+%3D+ab12", "X-Amz-Signature+=+[redacted]"),
    (  # a multi-line message quoted in JSON or a repr: a name after an escaped line break
        # (found as written: a name is any word ending in it, the escape's n then the name)
        "\"line one\\nSessionToken=FwoGSECRET\" '[default]\\naws_secret_access_key = wJalr'",
        "\"line one\\nSessionToken=[redacted]\" '[default]\\naws_secret_access_key = [redacted]'",
    ),
    (  # a header dump with escaped tabs; a URL with JSON's escaped slashes
        '"X-Amz-Signature\\t5d672d79c15b13162d9279b0855cfba6" "http:\\/\\/u:S3CRET@h:9\\/"',
        '"X-Amz-Signature\t[redacted]" "http://[redacted]@h:9/"',
    ),
    (  # a bytes repr inside a repr, its quotes escaped: the b is no value
        "headers {\\'X-Amz-Security-Token\\': b\\'FwoGZXIvYXdzEJr\\'}",
        "headers {'X-Amz-Security-Token': b'[redacted]'}",
    ),
    (  # a form's + before a bytes repr's b: no value (redacted twice, the same)
        "body=%7B%27X-Amz-Security-Token%27%3A+b%27IQoJb3JpZ2lu%27%7D",
        "body={'X-Amz-Security-Token':+b'[redacted]'}",
    ),
    (  # a form's body quoting JSON, whose token holds its own + (%2B there)
        "body=%7B%22SessionToken%22%3A+%22IQoJb3J%2F%2F%2BSECRET%2Fxyz%3D%3D%22%7D",
        'body={"SessionToken":+"[redacted]"}',
    ),
    (  # a bytes repr whose token is all entities: the b is no value
        "{'X-Amz-Security-Token': b'&#73;&#81;&#111;&#74;&#83;&#69;&#67;'}",
        "{'X-Amz-Security-Token': b'[redacted]'}",
    ),
    (  # a token's own characters as JSON escapes
        '{"SessionToken": "IQoJ\\u002fSECRET\\u002bMORE"}',
        '{"SessionToken": "[redacted]"}',
    ),
    (  # HTML in HTML in HTML: a layer at a time
        "{&amp;amp;quot;X-Amz-Security-Token&amp;amp;quot;: &amp;amp;quot;IQoJ&amp;amp;quot;}",
        '{"X-Amz-Security-Token": "[redacted]"}',
    ),
    (  # a token redacted as written, a signature only as read decoded: the token's own
        # + and % escapes are not decoded into it (nor its rest left out of the redaction)
        "X-Amz-Security-Token=IQoJ+SECRET1+SECRET2 X-Amz-Signature+%3D+ab12",
        "X-Amz-Security-Token=[redacted] X-Amz-Signature+=+[redacted]",
    ),
    (
        "'https://admin:pa%2FSECRET@proxy.example:8443/' X%2DAmz%2DSignature%3Dab12",
        "'https://[redacted]@proxy.example:8443/' X-Amz-Signature=[redacted]",
    ),
    (  # a token's own characters as HTML entities: the rest of it, decoded
        "x-amz-security-token=IQoJ&#x2F;SECRET&#x2B;MORE&#x3D; end",
        "x-amz-security-token=[redacted] end",
    ),
    (  # a form's + for spaces, and nothing else encoded
        "X-Amz-Signature+5d672d79c15b13162d9279b0855cfba6 Authorization:+Bearer+eyJhbGci.x",
        "X-Amz-Signature+[redacted] Authorization:+Bearer+[redacted]",
    ),
    (  # a value read decoded that runs into the placeholder of the next
        "X-Amz-Signature&#061;ab12SIG;token=IQoJTOKEN",
        "X-Amz-Signature=[redacted]",
    ),
    (  # one value read decoded, the other only as a form's + for spaces
        "token&#061;IQoJ X-Amz-Signature+%3D+ab12",
        "token=[redacted] X-Amz-Signature+=+[redacted]",
    ),
    (  # a token's own + kept in it while a form's + is read as a space
        "X-Amz-Signature+%3D+ab12 token&amp;#061;IQoJb3J+SECRET/xyz==",
        "X-Amz-Signature+=+[redacted] token=[redacted]",
    ),
    (  # HTML five times over
        "&amp;amp;amp;amp;quot;X-Amz-Security-Token&amp;amp;amp;amp;quot;: "
        "&amp;amp;amp;amp;quot;IQoJ&amp;amp;amp;amp;quot;",
        '"X-Amz-Security-Token": "[redacted]"',
    ),
    (  # redacted as it is written: its own quoting kept
        "a &amp; b, 100% sure, 1+1 X-Amz-Signature=ab12",
        "a &amp; b, 100% sure, 1+1 X-Amz-Signature=[redacted]",
    ),
    (  # a credential process's error quoting the variables botocore reads, and others
        # named with a prefix (CI inputs, Terraform variables): any word ending in the name
        "AWS_SECURITY_TOKEN=FwoGZX AWS_SECRET_KEY=wJalrK7 INPUT_AWS_SECRET_ACCESS_KEY=wJb "
        "TF_VAR_aws_secret_access_key=wJc {'BACKUP_AWS_SESSION_TOKEN': 'IQoJ'}",
        "AWS_SECURITY_TOKEN=[redacted] AWS_SECRET_KEY=[redacted] "
        "INPUT_AWS_SECRET_ACCESS_KEY=[redacted] TF_VAR_aws_secret_access_key=[redacted] "
        "{'BACKUP_AWS_SESSION_TOKEN': '[redacted]'}",
    ),
    (
        "AwsSecretAccessKey=wJd awsSecretKey=wJe <SecretKey>wJf</SecretKey>",
        "AwsSecretAccessKey=[redacted] awsSecretKey=[redacted] <SecretKey>[redacted]</SecretKey>",
    ),
    (  # a password's other names, and the CLI's option
        "aws rds modify-db-cluster --master-user-password hunter2 x",
        "aws rds modify-db-cluster --master-user-password [redacted] x",
    ),
    ("db_passwd=hunter2", "db_passwd=[redacted]"),
    ('{"db_pwd": "hunter 2", "x": 1}', '{"db_pwd": "[redacted]", "x": 1}'),
    (  # a flag of the same name before the option: the option's value, not the next option
        "aws rds modify-db-cluster --no-manage-master-user-password --master-user-password "
        "hunter2 x; Command '['aws', '--no-manage-master-user-password', "
        "'--master-user-password', 'hunter3']'",
        "aws rds modify-db-cluster --no-manage-master-user-password --master-user-password "
        "[redacted] x; Command '['aws', '--no-manage-master-user-password', "
        "'--master-user-password', '[redacted]']'",
    ),
    (  # a password may start with --, as an option does
        '{"MasterUserPassword": "--hunter2"} --master-user-password --hunter3 '
        "Command '['aws', '--master-user-password', '--hunter4']'",
        '{"MasterUserPassword": "[redacted]"} --master-user-password [redacted] '
        "Command '['aws', '--master-user-password', '[redacted]']'",
    ),
    ("DRIVER=x;UID=admin;PWD=hunter2", "DRIVER=x;UID=admin;PWD=[redacted]"),  # ODBC's
    (  # a Ruby hash as a proxy quotes one, and a separator of more than one mark
        '{"X-Amz-Security-Token"=>"IQoJ", "aws_secret_access_key" => "wJa", :token=>"IQoJ"} '
        "x-amz-security-token:: IQoJ SessionToken := IQoJ SecretKey == 'wJb' token=>%20IQoJ "
        "{'MasterUserPassword' => 'hunter 2', \"db_pwd\"=>\"hunter3\"}",
        '{"X-Amz-Security-Token"=>"[redacted]", "aws_secret_access_key" => "[redacted]", '
        ':token=>"[redacted]"} x-amz-security-token:: [redacted] SessionToken := [redacted] '
        "SecretKey == '[redacted]' token=>%20[redacted] "
        "{'MasterUserPassword' => '[redacted]', \"db_pwd\"=>\"[redacted]\"}",
    ),
    (  # PHP's print_r
        "Array\n(\n    [X-Amz-Security-Token] => IQoJ\n    [MasterUserPassword] => hunter 2\n)",
        "Array\n(\n    [X-Amz-Security-Token] => [redacted]\n"
        "    [MasterUserPassword] => [redacted]\n)",
    ),
    (  # a bracketed name in prose, and arrows of prose: no hash's => (print_r's [name] =>)
        "Parse error at [token]: end of input; missing field [session_token]: must be set; "
        "Missing [secret_key]: required; option 'aws_session_token' -> 'session_token'; "
        'x-amz-security-token -> missing; "Reset password" -> "Send email"',
        None,
    ),
    (  # words that are none of these keep their values, the manage flags' next option too
        "aws_session_token_file=/run/token keypair=x the session token expired "
        "--manage-master-user-password --db-cluster-identifier prod",
        None,
    ),
]
"""Error messages quoting secrets, each with what is recorded of it (None: as it is)."""


@pytest.mark.parametrize(("quoted", "kept"), QUOTINGS)
def test_an_error_message_is_recorded_without_the_signing_values_it_quotes(
    log_path: Path, quoted: str, kept: str | None
) -> None:
    """AWS quotes the canonical request in some errors: its session token, signature and
    ``Credential=`` value never reach a record, nor the password of a URL (botocore quotes an
    unreachable endpoint's whole); any other message is kept as it is."""
    log = audit.AuditLog(log_path, fsync=False)
    log.write("failed", error={"code": "X", "message": f"expected: {quoted}"})
    log.write("failed", error=ValueError(f"expected: {quoted}"))
    errors = [json.loads(line)["error"] for line in log_path.read_bytes().splitlines()]
    expected = f"expected: {kept or quoted}"
    assert errors == [
        {"code": "X", "message": expected},
        {"code": "ValueError", "message": expected},
    ]


@pytest.mark.parametrize(
    "message",
    [
        '{"X-Amz-Security-Token": "IQoJ"} file a+b/100%25.txt',
        "{&quot;X-Amz-Security-Token&quot;: &quot;IQoJ&quot;} see ?q=a+b&amp;x=1",
        "token=abc; X-Amz-Signature%3Dab12 MasterUserPassword=p%26w http://u:p%2Fw@h/",
        *(quoted for quoted, _ in QUOTINGS),
    ],
)
def test_a_message_redacted_twice_is_the_message_redacted_once(message: str) -> None:
    """A message the CLI redacts again (a client's error it redacted already) comes out as it
    went in: neither decoded again nor given a placeholder inside a placeholder."""
    once = without_signing_values(message)
    assert "IQoJ" not in once and "ab12" not in once
    assert without_signing_values(once) == once


@pytest.mark.parametrize("layers", [9, 12])
def test_a_secret_quoted_under_more_layers_than_are_read_withholds_the_message(
    layers: int,
) -> None:
    """Past the layers a reading decodes, a message that may still quote a secret is withheld
    whole rather than recorded with it."""
    message = '{"X-Amz-Security-Token": "IQoJ"}'
    for _ in range(layers):
        message = html.escape(message)
    assert without_signing_values(message) == WITHHELD


@pytest.mark.parametrize(
    "message",
    [
        "a" * 200_000,
        "x-amz-" * 40_000,
        "a%3a%2f%2f" * 20_000,
        "password" * 25_000,
        "X-Amz-Signature=" + "\\" * 1_000_000,
        "aws_session_token: " + "\\/" * 300_000,
        "http://" + 'a b"c' * 250_000,
        "token'" * 150_000 + "'token' " * 100_000,
        "'http://u:" + "a?#:" * 250_000 + " http://u:" + "b?#" * 250_000,
        "'http://" + "u:?x" * 250_000,
        "'Password', " + " " * 500_000 + "x",
        "--session-token " * 60_000,
        "'--session-token', '" * 40_000,
        "x_amz_" * 40_000,
        "X-Amz-Signature " * 60_000,
        "password \t " * 100_000 + "=",
        "an error quoting " + "token=a%20" * 100_000,
        "an error quoting " + "{&quot;X-Amz-Security-Token&quot;: &quot;a&quot;} " * 20_000,
        "a_" * 200_000,
        "-" * 500_000 + "session_token=",
        "--a-" * 60_000,
    ],
    ids=[
        "letters",
        "x-amz-",
        "encoded schemes",
        "passwords",
        "backslashes",
        "escaped slashes",
        "user info",
        "tokens",
        "a password's ? and #",
        "colons",
        "blanks after a quoted password's name",
        "options",
        "options in a list",
        "x_amz_",
        "header names",
        "passwords with spaces",
        "encoded values",
        "quoted as HTML",
        "a long word before a name",
        "hyphens before a name",
        "an option's words",
    ],
)
def test_a_long_error_message_is_redacted_without_hanging(log_path: Path, message: str) -> None:
    """A URL's scheme was tried at every letter of a word, the rest of the word read again
    from each (quadratic: seconds for 20,000 letters, hours for a megabyte an endpoint may
    answer with), while the call waited for its record. Linear: tried where a word starts.
    A run of backslashes after a token's name was read again from each of them (a megabyte:
    hours)."""
    log = audit.AuditLog(log_path, fsync=False)
    call_with_timeout(lambda: log.write("failed", error={"code": "X", "message": message}), 60)
    (record,) = records_of(log_path)
    kept = record["error"]["message"]
    # a megabyte of backslashes decodes layer after layer, past what is read: withheld
    assert kept.startswith(message[:16]) or (kept == WITHHELD and "\\" * 4 in message)


def test_a_long_message_many_layers_deep_is_withheld_without_hanging(log_path: Path) -> None:
    """A megabyte of URLs whose every layer must be read (an entity nested ten deep before
    it) took tens of seconds to read layer by layer: past a bound on what is read, a
    message that still decodes and may quote a secret is withheld."""
    message = "&" + "amp;" * 9 + " " + "'http://" + "a'" * 500_000
    log = audit.AuditLog(log_path, fsync=False)
    call_with_timeout(lambda: log.write("failed", error={"code": "X", "message": message}), 60)
    (record,) = records_of(log_path)
    assert record["error"]["message"] == WITHHELD


def test_a_text_longer_than_any_aws_value_is_cut_with_its_length_and_digest(
    log_path: Path,
) -> None:
    """A record does not grow with what a caller passes: each text past `TEXT_MAX` keeps its
    start, its length and the SHA-256 of the whole, and a secret in an error message is
    redacted before the cut."""
    huge = "orders-" + "x" * 5_000_000
    secret = "X-Amz-Signature=" + "ab" * 32
    message = "y" * (audit.TEXT_MAX - 20) + secret + " " + "z" * 10_000
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write(
            "blocked",
            snapshot=huge,
            source=huge,
            tags={huge: huge, "team": "core"},
            notes=[huge],
            violations=[Violation("tags.aws", "Tags." + huge, huge, huge)],
            error={"code": "InvalidParameterValue", "message": message},
        )
    [line] = lines_of(log_path)
    assert len(line) < 12 * audit.TEXT_MAX
    assert json.loads(line) == record
    digest = hashlib.sha256(huge.encode()).hexdigest()
    cut = f"{huge[: audit.TEXT_MAX]}... ({len(huge)} characters, sha256 {digest})"
    assert record["snapshot"] == cut and record["source"] == cut
    assert record["tags"] == {cut: cut, "team": "core"}
    assert record["notes"] == [cut]
    assert record["violations"][0]["value"] == cut
    assert record["violations"][0]["message"] == cut
    kept = record["error"]["message"]
    assert "ab" * 32 not in kept and "abab" not in kept[audit.TEXT_MAX - 40 :]
    assert kept.endswith(" characters, sha256 " + kept.rsplit(" ", 1)[1])
    assert audit.verify(log_path).ok


def test_a_text_up_to_the_limit_is_kept_whole(log_path: Path) -> None:
    whole = "a" * audit.TEXT_MAX
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write("requested", snapshot=whole, notes=[whole])
    assert record["snapshot"] == whole and record["notes"] == [whole]


def test_a_record_of_thousands_of_tags_is_cut_to_fit_a_ledger_item(log_path: Path) -> None:
    """Each text within `TEXT_MAX` still adds up: 3,000 tags (AWS refuses more than 50) would
    make a 1.8 MB line, past a DynamoDB item's 400 KB. The record keeps the first of each list,
    says what it held, and still chains."""
    tags = {f"k{i:04d}" + "k" * 295: "v" * 1000 for i in range(3000)}
    violations = [Violation("tags.aws", f"Tags.k{i}", "v" * 80, "m" * 300) for i in range(3000)]
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write("blocked", tags=tags, violations=violations, notes=["first"])
        after = log.write("requested", tags={"team": "core"})
    first, second = lines_of(log_path)
    assert len(first) < audit.LINE_MAX
    assert json.loads(first) == record
    assert len(record["tags"]) == 50 and len(record["violations"]) == 50
    kept = list(tags)[:50]  # each key cut at 256 with a mark of the whole: none merge
    assert [key.split("~")[0] for key in record["tags"]] == [key[:256] for key in kept]
    whole = hashlib.sha256(b"v" * 1000).hexdigest()  # a cut text says what it was cut from
    assert set(record["tags"].values()) == {"v" * 256 + f"... (1000 characters, sha256 {whole})"}
    assert record["notes"][0] == "first"
    assert (
        "it held 3000 tags, 0 injected, 0 inherited, 3000 violations, 1 notes"
        in (record["notes"][-1])
    )
    assert after["tags"] == {"team": "core"} and len(second) < 2000
    assert audit.verify(log_path).ok


def test_a_record_of_long_texts_outside_ascii_is_cut_to_fit_too(log_path: Path) -> None:
    """Each text within `TEXT_MAX` characters, but 12 bytes a character once escaped: the
    texts are cut as well as the lists, harder if need be, and the record still chains."""
    wide = "\U0001f600" * audit.TEXT_MAX
    tags = {f"{i}{wide}": wide for i in range(60)}
    longer = "\U0001f600" * (audit.TEXT_MAX + 1)
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write(
            "blocked",
            snapshot=wide,
            source=wide,
            arn=wide,
            tags=tags,
            notes=[longer] + [wide] * 59,
            error={"code": wide, "message": wide},
        )
    [line] = lines_of(log_path)
    assert len(line) < audit.LINE_MAX
    assert json.loads(line) == record
    # each cut text ends with the length and SHA-256 of what the caller passed, even one
    # capped at TEXT_MAX before it was cut again
    for kept, text in zip(record["notes"], (longer, wide), strict=False):
        digest = hashlib.sha256(text.encode()).hexdigest()
        assert kept.endswith(f"... ({len(text)} characters, sha256 {digest})")
        assert kept.startswith("\U0001f600" * 64)
    assert "it held 60 tags" in record["notes"][-1] and "60 notes" in record["notes"][-1]
    assert audit.verify(log_path).ok


def test_a_valid_call_cut_to_fit_keeps_its_names_whole(log_path: Path) -> None:
    """50 tags AWS accepts (keys of 128 and values of 256 letters outside the BMP, 12 bytes
    each escaped) and their keys again as inherited: the line is cut, but never the names
    reconcile and the ledger look the snapshot up by; keys sharing their start stay apart."""
    letter = "\U00010400"
    tags = {f"{i:03d}" + letter * 125: letter * 256 for i in range(50)}
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:" + "s" * 255
    with audit.AuditLog(log_path, fsync=False) as log:
        record = log.write("created", snapshot="s" * 255, arn=arn, tags=tags, inherited=list(tags))
    [line] = lines_of(log_path)
    assert len(line) <= audit.LINE_MAX
    assert (record["snapshot"], record["arn"]) == ("s" * 255, arn)
    assert len(record["tags"]) == len(set(record["tags"])) >= 10
    assert "(the call's names whole)" in record["notes"][-1]
    assert audit.verify(log_path).ok


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b'{"prev":"%s","seq":1,"tags":{"a":"b"}}' % (b"0" * 64), True),
        ('{"prev":"%s","seq":1}' % ("0" * 64), True),  # text, as a program may hold a line
        (b'{"prev":"%s","seq":1,"seq":2}' % (b"0" * 64), False),
        (b'{"prev":"%s","seq":1,"tags":{"a":"b","a":"c"}}' % (b"0" * 64), False),
        (b'{"prev":"%s","seq":1,"x":NaN}' % (b"0" * 64), False),
        (b'{"prev":"%s","seq":1,"x":-Infinity}' % (b"0" * 64), False),
        (b'{"prev":"%s","seq":1,"x":1e999}' % (b"0" * 64), False),
        (b'{"prev":"%s","seq":1,"x":1.5}' % (b"0" * 64), True),
    ],
)
def test_a_record_is_what_a_writer_writes(line: bytes | str, parsed: bool) -> None:
    """A key given twice (verify reads the first, any JSON reader the last), a NaN or an
    infinite number (no JSON document holds one) is no record; a line given as text is read
    as its bytes would be."""
    assert (audit.parse_record(line) is not None) is parsed

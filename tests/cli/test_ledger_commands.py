"""The ledger's commands (docs/ledger.md): ``ledger init``, ``audit ship``, ``audit
checkpoint``, ``audit query`` and ``audit verify --ledger``, against moto's server, with the
exit codes of §7: 0 fine, 1 a finding, 2 bad usage or a ledger out of reach. Long work shows
its progress on a terminal only."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import reseal
from cli_helpers import Terminal, assert_one_error_line, run_main, run_script, script_env
from ledger_helpers import (
    BUCKET,
    KEY_ALIAS,
    LEDGER_URL,
    REGION,
    TABLE,
    complete_lines,
    delete_item,
    dynamodb_error,
    item_at,
    ledger_table,
    on_send,
    put_raw,
    reach_moto,
    stream_of,
    write_log,
)
from policies import LEDGER_SIGNED, write_policy
from servers import MotoServer

from rds_guard import audit
from rds_guard.audit.ledger import Clients, LedgerTable, S3Location
from rds_guard.audit.ledger.checkpoints import CheckpointStore, name_of, write_checkpoint
from rds_guard.audit.ledger.history import read_history
from rds_guard.audit.ledger.items import TABLE_SCHEMA, record_item
from rds_guard.audit.ledger.provision import provision

CHECKPOINTS = f"s3://{BUCKET}/rds-guard/"


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto server, with the ledger's own three attempts: on a loaded machine a request to
    it can fail once, and these tests are about the commands, not about retries."""
    return reach_moto(moto_server, monkeypatch, attempts=3)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path, LEDGER_SIGNED)


@pytest.fixture
def initialised(aws: MotoServer, policy: Path, capsys: pytest.CaptureFixture[str]) -> LedgerTable:
    """``rds-guard ledger init --policy P``: the table, the bucket and the key."""
    run = run_main(capsys, "ledger", "init", "--policy", str(policy))
    assert run.code == 0, run
    return ledger_table()


@pytest.mark.parametrize(
    "days", ["0", "-5", "x", "1.5", "36501", "999999999999999999", "\uff13", "1_0"]
)
def test_ledger_init_refuses_a_retention_of_no_whole_day_before_sending_anything(
    policy: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    run = run_main(capsys, "ledger", "init", "--policy", str(policy), "--retention-days", days)
    assert (run.code, run.out) == (2, "")
    assert "argument --retention-days: expected a" in run.err and "Traceback" not in run.err


def test_ledger_init_makes_the_table_bucket_and_key_once(
    aws: MotoServer, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_main(capsys, "ledger", "init", "--policy", str(policy))
    assert first.code == 0
    assert first.out.splitlines() == [
        f"made: table {TABLE} (indexes snapshot and kind) in us-east-1",
        f"made: bucket {BUCKET} (versioned, Object Lock: compliance, 1 day(s))",
        f"made: KMS key {KEY_ALIAS} (ECC_NIST_P256, sign and verify)",
    ]
    again = run_main(capsys, "ledger", "init", "--policy", str(policy), "--json")
    assert again.json() == {
        "made": [],
        "found": [line.removeprefix("made: ") for line in first.out.splitlines()],
        "unfit": [],
    }


def test_ledger_init_says_what_it_made_before_an_error(
    aws: MotoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key name KMS refuses, after the table and the bucket were made: the error line, and
    the two made before it (a rerun finds them there; without this nothing said they exist)."""
    text = LEDGER_SIGNED.replace('"alias/rds-guard-checkpoints"', '"not-an-alias"')
    assert text != LEDGER_SIGNED
    run = run_main(capsys, "ledger", "init", "--policy", str(write_policy(tmp_path, text)))
    assert run.code == 2
    assert run.out.splitlines() == [
        f"made: table {TABLE} (indexes snapshot and kind) in us-east-1",
        f"made: bucket {BUCKET} (versioned, Object Lock: compliance, 1 day(s))",
    ]
    assert run.err.startswith("rds-guard: error: ") and "not-an-alias" in run.err


def test_ledger_init_says_what_is_there_not_as_the_ledger_needs_it(
    aws: MotoServer, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table, a bucket and a key of the policy's names made for something else: `ledger
    init` said "there already" of each, with the indexes, the Object Lock and the key spec it
    would have made, and exit 0; verify and query failed later. It names what differs, exit 1."""
    aws.client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.client("s3").create_bucket(Bucket=BUCKET)
    kms = aws.client("kms")
    key = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])
    aws.reset_counts()
    run = run_main(capsys, "ledger", "init", "--policy", str(policy))
    assert run.code == 1, run
    assert (aws.count("DescribeTable"), aws.count("DescribeKey")) == (1, 1)  # each read once
    assert run.out.splitlines() == [
        f"there already, not as the ledger needs it: table {TABLE}: its key is id (HASH), not"
        " stream (HASH), seq (RANGE); it has no index snapshot; it has no index kind",
        f"there already, not as the ledger needs it: bucket {BUCKET}: it is not versioned;"
        " Object Lock is not enabled",
        f"there already, not as the ledger needs it: KMS key {KEY_ALIAS}: its KeySpec is"
        " SYMMETRIC_DEFAULT, not ECC_NIST_P256; its KeyUsage is ENCRYPT_DECRYPT, not SIGN_VERIFY",
    ]


def test_ledger_init_names_a_governance_bucket_and_a_disabled_key(
    aws: MotoServer, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Close to what the ledger needs, not it: a locked bucket whose default retention is
    governance mode (which a privileged user can lift, deleting a checkpoint) and the right
    kind of key, disabled. The table is made."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 2}},
        },
    )
    kms = aws.client("kms")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    run = run_main(capsys, "ledger", "init", "--policy", str(policy), "--json")
    assert run.code == 1, run
    assert run.json() == {
        "made": [f"table {TABLE} (indexes snapshot and kind) in us-east-1"],
        "found": [],
        "unfit": [
            f"bucket {BUCKET}: its default retention is GOVERNANCE, not COMPLIANCE: a"
            " checkpoint could be deleted",
            f"KMS key {KEY_ALIAS}: it is Disabled, not Enabled",
        ],
    }


def test_ledger_init_finds_the_table_another_init_made_meanwhile(aws: MotoServer) -> None:
    """Two ``ledger init`` at once: both found no table, and the second one's CreateTable
    was refused (``ResourceInUseException``), a traceback. It reads the table the other
    made, and says how it found it."""
    clients = Clients(REGION)
    other = aws.client("dynamodb")

    def made_first(**_: Any) -> None:
        other.create_table(TableName=TABLE, **TABLE_SCHEMA)

    on_send(clients.dynamodb, "CreateTable", made_first)
    done = provision(clients, TABLE)
    assert (done.made, done.unfit) == ([], [])
    assert done.found == [f"table {TABLE} (indexes snapshot and kind) in {REGION}"]


def test_ledger_init_names_the_retention_the_bucket_has(
    aws: MotoServer, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bucket made with another retention: the one it has, not the one asked for."""
    assert (
        run_main(capsys, "ledger", "init", "--policy", str(policy), "--retention-days", "3").code
        == 0
    )
    again = run_main(capsys, "ledger", "init", "--policy", str(policy))
    assert again.code == 0, again
    assert (
        f"there already: bucket {BUCKET} (versioned, Object Lock: compliance, 3 day(s))"
        in again.out.splitlines()
    )


def test_ledger_init_with_an_endpoint_url_in_a_real_process(
    moto_server: MotoServer, policy: Path, tmp_path: Path
) -> None:
    run = run_script(
        "ledger",
        "init",
        "--policy",
        str(policy),
        "--endpoint-url",
        moto_server.url,
        env=script_env(tmp_path),
    )
    assert run.code == 0, run.err
    assert run.out.startswith(f"made: table {TABLE}")


def test_ship_then_verify(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 12)
    shipped = run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    stream = stream_of(initialised, log)
    assert (shipped.code, shipped.err) == (0, "")
    assert shipped.out == (
        f"{log} -> {stream}: 12 shipped; acknowledged through seq 12, up to date\n"
    )
    again = run_main(
        capsys, "audit", "ship", str(log), "--policy", str(tmp_path / "rds_guard.toml"), "--json"
    )
    assert again.code == 0
    assert again.json()["logs"][0] | {"path": ""} == {
        "path": "",
        "stream": stream,
        "shipped": 0,
        "already": 0,
        "acked": 12,
        "confirmed": True,
        "last": 12,
        "pending": 0,
        "error": None,
        "missing": [],
        "damaged": [],
        "damaged_count": 0,
    }
    verified = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL)
    assert verified.code == 0
    assert verified.out.splitlines()[0] == "ok: 1 streams, 12 records (no checkpoints checked)"
    one = run_main(
        capsys, "audit", "verify", "--ledger", LEDGER_URL, "--stream", stream.rsplit("/", 1)[1]
    )
    assert one.code == 0


def test_verify_ledger_without_a_key_names_a_keyed_stream_and_checks_the_rest(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A keyed stream among plain ones, no key given: a ``key`` finding for it, the plain
    stream checked (its edit reported), exit 1, not a usage error that hides the edit; the
    keyed stream alone is the usage error it was (exit 2: give the key)."""
    plain, keyed = tmp_path / "plain.jsonl", tmp_path / "keyed.jsonl"
    write_log(plain, 3)
    write_log(keyed, 2, hmac_key=b"the other key")
    for log in (plain, keyed):
        run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    item = item_at(initialised, stream_of(initialised, plain), 2)
    item["line"]["S"] = item["line"]["S"].replace('"requested"', '"blocked"')
    item["event"] = {"S": "blocked"}
    put_raw(initialised, item)
    run = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL)
    assert run.code == 1, run.err
    reasons = sorted(line.split(": ")[1] for line in run.out.splitlines())
    assert reasons == ["edited", "key"]
    alone = run_main(
        capsys, "audit", "verify", "--ledger", LEDGER_URL, "--stream", stream_of(initialised, keyed)
    )
    assert alone.code == 2 and "no key was given" in alone.err


@pytest.mark.parametrize(
    "content",
    [b"SECRETTOKEN", b'version = 1\nmode = "enforce"\n', b"\0" * 70_000 + b"DATA"],
    ids=["token", "policy", "zeros then data"],
)
def test_ship_refuses_a_file_that_is_no_log(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    """A path given by mistake: no log (exit 2), not "0 shipped, up to date"."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(content)
    shipped = run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    assert shipped.code == 2 and shipped.out == ""
    assert f"{log} is not an audit log" in shipped.err
    for log_before_its_first_record in (b"", b'{"prev":"00', b"\0" * 16):  # zeros: a crash
        log.write_bytes(log_before_its_first_record)
        assert run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL).code == 0


@pytest.mark.parametrize("obstacle", ["symlink", "unreadable"])
def test_ship_refuses_a_log_it_cannot_read(
    initialised: LedgerTable,
    aws: MotoServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    obstacle: str,
) -> None:
    """A log behind a symbolic link (which the shipper never follows) or one the user may not read
    is exit 2 naming why, not "0 shipped, up to date" with its records never shipped."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 5)
    given, why = log, "permission denied"
    if obstacle == "symlink":
        given, why = tmp_path / "link.jsonl", "a symbolic link is at the path (refused)"
        given.symlink_to(log)
    else:  # stood in for: the tests may run as root, whom permissions do not stop
        opened = os.open

        def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
            if os.fspath(path) == str(log):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return opened(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
    aws.reset_counts()
    shipped = run_main(capsys, "audit", "ship", str(given), "--ledger", LEDGER_URL)
    assert_one_error_line(shipped, f"{given}: ", why)
    assert aws.actions() == []
    assert not (tmp_path / f"{given.name}.shipped").exists()


def test_ship_refuses_a_fork_with_exit_1(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, copy = tmp_path / "audit.jsonl", tmp_path / "copy.jsonl"
    write_log(log, 3)
    copy.write_bytes(log.read_bytes())
    write_log(log, 1, note="original ")
    write_log(copy, 1, note="copy ")
    assert run_main(capsys, "audit", "ship", str(copy), "--ledger", LEDGER_URL).code == 0
    refused = run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    assert refused.code == 1
    assert refused.out.startswith(f"refused: {log}: fork of stream ")
    verified = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL, "--json")
    assert verified.code == 1
    assert [f["reason"] for f in verified.json()["findings"]] == ["fork"]


def test_ship_with_the_ledger_out_of_reach_exits_2_and_the_records_wait(
    initialised: LedgerTable,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 2)
    from rds_guard.audit.ledger import location

    made = location.Clients.client

    def throttled(self: Any, service: str) -> Any:
        client = made(self, service)
        if service == "dynamodb":
            on_send(client, "PutItem", lambda **_: dynamodb_error("ThrottlingException"))
        return client

    monkeypatch.setattr(location.Clients, "client", throttled)
    run = run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    assert run.code == 2
    assert "0 shipped; acknowledged through seq 0; 2 record(s) wait: ThrottlingException" in run.out


def test_ledger_init_without_a_ledger_in_the_policy_names_its_own_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ledger init` takes no --ledger (it makes what the policy names): its error says to
    give a policy with an [audit.ledger], not an option it would refuse."""
    monkeypatch.chdir(tmp_path)
    for words in ([], ["--policy", str(write_policy(tmp_path, "version = 1\n"))]):
        line = assert_one_error_line(
            run_main(capsys, "ledger", "init", *words),
            "no ledger: give --policy naming a policy with an [audit.ledger]",
        )
        assert "--ledger" not in line


def test_ship_needs_a_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "audit.jsonl"
    write_log(log, 1)
    assert_one_error_line(run_main(capsys, "audit", "ship", str(log)), "no ledger: give --ledger")
    assert_one_error_line(
        run_main(capsys, "audit", "ship", str(log), "--ledger", "s3://bucket"),
        "a ledger is dynamodb://TABLE",
    )
    twice = "dynamodb://rds-guard-audit?region=us-east-1&region=eu-west-1"
    assert_one_error_line(  # not the last one silently: which one was meant?
        run_main(capsys, "audit", "ship", str(log), "--ledger", twice),
        "a ledger names one region, got",
    )


@pytest.mark.parametrize(
    ("prefix", "said"),
    [
        ("\udcff", "an S3 key prefix is UTF-8 text, not so in 's3://bucket/\\udcff/'"),
        ("\x1b[31m", "an S3 key prefix holds no control character, as 's3://bucket/\\x1b[31m/'"),
    ],
    ids=["no-utf8", "control"],
)
@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "checkpoint"]])
def test_a_checkpoints_prefix_no_key_can_hold_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], prefix: str, said: str
) -> None:
    """A byte that is no UTF-8 in the prefix (a shell variable holding junk): an S3 key
    cannot hold it. It was "unexpected UnicodeEncodeError" once a client met it. A control
    character: refused as the policy refuses it."""
    words = [*command, "--ledger", "dynamodb://rds-guard-audit"]
    words += ["--checkpoints", f"s3://bucket/{prefix}/", "--kms-key", "alias/rds-guard"]
    if command[-1] == "verify":
        words.append(str(tmp_path / "audit.jsonl"))
    assert_one_error_line(run_main(capsys, *words), said)


@pytest.mark.parametrize(
    "option",
    [
        ("--ledger", "dynamodb://admin:hunter2@rds-guard-audit"),
        ("--checkpoints", "s3://admin:hunter2@bucket/rds-guard"),
        ("--checkpoints", "https://admin:hunter2@bucket/rds-guard"),
        ("--ledger", "dynamodb://admin:hunter2/x@rds-guard-audit"),
        ("--checkpoints", "s3://admin:hunter2/x@bucket/rds-guard"),
    ],
    ids=["ledger", "checkpoints", "checkpoints-https", "ledger-slash", "checkpoints-slash"],
)
def test_a_password_in_a_location_is_not_echoed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    option: tuple[str, str],
) -> None:
    """A location given with a user and password by mistake: the usage error said it back
    whole (exit 2), as the endpoint URLs of other errors are not. It is not shown at all: a
    password may hold a raw ``/``, past which no redaction tells it from the path."""
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "audit.jsonl"
    write_log(log, 1)
    ran = run_main(
        capsys, "audit", "verify", "--ledger", "dynamodb://rds-guard-audit", *option, str(log)
    )
    assert ran.code == 2
    assert "a location naming a user or password (not shown)" in ran.err
    assert "hunter2" not in ran.out + ran.err


def test_a_table_or_bucket_that_is_not_there_is_named(
    initialised: LedgerTable, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """AWS's own message names neither the table nor the bucket a command could not find:
    the error line names the one given."""
    table = run_main(capsys, "audit", "verify", "--ledger", "dynamodb://no-such-table")
    assert_one_error_line(
        table, "the ledger's table dynamodb://no-such-table is not there", "ResourceNotFound"
    )
    wrong = "s3://no-such-bucket/rds-guard/"
    args = ("audit", "verify", "--ledger", LEDGER_URL, "--checkpoints", wrong)
    bucket = run_main(capsys, *args, "--policy", str(policy))
    assert_one_error_line(bucket, f"the checkpoints' bucket {wrong} is not there", "NoSuchBucket")


def test_checkpoint_then_verify_with_the_checkpoints(
    initialised: LedgerTable, tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 5)
    run_main(capsys, "audit", "ship", str(log), "--policy", str(policy))
    written = run_main(capsys, "audit", "checkpoint", "--policy", str(policy))
    stream = stream_of(initialised, log)
    assert written.code == 0, written
    first, second = written.out.splitlines()
    assert first.startswith(
        f"checkpoint 1: s3://{BUCKET}/rds-guard/checkpoint-0000000001.json, 1 stream(s), "
        "signed with arn:aws:kms:us-east-1:123456789012:key/"
    )
    assert second.startswith(f"  {stream}: seq 5, head ")
    ok = run_main(
        capsys,
        "audit",
        "verify",
        "--ledger",
        LEDGER_URL,
        "--checkpoints",
        CHECKPOINTS,
        "--policy",
        str(policy),
    )
    assert ok.code == 0 and ok.out.startswith("ok: 1 streams, 5 records, 1 checkpoints, ")
    store = CheckpointStore(initialised.clients, S3Location(BUCKET, "rds-guard/"))
    written_at = read_history(store)
    assert f", the newest of {written_at.checkpoints[-1].time}\n" in ok.out
    for seq in (4, 5):
        delete_item(initialised, stream, seq)
    bad = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL, "--checkpoints", CHECKPOINTS)
    assert bad.code == 1
    assert bad.out == (
        f"line 5: checkpoint: {stream}: ends at seq 3, and checkpoint 1 saw it at seq 5: "
        "records were deleted since\n"
    )
    pinned = run_main(capsys, "audit", "checkpoint", "--policy", str(policy), "--json")
    assert pinned.code == 1
    document = pinned.json()
    assert document["checkpoint"]["streams"][0]["size"] == 5
    assert document["findings"] == [
        f"{stream}: ends at seq 3, and a checkpoint saw it at seq 5: records were deleted"
    ]


def test_verify_with_a_policy_holds_the_ledger_to_the_policy_s_checkpoints(
    initialised: LedgerTable, tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/cli.md: the bucket comes from the options or from the policy's [audit.ledger].
    `verify --ledger L --policy P` read no checkpoints when --checkpoints was not given, and
    said ok (exit 0) of a ledger whose checkpointed tail was deleted."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 6)
    run_main(capsys, "audit", "ship", str(log), "--policy", str(policy))
    assert run_main(capsys, "audit", "checkpoint", "--policy", str(policy)).code == 0
    stream = stream_of(initialised, log)
    words = ["audit", "verify", "--ledger", LEDGER_URL, "--policy", str(policy)]
    ok = run_main(capsys, *words)
    assert ok.code == 0 and ok.out.startswith("ok: 1 streams, 6 records, 1 checkpoints, ")
    for seq in (5, 6):
        delete_item(initialised, stream, seq)
    bad = run_main(capsys, *words)
    assert (bad.code, bad.out) == (
        1,
        f"line 6: checkpoint: {stream}: ends at seq 4, and checkpoint 1 saw it at seq 6: "
        "records were deleted since\n",
    )
    as_json = run_main(capsys, *words, "--json")
    assert (as_json.code, as_json.json()["checkpointed"]) == (1, True)
    # without checkpoints, the verdict says none were checked
    unchecked = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL, "--stream", stream)
    assert unchecked.code == 0
    assert unchecked.out.splitlines()[0] == "ok: 1 streams, 4 records (no checkpoints checked)"
    unchecked_json = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL, "--json")
    assert unchecked_json.json()["checkpointed"] is False


def test_verify_of_another_table_than_the_policy_s_takes_none_of_its_checkpoints(
    initialised: LedgerTable, tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The policy's checkpoints pin its own table: a verify of another table with that policy
    (for its key) holds it to none of them, and says so."""
    run_main(capsys, "audit", "checkpoint", "--policy", str(policy))
    ledger_table("staging-ledger")
    verified = run_main(
        capsys,
        "audit",
        "verify",
        "--ledger",
        f"dynamodb://staging-ledger?region={REGION}",
        "--policy",
        str(policy),
    )
    assert (verified.code, verified.out) == (
        0,
        "ok: 0 streams, 0 records (no checkpoints checked)\n",
    )


def test_verify_of_the_same_table_in_another_region_takes_none_of_the_policy_s_checkpoints(
    initialised: LedgerTable, tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The policy's checkpoints pin its table in its region: a table of the same name in
    another region (a ledger per region), verified with the policy for its key, is held to
    none of them (their key alias is not there either: the verify failed, exit 2)."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 3)
    assert run_main(capsys, "audit", "ship", str(log), "--policy", str(policy)).code == 0
    assert run_main(capsys, "audit", "checkpoint", "--policy", str(policy)).code == 0
    other = LedgerTable(Clients("eu-west-1"), TABLE)
    other.create()
    verified = run_main(
        capsys,
        "audit",
        "verify",
        "--ledger",
        f"dynamodb://{TABLE}?region=eu-west-1",
        "--policy",
        str(policy),
    )
    assert (verified.code, verified.out) == (
        0,
        "ok: 0 streams, 0 records (no checkpoints checked)\n",
    )
    # the policy's own region named in the URL, or left to botocore (us-east-1 here): held
    for url in (LEDGER_URL, f"dynamodb://{TABLE}"):
        same = run_main(capsys, "audit", "verify", "--ledger", url, "--policy", str(policy))
        assert same.code == 0 and ", 1 checkpoints, " in same.out, (url, same)


def test_verify_with_a_policy_naming_no_region_and_none_configured_takes_none_of_its_checkpoints(
    initialised: LedgerTable,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A policy whose ledger names no region, where nothing configures one: its table is in
    no region, so not the one the URL names; the verify goes on (it stopped on "no AWS
    region" though the URL named one)."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    regionless = LEDGER_SIGNED.replace('region = "us-east-1"\n', "")
    assert "region" not in regionless
    policy = write_policy(tmp_path, regionless, name="regionless.toml")
    verified = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL, "--policy", str(policy))
    assert (verified.code, verified.out) == (
        0,
        "ok: 0 streams, 0 records (no checkpoints checked)\n",
    )


def test_scan_finds_a_stream_whose_marker_was_overwritten(
    initialised: LedgerTable, tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A writer of the table overwrote the marker of a stream no checkpoint has listed: the
    index no longer lists it, and only ``--scan`` finds it: ``verify`` says
    ``unlisted-stream``, ``checkpoint`` pins it with a finding (both exit 1)."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 3)
    run_main(capsys, "audit", "ship", str(log), "--policy", str(policy))
    stream = stream_of(initialised, log)
    put_raw(initialised, {"stream": {"S": stream}, "seq": {"N": "0"}})
    unscanned = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL)
    assert (unscanned.code, unscanned.out) == (
        0,
        "ok: 0 streams, 0 records (no checkpoints checked)\n",
    )
    scanned = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL, "--scan")
    assert scanned.code == 1
    assert scanned.out == (
        f"line 3: unlisted-stream: {stream}: the table holds it (found by a scan), but no "
        "marker lists it (its item at seq 0 was overwritten): someone who can write the table "
        "kept it out of the index\n"
    )
    pinned = run_main(capsys, "audit", "checkpoint", "--policy", str(policy), "--scan", "--json")
    assert pinned.code == 1
    document = pinned.json()
    assert [(s["stream"], s["size"]) for s in document["checkpoint"]["streams"]] == [(stream, 3)]
    assert document["findings"] == [f"{stream}: " + scanned.out.split(f"{stream}: ", 1)[1][:-1]]
    assert_one_error_line(
        run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL, "--scan", "--stream", "x"),
        "--scan finds every stream",
    )


def test_verify_holds_the_checkpoints_to_its_own_table_and_prefix(
    initialised: LedgerTable, tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/ledger.md: a signed checkpoint copied in from another ledger or prefix is a
    finding. Another table's checkpoint, signed with the same key under another prefix: a
    verify pointed there by a slip, and one copied into this ledger's empty prefix by a
    writer of the bucket, each said ok (exit 0)."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 5)
    run_main(capsys, "audit", "ship", str(log), "--policy", str(policy))
    staging = CheckpointStore(initialised.clients, S3Location(BUCKET, "staging/"), KEY_ALIAS)
    assert write_checkpoint(ledger_table("staging-ledger"), staging).checkpoint is not None
    foreign = f"it is a checkpoint of table 'staging-ledger', not of '{TABLE}'"
    words = ["audit", "verify", "--ledger", LEDGER_URL, "--checkpoints"]
    slip = run_main(capsys, *words, str(staging.location))
    assert slip.code == 1 and f"checkpoint-0000000001.json: {foreign}" in slip.out
    s3 = initialised.clients.s3
    copied = s3.get_object(Bucket=BUCKET, Key=staging.location.key(name_of(1)))
    s3.put_object(
        Bucket=BUCKET,
        Key=S3Location(BUCKET, "rds-guard/").key(name_of(1)),
        Body=copied["Body"].read(),
        Metadata=copied["Metadata"],
    )
    planted = run_main(capsys, *words, CHECKPOINTS)
    assert planted.code == 1 and f"checkpoint-0000000001.json: {foreign}" in planted.out


def test_a_stream_id_is_not_resolved_to_a_decoy_of_a_checkpointed_stream(
    initialised: LedgerTable, tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A writer copies a checkpointed stream's items under another region, unlists the real
    one (its marker overwritten) and edits it: `--stream ID` with the checkpoints named only
    the copy, and said ok. The id is looked up among the checkpoints' streams too: two end
    with it, and the command says so (exit 2) rather than walk the wrong one."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 5)
    run_main(capsys, "audit", "ship", str(log), "--policy", str(policy))
    assert run_main(capsys, "audit", "checkpoint", "--policy", str(policy)).code == 0
    stream = stream_of(initialised, log)
    account, _, stream_id = stream.split("/")
    decoy = f"{account}/eu-west-9/{stream_id}"
    for seq in range(6):
        put_raw(initialised, item_at(initialised, stream, seq) | {"stream": {"S": decoy}})
    put_raw(initialised, {"stream": {"S": stream}, "seq": {"N": "0"}})
    edited = item_at(initialised, stream, 2)
    edited["line"] = {"S": edited["line"]["S"].replace('"event"', '"event" ')}
    put_raw(initialised, edited)
    words = ["audit", "verify", "--ledger", LEDGER_URL, "--checkpoints", CHECKPOINTS]
    ambiguous = run_main(capsys, *words, "--stream", stream_id)
    assert_one_error_line(ambiguous, f"2 streams ({decoy}, {stream})")
    named = run_main(capsys, *words, "--stream", stream)
    assert named.code == 1 and "line 2: edited" in named.out


def test_checkpoint_needs_a_bucket_and_a_key(
    initialised: LedgerTable, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_error_line(
        run_main(capsys, "audit", "checkpoint", "--ledger", LEDGER_URL),
        "a checkpoint needs a bucket and a key",
    )


def test_a_kms_key_no_key_can_be_named_so_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """As the policy's ``kms_key``: refused before anything is read or signed."""
    words = ["audit", "checkpoint", "--ledger", LEDGER_URL, "--checkpoints", CHECKPOINTS]
    assert_one_error_line(
        run_main(capsys, *words, "--kms-key", "alias/\x1b[31m"),
        "names no KMS key (an id, ARN or alias",
        "\\x1b",
    )


def test_query_answers_for_one_snapshot_across_streams(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    write_log(one, 2, snapshot="Orders-Daily-20261129")
    write_log(two, 1, snapshot="orders-daily-20261129", event="blocked")
    write_log(two, 1, snapshot="something-else")
    for log in (one, two):
        run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    run = run_main(
        capsys, "audit", "query", "--ledger", LEDGER_URL, "--snapshot", "ORDERS-daily-20261129"
    )
    assert run.code == 0
    header, *rows = run.out.splitlines()
    assert header.split() == [
        "TIME",
        "EVENT",
        "OPERATION",
        "BY",
        "POLICY",
        "STREAM",
        "SEQ",
        "RECORD",
    ]
    assert len(rows) == 3 and all(row.endswith("authentic") for row in rows)
    assert sorted(row.split()[1] for row in rows) == ["blocked", "requested", "requested"]
    document = run_main(
        capsys,
        "audit",
        "query",
        "--ledger",
        LEDGER_URL,
        "--snapshot",
        "orders-daily-20261129",
        "--json",
    ).json()
    assert {d["stream"] for d in document} == {
        stream_of(initialised, one),
        stream_of(initialised, two),
    }
    assert document[0]["record"]["snapshot"] == "orders-daily-20261129"
    nothing = run_main(capsys, "audit", "query", "--ledger", LEDGER_URL, "--snapshot", "nope")
    assert (nothing.code, nothing.out) == (0, f"no record of snapshot nope in {LEDGER_URL}\n")


def test_query_says_when_a_record_is_not_authentic(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 1)
    run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    item = item_at(initialised, stream_of(initialised, log), 1)
    item["line"]["S"] = item["line"]["S"].replace('"requested"', '"created"')
    put_raw(initialised, item)
    run = run_main(
        capsys, "audit", "query", "--ledger", LEDGER_URL, "--snapshot", "orders-daily-20261129"
    )
    assert run.code == 1 and run.out.rstrip().endswith("NOT AUTHENTIC")


def test_query_with_the_key_says_a_record_sealed_without_it_is_not_keyed(
    initialised: LedgerTable,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DESIGN §6: on a keyed log any record that is not HMAC-keyed is a finding. A stream of
    plain SHA-256 records, which anyone who can write the table can make, was "authentic"
    under --key-env, exit 0. Under the key it is NOT KEYED, exit 1; without a key, the keyed
    record cannot be told and the plain one's digest holds (exit 0)."""
    keyed, plain = tmp_path / "keyed.jsonl", tmp_path / "plain.jsonl"
    write_log(keyed, 1, hmac_key=b"the fleet's audit key")
    write_log(plain, 1, event="blocked")
    for log in (keyed, plain):
        run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    monkeypatch.setenv("FLEET_KEY", "the fleet's audit key")
    words = ["audit", "query", "--ledger", LEDGER_URL, "--snapshot", "orders-daily-20261129"]
    under_key = run_main(capsys, *words, "--key-env", "FLEET_KEY")
    assert under_key.code == 1
    verdicts = {row.split()[1]: row for row in under_key.out.splitlines()[1:]}
    assert verdicts["requested"].endswith("  authentic")
    assert verdicts["blocked"].endswith("NOT KEYED (the key was given)")
    document = run_main(capsys, *words, "--key-env", "FLEET_KEY", "--json").json()
    assert sorted((d["record"]["event"], d["authentic"], d["keyed"]) for d in document) == [
        ("blocked", True, False),
        ("requested", True, True),
    ]
    keyless = run_main(capsys, *words)
    assert keyless.code == 0
    verdicts = {row.split()[1]: row for row in keyless.out.splitlines()[1:]}
    assert verdicts["requested"].endswith("keyed (no key given)")
    assert verdicts["blocked"].endswith("  authentic")


def test_query_trusts_the_records_not_the_index_attributes(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """query finds records through the items' ``snapshot`` attribute and put them in order
    by their ``time`` attribute, both of which a writer of the table can set apart from the
    line: another snapshot's record was listed first as "authentic". It is left out, named
    in a warning (exit 1), and the rows go by the records' own times."""
    log, other = tmp_path / "audit.jsonl", tmp_path / "other.jsonl"
    write_log(log, 2)
    write_log(other, 1, snapshot="something-else")
    for path in (log, other):
        run_main(capsys, "audit", "ship", str(path), "--ledger", LEDGER_URL)
    stream = stream_of(initialised, other)
    item = item_at(initialised, stream, 1)
    item["snapshot"] = {"S": "orders-daily-20261129"}
    item["time"] = {"S": "2000-01-01T00:00:00Z"}
    put_raw(initialised, item)
    mine = item_at(initialised, stream_of(initialised, log), 2)
    mine["time"] = {"S": "1999-01-01T00:00:00Z"}  # listed first by the attribute
    put_raw(initialised, mine)
    run = run_main(
        capsys, "audit", "query", "--ledger", LEDGER_URL, "--snapshot", "orders-daily-20261129"
    )
    assert run.code == 1
    rows = run.out.splitlines()[1:]
    assert [row.split()[-2] for row in rows] == ["1", "2"]  # seq 1 then 2: their own times
    assert all(row.endswith("authentic") for row in rows)
    assert run.err == (
        f"rds-guard: warning: {stream} seq 1: its item is listed under orders-daily-20261129,"
        ' but its record names "something-else": the item was edited (verify --ledger'
        " reports it); left out\n"
    )


def test_query_leaves_out_a_record_copied_to_an_item_at_another_seq(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A writer of the table copies seq 2's item to seq 99: its line is authentic, and query
    listed it twice, at seq 2 and at seq 99, exit 0. The copy is left out, named in a
    warning (exit 1)."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 2)
    run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    stream = stream_of(initialised, log)
    copy = dict(item_at(initialised, stream, 2), seq={"N": "99"})
    put_raw(initialised, copy)
    run = run_main(
        capsys, "audit", "query", "--ledger", LEDGER_URL, "--snapshot", "orders-daily-20261129"
    )
    assert run.code == 1
    assert [row.split()[-2] for row in run.out.splitlines()[1:]] == ["1", "2"]
    assert run.err == (
        f"rds-guard: warning: {stream} seq 99: its item holds the record of seq 2: the item"
        " was edited (verify --ledger reports it); left out\n"
    )


@pytest.mark.parametrize("filed", ["under a fork's key", "as a fork"])
def test_query_leaves_out_a_record_filed_where_no_stream_is_walked(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str], filed: str
) -> None:
    """A writer of the table files an authentic record of its own making under a fork's key
    (``<stream>/fork/...``), or as a fork's item: no walk of the streams reads it, and query
    listed it as "authentic" under a real host's stream name, exit 0. It is left out, named
    in a warning (exit 1)."""
    log, forged = tmp_path / "audit.jsonl", tmp_path / "forged.jsonl"
    write_log(log, 1)
    run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    stream = stream_of(initialised, log)
    (line,) = write_log(forged, 1, event="created")
    hidden = f"{stream}/fork/deadbeefdeadbeef"
    item = record_item(hidden, 1, line)
    if filed == "as a fork":
        item["kind"] = {"S": "fork"}
    put_raw(initialised, item)
    run = run_main(
        capsys, "audit", "query", "--ledger", LEDGER_URL, "--snapshot", "orders-daily-20261129"
    )
    assert run.code == 1
    assert [row.split()[-3] for row in run.out.splitlines()[1:]] == [stream]
    why = 'as a "fork" item' if filed == "as a fork" else "under a fork's key"
    assert run.err == (
        f"rds-guard: warning: {hidden} seq 1: its item is filed {why}, not as a stream's"
        " record: the item was edited (verify --ledger reports it); left out\n"
    )


def test_verify_with_the_ledger_takes_no_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 1)
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log), "--ledger", LEDGER_URL), "give no PATH"
    )
    assert_one_error_line(run_main(capsys, "audit", "verify"), "give the log files to verify")
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log), "--stream", "abc"), "go with --ledger"
    )
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log), "--scan"), "go with --ledger"
    )


# --- progress on a terminal -----------------------------------------------------------------


def test_ship_shows_progress_on_a_terminal_only(
    initialised: LedgerTable,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 250)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    shown = terminal.getvalue()
    assert "\rship audit.jsonl: 100 of 250 records, " in shown and " records/s" in shown
    assert shown.endswith("\r\x1b[K")  # cleared at the end
    write_log(log, 150)
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL, "--quiet")
    assert quiet.getvalue() == ""


def test_ship_is_quiet_off_a_terminal(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 150)
    assert run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL).err == ""


def test_verify_of_a_large_file_shows_progress_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 3000)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run_main(capsys, "audit", "verify", str(log)).code == 0
    assert "\rverify: " in terminal.getvalue() and " records/s" in terminal.getvalue()


def test_verify_ledger_shows_progress_on_a_terminal(
    initialised: LedgerTable,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 1200)
    shipped = run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    assert shipped.code == 0, shipped
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    verified = run_main(capsys, "audit", "verify", "--ledger", LEDGER_URL)
    assert verified.code == 0, (verified, terminal.getvalue())
    assert "\rverify --ledger: 1,000 of 1,200 records, " in terminal.getvalue()


def test_the_audit_functions_progress_counts_lines_and_bytes(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = write_log(log, 10)
    told: list[tuple[int, int, int]] = []
    audit.verify(log, progress=lambda *counts: told.append(counts))
    size = log.stat().st_size
    assert told == [(len(lines), size, size)]
    assert complete_lines(log) == lines
    json.dumps(told)


@pytest.mark.parametrize(
    ("missing", "fragments", "not_said"),
    [
        (
            {"AWS_DEFAULT_REGION": None},
            ("no AWS region", "dynamodb://TABLE?region=R", "[audit.ledger]"),
            "--region",
        ),
        (
            {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
            ("no AWS credentials found", "AWS_PROFILE"),
            "--profile",
        ),
    ],
)
def test_a_ledger_command_s_aws_hints_name_what_it_takes(
    tmp_path: Path, missing: dict[str, None], fragments: tuple[str, ...], not_said: str
) -> None:
    """The ledger's commands have no --region nor --profile: the hint says what they take."""
    run = run_script(
        "audit",
        "query",
        "--ledger",
        "dynamodb://rds-guard-ledger",
        "--snapshot",
        "orders-manual-20261130",
        env=script_env(tmp_path, **missing),
    )
    line = assert_one_error_line(run, *fragments)
    assert not_said not in line


def test_query_leaves_out_a_line_no_writer_writes(
    initialised: LedgerTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain record resealed with a NaN in its item's line was printed by ``--json`` as
    ``NaN``, which no JSON document holds. Such a line (a NaN, an infinite number, a key
    given twice) is no audit record: left out, named in a warning, exit 1; --json is JSON."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 2)
    run_main(capsys, "audit", "ship", str(log), "--ledger", LEDGER_URL)
    stream = stream_of(initialised, log)
    item = item_at(initialised, stream, 2)
    line = item["line"]["S"].replace('"tags":{', '"tags":{"nan":NaN,').encode()
    item["line"]["S"] = reseal(line).decode()
    put_raw(initialised, item)
    words = ["audit", "query", "--ledger", LEDGER_URL, "--snapshot", "orders-daily-20261129"]
    run = run_main(capsys, *words, "--json")
    assert run.code == 1
    document = json.loads(run.out, parse_constant=_no_constant)
    assert [row["seq"] for row in document] == [1]
    assert run.err == (
        f"rds-guard: warning: {stream} seq 2: its item holds a line that is no audit record:"
        " the item was edited (verify --ledger reports it); left out\n"
    )


def _no_constant(name: str) -> object:
    raise AssertionError(f"{name} printed")

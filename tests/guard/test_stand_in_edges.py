"""Edges of the AWS CLI plugin's stand-ins (`rds_guard.guard.hooks.StandIns`): which calls
they hand to the guard before it is loaded, and where."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from audit_helpers import records_of, run_python
from aws import audit_records, guarded_client, held_snapshot, make_instance
from policies import BACKUPS, HOLD_ONLY, write_policy
from servers import MotoServer

import rds_guard

TIMEOUT = 180  # a hang detector only

SETUP = """\
import os, botocore.session
import rds_guard, rds_guard.awscli
os.environ.update(RDS_GUARD_POLICY={policy!r}, RDS_GUARD_AUDIT_PATH={audit!r},
    AWS_ACCESS_KEY_ID='testing', AWS_SECRET_ACCESS_KEY='testing')
session = botocore.session.get_session()
rds_guard.awscli.awscli_initialize(session.get_component('event_emitter'))
rds = session.create_client('rds', region_name='us-east-1', endpoint_url={url!r})
"""


def stand_ins_run(
    server: MotoServer, tmp_path: Path, code: str, policy_text: str = BACKUPS
) -> tuple[str, list[str]]:
    """Run ``code`` after `SETUP` (an rds client with the plugin's stand-ins, under
    ``policy_text``) in a fresh interpreter: what it printed, and the notes of each audit
    record."""
    make_instance(server.client("rds"), "db1")
    audit = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, policy_text)
    setup = SETUP.format(policy=str(policy), audit=str(audit), url=server.url)
    server.reset_counts()
    result = run_python(setup + code, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    records = records_of(audit) if audit.exists() else []
    notes = [note for record in records for note in cast(list[str], record["notes"])]
    return result.stdout, notes


def test_a_retention_turned_off_is_judged_by_the_stand_ins_before_its_request(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A modify that turns the automated backups off, the client's first guarded call: the
    stand-in of ``before-parameter-build`` loads the guard and has it judged there, as the
    caller made it (not only as it is sent, with no judgement): blocked, nothing sent."""
    code = (
        "try:\n"
        "    rds.modify_db_instance(DBInstanceIdentifier='db1', BackupRetentionPeriod=0)\n"
        "except rds_guard.PolicyViolation as blocked:\n"
        "    print(*sorted({v.rule for v in blocked.violations}))\n"
    )
    printed, notes = stand_ins_run(moto_server, tmp_path, code)
    assert printed == "deletion.automated_backups\n"
    assert not any("judged as it was sent" in note for note in notes), notes
    assert moto_server.count("ModifyDBInstance") == 0


@pytest.mark.parametrize("action", ["modifydbinstance", "MODIFYDBINSTANCE"])
def test_a_plain_modify_whose_action_another_handler_recased_is_no_plain_call(
    moto_server: MotoServer, tmp_path: Path, action: str
) -> None:
    """A modify without a retention, let by unjudged, whose ``Action`` a before-call handler
    writes in another case: no plain call of its operation (how the service reads it is not
    known), so the stand-ins hand it to the guard, which refuses it as ``request.changed``
    on ``Action``; nothing sent."""
    code = (
        "def recase(params, **_):\n"
        f"    params['body']['Action'] = {action!r}\n"
        "rds.meta.events.register('before-call.rds.ModifyDBInstance', recase)\n"
        "try:\n"
        "    rds.modify_db_instance(DBInstanceIdentifier='db1', AllocatedStorage=30)\n"
        "except rds_guard.PolicyViolation as blocked:\n"
        "    print(*[(v.rule, v.field) for v in blocked.violations])\n"
        "except Exception as sent:  # the service's answer to what it was sent\n"
        "    print('sent:', type(sent).__name__)\n"
    )
    printed, _ = stand_ins_run(moto_server, tmp_path, code)
    assert printed == "('request.changed', 'Action')\n"
    assert moto_server.count("ModifyDBInstance") == 0


DESCRIBE_AND_SAY = (
    "try:\n"
    "    rds.describe_db_clusters()\n"
    "    print('sent')\n"
    "except rds_guard.PolicyViolation as blocked:\n"
    "    print('blocked', blocked.operation)\n"
    "except Exception as sent:  # the service's answer to what it was sent\n"
    "    print('sent:', type(sent).__name__)\n"
)
"""A describe, and what came of it: the guarded operation it was blocked as, or that it was
sent (and how the service answered what it got)."""


def still_held(plain: Any) -> bool:
    found = plain.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="held")
    return len(found["DBClusterSnapshots"]) == 1


def test_a_describe_given_params_naming_a_delete_is_handed_to_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A describe (no guarded call: the guard not loaded yet) whose request a handler put
    before the stand-ins gives ``params`` naming the delete of a snapshot on hold, which
    botocore puts in the URL's query: the stand-ins hand it to the guard, which judges it as
    that delete and blocks it; nothing deleted."""
    plain = held_snapshot(moto_server)
    code = (
        "def add_params(request, **_):\n"
        "    request.params = {'Action': 'DeleteDBClusterSnapshot',\n"
        "                      'DBClusterSnapshotIdentifier': 'held'}\n"
        "rds.meta.events.register_first('request-created.rds.DescribeDBClusters', add_params)\n"
        + DESCRIBE_AND_SAY
    )
    printed, _ = stand_ins_run(moto_server, tmp_path, code, HOLD_ONLY)
    assert printed == "blocked DeleteDBClusterSnapshot\n"
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert still_held(plain)


def test_a_describe_whose_body_holds_a_string_sent_as_another_is_handed_to_the_guard(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A describe whose body a before-call handler replaces with one whose ``Action`` is a
    string that reads ``DescribeDBClusters`` and is sent (through its own ``encode()``) as
    the delete of a snapshot on hold: the stand-ins hand it to the guard, which reads it as
    it is sent and blocks it; nothing deleted."""
    plain = held_snapshot(moto_server)
    code = (
        "class EncodesAs(str):\n"
        "    def encode(self, *_, **__):\n"
        "        return b'DeleteDBClusterSnapshot'\n"
        "def turn(params, **_):\n"
        "    params['body'] = {'Action': EncodesAs('DescribeDBClusters'),\n"
        "                      'Version': '2014-10-31', 'DBClusterSnapshotIdentifier': 'held'}\n"
        "rds.meta.events.register('before-call.rds.DescribeDBClusters', turn)\n" + DESCRIBE_AND_SAY
    )
    printed, _ = stand_ins_run(moto_server, tmp_path, code, HOLD_ONLY)
    assert printed == "blocked DeleteDBClusterSnapshot\n"
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert still_held(plain)


class EmptyToTheGuard(Mapping[str, str]):
    """Params that say they are empty when rds_guard's code asks, and hold the delete of a
    snapshot on hold to anyone else (botocore asks before it puts them in the URL's query)."""

    def __init__(self, held: dict[str, str]) -> None:
        self._held = held

    def __bool__(self) -> bool:
        return not sys._getframe(1).f_globals.get("__name__", "").startswith("rds_guard")

    def __getitem__(self, key: str) -> str:
        return self._held[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)


def test_a_describe_given_params_that_say_they_are_empty_is_judged_as_the_delete_sent(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A describe given ``params`` that say they are empty to the guard, and to botocore
    name the delete of a snapshot on hold, which botocore puts in the URL's query: params of
    no built-in type are read whatever they say of themselves, and the delete is blocked."""
    plain = held_snapshot(moto_server)
    rds = guarded_client(write_policy(tmp_path, HOLD_ONLY), on=moto_server)
    delete = {"Action": "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier": "held"}

    def add_params(request: Any, **_: Any) -> None:
        request.params = EmptyToTheGuard(delete)

    rds.meta.events.register_first("request-created.rds.DescribeDBClusters", add_params)
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        rds.describe_db_clusters()
    assert caught.value.operation == "DeleteDBClusterSnapshot"
    assert moto_server.count("DeleteDBClusterSnapshot") == 0
    assert still_held(plain)
    assert [r["event"] for r in audit_records(tmp_path)] == ["blocked"]


DOCDB_MODIFY = (
    "import sys\n"
    "docdb = session.create_client('docdb', region_name='us-east-1',"
    " endpoint_url=rds.meta.endpoint_url)\n"
    "def give(params, **_):\n"
    "    if {key!r}:\n"
    "        params['body'][{key!r}] = '0'\n"
    "docdb.meta.events.register('before-call.docdb.ModifyDBInstance', give)\n"
    "try:\n"
    "    docdb.modify_db_instance(DBInstanceIdentifier='db1', ApplyImmediately=True)\n"
    "    print('sent', 'rds_guard.guard.binding' in sys.modules)\n"
    "except rds_guard.PolicyViolation as blocked:\n"
    "    print(*[(v.rule, v.field) for v in blocked.violations])\n"
)


@pytest.mark.parametrize(
    "key", ["BackupRetentionPeriod", "backupretentionperiod", "BackupRetent\u0131onPeriod"]
)
def test_a_documentdb_modify_given_a_retention_its_api_lacks_is_handed_to_the_guard(
    moto_server: MotoServer, tmp_path: Path, key: str
) -> None:
    """A DocumentDB ModifyDBInstance (which the guard judges as rds's only, by its
    ``BackupRetentionPeriod``, which DocumentDB's API lacks) a before-call handler gives one,
    in any spelling a service may read as it: the stand-ins hand it to the guard, which
    refuses it on ``Action``; nothing sent."""
    printed, _ = stand_ins_run(moto_server, tmp_path, DOCDB_MODIFY.format(key=key))
    assert printed == "('request.changed', 'Action')\n"
    assert moto_server.count("ModifyDBInstance") == 0


def test_a_plain_documentdb_modify_loads_no_guard(moto_server: MotoServer, tmp_path: Path) -> None:
    """The same DocumentDB ModifyDBInstance as botocore makes it is sent, and the stand-ins
    load neither the guard nor the policy for it."""
    printed, notes = stand_ins_run(moto_server, tmp_path, DOCDB_MODIFY.format(key=""))
    assert printed == "sent False\n"
    assert moto_server.count("ModifyDBInstance") == 1 and notes == []


@pytest.mark.parametrize(
    "action",
    [
        "%44eleteDBClusterSnapshot",  # percent-encoded: every service reads the delete
        "DeleteDBClu%C5%BFterSnapshot",  # a long s, which a Java-folding service reads as s
        "DeleteDBClusterSnapshot%20",  # a space a service trims
    ],
)
def test_a_describe_made_a_delete_under_an_encoded_action_is_handed_to_the_guard(
    moto_server: MotoServer, tmp_path: Path, action: str
) -> None:
    """Before the guard is loaded, a before-call handler makes a describe's body form text
    naming the delete of a held snapshot under an ``Action`` written other than as its plain
    letters: the stand-ins read it as the service decodes it and hand it to the guard, which
    blocks it; the snapshot is kept."""
    plain = held_snapshot(moto_server)
    text = f"Action={action}&Version=2014-10-31&DBClusterSnapshotIdentifier=held"
    code = (
        "def turn(params, **_):\n"
        f"    params['body'] = {text!r}\n"
        "rds.meta.events.register('before-call.rds.DescribeDBClusters', turn)\n" + DESCRIBE_AND_SAY
    )
    printed, _ = stand_ins_run(moto_server, tmp_path, code, HOLD_ONLY)
    assert printed == "blocked DeleteDBClusterSnapshot\n"
    assert still_held(plain)

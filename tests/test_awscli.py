"""The AWS CLI plugin, end to end: the real ``aws`` command against the moto server.

Every test runs the venv's ``aws`` (AWS CLI v1, installed by the ``dev`` extra) in a subprocess
with ``examples/awscli-config`` as its AWS config file, dummy credentials and an explicit
environment, against :class:`servers.MotoServer` (``--endpoint-url``). The server's request
counts prove what a blocked command never sent. The last tests drive the seam the plugin is
built on, `rds_guard.guard.install_on_emitter`, in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from audit_helpers import records_of, run_python
from aws import guarded_client, held_snapshot, make_cluster, make_instance, snapshot_tags
from clock import UtcDays
from ledger_helpers import complete_lines, ledger_table, stored_lines, stream_of
from policies import BACKUPS, EXAMPLE, HOLD_ONLY, LEDGER, RULE_OF_EACH_KIND, write_policy
from servers import MotoServer

import rds_guard
import rds_guard.awscli
from rds_guard import audit
from rds_guard.core import operations
from rds_guard.guard import hooks, install_on_emitter

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "examples" / "awscli-config"
AWS = Path(sys.executable).with_name("aws")
TIMEOUT = 180  # a hang detector only: one `aws` command takes about a second
TODAY = datetime.now(UTC).strftime("%Y%m%d")
CLUSTER_TAGS = {"team": "orders", "env": "prod"}

BAD_SNAPSHOT_ARGS = [
    "--db-cluster-identifier",
    "orders",
    "--db-cluster-snapshot-identifier",
    "Test2",
    "--tags",
    "Key=Team,Value=orders",
    "Key=env,Value=qa",
]


def aws(
    server: MotoServer,
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    without: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``aws ARGS --endpoint-url SERVER`` with the example plugin config; never raises.
    ``env`` adds to the environment, ``without`` takes names out of it."""
    assert AWS.exists(), f"{AWS} is missing: install the dev group (pip install -e . --group dev)"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),  # the plugin of this checkout, whatever is installed
        "AWS_CONFIG_FILE": str(EXAMPLE_CONFIG),
        "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "no-credentials"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **(env or {}),
    }
    for name in without:
        environment.pop(name, None)
    return subprocess.run(
        [str(AWS), *args, "--endpoint-url", server.url],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The directory ``aws`` runs in, holding the example policy as ./rds_guard.toml."""
    write_policy(tmp_path, EXAMPLE)
    return tmp_path


def test_example_config_enables_the_plugin_and_nothing_else() -> None:
    """The example's only active setting is the plugin (comments aside)."""
    active = [
        line.strip()
        for line in EXAMPLE_CONFIG.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert active == ["[plugins]", "rds_guard = rds_guard.awscli"]


@pytest.mark.parametrize("service", ["rds", "neptune"])
def test_compliant_create_is_completed_with_the_policy_tags_and_audited(
    moto_server: MotoServer, workdir: Path, service: str
) -> None:
    """./rds_guard.toml is found; the snapshot gets the default and forced tags; 2 records."""
    client = moto_server.client(service)
    make_cluster(client, tags=CLUSTER_TAGS)
    name = f"orders-manual-{TODAY}"
    days = UtcDays()
    result = aws(
        moto_server,
        service,
        "create-db-cluster-snapshot",
        "--db-cluster-identifier",
        "orders",
        "--db-cluster-snapshot-identifier",
        name,
        "--tags",
        "Key=team,Value=orders",
        "Key=env,Value=prod",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"] == name
    tags = snapshot_tags(client, name)
    assert tags == {
        "team": "orders",
        "env": "prod",
        "managed-by": "rds-guard",
        "created": days.expect(lambda day: day, tags.get("created"), "%Y-%m-%d"),
        "backup-policy": "standard-35d",
    }
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    records = list(audit.read_records(workdir / "rds-guard-audit.jsonl"))
    assert [r["event"] for r in records] == ["requested", "created"]
    requested, created = records
    assert requested["call"] == created["call"]
    assert (created["service"], created["operation"]) == (service, "CreateDBClusterSnapshot")
    assert created["snapshot"] == name
    assert created["arn"].endswith(f":cluster-snapshot:{name}")
    assert sorted(created["injected"]) == ["backup-policy", "created", "managed-by"]
    assert created["pid"] != os.getpid()  # written by the aws process itself


def test_blocked_command_lists_every_violation_and_sends_nothing(
    moto_server: MotoServer, tmp_path: Path, workdir: Path
) -> None:
    """$RDS_GUARD_POLICY and $RDS_GUARD_AUDIT_PATH are honoured; exit 255; nothing sent."""
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    audit_path = tmp_path / "cli-audit.jsonl"
    result = aws(
        moto_server,
        "rds",
        "create-db-cluster-snapshot",
        *BAD_SNAPSHOT_ARGS,
        cwd=elsewhere,
        env={
            "RDS_GUARD_POLICY": str(workdir / "rds_guard.toml"),
            "RDS_GUARD_AUDIT_PATH": str(audit_path),
        },
    )
    assert result.returncode == 255
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "rds_guard blocked CreateDBClusterSnapshot:"
    assert [line.split("]")[0].strip() for line in lines[1:]] == [
        "[identifier.pattern",
        "[tags.required",
        "[tags.allowed",
    ]
    assert "Tags.team: required tag is missing (there is 'Team'" in result.stderr
    assert "Traceback" not in result.stderr
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert not (workdir / "rds-guard-audit.jsonl").exists()
    (blocked,) = list(audit.read_records(audit_path))
    assert blocked["event"] == "blocked"
    assert [v["rule"] for v in blocked["violations"]] == [
        "identifier.pattern",
        "tags.required",
        "tags.allowed",
    ]


@pytest.mark.parametrize("service", ["docdb", "neptune"])
def test_docdb_and_neptune_commands_are_guarded(
    moto_server: MotoServer, workdir: Path, service: str
) -> None:
    """A non-compliant DocumentDB or Neptune snapshot is stopped before it is sent."""
    result = aws(
        moto_server, service, "create-db-cluster-snapshot", *BAD_SNAPSHOT_ARGS, cwd=workdir
    )
    assert result.returncode == 255
    assert result.stderr.strip().startswith("rds_guard blocked CreateDBClusterSnapshot:")
    assert "[identifier.pattern] DBClusterSnapshotIdentifier: 'test2'" in result.stderr
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (blocked,) = list(audit.read_records(workdir / "rds-guard-audit.jsonl"))
    assert (blocked["event"], blocked["service"]) == ("blocked", service)


def test_a_young_snapshot_is_not_deleted_through_the_cli(
    moto_server: MotoServer, workdir: Path
) -> None:
    """The CLI's parser leaves timestamps as the service wrote them: the snapshot's
    SnapshotCreateTime, read as text, is judged all the same ([deletion] minimum_age_days =
    7 in the example policy)."""
    rds = moto_server.client("rds")
    make_cluster(rds, tags=CLUSTER_TAGS)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=f"orders-manual-{TODAY}"
    )
    result = aws(
        moto_server,
        "rds",
        "delete-db-cluster-snapshot",
        "--db-cluster-snapshot-identifier",
        f"orders-manual-{TODAY}",
        cwd=workdir,
    )
    assert result.returncode == 255, result.stderr
    assert "[deletion.too_young] DBClusterSnapshotIdentifier" in result.stderr
    assert moto_server.count("DeleteDBClusterSnapshot") == 0


def test_a_documentdb_instance_delete_of_an_rds_instance_keeps_its_backups(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """``aws docdb delete-db-instance`` goes to the rds endpoint and cannot say
    ``DeleteAutomatedBackups=False``: of a PostgreSQL instance it would take the automated
    backups, so under ``automated_backups = "keep"`` it is stopped after one describe,
    exit 255 without a traceback, and the blocked delete recorded."""
    make_instance(moto_server.client("rds"), "billing")
    write_policy(tmp_path, BACKUPS)
    moto_server.reset_counts()
    result = aws(
        moto_server,
        "docdb",
        "delete-db-instance",
        "--db-instance-identifier",
        "billing",
        cwd=tmp_path,
    )
    assert result.returncode == 255, result.stderr
    assert result.stderr.strip().startswith("rds_guard blocked DeleteDBInstance:")
    assert "[deletion.automated_backups]" in result.stderr
    assert "Traceback" not in result.stderr
    assert moto_server.actions() == ["DescribeDBInstances"]
    (blocked,) = list(audit.read_records(tmp_path / "audit.jsonl"))
    assert (blocked["event"], blocked["service"]) == ("blocked", "docdb")
    assert [v["rule"] for v in blocked["violations"]] == ["deletion.automated_backups"]


@pytest.mark.parametrize("identifier", [f"orders-manual-{TODAY}", "@generate"])
def test_an_output_skeleton_is_printed_as_without_the_plugin(
    moto_server: MotoServer, workdir: Path, identifier: str
) -> None:
    """``--generate-cli-skeleton output`` answers the command with a botocore Stubber on the
    CLI's client, and sends nothing: the guard neither reads (the Stubber would refuse its
    read) nor records; the skeleton is the one the CLI prints without the plugin. No guard
    judges it, so ``@generate`` stays as it is (taken out, the name would be missing, and
    botocore's validation would fail the command)."""
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS)
    command = (
        "rds",
        "create-db-cluster-snapshot",
        "--db-cluster-identifier",
        "orders",
        "--db-cluster-snapshot-identifier",
        identifier,
        "--generate-cli-skeleton",
        "output",
    )
    moto_server.reset_counts()
    guarded = aws(moto_server, *command, cwd=workdir)
    bare = aws(moto_server, *command, cwd=workdir, env={"AWS_CONFIG_FILE": os.devnull})
    assert (guarded.returncode, guarded.stderr) == (0, ""), guarded.stderr
    assert guarded.stdout == bare.stdout
    assert "DBClusterSnapshotIdentifier" in guarded.stdout
    assert moto_server.requests() == []
    assert not (workdir / "rds-guard-audit.jsonl").exists()


def test_warn_mode_prints_each_violation_and_sends(moto_server: MotoServer, workdir: Path) -> None:
    """mode = "warn": the violations are WARNING lines on stderr and the snapshot is made."""
    client = moto_server.client("rds")
    make_cluster(client, tags=CLUSTER_TAGS)
    write_policy(workdir, EXAMPLE, mode="warn")
    result = aws(moto_server, "rds", "create-db-cluster-snapshot", *BAD_SNAPSHOT_ARGS, cwd=workdir)
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 3
    assert all(line.startswith("rds CreateDBClusterSnapshot: [") for line in warnings)
    assert all(line.endswith("(mode = warn, not blocked)") for line in warnings)
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert snapshot_tags(client, "test2")["backup-policy"] == "standard-35d"


@pytest.mark.parametrize(
    "command",
    [["sts", "get-caller-identity"], ["s3api", "list-buckets"]],
    ids=["sts", "s3api"],
)
def test_other_services_never_read_the_policy(
    moto_server: MotoServer, tmp_path: Path, command: list[str]
) -> None:
    """A broken ./rds_guard.toml and a $RDS_GUARD_POLICY naming nothing change nothing."""
    write_policy(tmp_path, "this is [not TOML\n")
    for env in ({}, {"RDS_GUARD_POLICY": str(tmp_path / "missing.toml")}):
        result = aws(moto_server, *command, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert isinstance(json.loads(result.stdout), dict)


@pytest.mark.parametrize(
    ("policy_text", "env_policy", "expected"),
    [
        ("version = 1\n[naming\n", None, "rds_guard.toml:2: invalid TOML"),
        ("version = 2\n", None, "rds_guard.toml:1: version: unsupported version 2"),
        (None, "missing.toml", "RDS_GUARD_POLICY names"),
        (None, None, "(set RDS_GUARD_POLICY or create rds_guard.toml; from Python, pass"),
    ],
    ids=["bad-toml", "bad-version", "env-names-nothing", "no-policy"],
)
def test_a_missing_or_broken_policy_is_one_line_on_guarded_commands(
    moto_server: MotoServer,
    tmp_path: Path,
    policy_text: str | None,
    env_policy: str | None,
    expected: str,
) -> None:
    """A guarded command fails with the PolicyError on one line, no traceback, nothing sent;
    describing reads no policy, so it works (the policy is loaded at the first guarded
    operation)."""
    if policy_text is not None:
        write_policy(tmp_path, policy_text)
    env = {} if env_policy is None else {"RDS_GUARD_POLICY": str(tmp_path / env_policy)}
    described = aws(moto_server, "rds", "describe-db-clusters", cwd=tmp_path, env=env)
    assert described.returncode == 0, described.stderr
    moto_server.reset_counts()
    result = aws(
        moto_server,
        "rds",
        "create-db-cluster-snapshot",
        "--db-cluster-identifier",
        "orders",
        "--db-cluster-snapshot-identifier",
        "orders-manual-20261129",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 255
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert moto_server.actions() == []


@pytest.mark.parametrize(
    ("command", "operation"),
    [
        (["modify-db-instance", "--allocated-storage", "30"], "ModifyDBInstance"),
        (["promote-read-replica"], "PromoteReadReplica"),
    ],
    ids=["modify", "promote"],
)
def test_a_call_judged_by_its_retention_alone_reads_no_policy_without_it(
    moto_server: MotoServer, tmp_path: Path, command: list[str], operation: str
) -> None:
    """`modify-db-instance` and `promote-read-replica` are judged only when they carry a
    retention (which may turn the backups off): without one, no policy is read, so a missing
    one changes nothing; with one, the policy is read, and its absence stops the command."""
    plain = [command[0], "--db-instance-identifier", "db1", *command[1:]]
    moto_server.reset_counts()
    result = aws(moto_server, "rds", *plain, cwd=tmp_path)
    assert "rds_guard" not in result.stderr and "policy" not in result.stderr, result.stderr
    assert moto_server.count(operation) == 1  # sent; moto answers that db1 is missing
    moto_server.reset_counts()
    retention = aws(moto_server, "rds", *plain, "--backup-retention-period", "0", cwd=tmp_path)
    assert retention.returncode == 255
    assert "set RDS_GUARD_POLICY or create rds_guard.toml" in retention.stderr
    assert moto_server.actions() == []


def test_the_ledger_is_reached_with_the_profile_given_on_the_command_line(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aws --profile p`, whose credentials are the only ones: the ledger's clients are made
    from the CLI's session, so the `requested` record reaches the ledger and the command goes
    (from a new session they found none, and `required` mode stopped every command)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    table = ledger_table()
    make_cluster(moto_server.client("rds"))
    write_policy(tmp_path, LEDGER, mode="required")
    config = tmp_path / "config"
    config.write_text(EXAMPLE_CONFIG.read_text() + "\n[profile p]\nregion = us-east-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[p]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    result = aws(
        moto_server, "--profile", "p", "rds", "create-db-cluster-snapshot",
        "--db-cluster-identifier", "orders", "--db-cluster-snapshot-identifier",
        f"orders-manual-{TODAY}",
        cwd=tmp_path,
        env={"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
             "AWS_ENDPOINT_URL": moto_server.url},
        without=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    log = tmp_path / "audit.jsonl"
    first = complete_lines(log)[0]
    assert json.loads(first)["event"] == "requested"
    assert stored_lines(table, stream_of(table, log))[0] == first


def test_at_generate_names_the_snapshot_from_the_policys_template(
    moto_server: MotoServer, workdir: Path
) -> None:
    """The CLI makes the identifier mandatory; `@generate` leaves it to `generate`."""
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS, copy_tags=True)
    days = UtcDays()
    result = aws(
        moto_server,
        "rds",
        "create-db-cluster-snapshot",
        "--db-cluster-identifier",
        "orders",
        "--db-cluster-snapshot-identifier",
        "@generate",
        "--query",
        "DBClusterSnapshot.DBClusterSnapshotIdentifier",
        "--output",
        "text",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    name = result.stdout.strip()
    assert name == days.expect(lambda day: f"orders-manual-{day}", name)


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_at_generate_without_a_template_is_refused_before_anything_is_sent(
    moto_server: MotoServer, tmp_path: Path, mode: str
) -> None:
    """A policy with no `generate` for the operation: the command is refused as botocore
    refuses a bad parameter, in either mode, saying why (not botocore's "Missing required
    parameter" for an option the command was given, nor `@generate` sent to AWS as a name by
    a warn-mode policy); nothing is sent and, as for any call botocore refuses, no record."""
    without_generate = "\n".join(
        line for line in EXAMPLE.splitlines() if not line.lstrip().startswith("generate")
    ).replace('mode = "enforce"', f'mode = "{mode}"')
    assert "generate" not in without_generate and f'mode = "{mode}"' in without_generate
    write_policy(tmp_path, without_generate)
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS, copy_tags=True)
    moto_server.reset_counts()
    result = aws(
        moto_server, "rds", "create-db-cluster-snapshot", "--db-cluster-identifier", "orders",
        "--db-cluster-snapshot-identifier", "@generate", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 255, result.stderr
    assert result.stderr.strip().splitlines() == [
        "Parameter validation failed:",
        "DBClusterSnapshotIdentifier: @generate asks for the policy's generate template, and"
        " the policy has none for CreateDBClusterSnapshot: give the identifier",
    ]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert not (tmp_path / "rds-guard-audit.jsonl").exists()


def test_at_generate_is_an_ordinary_identifier_outside_the_cli(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    rds = guarded_client(write_policy(tmp_path, EXAMPLE), on=moto_server)
    make_cluster(rds, tags=CLUSTER_TAGS, copy_tags=True)
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.aws"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="@generate"
        )


def test_inside_the_cli_the_guard_runs_on_the_cli_s_own_botocore() -> None:
    """Imported as the CLI imports it (after awscli), the guard's classes are the CLI's copy."""
    code = (
        "import awscli.clidriver, botocore, botocore.client, botocore.exceptions\n"
        "import rds_guard.awscli, rds_guard.guard.binding as binding, rds_guard.errors as errors\n"
        "print(botocore.__file__)\n"
        "print(binding.BaseClient is botocore.client.BaseClient)\n"
        "print(issubclass(errors.PolicyViolation, botocore.exceptions.ParamValidationError))\n"
    )
    result = run_python(code, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    location, same_client, same_error = result.stdout.split()
    assert Path("awscli", "botocore", "__init__.py").as_posix() in location
    assert (same_client, same_error) == ("True", "True")


def test_the_plugin_imports_nothing_of_the_guard_until_a_guarded_operation(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Every `aws` command imports the plugin: an sts client leaves the guard unimported, rds
    clients and an rds describe bring only `rds_guard.guard.hooks` (and its `wrappers`); the
    first guarded operation brings the guard, which judges it; a client made later is guarded
    by the guard's own hook, with the same handlers as the clients that had stand-ins."""
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS)
    policy = write_policy(tmp_path, EXAMPLE)
    code = (
        "import os, sys, awscli.clidriver, botocore.session\n"
        "import rds_guard.awscli\n"
        f"os.environ.update(RDS_GUARD_POLICY={str(policy)!r},\n"
        f"    RDS_GUARD_AUDIT_PATH={str(tmp_path / 'audit.jsonl')!r},\n"
        "    AWS_ACCESS_KEY_ID='testing', AWS_SECRET_ACCESS_KEY='testing')\n"
        "def loaded(): return sorted(m for m in sys.modules if m.startswith('rds_guard'))\n"
        "def handlers(client):\n"
        "    from rds_guard.guard.hooks import HOOK_ID, STAGES\n"
        "    ids = client.meta.events._emitter._unique_id_handlers\n"
        "    return len([i for i in ids if i.startswith(tuple(f'{HOOK_ID}:{stage}.rds.'\n"
        "        for stage, _ in STAGES))])\n"
        "session = botocore.session.get_session()\n"
        "rds_guard.awscli.awscli_initialize(session.get_component('event_emitter'))\n"
        "session.create_client('sts', region_name='us-east-1')\n"
        "print(loaded())\n"
        "def rds(): return session.create_client('rds', region_name='us-east-1',\n"
        f"    endpoint_url={moto_server.url!r})\n"
        "first, second = rds(), rds()\n"
        "first.describe_db_clusters()\n"
        "print(loaded())\n"
        "def blocked(client):\n"
        "    try:\n"
        "        client.create_db_cluster_snapshot(\n"
        "            DBClusterIdentifier='orders', DBClusterSnapshotIdentifier='Test2')\n"
        "    except rds_guard.PolicyViolation as exc:\n"
        "        return exc.violations[0].rule\n"
        "print(blocked(second), 'rds_guard.guard.guard' in sys.modules)\n"
        "later = rds()\n"
        "print(blocked(later), blocked(first))\n"
        "print(handlers(first), handlers(second), handlers(later))\n"
    )
    result = run_python(code, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    after_sts, after_describe, on_second, on_later_and_first, counts = result.stdout.splitlines()
    assert after_sts == "['rds_guard', 'rds_guard.awscli', 'rds_guard.forks']"
    assert after_describe == (  # the stand-ins, and the folding of names they read with
        "['rds_guard', 'rds_guard.awscli', 'rds_guard.core', 'rds_guard.core.folding',"
        " 'rds_guard.forks', 'rds_guard.guard', 'rds_guard.guard.hooks',"
        " 'rds_guard.guard.wrappers']"
    )
    assert on_second == "identifier.pattern True"
    assert on_later_and_first == "identifier.pattern identifier.pattern"
    guarded_rds = len([row for row in operations.OPERATIONS.values() if "rds" in row.services])
    # the guard's handlers per guarded rds operation, one per stage, on each client, none twice
    assert counts.split() == [str(len(hooks.STAGES) * guarded_rds)] * 3
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert moto_server.count("DescribeDBClusters") >= 1


@pytest.mark.parametrize("backups", ["any", "keep"], ids=["recorded", "blocked"])
def test_a_plain_modify_after_a_presign_past_the_wrapper_is_no_call_of_that_presign(
    moto_server: MotoServer, tmp_path: Path, backups: str
) -> None:
    """A presign of ModifyDBInstance turning backups off, made with botocore's own function on a
    client with the plugin's stand-ins, then a plain modify, which the stand-ins do not hand
    to the guard's first handler: the modify was taken for the presign (the thread's last
    judged call), and recorded under its id (``presigned`` again, ``requested``...). It is
    sent as no guarded call: the presign's record alone is in the log."""
    make_instance(moto_server.client("rds"), "db1")
    audit_path = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, BACKUPS, automated_backups=backups)
    code = (
        "import os, botocore.session, botocore.signers\n"
        "import rds_guard, rds_guard.awscli\n"
        f"os.environ.update(RDS_GUARD_POLICY={str(policy)!r},\n"
        f"    RDS_GUARD_AUDIT_PATH={str(audit_path)!r},\n"
        "    AWS_ACCESS_KEY_ID='testing', AWS_SECRET_ACCESS_KEY='testing')\n"
        "session = botocore.session.get_session()\n"
        "rds_guard.awscli.awscli_initialize(session.get_component('event_emitter'))\n"
        "rds = session.create_client('rds', region_name='us-east-1',\n"
        f"    endpoint_url={moto_server.url!r})\n"
        "params = {'DBInstanceIdentifier': 'db1', 'BackupRetentionPeriod': 0}\n"
        "try:\n"
        "    botocore.signers.generate_presigned_url(rds, 'modify_db_instance', params)\n"
        "except rds_guard.PolicyViolation:\n"
        "    print('blocked')\n"
        "rds.modify_db_instance(DBInstanceIdentifier='db1', DBInstanceClass='db.t3.small')\n"
    )
    moto_server.reset_counts()
    result = run_python(code, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("blocked\n" if backups == "keep" else "")
    assert moto_server.count("ModifyDBInstance") == 1
    (record,) = records_of(audit_path)
    assert record["event"] == ("blocked" if backups == "keep" else "presigned")


def test_the_plugin_names_the_guarded_services_of_the_operations_table() -> None:
    assert rds_guard.awscli.GUARDED_SERVICES == operations.SERVICES


def test_the_names_written_out_for_the_stand_ins_are_the_operations_tables() -> None:
    """The stand-ins place handlers by `hooks.GUARDED` and ``@generate`` by
    `GENERATED_IDENTIFIERS`, so that the CLI builds no table: each must be the table's."""
    assert {
        service: tuple(
            name for name, row in operations.OPERATIONS.items() if service in row.services
        )
        for service in operations.SERVICES
    } == hooks.GUARDED
    assert {
        name: row.identifier
        for name, row in operations.OPERATIONS.items()
        if row.kind in (operations.Kind.CREATE, operations.Kind.COPY) and row.identifier
    } == rds_guard.awscli.GENERATED_IDENTIFIERS
    assert {
        name: row.retention
        for name, row in operations.OPERATIONS.items()
        if row.kind is operations.Kind.RETENTION
    } == hooks.JUDGED_ONLY_WITH


# ---- the seam: install_on_emitter, in-process -------------------------------------------


def test_install_on_emitter_reads_the_policy_at_the_first_guarded_operation(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is read until a guarded operation; a failure there is retried next time."""
    monkeypatch.chdir(tmp_path)
    policy = write_policy(tmp_path, "not [toml\n")
    session = botocore.session.Session()
    guard_of = install_on_emitter(session.get_component("event_emitter"))
    moto_server.client("sts", session=session).get_caller_identity()
    rds = moto_server.client("rds", session=session)
    make_cluster(rds)
    rds.describe_db_clusters()
    with pytest.raises(rds_guard.PolicyError, match="invalid TOML"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x"
        )
    write_policy(tmp_path, EXAMPLE)
    guard = guard_of()
    assert guard.active and Path(guard.policy.source).resolve() == policy
    with pytest.raises(rds_guard.PolicyViolation) as blocked:
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="x"
        )
    assert blocked.value.violations[0].rule == "identifier.pattern"
    assert moto_server.count("CreateDBClusterSnapshot") == 0


ANOTHER_PLUGIN = """\
import os


def awscli_initialize(cli):
    stage = os.environ["STAGE"]

    def turn_the_backups_off(params, model, **_):
        if model.name != "ModifyDBInstance":
            return
        if stage == "before-call":
            params["body"]["BackupRetentionPeriod"] = "0"
        else:
            params["BackupRetentionPeriod"] = 0

    # the service's name alone: its handlers run after the operation's, the stand-in's
    cli.register(stage + ".rds", turn_the_backups_off)
"""


@pytest.mark.parametrize("stage", ["before-parameter-build", "before-call"])
def test_a_retention_another_plugin_adds_to_a_plain_modify_is_judged_as_sent(
    moto_server: MotoServer, workdir: Path, stage: str
) -> None:
    """The stand-ins let a `modify-db-instance` without a retention by, unjudged; another
    plugin's handler that adds `BackupRetentionPeriod=0` to it (to the parameters, after
    the stand-in, or to the body) has the request judged as it is sent: blocked under
    "keep", nothing sent."""
    write_policy(workdir, BACKUPS)
    (workdir / "another_plugin.py").write_text(ANOTHER_PLUGIN)
    config = workdir / "config"
    config.write_text(EXAMPLE_CONFIG.read_text() + "another_plugin = another_plugin\n")
    make_instance(moto_server.client("rds"), "db1")
    moto_server.reset_counts()
    result = aws(
        moto_server,
        "rds",
        "modify-db-instance",
        "--db-instance-identifier",
        "db1",
        "--allocated-storage",
        "30",
        cwd=workdir,
        env={
            "AWS_CONFIG_FILE": str(config),
            "PYTHONPATH": f"{REPO}{os.pathsep}{workdir}",
            "STAGE": stage,
        },
    )
    assert result.returncode == 255, result.stderr
    assert "deletion.automated_backups" in result.stderr
    assert moto_server.count("ModifyDBInstance") == 0


TURNING_PLUGIN = """\
def awscli_initialize(cli):
    def turn(params, model, **_):
        if model.name in ("DescribeDBClusters", "ModifyDBInstance"):
            params["body"] = {
                "Action": "DeleteDBClusterSnapshot",
                "Version": "2014-10-31",
                "DBClusterSnapshotIdentifier": "held",
            }

    cli.register("before-call.rds", turn)
"""


@pytest.mark.parametrize(
    "command",
    [
        ["describe-db-clusters"],
        ["modify-db-instance", "--db-instance-identifier", "db1", "--allocated-storage", "30"],
    ],
    ids=["describe", "plain-modify"],
)
def test_a_call_another_plugin_makes_into_a_delete_is_judged_as_sent(
    moto_server: MotoServer, workdir: Path, command: list[str]
) -> None:
    """Another plugin's handler makes `describe-db-clusters`, or a `modify-db-instance`
    without a retention (neither loads a policy), the delete of a snapshot on hold: the
    stand-ins hand the request to the guard, which judges it as sent, and blocks it; nothing
    deleted."""
    write_policy(workdir, HOLD_ONLY)
    (workdir / "turning_plugin.py").write_text(TURNING_PLUGIN)
    config = workdir / "config"
    config.write_text(EXAMPLE_CONFIG.read_text() + "turning_plugin = turning_plugin\n")
    plain = held_snapshot(moto_server)
    make_instance(plain, "db1")
    moto_server.reset_counts()
    result = aws(
        moto_server,
        "rds",
        *command,
        cwd=workdir,
        env={"AWS_CONFIG_FILE": str(config), "PYTHONPATH": f"{REPO}{os.pathsep}{workdir}"},
    )
    assert result.returncode == 255, result.stderr
    assert "request.changed" in result.stderr or "deletion.hold" in result.stderr
    assert moto_server.count("DeleteDBClusterSnapshot") == 0


def test_install_on_emitter_again_nests_and_uninstall_reaches_existing_clients(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A second install on the emitter takes over the first one's clients; uninstalling it
    brings the first back, and uninstalling that one frees them."""
    strict = write_policy(tmp_path, EXAMPLE, name="strict.toml")
    lenient = write_policy(
        tmp_path,
        'version = 1\n[naming]\npattern = "^x-.*$"\n[audit]\nenabled = false\n',
        name="lenient.toml",
    )
    session = botocore.session.Session()
    events = session.get_component("event_emitter")
    first = install_on_emitter(events, strict)
    rds = moto_server.client("rds", session=session)
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS)
    second = install_on_emitter(events, lenient)
    assert not first().active
    assert moto_server.client("rds", session=session) is not None
    assert second().active and second().policy.source == str(lenient)
    with pytest.raises(rds_guard.PolicyViolation, match=r"\[identifier\.pattern\]"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=f"orders-daily-{TODAY}"
        )
    second().uninstall()
    assert first().active
    with pytest.raises(rds_guard.PolicyViolation, match=r"'y' does not match"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="y"
        )
    first().uninstall()
    rds.create_db_cluster_snapshot(DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="y")
    assert moto_server.count("CreateDBClusterSnapshot") == 1


def test_the_plugin_s_stand_ins_judge_a_presigned_url_as_the_guard_does(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client made before any guarded operation presigns through its stand-ins: the guard is
    loaded then, a bad presign is refused before a URL exists, a good one is recorded
    `presigned` with its expiry and carries the policy's tags."""
    monkeypatch.setenv("RDS_GUARD_POLICY", str(write_policy(tmp_path, RULE_OF_EACH_KIND)))
    session = botocore.session.Session()
    rds_guard.awscli.awscli_initialize(session.get_component("event_emitter"))
    rds = moto_server.client("rds", session=session)
    make_cluster(moto_server.client("rds"))
    params = {
        "DBClusterIdentifier": "orders",
        "DBClusterSnapshotIdentifier": f"orders-manual-{TODAY}",
        "Tags": [{"Key": "team", "Value": "orders"}],
    }
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.pattern"):
        rds.generate_presigned_url(
            "create_db_cluster_snapshot",
            Params={**params, "DBClusterSnapshotIdentifier": "Test2"},
        )
    url = rds.generate_presigned_url("create_db_cluster_snapshot", Params=params, ExpiresIn=60)
    assert "managed-by" in urllib.parse.unquote(url)
    records = records_of(tmp_path / "audit.jsonl")
    assert [r["event"] for r in records] == ["blocked", "presigned"]
    assert records[1]["expires"] is not None  # the wrapper hands the guard the expiry
    assert moto_server.count("CreateDBClusterSnapshot") == 0


def test_handlers_under_the_ids_the_plugin_once_used_do_not_keep_it_off(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another plugin registering first under ``rds_guard:awscli:<event>``, the ids the
    plugin's handlers had: botocore skips a handler whose id is taken, and no rds client got
    the stand-ins. The ids now hold a random part."""
    monkeypatch.setenv("RDS_GUARD_POLICY", str(write_policy(tmp_path, RULE_OF_EACH_KIND)))
    session = botocore.session.Session()
    emitter = session.get_component("event_emitter")
    for event in ("creating-client-class.rds", "calling-command", "session-initialized"):
        emitter.register(
            event.replace("calling-command", "calling-command.*"),
            lambda **_: None,
            unique_id=f"rds_guard:awscli:{event}",
        )
    rds_guard.awscli.awscli_initialize(emitter)
    rds = moto_server.client("rds", session=session)
    make_cluster(moto_server.client("rds"))
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation, match=r"identifier\.pattern"):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="Test2"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0

"""``rds-guard check`` and ``rds-guard eval``: output, JSON shape, exit codes,
parameter typing, errors as one line; ``--help`` on every command through the real script."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_helpers import REPO, Run, assert_one_error_line, run_main, run_script, script_env

import rds_guard
from rds_guard import PolicyError

FULL_POLICY = """\
version = 1
mode = "enforce"
services = ["rds", "neptune"]

[naming]
pattern = "^{source}-(daily|manual)-[0-9]{8}$"
generate = "{source}-manual-{utcnow:%Y%m%d}"

[naming.operations.CopyDBClusterSnapshot]
pattern = "^dr-{source}$"
generate = "dr-{source}"

[tags]
required = ["team", "env"]
inherit = "always"

[tags.defaults]
managed-by = "rds-guard"
owner = "{env:APP_OWNER}"
where = "{region}"

[tags.forced]
compliance = "pci"

[tags.allowed]
env = ["prod", "staging", "dev"]
cost-center = ["CC-*"]

[tags.patterns]
owner = "^[a-z.]+@example\\\\.com$"

[sharing]
public = false
accounts = ["111122223333"]

[audit]
path = "logs/audit.jsonl"
fsync = false
hmac_key_env = "RDS_GUARD_AUDIT_KEY"
"""

# The policy eval runs against: small, so each test shows one rule at work.
EVAL_POLICY = """\
version = 1
mode = "{mode}"
services = ["rds", "docdb"]

[naming]
pattern = "^{{source}}-(daily|manual)-[0-9]{{8}}$"
generate = "{{source}}-manual-{{utcnow:%Y%m%d}}"

[tags]
required = ["team"]

[tags.defaults]
managed-by = "rds-guard"
where = "{{region}}"

[tags.forced]
compliance = "pci"

[tags.allowed]
env = ["prod", "dev"]

[sharing]
accounts = ["111122223333"]
"""

GOOD = "orders-manual-20261129"
SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{GOOD}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write(tmp_path / "policy" / "rds_guard.toml", EVAL_POLICY.format(mode="enforce"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    return run_main(capsys, *args)


def eval_json(capsys: pytest.CaptureFixture[str], policy: Path, *args: str) -> tuple[int, dict]:
    result = run(capsys, "eval", "--policy", str(policy), *args, "--json")
    assert result.err == ""
    document = result.json()
    assert list(document) == ["allowed", "params", "violations", "injected", "inherited"]
    return result.code, document


def rules_of(document: dict) -> list[str]:
    return [v["rule"] for v in document["violations"]]


# --- check ----------------------------------------------------------------------------------


def test_check_summarises_every_section(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "rds_guard.toml", FULL_POLICY)
    monkeypatch.delenv("APP_OWNER", raising=False)
    result = run(capsys, "check", str(path))
    assert (result.code, result.err) == (0, "")
    sha = rds_guard.load_policy(path).sha256
    assert result.out.splitlines() == [
        f"ok: {path} is a valid policy (version 1, sha256 {sha[:12]})",
        "mode: enforce (a call that breaks a rule is blocked and never sent)",
        "services: neptune, rds",
        "naming:",
        "  pattern: ^{source}-(daily|manual)-[0-9]{8}$  (full match, identifier lowercased)",
        "  generate: {source}-manual-{utcnow:%Y%m%d}  (when a call names none)",
        "  CopyDBClusterSnapshot: pattern ^dr-{source}$; generate dr-{source}",
        "tags:",
        "  required: team, env",
        '  inherit: "always" (the source\'s tags, when it passes them on, even when the call'
        " sends Tags)",
        "  defaults (set when absent):",
        "    managed-by = rds-guard",
        "    owner = {env:APP_OWNER}",
        "    where = {region}",
        "  forced (always set):",
        "    compliance = pci",
        "  allowed:",
        "    env: prod | staging | dev",
        "    cost-center: CC-*",
        "  patterns:",
        "    owner: ^[a-z.]+@example\\.com$",
        "sharing:",
        '  public: blocked (sharing with "all" is sharing.public)',
        "  accounts: 111122223333",
        "audit:",
        f"  path: {tmp_path / 'logs' / 'audit.jsonl'}",
        "  fsync: false",
        "  hmac: HMAC-SHA256, key in $RDS_GUARD_AUDIT_KEY (NOT SET here: install would fail)",
        "environment:",
        "  APP_OWNER: not set here (template.env at call time)",
    ]


def test_check_says_which_variables_are_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "rds_guard.toml", FULL_POLICY)
    monkeypatch.setenv("APP_OWNER", "ops@example.com")
    monkeypatch.setenv("RDS_GUARD_AUDIT_KEY", "k3y")
    result = run(capsys, "check", str(path))
    assert result.code == 0
    assert "  hmac: HMAC-SHA256, key in $RDS_GUARD_AUDIT_KEY (set)\n" in result.out
    assert "  APP_OWNER: set\n" in result.out
    assert "k3y" not in result.out


def test_check_minimal_policy_shows_the_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path / "p.toml", 'version = 1\nmode = "warn"\n[audit]\nenabled = false\n')
    result = run(capsys, "check", str(path))
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[1] == "mode: warn (violations are logged and audited, and the call is sent anyway)"
    assert lines[2] == "services: docdb, neptune, rds"
    for expected in (
        "  pattern: none (any identifier AWS accepts)",
        "  generate: none (a create or copy must name its snapshot)",
        "  required: none",
        "  inherit: true (the source's tags, when it passes them on and the call sends no Tags)",
        "  defaults (set when absent): none",
        "  forced (always set): none",
        "  allowed: none",
        "  patterns: none",
        "  accounts: any account",
        "audit: off (enabled = false: nothing is written)",
    ):
        assert expected in lines
    assert not any(line.startswith("environment") for line in lines)


def test_check_the_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    example = REPO / "examples" / "rds_guard.toml"
    result = run(capsys, "check", str(example))
    assert result.code == 0, result.err
    assert result.out.startswith(f"ok: {example} is a valid policy (version 1, sha256 ")
    assert "    backup-policy = standard-35d\n" in result.out


def test_check_finds_the_policy_as_install_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$RDS_GUARD_POLICY first, then ./rds_guard.toml; neither: one line, exit 2."""
    monkeypatch.chdir(tmp_path)
    assert_one_error_line(run(capsys, "check"), "no policy", "RDS_GUARD_POLICY", "rds_guard.toml")
    write(tmp_path / "rds_guard.toml", "version = 1\n")
    assert run(capsys, "check").out.startswith("ok: rds_guard.toml is a valid policy")
    named = write(tmp_path / "elsewhere.toml", 'version = 1\nmode = "warn"\n')
    monkeypatch.setenv("RDS_GUARD_POLICY", str(named))
    result = run(capsys, "check")
    assert result.out.startswith(f"ok: {named} is a valid policy")
    assert "mode: warn" in result.out
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path / "missing.toml"))
    assert_one_error_line(run(capsys, "check"), "RDS_GUARD_POLICY", "missing.toml")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('version = 1\nmode = "block"\n', ":2: mode: "),
        (
            "version = 1\n[tags]\nrequird = ['team']\n",
            ":3: tags.requird: unknown key (did you mean",
        ),
        ("version = 2\n", ":1: version: unsupported version 2"),
        ("version = 1\n[naming\n", ":2: invalid TOML"),
        ('version = 1\n[naming]\npattern = "("\n', ":3: naming.pattern: not a valid regex"),
    ],
)
def test_check_bad_policy_is_the_policy_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, where: str
) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(PolicyError) as caught:
        rds_guard.load_policy(path)
    result = run(capsys, "check", str(path))
    line = assert_one_error_line(result, f"{path}{where}")
    assert line == f"rds-guard: error: {caught.value}"


def test_check_unreadable_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_one_error_line(run(capsys, "check", str(tmp_path / "nope.toml")), "nope.toml")
    assert_one_error_line(run(capsys, "check", str(tmp_path)), "is a directory")


# --- eval: verdicts and output --------------------------------------------------------------


def test_eval_blocked_human(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    result = run(
        capsys,
        "eval",
        "--policy",
        str(policy),
        "--region",
        "eu-west-1",
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        "DBClusterSnapshotIdentifier=Test2",
        "--tag",
        "env=qa",
    )
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines() == [
        "blocked: rds CreateDBClusterSnapshot breaks 3 rules; in enforce mode it would not be sent",
        "  [identifier.pattern] DBClusterSnapshotIdentifier: 'test2' does not match the naming"
        " pattern ^orders-(daily|manual)-[0-9]{8}$",
        "  [tags.required] Tags.team: required tag is missing",
        "  [tags.allowed] Tags.env: value must be one of: prod, dev",
        "params:",
        "  DBClusterIdentifier = orders",
        "  DBClusterSnapshotIdentifier = Test2",
        "  Tags:",
        "    env = qa",
        "    managed-by = rds-guard  (injected)",
        "    where = eu-west-1  (injected)",
        "    compliance = pci  (injected)",
        "injected: managed-by, where, compliance",
        "inherited: none",
    ]


def test_eval_blocked_json(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    code, document = eval_json(
        capsys,
        policy,
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        "DBClusterSnapshotIdentifier=test2",
        "--tag",
        "team=core",
    )
    assert code == 1
    assert document["allowed"] is False
    assert document["violations"] == [
        {
            "rule": "identifier.pattern",
            "field": "DBClusterSnapshotIdentifier",
            "value": "test2",
            "message": "'test2' does not match the naming pattern ^orders-(daily|manual)-[0-9]{8}$",
        }
    ]
    assert document["params"]["DBClusterSnapshotIdentifier"] == "test2"


def test_eval_allowed_human_and_json(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    args = (
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--tag",
        "team=core",
        "--tag",
        "env=prod",
        "--region",
        "us-west-2",
    )
    human = run(capsys, "eval", "--policy", str(policy), *args)
    assert (human.code, human.err) == (0, "")
    assert human.out.splitlines()[0] == (
        "allowed: rds CreateDBClusterSnapshot would be sent with the params below"
    )
    assert "    team = core\n" in human.out and "    compliance = pci  (injected)\n" in human.out
    code, document = eval_json(capsys, policy, *args)
    assert code == 0
    assert document == {
        "allowed": True,
        "params": {
            "DBClusterIdentifier": "orders",
            "DBClusterSnapshotIdentifier": GOOD,
            "Tags": [
                {"Key": "team", "Value": "core"},
                {"Key": "env", "Value": "prod"},
                {"Key": "managed-by", "Value": "rds-guard"},
                {"Key": "where", "Value": "us-west-2"},
                {"Key": "compliance", "Value": "pci"},
            ],
        },
        "violations": [],
        "injected": ["managed-by", "where", "compliance"],
        "inherited": [],
    }


def test_eval_region_defaults_to_the_configured_one(
    capsys: pytest.CaptureFixture[str], policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    _, document = eval_json(
        capsys, policy, "CreateDBClusterSnapshot", "--param", "DBClusterIdentifier=o"
    )
    assert {"Key": "where", "Value": "ap-south-1"} in document["params"]["Tags"]


def test_eval_generates_a_missing_identifier(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    before = datetime.now(UTC).strftime("%Y%m%d")
    code, document = eval_json(
        capsys,
        policy,
        "create-db-cluster-snapshot",
        "--param",
        "DBClusterIdentifier=Orders",
        "--tag",
        "team=core",
    )
    after = datetime.now(UTC).strftime("%Y%m%d")
    assert code == 0
    generated = document["params"]["DBClusterSnapshotIdentifier"]
    assert generated in (f"orders-manual-{before}", f"orders-manual-{after}")


def test_eval_warn_mode_reports_but_would_send(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    warn = write(tmp_path / "warn.toml", EVAL_POLICY.format(mode="warn"))
    result = run(
        capsys,
        "eval",
        "--policy",
        str(warn),
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
    )
    assert result.code == 1
    assert result.out.splitlines()[:2] == [
        "not allowed: rds CreateDBClusterSnapshot breaks 1 rule; in warn mode it would be logged"
        " and sent anyway",
        "  [tags.required] Tags.team: required tag is missing",
    ]


def test_eval_service_outside_the_policy_is_not_judged(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    args = ("--service", "neptune", "CreateDBClusterSnapshot", "--param", "DBClusterIdentifier=o")
    result = run(capsys, "eval", "--policy", str(policy), *args, "--param", "Foo=1")
    assert_one_error_line(result, "CreateDBClusterSnapshot has no parameter Foo")
    result = run(
        capsys, "eval", "--policy", str(policy), *args, "--param", "DBClusterSnapshotIdentifier=x"
    )
    assert result.code == 0
    assert result.out.splitlines()[0] == (
        "allowed: neptune CreateDBClusterSnapshot is not judged (the policy covers docdb, rds,"
        " not neptune); it would be sent as is"
    )
    assert "  DBClusterSnapshotIdentifier = x\n" in result.out


def test_eval_docdb_operation(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    code, document = eval_json(
        capsys,
        policy,
        "--service",
        "docdb",
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=docs",
        "--param",
        "DBClusterSnapshotIdentifier=docs-daily-20261129",
        "--tag",
        "team=core",
    )
    assert code == 0 and document["injected"] == ["managed-by", "where", "compliance"]


# --- eval: typed parameters -----------------------------------------------------------------


def test_eval_delete_with_a_final_snapshot(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    base = ("DeleteDBCluster", "--param", "DBClusterIdentifier=orders")
    code, document = eval_json(capsys, policy, *base, "--param", "FinalDBSnapshotIdentifier=last")
    assert code == 1
    assert rules_of(document) == ["identifier.pattern"]
    assert document["violations"][0]["field"] == "FinalDBSnapshotIdentifier"
    code, document = eval_json(
        capsys, policy, *base, "--param", "FinalDBSnapshotIdentifier=orders-daily-20261129"
    )
    assert (code, document["allowed"], document["injected"]) == (0, True, [])


def test_eval_boolean_parameter_becomes_a_bool(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    base = ("DeleteDBCluster", "--param", "DBClusterIdentifier=orders")
    code, document = eval_json(capsys, policy, *base, "--param", "SkipFinalSnapshot=TRUE")
    assert code == 0
    assert document["params"] == {"DBClusterIdentifier": "orders", "SkipFinalSnapshot": True}
    result = run(capsys, "eval", "--policy", str(policy), *base, "--param", "SkipFinalSnapshot=1")
    assert result.out.splitlines()[0] == (
        "allowed: rds DeleteDBCluster is not judged (no FinalDBSnapshotIdentifier, so no final"
        " snapshot is made); it would be sent as is"
    )
    assert "  SkipFinalSnapshot = true\n" in result.out


@pytest.mark.parametrize(("copy_tags", "inherited"), [("true", ["team"]), ("false", [])])
def test_eval_copy_tags_decides_inheritance(
    capsys: pytest.CaptureFixture[str], policy: Path, copy_tags: str, inherited: list[str]
) -> None:
    """CopyTags=true passes the source's tags on; the string "false" must not count as true."""
    code, document = eval_json(
        capsys,
        policy,
        "CopyDBClusterSnapshot",
        "--param",
        f"SourceDBClusterSnapshotIdentifier={SNAPSHOT_ARN}",
        "--param",
        "TargetDBClusterSnapshotIdentifier=orders-manual-20261129-daily-20261130",
        "--param",
        f"CopyTags={copy_tags}",
        "--source-tag",
        "team=core",
    )
    assert document["params"]["CopyTags"] is (copy_tags == "true")
    assert document["inherited"] == inherited
    assert (code, rules_of(document)) == ((0, []) if inherited else (1, ["tags.required"]))


def test_eval_list_parameter_from_repeated_param(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    base = (
        "ModifyDBClusterSnapshotAttribute",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--param",
        "AttributeName=restore",
    )
    code, document = eval_json(
        capsys, policy, *base, "--param", "ValuesToAdd=all", "--param", "ValuesToAdd=444455556666"
    )
    assert code == 1
    assert document["params"]["ValuesToAdd"] == ["all", "444455556666"]
    assert [(v["rule"], v["value"]) for v in document["violations"]] == [
        ("sharing.public", "all"),
        ("sharing.account", "444455556666"),
    ]
    code, document = eval_json(capsys, policy, *base, "--param", "ValuesToAdd=111122223333")
    assert (code, document["params"]["ValuesToAdd"]) == (0, ["111122223333"])
    code, document = eval_json(capsys, policy, *base, "--param", "ValuesToRemove=all")
    assert (code, document["params"]["ValuesToRemove"]) == (0, ["all"])


def test_eval_blocked_public_share_human(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    result = run(
        capsys,
        "eval",
        "--policy",
        str(policy),
        "modify_db_cluster_snapshot_attribute",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--param",
        "AttributeName=restore",
        "--param",
        "ValuesToAdd=all",
    )
    assert result.code == 1
    assert result.out.splitlines() == [
        "blocked: rds ModifyDBClusterSnapshotAttribute breaks 1 rule; in enforce mode it would"
        " not be sent",
        "  [sharing.public] ValuesToAdd: making a snapshot public is not allowed ([sharing]"
        " public = false)",
        "params:",
        f"  DBClusterSnapshotIdentifier = {GOOD}",
        "  AttributeName = restore",
        "  ValuesToAdd = all",
        "injected: none",
        "inherited: none",
    ]


def test_eval_tag_keys_list(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    code, document = eval_json(
        capsys,
        policy,
        "RemoveTagsFromResource",
        "--param",
        f"ResourceName={SNAPSHOT_ARN}",
        "--param",
        "TagKeys=team",
        "--param",
        "TagKeys=scratch",
    )
    assert code == 1
    assert document["params"]["TagKeys"] == ["team", "scratch"]
    assert [(v["rule"], v["field"]) for v in document["violations"]] == [
        ("tags.protected", "TagKeys.team")
    ]


def test_eval_add_tags_checks_forced_values(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    code, document = eval_json(
        capsys,
        policy,
        "AddTagsToResource",
        "--param",
        f"ResourceName={SNAPSHOT_ARN}",
        "--tag",
        "compliance=none",
        "--tag",
        "env=prod",
    )
    assert code == 1 and rules_of(document) == ["tags.forced"]
    assert document["params"]["Tags"] == [
        {"Key": "compliance", "Value": "none"},
        {"Key": "env", "Value": "prod"},
    ]


# --- eval: the source's tags ----------------------------------------------------------------


def test_eval_source_tags_are_inherited(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    result = run(
        capsys,
        "eval",
        "--policy",
        str(policy),
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--source-tag",
        "team=core",
        "--source-tag",
        "aws:cloudformation:stack-name=x",
        "--region",
        "us-east-1",
    )
    assert result.code == 0
    assert result.out.splitlines()[4:] == [
        "  Tags:",
        "    team = core  (inherited)",
        "    managed-by = rds-guard  (injected)",
        "    where = us-east-1  (injected)",
        "    compliance = pci  (injected)",
        "injected: managed-by, where, compliance",
        "inherited: team",
    ]


def test_eval_source_unreadable_gives_tags_inherit(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    code, document = eval_json(
        capsys,
        policy,
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--source-unreadable",
    )
    assert code == 1
    assert rules_of(document) == ["tags.inherit"]
    assert document["violations"][0]["field"] == "DBClusterIdentifier"
    assert "Tags" not in document["params"]
    # Tags sent explicitly: AWS copies nothing, so nothing needs reading.
    code, document = eval_json(
        capsys,
        policy,
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--tag",
        "team=core",
        "--source-unreadable",
    )
    assert (code, rules_of(document)) == (0, [])


# --- eval: errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["DescribeDBClusters"], ["DescribeDBClusters is not an operation rds_guard guards"]),
        (["--service", "docdb", "CreateDBSnapshot"], ["CreateDBSnapshot is not a docdb operation"]),
        (
            ["CreateDBClusterSnapshot", "--param", "DBClusterIdentifer=o"],
            ["no parameter DBClusterIdentifer", "did you mean DBClusterIdentifier?"],
        ),
        (["CreateDBClusterSnapshot", "--param", "Tags=a"], ["--tag KEY=VALUE"]),
        (["DeleteDBCluster", "--param", "SkipFinalSnapshot=maybe"], ["expected true or false"]),
        (
            [
                "DeleteDBCluster",
                "--param",
                "DBClusterIdentifier=a",
                "--param",
                "DBClusterIdentifier=b",
            ],
            ["DBClusterIdentifier given twice"],
        ),
        (["DeleteDBCluster", "--tag", "a=b"], ["DeleteDBCluster takes no Tags"]),
        (["CreateDBClusterSnapshot", "--param", "novalue"], ["expected NAME=VALUE", "novalue"]),
        (["CreateDBClusterSnapshot", "--tag", "=v"], ["expected KEY=VALUE"]),
        (
            ["CreateDBClusterSnapshot", "--source-tag", "a=b", "--source-unreadable"],
            ["not allowed with"],
        ),
        (["--service", "s3", "CreateDBClusterSnapshot"], ["--service"]),
        ([], ["OPERATION"]),
    ],
)
def test_eval_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], policy: Path, args: list[str], fragments: list[str]
) -> None:
    assert_one_error_line(run(capsys, "eval", "--policy", str(policy), *args), *fragments)


def test_eval_without_a_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_error_line(run(capsys, "eval", "CreateDBClusterSnapshot"), "no policy", "--policy")
    bad = write(tmp_path / "bad.toml", "version = 1\nmoed = 1\n")
    assert_one_error_line(
        run(capsys, "eval", "--policy", str(bad), "CreateDBClusterSnapshot"),
        f"{bad}:2: moed: unknown key",
    )


# --- the real console script ----------------------------------------------------------------

HELP_COMMANDS = [
    [],
    ["check"],
    ["eval"],
    ["reconcile"],
    ["audit"],
    ["audit", "verify"],
    ["audit", "show"],
    ["audit", "rotate"],
    ["audit", "repair"],
]


@pytest.mark.parametrize("words", HELP_COMMANDS, ids=lambda w: " ".join(w) or "rds-guard")
def test_help_explains_every_command_with_an_example(tmp_path: Path, words: list[str]) -> None:
    result = run_script(*words, "--help", env=script_env(tmp_path))
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith(f"usage: rds-guard {' '.join(words)}".rstrip())
    _, _, examples = result.out.partition("example")
    assert f"rds-guard {' '.join(words)}".rstrip() in examples


def test_real_script_eval_and_check(tmp_path: Path) -> None:
    env = script_env(tmp_path)
    policy = write(tmp_path / "rds_guard.toml", EVAL_POLICY.format(mode="enforce"))
    blocked = run_script(
        "eval",
        "--policy",
        str(policy),
        "ModifyDBClusterSnapshotAttribute",
        "--param",
        f"DBClusterSnapshotIdentifier={GOOD}",
        "--param",
        "AttributeName=restore",
        "--param",
        "ValuesToAdd=all",
        "--param",
        "ValuesToAdd=444455556666",
        "--json",
        env=env,
    )
    assert (blocked.code, blocked.err) == (1, "")
    assert blocked.json()["params"]["ValuesToAdd"] == ["all", "444455556666"]
    allowed = run_script(
        "eval",
        "DeleteDBCluster",
        "--param",
        "DBClusterIdentifier=orders",
        "--param",
        "FinalDBSnapshotIdentifier=orders-manual-20261129",
        env=env,
        cwd=tmp_path,  # found as ./rds_guard.toml
    )
    assert allowed.code == 0 and allowed.out.startswith("allowed: rds DeleteDBCluster")
    assert_one_error_line(
        run_script("eval", "--policy", str(policy), "DescribeDBClusters", env=env),
        "not an operation rds_guard guards",
    )
    checked = run_script("check", env={**env, "RDS_GUARD_POLICY": str(policy)})
    assert checked.code == 0 and checked.out.startswith(f"ok: {policy} is a valid policy")
    bad = write(tmp_path / "bad.toml", 'version = 1\n[sharing]\naccounts = ["12"]\n')
    assert_one_error_line(
        run_script("check", str(bad), env=env), f"{bad}:3: sharing.accounts[0]: '12' is not"
    )


def test_json_output_is_one_document(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    """--json prints exactly one JSON document and nothing else on stdout."""
    result = run(capsys, "eval", "--policy", str(policy), "DeleteDBSnapshot", "--json")
    assert result.code == 0
    assert json.loads(result.out)["params"] == {}

"""``rds-guard eval``: verdicts and output, the JSON shape, exit codes, parameter typing, the
source's tags, and errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import (
    assert_one_error_line,
    eval_json,
    rules_of,
    run_eval,
    run_main,
    services_warning,
)
from clock import UtcDays
from policies import write_policy

# The policy eval runs against: small, so each test shows one rule at work. It lists no
# services: every service is judged whatever it lists, and a list leaving one out is a warning.
EVAL_POLICY = """\
version = 1
mode = "{mode}"

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
CREATE = (
    "CreateDBClusterSnapshot",
    "--param",
    "DBClusterIdentifier=orders",
    "--param",
    f"DBClusterSnapshotIdentifier={GOOD}",
)
"""A create of a cluster snapshot whose name the policy's pattern accepts."""
COPY = (
    "CopyDBClusterSnapshot",
    "--param",
    f"SourceDBClusterSnapshotIdentifier={SNAPSHOT_ARN}",
    "--param",
    "TargetDBClusterSnapshotIdentifier=orders-manual-20261129-daily-20261130",
)
"""A copy of a cluster snapshot, to a name the policy's pattern accepts."""
COPY_WITH_TAGS = (*COPY, "--param", "CopyTags=true")
SHARE = (
    "ModifyDBClusterSnapshotAttribute",
    "--param",
    f"DBClusterSnapshotIdentifier={GOOD}",
    "--param",
    "AttributeName=restore",
)
"""A change of who may restore that snapshot (the values to add or remove follow)."""
"""A copy that passes the source's tags on (the policy requires ``team``)."""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path / "policy", EVAL_POLICY.format(mode="enforce"))


# --- eval: verdicts and output --------------------------------------------------------------


def test_eval_blocked_human(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    result = run_eval(
        capsys,
        policy,
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
        "record: blocked, with its violations",
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
        *CREATE,
        "--tag",
        "team=core",
        "--tag",
        "env=prod",
        "--region",
        "us-west-2",
    )
    human = run_eval(capsys, policy, *args)
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
        capsys,
        policy,
        "CreateDBClusterSnapshot",
        "--param",
        "DBClusterIdentifier=o",
        "--tag",
        "team=core",
    )
    assert {"Key": "where", "Value": "ap-south-1"} in document["params"]["Tags"]


@pytest.mark.parametrize("region", ["us-east-1 ", "us-east-1\n", "\udcff"])
def test_eval_refuses_a_configured_region_that_is_no_regions_name(
    capsys: pytest.CaptureFixture[str],
    policy: Path,
    monkeypatch: pytest.MonkeyPatch,
    region: str,
) -> None:
    """``--region`` is held to a region's name, and botocore makes no client in one that is
    not: from the environment, eval rendered it into ``{region}`` and gave a verdict no
    guarded call gets. Bad usage (exit 2), as ``--region`` holding it is."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    words = ["eval", "--policy", str(policy), "CreateDBClusterSnapshot"]
    assert_one_error_line(
        run_main(capsys, *words, "--param", "DBClusterIdentifier=o", "--tag", "team=core"),
        "the configured region (AWS_DEFAULT_REGION or the profile's): not a region's name",
        "pass --region R",
    )


def test_eval_without_a_region_for_the_policys_region_says_so(
    capsys: pytest.CaptureFixture[str],
    policy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No region anywhere and a policy whose templates use `{region}`: it rendered empty, an
    empty tag value injected without a word. A usage error saying to pass --region (exit 2);
    a policy without `{region}` needs none."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    words = ["eval", "--policy", str(policy), "CreateDBClusterSnapshot"]
    assert_one_error_line(
        run_main(capsys, *words, "--param", "DBClusterIdentifier=o"),
        "the policy's templates use {region}, and no region is configured: pass --region R",
    )
    plain = write_policy(tmp_path, "version = 1\n[audit]\nenabled = false\n", name="plain.toml")
    words[2] = str(plain)
    assert run_main(capsys, *words, "--param", "DBClusterSnapshotIdentifier=o-1").code == 0


def test_eval_generates_a_missing_identifier(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    days = UtcDays()
    code, document = eval_json(
        capsys,
        policy,
        "create-db-cluster-snapshot",
        "--param",
        "DBClusterIdentifier=Orders",
        "--tag",
        "team=core",
    )
    assert code == 0
    generated = document["params"]["DBClusterSnapshotIdentifier"]
    assert generated == days.expect(lambda day: f"orders-manual-{day}", generated)


def test_eval_warn_mode_reports_but_would_send(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    warn = write_policy(tmp_path, EVAL_POLICY.format(mode="warn"), name="warn.toml")
    result = run_eval(capsys, warn, *CREATE)
    assert result.code == 1
    assert result.out.splitlines()[:2] == [
        "not allowed: rds CreateDBClusterSnapshot breaks 1 rule; in warn mode it would be logged"
        " and sent anyway",
        "  [tags.required] Tags.team: required tag is missing",
    ]


def test_eval_judges_a_service_the_policy_leaves_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """services no longer narrows what is judged (DESIGN §3): a neptune call under a policy
    listing rds and docdb is judged like any other, and the policy loads with a warning."""
    text = EVAL_POLICY.format(mode="enforce").replace(
        "\n\n", '\nservices = ["rds", "docdb"]\n\n', 1
    )
    policy = write_policy(tmp_path, text)
    args = ("--service", "neptune", "CreateDBClusterSnapshot", "--param", "DBClusterIdentifier=o")
    result = run_eval(capsys, policy, *args, "--param", "Foo=1")
    warning, error = result.err.splitlines(keepends=True)
    assert (result.code, warning) == (2, services_warning(policy, "neptune", line=3))
    assert error.startswith("rds-guard: error: CreateDBClusterSnapshot has no parameter Foo")
    result = run_eval(capsys, policy, *args, "--param", "DBClusterSnapshotIdentifier=x")
    assert (result.code, result.err) == (1, services_warning(policy, "neptune", line=3))
    assert result.out.splitlines()[:3] == [
        "blocked: neptune CreateDBClusterSnapshot breaks 2 rules; in enforce mode it would not"
        " be sent",
        "  [identifier.pattern] DBClusterSnapshotIdentifier: 'x' does not match the naming"
        " pattern ^o-(daily|manual)-[0-9]{8}$",
        "  [tags.required] Tags.team: required tag is missing",
    ]


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
    result = run_eval(capsys, policy, *base, "--param", "SkipFinalSnapshot=1")
    # a delete without a final snapshot is judged and recorded now (by [deletion], which this
    # policy leaves at its defaults), no longer "not judged"
    assert result.out.splitlines()[0] == (
        "allowed: rds DeleteDBCluster would be sent with the params below"
    )
    assert "  SkipFinalSnapshot = true\n" in result.out
    assert result.out.splitlines()[-2:] == [
        "record: requested, then deleted if the service accepts it (no final snapshot is made)",
        "  note: the delete takes the automated backups of orders with it (DeleteAutomatedBackups"
        " not given)",
    ]


@pytest.mark.parametrize(("copy_tags", "inherited"), [("true", ["team"]), ("false", [])])
def test_eval_copy_tags_decides_inheritance(
    capsys: pytest.CaptureFixture[str], policy: Path, copy_tags: str, inherited: list[str]
) -> None:
    """CopyTags=true passes the source's tags on; the string "false" must not count as true."""
    code, document = eval_json(
        capsys, policy, *COPY, "--param", f"CopyTags={copy_tags}", "--source-tag", "team=core"
    )
    assert document["params"]["CopyTags"] is (copy_tags == "true")
    assert document["inherited"] == inherited
    assert (code, rules_of(document)) == ((0, []) if inherited else (1, ["tags.required"]))


def test_eval_list_parameter_from_repeated_param(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    base = SHARE
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


@pytest.mark.parametrize("written", ['["all"]', '["111122223333","all"]', "[]", ' ["all"] '])
def test_eval_refuses_a_list_written_as_json_in_one_param(
    capsys: pytest.CaptureFixture[str], policy: Path, written: str
) -> None:
    """``--param 'ValuesToAdd=["all"]'`` (the AWS CLI's JSON) would be one item, the text
    ``["all"]``, which is no account and which AWS refuses: judged so, a public share looks
    allowed. It is a usage error saying how to give the items."""
    run = run_eval(capsys, policy, *SHARE, "--param", f"ValuesToAdd={written}")
    assert_one_error_line(
        run, f"--param ValuesToAdd={written}", "--param ValuesToAdd=ITEM --param ValuesToAdd=ITEM"
    )


def test_eval_blocked_public_share_human(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    result = run_eval(
        capsys,
        policy,
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
        "record: blocked, with its violations",
        "  note: added: all",
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
    result = run_eval(
        capsys,
        policy,
        *CREATE,
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
        "record: requested, then created if the service accepts it",
        "  note: not kept from the source: aws:cloudformation:stack-name (AWS reserves aws:"
        " keys, so the request that adds the policy's tags cannot carry them, and AWS copies"
        " none once it carries Tags)",
    ]


INHERIT_NOT_JUDGED = (
    "the source's tags ([tags] inherit = true): it is taken to pass none on; give"
    " --source-tag KEY=VALUE for each tag it passes on"
)


@pytest.mark.parametrize("call", [COPY_WITH_TAGS, CREATE], ids=["copy", "create"])
def test_eval_names_the_source_tags_it_did_not_read(
    capsys: pytest.CaptureFixture[str], policy: Path, call: tuple[str, ...]
) -> None:
    """A create or copy whose source passes its tags on, with no --source-tag: the guard reads
    them (they may hold the required key), eval takes it to pass none on. Its verdict said
    blocked with no word of what it did not know."""
    result = run_eval(capsys, policy, *call, "--region", "us-east-1")
    assert result.code == 1 and "[tags.required] Tags.team: required tag is missing" in result.out
    assert result.out.splitlines()[-1] == f"not judged: {INHERIT_NOT_JUDGED}"
    document = run_eval(capsys, policy, *call, "--region", "us-east-1", "--json")
    assert document.err == f"rds-guard: note: {INHERIT_NOT_JUDGED}\n"
    given = run_eval(capsys, policy, *call, "--region", "us-east-1", "--source-tag", "team=core")
    assert given.code == 0 and "not judged" not in given.out


@pytest.mark.parametrize(
    "extra",
    [("--param", "CopyTags=false"), ("--tag", "team=core")],
    ids=["copy-tags-false", "tags-sent"],
)
def test_eval_says_nothing_of_source_tags_that_are_not_passed_on(
    capsys: pytest.CaptureFixture[str], policy: Path, extra: tuple[str, ...]
) -> None:
    """The source passes nothing on (CopyTags false) or the caller's Tags replace what it
    would (inherit = true): the guard reads nothing, nor is anything left unjudged."""
    call = COPY if extra[0] == "--param" else COPY_WITH_TAGS
    result = run_eval(capsys, policy, *call, *extra, "--region", "us-east-1")
    assert "not judged" not in result.out
    assert result.code == (1 if extra[0] == "--param" else 0)


def test_eval_source_unreadable_gives_tags_inherit(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    code, document = eval_json(capsys, policy, *CREATE, "--source-unreadable")
    assert code == 1
    assert rules_of(document) == ["tags.inherit"]
    assert document["violations"][0]["field"] == "DBClusterIdentifier"
    assert "Tags" not in document["params"]
    # Tags sent explicitly: AWS copies nothing, so nothing needs reading.
    code, document = eval_json(capsys, policy, *CREATE, "--tag", "team=core", "--source-unreadable")
    assert (code, rules_of(document)) == (0, [])


def test_eval_never_reads_a_source_in_another_region_than_the_client(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    """A copy of a snapshot of us-east-1, judged for a client of eu-west-1: the guard never
    reads its tags (no access granted lets it), so eval says tags.inherit as the guard does,
    the tags given with --source-tag notwithstanding. Before, it inherited them: allowed."""
    args = (*COPY_WITH_TAGS, "--source-tag", "team=core")
    code, document = eval_json(capsys, policy, *args, "--region", "eu-west-1")
    assert (code, rules_of(document)) == (1, ["tags.inherit"])
    assert (
        "the source is in us-east-1, the client in eu-west-1"
        in (document["violations"][0]["message"])
    )
    code, document = eval_json(capsys, policy, *args, "--region", "us-east-1")
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
        (
            ["DeleteDBCluster", "--param", "SkipFinalSnapshot=maybe"],
            ["expected true or false (or yes/no, on/off, 1/0)"],
        ),
        (
            ["ModifyDBInstance", "--param", "BackupRetentionPeriod=\uff10"],
            ["BackupRetentionPeriod", "expected a whole number"],
        ),
        (
            ["ModifyDBInstance", "--param", "BackupRetentionPeriod=0_0"],
            ["expected a whole number"],
        ),
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
        (
            ["CreateDBClusterSnapshot", "--source-tag", "team=a", "--source-tag", "team=b"],
            ["--source-tag team given twice"],
        ),
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
    assert_one_error_line(run_eval(capsys, policy, *args), *fragments)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BackupRetentionPeriod", "x" * 5000),
        ("SkipFinalSnapshot", "maybe" * 1000),
        ("AttributeName", "[" + "a" * 5000 + "]"),
    ],
)
def test_a_long_value_in_an_eval_error_is_cut_short(
    capsys: pytest.CaptureFixture[str], policy: Path, name: str, value: str
) -> None:
    """A value given on the command line is shown as a policy's are, cut short with its
    length: a 5,000-character value makes no 5,000-character error."""
    operation = {"BackupRetentionPeriod": "ModifyDBInstance"}.get(name, "DeleteDBCluster")
    if name == "AttributeName":
        operation, name = "ModifyDBClusterSnapshotAttribute", "ValuesToAdd"
    line = assert_one_error_line(
        run_eval(capsys, policy, operation, "--param", f"{name}={value}"),
        f"({len(value)} characters)",
    )
    assert len(line) < 400, line


@pytest.mark.parametrize(
    "args",
    [
        ["CreateDBClusterSnapshot", "--param", "X" * 5000 + "=v"],
        ["Create" + "X" * 5000],
    ],
    ids=["parameter", "operation"],
)
def test_a_long_name_in_an_eval_error_is_cut_short(
    capsys: pytest.CaptureFixture[str], policy: Path, args: list[str]
) -> None:
    """A parameter's or an operation's name that is none is shown cut short too."""
    line = assert_one_error_line(run_eval(capsys, policy, *args), "characters)")
    assert "X" * 100 not in line and len(line) < 1000, line  # the guarded operations listed


def test_eval_without_a_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_error_line(
        run_main(capsys, "eval", "CreateDBClusterSnapshot"), "no policy", "--policy"
    )
    bad = write_policy(tmp_path, "version = 1\nmoed = 1\n", name="bad.toml")
    assert_one_error_line(
        run_eval(capsys, bad, "CreateDBClusterSnapshot"),
        f"{bad}:2: moed: unknown key",
    )


def test_json_output_is_one_document(capsys: pytest.CaptureFixture[str], policy: Path) -> None:
    """--json prints exactly one JSON document and nothing else on stdout."""
    result = run_eval(capsys, policy, "DeleteDBSnapshot", "--json")
    assert result.code == 0
    assert json.loads(result.out)["params"] == {}

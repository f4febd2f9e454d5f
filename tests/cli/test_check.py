"""``rds-guard check``: the summary of every section, the variables it reads, where it finds
the policy, and a bad policy as its one error line."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import REPO, assert_one_error_line, run_main, services_warning
from policies import write_policy

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


# --- check ----------------------------------------------------------------------------------


def test_check_summarises_every_section(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(tmp_path, FULL_POLICY)
    monkeypatch.delenv("APP_OWNER", raising=False)
    result = run_main(capsys, "check", str(path))
    assert (result.code, result.err) == (0, services_warning(path, "docdb", line=3))
    sha = rds_guard.load_policy(path).sha256
    assert result.out.splitlines() == [
        f"ok: {path} is a valid policy (version 1, sha256 {sha[:12]})",
        "mode: enforce (a call that breaks a rule is blocked and never sent)",
        "services: neptune, rds",
        "naming:",
        "  pattern: ^{source}-(daily|manual)-[0-9]{8}$  (full match, identifier lowercased)",
        "  generate: {source}-manual-{utcnow:%Y%m%d}  (when a call names none)",
        "  CopyDBClusterSnapshot: pattern ^dr-{source}$",
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
    path = write_policy(tmp_path, FULL_POLICY)
    monkeypatch.setenv("APP_OWNER", "ops@example.com")
    monkeypatch.setenv("RDS_GUARD_AUDIT_KEY", "k3y")
    result = run_main(capsys, "check", str(path))
    assert result.code == 0
    assert "  hmac: HMAC-SHA256, key in $RDS_GUARD_AUDIT_KEY (set)\n" in result.out
    assert "  APP_OWNER: set\n" in result.out
    assert "k3y" not in result.out


def test_check_minimal_policy_shows_the_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_policy(
        tmp_path, 'version = 1\nmode = "warn"\n[audit]\nenabled = false\n', name="p.toml"
    )
    result = run_main(capsys, "check", str(path))
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
    result = run_main(capsys, "check", str(example))
    assert result.code == 0, result.err
    assert result.out.startswith(f"ok: {example} is a valid policy (version 1, sha256 ")
    assert "    backup-policy = standard-35d\n" in result.out


def test_check_finds_the_policy_as_install_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$RDS_GUARD_POLICY first, then ./rds_guard.toml; neither: one line, exit 2."""
    monkeypatch.chdir(tmp_path)
    assert_one_error_line(
        run_main(capsys, "check"), "no policy", "RDS_GUARD_POLICY", "rds_guard.toml"
    )
    write_policy(tmp_path, "version = 1\n")
    assert run_main(capsys, "check").out.startswith("ok: rds_guard.toml is a valid policy")
    named = write_policy(tmp_path, 'version = 1\nmode = "warn"\n', name="elsewhere.toml")
    monkeypatch.setenv("RDS_GUARD_POLICY", str(named))
    result = run_main(capsys, "check")
    assert result.out.startswith(f"ok: {named} is a valid policy")
    assert "mode: warn" in result.out
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path / "missing.toml"))
    assert_one_error_line(run_main(capsys, "check"), "RDS_GUARD_POLICY", "missing.toml")


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
    path = write_policy(tmp_path, text, name="bad.toml")
    with pytest.raises(PolicyError) as caught:
        rds_guard.load_policy(path)
    result = run_main(capsys, "check", str(path))
    line = assert_one_error_line(result, f"{path}{where}")
    assert line == f"rds-guard: error: {caught.value}"


def test_check_unreadable_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_one_error_line(run_main(capsys, "check", str(tmp_path / "nope.toml")), "nope.toml")
    assert_one_error_line(run_main(capsys, "check", str(tmp_path)), "is a directory")

"""``rds-guard check``: the summary of every section, the variables it reads, where it finds
the policy, and a bad policy as its one error line."""

from __future__ import annotations

import os
from pathlib import Path

import botocore.session
import pytest
from cli_helpers import REPO, assert_one_error_line, run_main, services_warning
from policies import write_policy

import rds_guard
from rds_guard import PolicyError
from rds_guard.audit import AuditLog

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


# --- check ----------------------------------------------------------------------------------

DEFAULT_EXPORT_AND_DELETION = (
    "export:",
    "  enabled: true",
    "  s3_buckets: any bucket",
    "deletion:",
    '  final_snapshot: "optional" (a delete may skip its final snapshot)',
    '  automated_backups: "any" (a delete may take the automated backups with it)',
    "  minimum_age_days: none (a snapshot of any age may be deleted)",
    "  hold_tags (no delete, no removing or changing the tag): none",
)
"""What check says of [export] and [deletion] when the policy leaves them out."""


def test_check_summarises_every_section(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(tmp_path, FULL_POLICY)
    (tmp_path / "logs").mkdir()  # where the audit log goes: install (and check) need it there
    monkeypatch.delenv("APP_OWNER", raising=False)
    result = run_main(capsys, "check", str(path))
    assert (result.code, result.err) == (0, services_warning(path, "docdb", line=3))
    sha = rds_guard.load_policy(path).sha256
    assert result.out.splitlines() == [
        f"ok: {path} is a valid policy (version 1, sha256 {sha[:12]})",
        "mode: enforce (a call that breaks a rule is blocked and never sent)",
        "services: neptune, rds (docdb left out, but judged all the same: the three APIs share"
        " one endpoint)",
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
        *DEFAULT_EXPORT_AND_DELETION,
        "audit:",
        f"  path: {tmp_path / 'logs' / 'audit.jsonl'}",
        "  fsync: false",
        "  hmac: HMAC-SHA256, key in $RDS_GUARD_AUDIT_KEY (NOT SET here: install would fail)",
        "  lock_timeout: 10 seconds (then AuditError: nothing is sent)",
        "  ledger: none (the local file is the whole log)",
        "environment:",
        "  APP_OWNER: not set here (template.env at call time)",
    ]


def test_check_says_which_variables_are_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(tmp_path, FULL_POLICY)
    (tmp_path / "logs").mkdir()
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
        *DEFAULT_EXPORT_AND_DELETION,
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


def test_a_policy_variable_naming_a_path_the_system_refuses_is_a_policy_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name too long for the system (its own error, not "no such file") is a `PolicyError`
    naming the variable, from `install` and from ``check``: not the bare `OSError`."""
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path / ("a" * 5000)))
    with pytest.raises(rds_guard.PolicyError, match=r"RDS_GUARD_POLICY names .*File name too long"):
        rds_guard.install(botocore.session.Session())
    assert_one_error_line(run_main(capsys, "check"), "RDS_GUARD_POLICY", "File name too long")


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


# --- the second release's tables -------------------------------------------------------------

SECOND_RELEASE = """\
version = 1

[export]
s3_buckets = ["acme-backups-*", "dr-*"]

[deletion]
final_snapshot = "required"
automated_backups = "keep"
minimum_age_days = 7.5

[deletion.hold_tags]
legal-hold = "true"

[audit]
lock_timeout = 2.5

[audit.ledger]
table = "rds-guard-audit"
region = "eu-west-1"
mode = "required"
checkpoints = "s3://audit-bucket/rds-guard/"
kms_key = "alias/rds-guard-checkpoints"
"""


def test_check_summarises_export_deletion_and_the_ledger(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The ledger is summarised offline: nothing is contacted (no AWS stand-in is running)."""
    path = write_policy(tmp_path, SECOND_RELEASE)
    result = run_main(capsys, "check", str(path))
    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    assert lines[lines.index("export:") :] == [
        "export:",
        "  enabled: true",
        "  s3_buckets: acme-backups-* | dr-*  (else export.bucket)",
        "deletion:",
        '  final_snapshot: "required" (a delete may not skip its final snapshot:'
        " SkipFinalSnapshot=True is deletion.final_snapshot)",
        '  automated_backups: "keep" (a delete may not take the automated backups, nor'
        " BackupRetentionPeriod=0 turn them off: deletion.automated_backups)",
        "  minimum_age_days: 7.5 (a younger snapshot may not be deleted: deletion.too_young)",
        "  hold_tags (no delete, no removing or changing the tag):",
        "    legal-hold = true",
        "audit:",
        f"  path: {tmp_path / 'rds-guard-audit.jsonl'}",
        "  fsync: true",
        "  hmac: off (SHA-256 chain)",
        "  lock_timeout: 2.5 seconds (then AuditError: nothing is sent)",
        "  ledger (not contacted by check):",
        "    table: rds-guard-audit",
        "    region: eu-west-1",
        '    mode: "required" (a call is sent only once the ledger holds its requested record)',
        "    checkpoints: s3://audit-bucket/rds-guard/",
        "    kms_key: alias/rds-guard-checkpoints",
    ]
    disabled = write_policy(tmp_path, "version = 1\n[export]\nenabled = false\n", name="x.toml")
    assert "export: off (enabled = false: every export is export.disabled)\n" in (
        run_main(capsys, "check", str(disabled)).out
    )


def test_check_json_is_one_object_of_every_section(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(tmp_path, FULL_POLICY)
    (tmp_path / "logs").mkdir()
    monkeypatch.setenv("APP_OWNER", "ops@example.com")
    result = run_main(capsys, "check", str(path), "--json")
    assert (result.code, result.err) == (0, services_warning(path, "docdb", line=3))
    document = result.json()
    assert list(document) == [
        "policy", "version", "sha256", "mode", "services", "services_left_out", "naming", "tags",
        "sharing", "export", "deletion", "audit", "environment",
    ]  # fmt: skip
    assert document["sha256"] == rds_guard.load_policy(path).sha256
    assert (document["mode"], document["services"], document["services_left_out"]) == (
        "enforce",
        ["neptune", "rds"],
        ["docdb"],
    )
    assert document["naming"] == {
        "pattern": "^{source}-(daily|manual)-[0-9]{8}$",
        "generate": "{source}-manual-{utcnow:%Y%m%d}",
        "operations": {
            "CopyDBClusterSnapshot": {"pattern": "^dr-{source}$", "generate": "dr-{source}"}
        },
    }
    assert document["tags"] == {
        "required": ["team", "env"],
        "inherit": "always",
        "defaults": {"managed-by": "rds-guard", "owner": "{env:APP_OWNER}", "where": "{region}"},
        "forced": {"compliance": "pci"},
        "allowed": {"env": ["prod", "staging", "dev"], "cost-center": ["CC-*"]},
        "patterns": {"owner": "^[a-z.]+@example\\.com$"},
    }
    assert document["sharing"] == {"public": False, "accounts": ["111122223333"]}
    assert document["export"] == {"enabled": True, "s3_buckets": None}
    assert document["deletion"] == {
        "final_snapshot": "optional",
        "automated_backups": "any",
        "minimum_age_days": None,
        "hold_tags": {},
    }
    assert document["audit"] == {
        "enabled": True,
        "path": str(tmp_path / "logs" / "audit.jsonl"),
        "path_from": None,
        "fsync": False,
        "hmac_key_env": "RDS_GUARD_AUDIT_KEY",
        "hmac_key_set": False,
        "lock_timeout": 10,
        "ledger": None,
    }
    assert document["environment"] == {"APP_OWNER": True}
    second = run_main(capsys, "check", str(write_policy(tmp_path / "2", SECOND_RELEASE)), "--json")
    assert second.json()["deletion"]["minimum_age_days"] == 7.5
    assert second.json()["audit"]["ledger"] == {
        "table": "rds-guard-audit",
        "region": "eu-west-1",
        "mode": "required",
        "checkpoints": "s3://audit-bucket/rds-guard/",
        "kms_key": "alias/rds-guard-checkpoints",
    }


# --- where the audit log would go -------------------------------------------------------------


@pytest.mark.parametrize(
    ("audit_path", "why"),
    [
        ("missing/audit.jsonl", "the directory {dir}/missing does not exist"),
        ("a-file/audit.jsonl", "{dir}/a-file is a regular file, not a directory"),
        ("a-dir", "a directory is at the path, not a regular file"),
    ],
)
def test_check_an_audit_log_install_could_not_write_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, audit_path: str, why: str
) -> None:
    """DESIGN §4: found at install (AuditError) and by check, which fails as install would."""
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-dir").mkdir()
    path = write_policy(tmp_path, f'version = 1\n[audit]\npath = "{audit_path}"\n')
    result = run_main(capsys, "check", str(path))
    assert_one_error_line(
        result,
        f"{path}:3: audit.path: the audit log {tmp_path / audit_path} cannot be written: "
        + why.format(dir=tmp_path)
        + " (install would fail)",
    )
    off = write_policy(
        tmp_path, f'version = 1\n[audit]\npath = "{audit_path}"\nenabled = false\n', name="o.toml"
    )
    assert run_main(capsys, "check", str(off)).code == 0  # no log, nothing to write


def test_check_holds_the_audit_path_the_variable_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$RDS_GUARD_AUDIT_PATH overrides the policy at install: check looks where install will."""
    path = write_policy(tmp_path, 'version = 1\n[audit]\npath = "nowhere/audit.jsonl"\n')
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(tmp_path / "here.jsonl"))
    result = run_main(capsys, "check", str(path))
    assert result.code == 0
    assert (
        f"  path: {tmp_path / 'here.jsonl'}  (from $RDS_GUARD_AUDIT_PATH; the policy says"
        f" {tmp_path / 'nowhere' / 'audit.jsonl'})\n" in result.out
    )
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(tmp_path / "gone" / "audit.jsonl"))
    assert_one_error_line(
        run_main(capsys, "check", str(path)),
        f"$RDS_GUARD_AUDIT_PATH: the audit log {tmp_path / 'gone' / 'audit.jsonl'} cannot be"
        f" written: the directory {tmp_path / 'gone'} does not exist",
    )


def test_check_an_audit_log_that_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permissions as os.access reports them (stood in for: the tests may run as root, who
    writes anywhere): a directory a new log cannot be made in, an existing log not writable."""
    path = write_policy(tmp_path, 'version = 1\n[audit]\npath = "logs/audit.jsonl"\n')
    (tmp_path / "logs").mkdir()
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    assert_one_error_line(
        run_main(capsys, "check", str(path)),
        f"the directory {tmp_path / 'logs'} is not writable (permission denied)",
    )
    (tmp_path / "logs" / "audit.jsonl").write_text("")
    assert_one_error_line(
        run_main(capsys, "check", str(path)), "audit.jsonl is not writable (permission denied)"
    )


def test_check_an_audit_path_that_names_the_policy_file_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """install would refuse it (a log appended to its own policy), so check does."""
    text = f'version = 1\n[audit]\npath = "{tmp_path / "p.toml"}"\n'
    path = write_policy(tmp_path, text, name="p.toml")
    assert_one_error_line(
        run_main(capsys, "check", str(path)),
        f"{path}:3: audit.path: the audit log {path} cannot be written: it is the policy file"
        " itself (install would fail)",
    )
    assert path.read_text() == text


@pytest.mark.parametrize(
    ("content", "bad"),
    [
        (b"a token, not a log", True),
        (b"\0\0\0" + b"x", True),  # zeros, then other bytes: no first record cut short
        (b"[audit]\n", True),
        (bytes(100), False),  # what a crash may leave of a first record: a writer writes over it
        (b"", False),
    ],
)
def test_check_an_audit_path_that_names_no_audit_log_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, bad: bool
) -> None:
    """The writer refuses such a file at the first guarded call (`NotAnAuditLog`, nothing
    sent); check says so before it."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(content)
    path = write_policy(tmp_path, f'version = 1\n[audit]\npath = "{log}"\n')
    result = run_main(capsys, "check", str(path))
    if bad:
        assert_one_error_line(
            result,
            f"{path}:3: audit.path: rds_guard audit log: {log} is not an audit log: line 1 is"
            " not an audit record (its first bytes are not how a record's line starts) (the"
            " first guarded call would fail)",
        )
    else:
        assert result.code == 0
    assert log.read_bytes() == content


def _log_of(path: Path, count: int, key: bytes | None = None) -> None:
    with AuditLog(path, fsync=False, hmac_key=key) as log:
        for n in range(count):
            log.write("blocked", call=f"c{n}", operation="CreateDBSnapshot")


def _damaged(path: Path) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[-2] = lines[-2].replace(b'"c2"', b'"cX"')  # the last record edited
    path.write_bytes(b"\n".join(lines))


def _joined(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-1].replace(b"\n", b"\r") + b"")  # no newline left at all


def _torn(path: Path) -> None:
    with path.open("ab") as file:
        file.write(b'{"v":2,"seq":4,"ti')  # what a crash leaves of a record being written


TAILS = {
    "whole": (None, None, None, False),
    "damaged": (_damaged, None, None, True),
    "joined": (_joined, None, None, True),
    "torn": (_torn, None, None, False),
    "keyed-no-key": (None, b"k" * 32, None, True),
    "keyed-other-key": (None, b"k" * 32, "o" * 32, True),
    "keyed-its-key": (None, b"k" * 32, "k" * 32, False),
    "keyed-key-unset": (None, b"k" * 32, "", False),
    "keyed-key-unset-joined": (_joined, b"k" * 32, "", True),
    "keyed-key-unset-edited": (_damaged, b"k" * 32, "", False),  # only the key tells
}


@pytest.mark.parametrize("case", TAILS)
def test_check_holds_the_log_s_last_record_as_the_writer_will(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    """The writer authenticates the log's last record at the first guarded call: a damaged
    one, records run together, a keyed log and no key or another key, fail every guarded
    call (nothing sent). check said ok of each; it exits 2 when the writer would refuse, and
    never writes. A key not set where check runs cannot be tried (the summary says so)."""
    log = tmp_path / "audit.jsonl"
    change, written_with, policy_key, refused = TAILS[case]
    _log_of(log, 3, written_with)
    if change is not None:
        change(log)
    policy_text = f'version = 1\n[audit]\npath = "{log}"\nfsync = false\n'
    if policy_key is not None:
        policy_text += 'hmac_key_env = "CHECK_AUDIT_KEY"\n'
        if policy_key:
            monkeypatch.setenv("CHECK_AUDIT_KEY", policy_key)
        else:
            monkeypatch.delenv("CHECK_AUDIT_KEY", raising=False)
    path = write_policy(tmp_path, policy_text)
    before = log.read_bytes()
    result = run_main(capsys, "check", str(path))
    assert log.read_bytes() == before
    if refused:
        assert_one_error_line(
            result, f"{path}:3: audit.path: ", "(the first guarded call would fail)"
        )
    else:
        assert result.code == 0, result
    if policy_key == "":
        return
    # what the writer does at the first record: refused where check said so
    key = policy_key.encode() if policy_key else None
    writer_refused = False
    try:
        with AuditLog(log, fsync=False, hmac_key=key) as writer:
            writer.write("blocked", call="c9", operation="CreateDBSnapshot")
    except rds_guard.AuditError:
        writer_refused = True
    assert writer_refused == refused

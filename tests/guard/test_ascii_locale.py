"""A process whose file names are ASCII (``LC_ALL=C`` without Python's UTF-8 mode), given
paths it cannot write: a clear `AuditError` or `PolicyError` naming the path and what to do,
never a `UnicodeEncodeError`; and a log its user may write but not read, refused at install
as `rds-guard check` refuses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from audit_helpers import subprocess_env
from policies import write_policy

import rds_guard
from rds_guard.core import files

CHILD = """
import json, os, sys, botocore.session, rds_guard
folder = sys.argv[2]  # the names below are text in the program, as a policy's are
outcome = {}
try:
    log = os.path.join(folder, "journal-\\u00e9t\\u00e9.jsonl")
    rds_guard.install(botocore.session.Session(), policy=sys.argv[1], audit_path=log)
    outcome["install"] = "installed"
except Exception as exc:
    outcome["install"] = f"{type(exc).__name__}: {exc}"
try:
    rds_guard.load_policy(os.path.join(folder, "polic\\u00e9.toml"))
    outcome["load"] = "loaded"
except Exception as exc:
    outcome["load"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(outcome))
"""


def test_a_path_an_ascii_locale_cannot_write_is_named_as_such(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "version = 1\n")
    env = subprocess_env() | {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "utf8=0",
            "-c",
            CHILD,
            str(policy),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    writes = "which this system's file name encoding (ascii) cannot write: run Python in"
    assert outcome["install"].startswith("AuditError: "), outcome
    assert writes in outcome["install"] and "the audit log cannot be written" in outcome["install"]
    assert outcome["load"].startswith("PolicyError: "), outcome
    assert writes in outcome["load"] and "NUL" not in outcome["load"]


def test_a_log_its_user_may_not_read_is_refused_at_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mode 0602 for another user (stood in for by access(2): the tests may run as root):
    install said nothing, and every guarded call then failed closed reading its last record."""
    log = tmp_path / "audit.jsonl"
    log.write_text("")
    policy = write_policy(tmp_path, f'version = 1\n[audit]\npath = "{log}"\n')
    monkeypatch.setattr(files.os, "access", lambda path, mode, **_: not mode & os.R_OK)
    with pytest.raises(
        rds_guard.AuditError,
        match=r"its writer reads its last record, and the file .* is not readable",
    ):
        rds_guard.install(policy=policy)

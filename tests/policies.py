"""The policies the integration tests install, named by what they are for, and the one way to
write one into a folder (`write_policy`).

Before writing a policy into a test, look here. Each text is a whole TOML file as a team would
write it; a test that needs it in another mode (or with another ``inherit``) says so:
``write_policy(tmp_path, STRICT, mode="warn")``. The pure-core tests build theirs from short
TOML bodies with `core_fixtures.make_policy`. The policy language: docs/policy.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "rds_guard.toml").read_text()
"""examples/rds_guard.toml, the policy of the README, the demo and the AWS CLI example."""

STRICT = """\
version = 1
mode = "enforce"

[naming]
pattern = "^{source}-(daily|manual)-[0-9]{8}$"
generate = "{source}-manual-{utcnow:%Y%m%d}"

[naming.operations.CopyDBClusterSnapshot]
pattern = "^{source}-copy$"
generate = "{source}-copy"

[tags]
required = ["team", "env"]
inherit = true

[tags.defaults]
managed-by = "rds-guard"

[tags.forced]
backup-policy = "standard"

[tags.allowed]
env = ["prod", "dev"]

[audit]
enabled = false
"""
"""Every naming and tagging rule at once, the source's tags inherited; nothing audited."""

WARN = """\
version = 1
mode = "warn"

[naming]
pattern = "^{source}-(daily|manual)-[0-9]{8}$"

[audit]
enabled = true
path = "audit.jsonl"
fsync = false
"""
"""Warn about names, and nothing else: no tag is added or judged, so nothing is read."""

DEFAULTS_ONLY = """\
version = 1
mode = "enforce"

[tags.defaults]
managed-by = "rds-guard"

[audit]
path = "audit.jsonl"
fsync = false
"""
"""One default tag and no rule: the guard reads the source's tags only to keep them."""

AUDITED = """\
version = 1
mode = "enforce"

[naming]
pattern = "^{source}-(daily|manual|final)-[0-9]{8}$"

[naming.operations.CopyDBClusterSnapshot]
pattern = "^{source}-copy$"

[tags]
required = ["team"]

[tags.defaults]
managed-by = "rds-guard"

[sharing]
accounts = ["111122223333"]

[audit]
path = "audit.jsonl"
fsync = false
"""
"""Every kind of guarded call (create, copy, tag, untag, share, final snapshot, delete) has a
form that passes and one that is blocked; all of them recorded in audit.jsonl."""

RULE_OF_EACH_KIND = """\
version = 1
mode = "enforce"

[naming]
pattern = "^{source}-manual-[0-9]{8}$"

[tags]
required = ["team"]

[tags.defaults]
managed-by = "rds-guard"

[tags.allowed]
env = ["prod", "dev"]

[sharing]
accounts = ["111122223333"]

[audit]
path = "audit.jsonl"
fsync = false
"""
"""A naming pattern, a required tag, a default, allowed values and a list of accounts: a
hostile value in any parameter meets a rule, while the plain calls break none."""

RECONCILED = """\
version = 1
services = ["rds", "neptune"]

[naming]
pattern = "^{source}-(daily|manual)-[0-9]{8}$"

[tags]
required = ["team", "env"]

[tags.defaults]
managed-by = "rds-guard"

[tags.forced]
backup-policy = "standard-35d"

[tags.allowed]
env = ["prod", "staging", "dev"]

[audit]
path = "audit.jsonl"
fsync = false
"""
"""What reconcile holds rds and neptune snapshots against: names, required, allowed, default
and forced tags."""

BACKUPS = """\
version = 1
mode = "enforce"

[deletion]
final_snapshot = "required"
automated_backups = "keep"
minimum_age_days = 7

[deletion.hold_tags]
legal-hold = "true"

[audit]
path = "audit.jsonl"
fsync = false
"""
"""Every `[deletion]` rule (docs/backups.md) and nothing else: no name or tag rule, so a
delete is judged by what it would take away, and every delete recorded in audit.jsonl."""

HOLD_ONLY = """\
version = 1
mode = "enforce"

[deletion.hold_tags]
legal-hold = "true"

[audit]
path = "audit.jsonl"
fsync = false
"""
"""Snapshots tagged legal-hold = true may not be deleted, and no other rule: a delete is
judged by its hold alone, and every one recorded in audit.jsonl."""

TEAM_REQUIRED = """\
version = 1
mode = "warn"

[tags]
required = ["team"]

[audit]
path = "audit.jsonl"
fsync = false
"""
"""One tag rule and no tag of the policy's own: the guard reads the source to judge a new
snapshot's tags, and adds nothing; every call recorded in audit.jsonl."""

FROM_ENVIRONMENT = """\
version = 1
mode = "enforce"

[naming]
generate = "{env:SNAPSHOT_PREFIX}-manual-{utcnow:%Y%m%d}"

[tags.defaults]
owner = "{env:APP_OWNER}"

[tags.forced]
cost-center = "{env:COST_CENTER}"

[audit]
enabled = false
"""
"""A generated name, a default and a forced tag, each read from an environment variable."""


LEDGER = """\
version = 1

[naming]
pattern = "^{source}-(daily|manual)-[0-9]{8}$"

[audit]
path = "audit.jsonl"
fsync = false

[audit.ledger]
table = "rds-guard-audit"
region = "us-east-1"
mode = "ship"
"""
"""Names checked, the log shipped to the fleet ledger (docs/ledger.md);
``mode="required"`` makes a call wait for its ``requested`` record in the ledger."""

LEDGER_SIGNED = (
    LEDGER
    + """\
checkpoints = "s3://rds-guard-checkpoints/rds-guard/"
kms_key = "alias/rds-guard-checkpoints"
"""
)
"""`LEDGER` with signed checkpoints: the commands find the bucket and key in it, and a
guard's shipper writes a checkpoint hourly."""


def write_policy(
    folder: Path, text: str, *, name: str = "rds_guard.toml", **settings: str | bool
) -> Path:
    """Write policy ``text`` to ``folder/name`` (making the folder if need be); returns the path.

    ``settings`` rewrite the line of their key, which the text must set on exactly one line:
    ``mode="warn"`` writes ``mode = "warn"``, ``inherit=False`` writes ``inherit = false``.
    """
    for key, value in settings.items():
        line = f"{key} = {json.dumps(value)}"
        text, found = re.subn(rf"(?m)^{re.escape(key)} = .*$", lambda _, line=line: line, text)
        assert found == 1, f"the policy sets {key} on {found} lines, not one"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path

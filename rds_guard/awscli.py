"""AWS CLI (v1) plugin: the guard on every rds, docdb and neptune command the ``aws`` CLI runs.

Enable it in the AWS config file (``~/.aws/config``, or the file ``$AWS_CONFIG_FILE`` names)::

    [plugins]
    rds_guard = rds_guard.awscli

rds_guard must be importable by the Python the CLI runs on (install it into the CLI's
environment). AWS CLI v1 takes every key of ``[plugins]`` for a plugin module, so v2's
``cli_legacy_plugin_path`` key must not be there. The CLI imports this module and calls
`awscli_initialize` with its session's event emitter; from then on every rds, docdb and
neptune client the CLI creates is guarded exactly as in an application: the policy is found
as `rds_guard.install` finds it ($RDS_GUARD_POLICY, then ./rds_guard.toml), the audit path is
$RDS_GUARD_AUDIT_PATH or the policy's.

The policy is read when the first guarded client is created, not when the CLI starts:
``awscli_initialize`` runs outside the CLI's error handling, and ``aws s3 ls`` must not fail
over an RDS policy. What the user sees, through the CLI's own error handling:

- a blocked command exits non-zero (255) and nothing is sent; stderr reads
  ``rds_guard blocked CreateDBClusterSnapshot:`` followed by every violation, one a line;
- a missing or broken policy fails every rds/docdb/neptune command with one line on stderr,
  the `PolicyError` (``PATH:LINE: key: what is wrong``), and no traceback;
- in ``mode = "warn"`` each violation is a WARNING line on stderr and the command goes on.

AWS CLI 1.46 and later bundle their own botocore and alias ``import botocore`` to it once
``awscli`` is imported, so inside the CLI the guard runs on that copy: the plugin is imported
after ``awscli``, and rds_guard's ``botocore`` classes are the CLI's.
"""

from __future__ import annotations

from .guard import EventEmitter, install_on_emitter

__all__ = ["awscli_initialize"]


def awscli_initialize(event_hooks: EventEmitter) -> None:
    """Entry point the AWS CLI calls with its session's event emitter: guard its clients.

    Reads nothing and never raises for a bad policy here (see the module docstring): the
    policy is loaded when the CLI creates its first rds, docdb or neptune client.
    """
    install_on_emitter(event_hooks)

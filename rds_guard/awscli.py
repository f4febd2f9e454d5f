"""AWS CLI (v1) plugin: the guard on every rds, docdb and neptune command the ``aws`` CLI runs.

Enabled by ``rds_guard = rds_guard.awscli`` under ``[plugins]`` in the AWS config file. The
policy is loaded when the CLI creates its first rds, docdb or neptune client, so other commands
never read it. Set-up, behaviour and caveats: docs/integrations.md.
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

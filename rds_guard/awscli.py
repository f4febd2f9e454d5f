"""AWS CLI (v1) plugin: the guard on every rds, docdb and neptune command the ``aws`` CLI runs.

Enabled by ``rds_guard = rds_guard.awscli`` under ``[plugins]`` in the AWS config file. The
policy is loaded at the first guarded operation (a snapshot made, copied, tagged, shared or
deleted), so other commands, listing and describing included, never read it. Set-up,
behaviour and caveats: docs/integrations.md.
"""

from __future__ import annotations

import functools
from typing import Any

from .core import operations
from .guard import EventEmitter, install_on_emitter

__all__ = ["GENERATE", "awscli_initialize"]

GENERATE = "@generate"
"""The identifier value that asks for the policy's ``generate`` template on the command line
(the CLI makes the identifier option mandatory)."""


def awscli_initialize(event_hooks: EventEmitter) -> None:
    """Entry point the AWS CLI calls with its session's event emitter: guard its clients.

    Reads nothing and never raises for a bad policy here (the CLI calls it outside its error
    handling): the policy is loaded at the first guarded operation.
    """
    for service, name in operations.guarded_pairs():
        row = operations.OPERATIONS[name]
        if row.kind in (operations.Kind.CREATE, operations.Kind.COPY) and row.identifier:
            # registered on the session before any client exists, so it runs before the
            # guard's own handler, which each client registers when it is made
            event = f"before-parameter-build.{service}.{name}"
            event_hooks.register(
                event,
                functools.partial(_generate_on_request, row.identifier),
                unique_id=f"rds_guard:generate:{event}",
            )
    install_on_emitter(event_hooks)


def _generate_on_request(identifier: str, params: dict[str, Any], **_: Any) -> None:
    """``--...-identifier @generate``: leave the identifier to the policy's template."""
    if params.get(identifier) == GENERATE:
        del params[identifier]

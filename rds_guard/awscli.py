"""AWS CLI (v1) plugin: the guard on every rds, docdb and neptune command the ``aws`` CLI runs.

Enabled by ``rds_guard = rds_guard.awscli`` under ``[plugins]`` in the AWS config file. Every
``aws`` command imports this module, so it imports nothing of the guard: the guard is
installed when the CLI makes its first rds, docdb or neptune client, and the policy is loaded
at the first guarded operation (a snapshot made, copied, tagged, shared or deleted), so other
commands, listing and describing included, never read it. Set-up, behaviour and caveats:
docs/integrations.md.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .guard import EventEmitter

__all__ = ["GENERATE", "GUARDED_SERVICES", "awscli_initialize"]

GENERATE = "@generate"
"""The identifier value that asks for the policy's ``generate`` template on the command line
(the CLI makes the identifier option mandatory)."""

GUARDED_SERVICES = ("rds", "docdb", "neptune")
"""The services whose clients get the guard (``rds_guard.core.operations.SERVICES``, named
here so that importing this module imports nothing more)."""


def awscli_initialize(event_hooks: EventEmitter) -> None:
    """Entry point the AWS CLI calls with its session's event emitter: guard its clients.

    Imports and reads nothing, and never raises for a bad policy here (the CLI calls it
    outside its error handling): the guard is installed when the first rds, docdb or neptune
    client is made, and the policy loaded at the first guarded operation.
    """
    install = _InstallOnFirstClient(event_hooks)
    for service in GUARDED_SERVICES:
        event = f"creating-client-class.{service}"
        event_hooks.register(event, install, unique_id=f"rds_guard:awscli:{event}")


class _InstallOnFirstClient:
    """The ``creating-client-class`` handler that installs the guard, once."""

    def __init__(self, event_hooks: EventEmitter) -> None:
        self._events = event_hooks
        self._installed = False

    def __call__(self, base_classes: list[type], **_: Any) -> None:
        if self._installed:
            return  # the guard's own hook binds the later clients
        self._installed = True
        from .core import operations
        from .guard import install_on_emitter
        from .guard.installs import guard_client_class

        for service, name in operations.guarded_pairs():
            row = operations.OPERATIONS[name]
            if row.kind in (operations.Kind.CREATE, operations.Kind.COPY) and row.identifier:
                # on the session, before the client copies its handlers: it runs before
                # the guard's own handler, which the client registers when it is made
                event = f"before-parameter-build.{service}.{name}"
                self._events.register(
                    event,
                    functools.partial(_generate_on_request, row.identifier),
                    unique_id=f"rds_guard:generate:{event}",
                )
        install_on_emitter(self._events)
        guard_client_class(self._events, base_classes)


def _generate_on_request(identifier: str, params: dict[str, Any], **_: Any) -> None:
    """``--...-identifier @generate``: leave the identifier to the policy's template."""
    if params.get(identifier) == GENERATE:
        del params[identifier]

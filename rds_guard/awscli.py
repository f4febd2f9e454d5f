"""AWS CLI (v1) plugin: the guard on every rds, docdb and neptune command the ``aws`` CLI runs.

Enabled by ``rds_guard = rds_guard.awscli`` under ``[plugins]`` in the AWS config file. Every
``aws`` command imports this module, so it imports nothing of the guard: each rds, docdb and
neptune client the CLI makes gets stand-ins in the guard's handlers' places (they import only
`rds_guard.guard.hooks`), and the guard is imported and installed, and the policy loaded,
at the first guarded operation (a snapshot made, copied, tagged, shared or deleted), so other
commands, listing and describing included, never load it. Set-up, behaviour and caveats:
docs/integrations.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from .guard import EventEmitter, Guard
    from .guard.binding import ClientBinding

__all__ = ["GENERATE", "GENERATED_IDENTIFIERS", "GUARDED_SERVICES", "awscli_initialize"]

GENERATE = "@generate"
"""The identifier value that asks for the policy's ``generate`` template on the command line
(the CLI makes the identifier option mandatory)."""

PLUGIN_ID = "rds_guard:awscli:" + os.urandom(8).hex()
"""What the unique id of each handler the plugin registers starts with: a random part, new in
each process, as the guard's own (`rds_guard.guard.hooks.HOOK_ID`, not imported here: the
plugin imports none of the guard until a guarded operation). botocore skips a handler whose
id is taken: under ids another plugin could guess, one registered first would keep the
plugin's off every client."""

GUARDED_SERVICES = ("rds", "docdb", "neptune")
"""The services whose clients get the guard (``rds_guard.core.operations.SERVICES``, named
here so that importing this module imports nothing more)."""

GENERATED_IDENTIFIERS = {
    "CreateDBClusterSnapshot": "DBClusterSnapshotIdentifier",
    "CopyDBClusterSnapshot": "TargetDBClusterSnapshotIdentifier",
    "CreateDBSnapshot": "DBSnapshotIdentifier",
    "CopyDBSnapshot": "TargetDBSnapshotIdentifier",
    "CreateDBClusterGroupSnapshot": "DBClusterGroupSnapshotIdentifier",
}
"""The operations that make a snapshot under a name of its own, with the parameter naming it,
which ``@generate`` may stand for: the operations table's create and copy rows, written out
for the same reason (a test holds them equal)."""


def awscli_initialize(event_hooks: EventEmitter) -> None:
    """Entry point the AWS CLI calls with its session's event emitter: guard its clients.

    Imports and reads nothing, and never raises for a bad policy here (the CLI calls it
    outside its error handling): each rds, docdb and neptune client gets stand-ins in the
    guard's handlers' places, and the first guarded operation imports the guard, installs it
    and loads the policy.
    """
    plugin = _GuardOnFirstOperation(event_hooks)
    for service in GUARDED_SERVICES:
        event = f"creating-client-class.{service}"
        event_hooks.register(event, plugin.client_class, unique_id=f"{PLUGIN_ID}:{event}")
    # registered before the command's arguments are: the output skeleton's own handler, which
    # answers the command and ends the event, comes after this one
    event_hooks.register(
        "calling-command.*", plugin.calling_command, unique_id=f"{PLUGIN_ID}:calling-command"
    )
    event_hooks.register(
        "session-initialized",
        plugin.session_initialized,
        unique_id=f"{PLUGIN_ID}:session-initialized",
    )


class _GuardOnFirstOperation:
    """The ``creating-client-class`` handler: stand-ins on each client until the guard is
    installed, which the first guarded operation does (`rds_guard.guard.hooks.StandIns`)."""

    def __init__(self, event_hooks: EventEmitter) -> None:
        self._events = event_hooks
        self._generate_hooked = False
        self._installed: Callable[[], Guard] | None = None
        """The guard's install on the CLI's emitter, once made: gives its `Guard`."""
        self._lock = threading.Lock()  # two clients' first guarded calls may race
        self.session: Any = None
        """The CLI's botocore session, once its profile and region are set from the command
        line: the fleet ledger's clients are made from it (``--profile`` reaches them)."""
        self.stubbed = False
        """True while the command is answered by a botocore Stubber on its client, sending
        nothing (``--generate-cli-skeleton output``): the stand-ins then stay idle."""
        plugin = self

        class GuardStandIns:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                from .guard.hooks import StandIns

                StandIns(self, plugin.bind, idle=lambda: plugin.stubbed)  # type: ignore[arg-type]

        self._mixin = GuardStandIns

    def client_class(self, base_classes: list[type], **_: Any) -> None:
        """Give the client class being made stand-ins (and, the first time, hook
        ``@generate``), unless the guard is installed: its own hook binds the clients."""
        if self._installed is not None:
            return
        if not self._generate_hooked:
            self._generate_hooked = True
            self._hook_generate()
        if self._mixin not in base_classes:
            base_classes.insert(0, self._mixin)

    def calling_command(self, parsed_args: object = None, **_: Any) -> None:
        """``calling-command``: note whether the command is answered without a request
        (``--generate-cli-skeleton output``: a Stubber on the client answers it, and would
        refuse the guard's reads)."""
        self.stubbed = getattr(parsed_args, "generate_cli_skeleton", None) == "output"

    def session_initialized(self, session: object = None, **_: Any) -> None:
        """``session-initialized``: the CLI's session, its ``--profile`` and ``--region`` set."""
        self.session = session

    def bind(self, client: BaseClient) -> ClientBinding:
        """A client's binding, the guard installed on the CLI's emitter the first time."""
        from .guard.installs import bind_client

        with self._lock:
            self._install()
            return bind_client(self._events, client)

    def generates(self, operation: str) -> bool:
        """Whether the policy's ``generate`` template names ``operation``'s snapshots (the
        guard installed, and the policy loaded, first: this is a guarded operation)."""
        with self._lock:
            installed = self._install()
        return operation in installed().names_generated

    def _install(self) -> Callable[[], Guard]:
        """The guard's install on the CLI's emitter, made the first time (under the lock)."""
        from .guard.installs import install_on_emitter

        if self._installed is None:
            self._installed = install_on_emitter(self._events, session=self.session)
        return self._installed

    def _hook_generate(self) -> None:
        from .guard.hooks import GUARDED

        for service, names in GUARDED.items():
            for name in names:
                identifier = GENERATED_IDENTIFIERS.get(name)
                if identifier is None:
                    continue
                # on the session, before the client copies its handlers: it runs before
                # the guard's own handler, which the client registers when it is made
                event = f"before-parameter-build.{service}.{name}"
                self._events.register(
                    event,
                    _generate_on_request(
                        name, identifier, idle=lambda: self.stubbed, generates=self.generates
                    ),
                    unique_id=f"{PLUGIN_ID}:generate:{event}",
                )


def _generate_on_request(
    operation: str,
    identifier: str,
    *,
    idle: Callable[[], bool],
    generates: Callable[[str], bool],
) -> Callable[..., None]:
    """The handler of ``--...-identifier @generate``: it leaves the identifier to the
    policy's template when the policy has one for ``operation`` (``generates``). Else the
    command is refused as botocore refuses a bad parameter (`ParamValidationError`, nothing
    sent, in either mode): taken out, the name would be botocore's "Missing required
    parameter" for an option the command was given; left in, a warn-mode policy would let
    ``@generate`` go to AWS as a name. While ``idle`` (``--generate-cli-skeleton output``:
    no guard judges the command, which prints what it prints without the plugin), it leaves
    the word as it is. A closure, not a `functools.partial`: botocore inspects each handler
    it registers, and a partial's signature takes three times as long to read."""

    def generate(params: dict[str, Any], **_: Any) -> None:
        if params.get(identifier) != GENERATE or idle():
            return
        if not generates(operation):
            from botocore.exceptions import ParamValidationError

            raise ParamValidationError(
                report=f"{identifier}: {GENERATE} asks for the policy's generate template,"
                f" and the policy has none for {operation}: give the identifier"
            )
        del params[identifier]

    return generate

"""Installing and uninstalling: the stacks of guards per target (a session, boto3's default
session, an emitter, a client), and the hooks that bind each new client to them.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import types
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from botocore.client import BaseClient
from botocore.session import Session as BotocoreSession

from rds_guard.core.logs import LOGGER as logger

from ..audit import AuditLog, MissingKey, key_from_env
from ..core import operations
from ..core.files import log_problem
from ..core.policy import (
    LedgerPolicy,
    Policy,
    PolicyLike,
    audit_path_of,
    key_line,
    resolve_policy,
)
from ..errors import AuditError, PolicyError
from .binding import ClientBinding
from .guard import Guard
from .hooks import HOOK_ID, service_of
from .stacks import INSTALL_ORDER, INSTALLS, Stack

if TYPE_CHECKING:
    from ..audit.ledger.location import Clients


_stacks: weakref.WeakKeyDictionary[object, weakref.ref[Stack]] = weakref.WeakKeyDictionary()
"""The stack of guards installed on each session or emitter, held weakly: while it holds a
guard, the session holds its own (its client class hook, `_hook_session`), and boto3 that of
its default session (`_hook_default_sessions`). Held here too, a dropped session's stack, its
guards and their audit logs would outlive the collection that frees the session (only its
weak key's callback lets go of them) until the next one, which may come long after."""


class _PendingGuard:
    """A guard whose policy is found and loaded when it is first needed (`install_on_emitter`)."""

    def __init__(
        self,
        stack: Stack,
        policy: PolicyLike,
        audit_path: str | os.PathLike[str] | None,
        session: BotocoreSession | None = None,
    ) -> None:
        self._stack = stack
        self._policy = policy
        self._audit_path = audit_path
        self._session = session
        self._guard: Guard | None = None
        self.order = next(INSTALL_ORDER)

    def resolve(self) -> Guard:
        """The `Guard`, put in this entry's place on its stack; a `PolicyError` leaves it
        pending, to be tried again."""
        if self._guard is not None:
            return self._guard
        loaded = resolve_policy(self._policy)
        audit = open_audit_log(loaded, self._audit_path, session=self._session)
        made = Guard(loaded, audit, self._stack, self.order)
        with INSTALLS:
            if self._guard is None:  # else another thread made it meanwhile: theirs stays
                self._guard = made
                guards = self._stack.guards
                if self in guards:
                    guards[guards.index(self)] = made
        if self._guard is not made and made.audit is not None:
            made.audit.close()
        return self._guard


class EventEmitter(Protocol):
    """What the guard needs of a botocore session or a bare event emitter: (un)registering."""

    def register(self, event_name: str, handler: Callable[..., Any], unique_id: str) -> None:
        """Call ``handler`` on ``event_name`` (botocore's signature)."""

    def unregister(self, event_name: str, handler: Any = None, unique_id: str = ...) -> None:
        """Stop calling ``handler`` on ``event_name`` (botocore's signature)."""


_CLIENT_CLASS_EVENTS = tuple(f"creating-client-class.{s}" for s in operations.SERVICES)


def _hook_session(session: EventEmitter, stack: Stack) -> None:
    """Bind every rds/docdb/neptune client the session creates from now on to ``stack``,
    until the stack is empty."""

    class GuardedClient:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if isinstance(self, BaseClient):
                binding_of(self).session_stacks.append(stack)

    def add_mixin(base_classes: list[type], **_: Any) -> None:
        if GuardedClient not in base_classes:
            base_classes.insert(0, GuardedClient)

    for event in _CLIENT_CLASS_EVENTS:
        session.register(event, add_mixin, unique_id=f"{HOOK_ID}:{event}:{id(stack)}")
    # Weak: the session keys its stack weakly, and the stack holds this.
    session_ref = weakref.ref(session)

    def unhook() -> None:
        hooked = session_ref()
        if hooked is not None:
            for event in _CLIENT_CLASS_EVENTS:
                hooked.unregister(event, add_mixin, unique_id=f"{HOOK_ID}:{event}:{id(stack)}")

    stack.on_empty.append(unhook)


def _stack_of(target: object) -> Stack:
    """The stack of guards installed on ``target``: a new one when none is in force, so that
    a client made under an earlier install, since uninstalled, is not guarded by the next
    (it holds the stack it was bound to, which stays empty)."""
    stack = stack_in_force(target)
    if stack is None or not stack.guards:
        stack = Stack()
        _stacks[target] = weakref.ref(stack)
    return stack


def stack_in_force(target: object) -> Stack | None:
    """The stack of guards last installed on ``target`` (a session, an emitter or
    `_DEFAULT_SESSION`), while anything holds it; None: none."""
    held = _stacks.get(target)
    return None if held is None else held()


def _session_stack(session: EventEmitter) -> Stack:
    """The stack of guards installed on a session (or emitter), its clients hooked to it."""
    stack = _stack_of(session)
    if not stack.guards:
        _hook_session(session, stack)
    return stack


def _hook_default_sessions(stack: Stack) -> None:
    """Bind the clients of boto3's default session to ``stack``: the session in place now, if
    there is one (the install makes none), and, while the stack holds a guard, each one that
    takes its place: when ``boto3.setup_default_session`` returns, when ``boto3.client`` or
    ``boto3.resource`` next fetch it, and when ``boto3.DEFAULT_SESSION`` is set or read from
    outside boto3 (a reference to ``setup_default_session`` taken before the install calls
    boto3's own, and a program may make its clients from ``boto3.DEFAULT_SESSION`` itself:
    `_Boto3Module`)."""
    try:
        import boto3
    except ImportError:
        raise TypeError(
            "install() without a target guards boto3's default session, and boto3 is not"
            " installed: pass a botocore Session or a client"
        ) from None
    hooked: weakref.WeakSet[BotocoreSession] = weakref.WeakSet()

    def hook(session: Any) -> None:
        inner = getattr(session, "_session", None)
        if not isinstance(inner, BotocoreSession) or inner in hooked:
            return
        with INSTALLS:  # the stack and its hooks change together (`INSTALLS`)
            if stack.guards and inner not in hooked:
                hooked.add(inner)
                _hook_session(inner, stack)

    original_setup, original_get = boto3.setup_default_session, boto3._get_default_session
    # Not made here: until boto3 first needs one there is none, and a program may set up its
    # own then (`if boto3.DEFAULT_SESSION is None: boto3.setup_default_session(...)`).
    current = vars(boto3).get("DEFAULT_SESSION")

    @functools.wraps(original_setup)
    def setup_default_session(**kwargs: Any) -> None:
        original_setup(**kwargs)
        hook(boto3.DEFAULT_SESSION)

    @functools.wraps(original_get)
    def _get_default_session() -> Any:
        session = original_get()
        hook(session)
        return session

    def restore() -> None:
        if boto3.setup_default_session is setup_default_session:
            boto3.setup_default_session = original_setup
        if boto3._get_default_session is _get_default_session:
            boto3._get_default_session = original_get
        if type(boto3) is _Boto3Module and _default_session_hook[0] is hook:
            _make(boto3, types.ModuleType)
            _default_session_hook[0] = _no_hook

    boto3.setup_default_session = setup_default_session
    boto3._get_default_session = _get_default_session
    if type(boto3) is types.ModuleType:  # (a module of another class is left as it is)
        _default_session_hook[0] = hook
        _make(boto3, _Boto3Module)
    stack.on_empty.append(restore)
    hook(current)


def _no_hook(_: Any) -> None:
    return None


_default_session_hook: list[Callable[[Any], None]] = [_no_hook]
"""What `_Boto3Module` does with the session it hands or takes (kept out of the module's
attributes: ``boto3.hook`` is no name of boto3's)."""


def _make(module: Any, kind: type[types.ModuleType]) -> None:
    """Give ``module`` the class ``kind`` (a function: written on the module itself, the
    assignment reads to mypy as a declaration of the attribute's type)."""
    module.__class__ = kind


class _Boto3Module(types.ModuleType):
    """boto3's module while its default session is guarded: ``boto3.DEFAULT_SESSION`` read or
    set from outside boto3 (whose own functions read and set their global directly) hooks
    the session first, so that a client made from it is guarded (`_default_session_hook`)."""

    @property
    def DEFAULT_SESSION(self) -> Any:
        """boto3's default session, hooked."""
        try:
            session = self.__dict__["DEFAULT_SESSION"]
        except KeyError:
            raise AttributeError(
                f"module {self.__name__!r} has no attribute 'DEFAULT_SESSION'"
            ) from None
        _default_session_hook[0](session)
        return session

    @DEFAULT_SESSION.setter
    def DEFAULT_SESSION(self, session: Any) -> None:
        self.__dict__["DEFAULT_SESSION"] = session
        _default_session_hook[0](session)

    @DEFAULT_SESSION.deleter
    def DEFAULT_SESSION(self) -> None:
        try:
            del self.__dict__["DEFAULT_SESSION"]
        except KeyError:
            raise AttributeError("'module' object has no attribute 'DEFAULT_SESSION'") from None


def install_on_emitter(
    events: EventEmitter,
    policy: PolicyLike = None,
    *,
    audit_path: str | os.PathLike[str] | None = None,
    session: BotocoreSession | None = None,
) -> Callable[[], Guard]:
    """Guard the rds, docdb and neptune clients created through a bare botocore event emitter.

    For hosts that hand out an emitter rather than a session, such as the AWS CLI (see
    `rds_guard.awscli`). Nothing is read here: the policy (as for `install`) is found and
    loaded, and the audit log opened, at the first guarded operation, so listing and
    describing never read it; a `PolicyError` is raised from that operation (the next one
    tries again). Installs nest as with `install`. ``session``: the host's botocore session,
    when it has one, whose profile and region the fleet ledger's clients then take.
    Returns a function giving this install's `Guard` (loading the policy now, if need be).
    """
    with INSTALLS:
        stack = _session_stack(events)
        pending = _PendingGuard(stack, policy, audit_path, session)
        stack.guards.append(pending)
    return pending.resolve


def bind_client(events: EventEmitter, client: BaseClient) -> ClientBinding:
    """Bind a client made before the guards installed on ``events`` were, whose `StandIns`
    hold its handlers' places, to those guards (`rds_guard.awscli`)."""
    binding = binding_of(client, hook=False)
    stack = stack_in_force(events)
    if stack is not None and stack not in binding.session_stacks:
        binding.session_stacks.append(stack)
    return binding


def open_audit_log(
    policy: Policy,
    audit_path: str | os.PathLike[str] | None = None,
    *,
    session: BotocoreSession | None = None,
) -> AuditLog | None:
    """The audit log a guard writes to: ``audit_path`` > $RDS_GUARD_AUDIT_PATH > the policy.

    With ``[audit.ledger]``, a `ShippingLog` shipping it to the fleet ledger (docs/ledger.md),
    through clients of a new botocore session with the profile, and region, of ``session``
    (the one the guard is installed on) when one is given: a session of its own, since the
    caller's may be async (aiobotocore's), parse answers otherwise (the AWS CLI's), and must
    not be kept alive by the guard.
    """
    settings = policy.audit
    if not settings.enabled:
        return None
    key: bytes | None = None
    if settings.hmac_key_env is not None:
        try:
            key = key_from_env(settings.hmac_key_env)
        except MissingKey as exc:
            key_name = "audit.hmac_key_env"
            raise PolicyError(
                str(exc), path=policy.source, line=key_line(policy, key_name), key=key_name
            ) from None
    # absolute now: a process that changes directory later (a daemon's chdir("/")) keeps
    # writing this log, not an unconnected one in its new directory
    given, named_by = audit_path_of(policy, audit_path)
    if not os.fspath(given):
        raise AuditError(f"the audit log's path ({named_by or 'audit.path'}) is empty")
    try:
        path = os.path.abspath(given)
    except OSError as exc:  # a relative path, and the working directory is gone
        raise AuditError(
            f"{given}: the audit log cannot be found: {exc.strerror}", path=str(given)
        ) from None
    problem = log_problem(path, policy.source)
    if problem is not None:  # found now, not at the first guarded call
        raise AuditError(f"{path}: the audit log cannot be written: {problem}", path=str(path))
    if settings.ledger is not None:  # only then: a guard without a ledger loads none of it
        from ..audit.ledger.spool import open_shipping_log

        return open_shipping_log(
            path,
            settings.ledger,
            fsync=settings.fsync,
            hmac_key=key,
            policy_sha256=policy.sha256,
            lock_timeout=settings.lock_timeout,
            clients=None if session is None else _ledger_clients(settings.ledger, session),
        )
    return AuditLog(
        path,
        fsync=settings.fsync,
        hmac_key=key,
        policy_sha256=policy.sha256,
        lock_timeout=settings.lock_timeout,
    )


def _ledger_clients(ledger: LedgerPolicy, session: BotocoreSession) -> Clients:
    """The fleet ledger's clients for a guard installed on ``session``: from a botocore session
    of their own, of its profile, in the ledger's region or else the session's."""
    from ..audit.ledger.location import Clients, location_of

    region = location_of(ledger).region or session.get_config_variable("region")
    return Clients(region, profile=session.profile)


def _botocore_session(target: object) -> BotocoreSession | None:
    if isinstance(target, BotocoreSession):
        return target
    inner = getattr(target, "_session", None)  # a boto3.Session wraps a botocore one
    return inner if isinstance(inner, BotocoreSession) else None


class _DefaultSession:
    """Stands for `install`'s omitted target: boto3's default session."""

    def __repr__(self) -> str:
        return "boto3's default session"


_DEFAULT_SESSION: object = _DefaultSession()


def install(
    target: object = _DEFAULT_SESSION,
    policy: PolicyLike = None,
    *,
    audit_path: str | os.PathLike[str] | None = None,
) -> Guard:
    """Guard every snapshot a session's (or one client's) rds, docdb and neptune calls make.

    ``target`` is a boto3 Session, a botocore Session or an rds/docdb/neptune client; omitted,
    boto3's default session (the one ``boto3.client`` uses, including one set up later by
    ``boto3.setup_default_session``). ``policy`` is a path, a `Policy`, or None
    ($RDS_GUARD_POLICY, then ./rds_guard.toml). Installs nest: installing again on the same
    target puts the new guard in force; uninstalling it brings back the earlier one.
    """
    client = target if isinstance(target, BaseClient) else None
    session = _botocore_session(target)
    service: str | None = None
    if client is not None:
        service = service_of(client)
        if service not in operations.SERVICES:
            raise ValueError(
                f"rds_guard guards rds, docdb and neptune clients, not a {service!r} client"
            )
    elif session is None and target is not _DEFAULT_SESSION:
        raise TypeError(
            "install() takes a boto3 Session, a botocore Session or an rds/docdb/neptune"
            f" client, not {type(target).__name__}"
        )
    loaded = resolve_policy(policy)
    audit = open_audit_log(loaded, audit_path, session=session)
    if service is not None and service not in loaded.services:
        logger.warning(
            "the policy's services leave out %s; this %s client is judged all the same",
            service,
            service,
        )
    with INSTALLS:  # the stack and its hooks change together (`INSTALLS`)
        if client is not None:
            binding = binding_of(client)
            stack = binding.client_stack = binding.client_stack or Stack()
        elif session is not None:
            stack = _session_stack(session)
        else:
            stack = _stack_of(_DEFAULT_SESSION)
        guard = Guard(loaded, audit, stack)
        stack.guards.append(guard)
        if client is None and session is None and stack.guards == [guard]:
            try:  # hooked with the guard in force: the session in place now is hooked too
                _hook_default_sessions(stack)
            except BaseException:
                guard.uninstall()
                raise
    return guard


_bindings: weakref.WeakKeyDictionary[BaseClient, ClientBinding] = weakref.WeakKeyDictionary()


def binding_of(client: BaseClient, *, hook: bool = True) -> ClientBinding:
    """The client's binding, made (and, with ``hook``, its handlers registered) the first
    time; without ``hook``, for a client whose `StandIns` hold the handlers' places."""
    binding = _bindings.get(client)
    if binding is None:
        if _is_async(client):
            from .aio import AioClientBinding  # only async applications need it

            binding = AioClientBinding(client, hook=hook)
        else:
            binding = ClientBinding(client, hook=hook)
        _bindings[client] = binding
    return binding


def _is_async(client: BaseClient) -> bool:
    """Whether ``client`` is aiobotocore's: of its base class (aiobotocore imported, as it
    must be to have made one), not by its ``_make_api_call`` alone, which a tracer may have
    wrapped in a plain function that returns the coroutine; else a client whose
    ``_make_api_call`` is a coroutine function."""
    module = sys.modules.get("aiobotocore.client")
    base = getattr(module, "AioBaseClient", None)
    if isinstance(base, type) and isinstance(client, base):
        return True
    return inspect.iscoroutinefunction(type(client)._make_api_call)

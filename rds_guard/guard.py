"""botocore glue: install/uninstall, the event handlers, per-call state.

The only module that knows botocore's events. Each handler translates botocore's keyword
arguments into a call to `decide.decide` or into an audit record, and nothing more.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.client import BaseClient
from botocore.session import Session as BotocoreSession

from . import aws
from .audit import AuditLog, MissingKey, key_from_env, new_call_id
from .core import operations
from .core.decide import UNREADABLE, CallFacts, Decision, SourceTags, decide
from .core.operations import Operation
from .core.policy import Policy, PolicyLike, resolve_policy
from .errors import PolicyError, PolicyViolation

logger = logging.getLogger("rds_guard")
audit_logger = logging.getLogger("rds_guard.audit")

CONTEXT_KEY = "rds_guard"
AUDIT_PATH_ENV = "RDS_GUARD_AUDIT_PATH"


@dataclass(frozen=True)
class CallRecord:
    """What one guarded call carries from before-parameter-build to its outcome record.

    Plain data only: botocore deep-copies the request context to presign cross-region copies.
    """

    call: str
    outcome: str
    fields: dict[str, Any] = field(default_factory=dict)
    requested: bool = False


class _Stack:
    """The guards installed on one target (a session, an emitter or a client), oldest first.

    The newest is in force; uninstalling it brings back the one before it. ``on_empty`` runs
    when the last guard leaves (a session's hook is removed then).
    """

    def __init__(self) -> None:
        self.guards: list[Guard | _PendingGuard] = []
        self.on_empty: Callable[[], None] | None = None

    def top(self) -> Guard | None:
        """The guard in force (resolving one installed lazily), or None."""
        if not self.guards:
            return None
        top = self.guards[-1]
        return top if isinstance(top, Guard) else top.resolve()

    def push(self, guard: Guard | _PendingGuard) -> None:
        self.guards.append(guard)

    def remove(self, guard: Guard | _PendingGuard) -> None:
        if guard in self.guards:
            self.guards.remove(guard)
            if not self.guards and self.on_empty is not None:
                self.on_empty()
                self.on_empty = None


_stacks: weakref.WeakKeyDictionary[object, _Stack] = weakref.WeakKeyDictionary()
_bindings: weakref.WeakKeyDictionary[BaseClient, _ClientBinding] = weakref.WeakKeyDictionary()


class Guard:
    """An installed policy. Use `install` to make one; leaving a ``with`` block uninstalls it."""

    def __init__(self, policy: Policy, audit: AuditLog | None, stack: _Stack) -> None:
        self.policy = policy
        self.audit = audit
        self._stack = stack

    @property
    def active(self) -> bool:
        """True while this guard is the one in force where it was installed."""
        return bool(self._stack.guards) and self._stack.guards[-1] is self

    def uninstall(self) -> None:
        """Make this guard inert everywhere it reached, clients created meanwhile included.

        The guard installed before it on the same target, if any, is in force again.
        """
        self._stack.remove(self)
        if self.audit is not None:
            self.audit.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        state = "active" if self.active else "inert"
        return f"<rds_guard.Guard {self.policy.mode} {self.policy.source} ({state})>"

    # The handlers' work, called by the client binding with the guard in force.

    def judge(
        self,
        binding: _ClientBinding,
        row: Operation,
        params: dict[str, Any],
        context: dict[str, Any],
    ) -> None:
        """before-parameter-build: decide, block or warn, and write the final parameters."""
        facts = CallFacts(binding.service, binding.region, datetime.now(UTC), os.environ)
        decision = decide(
            self.policy, row, params, facts, lambda: binding.read_source_tags(row, params)
        )
        if not decision.recorded:
            return
        record = (
            None  # nothing will be written: no call id, no record fields
            if self.audit is None
            else CallRecord(
                new_call_id(), decision.outcome or "", _record_fields(decision, binding)
            )
        )
        if decision.violations and self.policy.mode == "enforce":
            if record is not None:
                self._write_safely("blocked", record.fields | {"call": record.call})
            raise PolicyViolation(row.name, decision.violations)
        for violation in decision.violations:
            logger.warning(
                "%s %s: %s (mode = warn, sent anyway)", binding.service, row.name, violation
            )
        for key, value in decision.params.items():
            if params.get(key) is not value:
                params[key] = value
        if record is not None:
            context[CONTEXT_KEY] = record

    def write_ahead(self, context: dict[str, Any]) -> None:
        """before-call: the ``requested`` record; if it cannot be written, nothing is sent."""
        record = context.get(CONTEXT_KEY)
        if isinstance(record, CallRecord) and self.audit is not None:
            self.audit.write("requested", call=record.call, **record.fields)
            context[CONTEXT_KEY] = dataclasses.replace(record, requested=True)

    def record_outcome(
        self, context: Mapping[str, Any], parsed: Mapping[str, Any], row: Operation
    ) -> None:
        """after-call: ``created`` (or the row's outcome), ``failed`` or ``unknown``.

        Only for calls whose ``requested`` record was written: another before-call handler
        (botocore's Stubber, a test responder) may have answered without anything being sent.
        """
        record = context.get(CONTEXT_KEY)
        if not isinstance(record, CallRecord) or not record.requested:
            return
        try:
            event, fields = _outcome(record, parsed, row)
        except Exception:  # the call has happened: nothing may reach the caller from here
            audit_logger.exception("could not build the outcome record of call %s", record.call)
            return
        self._write_safely(event, fields)

    def record_no_response(self, context: Mapping[str, Any], exception: BaseException) -> None:
        """after-call-error: no answer came back, so the snapshot may or may not exist."""
        record = context.get(CONTEXT_KEY)
        if isinstance(record, CallRecord) and record.requested:
            error = {"code": type(exception).__name__, "message": str(exception)}
            self._write_safely("unknown", record.fields | {"call": record.call, "error": error})

    def _write_safely(self, event: str, fields: dict[str, Any]) -> None:
        if self.audit is None:
            return
        try:
            self.audit.write(event, **fields)
        except Exception:
            audit_logger.exception(
                "could not write the %r audit record for call %s", event, fields.get("call")
            )


class _PendingGuard:
    """A guard whose policy is found and loaded when it is first needed (`install_on_emitter`)."""

    def __init__(
        self, stack: _Stack, policy: PolicyLike, audit_path: str | os.PathLike[str] | None
    ) -> None:
        self._stack = stack
        self._policy = policy
        self._audit_path = audit_path
        self._guard: Guard | None = None

    def resolve(self) -> Guard:
        """The `Guard`, put in this entry's place on its stack; a `PolicyError` leaves it
        pending, to be tried again."""
        if self._guard is None:
            loaded = resolve_policy(self._policy)
            self._guard = Guard(loaded, open_audit_log(loaded, self._audit_path), self._stack)
            guards = self._stack.guards
            if self in guards:
                guards[guards.index(self)] = self._guard
        return self._guard


def _outcome(
    record: CallRecord, parsed: Mapping[str, Any], row: Operation
) -> tuple[str, dict[str, Any]]:
    """The outcome event of an answered call and its record's fields."""
    metadata = parsed.get("ResponseMetadata", {})
    fields = dict(record.fields, call=record.call, request_id=metadata.get("RequestId"))
    error = parsed.get("Error")
    if not error:
        return record.outcome, fields | _reported_snapshot(row, parsed)
    code = str(error.get("Code", ""))
    fields["error"] = {"code": code, "message": str(error.get("Message", ""))}
    retried = int(metadata.get("RetryAttempts", 0) or 0) > 0
    # the first attempt may have made it: only reconcile can tell
    return ("unknown" if retried and "AlreadyExists" in code else "failed"), fields


def _record_fields(decision: Decision, binding: _ClientBinding) -> dict[str, Any]:
    return {
        "service": decision.service,
        "operation": decision.operation,
        "region": binding.region,
        "snapshot": decision.snapshot,
        "source": decision.source,
        "arn": decision.arn,
        "tags": dict(decision.tags),
        "injected": list(decision.injected),
        "inherited": list(decision.inherited),
        "violations": [v.as_dict() for v in decision.violations],
        "notes": list(decision.notes),
    }


def _reported_snapshot(row: Operation, parsed: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot's identifier and ARN as the service reported them, when it did."""
    reported = parsed.get(row.response_key) if row.response_key else None
    if not isinstance(reported, Mapping):
        return {}
    found: dict[str, Any] = {}
    identifier = reported.get(row.response_identifier) if row.response_identifier else None
    if isinstance(identifier, str):
        found["snapshot"] = identifier.lower()
    arn = reported.get(row.response_arn) if row.response_arn else None
    if isinstance(arn, str):
        found["arn"] = arn
    return found


class _ClientBinding:
    """One client's hooks. Handlers get no client, so each client gets a binding of its own.

    Each handler is registered under the exact event name of one guarded operation (its place
    in botocore's handler order), bound to that operation's row.
    """

    def __init__(self, client: BaseClient) -> None:
        self._client = weakref.ref(client)
        self.service = client.meta.service_model.service_id.hyphenize()
        self.region: str | None = client.meta.region_name
        self.client_stack: _Stack | None = None
        self.session_stack: _Stack | None = None
        events = client.meta.events
        for service, name in operations.guarded_pairs():
            if service != self.service:
                continue
            row = operations.OPERATIONS[name]
            for stage, handler in (
                ("before-parameter-build", self.before_parameter_build),
                ("before-call", self.before_call),
                ("after-call", self.after_call),
                ("after-call-error", self.after_call_error),
            ):
                event = f"{stage}.{service}.{name}"
                events.register(
                    event, functools.partial(handler, row), unique_id=f"rds_guard:{event}"
                )

    def guard(self) -> Guard | None:
        """The guard in force: a direct install on the client wins over its session's."""
        for stack in (self.client_stack, self.session_stack):
            guard = stack.top() if stack is not None else None
            if guard is not None:
                return guard
        return None

    def before_parameter_build(
        self, row: Operation, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        guard = self.guard()
        if guard is not None:
            guard.judge(self, row, params, context)

    def before_call(self, row: Operation, context: dict[str, Any], **_: Any) -> None:
        guard = self.guard()
        if guard is not None:
            guard.write_ahead(context)

    def after_call(
        self, row: Operation, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        guard = self.guard()
        if guard is not None:
            guard.record_outcome(context, parsed, row)

    def after_call_error(
        self, row: Operation, exception: BaseException, context: dict[str, Any], **_: Any
    ) -> None:
        guard = self.guard()
        if guard is not None:
            guard.record_no_response(context, exception)

    def read_source_tags(self, row: Operation, params: Mapping[str, Any]) -> SourceTags:
        """The tags the source would pass on (None: it passes none), read with read-only calls."""
        client = self._client()
        reference = params.get(row.source) if row.source else None
        if client is None or row.lookup is None or not isinstance(reference, str):
            return None
        arn_region = operations.arn_region(reference)
        if arn_region is not None and arn_region != self.region:
            return UNREADABLE
        try:
            return aws.run(client, aws.source_tags(row.lookup, reference))
        except Exception as exc:
            # Whatever stops the read, the tags are unknown: AccessDenied, a missing source,
            # a reference the wire cannot carry (a lone surrogate) or an answer that botocore
            # cannot parse all fail closed as tags.inherit.
            logger.debug("could not read the tags of %s: %s", reference, exc)
            return UNREADABLE


def _binding(client: BaseClient) -> _ClientBinding:
    binding = _bindings.get(client)
    if binding is None:
        binding = _bindings[client] = _ClientBinding(client)
    return binding


class EventEmitter(Protocol):
    """What the guard needs of a botocore session or a bare event emitter: (un)registering."""

    def register(self, event_name: str, handler: Callable[..., Any], unique_id: str) -> None: ...

    def unregister(self, event_name: str, handler: Any = None, unique_id: str = ...) -> None: ...


_CLIENT_CLASS_EVENTS = tuple(f"creating-client-class.{s}" for s in operations.SERVICES)


def _hook_session(session: EventEmitter, stack: _Stack) -> None:
    """Bind every rds/docdb/neptune client the session creates from now on to ``stack``,
    until the stack is empty."""

    class GuardedClient:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if isinstance(self, BaseClient):
                _binding(self).session_stack = stack

    def add_mixin(base_classes: list[type], **_: Any) -> None:
        if GuardedClient not in base_classes:
            base_classes.insert(0, GuardedClient)

    for event in _CLIENT_CLASS_EVENTS:
        session.register(event, add_mixin, unique_id=f"rds_guard:{event}")
    # Weak: the session keys its stack weakly, and the stack holds this.
    session_ref = weakref.ref(session)

    def unhook() -> None:
        hooked = session_ref()
        if hooked is not None:
            for event in _CLIENT_CLASS_EVENTS:
                hooked.unregister(event, add_mixin, unique_id=f"rds_guard:{event}")

    stack.on_empty = unhook


def _stack_of(target: object, *, hook: EventEmitter | None = None) -> _Stack:
    """The stack of guards installed on ``target``; ``hook``: bind the clients it creates."""
    stack = _stacks.get(target)
    if stack is None:
        stack = _stacks[target] = _Stack()
    if hook is not None and stack.on_empty is None:
        _hook_session(hook, stack)
    return stack


def install_on_emitter(
    events: EventEmitter,
    policy: PolicyLike = None,
    *,
    audit_path: str | os.PathLike[str] | None = None,
) -> Callable[[], Guard]:
    """Guard the rds, docdb and neptune clients created through a bare botocore event emitter.

    For hosts that hand out an emitter rather than a session, such as the AWS CLI (see
    `rds_guard.awscli`). Nothing is read here: the policy (as for `install`) is found and
    loaded, and the audit log opened, when the first guarded client is created; a
    `PolicyError` is raised from that client's creation (the next one tries again). Installs
    nest as with `install`. Returns a function giving this install's `Guard`.
    """
    for event in _CLIENT_CLASS_EVENTS:
        events.register(event, _resolve_on(events), unique_id=f"rds_guard:policy:{event}")
    stack = _stack_of(events, hook=events)
    pending = _PendingGuard(stack, policy, audit_path)
    stack.push(pending)
    return pending.resolve


def _resolve_on(events: EventEmitter) -> Callable[..., None]:
    """A creating-client-class handler resolving the install in force on ``events``."""
    events_ref = weakref.ref(events)  # the emitter holds the handler: no cycle through it

    def resolve(**_: Any) -> None:
        stack = _stacks.get(events_ref())
        if stack is not None:
            stack.top()

    return resolve


def open_audit_log(
    policy: Policy, audit_path: str | os.PathLike[str] | None = None
) -> AuditLog | None:
    """The audit log a guard writes to: ``audit_path`` > $RDS_GUARD_AUDIT_PATH > the policy."""
    settings = policy.audit
    if not settings.enabled:
        return None
    key: bytes | None = None
    if settings.hmac_key_env is not None:
        try:
            key = key_from_env(settings.hmac_key_env)
        except MissingKey as exc:
            raise PolicyError(str(exc), path=policy.source, key="audit.hmac_key_env") from None
    path = audit_path if audit_path is not None else os.environ.get(AUDIT_PATH_ENV) or settings.path
    return AuditLog(path, fsync=settings.fsync, hmac_key=key, policy_sha256=policy.sha256)


def _botocore_session(target: object) -> BotocoreSession | None:
    if isinstance(target, BotocoreSession):
        return target
    inner = getattr(target, "_session", None)  # a boto3.Session wraps a botocore one
    return inner if isinstance(inner, BotocoreSession) else None


def install(
    target: object,
    policy: PolicyLike = None,
    *,
    audit_path: str | os.PathLike[str] | None = None,
) -> Guard:
    """Guard every snapshot a session's (or one client's) rds, docdb and neptune calls make.

    ``target`` is a boto3 Session, a botocore Session or an rds/docdb/neptune client.
    ``policy`` is a path, a `Policy`, or None ($RDS_GUARD_POLICY, then ./rds_guard.toml).
    Installing again on the same target puts the new guard in force; uninstalling it brings
    back the earlier one.
    """
    client = target if isinstance(target, BaseClient) else None
    session = None if client is not None else _botocore_session(target)
    if client is not None:
        service = client.meta.service_model.service_id.hyphenize()
        if service not in operations.SERVICES:
            raise ValueError(
                f"rds_guard guards rds, docdb and neptune clients, not a {service!r} client"
            )
    elif session is None:
        raise TypeError(
            "install() takes a boto3 Session, a botocore Session or an rds/docdb/neptune"
            f" client, not {type(target).__name__}"
        )
    loaded = resolve_policy(policy)
    audit = open_audit_log(loaded, audit_path)
    if client is not None:
        binding = _binding(client)
        stack = binding.client_stack = binding.client_stack or _Stack()
    else:
        stack = _stack_of(session, hook=session)
    guard = Guard(loaded, audit, stack)
    stack.push(guard)
    return guard

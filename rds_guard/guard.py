"""botocore glue: install/uninstall, the event handlers, per-call state.

The only module that knows botocore's events. Each handler translates botocore's keyword
arguments into a call to `decide.decide` or into an audit record, and nothing more.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore import xform_name
from botocore.client import BaseClient
from botocore.session import Session as BotocoreSession

from .audit import AuditLog, MissingKey, key_from_env, new_call_id
from .core import operations
from .core.decide import UNREADABLE, CallFacts, Decision, SourceTags, decide
from .core.operations import Operation, SourceLookup
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


class _Slot:
    """The guard currently in force for one install target (a session or a client)."""

    def __init__(self) -> None:
        self.guard: Guard | None = None


_slots: weakref.WeakKeyDictionary[object, _Slot] = weakref.WeakKeyDictionary()
_bindings: weakref.WeakKeyDictionary[BaseClient, _ClientBinding] = weakref.WeakKeyDictionary()


class Guard:
    """An installed policy. Use `install` to make one; leaving a ``with`` block uninstalls it."""

    def __init__(
        self, policy: Policy, audit: AuditLog | None, slot: _Slot, unhook: Callable[[], None]
    ) -> None:
        self.policy = policy
        self.audit = audit
        self._slot = slot
        self._unhook = unhook

    @property
    def active(self) -> bool:
        """True while this guard is the one in force where it was installed."""
        return self._slot.guard is self

    def uninstall(self) -> None:
        """Make this guard inert everywhere it reached, clients created meanwhile included."""
        if self._slot.guard is self:
            self._slot.guard = None
            self._unhook()
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
    """One client's hooks. Handlers get no client, so each client gets a binding of its own."""

    def __init__(self, client: BaseClient) -> None:
        self._client = weakref.ref(client)
        self.service = client.meta.service_model.service_id.hyphenize()
        self.region: str | None = client.meta.region_name
        self.client_slot: _Slot | None = None
        self.session_slot: _Slot | None = None
        events = client.meta.events
        for service, name in operations.guarded_pairs():
            if service != self.service:
                continue
            for stage, handler in self._handlers():
                event = f"{stage}.{service}.{name}"
                events.register(event, handler, unique_id=f"rds_guard:{event}")

    def _handlers(self) -> tuple[tuple[str, Callable[..., None]], ...]:
        return (
            ("before-parameter-build", self.before_parameter_build),
            ("before-call", self.before_call),
            ("after-call", self.after_call),
            ("after-call-error", self.after_call_error),
        )

    def guard(self) -> Guard | None:
        """The guard in force: a direct install on the client wins over its session's."""
        for slot in (self.client_slot, self.session_slot):
            if slot is not None and slot.guard is not None:
                return slot.guard
        return None

    def before_parameter_build(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        guard = self.guard()
        row = operations.find(self.service, model.name)
        if guard is not None and row is not None:
            guard.judge(self, row, params, context)

    def before_call(self, context: dict[str, Any], **_: Any) -> None:
        guard = self.guard()
        if guard is not None:
            guard.write_ahead(context)

    def after_call(
        self, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        guard = self.guard()
        row = operations.find(self.service, model.name)
        if guard is not None and row is not None:
            guard.record_outcome(context, parsed, row)

    def after_call_error(self, exception: BaseException, context: dict[str, Any], **_: Any) -> None:
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
            return _read_tags(client, row.lookup, reference)
        except Exception as exc:
            # Whatever stops the read, the tags are unknown: AccessDenied, a missing source,
            # a reference the wire cannot carry (a lone surrogate) or an answer that botocore
            # cannot parse all fail closed as tags.inherit.
            logger.debug("could not read the tags of %s: %s", reference, exc)
            return UNREADABLE


def _call(client: BaseClient, operation: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = getattr(client, xform_name(operation))(**params)
    return result


def _read_tags(client: BaseClient, lookup: SourceLookup, reference: str) -> SourceTags:
    described = _call(client, lookup.operation, **{lookup.parameter: reference})
    item = described[lookup.result_list][0]
    if lookup.copy_flag is not None and not item.get(lookup.copy_flag):
        return None
    return described_tags(client, item, lookup.arn_key)


def described_tags(client: BaseClient, item: Mapping[str, Any], arn_key: str) -> dict[str, str]:
    """A described resource's tags: its TagList, else ListTagsForResource on its ARN.

    DocumentDB and Neptune describe results carry no TagList.
    """
    tag_list = item.get("TagList")
    if tag_list is None:
        tag_list = _call(client, "ListTagsForResource", ResourceName=item[arn_key])["TagList"]
    return {tag["Key"]: tag.get("Value", "") for tag in tag_list}


def _binding(client: BaseClient) -> _ClientBinding:
    binding = _bindings.get(client)
    if binding is None:
        binding = _bindings[client] = _ClientBinding(client)
    return binding


def _botocore_session(target: object) -> BotocoreSession | None:
    if isinstance(target, BotocoreSession):
        return target
    inner = getattr(target, "_session", None)  # a boto3.Session wraps a botocore one
    return inner if isinstance(inner, BotocoreSession) else None


class EventEmitter(Protocol):
    """What the guard needs of a botocore session or a bare event emitter: (un)registering."""

    def register(self, event_name: str, handler: Callable[..., Any], unique_id: str) -> None: ...

    def unregister(self, event_name: str, handler: Any = None, unique_id: str = ...) -> None: ...


def _hook_session(session: EventEmitter, slot: _Slot) -> Callable[[], None]:
    """Give every rds/docdb/neptune client the session creates from now on a binding."""

    class GuardedClient:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if isinstance(self, BaseClient):
                _binding(self).session_slot = slot

    def add_mixin(base_classes: list[type], **_: Any) -> None:
        if GuardedClient not in base_classes:
            base_classes.insert(0, GuardedClient)

    events = [f"creating-client-class.{service}" for service in operations.SERVICES]
    for event in events:
        session.register(event, add_mixin, unique_id=f"rds_guard:{event}")
    # Weak: the session keys its slot weakly, and the slot holds the guard that holds this.
    session_ref = weakref.ref(session)

    def unhook() -> None:
        hooked = session_ref()
        if hooked is not None:
            for event in events:
                hooked.unregister(event, add_mixin, unique_id=f"rds_guard:{event}")

    return unhook


def install_on_emitter(
    events: EventEmitter,
    policy: PolicyLike = None,
    *,
    audit_path: str | os.PathLike[str] | None = None,
) -> Callable[[], Guard]:
    """Guard the rds, docdb and neptune clients created through a bare botocore event emitter.

    For hosts that hand out an emitter rather than a session, such as the AWS CLI, whose
    plugins get ``awscli_initialize(event_hooks)`` (see `rds_guard.awscli`). Nothing is read
    here: the policy (as for `install`; None: $RDS_GUARD_POLICY, then ./rds_guard.toml) is
    resolved and the audit log opened when the first guarded client is created, and a
    `PolicyError` is raised from that client's creation (the next one tries again). A host
    that never creates such a client never reads the policy. Installing again on the same
    emitter replaces the earlier guard, as `install` does.

    Returns a function giving this install's `Guard`, resolving it first if no guarded client
    has been created yet.
    """
    slot = _slots.setdefault(events, _Slot())
    if slot.guard is not None:
        slot.guard.uninstall()
    loaders = [
        (event, f"rds_guard:policy:{event}")
        for event in (f"creating-client-class.{service}" for service in operations.SERVICES)
    ]
    made: list[Guard] = []

    def guard() -> Guard:
        if not made:
            loaded = resolve_policy(policy)
            made.append(Guard(loaded, open_audit_log(loaded, audit_path), slot, unhook))
            slot.guard = made[0]
        return made[0]

    def load(**_: Any) -> None:
        guard()

    events_ref = weakref.ref(events)  # weak, as in _hook_session

    def unhook() -> None:
        hooked = events_ref()
        if hooked is not None:
            for event, unique_id in loaders:
                hooked.unregister(event, load, unique_id=unique_id)
        unhook_mixin()

    for event, unique_id in loaders:
        events.unregister(event, unique_id=unique_id)  # an earlier install's, never resolved
        events.register(event, load, unique_id=unique_id)
    unhook_mixin = _hook_session(events, slot)
    return guard


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


def install(
    target: object,
    policy: PolicyLike = None,
    *,
    audit_path: str | os.PathLike[str] | None = None,
) -> Guard:
    """Guard every snapshot a session's (or one client's) rds, docdb and neptune calls make.

    ``target`` is a boto3 Session, a botocore Session or an rds/docdb/neptune client.
    ``policy`` is a path, a `Policy`, or None ($RDS_GUARD_POLICY, then ./rds_guard.toml).
    Installing again on the same target replaces the earlier guard everywhere it reached.
    """
    if isinstance(target, BaseClient):
        service = target.meta.service_model.service_id.hyphenize()
        if service not in operations.SERVICES:
            raise ValueError(
                f"rds_guard guards rds, docdb and neptune clients, not a {service!r} client"
            )
    session = None if isinstance(target, BaseClient) else _botocore_session(target)
    if session is None and not isinstance(target, BaseClient):
        raise TypeError(
            "install() takes a boto3 Session, a botocore Session or an rds/docdb/neptune"
            f" client, not {type(target).__name__}"
        )
    loaded = resolve_policy(policy)
    audit = open_audit_log(loaded, audit_path)
    if isinstance(target, BaseClient):
        binding = _binding(target)
        slot = binding.client_slot = binding.client_slot or _Slot()
        unhook: Callable[[], None] = lambda: None  # noqa: E731
    else:
        assert session is not None
        slot = _slots.setdefault(session, _Slot())
        unhook = _hook_session(session, slot)
    previous = slot.guard
    guard = Guard(loaded, audit, slot, unhook)
    slot.guard = guard
    if previous is not None and previous.audit is not None and previous.audit is not audit:
        previous.audit.close()
    return guard

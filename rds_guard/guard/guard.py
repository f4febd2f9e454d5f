"""The guard itself: `Guard`, the stack of guards installed on one target, and the work each
of botocore's events asks of the guard in force (judge, hold the request against the
judgement, record). The client bindings that call it are in `binding`; installing in
`installs`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import wire
from ..audit import AuditLog, new_call_id
from ..core import copies
from ..core.calls import Decision, LookupSource
from ..core.decide import decide
from ..core.logs import AUDIT_LOGGER as audit_logger
from ..core.logs import LOGGER as logger
from ..core.operations import OPERATIONS, Operation
from ..core.policy import Policy
from ..core.rules import Violation
from ..errors import PolicyViolation
from ..records import (
    GuardedCall,
    error_of,
    expiry,
    outcome,
    record_fields,
    request_fields,
    sent_tags,
)
from .changes import (
    changed_notes,
    changed_violations,
    invalid_given,
    judged_anew,
    kept_anew,
    swapped_note,
    unjudged_violations,
)
from .progress import forget_presigns_of
from .reads import CallReads, LookupFailed
from .stacks import INSTALL_ORDER, cannot_enter

if TYPE_CHECKING:
    from .binding import ClientBinding
    from .stacks import Stack


class Guard:
    """An installed policy. Use `install` to make one; leaving a ``with`` block uninstalls it
    (one block: entering it inside its own, or once uninstalled, is a `RuntimeError`)."""

    def __init__(
        self, policy: Policy, audit: AuditLog | None, stack: Stack, order: int | None = None
    ) -> None:
        self._policy = policy
        self.audit = audit
        self._stack = stack
        self._uninstalled = self._entered = False
        self.order = next(INSTALL_ORDER) if order is None else order
        """When it was installed (`INSTALL_ORDER`; a lazy install's, when it was made)."""
        # warn mode: a read that fails (the source does not exist, the endpoint cannot be
        # reached) does not stop the call, which is sent as made (`CallReads`)
        self.lenient = policy.mode == "warn"
        # the operations whose missing snapshot name the policy's template fills in: for them
        # botocore's validation sees a name (`ClientBinding.reads`)
        self.names_generated = frozenset(
            name
            for name, row in OPERATIONS.items()
            if row.generates_name and policy.naming_for(name).generate is not None
        )

    @property
    def policy(self) -> Policy:
        """The loaded `Policy` this guard judges by. Read-only: what the guard settled at
        install rests on it (warn mode's leniency, the names it generates), and its audit
        log's records carry its digest."""
        return self._policy

    def resolve(self) -> Guard:
        """The guard itself (as a stack holds it, an `Installed` like a lazy install)."""
        return self

    @property
    def active(self) -> bool:
        """True while this guard is the one in force where it was installed."""
        return bool(self._stack.guards) and self._stack.guards[-1] is self

    def uninstall(self) -> None:
        """Make this guard inert everywhere it reached, clients created meanwhile included.

        The guard installed before it on the same target, if any, is in force again. A call
        this guard judged already is still carried through by it: its records go to this
        guard's log (opened for its record, then closed again).
        """
        self._stack.remove(self)
        forget_presigns_of(self)  # one whose signing failed would keep this guard alive
        self._uninstalled = True  # before the log is closed: a record written since closes it
        if self.audit is not None:
            self.audit.close()

    def __enter__(self) -> Guard:
        if self._uninstalled or self._entered:  # its calls would go unguarded, unsaid
            raise cannot_enter(self, uninstalled=self._uninstalled)
        self._entered = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        state = "active" if self.active else "inert"
        return f"<rds_guard.Guard {self.policy.mode} {self.policy.source} ({state})>"

    # The handlers' work, called by the client binding with the guard in force.

    def judge(
        self,
        binding: ClientBinding,
        row: Operation,
        params: dict[str, Any],
        lookups: LookupSource | Decision,
        invalid: tuple[Violation, ...] = (),
        *,
        settle: bool = True,
    ) -> GuardedCall | None:
        """before-parameter-build: decide, block or warn, and write the final parameters.

        ``lookups``: those of the call, or the decision made with them already (an async
        binding decides while it awaits them); ``invalid``: what `check_types` warned about,
        which the call's records carry first; ``settle`` False: the violations are kept
        pending (`complete` blocks or warns about them), and a read that failed is raised as
        `LookupFailed`, unrecorded (`deferred`: a later handler may name what it reads).
        Returns the call's state (unrecorded for a call with nothing to judge, kept to be
        held against what is sent).
        """
        decision = self._decide(binding, row, params, lookups, record_failure=settle)
        if not decision.recorded:
            return self._unrecorded(row, decision.params)
        fields = record_fields(decision, binding.region)
        if invalid:
            fields["violations"] = [v.as_dict() for v in invalid] + fields["violations"]
        call = GuardedCall(new_call_id(), decision.outcome or "", fields, {}, self.policy.mode)
        call.guard, call.pending = self, decision.violations
        if settle:
            self.settle(call, row)
        for key, value in decision.params.items():
            if not copies.holds(params, key, value):  # what the decision wrote, or
                params[key] = value  # what the caller's objects no longer say they hold
        # what was decided, not the caller's objects: a change to them since is held at
        # request-created against it
        call.judged = self.judged_of(row, decision.params)
        return call

    def deferred(self, row: Operation, reads: CallReads | None = None) -> GuardedCall:
        """A call botocore's validation refuses as it stands at the guard's handler, or one
        of whose ``reads`` failed (`LookupFailed`: the snapshot it names is not found, say):
        another ``before-parameter-build`` handler may complete it (a name, its tags) or
        rename what it reads, so it is judged once they have all run (`complete`); if none
        does, botocore refuses it, or the read's failure stands, read once. It holds no
        judgement: one that reaches request-created so (a handler mended it after the guard's
        last one, or took the guard's state from its context before that one ran) is judged
        there as it is sent (`unjudged`)."""
        failed = reads if reads is not None and reads.failed else None
        call = self._unrecorded(row, {} if failed is None else failed.params)
        call.deferred = call.unjudged = True
        call.failed_reads = failed
        return call

    def failed_as_read(self, call: GuardedCall, judged: Mapping[str, Any]) -> bool:
        """Whether ``call`` was deferred as a read failed and still rests on what was read
        (``judged``: `judged_of` the call now): the failure stands, nothing read again."""
        return call.failed_reads is not None and wire.same(judged, call.judged)

    def complete(
        self,
        binding: ClientBinding,
        row: Operation,
        call: GuardedCall,
        params: dict[str, Any],
        lookups: LookupSource | Decision | None = None,
        judged: dict[str, Any] | None = None,
    ) -> GuardedCall | None:
        """before-parameter-build, after every other handler of it: a `deferred` call judged
        now; a call with violations held again if a handler changed it since it was judged
        (one that completes the call goes on), else blocked or warned about. Returns the
        call's state (a deferred call's is new). ``judged``: what the judgement rests on, as
        the caller read it from ``params`` (`judged_of`; None: read here): an async binding
        reads it on its loop, with the look-ups it awaited for it, before this runs in a
        worker thread; a change the caller's other tasks make meanwhile is held at
        request-created, where its look-ups are awaited too."""
        now = self.judged_of(row, params) if judged is None else judged
        if self.failed_as_read(call, now):  # recorded and raised, as read
            return self.judge(binding, row, params, call.failed_reads)
        if call.deferred:
            found = lookups if lookups is not None else binding.reads(row, params, self)
            invalid = self.check_types(binding, row, params, binding.invalid(row, params))
            return self.judge(binding, row, params, found, invalid)
        if not wire.same(now, call.judged):
            invalid = self.check_types(binding, row, params, binding.invalid(row, params))
            # the judgement's own violations stand until the call as changed is judged (a
            # refusal raised meanwhile leaves them to `check_sent`)
            self._judge_again(binding, row, call, now, lookups, invalid)
            call.pending = ()
        else:
            self.settle(call, row)
        return call

    @staticmethod
    def judged_of(row: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
        """What a decision on a call of ``row`` rests on, copied from ``params`` as it is now
        (the request is held against it at request-created)."""
        return {name: copies.plain_copy(params[name]) for name in row.judged if name in params}

    def settle(self, call: GuardedCall, row: Operation) -> None:
        """Block (enforce) or warn about the call's pending violations."""
        pending, call.pending = call.pending, ()
        self._enforce(call, row, pending)

    def _unrecorded(self, row: Operation, params: Mapping[str, Any]) -> GuardedCall:
        """A call with nothing to judge (a share of another attribute, a ModifyDBInstance
        that keeps the backups): kept unrecorded, so that another handler turning it into one
        the rules apply to is judged again at request-created."""
        judged = self.judged_of(row, params)
        call = GuardedCall("", "", {"operation": row.name}, judged, self.policy.mode)
        call.recorded, call.guard = False, self
        return call

    def unjudged(self, row: Operation, binding: ClientBinding, made_from: str = "") -> GuardedCall:
        """A call of ``row`` whose request of ``binding``'s client reached ``request-created``
        with no judgement of its own: it is judged there, as it is sent
        (`changes.unjudged_violations`), with a note saying why. ``made_from``: the operation,
        one the guard does not judge, whose call another handler made into this one; empty:
        no judgement reached the request (`GuardedCall.unjudged_note`)."""
        call = self._unrecorded(row, {})
        call.unjudged, call.made_from, call.binding = True, made_from, binding
        return call

    def check_sent(
        self,
        binding: ClientBinding,
        row: Operation,
        call: GuardedCall,
        sent: dict[str, Any],
        lookups: LookupSource | Decision | None = None,
        swapped: Violation | None = None,
    ) -> None:
        """request-created: hold what is sent against what was judged; a parameter another handler
        changed since is judged again (``request.changed``; ``lookups``, those of the call as
        sent or the decision made with them, default: made through ``binding``), and the
        call's state and records state what is sent; a request made into another call, or
        one that cannot be read (``swapped``), is blocked or warned about. Then the
        ``requested`` record: if it cannot be written, nothing is sent."""
        self.hold(binding, row, call, sent, lookups, swapped)
        call.requested = self._record_held(call, "requested", call.fields)

    def check_presigned(
        self,
        binding: ClientBinding,
        row: Operation,
        call: GuardedCall,
        sent: dict[str, Any],
        expires_in: object,
        lookups: LookupSource | Decision | None = None,
        swapped: Violation | None = None,
    ) -> None:
        """A presigned URL of a guarded call, held against its judgement as `check_sent`
        holds a request (``sent``: read from the URL), then the ``presigned`` record (with the
        URL's expiry, never the URL), written before the URL is returned."""
        self.hold(binding, row, call, sent, lookups, swapped)
        if call.recorded:
            self._record_held(call, "presigned", call.fields | {"expires": expiry(expires_in)})

    def _record_held(self, call: GuardedCall, event: str, fields: Mapping[str, Any]) -> bool:
        """The record of a call held as it is sent or signed (``requested``, ``presigned``),
        and whether it was written; none for a call with nothing to judge."""
        if not call.recorded:
            return False
        logger.info("%s%s", call, " (presigned URL)" if event == "presigned" else "")
        self._write(event, call=call.call, **fields)
        return True

    def hold(
        self,
        binding: ClientBinding,
        row: Operation,
        call: GuardedCall,
        sent: dict[str, Any],
        lookups: LookupSource | Decision | None = None,
        swapped: Violation | None = None,
    ) -> None:
        """What is sent (a request, a URL) held against the judgement (`check_sent`); alone
        for a retry that is not the request recorded (a handler may change only a later
        attempt): a change that breaks the policy is blocked, and the outcome record states
        what was sent last."""
        if call.pending and swapped is None and wire.as_judged(sent, call.judged):
            # violations the last handler left pending (the call botocore's validation then
            # refused) and a handler registered after it mended back into the call judged
            self.settle(call, row)
        call.pending = ()  # else the call as sent is judged again, whatever they were
        if swapped is not None:
            self._refuse_swapped(binding, row, call, swapped)
        elif not wire.as_judged(sent, call.judged):
            self._judge_again(binding, row, call, sent, lookups)

    def record_outcome(
        self,
        call: GuardedCall,
        parsed: Mapping[str, Any],
        row: Operation,
        status: int | None = None,
    ) -> None:
        """after-call: the row's outcome (``created``...), ``failed`` or ``unknown``;
        ``status``: the answer's HTTP status, as botocore read it."""
        if self.audit is None:
            return
        try:
            event, fields = outcome(call, parsed, row, status)
        except Exception:  # the call has happened: nothing may reach the caller from here
            _log_failure("could not build the outcome record of call %s", call.call)
            return
        self._write_safely(event, fields)

    def record_no_response(self, call: GuardedCall, exception: BaseException) -> None:
        """after-call-error: no answer came back, so the snapshot may or may not exist."""
        self._write_safely(
            "unknown", call.fields | {"call": call.call, "error": error_of(exception)}
        )

    def _decide(
        self,
        binding: ClientBinding,
        row: Operation,
        params: Mapping[str, Any],
        lookups: LookupSource | Decision,
        *,
        record_failure: bool = True,
    ) -> Decision:
        if isinstance(lookups, Decision):
            return lookups
        # on the guard's own copy, the look-ups too: a handler holding ``params`` may change
        # them while the look-ups run (its change is then what is held at request-created)
        detached = copies.detached(params, row.judged)
        if isinstance(lookups, CallReads):
            lookups.reading(detached)
        try:
            return decide(self.policy, row, detached, binding.facts(), lookups)
        except LookupFailed as failed:
            if not record_failure:
                raise
            # the source cannot be looked up at all: the caller gets the service's own answer
            fields = request_fields(binding.service, binding.region, row, params)
            self._write_safely(
                "failed", fields | {"call": new_call_id(), "error": error_of(failed.error)}
            )
            raise failed.error from None

    def check_types(
        self, binding: ClientBinding, row: Operation, params: Mapping[str, Any], problems: list[str]
    ) -> tuple[Violation, ...]:
        """before-parameter-build, before any look-up: ``request.invalid`` for ``problems``,
        what botocore's validation would refuse in a call of a client that does not validate
        (`ClientBinding.invalid`). The guard judges parameters as botocore validates them, so
        it cannot vouch for what the service will read (enforce: blocked, nothing read; warn:
        warned and returned, for `judge` to record, then judged as it can be)."""
        if not problems:
            return ()
        from .validation import invalid  # here: validation imports reads, which imports us

        violations = invalid(problems, row.name)
        fields = request_fields(binding.service, binding.region, row, params)
        fields["violations"] = [violation.as_dict() for violation in violations]
        call = GuardedCall(new_call_id(), "", fields, {}, self.policy.mode)
        self._enforce(call, row, violations)
        return violations

    def _enforce(self, call: GuardedCall, row: Operation, violations: tuple[Any, ...]) -> None:
        """Block (enforce) or warn about a call's violations."""
        if not violations:
            return
        if self.policy.mode == "enforce":
            logger.info("%s", call)
            self._write_safely("blocked", call.fields | {"call": call.call})
            call.ended = call.ended or not call.requested  # a retry's outcome is to come
            raise PolicyViolation(row.name, violations)
        for violation in violations:
            logger.warning(
                "%s %s: %s (mode = warn, not blocked)", call.fields["service"], row.name, violation
            )

    def _judge_again(
        self,
        binding: ClientBinding,
        row: Operation,
        call: GuardedCall,
        sent: dict[str, Any],
        lookups: LookupSource | Decision | None,
        invalid: tuple[Violation, ...] = (),
    ) -> None:
        """The call as sent, judged again: its state then says what is sent, and a change
        that breaks the policy is blocked (enforce) or warned about; its records keep what
        botocore's validation would refuse in the call as given, and ``invalid`` (warn)."""
        anew = judged_anew(row, sent, call)
        found = lookups if lookups is not None else binding.reads(row, anew, self)
        again = self._decide(binding, row, anew, found)
        if anew is not sent:  # its source or copy flag changed: judged on the tags it keeps
            again = kept_anew(row, sent, again)
        judged_tags = call.recorded and all(
            wire.same(sent.get(name), call.judged.get(name))
            for name in (row.tags, row.source, row.copy_tags)
            if name
        )
        if not call.recorded:
            if not again.recorded:  # still nothing to judge
                call.judged = sent
                return
            call.call, call.recorded = new_call_id(), True
        if call.unjudged:  # its first judgement: nothing was changed since one
            violations = (*again.violations, *unjudged_violations(row, sent, again))
            notes = [call.unjudged_note]
        else:
            violations = tuple(changed_violations(row, call.judged, sent, again))
            notes = changed_notes(binding.readers(row), row, call.judged, sent)
        given = invalid_given(call.fields, invalid)
        fields = record_fields(again, binding.region) | {
            "violations": [*given, *(v.as_dict() for v in violations)],
            "notes": [*again.notes, *notes],
        }
        tags = sent_tags(row, sent)
        if tags is not None and judged_tags:
            # the tags, the source and its copy stand: the snapshot gets the tags judged, and
            # which of them the policy added or the source passed on still holds
            fields |= {key: call.fields[key] for key in ("tags", "injected", "inherited")}
        elif tags is not None:
            # a tag the policy added, or the source passed on (judged anew when a handler
            # changed the source or its copy flag), still sent with its value is still theirs
            basis = fields if anew is not sent else call.fields
            judged = basis.get("tags") or {}
            fields |= {"tags": tags} | {
                name: [key for key in basis.get(name, ()) if _same(tags, judged, key)]
                for name in ("injected", "inherited")
            }
        call.fields, call.judged = fields, sent
        if again.outcome:  # a share may be an unshare as sent, a delete make no final snapshot
            call.outcome = again.outcome
        self._enforce(call, row, violations)

    def _refuse_swapped(
        self, binding: ClientBinding, row: Operation, call: GuardedCall, swapped: Violation
    ) -> None:
        """A request another handler made into no call of the operation judged (`records.
        swapped_request`): blocked (enforce) or warned about, and its records say so. Sent
        (warn), its answer is read as the judged operation's: an answer that is no error says
        nothing of what the request did, so its outcome is ``unknown``."""
        call.outcome = "unknown"
        if not call.recorded:
            call.call, call.recorded = new_call_id(), True
            call.fields = request_fields(binding.service, binding.region, row, call.judged)
        said = swapped.as_dict()
        if self.policy.mode == "warn" and said in call.fields.get("violations", ()):
            return  # a retry of the request, warned about already: once in its records
        call.fields = call.fields | {
            "violations": [*call.fields.get("violations", ()), said],
            "notes": [*call.fields.get("notes", ()), swapped_note(call, swapped)],
        }
        self._enforce(call, row, (swapped,))

    def _write(self, event: str, **fields: Any) -> None:
        if self.audit is None:
            return
        try:
            self.audit.write(event, **fields)
        finally:
            if self._uninstalled:  # the record of a call judged before: nothing else would
                self.audit.close()  # close the log again (or stop its shipping) for good

    def _write_safely(self, event: str, fields: dict[str, Any]) -> None:
        try:
            self._write(event, **fields)
        except Exception:
            _log_failure(
                "could not write the %r audit record for call %s", event, fields.get("call")
            )


def _log_failure(message: str, *args: Any) -> None:
    """Log the exception being handled on the audit logger: after the call, nothing may reach
    the caller from here, a program's logging handler that raises included."""
    with contextlib.suppress(Exception):
        audit_logger.exception(message, *args)


def _same(tags: Mapping[str, str], judged: Mapping[str, str], key: str) -> bool:
    """Whether ``tags`` hold ``key`` with the value it was judged with."""
    return key in tags and tags[key] == judged.get(key)

"""Each guarded client's hooks: the handlers registered under the exact event names of the
guarded operations and the wrapped ``generate_presigned_url``, handing botocore's keyword
arguments to the guard in force. An aiobotocore client gets `aio.AioClientBinding`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from .. import query, sending, wire
from ..core import copies, operations
from ..core.calls import CallFacts
from ..core.operations import Operation
from ..core.rules import Violation
from ..records import CONTEXT_KEY, GuardedCall, attempt_of, status_of, url_expires_in
from .changes import (
    kept_changing,
    lacking,
    queried_url,
    read_as_sent,
    signed_elsewhere,
    swapped_request,
)
from .guard import Guard
from .hooks import GUARDED_SET, hook_client, service_of, validates
from .progress import (
    MOST_HOLDS,
    Presign,
    at_signing,
    changed_since_held,
    checked,
    held_as,
    in_progress,
    keep,
    kept,
    note_held,
    note_presign,
    presign_ending,
    presigned_past_the_wrapper,
)
from .reads import CallReads, Incomplete, LookupFailed
from .stacks import Stack, newest_guard
from .turned import judged_at_signing, presigned_call, signs_as_presigns, turned_handler
from .validation import refuse_presign, refused, unvalidated
from .wrappers import end_presign, start_presign

Sent = tuple[dict[str, Any], Violation | None]
"""The judged parameters as a request carries them, and ``request.changed`` when it is no
call of the operation judged (`ClientBinding.sent`)."""
Hold = tuple[GuardedCall, Guard, Sent, Callable[..., None]] | None
"""What ``request-created`` holds (`ClientBinding.to_hold`); None: nothing."""


class ClientBinding:
    """One client's hooks. Handlers get no client, so each client gets a binding of its own.

    Each handler is registered under the exact event name of one guarded operation (its place
    in botocore's handler order), bound to that operation's row. The client's
    ``generate_presigned_url`` is wrapped: no event fires after a URL is signed.
    """

    def __init__(self, client: BaseClient, *, hook: bool = True) -> None:
        self._client = weakref.ref(client)
        self.service = service_of(client)
        self.region: str | None = client.meta.region_name
        self.client_stack: Stack | None = None
        self.session_stacks: list[Stack] = []  # the stacks of the sessions that hooked it
        self._readers: dict[str, wire.Readers] = {}
        self.validates = validates(client)
        """Whether the client validates its parameters (botocore's ``parameter_validation``,
        on unless turned off in its config or profile)."""
        self.signs_as_presigns = signs_as_presigns(client)
        """Whether the client, as it was made, signs its calls as presigns are signed."""
        self.every = turned_handler(self)
        """The handler of every operation's request and its end (`turned`)."""
        if hook:  # else its `StandIns` hold the handlers' places and hand it the calls
            hook_client(
                client, self._handler, self.presign, self.last_before_parameter_build, self.every
            )

    def _handler(self, method: str, operation: str) -> Callable[..., Any]:
        bound: Callable[..., Any] = getattr(self, method)
        row = operations.OPERATIONS[operation]

        def handler(**kwargs: Any) -> Any:
            return bound(row, **kwargs)

        return handler

    def guard(self) -> Guard | None:
        """The guard in force: a direct install on the client wins over its sessions' (of
        those, the latest install: `newest_guard`)."""
        if self.client_stack is not None and (guard := self.client_stack.top()) is not None:
            return guard
        return newest_guard(self.session_stacks)

    def before_parameter_build(
        self,
        row: Operation,
        params: dict[str, Any],
        context: dict[str, Any],
        model: Any = None,
        **_: Any,
    ) -> None:
        """``before-parameter-build``: judge the call (look-ups first), keep the judgement."""
        in_progress.set(None)  # a new call: the last one's judgement is not this one's
        guard = self.guard()
        if guard is None or not self.judgeable(params, model):
            return
        invalid = guard.check_types(self, row, params, self.invalid(row, params))
        reads = self.reads(row, params, guard, deferrable=True)
        try:
            call = guard.judge(self, row, params, reads, invalid, settle=False)
        except (Incomplete, LookupFailed):  # another handler may complete the call, or
            call = guard.deferred(row, reads)  # rename what it reads: judged after them all
        keep(call, context, self)

    def last_before_parameter_build(
        self, params: dict[str, Any], context: dict[str, Any], model: Any = None, **_: Any
    ) -> None:
        """``before-parameter-build``, after every other handler of it (of any operation: it
        is registered last under the bare event name): a call the guard deferred is judged,
        and one with violations is held again, then blocked or warned about (`Guard.
        complete`); a judged call without violations is held at ``request-created``. A call
        botocore's validation refuses now is left to it. A presign made past the client's
        wrapper gets its ``presigned`` record here (no later event of it reaches the guard)."""
        found = self.to_complete(params, context, model)
        if found is None:
            return
        call, guard, row, past_the_wrapper = found
        if past_the_wrapper:  # its URL is never read: signed from what was judged
            copies.plain_params(params, row.judged)
        with presign_ending(past_the_wrapper):
            try:
                completed = guard.complete(
                    self, row, call, params, self.reads(row, params, guard, deferrable=True)
                )
            except Incomplete as refused:  # refused as changed: botocore raises it next
                refuse_presign(past_the_wrapper, refused)
                return
            if completed is not call:
                keep(completed, context, self)
            if completed is not None and past_the_wrapper:  # held and recorded as it is signed
                note_presign(context, completed)

    def request_created(self, row: Operation, request: Any, **_: Any) -> None:
        """``request-created``: the request as every ``before-call`` handler left it, held
        against the judgement before it is signed (`to_hold`), until it holds still."""
        found, rounds, read = self.to_hold(row, request), 0, None
        while found is not None:
            call, _guard, (sent, swapped), check = found
            read = sending.as_read(request)
            checked(call, check, self, row, call, sent, None, swapped)
            rounds += 1
            found = self.held_again(row, request, read, rounds)
        note_held(request, read, rounds)

    def before_sign(self, row: Operation, request: Any, **_: Any) -> None:
        """``before-sign``: the request held again (`request_created`) if it no longer holds
        what ``request-created`` held (`at_signing`): botocore calls handlers of the
        operation's name first, so one under the service's name there runs after the guard's,
        and may run before the signer. A presign past the wrapper is held and recorded here
        (`note_presign`); one made through it, where its URL is read."""
        hold, call = at_signing(request, row.name)
        if hold == "presign" and call is not None:
            self.presign_signed(row, request, call)
        elif hold == "request":
            held_as(request, call)
            self.request_created(row, request)

    def signed(self, row: Operation, request: Any) -> None:
        """``request-created`` after botocore's signer (the handler of every operation:
        `turned_handler`): the request held again if it no longer holds what the guard last
        held of it. The signer reads the credentials after every ``before-sign`` handler,
        and credentials due for a refresh make it wait there (a call to STS or the instance's
        metadata, an await): whoever kept the request may change it meanwhile, and the
        signer signs the change."""
        if changed_since_held(request, query_signed=self.signs_as_presigns):
            self.request_created(row, request)

    def presign_signed(self, row: Operation, request: Any, call: GuardedCall) -> None:
        """``before-sign`` of a presign of a call of ``row`` past the wrapper, or one another
        handler made into it (`turned.signed_into`): held against the judgement as it is
        signed, recorded ``presigned`` (enforce: refused, nothing signed)."""
        if call.guard is not None:
            sent, swapped = self.read_sent(row, request, call)
            call.guard.check_presigned(self, row, call, sent, None, swapped=swapped)
            judged_at_signing(request, call)

    def held_again(self, row: Operation, request: Any, read: sending.Read, rounds: int) -> Hold:
        """None when ``request`` still holds what the guard read of it (``read``:
        `sending.as_read`) and held; else what to hold of it now (`to_hold`, as of a retry):
        another thread or task holding the request changed its body, URL or params while the
        guard wrote its record (an fsync, a task's await), and botocore signs what it holds
        once the guard's handler returns. Changed each time, the `MOST_HOLDS`-th hold
        refuses it (enforce; warn: warns once, and the request goes as it stands:
        `changes.kept_changing`)."""
        if rounds > MOST_HOLDS or sending.still_read(request, read):
            return None
        found = self.to_hold(row, request)
        if found is None or rounds < MOST_HOLDS:
            return found
        call, guard, (sent, _), check = found
        return call, guard, (sent, kept_changing(row, MOST_HOLDS)), check

    def to_hold(self, row: Operation, request: Any) -> Hold:
        """What ``request-created`` holds: the call (`held`), its guard, what the request
        sends, and the guard's check: `Guard.check_sent` for the first attempt (then the
        ``requested`` record), `Guard.hold` for a retry (botocore makes the request again)
        that is not the request recorded. None: nothing to hold."""
        call, guard = self.held(row, request)
        if call is None or guard is None:
            return None
        sent = self.read_sent(row, request, call)
        if not call.requested:
            return call, guard, sent, guard.check_sent
        if sent[1] is None and wire.as_judged(sent[0], call.judged):
            return None
        return call, guard, sent, guard.hold

    def read_sent(self, row: Operation, request: Any, call: GuardedCall) -> Sent:
        """What ``request`` sends of ``call``'s judged parameters (`sent`), its body and params
        made what is sent: what is read of them is what goes; signed for another region than
        the client's, it is `signed_elsewhere`."""
        query.hold_params(request)
        body, flat = sending.plain_body(request.data)
        if body is not request.data:
            request.data = body
        judged, swapped = self.sent(row, body, call, query.url_sent(request), flat=flat)
        return judged, swapped or signed_elsewhere(row, request.context, self.region)

    def after_call(
        self,
        row: Operation,
        parsed: Mapping[str, Any],
        context: dict[str, Any],
        http_response: Any = None,
        **_: Any,
    ) -> None:
        """``after-call``: the outcome record of an answered call."""
        call, guard = self.ended(context)
        if call is not None and guard is not None:
            guard.record_outcome(call, parsed, row, status_of(http_response))

    def after_call_error(
        self, row: Operation, exception: BaseException, context: dict[str, Any], **_: Any
    ) -> None:
        """``after-call-error``: the outcome record of a call that got no answer."""
        call, guard = self.ended(context)
        if call is not None and guard is not None:
            guard.record_no_response(call, exception)

    def ended(self, context: Mapping[str, Any]) -> tuple[GuardedCall | None, Guard | None]:
        """The call of an ended request whose ``requested`` record was written (`judged`),
        and its guard; no longer `in_progress` (which would keep it, and its guard, alive).
        A call answered before it was sent (a ``before-call`` handler, botocore's Stubber or
        a test responder, answered with nothing sent) ends too, with no outcome to record."""
        call, guard = self.judged(context)
        current = in_progress.get()
        if call is not None and not call.requested:  # never sent as judged: no outcome
            call.ended, call = True, None  # (its request may have been judged anew, below)
        if call is None and current is not None and current.unjudged and current.requested:
            call, guard = current, current.guard  # judged at request-created (`held`)
        if call is not None:
            call.ended = True  # put in another call's context, it is no state of that call
        if current is not None and current.ended:
            in_progress.set(None)
        return call, guard

    def presign(
        self,
        generate: Callable[..., str],
        ClientMethod: str,
        Params: Mapping[str, Any] | None = None,
        ExpiresIn: int = 3600,
        HttpMethod: str | None = None,
    ) -> str:
        """``generate_presigned_url``, judged like the call; the ``presigned`` record is
        written before the URL is returned."""
        params, presigned = self.presign_params(ClientMethod, Params)
        signed, tokens = start_presign(presigned)
        try:
            url = generate(ClientMethod, Params=params, ExpiresIn=ExpiresIn, HttpMethod=HttpMethod)
        finally:
            end_presign(tokens)
        found = presigned_call(self, self._client(), presigned, url, ClientMethod, signed)
        if found is not None:
            guard, row, call, (sent, swapped) = found
            expires_in = url_expires_in(url, ExpiresIn)
            guard.check_presigned(self, row, call, sent, expires_in, swapped=swapped)
        return url

    # The steps the handlers share with those of an async client (`AioClientBinding`).

    def presign_params(self, method: str, params: Any) -> tuple[Any, Presign | None]:
        """What a presign of ``method`` hands botocore, and the `Presign` its call is
        collected in: for an operation a guard in force judges, a copy of the caller's dict
        (the guard writes the final parameters into it); else ``params`` as given (botocore
        refuses what is no dict, `judgeable`) and None (a guarded presign made inside its
        handlers is one past the wrapper)."""
        client = self._client()
        name = None if client is None else client.meta.method_to_api_mapping.get(method)
        if name not in GUARDED_SET.get(self.service, frozenset()) or self.guard() is None:
            return params, None
        return (dict(params) if isinstance(params, dict) else params), Presign(name)

    def judgeable(self, params: object, model: Any) -> bool:
        """Whether ``params`` is parameters the guard can judge: a dict, as botocore makes
        them for every call. A presign hands on the caller's ``Params`` as given: anything
        but a mapping a validating client's botocore fails on at once (the guard steps
        aside); a mapping that is no dict its validation refuses, and so does the guard,
        whether the client validates or not, as it refuses anything but a dict for a client
        that does not (its serializer reads any object with ``items()``): a URL signed from
        it would be one the guard never judged."""
        if isinstance(params, dict):
            return True
        if isinstance(params, Mapping) or not self.validates:
            if model is not None and isinstance(params, Mapping):
                validate_parameters(params, model.input_shape)
            raise ParamValidationError(report=f"Invalid type for parameter input: {params!r}")
        return False

    def judged(self, context: Mapping[str, Any]) -> tuple[GuardedCall | None, Guard | None]:
        """The call's state and the guard that judged it (not the one in force now: its
        records are that guard's)."""
        call = context.get(CONTEXT_KEY)
        if not isinstance(call, GuardedCall) or call.ended or call.binding is not self:
            return None, None
        return call, call.guard

    def held(self, row: Operation, request: Any) -> tuple[GuardedCall | None, Guard | None]:
        """The call ``request`` of ``row`` was judged as, and its guard:

        - the call kept in the request's context (`keep`), unless its outcome is in, it was
          kept by another client's binding, or it is requested and ``request`` is no attempt
          of it (`GuardedCall.attempted_by`): a handler may put another client's call there
          (of another guard, one in warn mode), or the state of a call in flight, or that
          call's whole context, whose judgement is not this request's;
        - where another handler gave the request a copy of its context, the call last judged
          in this thread or task (`in_progress`), whose state the copy's would not be;
        - where it gave the request a new context, that call while it is this client's, of
          ``row``, not yet sent and not blocked (once sent, a request with no call is no
          attempt of it);
        - else, with a guard in force, a call with nothing judged yet: the request is judged
          as it is sent (a handler that gave it a new context and made another call meanwhile
          took its judgement with it).

        A call found so is kept in the request's context again, for its retries."""
        context = request.context
        state = context.get(CONTEXT_KEY)
        current = in_progress.get()
        attempt = attempt_of(context)
        found = None
        if isinstance(state, GuardedCall) and not state.ended and state.binding is self:
            found = state  # its own call, or one judged inside its handlers (another id)
            if current is not None and current is not state and state.call == current.call:
                found = current if state.call else state  # a copy (unrecorded calls share "")
            its_attempt = found.attempted_by(request, attempt, in_progress=found is current)
            found = found if its_attempt or not found.requested else None
        if found is None and (
            current is not None
            and current.binding is self
            and current.fields.get("operation") == row.name
            and not (current.requested or current.ended)
        ):
            found = current
        if found is None:
            guard = self.guard()
            if guard is None:
                return None, None
            found = guard.unjudged(row, self)
            in_progress.set(found)  # botocore's after-call gets the context it made, not this
        found.held_as(request, attempt)
        if found is not state:
            context[CONTEXT_KEY] = found
        return found, found.guard

    def sent(
        self,
        row: Operation,
        data: object,
        call: GuardedCall,
        url: str | None = None,
        *,
        flat: bool = False,
    ) -> Sent:
        """The judged parameters as the serialized request (its body, or a presigned URL's
        query) carries them; and ``request.changed`` when it is no call of the operation
        judged, or cannot be read as one (`changes.swapped_request`): a ``before-call``
        handler may have replaced the body, or given the request's ``url`` a query of its
        own, which the service may read as parameters too (``flat``: a flat body)."""
        client = self._client()
        if client is None:
            return call.judged, None
        if row.name not in GUARDED_SET.get(self.service, frozenset()):  # another handler made it so
            return call.judged, lacking(row, self.service)
        if url is not None and "?" in url:
            shape = client.meta.service_model.operation_model(row.name).input_shape
            members = shape.members if shape is not None else ()
            queried = queried_url(row, url, client.meta.endpoint_url, [*members, *row.judged])
            if queried is not None:
                return call.judged, queried
        body = wire.form_params(data, flat=flat)
        swapped = swapped_request(row, body, data)
        if swapped is not None or body is None:
            return call.judged, swapped
        readers = self.readers(row)
        if wire.carries(body, readers, call.judged):  # itself: what is sent is what was judged
            return call.judged, None
        return read_as_sent(client, row, body, readers, self.service, call.judged)

    def readers(self, row: Operation) -> wire.Readers:
        """The row's judged parameters' wire readers, once per client (each has its own model)."""
        found = self._readers.get(row.name)
        if found is None:
            client: Any = self._client()  # alive: a handler of its call is running
            model = client.meta.service_model.operation_model(row.name)
            found = self._readers[row.name] = wire.readers(model.input_shape, row.judged)
        return found

    def invalid(self, row: Operation, params: Mapping[str, Any]) -> list[str]:
        """What botocore's validation would refuse in a call of this client, which does not
        validate (`validation.unvalidated`); empty when it validates."""
        return [] if self.validates else unvalidated(self._client(), row, params)

    def facts(self) -> CallFacts:
        """What a decision on a call of this client knows besides the policy and the call."""
        return CallFacts(self.service, self.region, datetime.now(UTC), os.environ)

    def reads(
        self,
        row: Operation,
        params: Mapping[str, Any],
        guard: Guard,
        *,
        ahead: bool = False,
        deferrable: bool = False,
    ) -> CallReads:
        """The read-only look-ups of one call ``guard`` judges, made on this client when a rule
        asks (`CallReads`); ``deferrable``: a call botocore's validation refuses is `Incomplete`."""
        client = self._client()
        assert client is not None, "a handler of a client that is gone"

        def refused() -> list[str]:
            return self.refusal(row, params, guard)

        return CallReads(
            client,
            self.region,
            row,
            params,
            ahead=ahead,
            lenient=guard.lenient,
            refused=refused,
            deferrable=deferrable,
            snapshot_tags=bool(guard.policy.deletion.hold_tags),
        )

    def to_complete(
        self, params: Mapping[str, Any], context: Mapping[str, Any], model: Any = None
    ) -> tuple[GuardedCall, Guard, Operation, bool] | None:
        """What the last ``before-parameter-build`` handler completes: the call kept for
        ``context``, its guard and row, and whether it is a presign past the client's method
        (which no later event of reaches the guard). None when there is nothing to do: no
        call, a judged call without violations (held at ``request-created``), or one
        botocore's validation refuses now (it raises its own error next; a verdict would
        block or warn about what no handler completed; one never judged is judged as it is
        sent should a handler after this one mend it: `Guard.deferred`) but for such a
        presign: what it would sign cannot be judged, so it is refused
        (`validation.refuse_presign`)."""
        call = kept(context, getattr(model, "name", None))
        if call is None or call.guard is None:
            return None
        past_the_wrapper = call.presign or presigned_past_the_wrapper(context)
        if not (call.pending or call.deferred or past_the_wrapper):
            return None
        guard, row = call.guard, operations.OPERATIONS[call.fields["operation"]]
        if call.pending or call.deferred:
            refusal = self.refusal(row, params, guard)
            if refusal:
                refuse_presign(past_the_wrapper, Incomplete(report="\n".join(refusal)))
                return None
        return call, guard, row, past_the_wrapper

    def refusal(self, row: Operation, params: Mapping[str, Any], guard: Guard) -> list[str]:
        """What botocore's validation of this client refuses in the call (empty: nothing, or
        a client that does not validate: `invalid` judged it). A missing name counts as given
        when ``guard``'s policy fills it in: botocore refuses a call without its name before
        sending anything, and so does a read for it, unless the template names it."""
        if not self.validates:
            return []
        return refused(self._client(), row, params, generated=row.name in guard.names_generated)

"""What one guarded call carries from its judgement to its audit records, and how its outcome
is read from the service's answer."""

from __future__ import annotations

import copy
import urllib.parse
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .core import operations
from .core.calls import Decision
from .core.copies import exact_text
from .core.operations import Operation
from .core.patterns import Lazy
from .core.rules import Violation, escaped

if TYPE_CHECKING:
    from .guard.guard import Guard

CONTEXT_KEY = "rds_guard"
"""Where a guarded call's state lives in botocore's per-call ``context`` dict."""


UNJUDGED = (
    "judged as it was sent: no judgement reached the request (a handler gave it a context of"
    " its own and made another call meanwhile, the guard was installed while it was made, the"
    " client's events were replaced, or a handler after the guard's last one mended a call"
    " botocore's validation refused there)"
)
"""The note of a call first judged at ``request-created``, or of a presign as it is signed
(`changes.unjudged_violations`)."""


def turned_note(operation: str, service: str = "") -> str:
    """The note of a request another handler made out of a call of ``operation``, which the
    guard does not judge, into one it judges: no judgement preceded it. ``service``: the
    request is still that call, of a ``service`` client, given a parameter its API lacks."""
    if service:
        return (
            f"judged as it was sent: another handler gave a {service} call of {operation},"
            " which rds_guard does not judge, a parameter its API lacks and rds_guard judges in"
            " rds's"
        )
    return (
        f"judged as it was sent: another handler made a call of {operation}, which rds_guard"
        " does not judge, into this one"
    )


def attempt_of(context: Mapping[str, Any]) -> tuple[int, str | None]:
    """Which attempt of which call botocore makes with a request of ``context``: the count
    and the invocation id botocore's endpoint keeps there as it sends (``retries``'
    ``attempt`` and ``invocation-id``, one per call, kept by a copy of the context); 0 and
    None before it does (a cross-region copy's source URL, presigned at ``before-call``)."""
    retries = context.get("retries")
    if not isinstance(retries, dict):
        return 0, None
    attempt, invocation = retries.get("attempt"), retries.get("invocation-id")
    return (attempt if type(attempt) is int else 0), (
        invocation if type(invocation) is str else None
    )


class _Life:
    """What a call's state shares with its deep copies: whether it has ended, whether it was
    requested, and the attempt it was last held as (botocore's count and invocation id, and
    a weak reference to the request: held again, the same request is the same attempt)."""

    __slots__ = ("attempt", "ended", "home", "invocation", "request", "requested")

    def __init__(self, *, ended: bool = False, requested: bool = False) -> None:
        self.ended = ended
        self.requested = requested
        self.attempt = 0
        self.invocation: str | None = None
        self.request: weakref.ref[Any] | None = None
        self.home = 0  # the id of the context the call was kept in (`GuardedCall.kept_in`)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its call's data: the flags, and no request (of this process alone).
        Defined, not left to ``object``'s, for pickle's protocols 0 and 1, which refuse a
        class with ``__slots__`` and no state of its own."""
        return (_life_of, (self.ended, self.requested))


def _life_of(ended: bool, requested: bool) -> _Life:
    return _Life(ended=ended, requested=requested)


class GuardedCall:
    """One guarded call between its judgement and its outcome.

    ``fields``: the audit record's fields (what is sent); ``judged``: the parameters the
    decision rests on, as decided (the request is held against them at ``request-created``);
    ``mode``: the policy's, for the line logged about the call; ``requested``: its
    ``requested`` record is written (the request goes out); ``recorded``: False for a call the
    guard found nothing to judge in, kept only so that a change another handler makes to it
    is judged again (it has no fields, no records); ``guard``: the guard that judged
    it, which writes its records, whatever is installed by then (another thread may uninstall
    it, or install another, while the call is in flight); ``pending``: the judgement's
    violations, blocked or warned about once every other ``before-parameter-build`` handler
    has run (one of them may complete the call); ``deferred``: not judged yet, botocore's
    validation refusing the call as it stood at the guard's handler, or a read the judgement
    needs failing (another handler may yet name what it reads); ``failed_reads``: that
    read's look-ups, whose failure stands for the call unchanged (`Guard.complete`);
    ``unjudged``: a request with no judgement, judged at ``request-created`` as it is sent
    (`unjudged_note` says why); ``made_from``: for one another handler made out of a call of
    an operation the guard does not judge, that operation's name, else empty; ``presign``: a
    presign made past the client's wrapper, as its first handler saw it (no request follows
    it: its last ``before-parameter-build`` handler writes its record, whatever a handler did
    to the context since); ``ended``: its outcome is in, it was answered before it was sent (a
    ``before-call`` handler, botocore's Stubber), or it was blocked before it was sent (a
    state of it put in another call's context is not that call's); ``binding``: the client
    binding that keeps it (a state put in a request of another client is no judgement of
    that request). Plain data in slots:
    botocore deep-copies the request context to presign cross-region copies (the copy shares
    the guard, the binding, whether the call has ended and whether it was requested, and the
    request it was last held in: a copy a program keeps ends with the call, and is no
    attempt of it once it is requested, as the call itself is not: `attempted_by`).
    """

    __slots__ = (
        "_life",
        "binding",
        "call",
        "deferred",
        "failed_reads",
        "fields",
        "guard",
        "judged",
        "made_from",
        "mode",
        "outcome",
        "pending",
        "presign",
        "recorded",
        "unjudged",
    )

    def __init__(
        self, call: str, outcome: str, fields: dict[str, Any], judged: dict[str, Any], mode: str
    ) -> None:
        self.call = call
        self.outcome = outcome
        self.fields = fields
        self.judged = judged
        self.mode = mode
        self.recorded = True
        self.guard: Guard | None = None
        self.pending: tuple[Violation, ...] = ()
        self.deferred = False
        self.failed_reads: Any = None
        self.unjudged = False
        self.made_from = ""
        self.presign = False
        self._life = _Life()  # shared with its deep copies
        self.binding: Any = None

    @property
    def ended(self) -> bool:
        """Its outcome is in, or it will never be sent (see the class's docstring)."""
        return self._life.ended

    @ended.setter
    def ended(self, ended: bool) -> None:
        self._life.ended = ended

    @property
    def requested(self) -> bool:
        """Its ``requested`` record is written: the request goes out."""
        return self._life.requested

    @requested.setter
    def requested(self, requested: bool) -> None:
        self._life.requested = requested

    def attempted_by(
        self, request: object, attempt: tuple[int, str | None], *, in_progress: bool
    ) -> bool:
        """Whether ``request`` (``attempt``: botocore's count and invocation id of its call,
        `attempt_of`) is an attempt of this call once it is requested: the request last held
        as it, held again (at ``before-sign``, after the signer), or a later attempt botocore
        made of this call (its invocation id); held only as its presigned source URL so far,
        a request in the context the call was kept in (`kept_in`), or the request of the call
        in progress in this thread or task (``in_progress``). A request of another call
        given this one's state is none (another invocation), nor is one given this call's
        whole context (botocore counts its attempts from 1 again)."""
        life = self._life
        if life.request is not None and life.request() is request:
            return True
        if life.invocation is None:
            return in_progress or id(getattr(request, "context", None)) == life.home
        return attempt[1] == life.invocation and attempt[0] > life.attempt

    def kept_in(self, context: object) -> None:
        """Note ``context`` as the one the call was kept in: its request's, until botocore
        names the call's invocation there (`attempted_by`). An id, not a reference: the
        context holds the call."""
        self._life.home = id(context)

    def held_as(self, request: object, attempt: tuple[int, str | None]) -> None:
        """Note ``request`` (``attempt``: as `attempted_by` takes it) as held as this call;
        its first attempt botocore made names the call's invocation."""
        life = self._life
        life.attempt = max(life.attempt, attempt[0])
        if life.invocation is None and attempt[0] > 0:
            life.invocation = attempt[1]
        try:
            life.request = weakref.ref(request)
        except TypeError:  # not an object botocore makes: no request is held again as it
            life.request = None

    def __deepcopy__(self, memo: dict[int, Any]) -> GuardedCall:
        """A copy of the call's data that shares its guard (a guard holds locks and files)."""
        copied = GuardedCall(self.call, self.outcome, {}, {}, self.mode)
        memo[id(self)] = copied
        copied.fields = copy.deepcopy(self.fields, memo)
        copied.judged = copy.deepcopy(self.judged, memo)
        copied.recorded, copied.guard = self.recorded, self.guard
        copied.pending, copied.deferred = self.pending, self.deferred
        copied.failed_reads = self.failed_reads
        copied.unjudged, copied.made_from = self.unjudged, self.made_from
        copied.presign, copied._life, copied.binding = self.presign, self._life, self.binding
        return copied

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        """Pickled (a program's own handler pickling the call's context), the call's data
        without its guard, binding and failed reads, which hold locks, files and a client,
        and are of this process alone."""
        state = {name: getattr(self, name) for name in GuardedCall.__slots__}
        state["guard"] = state["binding"] = state["failed_reads"] = None
        state["_life"] = _Life(ended=self.ended, requested=self.requested)
        return None, state

    @property
    def unjudged_note(self) -> str:
        """Why a call was first judged at ``request-created`` (`UNJUDGED`, `turned_note`);
        empty for any other call."""
        if not self.unjudged:
            return ""
        if not self.made_from:
            return UNJUDGED
        kept = self.made_from == self.fields.get("operation")  # given a parameter, not turned
        return turned_note(self.made_from, self.fields.get("service", "") if kept else "")

    def __str__(self) -> str:
        return self.verdict  # logged as "%s": built only when the line is

    @property
    def verdict(self) -> str:
        """One short line for a person: service, operation, snapshot, the verdict, tags (each
        character that does not print written as its escape: one line, whatever a name or a
        tag key holds)."""
        return escaped(self._verdict())

    def _verdict(self) -> str:
        # a program's handler may print the context it is kept in: this text never raises
        fields = self.fields
        if not self.recorded:
            return f"{fields.get('operation', '-')}: nothing judged yet"
        snapshot = fields.get("snapshot") or "-"
        what = f"{fields.get('service', '-')} {fields.get('operation', '-')} {snapshot}"
        violations = fields.get("violations") or ()
        if violations:
            rules = ", ".join(dict.fromkeys(v["rule"] for v in violations))
            state = "blocked" if self.mode == "enforce" else "warned (not blocked)"
            return f"{what}: {state}: {rules}"
        parts = [f"{what}: allowed"]
        if fields.get("injected"):
            parts.append(f"tags added: {', '.join(fields['injected'])}")
        if fields.get("inherited"):
            parts.append(f"kept: {', '.join(fields['inherited'])}")
        return "; ".join(parts)


def record_fields(decision: Decision, region: str | None) -> dict[str, Any]:
    """The audit record's fields for a judged call."""
    return {
        "service": decision.service,
        "operation": decision.operation,
        "region": region,
        "snapshot": decision.snapshot,
        "source": decision.source,
        "arn": decision.arn,
        "tags": dict(decision.tags),
        "injected": list(decision.injected),
        "inherited": list(decision.inherited),
        "violations": [v.as_dict() for v in decision.violations],
        "notes": list(decision.notes),
        **decision.extra,
    }


def request_fields(
    service: str, region: str | None, row: Operation, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The audit record's fields for a call that could not be judged (its look-up failed, or
    botocore would refuse its types): the names read as the exact strings they hold, never
    through a caller's subclass's own methods."""
    identifier = exact_text(params.get(row.identifier)) if row.identifier else None
    source = exact_text(params.get(row.source)) if row.source else None
    return {
        "service": service,
        "operation": row.name,
        "region": region,
        "snapshot": operations.listed_name(identifier) if isinstance(identifier, str) else None,
        "source": operations.snapshot_name(source) if isinstance(source, str) else None,
    }


def error_of(exception: BaseException) -> dict[str, str]:
    """``{"code", "message"}`` of an exception: a service error's own code, else its type."""
    response = getattr(exception, "response", None)
    error = response.get("Error") if isinstance(response, Mapping) else None
    if isinstance(error, Mapping) and error.get("Code"):
        return {"code": str(error["Code"]), "message": str(error.get("Message", ""))}
    return {"code": type(exception).__name__, "message": str(exception)}


def outcome(
    call: GuardedCall, parsed: Mapping[str, Any], row: Operation, status: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The outcome event of an answered call and its record's fields.

    An answer is an error when botocore raises one for it: its HTTP status (``status``, else
    the body's metadata) is 300 or more, whatever its body holds (a page from a proxy has no
    ``Error``); its code and message as `ClientError` reads them. (A body botocore cannot
    parse at all raises `ResponseParserError`: no answer reaches ``after-call``.) A refusal is
    ``failed``; an error after a retry is ``unknown`` (the first attempt may have taken
    effect: real AWS answers a retried delete with NotFound, a retried create with
    AlreadyExists), and so is a 5xx (the service failed, which says nothing of whether the
    call took effect).
    """
    metadata = parsed.get("ResponseMetadata", {})
    fields = dict(call.fields, call=call.call, request_id=metadata.get("RequestId"))
    if status is None:  # not given: as the body's metadata says
        status = metadata.get("HTTPStatusCode")
    error = parsed.get("Error")
    if not (status >= 300 if isinstance(status, int) else error):
        return call.outcome, fields | _reported_snapshot(row, parsed)
    error = error if isinstance(error, Mapping) else {}
    fields["error"] = {
        "code": str(error.get("Code", "Unknown")),
        "message": str(error.get("Message", "Unknown")),
    }
    retried = int(metadata.get("RetryAttempts", 0) or 0) > 0
    failed_itself = isinstance(status, int) and status >= 500
    return ("unknown" if retried or failed_itself else "failed"), fields


def _reported_snapshot(row: Operation, parsed: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot's identifier and ARN as the service reported them, when it did."""
    answer = row.answer
    reported = parsed.get(answer.key) if answer is not None else None
    if answer is None or not isinstance(reported, Mapping):
        return {}
    found: dict[str, Any] = {}
    identifier = reported.get(answer.identifier)
    if isinstance(identifier, str) and identifier:  # an empty one says nothing: the name sent
        found["snapshot"] = identifier.lower()
    arn = reported.get(answer.arn)
    if isinstance(arn, str):
        found["arn"] = arn
    return found


def sent_tags(row: Operation, sent: Mapping[str, Any]) -> dict[str, str] | None:
    """The tags a sent request carries, as a dict (None: the operation carries no tags)."""
    if row.tags is None:
        return None
    tags = sent.get(row.tags)
    if not isinstance(tags, list | tuple):  # never a generator of the caller's: botocore's
        return {}
    return {str(t.get("Key")): str(t.get("Value", "")) for t in tags if isinstance(t, Mapping)}


def expiry(expires_in: object, now: datetime | None = None) -> str | None:
    """When a presigned URL valid for ``expires_in`` seconds from now expires (ISO 8601);
    past the years a datetime holds, the first or last second of them (botocore signs any
    integer)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        return None
    try:
        moment = (now or datetime.now(UTC)) + timedelta(seconds=expires_in)
    except OverflowError:
        moment = datetime.max if expires_in > 0 else datetime.min
    return moment.isoformat(timespec="seconds")[:19] + "Z"  # strftime drops a year's zeros


_SECONDS = Lazy(r"(-?)([0-9]+)")
_MOST_SECONDS = 10**20  # more than the calendar holds: `expiry` takes it to its end


def url_expires_in(url: str, asked: object) -> object:
    """The seconds a presigned URL is valid for, as it says itself (SigV4's
    ``X-Amz-Expires``): botocore signs ``ExpiresIn=None`` as its default of an hour and
    ``"60"`` as 60 seconds, which the caller's ``asked`` does not say. ``asked`` when the URL
    does not carry exactly one whole number of seconds."""
    query = urllib.parse.urlsplit(url).query
    said = urllib.parse.parse_qs(query, keep_blank_values=True).get("X-Amz-Expires", [])
    number = _SECONDS.fullmatch(said[0]) if len(said) == 1 else None
    if number is None:
        return asked
    sign, digits = number.groups()
    # never int() of thousands of digits (Python refuses past 4,300)
    seconds = int(digits) if len(digits) <= 20 else _MOST_SECONDS
    return -seconds if sign else seconds


def status_of(http_response: object) -> int | None:
    """The HTTP status of an answer, which botocore raises on (None: not known): a handler
    answering the call may give a body whose metadata says another, or none."""
    status = getattr(http_response, "status_code", None)
    return status if isinstance(status, int) else None

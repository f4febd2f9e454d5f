"""Requests another handler made into a call of a guarded operation.

A ``before-call`` handler can rewrite the body of a call the guard does not judge (a
``DescribeDBClusters``) into one it judges (its ``Action`` made ``DeleteDBClusterSnapshot``):
none of the guard's handlers of the guarded operation runs for it, and no judgement precedes
it. One handler under the service's name, on every operation's ``request-created``,
``after-call`` and ``after-call-error``, finds such a request: one that is not plainly a call
of its own operation (`hooks.plainly_of`) and names a guarded operation of any of the three
services in an ``Action`` (of its body or its URL's query, in any case, given once or more).
It is judged as it is sent, as that operation (`Guard.unjudged`; a request that is no call
of it exactly, or one of an operation its client's API lacks, is ``request.changed``), and its
outcome recorded. So is a call of an operation the guard judges for another service only,
given a parameter the guard judges there that its own API lacks (a DocumentDB
``ModifyDBInstance`` given a ``BackupRetentionPeriod``), and a presigned URL of a call the
guard does not judge that a ``before-sign`` handler made so: read once signed when made with
the client's ``generate_presigned_url`` (`presigned_into`), else, botocore's own function,
as it is signed (the same handler on ``before-sign``: `signed_into`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .. import query, wire
from ..core import operations
from ..core.folding import folded
from ..core.operations import Operation
from ..records import CONTEXT_KEY, GuardedCall
from .changes import scoped_elsewhere
from .hooks import EVERY_STAGES, GUARDED_BY_LOWER, GUARDED_SET, STAGES, plainly_of
from .progress import Presign, in_progress, note_request
from .wrappers import presigning_unjudged

if TYPE_CHECKING:
    from .binding import ClientBinding, Sent
    from .guard import Guard

TURNED_STAGES = {
    stage: "presign_signed" if stage == "before-sign" else method
    for stage, method in STAGES
    if stage in EVERY_STAGES
}
"""The events the handler is registered on (under the service's name: `hooks.hook_client`),
each with the binding's method it hands a turned request (or presign: `signed_into`) to."""


def turned_handler(binding: ClientBinding) -> Callable[..., Any]:
    """The handler of ``binding``'s client for the events of `TURNED_STAGES`, of every
    operation: for a guarded operation (its own handlers run) only the request held again
    once signed (``request-created``, after botocore's signer: `ClientBinding.signed`);
    nothing for a request that is plainly a call of its own operation (the usual one)."""
    own = GUARDED_SET.get(binding.service, frozenset())

    def handler(event_name: str = "", **kwargs: Any) -> Any:
        stage, _, rest = event_name.partition(".")
        operation = rest.rpartition(".")[2]
        if operation in own:
            if stage != "request-created":
                return None
            return binding.signed(operations.OPERATIONS[operation], kwargs["request"])
        if stage == "request-created":
            note_request(operation)  # a read of the guard's is the service's answer
            row = _turned_into(binding, operation, kwargs["request"])
        elif stage == "before-sign":
            turned = signed_into(binding, operation, kwargs)
            return None if turned is None else binding.presign_signed(*turned)
        else:
            row = _turned_call(kwargs.get("context", {}), operation)
        if row is None:
            return None
        return getattr(binding, TURNED_STAGES[stage])(row, **kwargs)

    return handler


def _turned_into(binding: ClientBinding, operation: str, request: Any) -> Operation | None:
    """The guarded operation a request of ``operation`` was made into, its call kept in the
    request's context (the one kept there already, for a retry) and as the call in progress
    (a handler may have given the request a context of its own, which ``after-call`` does
    not get); None: none. A request that is not plainly of its operation is given its body
    as it will be sent, made once (`_as_sent`): what is read of it is what is sent."""
    if plainly_of(request, operation):
        # its own call: the call in progress here (one cut off before its answer by a
        # cancellation or a KeyboardInterrupt, or one this request is made inside) is not
        # what this request's end records
        request.context.setdefault(CONTEXT_KEY, None)
        names = _given_what_its_api_lacks(binding, operation, request.data)
    else:
        query.hold_params(request)  # what is read of them is what is sent
        sent = _as_sent(request.data)
        if sent is not None and sent is not request.data:
            request.data = sent
        names = _named(binding, operation, _pairs(sent, str(query.url_sent(request))))
    guard = binding.guard() if names else None
    if guard is None:
        return None
    call = request.context.get(CONTEXT_KEY)
    if not (
        isinstance(call, GuardedCall)
        and call.made_from == operation
        and call.guard is guard
        and call.binding is binding
    ):
        call = guard.unjudged(operations.OPERATIONS[names[0]], binding, made_from=operation)
        request.context[CONTEXT_KEY] = call
    in_progress.set(call)
    return operations.OPERATIONS[call.fields["operation"]]


def signed_into(
    binding: ClientBinding, operation: str, signing: dict[str, Any]
) -> tuple[Operation, Any, GuardedCall] | None:
    """At ``before-sign`` of ``operation`` (``signing``: the event's arguments): the row, the
    request and the call of a presign made past the client's wrapper (botocore's own
    ``generate_presigned_url(client, ...)``, whose URL the guard never reads) that another
    handler made into a call the guard judges (`_named`); None: none. A presign is told by
    the signature botocore chose for it (``-query``, which no handler can change), on a
    client made to sign its calls otherwise (`ClientBinding.signs_as_presigns`: read as it
    was made, not from the signer a handler may change); a request sent is judged at
    ``request-created`` once signed. The wrapper's own presign is judged here too, and its
    URL read once signed is judged again only when it carries something else
    (`presigned_into`): a handler may give a presign of its own the wrapper's context."""
    request, version = signing.get("request"), signing.get("signature_version")
    if not (isinstance(version, str) and version.endswith(_QUERY)) or binding.signs_as_presigns:
        return None
    if request is None or plainly_of(request, operation):
        return None
    body = request.data  # a file body left unread: a read here would take it from the signer
    sent = _as_sent(body) if isinstance(body, dict | str | bytes) else None
    names = _named(binding, operation, _pairs(sent, str(query.url_sent(request))))
    guard = binding.guard() if names else None
    if guard is None:
        return None
    row = operations.OPERATIONS[names[0]]
    return row, request, guard.unjudged(row, binding, made_from=operation)


_QUERY = "-query"
"""How the names of botocore's signatures of presigned URLs end (``v4-query``)."""


def signs_as_presigns(client: Any) -> bool:
    """Whether ``client`` signs its calls as presigns are signed (``signature_version``
    ``v4-query``): a presign is then not told from a call at ``before-sign``. Read as the
    client is made (`ClientBinding`), not later from its signer, which a handler may change."""
    signer = getattr(client, "_request_signer", None)
    return str(getattr(signer, "signature_version", "")).endswith(_QUERY)


def judged_at_signing(request: Any, call: GuardedCall) -> None:
    """Keep ``call``, a presign judged and recorded as it was signed (`signed_into`), for the
    wrapper's presign under way when it has the wrapper's context: its URL is then judged
    again only when it carries something else (`presigned_into`)."""
    wrapped = presigning_unjudged.get()
    if wrapped and wrapped[0] is request.context:
        wrapped.append(call)


def presigned_call(
    binding: ClientBinding,
    client: Any,
    presigned: Presign | None,
    url: str,
    method: str = "",
    signed: list[Any] | None = None,
) -> tuple[Guard, Operation, GuardedCall, Sent] | None:
    """The guard, row and state of a presigned call of ``binding``'s ``client`` (None: gone),
    and its judged parameters as the URL carries them (`ClientBinding.sent`); None when the
    URL is not of a guarded call. One none of whose handlers ran (the client's
    ``meta.events`` replaced) is judged as it is signed, and so is a presign of a ``method``
    the guard does not judge made into one it judges (`presigned_into`)."""
    if presigned is None:
        return None if client is None else presigned_into(binding, client, method, url, signed)
    call = presigned.call
    guard = binding.guard() if presigned.context is not None else None
    if call is None and guard is not None:
        call = guard.unjudged(operations.OPERATIONS[presigned.operation], binding)
    guard = None if call is None else call.guard
    if call is None or guard is None or client is None:
        return None
    row = operations.OPERATIONS[call.fields["operation"]]
    query = urllib.parse.urlsplit(url).query
    if query in ("", urllib.parse.urlsplit(client.meta.endpoint_url).query):
        # unsigned (botocore moves the body into the URL as it signs it): no call at all
        return guard, row, call, (call.judged, None)
    judged, swapped = binding.sent(row, query, call)
    return guard, row, call, (judged, swapped or scoped_elsewhere(row, query, binding.region))


def presigned_into(
    binding: ClientBinding, client: Any, method: str, url: str, signed: list[Any] | None = None
) -> tuple[Guard, Operation, GuardedCall, Sent] | None:
    """A presigned URL of a call of ``client``'s ``method``, which the guard does not judge,
    that another handler (at ``before-sign``) made into a call it judges, as a request is
    (`_named`): the guard in force, the row, the call, judged as the URL is signed, and
    what the URL carries (`ClientBinding.sent`); None: none, or no guard in force."""
    operation = client.meta.method_to_api_mapping.get(method)
    names = _named(binding, operation, _pairs(None, url)) if operation else []
    guard = binding.guard() if names else None
    if guard is None:
        return None
    row, carried = operations.OPERATIONS[names[0]], urllib.parse.urlsplit(url).query
    for judged in (signed or [])[1:]:  # the wrapper's context, then what was judged with it
        if judged.fields["operation"] == row.name:
            sent, swapped = binding.sent(row, carried, judged)
            if swapped is None and wire.as_judged(sent, judged.judged):
                return None  # judged and recorded as it was signed (`judged_at_signing`)
    call = guard.unjudged(row, binding, made_from=operation)
    return guard, row, call, binding.sent(row, carried, call)


def _named(binding: ClientBinding, operation: str, pairs: list[tuple[str, str]]) -> list[str]:
    """The guarded operations a request of ``operation`` that is not plainly its own names
    in ``pairs`` (its body's and its URL's): each other one an ``Action`` names; else
    ``operation`` itself when one of them gives it a parameter its client's API lacks
    (`_given_what_its_api_lacks`). Names are read as a service comparing them as Java does
    may read them (`folding.folded`)."""
    called = operation.lower()
    said = [folded(value) for key, value in pairs if folded(key) == "action"]
    known = GUARDED_BY_LOWER
    names = sorted({known[action] for action in said if action in known and action != called})
    return names or _given_what_its_api_lacks(binding, operation, [key for key, _ in pairs])


def _given_what_its_api_lacks(
    binding: ClientBinding, operation: str, keys: Iterable[str]
) -> list[str]:
    """``[operation]`` for a call of an operation the guard judges for another service only
    (a DocumentDB ``ModifyDBInstance``) one of whose ``keys`` (its body's, its URL's query's)
    names a parameter the guard judges there and the client's API lacks
    (``BackupRetentionPeriod``, put there by another handler or the endpoint URL), as a
    service comparing names as Java does may read it (`folding.folded`): the endpoint the three
    services share carries it out as rds's. Else none."""
    row = operations.OPERATIONS.get(operation)
    lacking = () if row is None else binding.readers(row).lacking
    if lacking:
        names = {name.lower() for name in lacking}
        if any(folded(key.partition(".")[0]) in names for key in keys):
            return [operation]
    return []


def _turned_call(context: Any, operation: str) -> Operation | None:
    """The guarded operation of the call an ended request of ``operation`` was turned into
    (kept in its context, or as the call in progress: `ClientBinding.ended` finds it there);
    None: none."""
    # no key: a handler gave the request a context of its own, whose call is the one in
    # progress; None: a request plainly of its own operation (`_turned_into`)
    call = context[CONTEXT_KEY] if CONTEXT_KEY in context else in_progress.get()
    if not isinstance(call, GuardedCall) or call.made_from != operation or not call.requested:
        return None
    return operations.OPERATIONS[call.fields["operation"]]


def _as_sent(data: Any) -> str | bytes | None:
    """A request's body as it will be sent, made once: a dict as botocore sends one (through
    its own ``items()``, each string key and value through its own ``encode()``, then
    urllib's ``urlencode``, which sends each item of a value that has a length), text as it
    is, bytes of a bytes-like body or of a file, read from where it stands (it is sent from
    there). None for any other body, or one botocore could not send either (it fails there
    as it would without the guard)."""
    try:
        if isinstance(data, dict):
            pairs = [(_utf8(key), _utf8(value)) for key, value in data.items()]
            return urllib.parse.urlencode(pairs, doseq=True)
        if isinstance(data, str | bytes):
            return data
        if isinstance(data, bytearray | memoryview):
            return bytes(data)
        read = getattr(data, "read", None)
        content = read() if callable(read) else None
    except Exception:  # as botocore would fail to send it
        return None
    return content if isinstance(content, str | bytes) else None


def _utf8(text: Any) -> Any:
    # botocore's own: a str, of any subclass, as its encode() gives it; anything else as it is
    return text.encode("utf-8") if isinstance(text, str) else text


def _pairs(body: str | bytes | None, url: str) -> list[tuple[str, str]]:
    """Every name and value a request gives: of its body as it is sent (form text) and of
    its URL's query, each one given (which the service reads of a name given twice, in
    which case, is not known)."""
    pairs = _query_pairs(body) if body is not None else []
    return pairs + _query_pairs(urllib.parse.urlsplit(url).query)


def _query_pairs(text: str | bytes) -> list[tuple[str, str]]:
    """The name and value pairs of form text (bytes read as UTF-8), each one given."""
    decoded = text if isinstance(text, str) else text.decode(errors="replace")
    return urllib.parse.parse_qsl(decoded, keep_blank_values=True)

"""``request.changed``: what the guard says of a request another handler changed after the
guard judged the call, made into a call it never judged, or that reached it with no judgement
at all. Each builder names the parameter (or ``body``, ``url``, ``Action``) and why what is
sent cannot stand as judged."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from .. import wire
from ..core.calls import Decision
from ..core.folding import folded
from ..core.operations import Operation
from ..core.rules import Violation, shown_given
from ..records import GuardedCall, sent_tags

_CHANGED_BY = (
    "changed by another handler after the guard judged the call, or sent as botocore "
    "serializes a value its validation would refuse, with parameter_validation off"
)


def changed_violations(
    row: Operation, judged: Mapping[str, Any], sent: Mapping[str, Any], again: Decision
) -> list[Violation]:
    """What is wrong with a request another handler changed after the guard judged it
    (``judged``: the parameters as the guard decided them; ``sent``: as they go out;
    ``again``: the decision on what goes out). A change that leaves the call within the
    policy is no violation; otherwise the rules it breaks as sent, and ``request.changed``
    for each parameter that was changed."""
    differs = any(not wire.same(again.params.get(n), sent.get(n)) for n in row.judged)
    if not (again.violations or differs):
        return []
    return [
        *again.violations,
        *(
            Violation(
                "request.changed",
                name,
                _shown(sent.get(name)),
                f"not as rds_guard judged it: {_CHANGED_BY}; as sent, the call breaks the policy",
            )
            for name in row.judged
            if not wire.same(sent.get(name), judged.get(name))
        ),
    ]


def changed_after(names: list[str]) -> str:
    """The note of a call another handler changed after the guard judged it."""
    return f"changed after rds_guard judged it: {', '.join(names)}"


def changed_notes(
    readers: wire.Readers, row: Operation, judged: Mapping[str, Any], sent: Mapping[str, Any]
) -> list[str]:
    """The note of a call judged again as sent (`changed_after`), naming the parameters not
    sent as botocore writes what was judged (`wire.written_as`); none if there are none (a
    flag botocore's serializer wrote from a value of another type is no one's change)."""
    names = [n for n in row.judged if not wire.written_as(readers, n, judged.get(n), sent.get(n))]
    return [changed_after(names)] if names else []


def invalid_given(fields: Mapping[str, Any], invalid: Iterable[Violation]) -> list[dict[str, Any]]:
    """The ``request.invalid`` violations a call's records carry (``fields``), with those of
    ``invalid`` not among them yet: what botocore's validation would refuse in the call as
    given, or as a later handler left it, stays so however the call is judged again (warn)."""
    given = [v for v in fields.get("violations", ()) if v["rule"] == "request.invalid"]
    return given + [v for v in (found.as_dict() for found in invalid) if v not in given]


def swapped_note(call: GuardedCall, swapped: Violation) -> str:
    """The note of a request that is no call of its operation: why a first judgement was made
    at ``request-created`` (`GuardedCall.unjudged_note`), else what was changed since one."""
    first = call.unjudged and not call.requested
    return call.unjudged_note if first else changed_after([swapped.field])


def unjudged_violations(
    row: Operation, sent: Mapping[str, Any], decided: Decision
) -> list[Violation]:
    """What a request that reached ``request-created`` with no judgement breaks besides the
    rules (``decided``: the decision on it as sent): each parameter the policy would have set
    otherwise (its tags, a name), which it can no longer do there."""
    return [
        Violation(
            "request.changed",
            name,
            _shown(sent.get(name)),
            "the request reached rds_guard only as it was sent, where the policy can no longer"
            " set this parameter as it would have",
        )
        for name in row.judged
        if not wire.same(decided.params.get(name), sent.get(name))
    ]


def swapped_request(
    row: Operation, body: Mapping[str, Any] | None, data: object
) -> Violation | None:
    """``request.changed`` for a request another handler made into one the guard did not
    judge: a body it cannot read as one call (``body`` None: `wire.form_params` could not
    read ``data``), or a call of another operation. None for a call of the row's."""
    if body is None:
        return Violation(
            "request.changed",
            "body",
            type(data).__name__,
            f"not what rds_guard judged of a call of {row.name}: {_CHANGED_BY}; the guard"
            " cannot read the body as one call, so what it would do cannot be judged",
        )
    action = body.get("Action")
    if action == row.name:
        return None
    return Violation(
        "request.changed",
        "Action",
        _shown(action),
        f"changed by another handler after rds_guard judged a call of {row.name}: the request"
        " would make another call, which was never judged",
    )


def kept_changing(row: Operation, times: int) -> Violation:
    """``request.changed`` for a request another thread or task gave another body or URL
    each time the guard held it (``times``): what it will send cannot be judged."""
    return Violation(
        "request.changed",
        "body",
        None,
        f"a call of {row.name} given another body or URL by another thread or task each of"
        f" the {times} times rds_guard held it: what it would send cannot be judged",
    )


def lacking(row: Operation, service: str) -> Violation:
    """``request.changed`` for a request of a ``service`` client that another handler made
    into a call of ``row`` the guard judges for another service only (the endpoint the three
    share carries it out as that service's): it cannot be read as a call of the client's."""
    return Violation(
        "request.changed",
        "Action",
        row.name,
        f"made by another handler into a call of {row.name} that rds_guard judges as an rds"
        f" call and never as a {service} one (by its Action, or a parameter the {service} API"
        " lacks; their endpoint carries it out as rds's): what it would do cannot be judged",
    )


def queried_url(
    row: Operation, url: str, endpoint_url: str, parameters: Iterable[str] = ()
) -> Violation | None:
    """``request.changed`` on ``url`` for a request whose URL carries a query its client's
    endpoint does not: parameters another handler put there, never judged, which a service
    may read as the body's. None for the endpoint's own query, unless it names one of the
    call's ``parameters`` (or ``Action``, ``Version``), or a key under one
    (``ValuesToAdd.AttributeValue.2``), in any case (``ı`` for ``i``): an endpoint
    configured so sends them with every call, never judged."""
    query = url.partition("?")[2].partition("#")[0]
    # the names only: a value may be a token or a password, which no record stores
    names = sorted({name for name, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)})
    if query == endpoint_url.partition("?")[2].partition("#")[0]:
        called = {name.lower() for name in (*parameters, "Action", "Version")}
        if not any(folded(name.partition(".")[0]) in called for name in names):
            return None
        how = "given by the endpoint URL, which sends them with every call"
    else:
        how = f"given a query by another handler after rds_guard judged a call of {row.name}"
    return Violation(
        "request.changed",
        "url",
        _shown(", ".join(names)),
        f"{how}: the service may read parameters from it, which were never judged",
    )


def judged_anew(row: Operation, sent: Mapping[str, Any], call: GuardedCall) -> Mapping[str, Any]:
    """What a request of ``call``, changed since it was judged, is judged again as: ``sent``,
    or, when another handler changed its source or its copy flag, ``sent`` without the tags
    the guard added (the policy's or the source's, in ``call``'s record, still sent with the
    values it gave them; the others as sent, in their order). The source then passes on
    another's tags, or none, which the decision on it keeps (`kept_anew`)."""
    moved = any(
        not wire.same(sent.get(name), call.judged.get(name))
        for name in (row.source, row.copy_tags)
        if name
    )
    tags = sent.get(row.tags) if moved and row.tags else None
    if not isinstance(tags, list) or not tags or row.tags is None:
        return sent
    judged = call.fields.get("tags") or {}
    added = {*call.fields.get("injected", ()), *call.fields.get("inherited", ())}
    own = [tag for tag in tags if not _added(tag, added, judged)]
    anew = {name: value for name, value in sent.items() if name != row.tags}
    return anew | ({row.tags: own} if own else {})


def _added(tag: object, added: set[str], judged: Mapping[str, Any]) -> bool:
    """Whether ``tag``, sent, is one the guard added, with the value it gave it."""
    if not isinstance(tag, Mapping):
        return False
    key = tag.get("Key")
    return type(key) is str and key in added and key in judged and tag.get("Value") == judged[key]


def kept_anew(row: Operation, sent: Mapping[str, Any], again: Decision) -> Decision:
    """``again``, the decision on a request judged anew (`judged_anew`), taking the tags sent
    for its own when they keep every tag it gives the snapshot, whatever their order and
    whatever else they carry: AWS gives it the tags the request carries. Only a request that
    loses one (the new source's, the policy's) is a change `changed_violations` names."""
    if row.tags is None:
        return again
    carried = sent_tags(row, sent) or {}
    # the snapshot's final tags as decided (AWS's own copy's too, when the decision sends no
    # Tags): once the request carries Tags, AWS copies none, so they must carry these
    if any(value is not None and carried.get(key) != value for key, value in again.tags.items()):
        return again
    params = {name: value for name, value in again.params.items() if name != row.tags}
    return dataclasses.replace(again, params=params | {row.tags: sent.get(row.tags)})


def signed_how(context: object) -> tuple[object, bool]:
    """How a handler told botocore to sign a request, read from its context's ``signing`` once,
    as botocore's signer reads it (``context.get("signing", {})``, whatever their types): the
    region, the ``["region"]`` of one whose ``get("region")`` is true (None: the client's),
    and whether it gave credentials of its own (``request_credentials``, which the signer
    takes over the client's and botocore never sets itself). None and False for a context
    that cannot be read so (botocore's signer then fails as it reads it)."""
    try:
        signing = context.get("signing", {})  # type: ignore[attr-defined]
        region = signing["region"] if signing.get("region") else None
        return region, bool(signing.get("request_credentials"))
    except Exception:
        return None, False


def signed_elsewhere(row: Operation, context: object, region: str | None) -> Violation | None:
    """``request.changed`` for a request another handler made to be signed for a region
    other than its client's, ``region``, where the call was judged and its facts read: the
    service acts on that region's resources (a snapshot of the same name, say, under a legal
    hold there), which were never read nor judged; and for one it gave credentials of its own
    (`signed_how`): the service acts as another principal. None when it is signed for
    ``region`` with the client's credentials."""
    signed, another = signed_how(context)
    if another:
        return Violation(
            "request.changed",
            "credentials",
            None,  # never shown: they are secrets
            f"signed with other credentials than the client's by another handler after "
            f"rds_guard judged a call of {row.name}: the service acts as another principal, "
            "maybe of another account, whose resources were never read nor judged",
        )
    return _elsewhere(row, signed, region)


def scoped_elsewhere(row: Operation, query: str, region: str | None) -> Violation | None:
    """`signed_elsewhere` for a presigned URL's ``query``: the region of its credential's scope
    (``X-Amz-Credential``: ``KEY/DATE/REGION/SERVICE/aws4_request``), which a handler may have
    set (at ``choose-signer`` or ``before-sign``) as the URL was signed."""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    scope = next((value for name, value in pairs if name == "X-Amz-Credential"), "").split("/")
    return _elsewhere(row, scope[2] if len(scope) > 2 else None, region)


def _elsewhere(row: Operation, signed: object, region: str | None) -> Violation | None:
    if signed is None or region is None or (type(signed) is str and signed == region):
        return None
    shown = _shown(signed)
    return Violation(
        "request.changed",
        "region",
        shown,
        f"signed for another region ({shown}) by another handler after rds_guard judged a "
        f"call of {row.name} in {region}: the service acts on that region's resources, never "
        "read nor judged",
    )


def mistyped(client: Any, row: Operation, sent: Mapping[str, Any]) -> Violation | None:
    """``request.changed`` for a parameter a request carries as text where botocore sends a
    flag or a number (``true``, digits): put there by another handler (``True``, ``1``, ``1.5``),
    it is read by the service in a way the guard cannot know, so it cannot be judged. None
    when every parameter read is of its shape's type."""
    shape = client.meta.service_model.operation_model(row.name).input_shape
    for name, value in sent.items():
        if isinstance(value, str) and shape.members[name].type_name in wire.CONVERTED:
            return Violation(
                "request.changed",
                name,
                _shown(value),
                f"sent as text by another handler after rds_guard judged a call of {row.name};"
                f" botocore sends a {shape.members[name].type_name} as true, false or digits,"
                " and how the service reads other text cannot be judged",
            )
    return None


def unread_keys(
    row: Operation, body: Mapping[str, Any], readers: wire.Readers, values: Mapping[str, Any]
) -> Violation | None:
    """``request.changed`` for a judged parameter under whose key the request holds keys
    botocore never writes (`wire.unread`): another handler's, never read by the guard, which
    the service may read as part of it. None when there are none."""
    name = wire.unread(body, readers, values)
    return _unwritten(
        name,
        "holds keys botocore never writes for it, put there by another handler after"
        f" rds_guard judged a call of {row.name}: how the service reads them cannot be judged",
    )


def misnamed_keys(
    row: Operation, body: Mapping[str, Any], readers: wire.Readers, service: str
) -> Violation | None:
    """``request.changed`` for a judged parameter under whose name the request holds a key
    botocore never writes for a call of the client's (`wire.misnamed`): in another case, or
    one the client's API lacks, put there by another handler. None when there is none."""
    return _unwritten(
        wire.misnamed(body, readers),
        f"given under a name botocore never writes for a {service} call of {row.name} (in"
        f" another case, or a parameter the {service} API lacks), put there by another"
        " handler: the endpoint the three services share may read it, and how cannot be"
        " judged",
    )


def _unwritten(name: str | None, why: str) -> Violation | None:
    # ``request.changed`` on the parameter ``name`` for keys botocore never writes; none
    return None if name is None else Violation("request.changed", name, None, why)


def read_as_sent(
    client: Any,
    row: Operation,
    body: Mapping[str, Any],
    readers: wire.Readers,
    service: str,
    judged: dict[str, Any],
) -> tuple[dict[str, Any], Violation | None]:
    """What a request's ``body`` sends of the judged parameters, read (`wire.sent_params`),
    and `sent_oddly` of it; ``judged`` itself where what is read is what botocore writes of
    it (`wire.as_written`: ``Tags=[{}]`` sends no tag), which no handler changed."""
    found = wire.sent_params(body, readers)
    oddly = sent_oddly(client, row, body, readers, found, service)
    if oddly is None and wire.same(found, wire.as_written(judged)):
        return judged, None
    return found, oddly


def sent_oddly(
    client: Any,
    row: Operation,
    body: Mapping[str, Any],
    readers: wire.Readers,
    sent: Mapping[str, Any],
    service: str,
) -> Violation | None:
    """``request.changed`` for the first thing a request carries under the judged parameters'
    names otherwise than botocore writes it for a call of the client's (`unread_keys`,
    `misnamed_keys`, `mistyped`; ``sent``: the parameters read of ``body``). None: none."""
    return (
        unread_keys(row, body, readers, sent)
        or misnamed_keys(row, body, readers, service)
        or mistyped(client, row, sent)
    )


def _shown(value: object) -> str | None:
    # a value for a message, of any type (a request another handler changed holds any)
    if value is None:
        return None
    return shown_given(value)

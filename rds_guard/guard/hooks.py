"""Where a client's guard handlers go, and stand-ins that hold those places until the guard
is needed.

Light on purpose (it imports nothing of rds_guard, not even the operations table): the AWS CLI
plugin puts `StandIns` on each rds, docdb and neptune client it makes, and imports the rest
of the guard only when one of them is called, at the first guarded operation.
"""

from __future__ import annotations

import os
import urllib.parse
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from botocore.hooks import EventAliaser, HierarchicalEmitter
from botocore.utils import EVENT_ALIASES
from botocore.validate import ParamValidationDecorator

from ..core.folding import FOLDED_LETTERS
from .wrappers import wrap_methods

HOOK_ID = "rds_guard:" + os.urandom(8).hex()
"""What the unique id of each handler the guard registers starts with: a random part, new in
each process. botocore skips a handler registered under an id already taken, and a client
copies its session's handlers, ids and all: under ids anyone could guess (the event names
alone), a handler registered first under one, on the session or the client, kept the guard's
off every client made after, the guard still saying it was installed, and unregistering by
that id took the guard off with no trace. Code that reads this constant can do both still,
as it can reach past the guard by other private means (docs/failures.md)."""

GUARDED: dict[str, tuple[str, ...]] = {
    "rds": (
        "CreateDBClusterSnapshot", "CopyDBClusterSnapshot", "CreateDBSnapshot", "CopyDBSnapshot",
        "DeleteDBCluster", "DeleteDBInstance", "DeleteTenantDatabase", "StopDBInstance",
        "CreateDBClusterGroupSnapshot", "AddTagsToResource", "RemoveTagsFromResource",
        "ModifyDBClusterSnapshotAttribute", "ModifyDBSnapshotAttribute",
        "DeleteDBClusterSnapshot", "DeleteDBSnapshot", "DeleteDBClusterGroupSnapshot",
        "DeleteDBInstanceAutomatedBackup", "DeleteDBClusterAutomatedBackup",
        "DeleteDBClusterGroupAutomatedBackup", "DeleteDBClusterGroup", "ModifyDBInstance",
        "PromoteReadReplica", "StartExportTask",
    ),
    "docdb": (
        "CreateDBClusterSnapshot", "CopyDBClusterSnapshot", "DeleteDBCluster", "DeleteDBInstance",
        "AddTagsToResource", "RemoveTagsFromResource", "ModifyDBClusterSnapshotAttribute",
        "DeleteDBClusterSnapshot",
    ),
    "neptune": (
        "CreateDBClusterSnapshot", "CopyDBClusterSnapshot", "DeleteDBCluster", "DeleteDBInstance",
        "AddTagsToResource", "RemoveTagsFromResource", "ModifyDBClusterSnapshotAttribute",
        "DeleteDBClusterSnapshot", "ModifyDBInstance",
    ),
}  # fmt: skip
"""Each service's guarded operations, in the operations table's order: the table's names
written out (a test holds them equal to it), so that placing the handlers builds no table.
Building it takes about 3 ms, and the AWS CLI places stand-ins on every rds command."""

GUARDED_SET = {service: frozenset(names) for service, names in GUARDED.items()}
"""`GUARDED` as sets: what a handler on every operation asks of each request."""

JUDGED_ONLY_WITH: dict[str, str] = {
    "ModifyDBInstance": "BackupRetentionPeriod",
    "PromoteReadReplica": "BackupRetentionPeriod",
}
"""The guarded operations judged by one parameter alone (the retention, which may turn the
automated backups off): a call without it is neither judged nor recorded, so `StandIns` let
it by without loading the guard or the policy (written out, as `GUARDED` is; a test holds it
to the table)."""

STAGES = (
    ("before-parameter-build", "before_parameter_build"),
    ("request-created", "request_created"),
    ("before-sign", "before_sign"),
    ("after-call", "after_call"),
    ("after-call-error", "after_call_error"),
)
"""The events of a guarded operation the guard handles, each with its handler's method name
(of `rds_guard.guard.binding.ClientBinding`)."""

EVERY_STAGES = ("request-created", "before-sign", "after-call", "after-call-error")
"""The events the handler of every operation's requests goes on, under the service's name
(`hook_client`): registered with the client made, it runs after botocore's signer at
``request-created``, and at ``before-sign`` sees the presigns made past the client's
wrapper."""


LAST_EVENT = "before-parameter-build"
"""Where the guard's last ``before-parameter-build`` handler goes: under the bare event name,
whose handlers botocore calls after those of the service's and the operation's names."""


class Hooked(Protocol):
    """What the hooks are registered on: a botocore (or aiobotocore) client."""

    @property
    def meta(self) -> Any:
        """The client's ``meta`` (its events, its service model)."""

    generate_presigned_url: Callable[..., Any]


def service_of(client: Hooked) -> str:
    """The client's service, as the operations table names it (``rds``, ``docdb``, ...)."""
    return str(client.meta.service_model.service_id.hyphenize())


def hook_client(
    client: Hooked,
    handler_for: Callable[[str, str], Callable[..., Any]],
    presign: Callable[..., Any],
    last: Callable[..., Any],
    every: Callable[..., Any] | None = None,
) -> None:
    """Register ``handler_for(method, operation)`` under each guarded operation's exact event
    names (its place in botocore's handler order), ``last`` after every other
    ``before-parameter-build`` handler (registered last under the bare event name: it sees
    every call of the client), ``every`` (if given) under the service's name on each of
    `EVERY_STAGES` (it sees every operation's request, and finds one another handler made
    into a guarded call), and wrap ``generate_presigned_url`` with ``presign`` (no event
    fires after a URL is signed).

    The unique ids are the event names after `HOOK_ID`, so the guard's handlers are on a
    client once, however often it is hooked. The presign wrapper is not deduplicated: a client
    hooked twice (the AWS CLI plugin's `StandIns`, then an install on the client) has two, one
    subclass over the other, the outer handing its calls to the inner. Handlers are best plain
    functions: botocore inspects the signature of each one registered, and a
    `functools.partial`'s costs three times as much (about a hundred handlers on an rds client).
    """
    service = service_of(client)
    events, named = _registrar(client.meta.events)
    for name in GUARDED.get(service, ()):
        for stage, method in STAGES:
            event = f"{stage}.{service}.{name}"
            events.register(named(event), handler_for(method, name), unique_id=f"{HOOK_ID}:{event}")
    events.register_last(named(LAST_EVENT), last, unique_id=f"{HOOK_ID}:{LAST_EVENT}:last")
    for stage in EVERY_STAGES if every is not None else ():
        event = f"{stage}.{service}"
        events.register(named(event), every, unique_id=f"{HOOK_ID}:{event}")
    wrap_methods(client, presign)


_TRANSLATED: dict[str, str] = {}
"""Each event name the guard registers, as botocore's own table of old event names
(``EVENT_ALIASES``) translates it."""

_ALIASES = dict(EVENT_ALIASES)
"""botocore's table of old event names as it was when this module was imported: the table an
aliaser must have for its names to be translated here (one that has changed since is asked)."""
_OLD_PARTS = frozenset(old for old in _ALIASES if "." not in old)
_OLD_DOTTED = tuple(old for old in _ALIASES if "." in old)


def translated(event: str, alias: Callable[[str], str]) -> str:
    """``event`` as ``alias`` (an aliaser's own translation, with botocore's table) gives it.

    The aliaser tries each of its old names in turn (65 in botocore 1.44), splitting the
    event name again for each, and the first client of a process pays that for every name
    (the AWS CLI makes one client a command). A name holding no old name, neither as one of
    its parts nor (a dotted one) as a substring, is one it returns unchanged: this returns
    it without asking."""
    if _OLD_PARTS.isdisjoint(event.split(".")) and not any(old in event for old in _OLD_DOTTED):
        return event
    return alias(event)


def _registrar(events: Any) -> tuple[Any, Callable[[str], str]]:
    """Where a client's handlers are registered, and the name each is registered under.

    A client's ``meta.events`` is a new `EventAliaser`, which looks every name it is given up
    in its table of old event names with a cache of its own, empty on a new client: some
    40 µs a name, over 3 ms of the 80 names of an rds client, every time one is made. With
    botocore's own table (`_ALIASES`), each name is translated once per process (by the
    first client's aliaser) and registered on the emitter behind the aliaser, under the name
    the aliaser would have registered it under. Any other ``events`` (or an aliaser with a
    table of its own, or botocore's changed since) is registered on as it is."""
    inner = getattr(events, "_emitter", None)
    alias = getattr(events, "_alias_event_name", None)
    if (
        type(events) is not EventAliaser  # (a subclass may do more as it registers)
        or inner is None
        or alias is None
        or getattr(events, "_event_aliases", None) != _ALIASES
    ):
        return events, str

    def named(event: str) -> str:
        found = _TRANSLATED.get(event)
        if found is None:
            found = _TRANSLATED[event] = translated(event, alias)
        return found

    unchecked = type(inner) is HierarchicalEmitter and _UNCHECKED_REGISTERS
    return (_Unchecked(inner) if unchecked else inner), named


_UNCHECKED_REGISTERS = all(
    callable(getattr(HierarchicalEmitter, name, None)) for name in ("_register", "_register_last")
)
"""Whether botocore's emitter has the private methods its ``register`` and ``register_last``
call after their checks (every botocore this was tried with has): without them, the guard
registers through the checks."""


class _Unchecked:
    """botocore's own emitter, registered on without its check of each handler's signature.

    `HierarchicalEmitter.register` asks `inspect.getfullargspec` whether a handler takes
    ``**kwargs`` (some 25 µs a handler, over 2 ms of an rds client's 96). Every handler the
    guard registers does, by construction; the check is skipped, the registration is the
    emitter's own (its ``_register`` and ``_register_last``, which ``register`` calls)."""

    def __init__(self, emitter: HierarchicalEmitter) -> None:
        self._emitter = emitter

    def register(self, event_name: str, handler: Callable[..., Any], unique_id: str) -> None:
        """`HierarchicalEmitter.register`, unchecked."""
        self._emitter._register(event_name, handler, unique_id)

    def register_last(self, event_name: str, handler: Callable[..., Any], unique_id: str) -> None:
        """`HierarchicalEmitter.register_last`, unchecked."""
        self._emitter._register_last(event_name, handler, unique_id)


class StandIns:
    """A botocore client's guard handlers before the guard is loaded: registered in the
    guard's places when the client is made, the first one called asks ``bind`` for the
    client's binding (importing the guard, loading the policy) and every call is handed to
    that binding from then on, the call under way included; none while ``idle()`` says the
    call is answered without a request."""

    def __init__(
        self,
        client: Hooked,
        bind: Callable[[Any], Any],
        idle: Callable[[], bool] = lambda: False,
    ) -> None:
        self._client = weakref.ref(client)
        self._bind = bind
        self._idle = idle
        self._binding: Any = None
        self._own = GUARDED_SET.get(service_of(client), frozenset())
        hook_client(client, self._forwarder, self._presign, self._last, self._every)

    def _forwarder(self, method: str, operation: str) -> Callable[..., Any]:
        forward, idle = self._forward, self._idle
        judging = method == "before_parameter_build"  # the call is judged here
        needed = JUDGED_ONLY_WITH.get(operation) if judging else None
        # a request of a call let by for want of that parameter, which another handler added
        held = method in ("request_created", "before_sign")
        late = JUDGED_ONLY_WITH.get(operation) if held else None

        def forwarded(**kwargs: Any) -> Any:
            if idle():  # the call is answered without a request: nothing to guard
                return None
            unbound = not judging and self._binding is None
            if unbound and (late is None or not _may_be_judged(kwargs["request"], operation, late)):
                return None  # no call was judged: nothing to hold or record
            if (
                needed is not None
                and self._binding is None
                and kwargs["params"].get(needed) is None
            ):
                return None  # nothing to judge: no policy to load (a plain modify)
            return forward(method, operation, **kwargs)

        return forwarded

    def binding(self) -> Any:
        """The client's `ClientBinding`, asked of ``bind`` until it gives one (``bind`` must
        give the same binding to calls that race here)."""
        if self._binding is None:
            client = self._client()
            assert client is not None, "a handler of a client that is gone"
            self._binding = self._bind(client)
        return self._binding

    def _forward(self, method: str, operation: str, **kwargs: Any) -> Any:
        from ..core.operations import OPERATIONS  # the table, once a handler is called

        return getattr(self.binding(), method)(OPERATIONS[operation], **kwargs)

    def _last(self, **kwargs: Any) -> Any:
        if self._binding is None:  # no call was judged: nothing to settle
            return None
        return self._binding.last_before_parameter_build(**kwargs)

    def _every(self, event_name: str = "", **kwargs: Any) -> Any:
        """Every operation's request and its end: before the guard is loaded, only a request
        that is not plainly a call of its own operation is handed on (another handler may
        have made it a guarded call: `rds_guard.guard.turned`), and one of an operation
        judged for rds alone by a parameter that may carry it (a DocumentDB
        ``ModifyDBInstance`` given a ``BackupRetentionPeriod``, which its API lacks)."""
        if self._idle():
            return None
        if self._binding is None:
            request, operation = kwargs.get("request"), event_name.rpartition(".")[2]
            if request is None or operation in self._own:
                return None
            given = JUDGED_ONLY_WITH.get(operation)
            if not (may_be_turned(request, operation) or (given and _may_carry(request, given))):
                return None
        return self.binding().every(event_name=event_name, **kwargs)

    def _presign(self, generate: Callable[..., str], *args: Any, **kwargs: Any) -> str:
        presign: Callable[..., str] = self.binding().presign
        return presign(generate, *args, **kwargs)


def _may_be_judged(request: Any, operation: str, name: str) -> bool:
    """Whether a request of ``operation`` let by for want of ``name`` may now be judged: it
    `_may_carry` it, or it is no plain call of the operation (made into another)."""
    return _may_carry(request, name) or not plainly_of(request, operation)


def _may_carry(request: Any, name: str) -> bool:
    """Whether ``request`` may carry the parameter ``name``: its body names it (in any case,
    or as a key under it), or a name botocore never writes (`_written`), which a service may
    read as it (``ı`` for ``i``, a space trimmed), or cannot be read as botocore's dict, or its
    URL has a query (or it has ``params``, which botocore puts there); it is then judged as
    sent."""
    data = getattr(request, "data", None)
    url = str(getattr(request, "url", ""))
    if not isinstance(data, dict) or "?" in url or _has_params(request):
        return True
    wanted = name.lower()
    for key in map(str, data):
        if not _written(key) or key.partition(".")[0].lower() == wanted:
            return True
    return False


def plainly_of(request: Any, operation: str) -> bool:
    """Whether ``request`` is plainly a call of ``operation``, as botocore makes every one:
    its body botocore's dict, whose one ``Action`` (its name in any case, trimmed) is the
    operation's, none of whose names holds a character botocore never writes (a service may
    read ``Actıon`` as ``Action``), and its URL without a query, and no ``params`` (botocore
    puts them in the query). Another may have been made into a call of another."""
    data = getattr(request, "data", None)
    if type(data) is not dict:
        return False
    action = data.get("Action")
    if type(action) is not str or action != operation:  # a str subclass is sent as it encodes
        return False
    if "?" in str(getattr(request, "url", "")) or _has_params(request):
        return False
    for key in data:  # a loop: every request of the client passes here
        if type(key) is not str or not _written(key):
            return False
        if key != "Action" and key.lower() == "action":
            return False
    return True


def _written(key: str) -> bool:
    """Whether ``key`` is a name as botocore writes one in a body: ASCII letters and digits,
    dots between (every name of the rds, docdb and neptune models is so). Any other a service
    may read otherwise: ``Actıon`` or ``\x01Action`` as ``Action``."""
    return key.isascii() and key.replace(".", "").isalnum()


def _has_params(request: Any) -> bool:
    # as `query.has_params` (this module imports no more than the AWS CLI plugin's stand-ins
    # need): told by their type first, as an object of another says what it likes
    params = getattr(request, "params", None)
    return params is not None and not (type(params) in (dict, list, tuple) and not params)


GUARDED_BY_LOWER = {name.lower(): name for names in GUARDED.values() for name in names}
"""Every guarded operation of the three services, by its name lowercased: their clients send
to one endpoint, which carries out an action of any of them."""


def may_be_turned(request: Any, operation: str) -> bool:
    """Whether ``request``, of an operation the guard does not judge, may have been made into
    a call of one it judges: it is not `plainly_of` its operation, and its body (botocore's
    dict of strings and numbers, or form text, decoded as the service decodes it) or its URL
    names a guarded operation in any case (``ſ`` for ``s``, as `turned` reads a name), or its
    body is of another form, which only the guard reads, or it has ``params``."""
    if plainly_of(request, operation):
        return False
    data = getattr(request, "data", None)
    if type(data) is dict:
        if not all(type(k) is str and type(v) in (str, int, float) for k, v in data.items()):
            return True
        data = " ".join(map(str, data.values()))
    elif isinstance(data, bytes | bytearray):
        data = urllib.parse.unquote_plus(bytes(data).decode(errors="replace"))
    elif isinstance(data, str):
        data = urllib.parse.unquote_plus(data)
    else:
        return True
    if _has_params(request):  # botocore puts them in the URL's query: read them
        return True
    url = urllib.parse.unquote_plus(str(getattr(request, "url", "")))
    said = f"{data} {url}".translate(FOLDED_LETTERS).lower()
    return any(name in said for name in GUARDED_BY_LOWER)


def validates(client: Hooked) -> bool:
    """Whether ``client`` validates its parameters: botocore wraps its serializer in a
    validating one unless ``parameter_validation`` is off (the client's config or profile)."""
    serializer = getattr(client, "_serializer", None)
    return serializer is None or isinstance(serializer, ParamValidationDecorator)

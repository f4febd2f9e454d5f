"""Where a client's guard handlers go, and stand-ins that hold those places until the guard
is needed.

Light on purpose (it imports nothing of rds_guard, not even the operations table): the AWS CLI
plugin puts `StandIns` on each rds, docdb and neptune client it makes, and imports the rest
of the guard only when one of them is called, at the first guarded operation.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from botocore.hooks import EventAliaser
from botocore.utils import EVENT_ALIASES
from botocore.validate import ParamValidationDecorator

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
        "AddTagsToResource", "RemoveTagsFromResource", "ModifyDBClusterSnapshotAttribute",
        "ModifyDBSnapshotAttribute", "DeleteDBClusterSnapshot", "DeleteDBSnapshot",
        "DeleteDBInstanceAutomatedBackup", "DeleteDBClusterAutomatedBackup", "ModifyDBInstance",
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
    ("after-call", "after_call"),
    ("after-call-error", "after_call_error"),
)
"""The events of a guarded operation the guard handles, each with its handler's method name
(of `rds_guard.guard.binding.ClientBinding`)."""


presigning: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "rds_guard_presigning", default=None
)
"""The presign under way through the client's wrapper in this thread or task
(`rds_guard.guard.progress.Presign`)."""


presigns_built: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar(
    "rds_guard_presigns_built", default=()
)
"""The contexts of the presigns a guarded client is building in this thread or task, each
noted as botocore hands it to ``_emit_api_params``, before any handler runs: what makes a
presign one, whatever a handler then puts in or takes out of its context (`_note_if_presign`)."""


def _note_if_presign(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> contextvars.Token[Any] | None:
    """Note the context of ``_emit_api_params(api_params, operation_model, context)`` in
    `presigns_built` when botocore marked it a presign (the first one met while a presign made
    through the client's wrapper is unclaimed is that presign's: `claim_presign`): the token
    to reset; else None."""
    context = kwargs["context"] if "context" in kwargs else args[2] if len(args) > 2 else None
    if not (isinstance(context, dict) and context.get("is_presign_request")):
        return None
    claim_presign(context)
    return presigns_built.set((*presigns_built.get(), context))


def _noting(emit: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``emit`` (``_emit_api_params``) as called, a presign's context noted meanwhile."""
    token = _note_if_presign(args, kwargs)
    try:
        return emit(*args, **kwargs)
    finally:
        if token is not None:
            presigns_built.reset(token)


async def _noting_async(emit: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`_noting` for aiobotocore, whose ``_emit_api_params`` is a coroutine."""
    token = _note_if_presign(args, kwargs)
    try:
        return await emit(*args, **kwargs)
    finally:
        if token is not None:
            presigns_built.reset(token)


def claim_presign(context: dict[str, Any]) -> None:
    """The first presign's context met while a presign made through the client's wrapper is
    under way is its own: claimed as botocore hands it to ``_emit_api_params``
    (`_note_if_presign`), before any handler runs, so before one can make another presign.
    botocore makes a new context for each call and presign, and passes that very dict on: a
    handler may replace the parameters, never the context."""
    presigned = presigning.get()
    if presigned is not None and presigned.context is None:
        presigned.context = context


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
    `STAGES` but the first (it sees every operation's request, and finds one another handler
    made into a guarded call), and wrap ``generate_presigned_url`` with ``presign`` (no event
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
    for stage, _ in STAGES[1:] if every is not None else ():
        event = f"{stage}.{service}"
        events.register(named(event), every, unique_id=f"{HOOK_ID}:{event}")
    _wrap_presign(client, presign)


_TRANSLATED: dict[str, str] = {}
"""Each event name the guard registers, as botocore's own table of old event names
(``EVENT_ALIASES``) translates it."""


def _registrar(events: Any) -> tuple[Any, Callable[[str], str]]:
    """Where a client's handlers are registered, and the name each is registered under.

    A client's ``meta.events`` is a new `EventAliaser`, which looks every name it is given up
    in its table of old event names with a cache of its own, empty on a new client: some
    40 µs a name, over 3 ms of the 80 names of an rds client, every time one is made. With
    botocore's own table, each name is translated once per process (by the first client's
    aliaser) and registered on the emitter behind the aliaser, under the name the aliaser
    would have registered it under. Any other ``events`` (or an aliaser with a table of its
    own) is registered on as it is."""
    inner = getattr(events, "_emitter", None)
    alias = getattr(events, "_alias_event_name", None)
    if (
        type(events) is not EventAliaser  # (a subclass may do more as it registers)
        or inner is None
        or alias is None
        or getattr(events, "_event_aliases", None) != EVENT_ALIASES
    ):
        return events, str

    def named(event: str) -> str:
        found = _TRANSLATED.get(event)
        if found is None:
            found = _TRANSLATED[event] = alias(event)
        return found

    return inner, named


def _wrap_presign(client: Hooked, presign: Callable[..., Any]) -> None:
    """Put ``presign`` in front of the client's ``generate_presigned_url``.

    The wrapper is a method of a subclass of the client's class made for this client alone
    (botocore makes a class per client), so that looking it up gives a bound method, as
    without the guard: it holds the client while it runs (``boto3.client("rds")
    .generate_presigned_url(...)``, the client held by nothing else), and nothing stored on
    the client holds the client (it is freed as soon as it is dropped, not by the cycle
    collector). A ``generate_presigned_url`` set on the client itself is wrapped there. The
    subclass also notes each presign's context as it is built (`presigns_built`).
    """
    cls: Any = type(client)
    guarded: Any = None

    def _emit_api_params(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self, guarded):
            return self._emit_api_params(*args, **kwargs)
        return _noting(super(guarded, self)._emit_api_params, *args, **kwargs)

    async def _emit_api_params_async(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self, guarded):
            return await self._emit_api_params(*args, **kwargs)
        return await _noting_async(super(guarded, self)._emit_api_params, *args, **kwargs)

    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    }
    if hasattr(cls, "_emit_api_params"):
        namespace["_emit_api_params"] = _shaped_as(
            cls._emit_api_params, _emit_api_params, _emit_api_params_async
        )
    if "generate_presigned_url" in vars(client):
        _wrap_in_place(client, presign)
        guarded = type(cls.__name__, (cls,), namespace)
        client.__class__ = guarded
        return
    function = cls.generate_presigned_url
    signature = _signature_of(client.generate_presigned_url)

    # Called on another client (``type(a).generate_presigned_url(b, ...)``): that client's
    # own method, its guard's wrapper or botocore's, as without the guard.
    def generate_presigned_url(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self, guarded):
            return self.generate_presigned_url(*args, **kwargs)
        generate = super(guarded, self).generate_presigned_url
        _called_as_defined(signature, generate, args, kwargs)
        return presign(generate, *args, **kwargs)

    async def generate_presigned_url_async(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self, guarded):
            return await self.generate_presigned_url(*args, **kwargs)
        generate = super(guarded, self).generate_presigned_url
        _called_as_defined(signature, generate, args, kwargs)
        return await presign(generate, *args, **kwargs)

    namespace["generate_presigned_url"] = _shaped_as(
        function, generate_presigned_url, generate_presigned_url_async
    )
    guarded = type(cls.__name__, (cls,), namespace)
    client.__class__ = guarded


def _wrap_in_place(client: Hooked, presign: Callable[..., Any]) -> None:
    """Wrap a ``generate_presigned_url`` set on the client itself, where it is."""
    original = client.generate_presigned_url
    signature = inspect.signature(original)

    def generate_presigned_url(*args: Any, **kwargs: Any) -> Any:
        _called_as_defined(signature, original, args, kwargs)
        return presign(original, *args, **kwargs)

    async def generate_presigned_url_async(*args: Any, **kwargs: Any) -> Any:
        _called_as_defined(signature, original, args, kwargs)
        return await presign(original, *args, **kwargs)

    client.generate_presigned_url = _shaped_as(
        original, generate_presigned_url, generate_presigned_url_async
    )


def _shaped_as(
    original: Callable[..., Any], sync: Callable[..., Any], async_: Callable[..., Any]
) -> Callable[..., Any]:
    """The wrapper of ``original``: ``async_`` for a coroutine function (aiobotocore's), which
    frameworks look at before awaiting, else ``sync``, with ``original``'s name, docstring and
    signature, as without the guard."""
    wrapper = async_ if inspect.iscoroutinefunction(original) else sync
    return functools.update_wrapper(wrapper, original)


def _called_as_defined(
    signature: inspect.Signature,
    generate: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Raise the `TypeError` the method itself raises when ``args`` and ``kwargs`` do not fit
    its ``signature``: called with them, it fails before doing anything, naming itself and
    counting its own arguments (the guard's method would name itself instead)."""
    try:
        signature.bind(*args, **kwargs)
    except TypeError as unfit:
        generate(*args, **kwargs)
        raise unfit


_SIGNATURES: weakref.WeakKeyDictionary[Callable[..., Any], inspect.Signature] = (
    weakref.WeakKeyDictionary()
)
"""The signature of each class's ``generate_presigned_url`` function (botocore's one for
every client), kept while the function lives: a wrapper of an earlier hook, or a function
another handler made for one class, goes with its class."""


def _signature_of(method: Callable[..., Any]) -> inspect.Signature:
    """The signature of ``method``, as looked up on a client (a bound method without its
    first parameter; a static one as it is)."""
    function = getattr(method, "__func__", None)
    if function is None:
        return inspect.signature(method)
    found = _SIGNATURES.get(function)
    if found is None:
        found = _SIGNATURES[function] = inspect.signature(method)
    return found


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
        late = JUDGED_ONLY_WITH.get(operation) if method == "request_created" else None

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
        have made it a guarded call: `rds_guard.guard.turned`)."""
        if self._idle():
            return None
        if self._binding is None:
            request, operation = kwargs.get("request"), event_name.rpartition(".")[2]
            if request is None or operation in self._own or not may_be_turned(request, operation):
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
    """Whether ``request`` may carry the parameter ``name``: its body names it (in any case),
    or cannot be read as botocore's dict, or its URL has a query; it is then judged as sent."""
    data = getattr(request, "data", None)
    if not isinstance(data, dict) or "?" in str(getattr(request, "url", "")):
        return True
    wanted = name.lower()
    return any(str(key).lower() == wanted for key in data)


def plainly_of(request: Any, operation: str) -> bool:
    """Whether ``request`` is plainly a call of ``operation``, as botocore makes every one:
    its body botocore's dict, whose one ``Action`` (its name in any case) is the operation's,
    and its URL without a query. Another may have been made into a call of another."""
    data = getattr(request, "data", None)
    if type(data) is not dict:
        return False
    action = data.get("Action")
    if type(action) is not str or action != operation:  # a str subclass is sent as it encodes
        return False
    if "?" in str(getattr(request, "url", "")):
        return False
    for key in data:  # a loop: every request of the client passes here
        if type(key) is not str or (key != "Action" and key.lower() == "action"):
            return False
    return True


GUARDED_BY_LOWER = {name.lower(): name for names in GUARDED.values() for name in names}
"""Every guarded operation of the three services, by its name lowercased: their clients send
to one endpoint, which carries out an action of any of them."""


def may_be_turned(request: Any, operation: str) -> bool:
    """Whether ``request``, of an operation the guard does not judge, may have been made into
    a call of one it judges: it is not `plainly_of` its operation, and its body (botocore's
    dict of strings and numbers, or form text) or its URL names a guarded operation in any
    case, or its body is of another form, which only the guard reads."""
    if plainly_of(request, operation):
        return False
    data = getattr(request, "data", None)
    if type(data) is dict:
        if not all(type(k) is str and type(v) in (str, int, float) for k, v in data.items()):
            return True
        data = " ".join(map(str, data.values()))
    elif isinstance(data, bytes | bytearray):
        data = bytes(data).decode(errors="replace")
    elif not isinstance(data, str):
        return True
    said = f"{data} {getattr(request, 'url', '')}".lower()
    return any(name in said for name in GUARDED_BY_LOWER)


def validates(client: Hooked) -> bool:
    """Whether ``client`` validates its parameters: botocore wraps its serializer in a
    validating one unless ``parameter_validation`` is off (the client's config or profile)."""
    serializer = getattr(client, "_serializer", None)
    return serializer is None or isinstance(serializer, ParamValidationDecorator)

"""What the guard puts in front of a client's own methods, on a subclass of the client's class
made for that client: ``generate_presigned_url`` (no event fires after a URL is signed), and
``_emit_api_params``, where botocore hands a presign's request context over before any
handler runs (a presign is told by that, not by a mark a handler can take out or put in).

Light on purpose, as `rds_guard.guard.hooks` is: it imports nothing else of rds_guard.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import weakref
from collections.abc import Callable
from typing import Any

presigning: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "rds_guard_presigning", default=None
)
"""The presign under way through the client's wrapper in this thread or task
(`rds_guard.guard.progress.Presign`)."""

presigning_unjudged: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "rds_guard_presigning_unjudged", default=None
)
"""The presign under way through the client's wrapper of a method the guard does not judge:
its context, once claimed (`claim_presign`); the wrapper reads its URL once signed."""


PresignTokens = tuple[contextvars.Token[Any], contextvars.Token[list[Any] | None]]
"""What `end_presign` resets."""


def start_presign(presigned: Any) -> tuple[list[Any] | None, PresignTokens]:
    """Note a presign under way through the client's wrapper: ``presigned`` (`presigning`),
    and for a method the guard does not judge (``presigned`` None) a list, given back, for
    its context once claimed and the calls judged as it is signed (`presigning_unjudged`);
    with the tokens `end_presign` takes."""
    signed: list[Any] | None = [] if presigned is None else None
    return signed, (presigning.set(presigned), presigning_unjudged.set(signed))


def end_presign(tokens: PresignTokens) -> None:
    """The presign `start_presign` noted is over."""
    presigning.reset(tokens[0])
    presigning_unjudged.reset(tokens[1])


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
    handler of ``before-parameter-build`` may replace the parameters, never the context (one
    of ``before-sign`` may give the request another: `turned.signed_into` judges a presign
    whatever context it holds)."""
    presigned = presigning.get()
    if presigned is not None and presigned.context is None:
        presigned.context = context
    unjudged = presigning_unjudged.get()
    if unjudged is not None and not unjudged:
        unjudged.append(context)


def wrap_methods(client: Any, presign: Callable[..., Any]) -> None:
    """Put ``presign`` in front of the client's ``generate_presigned_url``, and `_noting` in
    front of its ``_emit_api_params``.

    The wrapper is a method of a subclass of the client's class made for this client alone
    (botocore makes a class per client), so that looking it up gives a bound method, as
    without the guard: it holds the client while it runs (``boto3.client("rds")
    .generate_presigned_url(...)``, the client held by nothing else), and nothing stored on
    the client holds the client (it is freed as soon as it is dropped, not by the cycle
    collector). The subclass also notes each presign's context as it is built
    (`presigns_built`). A ``generate_presigned_url`` or ``_emit_api_params`` set on the
    client itself is wrapped there.
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
    if "_emit_api_params" in vars(client):  # a tracer's, say: it would shadow the class's
        _note_in_place(client)
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


def _wrap_in_place(client: Any, presign: Callable[..., Any]) -> None:
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


def _note_in_place(client: Any) -> None:
    """Note presigns (`_noting`) through an ``_emit_api_params`` set on the client itself."""
    original = client._emit_api_params

    def _emit_api_params(*args: Any, **kwargs: Any) -> Any:
        return _noting(original, *args, **kwargs)

    async def _emit_api_params_async(*args: Any, **kwargs: Any) -> Any:
        return await _noting_async(original, *args, **kwargs)

    client._emit_api_params = _shaped_as(original, _emit_api_params, _emit_api_params_async)


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

"""A request's query as botocore sends it: its URL's, and the ``params`` botocore's preparer
adds to it (`AWSRequestPreparer._prepare_url`), which a handler may set: a service reads them
as parameters too. Read by the guard as botocore will send them (`url_sent`), once held as
the exact texts botocore sends (`hold_params`); and a query signer's move of the body into
the query told from another handler's change (`moved_to_query`)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.utils import percent_encode_sequence


def has_params(request: Any) -> bool:
    """Whether ``request`` has ``params`` other than botocore's own (none, or an empty dict),
    told by their type first: an object of another says what it likes of its own length."""
    params = getattr(request, "params", None)
    return params is not None and not (type(params) in (dict, list, tuple) and not params)


def hold_params(request: Any) -> None:
    """``request.params``, when it has any (`has_params`), made the exact (name, value) texts
    botocore sends of them (`url_sent`), read once (a dict through the base type's own
    ``items``): what the guard reads of them is what botocore sends. Params that cannot be
    read so are replaced by one named `UNREAD_PARAMS`: read again by botocore, they might
    say what they did not say to the guard."""
    if not has_params(request):
        return
    params = request.params
    try:
        if isinstance(params, dict):
            pairs = list(dict.items(params))
        elif isinstance(params, Mapping):
            pairs = list(params.items())
        else:
            pairs = list(params)
        encoded = urllib.parse.urlencode(pairs, doseq=True)
    except Exception:  # the program's objects
        request.params = [(UNREAD_PARAMS, "")]
        return
    request.params = urllib.parse.parse_qsl(encoded, keep_blank_values=True)


UNREAD_PARAMS = "(params that cannot be read)"
"""What stands for params `hold_params` could not read, or `url_sent` finds not held: a name
no call has (a call of a guarded operation so sent is `request.changed` on its URL)."""


def url_sent(request: Any) -> Any:
    """The URL botocore sends ``request`` to: its ``url``, with its ``params`` (which a
    handler may set: botocore leaves them empty) put in the query as botocore's preparer puts
    them (`AWSRequestPreparer._prepare_url`), where a service reads them as parameters too;
    the ``url`` itself when there are none. Params not held (`hold_params`) since they were
    set are a query of `UNREAD_PARAMS`."""
    url = request.url
    if not has_params(request):
        return url
    params = request.params
    if type(params) is not list or not all(
        type(pair) is tuple and len(pair) == 2 and all(type(text) is str for text in pair)
        for pair in params
    ):
        encoded = urllib.parse.quote(UNREAD_PARAMS)
    else:
        encoded = urllib.parse.urlencode(params, doseq=True)
    return ("&" if urllib.parse.urlparse(url).query else "?").join((url, encoded))


def moved_to_query(
    request: Any, items: Iterable[tuple[str, Any, type]] | None, url: object
) -> bool:
    """Whether ``request`` is what botocore's query signer (``SigV4QueryAuth``: a client of
    ``signature_version`` ``v4-query``) makes of a request whose flat body had ``items`` and
    whose URL was ``url`` (`url_sent`), and nothing else: the body emptied into the query
    after the URL's own (its first value of each name, a body's overriding it in its place),
    each name and value encoded as botocore encodes them, then the signature's parameters."""
    now = url_sent(request)
    if request.data != "" or items is None or type(url) is not str or type(now) is not str:
        return False
    before, after = urllib.parse.urlsplit(url), urllib.parse.urlsplit(now)
    if before._replace(query="") != after._replace(query=""):
        return False
    moved = {
        name: values[0]
        for name, values in urllib.parse.parse_qs(before.query, keep_blank_values=True).items()
    }
    moved.update((name, str(value)) for name, value, _ in items)
    try:
        operation = percent_encode_sequence(moved)
    except UnicodeEncodeError:  # the signer fails on it as well
        return False
    signature = after.query.removeprefix(operation + "&")
    names = [name for name, _ in urllib.parse.parse_qsl(signature, keep_blank_values=True)]
    return signature != after.query and names in _SIGNATURES


_SIGNED = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
]
_SIGNATURES = ([*_SIGNED, "X-Amz-Signature"], [*_SIGNED, "X-Amz-Security-Token", "X-Amz-Signature"])
"""The names of a query signature's parameters, in botocore's order (a token: temporary
credentials)."""

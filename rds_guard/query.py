"""A request's query as botocore sends it: its URL's, and the ``params`` botocore's preparer
adds to it (`AWSRequestPreparer._prepare_url`), which a handler may set: a service reads them
as parameters too. Read by the guard as botocore will send them (`url_sent`), once held as
the exact texts botocore sends (`hold_params`)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any


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

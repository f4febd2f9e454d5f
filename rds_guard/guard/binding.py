"""Each guarded client's hooks: the handlers registered under the exact event names of the
guarded operations, the wrapped ``generate_presigned_url``, and the read of a source's tags.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import urllib.parse
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from .. import aws, wire
from ..core import operations
from ..core.calls import DatabaseFacts, Lookups, SnapshotFacts, SourceTags, Unreadable
from ..core.operations import Operation
from ..records import CONTEXT_KEY, GuardedCall, error_of
from .guard import Guard, LookupFailed, Stack

logger = logging.getLogger("rds_guard")

T = TypeVar("T")
_DENIED = ("AccessDenied", "Unauthorized", "AuthorizationError", "Forbidden")
_presigning: contextvars.ContextVar[list[GuardedCall] | None] = contextvars.ContextVar(
    "rds_guard_presigning", default=None
)


class ClientBinding:
    """One client's hooks. Handlers get no client, so each client gets a binding of its own.

    Each handler is registered under the exact event name of one guarded operation (its place
    in botocore's handler order), bound to that operation's row. The client's
    ``generate_presigned_url`` is wrapped: no event fires after a URL is signed.
    """

    def __init__(self, client: BaseClient) -> None:
        self._client = weakref.ref(client)
        self.service = client.meta.service_model.service_id.hyphenize()
        self.region: str | None = client.meta.region_name
        self.client_stack: Stack | None = None
        self.session_stacks: list[Stack] = []  # the stacks of the sessions that hooked it
        events = client.meta.events
        for service, name in operations.guarded_pairs():
            if service != self.service:
                continue
            row = operations.OPERATIONS[name]
            for stage, handler in (
                ("before-parameter-build", self.before_parameter_build),
                ("before-call", self.before_call),
                ("after-call", self.after_call),
                ("after-call-error", self.after_call_error),
            ):
                event = f"{stage}.{service}.{name}"
                events.register(
                    event, functools.partial(handler, row), unique_id=f"rds_guard:{event}"
                )
        presign = client.generate_presigned_url
        client.generate_presigned_url = functools.partial(self.presign, presign)

    def guard(self) -> Guard | None:
        """The guard in force: a direct install on the client wins over its session's (the
        latest hook first, when a session is guarded both directly and as boto3's default)."""
        if self.client_stack is not None and (guard := self.client_stack.top()) is not None:
            return guard
        for stack in reversed(self.session_stacks):
            if (guard := stack.top()) is not None:
                return guard
        return None

    def before_parameter_build(
        self, row: Operation, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        guard = self.guard()
        call = guard.judge(self, row, params) if guard is not None else None
        if call is None:
            return
        if context.get("is_presign_request"):
            presigned = _presigning.get()
            if presigned is not None:
                presigned.append(call)
        else:
            context[CONTEXT_KEY] = call

    def before_call(
        self, row: Operation, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        call, guard = context.get(CONTEXT_KEY), self.guard()
        if isinstance(call, GuardedCall) and guard is not None:
            body = params.get("body")
            sent = (
                wire.sent_params(body, model.input_shape, row.judged)
                if isinstance(body, Mapping)
                else call.judged
            )
            context[CONTEXT_KEY] = guard.check_sent(self, row, call, sent)

    def after_call(
        self, row: Operation, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        # Only calls whose requested record was written: another before-call handler
        # (botocore's Stubber, a test responder) may have answered with nothing sent.
        call, guard = context.get(CONTEXT_KEY), self.guard()
        if isinstance(call, GuardedCall) and call.requested and guard is not None:
            guard.record_outcome(call, parsed, row)

    def after_call_error(
        self, row: Operation, exception: BaseException, context: dict[str, Any], **_: Any
    ) -> None:
        call, guard = context.get(CONTEXT_KEY), self.guard()
        if isinstance(call, GuardedCall) and call.requested and guard is not None:
            guard.record_no_response(call, exception)

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
        presigned: list[GuardedCall] = []
        token = _presigning.set(presigned)
        try:
            url = generate(ClientMethod, Params=Params, ExpiresIn=ExpiresIn, HttpMethod=HttpMethod)
        finally:
            _presigning.reset(token)
        guard = self.guard()
        client = self._client()
        if presigned and guard is not None and client is not None:
            call = presigned[0]
            row = operations.OPERATIONS[call.fields["operation"]]
            model = client.meta.service_model.operation_model(row.name)
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            sent = wire.sent_params(query, model.input_shape, row.judged)
            if sent != call.judged:
                call = guard._judge_again(self, row, call, sent)
            guard.record_presign(call, ExpiresIn)
        return url

    def lookups(self, row: Operation, params: Mapping[str, Any]) -> Lookups:
        """The read-only look-ups of one call, each made on this client if a rule needs it."""
        return Lookups(
            source_tags=functools.partial(self.read_source_tags, row, params),
            snapshot=functools.partial(self.read_snapshot, row, params),
            database=functools.partial(self.read_database, row, params),
        )

    def read_source_tags(self, row: Operation, params: Mapping[str, Any]) -> SourceTags:
        """The tags the source would pass on (None: it passes none)."""
        reference = params.get(row.source) if row.source else None
        if row.lookup is None or not isinstance(reference, str):
            return None
        arn_region = operations.arn_region(reference)
        if arn_region is not None and arn_region != self.region:
            return Unreadable(f"the source is in {arn_region}, the client in {self.region}")
        return self._look_up(aws.source_tags(row.lookup, reference), reference)

    def read_snapshot(
        self, row: Operation, params: Mapping[str, Any]
    ) -> SnapshotFacts | Unreadable | None:
        """The snapshot a delete (described) or a tag operation (its ARN's tags) acts on."""
        if row.facts_lookup is not None and row.facts_from is not None:
            identifier = params.get(row.facts_from)
            if isinstance(identifier, str):
                return self._look_up(aws.snapshot_facts(row.facts_lookup, identifier), identifier)
        reference = params.get(row.source) if row.source else None
        if (row.tags is None and row.tag_keys is None) or not isinstance(reference, str):
            return None
        return self._look_up(aws.arn_tags(reference), reference)

    def read_database(
        self, row: Operation, params: Mapping[str, Any]
    ) -> DatabaseFacts | Unreadable | None:
        """The instance a delete acts on, described."""
        identifier = params.get(row.facts_from) if row.facts_from else None
        if row.facts_lookup is None or not isinstance(identifier, str):
            return None
        return self._look_up(aws.database_facts(row.facts_lookup, identifier), identifier)

    def _look_up(self, read: aws.Read[T], reference: str) -> T | Unreadable:
        """Run a read on this client. Access denied, or a read that cannot be made or parsed:
        `Unreadable`, saying why. What does not exist, or an endpoint that cannot be reached:
        `LookupFailed` with the original error, for the caller to see as it is."""
        client = self._client()
        if client is None:
            return Unreadable("the client is gone")
        try:
            return aws.run(client, read)
        except ClientError as exc:
            error = error_of(exc)
            if any(word in error["code"] for word in _DENIED):
                return Unreadable(f"{error['code']}: {error['message']}")
            raise LookupFailed(exc) from exc
        except BotoCoreError as exc:
            raise LookupFailed(exc) from exc
        except Exception as exc:  # a name the wire cannot carry, an answer it cannot parse
            logger.debug("could not read %s: %s", reference, exc)
            return Unreadable(type(exc).__name__)


_bindings: weakref.WeakKeyDictionary[BaseClient, ClientBinding] = weakref.WeakKeyDictionary()


def binding_of(client: BaseClient) -> ClientBinding:
    binding = _bindings.get(client)
    if binding is None:
        binding = _bindings[client] = ClientBinding(client)
    return binding

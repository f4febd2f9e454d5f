"""The read-only look-ups of one call, made through the client the call goes through.

Each is made at most once, when a rule asks for it: on a botocore client at once, on an
async client ahead of the decision (``ahead``, asking for one not fetched yet raises
`Needed`, and the async binding awaits it and decides again). A read's failure is kept like
its answer: access denied, a cross-region source, or an answer that cannot be read is
`Unreadable`, saying why; what does not exist, or an endpoint that cannot be reached, is a
`LookupFailed` raised to the guard, which records it and hands the caller the original error
(in warn mode, ``lenient``, it is `Unreadable` too: the call is sent as the caller made it,
and the caller gets the service's answer to it; so is a read botocore's `Stubber` refuses,
which holds answers for the program's calls only).

No read is made for a call botocore's parameter validation refuses: the caller gets that
`ParamValidationError` first, as without the guard, and nothing is sent.

The reads themselves (`rds_guard.aws`) and the redaction of a failed one's text are imported
when a decision first asks for a look-up: a program whose calls' decisions ask for none
never loads them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from rds_guard.core.logs import LOGGER as logger

from ..core.calls import Unreadable, unreadable_from
from ..core.operations import Operation
from ..records import error_of
from .progress import read_requests

if TYPE_CHECKING:
    from .. import aws


class LookupFailed(Exception):
    """A read of the source failed in a way the caller must see as it is (the source does
    not exist, the endpoint cannot be reached): ``error`` is the original exception."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Incomplete(ParamValidationError):  # type: ignore[misc]
    """What `CallReads` made ``deferrable`` raises for a call botocore's validation refuses as
    it stands, before the first read: the client binding takes it for a call another
    ``before-parameter-build`` handler may still complete (and never lets it reach the
    caller: botocore raises its own `ParamValidationError` for a call still refused)."""


class Needed(Exception):
    """A look-up the decision asked for that an async binding has not fetched yet."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class CallReads:
    """The look-ups of one call of ``row`` with ``params``, through ``client`` (a
    `LookupSource`): each made on first asking, or, ``ahead``, only answered once `fetch`
    has made it (else `Needed`); ``refused()``: what the client's validation refuses in the
    call, raised before the first read (``deferrable``: as `Incomplete`); ``snapshot_tags``:
    whether the snapshot a delete acts on has its tags read (a rule needs them)."""

    def __init__(
        self,
        client: Any,
        region: str | None,
        row: Operation,
        params: Mapping[str, Any],
        *,
        ahead: bool = False,
        lenient: bool = False,
        refused: Callable[[], list[str]] = list,
        deferrable: bool = False,
        snapshot_tags: bool = True,
    ) -> None:
        self._client = client
        self._lenient = lenient
        self._region = region
        self._row = row
        self._params = params
        self._found: dict[str, Any] = {}
        self._refused = refused
        self._validated = False
        self._deferrable = deferrable
        self._snapshot_tags = snapshot_tags
        self.ahead = ahead

    def reading(self, params: Mapping[str, Any]) -> None:
        """Look up what ``params`` name: the copy of the call's parameters a decision reads,
        so that what is looked up is what is judged (a handler holding the call's own
        ``params`` may change them while a look-up is made). Only before a first look-up:
        an answer found is of the parameters that named it."""
        if not self._found:
            self._params = params

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters whose names the look-ups read (`reading`)."""
        return self._params

    @property
    def failed(self) -> bool:
        """Whether a look-up made failed (`LookupFailed`: raised again when asked again)."""
        return any(isinstance(answer, LookupFailed) for answer in self._found.values())

    def source_tags(self) -> Any:
        """The tags the source passes on."""
        return self._get("source_tags")

    def snapshot(self) -> Any:
        """The snapshot a delete or a tag operation acts on."""
        return self._get("snapshot")

    def database(self) -> Any:
        """The database a delete acts on."""
        return self._get("database")

    def _get(self, kind: str) -> Any:
        if kind not in self._found:
            if self.ahead:
                raise Needed(kind)
            read, answer = self.plan(kind)
            if read is not None:
                from .. import aws

                self._validate()
                try:
                    answer = aws.run(self._client, read, made_by_request)
                except Exception as exc:
                    answer = _failure(exc, self._reference(kind), self._lenient, self._row.name)
            self._found[kind] = answer
        answer = self._found[kind]
        if isinstance(answer, LookupFailed):
            raise answer
        return answer

    async def fetch(self, kind: str) -> None:
        """Make the look-up ``kind`` on the async client, awaiting it."""
        read, answer = self.plan(kind)
        if read is not None:
            from .. import aws

            self._validate()
            try:
                answer = await aws.run_async(self._client, read, made_by_request)
            except Exception as exc:
                answer = _failure(exc, self._reference(kind), self._lenient, self._row.name)
        self._found[kind] = answer

    def _validate(self) -> None:
        """Before the first read: botocore's own `ParamValidationError` for parameters its
        validation refuses (when the client validates), which it would raise before sending
        anything; a read would reach the service first, and fail in its own way."""
        if self._validated:
            return
        self._validated = True
        problems = self._refused()
        if problems:
            refusal = Incomplete if self._deferrable else ParamValidationError
            raise refusal(report="\n".join(problems))

    def plan(self, kind: str) -> tuple[aws.Read[Any] | None, Any]:
        """The read that look-up ``kind`` makes, or None with the answer known without one."""
        from .. import aws

        row = self._row
        if kind == "source_tags":
            reference = self._named(row.source)
            if row.lookup is None or reference is None:
                return None, None
            elsewhere = unreadable_from(self._region, reference)
            if elsewhere is not None:
                return None, elsewhere
            return aws.source_tags(row.lookup, reference), None
        identifier = self._named(row.facts_from)
        if kind == "snapshot":
            if row.facts_lookup is not None and identifier is not None:
                read = aws.snapshot_facts(
                    row.facts_lookup, identifier, with_tags=self._snapshot_tags
                )
                return read, None
            reference = self._named(row.source)
            if (row.tags or row.tag_keys) and reference is not None:
                return aws.arn_tags(reference), None
            return None, None
        if row.facts_lookup is None or identifier is None:
            return None, None
        return aws.database_facts(row.facts_lookup, identifier), None

    def _named(self, parameter: str | None) -> str | None:
        """The name the request gives in ``parameter``; None for none, or an empty one (a
        Describe without a name lists everything: its first item is no answer)."""
        value = self._params.get(parameter) if parameter else None
        return value if isinstance(value, str) and value else None

    def _reference(self, kind: str) -> object:
        row = self._row
        name = row.source if kind == "source_tags" else row.facts_from or row.source
        return self._params.get(name) if name else None


@contextlib.contextmanager
def made_by_request(operation: str) -> Iterator[None]:
    """Around one call of the guard's reads: `aws.OddAnswer` for an answer no request of
    ``operation`` was made for (`progress.read_requests`), which a ``before-call`` handler
    gave: a program's cache, or one answering for the service, would have the guard judge a
    delete on facts the service never gave (a snapshot's age, its hold tags). Made into the
    look-up's `Unreadable`, as any answer that cannot be read as the service's."""
    made: list[str] = []
    token = read_requests.set(made)
    try:
        yield
    finally:
        read_requests.reset(token)
    if operation not in made:
        from .. import aws

        raise aws.OddAnswer(
            f"{operation} was answered with no request made for it (by a before-call handler"
            " of the client, a cache's or botocore's Stubber's): not the service's answer"
        )


def _failure(
    exc: Exception, reference: object, lenient: bool, operation: str
) -> Unreadable | LookupFailed:
    """What a failed read of a call of ``operation`` means for the decision (see the
    module's docstring)."""
    from .. import aws
    from ..audit.redact import without_signing_values

    why = aws.denied(exc)
    if why is not None:
        return Unreadable(why)
    if isinstance(exc, aws.OddAnswer):
        return Unreadable(str(exc), elsewhere=exc.elsewhere)
    if isinstance(exc, ClientError | BotoCoreError):
        if not lenient:
            return LookupFailed(_as_called(exc, operation))
        # the code alone (a message may quote the endpoint's URL, password and all), redacted
        # as a record's is (`audit.fields`): a server or a proxy writes it as it likes
        code = without_signing_values(error_of(exc)["code"])
        return Unreadable(code, missing=aws.not_found(exc))
    # a name the wire cannot carry, another handler's exception (which may quote the request)
    logger.debug("could not read %r: %s", reference, without_signing_values(str(exc)))
    return Unreadable(type(exc).__name__)


def _as_called(error: Exception, operation: str) -> Exception:
    """A failed read's error as the call of ``operation`` raises the service's own: a
    `ClientError` of the same class, code, message and answer naming the operation called,
    not the read's; any other error as it is."""
    called: Exception = error
    if isinstance(error, ClientError) and error.operation_name != operation:
        with contextlib.suppress(Exception):  # a class of another signature: as it is
            called = type(error)(error.response, operation)
    return called

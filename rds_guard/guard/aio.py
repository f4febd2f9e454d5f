"""The hooks of an aiobotocore client: the same guard, awaited.

aiobotocore awaits coroutine handlers, so each hook is a coroutine. The guard's work is the
same function as for a botocore client (`guard.Guard`, `rds_guard.core.decide`); what differs
is that the look-ups are awaited on the client ahead of the decision (the decision asks for
one, it is fetched, the decision is made again: it is pure; the guard is handed the last
one), and that the guard's work runs in a worker thread when it writes a record with fsync, so
that no fsync blocks the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from .. import sending, wire
from ..core import copies
from ..core.calls import Decision
from ..core.decide import decide
from ..core.operations import Operation
from ..core.rules import Violation
from ..forks import after_fork_in_child
from ..records import GuardedCall, status_of, url_expires_in
from .binding import ClientBinding
from .changes import judged_anew
from .guard import Guard
from .progress import (
    at_signing,
    changed_since_held,
    held_as,
    in_progress,
    keep,
    note_held,
    note_presign,
    presign_ending,
    stopped,
)
from .reads import CallReads, Incomplete, LookupFailed, Needed
from .turned import judged_at_signing, presigned_call
from .validation import refuse_presign
from .wrappers import end_presign, start_presign

T = TypeVar("T")


class AioClientBinding(ClientBinding):
    """One aiobotocore client's hooks (see the module's docstring)."""

    async def before_parameter_build(  # type: ignore[override]
        self,
        row: Operation,
        params: dict[str, Any],
        context: dict[str, Any],
        model: Any = None,
        **_: Any,
    ) -> None:
        """``before-parameter-build``: judge the call (look-ups first), keep the judgement."""
        in_progress.set(None)  # a new call: the last one's judgement is not this one's
        guard = self.guard()
        if guard is None or not self.judgeable(params, model):
            return
        problems = self.invalid(row, params)
        invalid: tuple[Violation, ...] = ()
        if problems:  # before the look-ups, as botocore's validation is
            invalid = await off_loop(guard, guard.check_types, self, row, params, problems)
        try:  # decided on the guard's own copy, as `Guard.judge` decides
            detached = copies.detached(params, row.judged)
            decided = await self.ahead(guard, row, detached, deferrable=True)
        except Incomplete:
            keep(guard.deferred(row), context, self)  # judged after every handler
            return
        if isinstance(decided, CallReads):  # a read failed: judged after every handler too
            keep(guard.deferred(row, decided), context, self)
            return
        judge = functools.partial(guard.judge, settle=False)
        keep(await off_loop(guard, judge, self, row, params, decided, invalid), context, self)

    async def last_before_parameter_build(  # type: ignore[override]
        self, params: dict[str, Any], context: dict[str, Any], model: Any = None, **_: Any
    ) -> None:
        """``before-parameter-build``, after every other handler of it (`ClientBinding.
        last_before_parameter_build`), the look-ups awaited."""
        found = self.to_complete(params, context, model)
        if found is None:
            return
        call, guard, row, past_the_wrapper = found
        with presign_ending(past_the_wrapper):
            if past_the_wrapper:  # its URL is never read: signed from what was judged
                copies.plain_params(params, row.judged)
            # copied on the loop, once, and decided on that copy, its look-ups awaited: the
            # caller's other tasks may change ``params`` while they are, and while `complete`
            # runs in a worker thread; such a change is held at request-created
            detached = copies.detached(params, row.judged)
            judged = guard.judged_of(row, detached)
            decided: Decision | CallReads | None = None
            stands = guard.failed_as_read(call, judged)  # read once (`Guard.complete`)
            if not stands and (call.deferred or not wire.same(judged, call.judged)):
                try:
                    decided = await self.ahead(guard, row, detached, deferrable=True)
                except Incomplete as refused:  # refused as changed: botocore raises it next
                    refuse_presign(past_the_wrapper, refused)
                    return
            complete = guard.complete
            completed = await off_loop(guard, complete, self, row, call, params, decided, judged)
            if completed is not call:
                keep(completed, context, self)
            if completed is not None and past_the_wrapper:  # held and recorded as it is signed
                note_presign(context, completed)

    async def request_created(  # type: ignore[override]
        self, row: Operation, request: Any, **_: Any
    ) -> None:
        """``request-created``: the request as every ``before-call`` handler left it, held
        against the judgement (`ClientBinding.to_hold`), the look-ups awaited, until it
        holds still (another task may change it meanwhile: `ClientBinding.held_again`)."""
        found, rounds, read = self.to_hold(row, request), 0, None
        while found is not None:
            call, guard, (sent, swapped), check = found
            read = sending.as_read(request)
            try:
                decided = await self.anew(guard, row, call, sent, swapped)
                await off_loop(guard, check, self, row, call, sent, decided, swapped)
            except BaseException:
                stopped(call)
                raise
            rounds += 1
            found = self.held_again(row, request, read, rounds)
        note_held(request, read, rounds)

    async def before_sign(  # type: ignore[override]
        self, row: Operation, request: Any, **_: Any
    ) -> None:
        """``before-sign``: the request held again, or a presign past the wrapper held and
        recorded, the look-ups awaited (`ClientBinding.before_sign`)."""
        hold, call = at_signing(request, row.name)
        if hold == "presign" and call is not None:
            await self.presign_signed(row, request, call)
        elif hold == "request":
            held_as(request, call)
            await self.request_created(row, request)

    async def signed(self, row: Operation, request: Any) -> None:  # type: ignore[override]
        """`ClientBinding.signed`, the look-ups awaited: the signer awaits a refresh of the
        credentials, in which another task may change the request."""
        if changed_since_held(request, query_signed=self.signs_as_presigns):
            await self.request_created(row, request)

    async def presign_signed(  # type: ignore[override]
        self, row: Operation, request: Any, call: GuardedCall
    ) -> None:
        """`ClientBinding.presign_signed`, the look-ups awaited."""
        guard = call.guard
        if guard is not None:
            sent, swapped = self.read_sent(row, request, call)
            decided = await self.anew(guard, row, call, sent, swapped)
            check = guard.check_presigned
            await off_loop(guard, check, self, row, call, sent, None, decided, swapped)
            judged_at_signing(request, call)

    async def after_call(  # type: ignore[override]
        self,
        row: Operation,
        parsed: Mapping[str, Any],
        context: dict[str, Any],
        http_response: Any = None,
        **_: Any,
    ) -> None:
        """``after-call``: the outcome record of an answered call."""
        call, guard = self.ended(context)
        if call is not None and guard is not None:
            status = status_of(http_response)
            await off_loop(guard, guard.record_outcome, call, parsed, row, status, to_the_end=True)

    async def after_call_error(  # type: ignore[override]
        self, row: Operation, exception: BaseException, context: dict[str, Any], **_: Any
    ) -> None:
        """``after-call-error``: the outcome record of a call that got no answer."""
        call, guard = self.ended(context)
        if call is not None and guard is not None:
            await off_loop(guard, guard.record_no_response, call, exception, to_the_end=True)

    async def presign(  # type: ignore[override]
        self,
        generate: Callable[..., Awaitable[str]],
        ClientMethod: str,
        Params: Mapping[str, Any] | None = None,
        ExpiresIn: int = 3600,
        HttpMethod: str | None = None,
    ) -> str:
        """aiobotocore's ``generate_presigned_url`` (a coroutine), judged like the call."""
        params, presigned = self.presign_params(ClientMethod, Params)
        signed, tokens = start_presign(presigned)
        try:
            url = await generate(
                ClientMethod, Params=params, ExpiresIn=ExpiresIn, HttpMethod=HttpMethod
            )
        finally:
            end_presign(tokens)
        found = presigned_call(self, self._client(), presigned, url, ClientMethod, signed)
        if found is not None:
            guard, row, call, (sent, swapped) = found
            decided = await self.anew(guard, row, call, sent, swapped)
            expires_in = url_expires_in(url, ExpiresIn)
            await off_loop(
                guard, guard.check_presigned, self, row, call, sent, expires_in, decided, swapped
            )
        return url

    async def anew(
        self,
        guard: Guard,
        row: Operation,
        call: GuardedCall,
        sent: dict[str, Any],
        swapped: Violation | None,
    ) -> Decision | CallReads | None:
        """`ahead` for a request of ``call`` changed since it was judged, on what it is
        judged again as (`changes.judged_anew`); None when it is not changed, or is refused
        as it stands (``swapped``: `Guard.hold` judges nothing again, as for a sync client;
        a look-up would first have botocore's validation refuse a flag sent as text)."""
        if swapped is not None or wire.as_judged(sent, call.judged):
            return None
        return await self.ahead(guard, row, judged_anew(row, sent, call))

    async def ahead(
        self, guard: Guard, row: Operation, params: Mapping[str, Any], *, deferrable: bool = False
    ) -> Decision | CallReads:
        """The guard's decision on ``params``, its look-ups awaited on this client; or, when
        a look-up failed, the look-ups: the guard records the failure when it decides
        (``deferrable``: see `CallReads`)."""
        reads = self.reads(row, params, guard, ahead=True, deferrable=deferrable)
        facts = self.facts()
        while True:
            try:
                return decide(guard.policy, row, params, facts, reads)
            except Needed as needed:
                await reads.fetch(needed.kind)
            except LookupFailed:
                return reads


async def off_loop(guard: Guard, work: Callable[..., T], *args: Any, to_the_end: bool = False) -> T:
    """``work(*args)``: in one of the guard's own worker threads (`workers`) when it may fsync
    a record or wait for the ledger (``mode = "required"``: a round trip per call) or for the
    log's lock (held now), else right here, holding the log's locks from the check that they
    are free through the writes (`AuditLog.held_if_free`). ``to_the_end``: the record
    of something that has happened (an outcome), written even when the task awaiting it is
    cancelled (the task gets its `CancelledError` at once): cancelled, a job still waiting for
    a worker would be dropped, and a call the service answered left unrecorded."""
    audit = guard.audit
    if audit is None:
        return work(*args)
    if not (audit.fsync or _ledger_required(audit)):
        with audit.held_if_free() as held:
            if held:
                return work(*args)
    loop = asyncio.get_running_loop()
    try:  # a pool made now imports concurrent.futures.thread first, unless imported already
        own, each_loop = _work_of(loop)
        job = own.pool.submit(contextvars.copy_context().run, work, *args)
    except RuntimeError:  # the interpreter is exiting (a thread's loop outlives the main
        return work(*args)  # thread): no pool is made nor takes a job: written here
    _keep_open(loop, job, own if each_loop else None)
    done = asyncio.wrap_future(job, loop=loop)
    return await (asyncio.shield(done) if to_the_end else done)


WORKERS = min(32, (os.cpu_count() or 1) + 4)
"""How many threads `workers` has at most: as many as asyncio's default executor."""


class _LoopWork:
    """One loop's worker threads (`workers`), and the jobs of its records there that may not
    be done yet, with whether a job of the loop's default executor waits for them
    (`_keep_open`)."""

    __slots__ = ("jobs", "pool", "waited")

    def __init__(self) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="rds_guard")
        self.jobs: set[concurrent.futures.Future[Any]] = set()
        self.waited = False


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWork] = (
    weakref.WeakKeyDictionary()
)
_shared: dict[None, _LoopWork] = {}  # for loops no weak reference takes
_loops_lock = threading.Lock()


def workers(loop: asyncio.AbstractEventLoop) -> concurrent.futures.Executor:
    """The guard's own worker threads for ``loop`` (`WORKERS`), made when first needed and
    let go with the loop, as its default executor is: not that executor, which the program's
    own code may fill with jobs that wait for guarded calls (``run_coroutine_threadsafe(...)
    .result()`` in ``run_in_executor``), whose records would then wait for a worker for ever;
    nor one shared by every loop of the process, where one loop's waits would hold up
    another's records."""
    return _work_of(loop)[0].pool


def _work_of(loop: asyncio.AbstractEventLoop) -> tuple[_LoopWork, bool]:
    """``loop``'s `_LoopWork`, made first if there is none yet (two threads meeting here make
    one), and whether it is the loop's own: one is shared by the loops no weak reference
    takes."""
    with _loops_lock:
        try:
            found = _loops.get(loop)
            if found is None:
                found = _loops[loop] = _LoopWork()
            return found, True
        except TypeError:
            if None not in _shared:
                _shared[None] = _LoopWork()
            return _shared[None], False


def _keep_open(
    loop: asyncio.AbstractEventLoop, job: concurrent.futures.Future[Any], own: _LoopWork | None
) -> None:
    """Keep ``loop``'s shutdown waiting for ``job`` (a record being written when its task was
    cancelled): the shutdown (asyncio.run's) waits for the jobs of the loop's default
    executor, not for the guard's; one job there waits for all the loop's unfinished records
    (`_wait_for`, ``own``: the loop's `_LoopWork`; None, a loop no weak reference takes: one
    job for each record). One, not one per record: records waiting long (a log another
    process holds) would fill that executor, which the program's own jobs and aiohttp's name
    look-ups use."""
    if own is not None:
        with _loops_lock:
            own.jobs.add(job)
            if own.waited:
                return
            own.waited = True
    try:
        if own is None:
            loop.run_in_executor(None, concurrent.futures.wait, [job])
        else:
            loop.run_in_executor(None, _wait_for, own)
    except RuntimeError:  # that executor shut down already: nothing will wait for the jobs
        if own is not None:  # (kept, their callbacks, naming the loop, keep it alive)
            with _loops_lock:
                own.jobs.clear()
                own.waited = False


def _wait_for(own: _LoopWork) -> None:
    """Wait until none of ``own``'s jobs is left undone, those added meanwhile too."""
    while True:
        with _loops_lock:
            own.jobs = {job for job in own.jobs if not job.done()}
            if not own.jobs:
                own.waited = False
                return
            jobs = list(own.jobs)
        concurrent.futures.wait(jobs)


def _after_fork_in_child() -> None:
    # a forked child has none of the parent's threads: its own are made when first needed
    global _loops, _loops_lock
    _loops, _loops_lock = weakref.WeakKeyDictionary(), threading.Lock()
    _shared.clear()


after_fork_in_child(_after_fork_in_child)


def _ledger_required(audit: object) -> bool:
    """Whether ``audit`` is a shipping log whose calls wait for the ledger."""
    ledger = getattr(audit, "ledger", None)
    return getattr(ledger, "mode", None) == "required"

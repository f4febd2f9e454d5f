"""Per-call overhead of the async guard: an aiobotocore client guarded against a bare one.

The canned-response path of `bench.overhead`, awaited: each request is answered from
``before-send`` with a canned `AioAWSResponse` (the same bodies, `bench.canned`), so the
whole aiobotocore pipeline runs minus the socket. Bare and guarded calls alternate one by
one in one event loop; the bare client sends the parameters the guard finally sends, checked
byte for byte as on the sync path (`bench.overhead.match_bare`'s `Capture`).

aiobotocore pins its own botocore, so this runs in ``.venv-aio``: `bench/run.py` starts
``.venv-aio/bin/python -m bench.aio_overhead --json ...`` and merges what it prints into the
report (`run_in`). Cases: those of `bench.overhead.CASES`; the floor's no-op handlers are
coroutines, as the guard's are.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CREDENTIALS, REGION, ROOT, SNAPSHOT, Stats, summarize

AIO_PYTHON = ROOT / ".venv-aio" / "bin" / "python"
"""The async environment's interpreter (``make .venv-aio/.installed`` builds it)."""

CASE_NAMES = ("floor", "a", "a+", "b", "c", "d")
"""The cases run on the async path."""


async def _noop(**_: Any) -> None:
    """A coroutine handler that does nothing: what aiobotocore's dispatch alone costs."""


class _AsyncBody:
    """The raw body of an `AioAWSResponse`: aiobotocore awaits ``read()``."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def _aio_responder(bodies: dict[str, bytes]) -> Callable[..., Any]:
    """A ``before-send`` handler answering each operation with its canned body."""
    from aiobotocore.awsrequest import AioAWSResponse

    headers = {"Content-Type": "text/xml"}

    def answer(request: Any, event_name: str = "", **_: Any) -> Any:
        body = bodies.get(event_name.rsplit(".", 1)[-1])
        if body is None:
            return None
        return AioAWSResponse(request.url, 200, dict(headers), _AsyncBody(body))

    return answer


async def _timed_rounds(
    bare: Callable[[], Awaitable[object]], guarded: Callable[[], Awaitable[object]], calls: int
) -> tuple[list[float], list[float]]:
    """`bench.common.alternate`, awaited: one call of each per round, the order alternating."""
    clock = time.perf_counter_ns
    samples: tuple[list[float], list[float]] = ([], [])
    sides = (bare, guarded)
    gc.collect()
    for i in range(calls):
        for index in (i % 2, (i + 1) % 2):
            start = clock()
            await sides[index]()
            samples[index].append((clock() - start) / 1e9)
    return samples


async def _match_bare(case: Any, bare: Any, guarded: Any) -> tuple[dict[str, Any], int, int]:
    """`bench.overhead.match_bare`, awaited: (bare parameters, body size, reads)."""
    from bench.overhead import Capture, caller_params, same_request

    captures = Capture(bare), Capture(guarded)
    try:
        await guarded.create_db_cluster_snapshot(**caller_params(case))
        final = captures[1].final[-1]
        await bare.create_db_cluster_snapshot(**final)
        size = same_request(case, *captures)
    finally:
        for capture in captures:
            capture.detach()
    return final, size, captures[1].reads()


async def aio_case(name: str, calls: int, warmup: int, workdir: Path) -> dict[str, Any]:
    """One case, bare against guarded; its result as plain data (`PairResult` fields)."""
    from aiobotocore.session import get_session

    from bench import canned
    from bench.overhead import CASES, caller_params, equip

    case = CASES[name]
    bodies = canned.responder(describe=True).bodies
    session = get_session()
    make = session.create_client
    async with (
        make("rds", region_name=REGION, **CREDENTIALS) as bare_client,
        make("rds", region_name=REGION, **CREDENTIALS) as guarded_client,
    ):
        for client in (bare_client, guarded_client):
            client.meta.events.register(
                "before-send.rds", _aio_responder(bodies), unique_id=f"bench.aio.{id(client)}"
            )
        guard = equip(guarded_client, case, workdir, "aio", noop=_noop)
        try:
            bare_params, size, reads = await _match_bare(case, bare_client, guarded_client)
            guarded_params = caller_params(case, SNAPSHOT)

            def bare() -> Awaitable[object]:
                return bare_client.create_db_cluster_snapshot(**bare_params)

            def guarded() -> Awaitable[object]:
                return guarded_client.create_db_cluster_snapshot(**guarded_params)

            await _timed_rounds(bare, guarded, warmup)
            bare_times, guarded_times = await _timed_rounds(bare, guarded, calls)
        finally:
            if guard is not None:
                guard.uninstall()
    if case.caller_sends == "none" and reads == 0:
        raise RuntimeError("case d: the guard never read the source")
    return {
        "case": name,
        "bare": summarize(bare_times).as_dict(),
        "guarded": summarize(guarded_times).as_dict(),
        "body_bytes": size,
        "reads": reads,
    }


def run_here(
    names: Sequence[str], calls: int, fsync_calls: int, warmup: int, workdir: Path
) -> list[dict[str, Any]]:
    """Every case in ``names``, in this (async) environment."""
    from bench.overhead import CASES

    async def every() -> list[dict[str, Any]]:
        return [
            await aio_case(name, fsync_calls if CASES[name].fsync else calls, warmup, workdir)
            for name in names
        ]

    return asyncio.run(every())


class Skipped(Exception):
    """The async bench could not run: the reason, for the report."""


def versions() -> str:
    """aiobotocore's and botocore's versions in this environment."""
    from importlib import metadata

    return ", ".join(f"{name} {metadata.version(name)}" for name in ("aiobotocore", "botocore"))


def run_in(
    python: Path, calls: int, fsync_calls: int, warmup: int, workdir: Path, timeout: float = 600
) -> tuple[list[tuple[str, Stats, Stats, int, int]], str]:
    """Run this module under ``python`` (the async environment's) and read its results:
    (case, bare, guarded, body bytes, reads) per case, and the versions that ran them.
    `Skipped` says why it could not run."""
    if not python.exists():
        raise Skipped(f"{python} does not exist (`make .venv-aio/.installed` builds it)")
    argv = [str(python), "-m", "bench.aio_overhead", "--json", "--calls", str(calls)]
    argv += ["--fsync-calls", str(fsync_calls), "--warmup", str(warmup), "--workdir", str(workdir)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        argv, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise Skipped(f"`{python} -m bench.aio_overhead` failed: {done.stderr.strip()[-400:]}")
    answer = json.loads(done.stdout)
    rows = [
        (
            row["case"],
            Stats.from_dict(row["bare"]),
            Stats.from_dict(row["guarded"]),
            row["body_bytes"],
            row["reads"],
        )
        for row in answer["rows"]
    ]
    return rows, answer["versions"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the async cases and print their results (JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--fsync-calls", type=int, default=800)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--cases", nargs="*", default=list(CASE_NAMES))
    args = parser.parse_args(argv)
    rows = run_here(args.cases, args.calls, args.fsync_calls, args.warmup, args.workdir)
    if args.json:
        print(json.dumps({"versions": versions(), "rows": rows}))
    else:
        for row in rows:
            ratio = row["guarded"]["median"] / row["bare"]["median"]
            print(f"aio {row['case']:6s} {ratio:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Section 1 of the benchmark report, the per-call overhead (`bench.overhead`, the async path
of `bench.aio_overhead`, the times by event of `bench.by_event`, the profiles of
`bench.profiles`): every number from one run, each missed target explained from that run's
times by event and profile. `bench.report` renders the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.audit_throughput import ThroughputResult
from bench.by_event import EventBreakdown
from bench.overhead import FLOOR_HANDLERS, PairResult
from bench.profiles import ProfileSummary
from bench.record_encoding import EncodingCost
from rds_guard.guard.hooks import EVERY_STAGES

REAL_ROUND_TRIPS_MS = (20.0, 50.0)
"""Round trips of a real RDS endpoint, for the inheritance read's ratio there."""

OPTIMISATIONS = """\
What the per-call and cold-start paths do to stay cheap (each change committed on its own,
the full test suite passing; the numbers above are what they come to):

- **One slotted state per call.** A call's state is one slotted object changed in place at
  each event (no `dataclasses.replace` per event); its verdict is computed when first asked
  for; its log line is made only when INFO is on; no outcome record is built when nothing is
  audited.
- **Per operation, once.** The parameters each operation's rules judge are derived once per
  row of the operations table; the wire readers of an operation are built once per client.
- **Per tag pair, once.** A tag pair is judged against AWS's rules once per distinct pair
  (a bounded cache); a tag list is copied, and read back from the request, without a call
  per item or member; the tag layers are merged with dict merges.
- **Per second, once.** A `{utcnow:FORMAT}` is formatted once per second and format.
- **Per process, once.** The pid and the host name are asked for once per process, not per
  record.
- **Imported when needed.** The package's public names load when first asked for; the audit
  log's verify, maintenance and reading modules load when first used; the AWS CLI plugin
  puts stand-ins in the guard's places on each rds, docdb or neptune client and imports the
  guard, and loads the policy, at the first guarded operation; `unicodedata` loads with the
  first text that is not ASCII; the judges of deletes, sharing and exports load with the
  first such call, the reads of a source's or a snapshot's tags with the first call that
  needs one, the redaction of an error's text with the first error recorded.
- **Nothing kept past the modules' clearing.** The package's at-fork hooks are held weakly
  (`rds_guard.forks.after_fork_in_child`): a hook the interpreter holds to the very end of
  its exit kept its module's globals, and every module they reach, alive through the
  clearing of modules, about 1 ms of every process's exit.
- **Compiled before the import.** The `__init__` of each layout of fields of rds_guard's
  frozen dataclasses comes compiled in a bytecode file (`rds_guard.core.frozen_inits`), not
  compiled at every import; the regular expressions of paths a program may never take (a
  policy's own regular expressions, a ledger's names, `{env:...}`, a presigned URL's expiry)
  are compiled at their first use (`rds_guard.core.patterns.Lazy`).
- Still paid, and why: every audited call writes two records (write-ahead `requested`, then
  the outcome), each under the log's lock with its chain hash; each frozen dataclass and enum
  costs tens of microseconds to create at import (section 2 counts those the guard loads),
  and each module about a tenth of a millisecond to find and load.
"""


@dataclass(frozen=True)
class AioRun:
    """The async path's results, or why it was skipped."""

    results: Sequence[PairResult]
    versions: str
    skipped: str | None = None


def met(value: bool | None) -> str:
    """A target's verdict as the report writes it: met, **missed**, or – (no target)."""
    return {None: "–", True: "met", False: "**missed**"}[value]


def _overhead_table(results: Sequence[PairResult]) -> list[str]:
    lines = [
        "| path | case | request body (bytes, both sides) | bare median / p90 (µs) | "
        "guarded median / p90 (µs) | ratio median | ratio p90 | added per call (µs) | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        target = "–" if r.target is None else f"≤ {r.target:.2f}× ({met(r.met)})"
        body = "–" if r.body_bytes is None else str(r.body_bytes)
        lines.append(
            f"| {r.path} | {r.case.name}: {r.case.label} | {body} | {r.bare.median_us:.1f} / "
            f"{r.bare.p90_us:.1f} | {r.guarded.median_us:.1f} / {r.guarded.p90_us:.1f} | "
            f"**{r.ratio:.3f}×** | {r.p90_ratio:.3f}× | {r.overhead_us:.1f} | {target} |"
        )
    return lines


_STEP_WORK = {
    "Guard.judge": "decide, enforce, write the final parameters",
    "Guard.check_sent": "hold the request against the judgement, the `requested` record",
    "Guard.record_outcome": "the outcome record",
}


def _profile_section(profiles: Sequence[ProfileSummary]) -> list[str]:
    lines: list[str] = []
    for p in profiles:
        lines += [
            f"**{p.path} ({p.case.name}: {p.case.label})**, {p.calls} guarded calls under "
            f"cProfile: the guard's handlers take **{p.guard_share:.1%}** of the profiled time "
            "(cProfile inflates Python-heavy code, so this overstates the share somewhat).",
            "",
            "| step (handler, then the guard's work it calls) | calls | cumulative share |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{step.function}` | {step.calls} | {step.cumulative_share:.1%} |"
            for step in p.steps
        ]
        lines += ["", "| rds_guard file (own time) | calls | own share |", "|---|---|---|"]
        lines += [f"| `{f.function}` | {f.calls} | {f.own_share:.1%} |" for f in p.by_file]
        lines += [
            "",
            "| rds_guard function (own time) | calls | own share | cumulative share |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{line.function}` | {line.calls} | {line.own_share:.1%} | "
            f"{line.cumulative_share:.1%} |"
            for line in p.top_guard
        ]
        lines += ["", "| top functions overall (own time) | calls | own share |", "|---|---|---|"]
        lines += [
            f"| `{line.function}` | {line.calls} | {line.own_share:.1%} |" for line in p.top_overall
        ]
        lines.append("")
    return lines


def _record_cost_us(throughput: Sequence[ThroughputResult]) -> float | None:
    """Microseconds per record written by one thread with fsync off (section 3)."""
    for t in throughput:
        if t.layout.writers == 1 and not t.fsync:
            return t.seconds / t.records * 1e6
    return None


def _explain_miss(
    r: PairResult,
    profiles: Sequence[ProfileSummary],
    record_us: float | None,
    encoding: EncodingCost | None,
    by_event: Sequence[EventBreakdown] = (),
) -> str:
    text = _events_told(r, by_event) + _profile_told(r, profiles)
    if r.case.audit and record_us is not None:
        text += (
            f" Each call writes two records (`requested`, then the outcome): at "
            f"{record_us:.1f} µs per record (one thread, fsync off, section 3) that is "
            f"{2 * record_us:.0f} µs of the {r.overhead_us:.0f} µs added."
        ) + _records_told(r, by_event, record_us)
    if r.case.audit and encoding is not None:
        verdict = (
            "CPython's encoder is C, and each field encoded apart is a call of its own, so "
            "records are not built from pre-encoded parts."
            if encoding.spliced_us > encoding.one_pass_us
            else "here pre-encoded parts are faster: records built from them would gain."
        )
        text += (
            f" Encoding a record ({encoding.record_bytes} bytes before its digest) takes "
            f"{encoding.one_pass_us:.1f} µs in one pass of the JSON encoder, as the writer "
            "does it; spliced from parts encoded ahead (the writer's own fields: policy, pid, "
            "host, chain) with the others encoded one by one, it takes "
            f"{encoding.spliced_us:.1f} µs (`bench/record_encoding.py`, side by side): " + verdict
        )
    return text


_EVENT_WORK = {
    "before-parameter-build": "the judgement: the call decided, blocked or warned about, its "
    "final parameters written",
    "request-created": "the request read back from its serialized body and held against the "
    "judgement, then the `requested` record (botocore's signer runs here on both sides)",
    "before-sign": "the request held again if it changed since",
    "after-call": "the outcome record",
}
"""What the guard does at each event it hooks (`bench.by_event`'s rows)."""

_BETWEEN_WORK = (
    "no handler runs here; the guard's only code outside the events is its wrapper of "
    "`_emit_api_params`: the rest is botocore's own work, the same on both sides, which runs "
    "slower after a handler's work (the control, next row)"
)
_CONTROL_WORK = (
    "the control: what a handler's own work, whatever it is, does to botocore's between the events"
)


def _events_told(r: PairResult, by_event: Sequence[EventBreakdown]) -> str:
    """Where the case's added time went, by event (send path: its own case's; stub path: the
    send path's judgement, the only work of the guard's the Stubber lets run)."""
    found = next((b for b in by_event if b.case.name == r.case.name), None)
    if found is None:
        return ""
    if r.path == "stub":
        judged = next((e for e in found.events if e.event == "before-parameter-build"), None)
        if judged is None:
            return ""
        return (
            " The Stubber answers at `before-call`, so of the guard's work only the judgement "
            f"at `before-parameter-build` runs: on the send path it adds {judged.added_us:.1f}"
            " µs (wall time, by event, below)."
        )
    if r.path != "send":
        return ""
    told = ", ".join(
        f"`{e.event}` {e.added_us:+.1f} µs"
        for e in sorted(found.events, key=lambda e: e.added_us, reverse=True)
        if abs(e.added_us) >= 1.0
    )
    return (
        f" By event (wall time, no profiler, below): {told}, and between the events "
        f"{found.between.added_us:+.1f} µs, where no handler runs (a handler's unrelated work "
        f"as long as the judgement adds {found.control_between.added_us:+.1f} µs there)."
    )


def _records_told(r: PairResult, by_event: Sequence[EventBreakdown], record_us: float) -> str:
    """What the records cost on the call path: where the audited case adds more than case a
    (the same call, nothing audited), by event."""
    if r.path != "send":
        return ""
    cases = {b.case.name: {e.event: e.added_us for e in b.events} for b in by_event}
    audited, plain = cases.get(r.case.name), cases.get("a")
    if audited is None or plain is None or r.case.name == "a":
        return ""
    more = [
        f"`{event}` {audited[event] - plain.get(event, 0.0):+.1f} µs"
        for event in ("request-created", "after-call")
        if event in audited
    ]
    return (
        f" On the call path, by event, the case adds to case a's (the same call, nothing "
        f"audited) {' and '.join(more)}: the `requested` record, and the outcome's with its "
        f"fields read from the response, each the work a record of section 3's loop of writes "
        f"does in {record_us:.1f} µs."
    )


def _events_section(by_event: Sequence[EventBreakdown]) -> list[str]:
    lines: list[str] = []
    for b in by_event:
        lines += [
            f"**send ({b.case.name}: {b.case.label}), by event**: {b.calls} calls of each side "
            "alternated, every event each client emits timed at its emitter (an event emitted "
            "inside another's handler counted to itself alone); medians per call, so the rows "
            "need not add up to the whole call's median (`bench/by_event.py`).",
            "",
            "| event | bare (µs) | guarded (µs) | added (µs) | the guard's work there |",
            "|---|---|---|---|---|",
        ]
        control = (
            f"(between events; the bare call beside the bare call with unrelated work, JSON, "
            f"for {b.control_work_us:.0f} µs at `before-parameter-build`)"
        )
        rows = [(f"`{e.event}`", e, _EVENT_WORK.get(e.event, "")) for e in b.events]
        rows += [
            (b.between.event, b.between, _BETWEEN_WORK),
            (control, b.control_between, _CONTROL_WORK),
            (b.total.event, b.total, ""),
        ]
        lines += [
            f"| {name} | {e.bare_us:.1f} | {e.guarded_us:.1f} | {e.added_us:+.1f} | {work} |"
            for name, e, work in rows
        ]
        lines.append("")
    return lines


def _profile_told(r: PairResult, profiles: Sequence[ProfileSummary]) -> str:
    """What the case's profile says of the guard's share, its steps and its largest files."""
    profile = next((p for p in profiles if p.path == r.path and p.case.name == r.case.name), None)
    if profile is None:
        return " No profile of this case was taken."
    steps = "; ".join(
        f"`{step.function.split(' ')[0]}` {step.cumulative_share:.1%}"
        + (f" ({_STEP_WORK[name]})" if (name := step.function.split(" ")[0]) in _STEP_WORK else "")
        for step in profile.steps
        if step.function.startswith("Guard.")
    )
    files = ", ".join(f"`{f.function}` {f.own_share:.1%}" for f in profile.by_file[:4])
    text = (
        f" Its profile ({profile.path} {profile.case.name}, above): the guard's handlers take "
        f"{profile.guard_share:.1%} of the profiled time — {steps}. rds_guard's own time by "
        f"file: {files}, then the rest"
    )
    if not profile.top_guard:
        return text + "."
    largest = profile.top_guard[0]
    return text + (
        f"; its largest single function, `{largest.function}`, has "
        f"{largest.own_share:.1%} own time."
    )


def _per_call_targets(
    results: Sequence[PairResult],
    profiles: Sequence[ProfileSummary],
    throughput: Sequence[ThroughputResult],
    encoding: EncodingCost | None,
    by_event: Sequence[EventBreakdown] = (),
) -> list[str]:
    record_us = _record_cost_us(throughput)
    lines = []
    for r in results:
        if r.target is None:
            continue
        budget = (r.target - 1) * r.bare.median * 1e6
        line = (
            f"- {r.path} ({r.case.name}): {r.ratio:.3f}× against ≤ {r.target:.2f}× — "
            f"{met(r.met)}; the guard adds {r.overhead_us:.1f} µs per call where the target "
            f"allows {budget:.1f} µs."
        )
        if not r.met:
            line += _explain_miss(r, profiles, record_us, encoding, by_event)
        lines.append(line)
    return lines


def _inheritance_section(results: Sequence[PairResult]) -> list[str]:
    rows = [r for r in results if r.case.name == "d"]
    if not rows:
        return ["(case d was not run)"]
    others = [r for r in results if r.case.name in ("a", "b") and r.path == "send"]
    never = max((r.reads for r in others), default=0)
    lines = [
        "Case d: the caller passes no Tags, and the policy both inherits the source's tags "
        "(`inherit = true`) and adds its own. The guard cannot know the source's tags without "
        f"reading them: it sends DescribeDBClusters ({rows[0].reads} per call, counted) and "
        "then the snapshot with the merged set, two API calls where the bare client, told "
        "the final tags, makes one. This is inherent when the caller passes no tags and the "
        "policy adds some; a caller that passes its tags is not read for "
        f"(cases a and b: {never} reads counted).",
        "",
        "| path | bare: one call (median) | guarded: read + call (median) | added | "
        "the read alone (median) | added beyond the read |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        read = "–" if r.read is None else f"{r.read.median_us:.0f} µs"
        beyond = "–" if r.read is None else f"{r.overhead_us - r.read.median_us:.0f} µs"
        lines.append(
            f"| {r.path} | {r.bare.median_us:.0f} µs | {r.guarded.median_us:.0f} µs "
            f"({r.ratio:.2f}×) | {r.overhead_us:.0f} µs | {read} | {beyond} |"
        )
    moto = next((r for r in rows if r.path == "moto" and r.read is not None), None)
    if moto is not None and moto.read is not None:
        beyond_ms = max(0.0, (moto.overhead_us - moto.read.median_us) / 1e3)
        ratios = ", ".join(
            f"{(2 * rtt + beyond_ms) / rtt:.2f}× at {rtt:.0f} ms" for rtt in REAL_ROUND_TRIPS_MS
        )
        lines += [
            "",
            "moto's server (127.0.0.1, a thread of this process) is the nearest stand-in for "
            f"the read's round trip: {moto.read.median_us / 1e3:.1f} ms here (the read alone, "
            "DescribeDBClusters on the bare client, timed in the same rounds). Against a real "
            "endpoint each round trip takes tens of ms and dominates both calls, so the ratio "
            f"there is about 2×: with the guard's work beyond the read ({beyond_ms:.1f} ms "
            f"here) and both calls at a real round trip, {ratios}. Nothing trades correctness "
            "for it: the merged tags are the source's, read at the time of the call.",
        ]
    return lines


def per_call_section(
    overhead: Sequence[PairResult],
    aio: AioRun,
    profiles: Sequence[ProfileSummary],
    throughput: Sequence[ThroughputResult],
    encoding: EncodingCost | None = None,
    by_event: Sequence[EventBreakdown] = (),
) -> list[str]:
    """Section 1 of the report: the table of every path and case (the async path's too), the
    targets (a missed one explained from its times by event and its profile), those times,
    the profiles, and case d's read."""
    aio_note = (
        f"*aio send*: the send path awaited, an aiobotocore client ({aio.versions}) in "
        "`.venv-aio`, run as a subprocess of that environment's Python (`bench/aio_overhead.py`); "
        "the floor's no-op handlers are coroutines, as the guard's are."
        if aio.skipped is None
        else f"*aio send*: skipped — {aio.skipped}."
    )
    results = [*overhead, *aio.results]
    return [
        "The same `create_db_cluster_snapshot` on a bare client and on a guarded one, one call "
        "of each at a time with the order alternating on every pair, after a warm-up; medians "
        "and 90th percentiles of the per-call wall times. **Same bytes on the wire**: one "
        "guarded call first shows the parameters the guard finally sends; the bare client "
        "sends exactly those (the policy's tags included, inherited ones in case d), and the "
        "two request bodies were compared byte for byte before timing (the snapshot name "
        "aside on moto, where each call needs a new one; on the stub path, which sends "
        "nothing, as botocore serializes them). So each ratio is the guard's own work.",
        "",
        "*send*: a canned `AWSResponse` from `before-send` (everything but the socket). "
        "*stub*: botocore's `Stubber` (answers in `before-call.*.*`, so no write-ahead record "
        "can run: no-audit cases only). *moto*: moto's server over HTTP on 127.0.0.1 in a "
        f"thread of this process, a new snapshot name per call. {aio_note} *floor*: "
        f"{FLOOR_HANDLERS} no-op handlers where the guard's go (one on each event it hooks "
        f"under the operation's name, one last on `before-parameter-build`, and "
        f"{len(EVERY_STAGES)} under the service's name, which every operation's requests "
        "pass). *a*: the caller sends "
        "the policy's tags already. *a+*: the caller leaves the policy's three tags to the "
        "guard. *d*: no Tags, the guard reads the source's tags (below).",
        "",
        *_overhead_table(results),
        "",
        "### Targets",
        "",
        *_per_call_targets(overhead, profiles, throughput, encoding, by_event),
        "",
        "### Where the time goes",
        "",
        *_events_section(by_event),
        *_profile_section(profiles),
        "### The inheritance read (case d)",
        "",
        *_inheritance_section(results),
        "",
        "### Optimisations made for this",
        "",
        OPTIMISATIONS,
    ]

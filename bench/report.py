"""The benchmark report (docs/benchmarks.md, or .bench/benchmarks.md) from one run's results.

Every number in it is measured in that run; every target is marked met or missed, and a
missed per-call target is explained from that run's profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.audit_throughput import ThroughputResult
from bench.cold_start import (
    INSTALL_TARGET_SECONDS,
    ColdStart,
    Comparison,
    ImportTime,
    InstallResult,
)
from bench.common import Machine, Stats
from bench.ledger_speed import SHIP_TARGET, VERIFY_PER, LedgerResult
from bench.overhead import PairResult
from bench.profiles import ProfileSummary
from bench.scaling import RULE_COUNTS, TAG_COUNTS, ScalingPoint, growth, slope
from bench.verify_speed import VerifyResult

VERIFY_TARGET = 3.0
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
  row of the operations table; the wire reader of each request shape is compiled once.
- **Per tag pair, once.** A tag pair is judged against AWS's rules once per distinct pair
  (a bounded cache); a tag list is copied in one step.
- **Per process, once.** The pid and the host name are asked for once per process, not per
  record.
- **Imported when needed.** The package's public names load when first asked for; the audit
  log's verify, maintenance and reading modules load when first used; the AWS CLI plugin
  imports nothing of the guard until the CLI makes an rds, docdb or neptune client, and loads
  the policy at the first guarded operation.
- Still paid, and why: every audited call writes two records (write-ahead `requested`, then
  the outcome), each under the log's lock with its chain hash; each frozen dataclass and enum
  costs a few hundred microseconds to create at import (about 35 of them load with the
  guard).
"""


@dataclass(frozen=True)
class AioRun:
    """The async path's results, or why it was skipped."""

    results: Sequence[PairResult]
    versions: str
    skipped: str | None = None


@dataclass(frozen=True)
class RunReport:
    """Everything one ``bench/run.py`` run measured."""

    machine: Machine
    overhead: Sequence[PairResult]
    aio: AioRun
    profiles: Sequence[ProfileSummary]
    cold: ColdStart
    throughput: Sequence[ThroughputResult]
    verify: VerifyResult | None
    scaling: Sequence[ScalingPoint]
    seconds: float
    quick: bool
    ledger: LedgerResult | None = None


def _met(value: bool | None) -> str:
    return {None: "–", True: "met", False: "**missed**"}[value]


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _spread(stats: Stats) -> str:
    return f"{stats.p10 * 1e3:.1f}–{stats.p90 * 1e3:.1f} ms"


def _signed_ms(seconds: float) -> str:
    return f"{seconds * 1e3:+.1f} ms"


def _interval(c: Comparison) -> str:
    low, high = c.interval
    return f"{low * 1e3:+.1f} to {high * 1e3:+.1f} ms"


# Targets at a glance -------------------------------------------------------------------------


def _targets_table(report: RunReport) -> list[str]:
    lines = ["| what | target | measured | verdict |", "|---|---|---|---|"]
    for r in report.overhead:
        if r.target is not None:
            lines.append(
                f"| per call, {r.path} ({r.case.name}: {r.case.label}) | ≤ {r.target:.2f}× | "
                f"{r.ratio:.3f}× ({r.overhead_us:+.1f} µs) | {_met(r.met)} |"
            )
    cold = report.cold
    i = cold.imports
    lines.append(
        f"| cold start: `import rds_guard` after boto3 | {i.target} | "
        f"{_signed_ms(i.added)} ({i.ratio:.3f}×) | {_met(i.met)} |"
    )
    lines.append(
        f"| cold start: `load_policy` + `install` (example policy) | "
        f"≤ {INSTALL_TARGET_SECONDS * 1e3:.0f} ms | {_ms(cold.install.total.median)} | "
        f"{_met(cold.install.met)} |"
    )
    for c in cold.awscli or ():
        lines.append(
            f"| AWS CLI plugin: `{c.name}` | {c.target} | {_signed_ms(c.added)} "
            f"({(c.ratio - 1) * 100:+.1f}%; 95% interval {_interval(c)}) | {_met(c.met)} |"
        )
    if cold.awscli is None:
        lines.append(f"| AWS CLI plugin | – | not run: {cold.awscli_skipped} | – |")
    if report.verify is not None:
        v = report.verify
        lines.append(
            f"| `audit verify` against the hashing floor | ≤ {VERIFY_TARGET:.0f}× | "
            f"{v.ratio:.2f}× | {_met(v.ratio <= VERIFY_TARGET)} |"
        )
    return lines


# 1. Per-call overhead ------------------------------------------------------------------------


def _overhead_table(results: Sequence[PairResult]) -> list[str]:
    lines = [
        "| path | case | request body (bytes, both sides) | bare median / p90 (µs) | "
        "guarded median / p90 (µs) | ratio median | ratio p90 | added per call (µs) | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        target = "–" if r.target is None else f"≤ {r.target:.2f}× ({_met(r.met)})"
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
    r: PairResult, profiles: Sequence[ProfileSummary], record_us: float | None
) -> str:
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
    if profile.top_guard:
        largest = profile.top_guard[0]
        text += (
            f"; its largest single function, `{largest.function}`, has "
            f"{largest.own_share:.1%} own time."
        )
    else:
        text += "."
    if r.case.audit and record_us is not None:
        text += (
            f" Each call writes two records (`requested`, then the outcome): at "
            f"{record_us:.1f} µs per record (one thread, fsync off, section 3) that is "
            f"{2 * record_us:.0f} µs of the {r.overhead_us:.0f} µs added."
        )
    return text


def _per_call_targets(
    results: Sequence[PairResult],
    profiles: Sequence[ProfileSummary],
    throughput: Sequence[ThroughputResult],
) -> list[str]:
    record_us = _record_cost_us(throughput)
    lines = []
    for r in results:
        if r.target is None:
            continue
        budget = (r.target - 1) * r.bare.median * 1e6
        line = (
            f"- {r.path} ({r.case.name}): {r.ratio:.3f}× against ≤ {r.target:.2f}× — "
            f"{_met(r.met)}; the guard adds {r.overhead_us:.1f} µs per call where the target "
            f"allows {budget:.1f} µs."
        )
        if not r.met:
            line += _explain_miss(r, profiles, record_us)
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


# 2. Cold start -------------------------------------------------------------------------------


def _comparison_rows(c: Comparison) -> list[str]:
    return [
        f"| {c.base_label} | {c.base.count} | {_ms(c.base.median)} | {_spread(c.base)} |",
        f"| {c.other_label} | {c.other.count} | {_ms(c.other.median)} | {_spread(c.other)} |",
    ]


def _comparison_verdict(c: Comparison) -> str:
    return (
        f"Added: **{_signed_ms(c.added)}** ({c.ratio:.3f}×; 95% interval of the difference "
        f"{_interval(c)}). Target {c.target}: {_met(c.met)}."
    )


def _install_table(i: InstallResult) -> list[str]:
    return [
        "| step | median | p10–p90 |",
        "|---|---|---|",
        f"| `load_policy(examples/rds_guard.toml)` | {_ms(i.load.median)} | {_spread(i.load)} |",
        f"| `install(session, policy)` | {_ms(i.install.median)} | {_spread(i.install)} |",
        f"| both | **{_ms(i.total.median)}** | {_spread(i.total)} |",
        "",
        f"Target ≤ {INSTALL_TARGET_SECONDS * 1e3:.0f} ms: {_met(i.met)}.",
    ]


def _awscli_table(results: Sequence[Comparison]) -> list[str]:
    lines = [
        "| command | runs | without the plugin: median (p10–p90) | with the plugin | added | "
        "95% interval | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in results:
        lines.append(
            f"| `{c.name}` | {c.base.count} | {_ms(c.base.median)} ({_spread(c.base)}) | "
            f"{_ms(c.other.median)} ({_spread(c.other)}) | **{_signed_ms(c.added)}** "
            f"({(c.ratio - 1) * 100:+.1f}%) | {_interval(c)} | {c.target}: {_met(c.met)} |"
        )
    return lines


def _importtime_section(t: ImportTime, top: int = 10) -> list[str]:
    own = sum(1 for line in t.lines if line.ours)
    lines = [
        f'`python -X importtime -c "{t.code}"`, {_runs(t.runs)}, medians: '
        f"the guard's import after boto3 takes **{t.total_us / 1e3:.1f} ms** (the cumulative "
        f"time of what the code imports) over {len(t.lines)} modules, {own} of them rds_guard's "
        f"own. The {top} largest "
        "by self time (`-X importtime` itself adds a little to each):",
        "",
        "| module | self (µs) | cumulative (µs) | rds_guard's |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{line.module}` | {line.self_us:.0f} | {line.cumulative_us:.0f} | "
        f"{'yes' if line.ours else 'no'} |"
        for line in t.lines[:top]
    ]
    return lines


def _cold_start_section(cold: ColdStart) -> list[str]:
    lines = [
        "Whole processes, the two kinds alternated, one untimed run of each first; medians, "
        "the 10th–90th percentile spread, and a 95% bootstrap interval of the difference of "
        "the medians (the alternated pairs resampled together). rds_guard's bytecode is "
        "compiled first, as installing the package does.",
        "",
        "### Import",
        "",
        "| process | runs | median | p10–p90 |",
        "|---|---|---|---|",
        *_comparison_rows(cold.imports),
        "",
        _comparison_verdict(cold.imports),
        "",
        "### `install()` with the example policy",
        "",
        f"In {cold.install.processes} fresh processes that have imported boto3 and rds_guard "
        "and made a boto3 session, each timing its first `load_policy` and `install` (one "
        "sample per process, so every one is cold).",
        "",
        *_install_table(cold.install),
        "",
        "### The AWS CLI plugin",
        "",
    ]
    if cold.awscli is None:
        lines.append(f"Not run: {cold.awscli_skipped}.")
    else:
        lines += [
            "The venv's `aws` (AWS CLI v1) against moto's server, with `AWS_CONFIG_FILE` "
            "naming examples/awscli-config (the plugin) or an empty file, the example policy "
            "as ./rds_guard.toml in both. Before timing, a snapshot the policy forbids was "
            "refused under the plugin's config and not under the empty one: the plugin was "
            "on, and off. `describe-db-clusters` is an rds command the guard does not judge; "
            "`sts get-caller-identity` is not an rds, docdb or neptune command at all.",
            "",
            *_awscli_table(cold.awscli),
        ]
    plugin = cold.plugin_importtime
    if plugin is not None:
        lines += [
            "",
            f"What every command pays for the plugin, guarded or not: `python -X importtime "
            f'-c "{plugin.code}"` ({_runs(plugin.runs)}, median) gives `{plugin.module}` '
            f"**{plugin.total_us / 1e3:.1f} ms** cumulative after the CLI's own modules.",
        ]
    lines += ["", "### Where an import goes", "", *_importtime_section(cold.importtime)]
    return lines


# 3-5 -----------------------------------------------------------------------------------------


def _throughput_table(results: Sequence[ThroughputResult]) -> list[str]:
    lines = [
        "| writers | fsync | records | seconds | records/s | µs per record | verify |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        verdict = f"ok, {r.verified_records} records" if r.verified else "**FAILED**"
        lines.append(
            f"| {r.layout.label} | {'on' if r.fsync else 'off'} | {r.records} | "
            f"{r.seconds:.2f} | {r.per_second:,.0f} | {r.seconds / r.records * 1e6:.1f} | "
            f"{verdict} |"
        )
    return lines


def _verify_section(v: VerifyResult) -> list[str]:
    met = v.ratio <= VERIFY_TARGET
    mib = v.size_bytes / 2**20
    return [
        f"A generated log of **{v.records:,} records** ({mib:,.0f} MiB), every line a real "
        f"record chained with SHA-256 (generated in {v.generate_seconds:.1f} s).",
        "",
        "| what | seconds | vs floor | peak RSS |",
        "|---|---|---|---|",
        f"| floor: read line by line, `sha256(line).hexdigest()` (in process) | "
        f"{v.floor_seconds:.2f} | 1.00× | – |",
        f"| `rds_guard.audit.verify(path)` (in process) | {v.function_seconds:.2f} | "
        f"**{v.ratio:.2f}×** (target ≤ {VERIFY_TARGET:.0f}×: {_met(met)}) | – |",
        f"| `verify(path)` in a fresh process (incl. interpreter start) | "
        f"{v.function_child.seconds:.2f} | {v.function_child.seconds / v.floor_seconds:.2f}× | "
        f"{v.function_child.peak_rss_kib / 1024:.1f} MiB |",
        f"| `rds-guard audit verify PATH` (the command) | {v.command_child.seconds:.2f} | "
        f"{v.command_child.seconds / v.floor_seconds:.2f}× | "
        f"{v.command_child.peak_rss_kib / 1024:.1f} MiB |",
        f"| `verify(path)` on a {v.small_records:,}-record log, fresh process | "
        f"{v.small_child.seconds:.2f} | – | {v.small_child.peak_rss_kib / 1024:.1f} MiB |",
        "",
        f"The command printed `{v.command_child.output[:60]}…`. Memory is flat: peak RSS on "
        f"{v.records:,} records is within "
        f"{(v.function_child.peak_rss_kib - v.small_child.peak_rss_kib) / 1024:.1f} MiB of the "
        f"{v.small_records:,}-record run (the file is read in 1 MiB chunks; RSS via "
        "`getrusage(RUSAGE_CHILDREN).ru_maxrss` of a wrapper whose only child is the run).",
    ]


def _scaling_section(points: Sequence[ScalingPoint]) -> list[str]:
    grid = {(p.rules, p.tags): p for p in points}
    lines: list[str] = []
    for regime, attribute in (("cold", "cold_us"), ("warm", "warm_us")):
        lines += [
            f"**{regime}** (µs per `evaluate`, median):",
            "",
            "| tag rules \\ tags | " + " | ".join(str(t) for t in TAG_COUNTS) + " |",
            "|---|" + "---|" * len(TAG_COUNTS),
        ]
        for rules in RULE_COUNTS:
            cells = [f"{getattr(grid[(rules, t)], attribute):.1f}" for t in TAG_COUNTS]
            lines.append(f"| {rules} | " + " | ".join(cells) + " |")
        lines.append("")
        per_tag = [
            (rules, [getattr(grid[(rules, t)], attribute) for t in TAG_COUNTS])
            for rules in RULE_COUNTS
        ]
        per_rule = [
            (tags, [getattr(grid[(r, tags)], attribute) for r in RULE_COUNTS])
            for tags in TAG_COUNTS
        ]
        lines += ["| slope | at | µs per unit (least squares) | last step / first step |"]
        lines += ["|---|---|---|---|"]
        for rules, ys in per_tag:
            lines.append(
                f"| per tag | {rules} rules | {slope(TAG_COUNTS, ys):.2f} | "
                f"{growth(TAG_COUNTS, ys):.2f} |"
            )
        for tags, ys in per_rule:
            lines.append(
                f"| per rule | {tags} tags | {slope(RULE_COUNTS, ys):.3f} | "
                f"{growth(RULE_COUNTS, ys):.2f} |"
            )
        lines.append("")
    return lines


def _per_call_section(report: RunReport) -> list[str]:
    aio = report.aio
    aio_note = (
        f"*aio send*: the send path awaited, an aiobotocore client ({aio.versions}) in "
        "`.venv-aio`, run as a subprocess of that environment's Python (`bench/aio_overhead.py`); "
        "the floor's no-op handlers are coroutines, as the guard's are."
        if aio.skipped is None
        else f"*aio send*: skipped — {aio.skipped}."
    )
    results = [*report.overhead, *aio.results]
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
        f"thread of this process, a new snapshot name per call. {aio_note} *floor*: four "
        "no-op handlers on the events the guard hooks. *a*: the caller sends the policy's "
        "tags already. *a+*: the caller leaves the policy's three tags to the guard. *d*: no "
        "Tags, the guard reads the source's tags (below).",
        "",
        *_overhead_table(results),
        "",
        "### Targets",
        "",
        *_per_call_targets(report.overhead, report.profiles, report.throughput),
        "",
        "### Where the time goes",
        "",
        *_profile_section(report.profiles),
        "### The inheritance read (case d)",
        "",
        *_inheritance_section(results),
        "",
        "### Optimisations made for this",
        "",
        OPTIMISATIONS,
    ]


def render(report: RunReport) -> str:
    """The whole report."""
    m = report.machine
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine_rows = [
        "| machine | |",
        "|---|---|",
        f"| CPU | {m.cpu}, {m.cores} cores |",
        f"| system | {m.system} |",
        f"| Python | {m.python} |",
        f"| botocore | {m.botocore} |",
        f"| moto | {m.moto} |",
    ]
    if report.aio.skipped is None:
        machine_rows.append(f"| async path (.venv-aio) | {report.aio.versions} |")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench-docs` (`python bench/run.py --update-docs`); regenerate "
        "rather than edit. `make bench` writes the same report to `.bench/benchmarks.md`, "
        "which git ignores."
        + (
            " **This was a `--quick` run: counts too small for the numbers to mean much.**"
            if report.quick
            else ""
        ),
        "Benchmarks are not tests: nothing in `make test` asserts a time "
        "(tests/test_bench_smoke.py only runs the harness with tiny counts).",
        "",
        f"Run {when}, {report.seconds:.0f} s in all. The machine is shared: every comparison "
        "is side by side in one run, alternated, and reported as a ratio or a difference.",
        "",
        *machine_rows,
        "",
        "## Targets",
        "",
        *_targets_table(report),
        "",
        "## 1. Per-call overhead",
        "",
        *_per_call_section(report),
        "## 2. Cold start",
        "",
        *_cold_start_section(report.cold),
        "",
        "## 3. Audit throughput",
        "",
        "Records per second into one file (each record a typical `requested` record, ~620 "
        "bytes), from the first writer's start to the last one's end (µs per record: that "
        "wall time over the records, all writers together); every run ends with `verify` "
        "passing and the record count exact.",
        "",
        *_throughput_table(report.throughput),
        "",
        "## 4. Verify speed",
        "",
        *(_verify_section(report.verify) if report.verify is not None else ["(not run)"]),
        "",
        "## 5. Scaling of `evaluate`",
        "",
        "Policy size: N tag rules, alternately `[tags.allowed]` and `[tags.patterns]` entries "
        "on keys `k0..k{N-1}`; call size: T tags `k0..k{T-1}`, every one passing. *cold*: "
        "every call a tag set not seen before (more sets than the verdict cache holds), so "
        "every check runs; *warm*: the same tag set each call (the verdict is remembered). "
        "Slopes are least-squares µs per extra rule or tag; the last column compares the "
        "slope of the last step with the first (≤ ~1: no worse than linear).",
        "",
        *_scaling_section(report.scaling),
        "",
        "## 6. The fleet ledger",
        "",
        *(
            _ledger_section(report.ledger)
            if report.ledger is not None
            else ["(not run: it needs moto's server, and --no-moto was given)"]
        ),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _ledger_section(r: LedgerResult) -> list[str]:
    return [
        "One shipper (`Shipper.ship`, the code behind `rds-guard audit ship`) sends a backlog "
        f"of **{r.records:,} records** ({r.workers} conditional puts in flight, batches of "
        "100) to moto's DynamoDB over HTTP, moto running in a process of its own on the same "
        f"cores; then `verify_ledger` (`verify --ledger`) walks it. Fewer records are measured "
        f"than the sizes below ({SHIP_TARGET:,} shipped, {VERIFY_PER:,} verified), which are "
        "scaled linearly from the measured rate: both are linear in the records.",
        "",
        "| what | measured | scaled | the client's own CPU |",
        "|---|---|---|---|",
        f"| shipping | {r.records:,} records in {r.ship_seconds:.2f} s: "
        f"**{r.ship_rate:,.0f} records/s** | a backlog of {SHIP_TARGET:,}: "
        f"{r.ship_target_seconds:.0f} s | {r.ship_cpu_us:,.0f} µs per record |",
        f"| `verify --ledger` | {r.records:,} records in {r.verify_seconds:.2f} s | "
        f"**{r.verify_per_100k:.0f} s per {VERIFY_PER:,} records** | "
        f"{r.verify_cpu_per_100k:.1f} s per {VERIFY_PER:,} |",
        "",
        "moto's DynamoDB is Python on the same cores, so it sets the wall times here; the "
        "client's CPU column is what the shipper and the verifier cost themselves (botocore "
        "builds and signs one request per put: most of the shipper's time). Against DynamoDB "
        "the limit is elsewhere: one stream is one partition key, and a partition takes 1,000 "
        "write units a second; a record of ~1 KB takes 2 (docs/ledger.md), so one log ships "
        "at most ~500 records a second, which no guard writes. A `verify --ledger` reads "
        "1 MB query pages, ~1,000 records each.",
    ]

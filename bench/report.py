"""docs/benchmarks.md from one run's results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.audit_throughput import ThroughputResult
from bench.common import Machine
from bench.overhead import PairResult, ProfileSummary
from bench.scaling import RULE_COUNTS, TAG_COUNTS, ScalingPoint, growth, slope
from bench.verify_speed import VerifyResult

VERIFY_TARGET = 3.0

OPTIMISATIONS = """\
Each was committed on its own, with the full test suite passing; numbers are from this
machine at the time (medians; the send and stub numbers are guarded-minus-bare per call).

- **rules: ASCII fast path.** Plain-ASCII tag keys and values are checked by one
  precompiled regex instead of a `unicodedata.category` call per character (other text
  still takes the full path). `check_tags_aws` on 6 tags 24.0 → 6.5 µs; `evaluate`
  58 → 47 µs.
- **audit: cheap records.** One reused `JSONEncoder`; the record built from a precomputed
  (field, normaliser) table; the time text formatted by strftime once per second; no
  generator context manager per write. Byte-for-byte the same records. `AuditLog.write`
  (fsync off) 34.3 → 26.0 µs; send (b) overhead ~237 → ~222 µs.
- **decide: tag verdict cache.** Steps 4-5 (merge, required, AWS tag rules, allowed,
  patterns, injected/kept, whether to rewrite Tags) are a pure function of the tag layers,
  so the verdict is remembered per tag policy (at most 256 tag sets, weakly held); the
  duplicate scan runs only when a key repeats. Checked identical to the old `decide` on
  30,000 random calls. `evaluate` 41 → 17 µs; stub (a) overhead 52 → 36 µs.
- **guard: no record without audit; cheap call ids.** No call id or record fields are built
  when the audit is disabled; `new_call_id` is a per-process random prefix plus a counter
  instead of `uuid4` (a getrandom system call, 3.3 µs here). Stub (a) overhead 36 → 30 µs;
  send (a) 1.14× → 1.10×.
- **templates: fixed text at once.** A template without placeholders renders to its text
  computed when it is built. Literal render 0.51 → 0.12 µs.
- **decide: plain tag lists without the ABC checks.** The usual `{"Key": str, "Value": str}`
  dict entry skips two `isinstance(..., Mapping)` checks. `_read_tag_list` of 6 tags
  3.28 → 1.52 µs; `evaluate` 17 → 14.7 µs.
- Tried and dropped: one regex for a valid snapshot identifier (slower than the existing
  five string checks: 1.05 vs 0.83 µs).
"""


@dataclass(frozen=True)
class RunReport:
    """Everything one ``bench/run.py`` run measured."""

    machine: Machine
    overhead: Sequence[PairResult]
    profiles: Sequence[ProfileSummary]
    throughput: Sequence[ThroughputResult]
    verify: VerifyResult | None
    scaling: Sequence[ScalingPoint]
    seconds: float
    quick: bool


def _met(value: bool | None) -> str:
    return {None: "–", True: "met", False: "**missed**"}[value]


def _overhead_table(results: Sequence[PairResult]) -> list[str]:
    lines = [
        "| path | case | bare median / p90 (µs) | guarded median / p90 (µs) | ratio median | "
        "ratio p90 | added per call (µs) | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        target = "–" if r.target is None else f"≤ {r.target:.2f}× ({_met(r.met)})"
        lines.append(
            f"| {r.path} | {r.case.name}: {r.case.label} | {r.bare.median_us:.1f} / "
            f"{r.bare.p90_us:.1f} | {r.guarded.median_us:.1f} / {r.guarded.p90_us:.1f} | "
            f"**{r.ratio:.3f}×** | {r.p90_ratio:.3f}× | {r.overhead_us:.1f} | {target} |"
        )
    return lines


def _profile_section(profiles: Sequence[ProfileSummary]) -> list[str]:
    lines: list[str] = []
    for p in profiles:
        lines += [
            f"**send ({p.case.name}: {p.case.label})**, {p.calls} guarded calls under cProfile: "
            f"the guard's four handlers take **{p.guard_share:.1%}** of the profiled time "
            "(cProfile inflates Python-heavy code, so this overstates the share somewhat).",
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


def _throughput_table(results: Sequence[ThroughputResult]) -> list[str]:
    lines = [
        "| writers | fsync | records | seconds | records/s | verify |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        verdict = f"ok, {r.verified_records} records" if r.verified else "**FAILED**"
        lines.append(
            f"| {r.layout.label} | {'on' if r.fsync else 'off'} | {r.records} | "
            f"{r.seconds:.2f} | {r.per_second:,.0f} | {verdict} |"
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


def render(report: RunReport, analysis: str) -> str:
    """The whole of docs/benchmarks.md."""
    m = report.machine
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python bench/run.py`); regenerate rather than edit."
        + (
            " **This was a `--quick` run: counts too small for the numbers to mean much.**"
            if report.quick
            else ""
        ),
        "Benchmarks are not tests: nothing in `make test` asserts a time "
        "(tests/test_bench_smoke.py only runs the harness with tiny counts).",
        "",
        f"Run {when}, {report.seconds:.0f} s in all.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {m.cpu}, {m.cores} cores |",
        f"| system | {m.system} |",
        f"| Python | {m.python} |",
        f"| botocore | {m.botocore} |",
        f"| moto | {m.moto} |",
        "",
        "## 1. Per-call overhead",
        "",
        "The same `create_db_cluster_snapshot` on a bare client and on a guarded one, one call "
        "of each at a time with the order alternating on every pair, after a warm-up; medians "
        "and 90th percentiles of the per-call wall times. The caller sends the policy's tags "
        "already (cases floor, a, b, c), so both requests are identical on the wire and the "
        "difference is the guard's own work. *send*: a canned `AWSResponse` from "
        "`before-send` (everything but the socket). *stub*: botocore's `Stubber` (answers in "
        "`before-call.*.*`, so no write-ahead record can run: no-audit cases only). *moto*: "
        "moto's server over HTTP on 127.0.0.1 in a thread of this process, a new snapshot "
        "name per call. *floor*: four no-op handlers on the events the guard hooks. "
        "*a+*: the caller leaves the policy's three tags to the guard, so the request grows. "
        "*d*: no Tags, the guard reads the source's tags with DescribeDBClusters (answered "
        "the same way) and sends the merged set — two API calls instead of one.",
        "",
        *_overhead_table(report.overhead),
        "",
        "### Where the time goes",
        "",
        *_profile_section(report.profiles),
        analysis,
        "",
        "### Optimisations made for this",
        "",
        OPTIMISATIONS,
        "## 2. Audit throughput",
        "",
        "Records per second into one file (each record a typical `requested` record, ~620 "
        "bytes), from the first writer's start to the last one's end; every run ends with "
        "`verify` passing and the record count exact.",
        "",
        *_throughput_table(report.throughput),
        "",
        "## 3. Verify speed",
        "",
        *(_verify_section(report.verify) if report.verify is not None else ["(not run)"]),
        "",
        "## 4. Scaling of `evaluate`",
        "",
        "Policy size: N tag rules, alternately `[tags.allowed]` and `[tags.patterns]` entries "
        "on keys `k0..k{N-1}`; call size: T tags `k0..k{T-1}`, every one passing. *cold*: "
        "every call a tag set not seen before (more sets than the verdict cache holds), so "
        "every check runs; *warm*: the same tag set each call (the verdict is remembered). "
        "Slopes are least-squares µs per extra rule or tag; the last column compares the "
        "slope of the last step with the first (≤ ~1: no worse than linear).",
        "",
        *_scaling_section(report.scaling),
    ]
    return "\n".join(lines).rstrip() + "\n"

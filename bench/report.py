"""The benchmark report (docs/benchmarks.md, or .bench/benchmarks.md) from one run's results.

Every number in it is measured in that run; every target is marked met or missed, and a
missed per-call target is explained from that run's profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.audit_throughput import ThroughputResult
from bench.by_event import EventBreakdown
from bench.cold_start import (
    IMPORT_GUARD,
    INSTALL_TARGET_SECONDS,
    ClientCost,
    ColdStart,
    Comparison,
    InstallResult,
)
from bench.common import Machine, Stats
from bench.import_profile import ClassCost, ImportTime
from bench.instructions import Instructions, instructions_section
from bench.ledger_speed import SHIP_TARGET, VERIFY_PER, LedgerResult
from bench.overhead import PairResult
from bench.profiles import ProfileSummary
from bench.record_encoding import EncodingCost
from bench.report_per_call import AioRun, met, per_call_section
from bench.scaling import RULE_COUNTS, TAG_COUNTS, ScalingPoint, growth, slope
from bench.verify_speed import VerifyResult

VERIFY_TARGET = 3.0


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
    encoding: EncodingCost | None = None
    instructions: Instructions | None = None
    by_event: Sequence[EventBreakdown] = ()


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


def _counted(report: RunReport, name: str) -> str:
    """The instructions the comparison ``name`` adds (`bench.instructions`), when counted."""
    found = report.instructions.of(name) if report.instructions is not None else None
    return "" if found is None else f"; instructions {found.share * 100:+.2f}%"


def _targets_table(report: RunReport) -> list[str]:
    lines = ["| what | target | measured | verdict |", "|---|---|---|---|"]
    for r in report.overhead:
        if r.target is not None:
            lines.append(
                f"| per call, {r.path} ({r.case.name}: {r.case.label}) | ≤ {r.target:.2f}× | "
                f"{r.ratio:.3f}× ({r.overhead_us:+.1f} µs) | {met(r.met)} |"
            )
    cold = report.cold
    i = cold.imports
    lines.append(
        f"| cold start: `{IMPORT_GUARD}` against `import boto3` | {i.target} | "
        f"{_signed_ms(i.added)} ({i.ratio:.3f}×{_counted(report, i.name)}) | {met(i.met)} |"
    )
    lines.append(
        f"| cold start: `load_policy` + `install` (example policy) | "
        f"≤ {INSTALL_TARGET_SECONDS * 1e3:.0f} ms | {_ms(cold.install.total.median)} | "
        f"{met(cold.install.met)} |"
    )
    for c in cold.awscli or ():
        lines.append(
            f"| AWS CLI plugin: `{c.name}` | {c.target} | {_signed_ms(c.added)} "
            f"({(c.ratio - 1) * 100:+.1f}%; 95% interval {_interval(c)}"
            f"{_counted(report, c.name)}) | {met(c.met)} |"
        )
    if cold.awscli is None:
        lines.append(f"| AWS CLI plugin | – | not run: {cold.awscli_skipped} | – |")
    if report.verify is not None:
        v = report.verify
        lines.append(
            f"| `audit verify` against the hashing floor | ≤ {VERIFY_TARGET:.0f}× | "
            f"{v.ratio:.2f}× | {met(v.ratio <= VERIFY_TARGET)} |"
        )
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
        f"{_interval(c)}). Target {c.target}: {met(c.met)}."
    )


def _install_table(i: InstallResult) -> list[str]:
    return [
        "| step | median | p10–p90 |",
        "|---|---|---|",
        f"| `load_policy(examples/rds_guard.toml)` | {_ms(i.load.median)} | {_spread(i.load)} |",
        f"| `install(session, policy)` | {_ms(i.install.median)} | {_spread(i.install)} |",
        f"| both | **{_ms(i.total.median)}** | {_spread(i.total)} |",
        "",
        f"Target ≤ {INSTALL_TARGET_SECONDS * 1e3:.0f} ms: {met(i.met)}.",
    ]


def _client_cost(cost: ClientCost | None) -> list[str]:
    if cost is None:
        return []
    return [
        f"Making an rds client on the guarded session adds **{cost.added * 1e3:.2f} ms** "
        f"(medians of {cost.bare.count}, alternated with a bare session's in one process: "
        f"{cost.bare.median_us / 1e3:.2f} against {cost.guarded.median_us / 1e3:.2f} ms): "
        f"its {cost.handlers} handlers registered under their operations' event names, on "
        "the emitter behind the client's `EventAliaser` (a new aliaser looks every name up "
        "again in its table of old names: the guard's are translated once per process, and "
        "a name holding none of those old names is not looked up at all), past the "
        "emitter's check of each handler's signature (`inspect.getfullargspec`), which "
        "every handler of the guard's passes by construction.",
        "",
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
            f"({(c.ratio - 1) * 100:+.1f}%) | {_interval(c)} | {c.target}: {met(c.met)} |"
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


def _cold_start_section(cold: ColdStart, instructions: Instructions | None) -> list[str]:
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
        *_client_cost(cold.client),
        *_load_imports(cold.load_importtime),
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
    lines += ["", *instructions_section(instructions)]
    lines += ["", "### Where an import goes", "", *_importtime_section(cold.importtime)]
    lines += ["", *_class_cost(cold.classes, cold.imports.added)]
    return lines


def _load_imports(t: ImportTime, top: int = 6) -> list[str]:
    over = "over" if t.total_us / 1e6 > INSTALL_TARGET_SECONDS else "within"
    lines = [
        f"What the first `load_policy` imports (`-X importtime`, {_runs(t.runs)}, medians): "
        f"**{t.total_us / 1e3:.1f} ms** over {len(t.lines)} modules, {over} the target on its "
        f"own; the {min(top, len(t.lines))} largest by self time:",
        "",
        "| module | self (µs) | cumulative (µs) |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{line.module}` | {line.self_us:.0f} | {line.cumulative_us:.0f} |"
        for line in t.lines[:top]
    ]
    return lines


def _class_cost(c: ClassCost, added: float) -> list[str]:
    share = c.remake_ms / (added * 1e3) if added > 0 else float("nan")
    return [
        f"The import creates {c.dataclasses} dataclasses and {c.enums} "
        f"enum{'' if c.enums == 1 else 's'} of rds_guard's "
        f"own, {c.by_frozen} of them made by `rds_guard.core.frozen.frozen`. Making those "
        f"{c.dataclasses} dataclasses again, each as it was made, with its fields and options, "
        f"takes **{c.remake_ms:.1f} ms** in that process (median), {share:.0%} of the "
        f"{added * 1e3:.1f} ms the import adds. One frozen dataclass of five fields (and a "
        "docstring, as rds_guard's have) takes "
        f"{c.frozen_us:.0f} µs to make with `dataclasses`, {c.ours_us:.0f} µs with `frozen` "
        f"({c.shared_us:.0f} µs once a class of the same layout of fields was made), and the "
        f"same class without a decorator {c.plain_us:.0f} µs: `dataclasses` writes each "
        "generated method (`__init__`, `__repr__`, `__eq__`, `__hash__`, and for a frozen one "
        "`__setattr__` and `__delattr__`) as source and compiles it, every time the module is "
        "imported; `frozen` writes `__init__` alone, once per layout of fields (how many, "
        f"which have a factory, whether `__post_init__` is called: {c.layouts} layouts for the "
        f"{c.by_frozen} classes), takes it compiled from the bytecode file of "
        "`rds_guard.core.frozen_inits`, which holds every layout of rds_guard's own classes (so "
        "the import compiles nothing), puts each class's names into that code, and gives the "
        "other methods as closures (rds_guard/core/frozen.py).",
    ]


# 3-5 -----------------------------------------------------------------------------------------


def _bytes_per_record(results: Sequence[ThroughputResult]) -> str:
    """The records' average size in the throughput runs, as the report writes it."""
    records = sum(r.records for r in results)
    return f"{sum(r.log_bytes for r in results) / records:.0f}" if records else "–"


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
    within = v.ratio <= VERIFY_TARGET
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
        f"**{v.ratio:.2f}×** (target ≤ {VERIFY_TARGET:.0f}×: {met(within)}) | – |",
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
        *per_call_section(
            report.overhead,
            report.aio,
            report.profiles,
            report.throughput,
            report.encoding,
            report.by_event,
        ),
        "## 2. Cold start",
        "",
        *_cold_start_section(report.cold, report.instructions),
        "",
        "## 3. Audit throughput",
        "",
        "Records per second into one file (each record a typical `requested` record, "
        f"{_bytes_per_record(report.throughput)} bytes with its newline on average), from the "
        "first writer's start to the last one's end (µs per record: that wall time over the "
        "records, all writers together); every run ends with `verify` passing and the record "
        "count exact.",
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

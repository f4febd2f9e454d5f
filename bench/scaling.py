"""Scaling: `rds_guard.evaluate` against policy size (tag rules) and the call's tag count.

A policy with N tag rules has N keys ``k0..k{N-1}``, alternately in ``[tags.allowed]``
(``["v*"]``) and ``[tags.patterns]`` (``^v[0-9-]+$``); a call with T tags sends ``k0..k{T-1}``,
every value passing. Two regimes:

- ``cold``: every call sends a tag set not seen before (values change per call, more sets
  than the verdict cache holds), so every rule and every AWS tag check runs.
- ``warm``: the same tag set every call, as an application's code path sends it; the tag
  verdict is remembered per policy, and what is left is linear in the tag count.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rds_guard

RULE_COUNTS = (1, 10, 100)
TAG_COUNTS = (1, 10, 50)
_DISTINCT_SETS = 600  # more than decide's verdict cache holds (256): every cold call misses
_NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def scaling_policy(rules: int) -> rds_guard.Policy:
    """A policy with ``rules`` tag rules (alternately allowed values and patterns)."""
    allowed = [f'k{i} = ["v*"]' for i in range(0, rules, 2)]
    patterns = [f'k{i} = "^v[0-9-]+$"' for i in range(1, rules, 2)]
    text = "\n".join(
        [
            "version = 1",
            "[naming]",
            'pattern = "^{source}-(daily|manual)-[0-9]{8}$"',
            "[tags.allowed]",
            *allowed,
            "[tags.patterns]",
            *patterns,
            "[audit]",
            "enabled = false",
        ]
    )
    return rds_guard.Policy.from_toml(text + "\n")


def _params(tags: int, variant: int) -> dict[str, Any]:
    return {
        "DBClusterIdentifier": "orders",
        "DBClusterSnapshotIdentifier": "orders-manual-20261129",
        "Tags": [{"Key": f"k{j}", "Value": f"v{j}-{variant}"} for j in range(tags)],
    }


@dataclass(frozen=True)
class ScalingPoint:
    """Median microseconds per evaluate() for one (rules, tags) pair, cold and warm."""

    rules: int
    tags: int
    cold_us: float
    warm_us: float


def _per_call_us(policy: rds_guard.Policy, calls: Sequence[dict[str, Any]], repeats: int) -> float:
    evaluate = rds_guard.evaluate
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for params in calls:
            decision = evaluate(policy, "CreateDBClusterSnapshot", params, now=_NOW)
        samples.append((time.perf_counter() - start) / len(calls) * 1e6)
        if not decision.allowed:
            raise RuntimeError(f"scaling call was not allowed: {decision.violations}")
    return statistics.median(samples)


def measure_point(rules: int, tags: int, calls: int, repeats: int) -> ScalingPoint:
    """Time ``calls`` evaluations, ``repeats`` times (median), cold and warm."""
    policy = scaling_policy(rules)
    distinct = [_params(tags, i) for i in range(min(calls, _DISTINCT_SETS))]
    cold = [distinct[i % len(distinct)] for i in range(calls)]
    warm = [distinct[0]] * calls
    return ScalingPoint(
        rules, tags, _per_call_us(policy, cold, repeats), _per_call_us(policy, warm, repeats)
    )


def run_scaling(calls: int, repeats: int) -> list[ScalingPoint]:
    """Every (rules, tags) pair of `RULE_COUNTS` x `TAG_COUNTS`."""
    return [
        measure_point(rules, tags, calls, repeats) for rules in RULE_COUNTS for tags in TAG_COUNTS
    ]


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mean_x) ** 2 for x in xs)
    return num / den if den else float("nan")


def growth(xs: Sequence[float], ys: Sequence[float]) -> float:
    """How the last step's slope compares with the first's (<= ~1: no worse than linear)."""
    first = (ys[1] - ys[0]) / (xs[1] - xs[0])
    last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    return last / first if first > 0 else float("nan")

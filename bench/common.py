"""What every benchmark shares: statistics, the machine's description, the benchmark policy."""

from __future__ import annotations

import dataclasses
import os
import platform
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder."""

EXAMPLE_POLICY = ROOT / "examples" / "rds_guard.toml"
"""The example policy the cold-start benchmarks load."""

SOURCE = "orders"
SNAPSHOT = "orders-manual-20261129"
REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{SOURCE}"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
"""The dummy credentials of every client a benchmark makes."""

CALLER_TAGS: tuple[tuple[str, str], ...] = (
    ("team", "payments"),
    ("env", "prod"),
    ("owner", "ann@example.com"),
)
"""The tags a caller who knows the policy's rules sends."""

POLICY_TAGS: tuple[tuple[str, str], ...] = (
    ("managed-by", "rds-guard"),
    ("created", "2026-11-29"),
    ("compliance", "pci"),
)
"""Tags the policy would add (defaults and forced); a compliant caller sends them already."""

SOURCE_TAGS: tuple[tuple[str, str], ...] = (
    ("team", "payments"),
    ("env", "prod"),
    ("owner", "ann@example.com"),
    ("cost-center", "CC-1042"),
)
"""The source cluster's TagList (it has CopyTagsToSnapshot)."""

_POLICY = """\
version = 1
mode = "enforce"

[naming]
pattern = "^{{source}}-(daily|manual)-[0-9]{{8}}$"
generate = "{{source}}-manual-{{utcnow:%Y%m%d}}"

[tags]
required = ["team", "env"]
inherit = true

[tags.defaults]
managed-by = "rds-guard"
created = "{{utcnow:%Y-%m-%d}}"

[tags.forced]
compliance = "pci"

[tags.allowed]
env = ["prod", "staging", "dev"]
cost-center = ["CC-*"]

[tags.patterns]
owner = "^[a-z.]+@example\\\\.com$"

[audit]
path = "{path}"
enabled = {enabled}
fsync = {fsync}
"""


def policy_text(audit_path: Path | str, *, enabled: bool, fsync: bool) -> str:
    """The benchmark policy: naming, required/default/forced/allowed/pattern tag rules, audit."""
    return _POLICY.format(
        path=str(audit_path).replace("\\", "\\\\"),
        enabled=str(enabled).lower(),
        fsync=str(fsync).lower(),
    )


def tag_list(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """botocore's ``[{"Key", "Value"}]`` form of key/value pairs."""
    return [{"Key": key, "Value": value} for key, value in pairs]


@dataclass(frozen=True)
class Stats:
    """Summary of timing samples (seconds): median, 90th and 10th percentiles, mean, count."""

    median: float
    p90: float
    mean: float
    count: int
    p10: float = float("nan")

    @property
    def median_us(self) -> float:
        """The median in microseconds."""
        return self.median * 1e6

    @property
    def p90_us(self) -> float:
        """The 90th percentile in microseconds."""
        return self.p90 * 1e6

    def as_dict(self) -> dict[str, float]:
        """The summary as plain numbers (for a bench run in another environment)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Stats:
        """The inverse of `as_dict`."""
        return cls(**{**data, "count": int(data["count"])})


def percentile(sorted_samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of already sorted samples (nearest rank)."""
    if not sorted_samples:
        return float("nan")
    index = min(len(sorted_samples) - 1, max(0, round(fraction * (len(sorted_samples) - 1))))
    return sorted_samples[index]


def summarize(samples: Sequence[float]) -> Stats:
    """Median, p90, mean and count of ``samples`` (seconds)."""
    ordered = sorted(samples)
    if not ordered:
        return Stats(float("nan"), float("nan"), float("nan"), 0)
    return Stats(
        statistics.median(ordered),
        percentile(ordered, 0.9),
        statistics.fmean(ordered),
        len(ordered),
        percentile(ordered, 0.1),
    )


def alternate(sides: Sequence[Callable[[], float]], rounds: int) -> list[list[float]]:
    """Run every side once per round, the order rotating each round; each side returns its
    own sample. Returns the samples per side, in the order of ``sides``.

    With two sides the order alternates (a b, b a, ...), so drift - frequency scaling, a
    neighbour's load, cache warming - reaches both alike.
    """
    samples: list[list[float]] = [[] for _ in sides]
    count = len(sides)
    for i in range(rounds):
        for offset in range(count):
            index = (i + offset) % count
            samples[index].append(sides[index]())
    return samples


def median_difference_interval(
    base: Sequence[float], other: Sequence[float], *, rounds: int = 2000, seed: int = 1
) -> tuple[float, float]:
    """A 95% bootstrap interval of ``median(other) - median(base)``.

    The samples were taken in alternated pairs, so pairs are resampled together (fixed seed:
    the same samples give the same interval).
    """
    pairs = list(zip(base, other, strict=True))
    if len(pairs) < 2:
        difference = statistics.median(other) - statistics.median(base)
        return difference, difference
    draw = random.Random(seed).choices
    differences = []
    for _ in range(rounds):
        sample = draw(pairs, k=len(pairs))
        differences.append(
            statistics.median(o for _, o in sample) - statistics.median(b for b, _ in sample)
        )
    differences.sort()
    return percentile(differences, 0.025), percentile(differences, 0.975)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (best effort)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True)
class Machine:
    """Where the benchmarks ran."""

    cpu: str
    cores: int
    system: str
    python: str
    botocore: str
    moto: str


def machine() -> Machine:
    """Describe this machine and the versions that matter to the numbers."""
    return Machine(
        cpu=cpu_model(),
        cores=os.cpu_count() or 1,
        system=f"{platform.system()} {platform.release()} ({platform.machine()})",
        python=f"{platform.python_implementation()} {sys.version.split()[0]}",
        botocore=_version("botocore"),
        moto=_version("moto"),
    )

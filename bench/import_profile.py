"""Where the guard's cold start goes: ``-X importtime`` of its import and of
``load_policy``, and what creating its dataclasses costs (the profiles behind the cold-start
targets of `bench.cold_start`)."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import EXAMPLE_POLICY

_IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)\s*$")


@dataclass(frozen=True)
class ImportLine:
    """One module imported past the starting point (boto3's import, say): self and
    cumulative time (µs)."""

    module: str
    self_us: float
    cumulative_us: float

    @property
    def ours(self) -> bool:
        """Whether it is one of rds_guard's modules."""
        return self.module == "rds_guard" or self.module.startswith("rds_guard.")


@dataclass(frozen=True)
class ImportTime:
    """``-X importtime`` of ``code``: what is imported past the starting point, medians over
    ``runs``."""

    code: str
    module: str
    runs: int
    lines: Sequence[ImportLine]
    """Every module imported past the starting point, by median self time, largest first."""
    total_us: float
    """All that ``code`` imports past the starting point: the cumulative times of its
    top-level lines."""


def parse_importtime(
    stderr: str, after: str = "boto3", *, marker: str | None = None
) -> dict[str, tuple[int, int, bool]]:
    """Self and cumulative µs of each module imported after the top-level ``after`` (or,
    given a ``marker``, after that line of stderr), and whether it is a top-level line
    (imported by the code itself, not by another module)."""
    found: dict[str, tuple[int, int, bool]] = {}
    started = False
    for text in stderr.splitlines():
        if marker is not None and not started:
            started = text == marker
            continue
        match = _IMPORTTIME_LINE.match(text)
        if match is None:
            continue
        own, cumulative, indent, module = match.groups()
        if not started:
            started = module == after and len(indent) == 1
            continue
        found[module] = (int(own), int(cumulative), len(indent) == 1)
    return found


def _importtime(
    code: str, module: str, runs: int, parse: Callable[[str], dict[str, tuple[int, int, bool]]]
) -> ImportTime:
    """``python -X importtime -c CODE``, ``runs`` times, read by ``parse``."""
    per_module: dict[str, list[tuple[int, int]]] = {}
    totals: list[int] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            check=True,
        )
        found = parse(done.stderr)
        totals.append(sum(cumulative for _, cumulative, top in found.values() if top))
        for name, (own, cumulative, _) in found.items():
            per_module.setdefault(name, []).append((own, cumulative))
    lines = [
        ImportLine(
            name,
            statistics.median(own for own, _ in times),
            statistics.median(cumulative for _, cumulative in times),
        )
        for name, times in per_module.items()
    ]
    lines.sort(key=lambda line: line.self_us, reverse=True)
    return ImportTime(code, module, runs, lines, statistics.median(totals))


def measure_importtime(
    runs: int, after: str = "boto3", statement: str = "from rds_guard import install"
) -> ImportTime:
    """``python -X importtime -c "import AFTER; STATEMENT"``, ``runs`` times."""
    return _importtime(
        f"import {after}; {statement}",
        statement.split()[1],
        runs,
        lambda stderr: parse_importtime(stderr, after),
    )


_LOADING = "-- load_policy --"


def measure_load_importtime(runs: int, policy: Path = EXAMPLE_POLICY) -> ImportTime:
    """What ``load_policy`` imports in a process that has imported boto3 and the guard
    (``-X importtime``, the lines after a marker printed just before the load)."""
    code = (
        "import sys, boto3; from rds_guard import install, load_policy; "
        f"print({_LOADING!r}, file=sys.stderr, flush=True); load_policy({str(policy)!r})"
    )
    return _importtime(
        code, "load_policy", runs, lambda stderr: parse_importtime(stderr, marker=_LOADING)
    )


@dataclass(frozen=True)
class ClassCost:
    """The classes the guard's import creates, and what making its dataclasses costs."""

    dataclasses: int
    enums: int
    remake_ms: float
    """Making every one of those dataclasses again, with its fields and options, each as it
    was made (`rds_guard.core.frozen.frozen` or ``dataclasses``), median."""
    frozen_us: float
    """One frozen dataclass of five fields and a docstring, by ``dataclasses`` (median)."""
    plain_us: float
    """The same class, not a dataclass (median)."""
    by_frozen: int
    """How many of the dataclasses `rds_guard.core.frozen.frozen` made."""
    ours_us: float
    """The five-field class made by `rds_guard.core.frozen.frozen`, the first of its layout
    of fields (its ``__init__``'s code taken from `rds_guard.core.frozen_inits`), median."""
    layouts: int = 0
    """The layouts of fields (`rds_guard.core.frozen`) among the classes `frozen` made: one
    ``__init__`` for each, compiled into `rds_guard.core.frozen_inits`."""
    shared_us: float = 0.0
    """The five-field class made by `frozen` once a class of its layout was (nothing to
    compile), median."""


_CLASS_COST = """import dataclasses, enum, json, statistics, sys, time
import boto3
from rds_guard import install
from rds_guard.core import frozen as frozen_module
from rds_guard.core.frozen import frozen as decorate
layouts = len(frozen_module._TEMPLATES)
def first(make):  # as at import: the first class of each layout makes its __init__
    frozen_module._TEMPLATES.clear()
    return make()
ours = [
    value
    for name, module in list(sys.modules.items())
    if name.split(".")[0] == "rds_guard"
    for value in vars(module).values()
    if isinstance(value, type) and value.__module__ == name
]
made = [c for c in ours if dataclasses.is_dataclass(c)]
enums = [c for c in ours if isinstance(c, enum.EnumMeta)]
def by_frozen(cls):
    return getattr(cls.__setattr__, "__module__", None) == "rds_guard.core.frozen"
def remake(cls):
    if by_frozen(cls):
        namespace = {"__annotations__": {f.name: f.type for f in dataclasses.fields(cls)}}
        for f in dataclasses.fields(cls):
            namespace[f.name] = dataclasses.field(
                default=f.default, default_factory=f.default_factory, init=f.init,
                repr=f.repr, hash=f.hash, compare=f.compare, metadata=f.metadata)
        namespace["__doc__"] = cls.__doc__
        if hasattr(cls, "__post_init__"):
            namespace["__post_init__"] = cls.__post_init__
        return decorate(type(cls.__name__, (), namespace))
    fields = [
        (f.name, f.type, dataclasses.field(
            default=f.default, default_factory=f.default_factory, init=f.init, repr=f.repr,
            hash=f.hash, compare=f.compare, metadata=f.metadata, kw_only=f.kw_only))
        for f in dataclasses.fields(cls)
    ]
    p = cls.__dataclass_params__
    dataclasses.make_dataclass(
        cls.__name__, fields, init=p.init, repr=p.repr, eq=p.eq, order=p.order,
        unsafe_hash=p.unsafe_hash, frozen=p.frozen, slots="__slots__" in cls.__dict__,
    )
def timed(make):
    start = time.perf_counter()
    make()
    return time.perf_counter() - start
FIVE = {"a": int, "b": str, "c": int, "d": str, "e": tuple}
DEFAULTS = {"c": 0, "d": "", "e": ()}
def five():  # with a docstring, as rds_guard's classes have (else dataclasses makes one)
    return type("Five", (), {"__annotations__": dict(FIVE), "__doc__": "Five.", **DEFAULTS})
runs = int(sys.argv[1])
remakes = [timed(lambda: first(lambda: [remake(c) for c in made])) for _ in range(runs)]
frozen = [timed(lambda: dataclasses.dataclass(frozen=True)(five())) for _ in range(runs * 20)]
plain = [timed(five) for _ in range(runs * 20)]
mine = [timed(lambda: first(lambda: decorate(five()))) for _ in range(runs * 20)]
shared = [timed(lambda: decorate(five())) for _ in range(runs * 20)]
print(json.dumps([len(made), len(enums), statistics.median(remakes),
                  statistics.median(frozen), statistics.median(plain),
                  sum(map(by_frozen, made)), statistics.median(mine), layouts,
                  statistics.median(shared)]))
"""


def measure_class_cost(runs: int) -> ClassCost:
    """Count the dataclasses and enums ``from rds_guard import install`` creates, and time
    making them again in that process (``runs`` times, median), and one of five fields."""
    done = subprocess.run(
        [sys.executable, "-c", _CLASS_COST, str(runs)], capture_output=True, text=True, check=True
    )
    made, enums, remake, frozen, plain, by_frozen, ours, layouts, shared = json.loads(done.stdout)
    return ClassCost(
        made,
        enums,
        remake * 1e3,
        frozen * 1e6,
        plain * 1e6,
        by_frozen,
        ours * 1e6,
        layouts,
        shared * 1e6,
    )

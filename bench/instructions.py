"""Instructions, not seconds: what rds_guard adds to a whole process, counted by valgrind's
callgrind, which counts every instruction a process runs.

A count barely moves from run to run of the same program, inputs and environment, whatever
else the machine is doing: the import's by some hundreds of 760 million, an `aws` command's
against moto's server by some 10,000 of 1.8 billion (each answer has its own request id and
dates), where what rds_guard adds is millions. So one run of each
side tells a difference that the spread of wall times hides: the AWS CLI's own ±20 ms
swamps the 2% line of its target. Each side runs once under callgrind, with
``PYTHONHASHSEED=0`` (a set's order otherwise changes from run to run, and with it a few
instructions). The wall-clock comparisons of `bench.cold_start` stay the targets' measure;
these are the check of what a noisy machine cannot tell. Skipped where valgrind is not
installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cold_start import (
    AWS,
    CLI_COMMANDS,
    EXAMPLE_CLI_CONFIG,
    IMPORT_GUARD,
    cli_environment,
    compile_bytecode,
    prepare_awscli,
)

VALGRIND = shutil.which("valgrind")
_COLLECTED = re.compile(r"Collected : (\d+)")


@dataclass(frozen=True)
class InstructionCount:
    """The instructions of one process run two ways (one run each)."""

    name: str
    base_label: str
    other_label: str
    base: int
    other: int

    @property
    def added(self) -> int:
        """The other side's instructions over the base's."""
        return self.other - self.base

    @property
    def share(self) -> float:
        """What the other side adds, as a share of the base."""
        return self.added / self.base


@dataclass(frozen=True)
class Instructions:
    """Every count of one run, or why there are none (``skipped``)."""

    counts: Sequence[InstructionCount]
    skipped: str | None = None
    cli_skipped: str | None = None
    """Why the AWS CLI's commands were not counted (None: they were)."""

    def of(self, name: str) -> InstructionCount | None:
        """The count named ``name`` (a `bench.cold_start.Comparison`'s name), if made."""
        return next((count for count in self.counts if count.name == name), None)


def count(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> int:
    """The instructions ``argv`` runs, start to exit, under callgrind; it must succeed."""
    assert VALGRIND is not None
    done = subprocess.run(
        [VALGRIND, "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env={**env, "PYTHONHASHSEED": "0"},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(argv)} failed under callgrind: {done.stderr[-400:]}")
    return int(found.group(1))


def measure_instructions(server: Any | None, workdir: Path) -> Instructions:
    """The import (``import boto3`` against `IMPORT_GUARD`), and with a moto ``server`` each
    of `CLI_COMMANDS` without and with the plugin, counted."""
    if VALGRIND is None:
        return Instructions([], "valgrind is not installed")
    compile_bytecode()  # as installing the package does: else each process compiles it
    env = dict(os.environ)
    counts = [
        InstructionCount(
            "import",
            'python -c "import boto3"',
            f'python -c "{IMPORT_GUARD}"',
            count([sys.executable, "-c", "import boto3"], env),
            count([sys.executable, "-c", IMPORT_GUARD], env),
        )
    ]
    if server is None or not AWS.exists():
        why = "no moto server (--no-moto)" if server is None else f"{AWS} is missing"
        return Instructions(counts, cli_skipped=why)
    cli_dir, empty = prepare_awscli(server, workdir)
    for command in CLI_COMMANDS:
        argv = [sys.executable, str(AWS), *command, "--endpoint-url", server.url]
        without, with_plugin = (
            count(argv, cli_environment(cli_dir, config), cli_dir)
            for config in (empty, EXAMPLE_CLI_CONFIG)
        )
        counts.append(
            InstructionCount(
                f"aws {' '.join(command)}",
                "without the plugin",
                "with the plugin",
                without,
                with_plugin,
            )
        )
    return Instructions(counts)


def instructions_section(found: Instructions | None) -> list[str]:
    """The report's part on instruction counts."""
    lines = ["### Instructions", ""]
    if found is None or found.skipped is not None:
        why = "not asked for" if found is None else found.skipped
        return [*lines, f"Not counted: {why}."]
    lines += [
        "Each process once under `valgrind --tool=callgrind` with `PYTHONHASHSEED=0` "
        "(bench/instructions.py): instructions run from start to exit, which barely move "
        "from run to run whatever else the machine does (the import's by some hundreds, an "
        "`aws` command's by some 10,000, its answers' request ids and dates differing), where "
        "the wall times above spread by more than the difference. A count is no time: it weighs "
        "an instruction that waits on memory as one that does not, and sees no system "
        "call's own time.",
        "",
        "| process | base | instructions | other | instructions | added |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{c.name}` | {c.base_label} | {c.base:,} | {c.other_label} | {c.other:,} | "
        f"**{c.added:+,}** ({c.share * 100:+.2f}%) |"
        for c in found.counts
    ]
    if found.cli_skipped is not None:
        lines += ["", f"The AWS CLI's commands not counted: {found.cli_skipped}."]
    return lines

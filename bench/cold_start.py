"""Cold start, as whole processes: what rds_guard adds to a process that imports it, installs
a guard, or runs the AWS CLI with its plugin.

Each comparison runs its two sides in fresh processes, alternately (`bench.common.alternate`),
N runs each, and reports medians, the spread (10th to 90th percentile) and a 95% bootstrap
interval of the difference of the medians (`bench.common.median_difference_interval`).

- import: ``python -c "import boto3"`` against ``python -c "import boto3; from rds_guard
  import install"``, the wall time of each process (interpreter start, imports, exit). The
  package's public names load when first asked for, so the second side asks for one.
- install: in a fresh process that has imported boto3 and rds_guard, ``load_policy`` of
  examples/rds_guard.toml (a copy) then ``install(session, policy)``, timed inside the
  process; one sample per process, so every sample is a first, cold call.
- AWS CLI: ``aws rds describe-db-clusters`` and ``aws sts get-caller-identity`` against moto's
  server, with examples/awscli-config as ``AWS_CONFIG_FILE`` (the plugin) and with an empty
  config file; the example policy is ./rds_guard.toml for both.
- client: ``create_client("rds")`` on a bare botocore session and on a guarded one,
  alternated in one process after a warm-up: what registering the guard's handlers adds.
- importtime: ``python -X importtime -c "import boto3; from rds_guard import install"``, the
  self time of each module imported after boto3's (rds_guard's own and what they bring),
  median of a few runs; and ``import awscli.clidriver; import rds_guard.awscli``: what the
  plugin's import adds to the CLI.

rds_guard's bytecode is compiled first (`compile_bytecode`), as pip compiles an installed
package's: otherwise, under PYTHONDONTWRITEBYTECODE, every process would compile it again.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session

import rds_guard
from bench.common import (
    EXAMPLE_POLICY,
    ROOT,
    Stats,
    alternate,
    median_difference_interval,
    summarize,
)
from bench.import_profile import (
    ClassCost,
    ImportTime,
    measure_class_cost,
    measure_importtime,
    measure_load_importtime,
)
from rds_guard.guard.hooks import HOOK_ID, STAGES

EXAMPLE_CLI_CONFIG = ROOT / "examples" / "awscli-config"
AWS = Path(sys.executable).with_name("aws")

IMPORT_TARGET_SECONDS = 0.015
IMPORT_TARGET_RATIO = 1.05
INSTALL_TARGET_SECONDS = 0.005
CLI_TARGET_RATIO = 1.02

IMPORT_GUARD = "import boto3; from rds_guard import install"
"""What an application runs to use the guard (``import rds_guard`` alone imports only the
package's ``__init__``)."""

CLI_COMMANDS = (("rds", "describe-db-clusters"), ("sts", "get-caller-identity"))
"""A command the plugin's services answer (but not a guarded operation), and one they do not."""

_INSTALL = """\
import json, sys, time
import boto3, rds_guard
from rds_guard import install, load_policy  # the package's names load when first asked for
session = boto3.session.Session(region_name="us-east-1")
start = time.perf_counter()
policy = rds_guard.load_policy(sys.argv[1])
loaded = time.perf_counter()
guard = rds_guard.install(session, policy=policy)
installed = time.perf_counter()
print(json.dumps([loaded - start, installed - loaded]))
"""


def compile_bytecode() -> None:
    """Compile rds_guard's modules, as installing the package does."""
    compileall.compile_dir(Path(rds_guard.__file__).parent, quiet=1)


@dataclass(frozen=True)
class Comparison:
    """Two kinds of process, alternated: each one's wall time, and what the second adds."""

    name: str
    base_label: str
    other_label: str
    base: Stats
    other: Stats
    interval: tuple[float, float]
    """95% interval of ``other.median - base.median`` (seconds)."""
    target: str
    met: bool | None

    @property
    def added(self) -> float:
        """Seconds the second kind adds (difference of the medians)."""
        return self.other.median - self.base.median

    @property
    def ratio(self) -> float:
        """Second over first, medians."""
        return self.other.median / self.base.median


def _wall(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> float:
    """Seconds from starting ``argv`` to its end; it must succeed."""
    start = time.perf_counter()
    done = subprocess.run(list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-400:]}")
    return seconds


def _compare(
    name: str,
    sides: tuple[tuple[str, Callable[[], float]], tuple[str, Callable[[], float]]],
    runs: int,
    target: str,
    verdict: Callable[[Stats, Stats, tuple[float, float]], bool],
) -> Comparison:
    (base_label, base), (other_label, other) = sides
    base(), other()  # one untimed run each: the page cache, as for any process started twice
    base_samples, other_samples = alternate([base, other], runs)
    base_stats, other_stats = summarize(base_samples), summarize(other_samples)
    interval = median_difference_interval(base_samples, other_samples)
    return Comparison(
        name,
        base_label,
        other_label,
        base_stats,
        other_stats,
        interval,
        target,
        verdict(base_stats, other_stats, interval),
    )


def measure_import(runs: int) -> Comparison:
    """``import boto3`` against ``import boto3; from rds_guard import install``, whole processes."""
    env = dict(os.environ)

    def run(code: str) -> Callable[[], float]:
        return lambda: _wall([sys.executable, "-c", code], env)

    def verdict(base: Stats, other: Stats, _: tuple[float, float]) -> bool:
        added = other.median - base.median
        return added <= IMPORT_TARGET_SECONDS or other.median / base.median <= IMPORT_TARGET_RATIO

    return _compare(
        "import",
        (
            ('python -c "import boto3"', run("import boto3")),
            (f'python -c "{IMPORT_GUARD}"', run(IMPORT_GUARD)),
        ),
        runs,
        f"≤ {IMPORT_TARGET_SECONDS * 1e3:.0f} ms added or ≤ {IMPORT_TARGET_RATIO:.2f}×",
        verdict,
    )


@dataclass(frozen=True)
class InstallResult:
    """``load_policy`` and ``install`` timed in fresh processes, one sample per process."""

    processes: int
    load: Stats
    install: Stats
    total: Stats

    @property
    def met(self) -> bool:
        """Whether the median of load + install is within the target."""
        return self.total.median <= INSTALL_TARGET_SECONDS


def measure_install(runs: int, workdir: Path, policy: Path = EXAMPLE_POLICY) -> InstallResult:
    """Load ``policy`` and install it on a boto3 session, in ``runs`` fresh processes.

    The policy is loaded from a copy in ``workdir``: its audit log is a path relative to the
    policy's folder, and nothing may be written beside examples/.
    """
    install_dir = workdir / "install"
    install_dir.mkdir(exist_ok=True)
    policy = Path(shutil.copyfile(policy, install_dir / policy.name))
    loads: list[float] = []
    installs: list[float] = []
    for _ in range(runs + 1):
        done = subprocess.run(
            [sys.executable, "-c", _INSTALL, str(policy)],
            cwd=install_dir,
            capture_output=True,
            text=True,
            check=True,
        )
        load, install = json.loads(done.stdout)
        loads.append(load)
        installs.append(install)
    loads, installs = loads[1:], installs[1:]  # the first process warmed the page cache
    totals = [a + b for a, b in zip(loads, installs, strict=True)]
    return InstallResult(runs, summarize(loads), summarize(installs), summarize(totals))


@dataclass(frozen=True)
class ClientCost:
    """Making an rds client on a bare session and on a guarded one, alternated in one
    process after a warm-up; ``handlers``: those the guard registers on each."""

    bare: Stats
    guarded: Stats
    handlers: int

    @property
    def added(self) -> float:
        """What the guard adds to making a client, in seconds (median difference)."""
        return self.guarded.median - self.bare.median


def measure_client(rounds: int, workdir: Path, policy: Path = EXAMPLE_POLICY) -> ClientCost:
    """``session.create_client("rds")`` on a bare botocore session and on one guarded with
    ``policy`` (a copy in ``workdir``), ``rounds`` of each."""
    client_dir = workdir / "client"
    client_dir.mkdir(exist_ok=True)
    policy = Path(shutil.copyfile(policy, client_dir / policy.name))
    bare, guarded = botocore.session.Session(), botocore.session.Session()
    guard = rds_guard.install(guarded, policy=rds_guard.load_policy(policy))
    try:

        def made(session: botocore.session.Session) -> Callable[[], float]:
            def sample() -> float:
                started = time.perf_counter()
                session.create_client("rds", region_name="us-east-1")
                return time.perf_counter() - started

            return sample

        alternate([made(bare), made(guarded)], 3)  # the service model loaded, caches warm
        bare_times, guarded_times = alternate([made(bare), made(guarded)], rounds)
        handlers = _guard_handlers(guarded.create_client("rds", region_name="us-east-1"))
    finally:
        guard.uninstall()
    return ClientCost(summarize(bare_times), summarize(guarded_times), handlers)


def _guard_handlers(client: Any) -> int:
    """How many handlers the guard registered on ``client`` under its operations' event names
    (their unique ids, as botocore's emitter keeps them)."""
    placed = tuple(f"{HOOK_ID}:{stage}.rds." for stage, _ in STAGES)
    ids = client.meta.events._emitter._unique_id_handlers
    return sum(1 for unique_id in ids if str(unique_id).startswith(placed))


def cli_environment(workdir: Path, config: Path) -> dict[str, str]:
    """The AWS CLI's environment: dummy credentials, no user files, ``config`` as its config."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-credentials"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _plugin_is_active(url: str, workdir: Path, config: Path) -> bool:
    """Whether the CLI under ``config`` blocks a snapshot the example policy forbids."""
    create = ["rds", "create-db-cluster-snapshot", "--db-cluster-identifier", "orders"]
    done = subprocess.run(
        [
            str(AWS),
            *create,
            "--db-cluster-snapshot-identifier",
            "Not-Allowed",
            "--endpoint-url",
            url,
        ],
        env=cli_environment(workdir, config),
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    return done.stderr.lstrip().startswith("rds_guard blocked")


def prepare_awscli(server: Any, workdir: Path) -> tuple[Path, Path]:
    """The AWS CLI's directory (the example policy as ./rds_guard.toml) and an empty config
    file in it, with one cluster on ``server`` (moto's, reset first); checked that a snapshot
    the policy forbids is refused under the plugin's config and not under the empty one."""
    if not AWS.exists():
        raise FileNotFoundError(
            f"{AWS}: the AWS CLI is in the dev group (pip install -e . --group dev)"
        )
    server.reset_state()
    cli_dir = workdir / "awscli"
    cli_dir.mkdir(exist_ok=True)
    shutil.copyfile(EXAMPLE_POLICY, cli_dir / "rds_guard.toml")
    empty = cli_dir / "empty-config"
    empty.write_text("")
    server.client("rds").create_db_cluster(
        DBClusterIdentifier="orders",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="benchmark-password",
    )
    for config, expected in ((EXAMPLE_CLI_CONFIG, True), (empty, False)):
        if _plugin_is_active(server.url, cli_dir, config) is not expected:
            state = "off" if expected else "on"
            raise RuntimeError(f"AWS_CONFIG_FILE={config}: the plugin is {state}")
    return cli_dir, empty


def measure_awscli(server: Any, runs: int, workdir: Path) -> list[Comparison]:
    """Each of `CLI_COMMANDS` without and with the plugin, against ``server`` (moto's)."""
    cli_dir, empty = prepare_awscli(server, workdir)

    def run(command: Sequence[str], config: Path) -> Callable[[], float]:
        argv = [str(AWS), *command, "--endpoint-url", server.url]
        env = cli_environment(cli_dir, config)
        return lambda: _wall(argv, env, cli_dir)

    def within_ratio(base: Stats, other: Stats, _: tuple[float, float]) -> bool:
        return other.median / base.median <= CLI_TARGET_RATIO

    def nothing_measurable(base: Stats, other: Stats, interval: tuple[float, float]) -> bool:
        return interval[0] <= 0

    results = []
    for command in CLI_COMMANDS:
        rds = command[0] == "rds"
        results.append(
            _compare(
                f"aws {' '.join(command)}",
                (
                    ("without the plugin", run(command, empty)),
                    ("with the plugin", run(command, EXAMPLE_CLI_CONFIG)),
                ),
                runs,
                f"< {(CLI_TARGET_RATIO - 1) * 100:.0f}% added"
                if rds
                else "nothing measurable (the interval holds 0)",
                within_ratio if rds else nothing_measurable,
            )
        )
    return results


@dataclass(frozen=True)
class ColdStart:
    """Everything this module measures (the AWS CLI's None when it was not run)."""

    imports: Comparison
    install: InstallResult
    awscli: Sequence[Comparison] | None
    awscli_skipped: str
    importtime: ImportTime
    plugin_importtime: ImportTime | None
    """The plugin's import after the CLI's own (None without the AWS CLI)."""
    load_importtime: ImportTime
    """What ``load_policy`` imports (the install target's floor)."""
    classes: ClassCost
    client: ClientCost | None = None
    """What the guard adds to making a client (None: not measured)."""


def run_cold_start(
    import_runs: int,
    install_runs: int,
    cli_runs: int,
    importtime_runs: int,
    workdir: Path,
    server: Any | None,
) -> ColdStart:
    """Every cold-start measurement; the AWS CLI's only with a moto ``server``."""
    compile_bytecode()
    cli: list[Comparison] | None = None
    skipped = "no moto server (--no-moto)"
    if server is not None:
        if AWS.exists():
            cli = measure_awscli(server, cli_runs, workdir)
        else:
            skipped = f"{AWS} is missing (the AWS CLI is a dev dependency)"
    plugin = (
        measure_importtime(importtime_runs, "awscli.clidriver", "import rds_guard.awscli")
        if AWS.exists()
        else None
    )
    return ColdStart(
        measure_import(import_runs),
        measure_install(install_runs, workdir),
        cli,
        skipped,
        measure_importtime(importtime_runs),
        plugin,
        measure_load_importtime(importtime_runs),
        measure_class_cost(importtime_runs),
        measure_client(install_runs * 20, workdir),
    )

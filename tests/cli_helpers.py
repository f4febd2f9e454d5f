"""Running the real ``rds-guard`` console script in a subprocess, and in-process via ``main``;
reading what it prints (``eval --json``, the warning of a policy's ``services``); a stream
that says it is a terminal and a clock that moves when told, for the progress line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rds_guard import cli

REPO = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).parent / "rds-guard"


def command() -> list[str]:
    """The installed console script, else ``python -m rds_guard``."""
    return [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "rds_guard"]


def script_env(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    """An explicit environment: dummy credentials, no AWS config, no proxy for 127.0.0.1.

    ``extra`` adds variables; a None value leaves that variable out.
    """
    env: dict[str, str | None] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-such-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-such-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    env.update(extra)
    return {name: value for name, value in env.items() if value is not None}


@dataclass(frozen=True)
class Run:
    """A finished run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as one JSON document."""
        return json.loads(self.out)

    def __iter__(self) -> Iterator[Any]:
        """``code, out, err = run``."""
        return iter((self.code, self.out, self.err))


def run_script(
    *args: str, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 120
) -> Run:
    """Run the real console script; the timeout only detects hangs."""
    done = subprocess.run(
        [*command(), *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run ``cli.main`` in this process."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return Run(code, out, err)


def assert_one_error_line(run: Run, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one ``rds-guard...: error: ...`` line on stderr."""
    assert run.code == 2, run
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("rds-guard") and ": error: " in lines[0]
    assert "Traceback" not in run.err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def run_eval(capsys: pytest.CaptureFixture[str], policy: Path, *args: str) -> Run:
    """Run ``rds-guard eval --policy POLICY ARGS...`` in this process."""
    return run_main(capsys, "eval", "--policy", str(policy), *args)


def eval_json(
    capsys: pytest.CaptureFixture[str], policy: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    """Run ``rds-guard eval --policy POLICY ARGS... --json``: its exit code and its document,
    which has the contract's keys in order and is all the command prints."""
    result = run_eval(capsys, policy, *args, "--json")
    assert result.err == ""
    document: dict[str, Any] = result.json()
    assert list(document) == ["allowed", "params", "violations", "injected", "inherited"]
    return result.code, document


def rules_of(document: Mapping[str, Any]) -> list[str]:
    """The rules an ``eval --json`` document's violations name, in order."""
    return [v["rule"] for v in document["violations"]]


def services_warning(path: Path | str, left_out: str, *, line: int) -> str:
    """The stderr line of a command that loads a policy whose ``services`` (on ``line``)
    leaves ``left_out`` out: it is judged all the same."""
    return (
        f"rds-guard: warning: {path}:{line}: services leaves out {left_out}, which rds_guard"
        " judges all the same: the three APIs share one endpoint, so an rds client can"
        " snapshot any of them\n"
    )


class Terminal(io.StringIO):
    """A stderr (or any stream) that says it is a terminal, for what commands show only there."""

    def isatty(self) -> bool:
        return True


class Clock:
    """A clock that moves only when told (set ``now``), for what is shown at most so often."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

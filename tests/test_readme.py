"""The README's Python blocks run as written, in order, against in-process moto: a new user
who follows the tour gets what it says, and a block followed by a text block prints it."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tomllib
from pathlib import Path

import boto3
import pytest
from aws import REGION, make_cluster, snapshot_tags
from policies import EXAMPLE

import rds_guard
from rds_guard import audit

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in BLOCK.findall(README.read_text())]


def test_the_readme_has_a_tour_to_run() -> None:
    assert sum(kind == "python" for kind, _ in blocks()) >= 3


def readme_policy() -> str:
    """The policy the tour has the reader write, its one ``toml`` block."""
    (policy,) = [body for kind, body in blocks() if kind == "toml"]
    return policy


def test_the_readmes_policy_is_the_naming_and_tag_part_of_the_example() -> None:
    """The tour says its policy is the naming and tag part of examples/rds_guard.toml (which
    names copies by operation too): the two must not drift apart."""
    readme, example = (
        rds_guard.Policy.from_toml(readme_policy()),
        rds_guard.Policy.from_toml(EXAMPLE),
    )
    assert (readme.version, readme.mode, readme.naming, readme.tags) == (
        example.version,
        example.mode,
        example.naming,
        example.tags,
    )
    assert set(tomllib.loads(readme_policy())) == {"version", "mode", "naming", "tags"}


def test_every_python_block_runs_as_written(
    moto_inprocess: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rds_guard.toml").write_text(readme_policy())
    make_cluster(
        boto3.client("rds", region_name=REGION),
        copy_tags=True,
        tags={"team": "orders", "env": "prod"},
    )
    namespace: dict[str, object] = {}
    found = blocks()
    guards: list[rds_guard.Guard] = []
    try:
        for index, (kind, body) in enumerate(found):
            if kind != "python":
                continue
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(body, f"README.md python block {index}", "exec"), namespace)
            guards += [v for v in namespace.values() if isinstance(v, rds_guard.Guard)]
            following = found[index + 1] if index + 1 < len(found) else None
            if printed.getvalue() or "print(" in body:
                assert following is not None and following[0] == "text", "output with no block"
                assert printed.getvalue() == following[1], f"block {index} prints otherwise"
    finally:
        for guard in guards:
            guard.uninstall()
    rds = boto3.client("rds", region_name=REGION)
    made = {
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    }
    assert {"orders-manual-20261129", "orders-daily-20261129"} <= made
    assert "test2" not in made
    # "named, tagged, recorded": each snapshot keeps the cluster's tags beside the policy's,
    # and the log holds every call, once before it was sent and once with its outcome
    for name in ("orders-manual-20261129", "orders-daily-20261129"):
        tags = snapshot_tags(rds, name)
        assert {"team": "orders", "env": "prod", "backup-policy": "standard-35d"}.items() <= (
            tags.items()
        )
        assert tags["managed-by"] == "rds-guard"
    log = tmp_path / "rds-guard-audit.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("requested", "orders-manual-20261129"),
        ("created", "orders-manual-20261129"),
        ("requested", "orders-daily-20261129"),
        ("created", "orders-daily-20261129"),
        ("blocked", "test2"),
    ]
    assert audit.verify([log]).ok

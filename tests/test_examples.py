"""The integration examples run as they are, so they cannot rot.

- ``examples/lambda_handler.py``: imported afresh under moto's ``mock_aws`` (its cold start
  installs the guard) and invoked in-process with both kinds of event.
- ``examples/test_my_backups.py``: run by pytester with the example policy, as its docstring
  tells a team to run it.
- ``examples/demo.py``: run as ``make demo`` runs it (its own in-process moto).

``examples/awscli-config`` is the config file every test in ``test_awscli.py`` runs with.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws import make_cluster, snapshot_tags
from clock import UtcDays
from policies import EXAMPLE, write_policy

import rds_guard

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def lambda_module(
    moto_inprocess: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """examples/lambda_handler.py, freshly imported (a cold start) with the example policy."""
    monkeypatch.setenv("RDS_GUARD_POLICY", str(EXAMPLES / "rds_guard.toml"))
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    audit_logger = logging.getLogger("rds_guard.audit")
    monkeypatch.setattr(audit_logger, "level", audit_logger.level)  # the module sets INFO
    module = cold_start(monkeypatch)
    try:
        yield module
    finally:
        module.GUARD.uninstall()


def cold_start(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """examples/lambda_handler.py imported afresh, as a cold start imports it."""
    spec = importlib.util.spec_from_file_location("lambda_handler", EXAMPLES / "lambda_handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "lambda_handler", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clusters(moto_inprocess: None) -> Any:
    """Three clusters, made with a plain client: two tagged for the nightly run, one not."""
    rds = boto3.client("rds", region_name="us-east-1")
    for name, tags in [
        ("orders", {"team": "orders", "env": "prod", "backup": "nightly"}),
        ("legacy", {"backup": "nightly"}),
        ("scratch", {"team": "lab", "env": "dev"}),
    ]:
        make_cluster(rds, name, copy_tags=True, tags=tags)
    return rds


def test_lambda_snapshots_the_named_clusters_and_reports_the_blocked_one(
    clusters: Any, lambda_module: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """orders passes (its tags inherited, the policy's added); legacy lacks team and env."""
    caplog.set_level(logging.INFO)
    days = UtcDays()
    report = lambda_module.handler({"clusters": ["orders", "legacy"]}, None)
    created = days.expect(lambda day: [f"orders-daily-{day}"], report["created"])
    assert report["created"] == created
    assert report["failed"] == []
    (blocked,) = report["blocked"]
    assert blocked["cluster"] == "legacy"
    assert blocked["violations"] == [
        "[tags.required] Tags.team: required tag is missing",
        "[tags.required] Tags.env: required tag is missing",
    ]
    tags = snapshot_tags(clusters, created[0])
    assert tags == {
        "team": "orders",
        "env": "prod",
        "backup": "nightly",
        "managed-by": "rds-guard",
        "created": days.expect(lambda day: day, tags.get("created"), "%Y-%m-%d"),
        "backup-policy": "standard-35d",
    }
    manual = clusters.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"] for s in manual] == created
    # What CloudWatch Logs would get: every audit record as one JSON line on rds_guard.audit.
    shipped = [json.loads(r.getMessage()) for r in caplog.records if r.name == "rds_guard.audit"]
    assert [(r["event"], r["source"]) for r in shipped] == [
        ("requested", "orders"),
        ("created", "orders"),
        ("blocked", "legacy"),
    ]
    assert [r.levelname for r in caplog.records if r.name == "nightly_snapshots"] == [
        "INFO",
        "ERROR",
    ]


def test_lambda_selects_clusters_by_tag(clusters: Any, lambda_module: ModuleType) -> None:
    """{"tag": ...} snapshots the tagged clusters only; scratch is left alone."""
    days = UtcDays()
    report = lambda_module.handler({"tag": {"key": "backup", "value": "nightly"}}, None)
    assert report["created"] == days.expect(lambda day: [f"orders-daily-{day}"], report["created"])
    assert [b["cluster"] for b in report["blocked"]] == ["legacy"]


def test_lambda_audit_file_is_written_where_the_environment_says(
    clusters: Any, lambda_module: ModuleType, tmp_path: Path
) -> None:
    """$RDS_GUARD_AUDIT_PATH wins over the policy's path; the module's client is guarded."""
    assert lambda_module.GUARD.audit.path == tmp_path / "audit.jsonl"
    lambda_module.handler({"clusters": ["orders"]}, None)
    events = [json.loads(line)["event"] for line in (tmp_path / "audit.jsonl").read_text().split()]
    assert events == ["requested", "created"]
    assert not (EXAMPLES / "rds-guard-audit.jsonl").exists()


@pytest.mark.parametrize("policy", ["broken", "named-and-missing", "nowhere"])
def test_lambda_cold_start_fails_closed_without_its_policy(
    moto_inprocess: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    """docs/integrations.md: a missing or broken policy fails the cold start (the function
    never runs unguarded): a TOML error, $RDS_GUARD_POLICY naming no file, and no policy at
    all (no variable, no ./rds_guard.toml) each raise `PolicyError` at import."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    if policy == "broken":
        broken = write_policy(tmp_path, "version = 1\n[naming\n")
        monkeypatch.setenv("RDS_GUARD_POLICY", str(broken))
    elif policy == "named-and-missing":
        monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path / "missing.toml"))
    with pytest.raises(rds_guard.PolicyError):
        cold_start(monkeypatch)
    assert not (tmp_path / "audit.jsonl").exists()


@pytest.mark.parametrize("given", [None, ""], ids=["unset", "empty"])
def test_lambda_audit_file_defaults_to_tmp(
    moto_inprocess: None, monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    """docs/integrations.md: without $RDS_GUARD_AUDIT_PATH the file is
    /tmp/rds-guard-audit.jsonl (the only writable place), not the policy's own path; an
    empty one counts as unset, as the README says of install's."""
    monkeypatch.setenv("RDS_GUARD_POLICY", str(EXAMPLES / "rds_guard.toml"))
    if given is None:
        monkeypatch.delenv("RDS_GUARD_AUDIT_PATH", raising=False)
    else:
        monkeypatch.setenv("RDS_GUARD_AUDIT_PATH", given)
    module = cold_start(monkeypatch)
    try:
        assert module.GUARD.audit.path == Path("/tmp/rds-guard-audit.jsonl")
    finally:
        module.GUARD.uninstall()


def test_lambda_reports_a_failed_call(clusters: Any, lambda_module: ModuleType) -> None:
    """A second run on the same day: the service refuses the existing name, the report says so."""
    assert lambda_module.handler({"clusters": ["orders"]}, None)["created"]
    report = lambda_module.handler({"clusters": ["orders"]}, None)
    assert report["created"] == []
    assert report["failed"] == [
        {"cluster": "orders", "error": "DBClusterSnapshotAlreadyExistsFault"}
    ]


def test_my_backups_example_passes_with_the_example_policy(pytester: pytest.Pytester) -> None:
    """examples/test_my_backups.py, run as its docstring says: both of its tests pass."""
    pytester.makepyfile(test_my_backups=(EXAMPLES / "test_my_backups.py").read_text())
    write_policy(pytester.path, EXAMPLE)
    result = pytester.runpytest("--rds-guard-policy", "rds_guard.toml", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_daily_backup_is_compliant_and_keeps_the_cluster_tags PASSED*",
            "*test_weekly_backup_breaks_the_naming_policy PASSED*",
        ]
    )


def test_my_backups_example_fails_without_the_guard(pytester: pytest.Pytester) -> None:
    """The same file under a lenient policy: the naming test fails, so it really checks."""
    pytester.makepyfile(test_my_backups=(EXAMPLES / "test_my_backups.py").read_text())
    write_policy(pytester.path, "version = 1\n", name="lenient.toml")
    result = pytester.runpytest("--rds-guard-policy", "lenient.toml")
    result.assert_outcomes(failed=2)


# --- examples/rds_guard.toml: copies ----------------------------------------------------------

COPIES = [
    (
        "CopyDBClusterSnapshot",
        "SourceDBClusterSnapshotIdentifier",
        "TargetDBClusterSnapshotIdentifier",
    ),
    ("CopyDBSnapshot", "SourceDBSnapshotIdentifier", "TargetDBSnapshotIdentifier"),
]
COPIED = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(("operation", "source_key", "target_key"), COPIES)
@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("rds:orders-2026-11-29-03-10", "orders-2026-11-29-03-10-copy"),
        ("rds:orders-2026-11-29-03-10", "orders-2026-11-29-03-10-dr"),
        ("orders-manual-20261129", "orders-manual-20261129-copy"),
        ("orders-daily-20261129", "orders-daily-20261129-dr"),
    ],
)
def test_the_example_policy_allows_a_copy_named_after_what_it_copies(
    operation: str, source_key: str, target_key: str, source: str, target: str
) -> None:
    """A copy's {source} is the snapshot it copies: a copy of an automated snapshot or of a
    manual one, named after it, is allowed (the top-level pattern would block every one)."""
    import rds_guard

    policy = rds_guard.load_policy(EXAMPLES / "rds_guard.toml")
    params = {source_key: source, target_key: target, "CopyTags": True}
    decision = rds_guard.evaluate(
        policy, operation, params, source_tags={"team": "orders", "env": "prod"}, now=COPIED
    )
    assert decision.allowed, decision.violations
    assert decision.tags["team"] == "orders"


@pytest.mark.parametrize(("operation", "source_key", "target_key"), COPIES)
def test_the_example_policy_names_a_copy_the_call_leaves_unnamed(
    operation: str, source_key: str, target_key: str
) -> None:
    """No target given: the copy of rds:orders-2026-11-29-03-10 is orders-2026-11-29-03-10-copy."""
    import rds_guard

    policy = rds_guard.load_policy(EXAMPLES / "rds_guard.toml")
    decision = rds_guard.evaluate(
        policy,
        operation,
        {source_key: "rds:orders-2026-11-29-03-10", "CopyTags": True},
        source_tags={"team": "orders", "env": "prod"},
        now=COPIED,
    )
    assert decision.allowed, decision.violations
    assert decision.params[target_key] == "orders-2026-11-29-03-10-copy"


@pytest.mark.parametrize(("operation", "source_key", "target_key"), COPIES)
def test_the_example_policy_still_blocks_a_copy_with_a_name_of_its_own(
    operation: str, source_key: str, target_key: str
) -> None:
    """A copy named like a new snapshot (orders-manual-20261130) breaks the copy pattern."""
    import rds_guard

    policy = rds_guard.load_policy(EXAMPLES / "rds_guard.toml")
    params = {source_key: "orders-manual-20261129", target_key: "orders-manual-20261130"}
    decision = rds_guard.evaluate(policy, operation, {**params, "CopyTags": True}, now=COPIED)
    assert [v.rule for v in decision.violations if v.rule.startswith("identifier")] == [
        "identifier.pattern"
    ]


HOSTS = ("host-a", "host-b")
FLEET_SCENE = "7. The fleet ledger: two hosts, one table, a signed checkpoint"


@dataclass(frozen=True)
class DemoRun:
    """One run of examples/demo.py: its exit status, what it printed, and its work folder."""

    code: int
    out: str
    workdir: Path
    days: UtcDays


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """examples/demo.py, run as `make demo` runs it, once for the tests that read it; its
    work folder under a temporary directory of its own."""
    folder = tmp_path_factory.mktemp("demo")
    spec = importlib.util.spec_from_file_location("demo", EXAMPLES / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    days = UtcDays()
    spec.loader.exec_module(demo)
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(tempfile, "tempdir", str(folder))
        code = demo.main()
    (workdir,) = folder.glob("rds-guard-demo-*")
    return DemoRun(code, printed.getvalue(), workdir, days)


def test_the_demo_s_compliant_snapshot_has_the_policy_s_tags_beside_the_call_s(
    demo_run: DemoRun,
) -> None:
    """Scene 1: the snapshot the call named with two tags holds them and the example
    policy's three (read back from the service), its name and date those of the day."""
    scene = demo_run.out.split("== 1. ")[1].split("== 2.")[0].splitlines()
    (row,) = [line for line in scene if line.startswith("orders-daily-")]
    name, sent, has = re.split(r"\s{2,}", row.strip())
    assert name == demo_run.days.expect(lambda today: f"orders-daily-{today}", name)
    tags = has.split(", ")
    assert len(tags) == 5, tags
    # stamped at the call, which may fall on the day after the name's (the demo's import)
    created = demo_run.days.expect(lambda d: f"created={d}", tags[1], "%Y-%m-%d")
    assert sent == "team=orders, env=prod"
    assert tags == [
        "backup-policy=standard-35d",
        created,
        "env=prod",
        "managed-by=rds-guard",
        "team=orders",
    ]


def test_the_demo_runs_and_its_cleanup_job_deletes_nothing(demo_run: DemoRun) -> None:
    """examples/demo.py, as `make demo` runs it, exits 0; its cleanup job (scene 5) is stopped
    twice — a snapshot made a minute ago, one on legal hold — and nothing was sent."""
    assert demo_run.code == 0
    out = demo_run.out
    scene = out.split("== 5. A cleanup job")[1].split("== 6.")[0].splitlines()
    stopped = [line.split()[:2] for line in scene if " deletion." in line]
    assert len(stopped) == 3, stopped
    # the daily name is made when the demo is imported, the manual one at its scene's call
    daily = demo_run.days.expect(lambda day: f"orders-daily-{day}", stopped[0][0])
    manual = demo_run.days.expect(lambda day: f"orders-manual-{day}", stopped[1][0])
    assert stopped == [
        [daily, "deletion.too_young"],
        [manual, "deletion.too_young"],
        [manual, "deletion.hold"],
    ]
    assert scene[-2].startswith("cluster snapshots before the job: 6, after: 6")


def test_the_demo_fleet_ledger_signs_both_hosts_and_finds_the_tampering(
    demo_run: DemoRun,
) -> None:
    """Scene 7: both hosts' records reached the table (each stream acknowledged through its
    last record, nothing left to ship); checkpoint 1 is signed with the KMS key and holds each
    stream at the head its host's log stands at; `verify --ledger` then finds the edited
    record and the deleted one in host-a's stream, nothing in host-b's, and exits 1."""
    from rds_guard import audit

    logs = {host: demo_run.workdir / host / "rds-guard-audit.jsonl" for host in HOSTS}
    streams: dict[str, str] = {}
    heads: dict[str, audit.Checkpoint] = {}
    for host, log in logs.items():
        records = audit.read_records(log)
        made = [(r["event"], r["snapshot"]) for r in records]
        assert made == demo_run.days.expect(
            lambda day, host=host: [
                ("requested", f"{host}-daily-{day}"),
                ("created", f"{host}-daily-{day}"),
            ],
            made,
        )
        first = log.read_bytes().split(b"\n", 1)[0]
        streams[host] = f"123456789012/us-east-1/{audit.stream_id(first)}"
        heads[host] = audit.head(log)
    a, b = streams["host-a"], streams["host-b"]
    scene = demo_run.out.split(f"== {FLEET_SCENE} ==\n", 1)[1].splitlines()
    assert scene[:3] == [
        "each guard's thread shipped its records as they were written; nothing is left:",
        f"{logs['host-a']} -> {a}: 0 shipped; acknowledged through seq 2, up to date",
        f"{logs['host-b']} -> {b}: 0 shipped; acknowledged through seq 2, up to date",
    ]
    assert re.fullmatch(
        r"checkpoint 1: s3://rds-guard-demo-checkpoints/fleet/checkpoint-0000000001\.json,"
        r" 2 stream\(s\), signed with arn:aws:kms:us-east-1:123456789012:key/[0-9a-f-]{36}",
        scene[3],
    ), scene[3]
    assert sorted(scene[4:6]) == sorted(
        f"  {streams[host]}: seq {heads[host].seq}, head {heads[host].digest}" for host in HOSTS
    )
    assert [heads[host].seq for host in HOSTS] == [2, 2]
    assert scene[6:] == [
        f"(someone with write access to the table edits {a} seq 1, deletes seq 2)",
        f"line 1: edited: {a}: its own SHA-256 digest does not match its bytes (edited or damaged)",
        f"line 2: checkpoint: {a}: ends at seq 1, and checkpoint 1 saw it at seq 2:"
        " records were deleted since",
        "verify --ledger exits 1: the edit and the deletion are found",
    ]


def test_the_demo_prints_scenes_2_and_4_as_the_readme_shows_them(demo_run: DemoRun) -> None:
    """The README quotes scenes 2 and 4 of `make demo` (the tags a plain client loses, a
    call stopped): what the demo prints, its day aside."""
    readme = (EXAMPLES.parent / "README.md").read_text()
    quoted = readme.split("Scenes 2 and 4 print:\n\n```text\n", 1)[1].split("```", 1)[0]

    def scene(text: str, number: int) -> str:
        start = text.index(f"== {number}. ")
        end = text.find("\n== ", start)  # the next scene's heading
        body = text[start : end if end >= 0 else len(text)].strip()
        return re.sub(r"created=\d{4}-\d{2}-\d{2}", "created=DAY", body)

    for number in (2, 4):
        assert scene(demo_run.out, number) == scene(quoted, number)

"""Plain-data helpers for the pure-core unit tests (tests/core/): no AWS emulator, no botocore
clients. `run` judges one call (`decide_call` with look-ups of the test's own); `SnapshotOp`
and `SNAPSHOT_OPS` name the create and copy operations a test can be parametrised over
(`each_op`), `each_call` any other operations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from textwrap import dedent
from typing import Any

import pytest

from rds_guard.core import operations
from rds_guard.core.decide import (
    CallFacts,
    Decision,
    Lookups,
    LookupSource,
    SourceTags,
    decide,
)
from rds_guard.core.policy import Policy
from rds_guard.errors import PolicyError, Violation

NOW = datetime(2026, 11, 29, 12, 34, 56, tzinfo=UTC)
ACCOUNT = "123456789012"
CLUSTER_SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:Orders-Manual-1"
DB_SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:orders-manual-1"
CLUSTER_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders"
DB_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-1"


def make_policy(body: str = "", *, source: str = "<string>") -> Policy:
    """A policy from TOML text (dedented), with ``version = 1`` written in front of it."""
    return Policy.from_toml("version = 1\n" + dedent(body), source)


def body_error(body: str) -> PolicyError:
    """The PolicyError that loading a policy body (see `make_policy`) raises."""
    with pytest.raises(PolicyError) as caught:
        make_policy(body)
    return caught.value


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as AWS's ``[{"Key": "k", "Value": "v"}]``."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_dict(tags: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """AWS's ``[{"Key", "Value"}]`` as a dict (asserting no key is given twice); a tag
    without a Value is an empty one, as AWS reads it."""
    result = {tag["Key"]: tag.get("Value", "") for tag in tags}
    assert len(result) == len(tags), f"duplicate keys in {tags}"
    return result


class RecordingReader:
    """Stands in for the guard's Describe calls: answers ``tags`` and counts its calls."""

    def __init__(self, tags: SourceTags = None) -> None:
        self.tags = tags
        self.calls = 0

    def __call__(self) -> SourceTags:
        self.calls += 1
        return self.tags


def decide_call(
    policy: Policy,
    operation: str,
    params: Mapping[str, Any],
    lookups: LookupSource,
    *,
    service: str = "rds",
    region: str | None = "us-east-1",
    environ: Mapping[str, str] | None = None,
    now: datetime = NOW,
) -> Decision:
    """`decide.decide` of one call of ``operation`` on ``service``, in a fixed environment
    (empty by default)."""
    row = operations.find(service, operation)
    assert row is not None, f"{service} {operation} is not guarded"
    facts = CallFacts(service, region, now, {} if environ is None else environ)
    return decide(policy, row, params, facts, lookups)


def run(
    policy: Policy,
    operation: str,
    params: Mapping[str, Any],
    *,
    service: str = "rds",
    source: SourceTags = None,
    region: str | None = "us-east-1",
    environ: Mapping[str, str] | None = None,
    now: datetime = NOW,
) -> tuple[Decision, RecordingReader]:
    """`decide_call` with a recording reader of the source's tags, and that reader."""
    reader = RecordingReader(source)
    lookups = Lookups(source_tags=reader)
    decision = decide_call(
        policy, operation, params, lookups, service=service, region=region, environ=environ, now=now
    )
    return decision, reader


def each_call(cases: Sequence[tuple[str, str, str]]) -> pytest.MarkDecorator:
    """Parametrize a test over ``(service, operation, name)`` cases (``name``: the parameter
    the test fills in), named service-operation."""
    return pytest.mark.parametrize(
        ("service", "operation", "name"), cases, ids=[f"{s}-{o}" for s, o, _ in cases]
    )


def rules_of(decision: Decision) -> list[str]:
    """The rule ids of a decision's violations, in order."""
    return [violation.rule for violation in decision.violations]


def only(decision: Decision, rule: str) -> Violation:
    """The one violation of ``rule`` in the decision (failing when there is none or several)."""
    found = [violation for violation in decision.violations if violation.rule == rule]
    assert len(found) == 1, f"expected one {rule}, got {decision.violations}"
    return found[0]


def sent_tags(decision: Decision) -> dict[str, str] | None:
    """The Tags the final request carries, as a dict; None when it carries none."""
    tags = decision.params.get("Tags")
    return None if tags is None else tag_dict(tags)


# --- the create and copy operations ---------------------------------------------------------


@dataclass(frozen=True)
class SnapshotOp:
    """One create/copy operation on one service, with its parameter names (§5 table)."""

    service: str
    operation: str
    identifier: str
    source: str
    limit: int

    @property
    def is_copy(self) -> bool:
        """Copy* inherits only with CopyTags=True in the request."""
        return self.operation.startswith("Copy")

    def params(self, **extra: Any) -> dict[str, Any]:
        """A valid request: source `orders`, identifier `orders-manual-1` (CopyTags=True for
        a copy, so that the source passes its tags on); ``extra`` adds or replaces."""
        params: dict[str, Any] = {self.source: "orders", self.identifier: "orders-manual-1"}
        if self.is_copy:
            params["CopyTags"] = True
        params.update(extra)
        return params

    def params_without_identifier(self, **extra: Any) -> dict[str, Any]:
        """`params` with no identifier key at all."""
        params = self.params(**extra)
        del params[self.identifier]
        return params


_CLUSTER_CREATE = ("CreateDBClusterSnapshot", "DBClusterSnapshotIdentifier", "DBClusterIdentifier")
_CLUSTER_COPY = (
    "CopyDBClusterSnapshot",
    "TargetDBClusterSnapshotIdentifier",
    "SourceDBClusterSnapshotIdentifier",
)
SNAPSHOT_OPS = [
    *(SnapshotOp(service, *_CLUSTER_CREATE, 63) for service in ("rds", "docdb", "neptune")),
    *(SnapshotOp(service, *_CLUSTER_COPY, 63) for service in ("rds", "docdb", "neptune")),
    SnapshotOp("rds", "CreateDBSnapshot", "DBSnapshotIdentifier", "DBInstanceIdentifier", 255),
    SnapshotOp(
        "rds", "CopyDBSnapshot", "TargetDBSnapshotIdentifier", "SourceDBSnapshotIdentifier", 255
    ),
]
CREATE = SNAPSHOT_OPS[0]  # rds CreateDBClusterSnapshot
CLUSTER_COPY = SNAPSHOT_OPS[3]  # rds CopyDBClusterSnapshot
COPY_OPS = [op for op in SNAPSHOT_OPS if op.is_copy and op.service == "rds"]


def each_op(ops: list[SnapshotOp] = SNAPSHOT_OPS) -> pytest.MarkDecorator:
    """Parametrize a test over create/copy operations, named service-operation."""
    return pytest.mark.parametrize("op", ops, ids=[f"{o.service}-{o.operation}" for o in ops])


def judge(
    op: SnapshotOp, policy: Policy, params: Mapping[str, Any], **kwargs: Any
) -> tuple[Decision, RecordingReader]:
    """`run` for one SnapshotOp."""
    return run(policy, op.operation, params, service=op.service, **kwargs)


DEFAULT_TAG = make_policy('[tags.defaults]\nmanaged-by = "rds-guard"\n')
"""One default tag and nothing else."""
INHERITING_CHOICES = ("true", '"always"')
"""The ``inherit`` values under which a source passes its tags on."""

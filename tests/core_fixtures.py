"""Plain-data helpers for the pure-core unit tests: no AWS emulator, no botocore clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from textwrap import dedent
from typing import Any

from rds_guard.core import operations
from rds_guard.core.decide import CallFacts, Decision, SourceTags, decide
from rds_guard.core.policy import Policy
from rds_guard.errors import Violation

NOW = datetime(2026, 11, 29, 12, 34, 56, tzinfo=UTC)
ACCOUNT = "123456789012"
CLUSTER_SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:Orders-Manual-1"
DB_SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:orders-manual-1"
CLUSTER_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders"
DB_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-1"


def make_policy(body: str = "", *, source: str = "<string>") -> Policy:
    """A policy from TOML text (dedented), with ``version = 1`` written in front of it."""
    return Policy.from_toml("version = 1\n" + dedent(body), source)


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as AWS's ``[{"Key": "k", "Value": "v"}]``."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_dict(tags: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """AWS's ``[{"Key", "Value"}]`` as a dict (asserting no key is given twice)."""
    result = {tag["Key"]: tag["Value"] for tag in tags}
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
    """`decide.decide` with a recording source reader and a fixed environment (empty by default)."""
    row = operations.find(service, operation)
    assert row is not None, f"{service} {operation} is not guarded"
    reader = RecordingReader(source)
    facts = CallFacts(service, region, now, {} if environ is None else environ)
    return decide(policy, row, params, facts, reader), reader


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

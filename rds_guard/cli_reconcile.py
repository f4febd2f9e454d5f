"""``rds-guard reconcile``: the read-only client it lists with, and a `Report` -> text.

The client is botocore's own (``botocore.session.Session(profile=...)``): boto3 is not needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import botocore.session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from .reconcile import Report, ServiceSnapshot, belongs_to

__all__ = ["aws_error_text", "make_client", "report_lines"]

_TITLES = {
    "pending": "calls with no outcome in the log; EXISTS: is the snapshot there now",
    "vanished": "created by a guarded call, gone, with no deleted record",
    "unrecorded": "manual snapshots no guarded call made",
    "noncompliant": "recorded snapshots whose tags now break the policy",
}
_PENDING_ROW = "    {:<32}  {:<6}  {}"


def make_client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
) -> Any:
    """A botocore client of ``service``; ValueError for an endpoint URL botocore refuses."""
    session = botocore.session.Session(profile=profile)
    return session.create_client(service, region_name=region, endpoint_url=endpoint_url)


def aws_error_text(error: BotoCoreError | ClientError) -> str:
    """One line saying what went wrong talking to AWS, and what to do about it."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,"
            " or name a profile with --profile"
        )
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_DEFAULT_REGION"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach the service: {error}"
    return str(error)


def report_lines(
    report: Report,
    *,
    service: str,
    region: str | None,
    snapshots: Sequence[ServiceSnapshot],
    judged: bool,
) -> list[str]:
    """The human report: one section per list, then a summary line."""
    count = sum(1 for snapshot in snapshots if belongs_to(snapshot.engine, service))
    listed = f"{count} snapshot" + ("" if count == 1 else "s")
    lines = [f"{service} in {region or 'the default region'}: {listed} listed"]
    lines += _section("pending", len(report.pending))
    if report.pending:
        lines.append(_PENDING_ROW.format("CALL", "EXISTS", "SNAPSHOT"))
        lines += [
            _PENDING_ROW.format(p.call, "yes" if p.exists else "no", p.snapshot or "-")
            for p in report.pending
        ]
    lines += _section("vanished", len(report.vanished))
    lines += [f"    {name}" for name in report.vanished]
    lines += _section("unrecorded", len(report.unrecorded))
    lines += [f"    {name}" for name in report.unrecorded]
    if judged:
        lines += _section("noncompliant", len(report.noncompliant))
        for item in report.noncompliant:
            lines.append(f"    {item.snapshot}")
            lines += [f"      {violation}" for violation in item.violations]
    else:
        lines.append("noncompliant: not judged (no policy covering this service)")
    lines.append(_summary(report, service))
    return lines


def _section(name: str, count: int) -> list[str]:
    return [f"{name}: {count or 'none'}  ({_TITLES[name]})"]


def _summary(report: Report, service: str) -> str:
    if report.clean:
        return f"ok: the log and {service} agree"
    counts = (
        ("pending", len(report.pending)),
        ("vanished", len(report.vanished)),
        ("unrecorded", len(report.unrecorded)),
        ("noncompliant", len(report.noncompliant)),
    )
    return "found: " + ", ".join(f"{n} {name}" for name, n in counts if n)

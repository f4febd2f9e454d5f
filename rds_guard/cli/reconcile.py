"""``rds-guard reconcile``: hold the audit log against the snapshots the service lists.

Its arguments, its run function, the read-only client it lists with (botocore's own,
``botocore.session.Session(profile=...)``: boto3 is not needed), the progress it shows on a
terminal while it reads, and its report as text. The listing is `rds_guard.aws.list_snapshots`
(the one home of every read). The reconcile machinery and botocore's session are imported
only when this command runs. Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rds_guard import audit
from rds_guard.core.operations import SNAPSHOT_LISTINGS, arn_account

from .common import (
    PROG,
    Progress,
    UsageError,
    add_policy,
    add_quiet,
    add_service,
    endpoint_url,
    existing_file,
    iso_time,
    policy_if_any,
    print_json,
    print_lines,
    printable,
    region_name,
)

if TYPE_CHECKING:
    from rds_guard.aws import ServiceSnapshot
    from rds_guard.reconcile import Report

HELP = (
    "Hold the audit log against the snapshots the service lists.\n"
    "\n"
    "Lists the service's snapshots with read-only Describe calls (every page; the rds API\n"
    "lists DocumentDB and Neptune snapshots too: they are told apart by engine) and reports\n"
    "  pending       calls with no outcome in the log, and whether the snapshot exists now\n"
    "  vanished      snapshots a guarded call created, gone, with no deleted record\n"
    "  unrecorded    manual snapshots no guarded call made (--since leaves older ones out)\n"
    "  noncompliant  recorded snapshots whose tags now break the policy\n"
    "  expired       presigned URLs that expired unused (their snapshot was never made)\n"
    "  breached      snapshots deleted in breach of [deletion] (sent in warn mode)\n"
    "  unread        recorded snapshots whose tags could not be read (not judged)\n"
    "Exit 1 when any list is non-empty. Credentials and region as for the AWS CLI. On a\n"
    "terminal, stderr shows how far the reading has got (--quiet: not even there)."
)
EXAMPLE = (
    "rds-guard reconcile --audit rds-guard-audit.jsonl --policy rds_guard.toml "
    "--region eu-west-1 --since 2026-11-01T00:00:00Z"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--audit PATH [PATH ...] [--policy P] [--service S] [--region R] [--since TIME] ...``."""
    parser.add_argument(
        "--audit",
        required=True,
        action="extend",
        nargs="+",
        metavar="PATH",
        help="the audit log: its live file, read with the archives `audit rotate` left beside"
        " it; or a rotated series' files, oldest first",
    )
    add_policy(parser, "; none found: tags are not judged")
    add_service(parser)
    parser.add_argument(
        "--region", type=region_name, metavar="R", help="default: the configured region"
    )
    parser.add_argument(
        "--endpoint-url", type=endpoint_url, metavar="URL", help="talk to this endpoint instead"
    )
    parser.add_argument("--profile", metavar="NAME", help="the AWS profile to use")
    parser.add_argument(
        "--since",
        type=iso_time,
        metavar="TIME",
        help="leave snapshots created before TIME (ISO 8601; no zone: UTC) out of unrecorded",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 1 when any list is non-empty."""
    from botocore.parsers import ResponseParserError

    from rds_guard.audit.verify import distinct_files
    from rds_guard.aws import OddAnswer, list_snapshots
    from rds_guard.reconcile import reconcile

    paths = [existing_file(path) for path in args.audit]
    by_hand = len(paths) > 1
    if not by_hand:
        paths = _series(paths[0])
    distinct_files(paths)  # a file given twice, by two names, would count its calls twice
    policy = policy_if_any(args.policy)
    try:
        client = make_client(
            args.service, region=args.region, endpoint_url=args.endpoint_url, profile=args.profile
        )
    except ValueError as exc:  # botocore's "Invalid endpoint: ..."
        raise UsageError(str(exc)) from None
    region = client.meta.region_name
    with Progress(quiet=args.quiet) as progress:
        if progress.enabled:
            watch_listing(client, progress)
        try:
            snapshots = list_snapshots(client, args.service)
        except (OddAnswer, ResponseParserError) as exc:
            raise UsageError(f"the service's listing cannot be read: {exc}") from None
        except KeyError as exc:  # botocore's parser, of an answer without the result's element
            raise UsageError(f"the service's listing cannot be read: no {exc} in it") from None
        accounts: set[str] = set()
        records = _accounts_named(counted(_series_records(paths, by_hand), progress), accounts)
        report = reconcile(
            records, snapshots, policy, service=args.service, since=args.since, region=region
        )
    _note_other_accounts(accounts, snapshots)
    judged = policy is not None
    if args.json:
        if not judged:
            print(f"{PROG}: note: no policy found: tags not judged", file=sys.stderr)
        print_json(report.as_dict())
    else:
        print_lines(
            report_lines(
                report, service=args.service, region=region, snapshots=snapshots, judged=judged
            )
        )
    return 0 if report.clean else 1


def _series_records(paths: list[Path], by_hand: bool) -> Iterator[dict[str, Any]]:
    """The records of ``paths`` in the order given; a note on stderr where a file does not
    go on from the one before it: its first seq not past the last one read (files given out
    of order are read so, and a delete read before its create is judged wrongly), or past it
    by more than one (a file of the series left out); and, for files given ``by_hand`` (not
    a series found from one), where the oldest continues one not given (`_series` notes
    that of a series it found)."""
    last: tuple[Path, int] | None = None
    highest: tuple[Path, int] | None = None  # the highest seq read so far, and its file
    for path in paths:
        first = True
        for record in audit.read_records(path):
            seq = cast(int, record["seq"])  # read_records checked it
            if first and last is None and by_hand:
                _note_unread_start(path, record, given=paths)
            if first and last is not None and seq <= last[1]:
                note = (
                    f"{PROG}: note: {path} starts at seq {seq}, not after {last[0]}'s last"
                    f" record (seq {last[1]}): are the files given oldest first?"
                )
                print(printable(note), file=sys.stderr)
            elif first and highest is not None and seq > highest[1] + 1:
                note = (
                    f"{PROG}: note: {path} starts at seq {seq}, and no file given holds seq"
                    f" {highest[1] + 1} (the highest read is {highest[1]}, in {highest[0]}):"
                    " the records between are not read (is a file of the series not given?),"
                    " so snapshots they recorded may be listed as unrecorded, and those they"
                    " deleted as vanished"
                )
                print(printable(note), file=sys.stderr)
            first = False
            last = (path, seq)
            if highest is None or seq > highest[1]:
                highest = last
            yield record


def _accounts_named(records: Iterable[dict[str, Any]], into: set[str]) -> Iterator[dict[str, Any]]:
    """``records`` as they come, the accounts their ``arn`` fields name gathered ``into``."""
    for record in records:
        arn = record.get("arn")
        account = arn_account(arn) if isinstance(arn, str) else None
        if account is not None:
            into.add(account)
        yield record


def _note_other_accounts(accounts: set[str], snapshots: Iterable[Any]) -> None:
    """A note on stderr when the log names accounts the listing is not of: one log is
    reconciled against one account, and a log of several hides drift as well as it shows
    it (docs/cli.md)."""
    listed = {
        account
        for snap in snapshots
        if isinstance(snap.arn, str) and (account := arn_account(snap.arn))
    }
    others = sorted(accounts - listed)
    if listed and others:
        note = (
            f"{PROG}: note: the log records calls of account(s) {', '.join(others)}, the"
            f" listing is of {', '.join(sorted(listed))}: their snapshots are held against"
            " another account's (give each account its own [audit] path)"
        )
        print(printable(note), file=sys.stderr)


class _Reading:
    """How far the listing has got: pages read, snapshots listed, tag sets read."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.pages = self.snapshots = self.tags = 0

    def page(self, *, parsed: Mapping[str, Any], result_list: str, **_: Any) -> None:
        self.pages += 1
        self.snapshots += len(parsed.get(result_list) or ())
        self.show()

    def tag_set(self, **_: Any) -> None:
        self.tags += 1
        self.show()

    def show(self) -> None:
        pages = f"{self.pages} page" + ("" if self.pages == 1 else "s")
        tags = f", tags of {self.tags} read" if self.tags else ""
        self.progress.show(f"listing snapshots: {pages} read, {self.snapshots} so far{tags}")


def watch_listing(client: Any, progress: Progress) -> None:
    """Show the listing's progress through the client's own after-call events: one per page
    of a listing, one per tag set read."""
    from rds_guard.guard.hooks import service_of  # building the parser imports no guard

    reading = _Reading(progress)
    service_id = service_of(client)
    for listing in SNAPSHOT_LISTINGS:
        client.meta.events.register(
            f"after-call.{service_id}.{listing.operation}",
            functools.partial(reading.page, result_list=listing.result_list),
        )
    client.meta.events.register(f"after-call.{service_id}.ListTagsForResource", reading.tag_set)


T = TypeVar("T")


def counted(records: Iterable[T], progress: Progress) -> Iterator[T]:
    """The records, one by one, saying how many have been read."""
    for number, record in enumerate(records, 1):
        progress.show(f"reading the audit log: {number} records")
        yield record


_TITLES = {
    "pending": "calls with no outcome in the log; EXISTS: is the snapshot there now",
    "vanished": "created by a guarded call, gone, with no deleted record",
    "unrecorded": "manual snapshots no guarded call made",
    "noncompliant": "recorded snapshots whose tags now break the policy",
    "expired": "presigned URLs that expired unused: their snapshot was never made",
    "breached": "snapshots deleted in breach of [deletion], sent in warn mode",
    "unread": "recorded snapshots whose tags could not be read, so not judged",
}
_PENDING_ROW = "    {:<32}  {:<6}  {}"


CLIENT_SETTINGS = {"connect_timeout": 5, "read_timeout": 15}
"""Reconcile's clients' waits, in seconds: a page of a listing answers in well under one; an
endpoint that never answers is an error within a minute (three attempts), not three."""


def make_client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
) -> Any:
    """A botocore client of ``service``, its waits bounded (`CLIENT_SETTINGS`); ValueError
    for an endpoint URL botocore refuses."""
    import botocore.session

    from rds_guard.clients import bounded_config, made_client

    session = botocore.session.Session(profile=profile)
    return made_client(
        session,
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=bounded_config(session, **CLIENT_SETTINGS),
    )


def report_lines(
    report: Report,
    *,
    service: str,
    region: str | None,
    snapshots: Sequence[ServiceSnapshot],
    judged: bool,
) -> list[str]:
    """The human report: one section per list, then a summary line."""
    from rds_guard.reconcile import belongs_to

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
    types = report.unrecorded_types or (None,) * len(report.unrecorded)  # a Report made bare
    lines += [
        f"    {name}{_OF_TYPE.get(kind or '', '')}"
        for name, kind in zip(report.unrecorded, types, strict=True)
    ]
    if judged:
        lines += _section("noncompliant", len(report.noncompliant))
        for item in report.noncompliant:
            lines.append(f"    {item.snapshot}")
            lines += [f"      {violation}" for violation in item.violations]
    else:
        lines.append("noncompliant: not judged (no policy found: pass --policy P)")
    lines += _section("expired", len(report.expired))
    lines += [f"    {name}" for name in report.expired]
    lines += _section("breached", len(report.breached))
    lines += [f"    {name}" for name in report.breached]
    if judged:
        lines += _section("unread", len(report.unread))
        lines += [f"    {item.snapshot}: {item.reason}" for item in report.unread]
    lines.append(_summary(report, service))
    return lines


_OF_TYPE = {"snapshot": "  (DB snapshot)", "cluster-snapshot": "  (DB cluster snapshot)"}
"""What an unrecorded snapshot is, by its ARN's resource type: a DB snapshot and a DB cluster
snapshot may share a name, and only one of the two may be unrecorded."""


def _section(name: str, count: int) -> list[str]:
    return [f"{name}: {count or 'none'}  ({_TITLES[name]})"]


def _summary(report: Report, service: str) -> str:
    if report.clean:
        return f"ok: the log and {service} agree"
    counts = {name: len(getattr(report, name)) for name in _TITLES}
    return "found: " + ", ".join(f"{n} {name}" for name, n in counts.items() if n)


def _among(path: Path, paths: Iterable[Path]) -> bool:
    """Whether the file at ``path`` is one of ``paths`` (by any name)."""
    for other in paths:
        try:
            if os.path.samefile(path, other):
                return True
        except OSError:
            continue
    return False


def _series(path: Path) -> list[Path]:
    """The files of the rotated series ``path`` ends, oldest first, as far back as the
    archives `audit rotate` left are there (each one's `rotated` record names the one
    before); just ``path`` while it holds no record. When the oldest file found continues
    another, a note on stderr says which and why it is not read; one that starts with a
    line that is no record is read (and refused there)."""
    from rds_guard.audit.ledger.series import Series
    from rds_guard.audit.read import continues

    files = Series(path).files()
    if files:
        first = audit.parse_record(files[0].first_line)
        source = None if first is None else continues(first)
        archive = None if source is None else files[0].path.with_name(source)
        if archive is not None and Series(archive).starts_with_junk():
            # read, so that its first line is refused as a line that is no record, as when
            # the files are given by hand: reconcile answers for every record or for none
            return [archive, *(file.path for file in files)]
        if first is not None:
            _note_unread_start(files[0].path, first)
    return [file.path for file in files] or [path]


def _note_unread_start(
    path: Path, record: dict[str, Any], given: Iterable[Path] | None = None
) -> None:
    """A note on stderr when ``path``'s first record continues a file that is not read: the
    snapshots its records made would otherwise pass for snapshots made behind the guard's
    back. ``given``: the files given by hand (None: the series as far back as it was
    found, from one file), of which one that is there was not."""
    from rds_guard.audit.read import continues

    if record.get("event") != "rotated":
        return
    source = continues(record)
    if source is None:
        named = json.dumps(record.get("rotated_from"))
        why = "which names no file beside it"
    else:
        named = source
        try:
            exists = path.with_name(source).exists()
        except OSError:  # a name the file system cannot hold (forged): no such file
            exists = False
        why = "which does not hold the records before it" if exists else "which is not there"
        if exists and given is not None:
            if _among(path.with_name(source), given):  # given out of order: noted as such
                return
            why = "which is not given"
    note = (
        f"{PROG}: note: {path}: continues {named}, {why}: records before seq {record['seq']}"
        " are not read, so snapshots they recorded may be listed as unrecorded, and one of"
        " theirs that vanished is not seen (give the series' files, oldest first)"
    )
    print(printable(note), file=sys.stderr)

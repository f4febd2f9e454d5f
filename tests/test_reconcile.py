"""``rds-guard reconcile``: the pure `reconcile`, the paginated listing, and the
real console script against the moto server with audit logs written by the real guard."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import botocore.signers
import pytest
from audit_helpers import forge_rotated_from, lines_of, make_log, write_lines
from aws import guarded_client, guarded_session, make_cluster, make_instance
from botocore.config import Config
from botocore.stub import Stubber
from cli_helpers import (
    Run,
    Terminal,
    assert_one_error_line,
    run_main,
    run_script,
    script_env,
    services_warning,
)
from policies import RECONCILED, write_policy
from servers import MotoServer

import rds_guard
from rds_guard import audit
from rds_guard.aws import list_snapshots
from rds_guard.cli import reconcile as cli_reconcile
from rds_guard.core import operations
from rds_guard.core.calls import Unreadable
from rds_guard.reconcile import ServiceSnapshot, reconcile, tag_violations

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TEAM_ENV = [{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}]
CLUSTER_TAGS = {"team": "payments", "env": "prod"}
GOOD_TAGS = {"team": "payments", "env": "prod", "backup-policy": "standard-35d"}


@pytest.fixture
def policy() -> rds_guard.Policy:
    return rds_guard.Policy.from_toml(RECONCILED)


# --- the pure reconcile: plain dicts stand for records --------------------------------------


def record(
    event: str,
    call: str,
    snapshot: str | None,
    operation: str = "CreateDBClusterSnapshot",
    service: str = "rds",
    region: str = "us-east-1",
) -> dict[str, Any]:
    return {
        "event": event,
        "call": call,
        "service": service,
        "operation": operation,
        "region": region,
        "snapshot": snapshot,
    }


def made(call: str, snapshot: str, **kw: Any) -> list[dict[str, Any]]:
    """A guarded create: requested, then created."""
    return [record("requested", call, snapshot, **kw), record("created", call, snapshot, **kw)]


def snap(
    name: str,
    *,
    engine: str = "aurora-postgresql",
    kind: str = "manual",
    created: datetime = NOW,
    tags: dict[str, str] | None = None,
) -> ServiceSnapshot:
    return ServiceSnapshot(
        name, f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{name}", engine, kind,
        created, dict(GOOD_TAGS) if tags is None else tags,
    )  # fmt: skip


def test_pending_calls_are_resolved_by_looking_the_snapshot_up() -> None:
    records = [
        record("requested", "c1", "a-manual-1"),  # no outcome at all (a crash)
        record("requested", "c2", "b-manual-1"),
        record("unknown", "c2", "b-manual-1"),  # no response
        *made("c3", "c-manual-1"),  # settled
        record("requested", "c4", "d-manual-1"),
        record("failed", "c4", "d-manual-1"),  # settled: nothing made
    ]
    report = reconcile(records, [snap("A-MANUAL-1"), snap("c-manual-1")], None)
    assert report.as_dict()["pending"] == [
        {"call": "c1", "snapshot": "a-manual-1", "exists": True},
        {"call": "c2", "snapshot": "b-manual-1", "exists": False},
    ]
    assert report.vanished == () and report.unrecorded == ()


def test_a_settled_call_stays_settled_whatever_comes_after() -> None:
    """An outcome settles a call for good: an ``unknown`` written after it (a retry's lost
    answer) does not make it pending again."""
    records = [
        *made("c1", "a-manual-1"),
        record("unknown", "c1", "a-manual-1"),
    ]
    assert reconcile(records, [snap("a-manual-1")], None).pending == ()


def test_vanished_needs_a_created_record_and_no_deletion() -> None:
    records = [
        *made("c1", "gone-1"),
        *made("c2", "gone-2"),
        record("requested", "c3", "gone-2", operation="DeleteDBClusterSnapshot"),
        record("deleted", "c3", "gone-2", operation="DeleteDBClusterSnapshot"),
        *made("c4", "gone-3"),
        record("requested", "c5", "gone-3", operation="DeleteDBClusterSnapshot"),
        record("unknown", "c5", "gone-3", operation="DeleteDBClusterSnapshot"),
        *made("c6", "here"),
        record("requested", "c7", "failed-one"),
        record("failed", "c7", "failed-one"),
    ]
    report = reconcile(records, [snap("here")], None)
    assert report.vanished == ("gone-1",)
    # the delete whose outcome is unknown is pending, not vanished
    assert [(p.call, p.snapshot, p.exists) for p in report.pending] == [("c5", "gone-3", False)]


def test_made_again_after_a_delete_can_vanish_again() -> None:
    records = [
        *made("c1", "again"),
        record("deleted", "c2", "again", operation="DeleteDBClusterSnapshot"),
        *made("c3", "again"),
    ]
    assert reconcile(records, [], None).vanished == ("again",)


def test_a_pending_delete_older_than_the_snapshot_made_again_does_not_hide_it() -> None:
    """A delete with no outcome (a crash), a later delete that went, the name made again,
    then that snapshot deleted outside the guard: it has vanished. The first delete, still
    pending, came before the snapshot was made again and cannot account for it (it hid it)."""
    delete = "DeleteDBClusterSnapshot"
    records = [
        *made("c1", "gone-x"),
        record("requested", "d1", "gone-x", operation=delete),
        record("requested", "d2", "gone-x", operation=delete),
        record("deleted", "d2", "gone-x", operation=delete),
        *made("c2", "gone-x"),
    ]
    report = reconcile(records, [], None)
    assert report.vanished == ("gone-x",)
    assert [(p.call, p.exists) for p in report.pending] == [("d1", False)]
    later = [*records, record("requested", "d3", "gone-x", operation=delete)]
    assert reconcile(later, [], None).vanished == ()  # a delete after it may have taken it


def test_unrecorded_is_manual_snapshots_no_guarded_call_made() -> None:
    records = [
        *made("c1", "recorded"),
        record("requested", "c2", "in-flight"),
        record("blocked", "c3", "blocked-then-made"),
        record("requested", "c4", "refused-then-made"),
        record("failed", "c4", "refused-then-made"),
        record("requested", "c5", "tagged-only", operation="AddTagsToResource"),
        record("tagged", "c5", "tagged-only", operation="AddTagsToResource"),
        *made("c6", "final-one", operation="DeleteDBCluster"),
        *made("c7", "old-then-deleted"),
        record("deleted", "c8", "old-then-deleted", operation="DeleteDBClusterSnapshot"),
    ]
    listed = [
        snap(name)
        for name in (
            "recorded", "in-flight", "blocked-then-made", "refused-then-made", "tagged-only",
            "final-one", "old-then-deleted", "made-by-hand",
        )
    ]  # fmt: skip
    listed += [snap("rds:orders-2026-11-29", kind="automated"), snap("backup-1", kind="awsbackup")]
    report = reconcile(records, listed, None)
    assert report.unrecorded == (
        "blocked-then-made",
        "made-by-hand",
        "old-then-deleted",
        "refused-then-made",
        "tagged-only",
    )


def test_since_leaves_older_snapshots_out_of_unrecorded() -> None:
    listed = [
        snap("old", created=NOW - timedelta(days=3)),
        snap("new", created=NOW),
        snap("edge", created=NOW - timedelta(days=1)),
    ]
    since = NOW - timedelta(days=1)
    assert reconcile([], listed, None, since=since).unrecorded == ("edge", "new")
    naive_utc = since.replace(tzinfo=None)
    assert reconcile([], listed, None, since=naive_utc).unrecorded == ("edge", "new")
    assert reconcile([], listed, None).unrecorded == ("edge", "new", "old")
    # a vanished or pending snapshot is reported whatever --since says
    records = [*made("c1", "gone"), record("requested", "c2", "old")]
    report = reconcile(records, listed, None, since=NOW + timedelta(days=1))
    assert (report.vanished, report.unrecorded) == (("gone",), ())
    assert report.pending[0].exists is True


def test_noncompliant_judges_current_tags_of_recorded_snapshots(
    policy: rds_guard.Policy,
) -> None:
    records = [
        *made("c1", "good"),
        *made("c2", "bad-env"),
        *made("c3", "no-team"),
        *made("c4", "forced-changed"),
        *made("c5", "system-tags"),
        *made("c6", "final", operation="DeleteDBCluster"),
        *made("c7", "copy", operation="CopyDBClusterSnapshot"),
        record("requested", "c8", "pending-bad"),
        record("unknown", "c8", "pending-bad"),
    ]
    listed = [
        snap("good"),
        snap("bad-env", tags={**GOOD_TAGS, "env": "qa"}),
        snap("no-team", tags={k: v for k, v in GOOD_TAGS.items() if k != "team"}),
        snap("forced-changed", tags={**GOOD_TAGS, "backup-policy": "none"}),
        snap("system-tags", tags={**GOOD_TAGS, "aws:backup:source-resource": "x"}),
        snap("final", tags={}),  # a final snapshot carries AWS's tags: not judged
        snap("copy", tags={"team": "payments", "env": "prod"}),
        snap("pending-bad", tags={"env": "prod"}),
        snap("unrecorded-bad", tags={}),  # not recorded: unrecorded, not noncompliant
    ]
    report = reconcile(records, listed, policy)
    found = {
        n.snapshot: [(v.rule, v.field, v.value) for v in n.violations] for n in report.noncompliant
    }
    assert found == {
        "bad-env": [("tags.allowed", "Tags.env", "qa")],
        "no-team": [("tags.required", "Tags.team", None)],
        "forced-changed": [("tags.forced", "Tags.backup-policy", "none")],
        "copy": [("tags.forced", "Tags.backup-policy", None)],
        "pending-bad": [
            ("tags.required", "Tags.team", None),
            ("tags.forced", "Tags.backup-policy", None),
        ],
    }
    assert report.unrecorded == ("unrecorded-bad",)
    assert report.as_dict()["noncompliant"][0] == {
        "snapshot": "bad-env",
        "violations": [
            {
                "rule": "tags.allowed",
                "field": "Tags.env",
                "value": "qa",
                "message": "value must be one of: prod, staging, dev",
            }
        ],
    }


def test_tags_that_could_not_be_read_are_reported_not_judged(policy: rds_guard.Policy) -> None:
    """A snapshot a guarded call made whose tags the listing could not read (an odd
    TagList) is `unread`, with the reason, not noncompliant nor left out: the report is not
    clean (exit 1). One not made by a guarded call is unrecorded, as any."""
    odd = Unreadable("the answer lists the tag team twice")
    records = [*made("c1", "odd"), *made("c2", "good")]
    listed = [snap("odd", tags=odd), snap("good"), snap("by-hand", tags=odd)]
    report = reconcile(records, listed, policy)
    assert report.noncompliant == () and report.unrecorded == ("by-hand",)
    assert report.as_dict()["unread"] == [
        {"snapshot": "odd", "reason": "the answer lists the tag team twice"}
    ]
    assert not reconcile(records, listed[:2], policy).clean
    lines = cli_reconcile.report_lines(
        report, service="rds", region="us-east-1", snapshots=listed, judged=True
    )
    assert "    odd: the answer lists the tag team twice" in lines
    assert lines[-1] == "found: 1 unrecorded, 1 unread"
    assert reconcile(records, listed[:2], None).unread == ()  # no policy: nothing judged


def test_noncompliant_needs_a_policy_and_judges_every_service(policy: rds_guard.Policy) -> None:
    records = made("c1", "bad", service="docdb")
    listed = [snap("bad", engine="docdb", tags={})]
    assert reconcile(records, listed, None, service="docdb").noncompliant == ()
    # the policy lists rds and neptune only: docdb is judged all the same (DESIGN §3)
    assert [
        n.snapshot for n in reconcile(records, listed, policy, service="docdb").noncompliant
    ] == ["bad"]
    assert [
        n.snapshot
        for n in reconcile(made("c1", "bad"), [snap("bad", tags={})], policy).noncompliant
    ] == ["bad"]
    unread = ServiceSnapshot("bad", None, "aurora-mysql", "manual", NOW, None)
    assert reconcile(made("c1", "bad"), [unread], policy).noncompliant == ()


def test_tag_violations_ignore_aws_system_tags(policy: rds_guard.Policy) -> None:
    many = {f"k{i}": "v" for i in range(50)}
    system = {f"aws:tag{i}": "v" for i in range(5)}
    tags = {**GOOD_TAGS, **dict(list(many.items())[:47]), **system}
    assert tag_violations(policy, tags) == []
    assert [v.rule for v in tag_violations(policy, {**tags, "one-more": "v"})] == ["tags.aws"]


def test_engine_decides_which_service_a_snapshot_belongs_to() -> None:
    listed = [
        snap("aurora-1"),
        snap("mysql-1", engine="mysql"),
        snap("docs-1", engine="docdb"),
        snap("graph-1", engine="neptune"),
    ]
    assert reconcile([], listed, None).unrecorded == ("aurora-1", "mysql-1")
    assert reconcile([], listed, None, service="docdb").unrecorded == ("docs-1",)
    assert reconcile([], listed, None, service="neptune").unrecorded == ("graph-1",)


def test_one_namespace_across_services() -> None:
    """A neptune snapshot made through the rds client: recorded, and not vanished for rds."""
    records = made("c1", "graph-manual-1")
    listed = [snap("graph-manual-1", engine="neptune")]
    assert reconcile(records, listed, None).clean
    assert reconcile(records, listed, None, service="neptune").clean
    # what makes both clean: the listed snapshot is the one recorded through the rds client
    assert reconcile(records, [], None).vanished == ("graph-manual-1",)
    assert reconcile([], listed, None, service="neptune").unrecorded == ("graph-manual-1",)
    other = made("c2", "docs-manual-1", service="docdb")
    assert reconcile(other, [snap("docs-manual-1", engine="docdb")], None).clean
    # records of another service are not this service's pending calls or vanished snapshots
    assert reconcile([record("requested", "c3", "x", service="docdb")], [], None).clean


def test_a_delete_still_pending_through_another_services_client_is_not_vanished() -> None:
    """Made through the rds client, deleted through the neptune one with no answer yet: the
    delete is pending (under neptune), not a snapshot vanished (under rds)."""
    delete = "DeleteDBClusterSnapshot"
    records = [
        *made("c1", "x"),
        record("requested", "c2", "x", operation=delete, service="neptune"),
        record("unknown", "c2", "x", operation=delete, service="neptune"),
    ]
    assert reconcile(records, [], None).clean
    neptune = reconcile(records, [], None, service="neptune")
    assert [(p.call, p.snapshot, p.exists) for p in neptune.pending] == [("c2", "x", False)]


def db_snap(name: str, **kw: Any) -> ServiceSnapshot:
    """A DB snapshot (an instance's), where `snap` is a DB cluster snapshot."""
    arn = f"arn:aws:rds:us-east-1:123456789012:snapshot:{name}"
    return dataclasses.replace(snap(name, engine="mysql", **kw), arn=arn)


def test_a_final_db_snapshot_made_through_neptune_is_reconciled_as_rds() -> None:
    """A Neptune client deletes a PostgreSQL instance with a final snapshot (the API takes
    it, on the shared endpoint): a DB snapshot, which only rds lists. `--service neptune`
    does not call it vanished; `--service rds` does when it is gone."""
    records = made("c1", "pg1-final", operation="DeleteDBInstance", service="neptune")
    assert reconcile(records, [], None, service="neptune").clean
    assert reconcile(records, [db_snap("pg1-final")], None, service="rds").clean
    assert reconcile(records, [], None, service="rds").vanished == ("pg1-final",)


def test_db_and_cluster_snapshots_are_two_namespaces(policy: rds_guard.Policy) -> None:
    """A guarded cluster snapshot does not stand for a DB snapshot of the same name, and the
    report says which of the two is unrecorded."""
    records = made("c1", "twin")  # CreateDBClusterSnapshot
    unrecorded = reconcile(records, [snap("twin"), db_snap("twin")], None)
    assert (unrecorded.unrecorded, unrecorded.vanished) == (("twin",), ())
    assert unrecorded.unrecorded_types == ("snapshot",)
    listed = [db_snap("twin"), snap("twin")]
    both = reconcile([], listed, None)
    assert (both.as_dict()["unrecorded"], both.as_dict()["unrecorded_types"]) == (
        ["twin", "twin"],
        ["cluster-snapshot", "snapshot"],
    )
    lines = cli_reconcile.report_lines(
        both, service="rds", region="us-east-1", snapshots=listed, judged=False
    )
    assert lines[4:6] == ["    twin  (DB cluster snapshot)", "    twin  (DB snapshot)"]
    # the cluster snapshot is gone: that the DB snapshot is there does not hide it
    gone = reconcile(records, [db_snap("twin")], None)
    assert gone.vanished == ("twin",)
    # a DB snapshot of that name deleted does not account for the cluster snapshot
    deleted = [
        *records,
        *made("c2", "twin", operation="DeleteDBSnapshot")[:1],
        record("deleted", "c2", "twin", operation="DeleteDBSnapshot"),
    ]
    assert reconcile(deleted, [], None).vanished == ("twin",)
    # the tags judged are the guarded snapshot's, not its namesake's
    listed = [snap("twin"), db_snap("twin", tags={"team": "payments"})]
    assert reconcile(records, listed, policy).noncompliant == ()
    judged = reconcile(records, [snap("twin", tags={}), db_snap("twin")], policy)
    assert [n.snapshot for n in judged.noncompliant] == ["twin"]
    # and a pending call's snapshot exists only if one of its kind does
    pending = reconcile([record("requested", "c3", "twin")], [db_snap("twin")], None)
    assert [(p.snapshot, p.exists) for p in pending.pending] == [("twin", False)]


def test_a_tag_record_names_its_snapshot_by_arn() -> None:
    """A record whose ARN names the snapshot tells its kind, whatever the operation."""
    arn = "arn:aws:rds:us-east-1:123456789012:snapshot:tagged"
    records = [{**record("requested", "c1", "tagged", "AddTagsToResource"), "arn": arn}]
    report = reconcile(records, [snap("tagged"), db_snap("tagged")], None)
    assert [(p.snapshot, p.exists) for p in report.pending] == [("tagged", True)]
    assert reconcile(records, [snap("tagged")], None).pending[0].exists is False


def test_records_of_other_regions_name_other_snapshots() -> None:
    records = [
        *made("c1", "west-1", region="us-west-2"),
        record("requested", "c2", "west-2", region="us-west-2"),
    ]
    listed = [snap("west-2")]
    east = reconcile(records, listed, None, region="us-east-1")
    assert (east.vanished, east.pending, east.unrecorded) == ((), (), ("west-2",))
    west = reconcile(records, [], None, region="us-west-2")
    assert west.vanished == ("west-1",) and west.pending[0].snapshot == "west-2"


def test_records_without_a_service_are_skipped() -> None:
    records = [{"event": "repaired", "call": None, "service": None, "snapshot": None}]
    assert reconcile(records, [snap("x")], None).unrecorded == ("x",)


def presigned(
    call: str, snapshot: str, expires: datetime, operation: str = "CopyDBClusterSnapshot"
) -> dict[str, Any]:
    """A presigned call (a copy): its URL, valid until ``expires``, may be used by whoever
    holds it."""
    return {
        **record("presigned", call, snapshot, operation=operation),
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_a_presigned_url_is_pending_until_it_expires_then_expired_if_unused() -> None:
    hour = timedelta(hours=1)
    records = [
        presigned("p1", "copy-unused", NOW - hour),  # expired, never used
        presigned("p2", "copy-made", NOW - hour),  # expired, but used before it did
        presigned("p3", "copy-later", NOW + hour),  # may still be used
    ]
    copy_made = snap("copy-made", created=NOW - 2 * hour)
    report = reconcile(records, [copy_made], None, now=NOW)
    assert report.expired == ("copy-unused",)
    assert [(p.call, p.snapshot, p.exists) for p in report.pending] == [("p3", "copy-later", False)]
    assert report.unrecorded == ()  # the URL's copy is the log's: not unrecorded
    assert report.as_dict()["expired"] == ["copy-unused"]
    later = reconcile(records, [copy_made], None, now=NOW + 2 * hour)
    assert (later.expired, later.pending) == (("copy-unused", "copy-later"), ())


def test_a_snapshot_made_through_a_url_is_held_to_the_policy_after_the_url_expired(
    policy: rds_guard.Policy,
) -> None:
    """The URL's snapshot is the log's once the URL has expired too: its tags are still
    judged (they were only while the URL was valid, then nothing was said)."""
    hour = timedelta(hours=1)
    records = [presigned("p1", "copy-made", NOW - hour, operation="CopyDBClusterSnapshot")]
    listed = [snap("copy-made", created=NOW - 2 * hour, tags={**GOOD_TAGS, "env": "qa"})]
    for now in (NOW - 2 * hour, NOW):
        report = reconcile(records, listed, policy, now=now)
        assert [n.snapshot for n in report.noncompliant] == ["copy-made"], now
        assert report.unrecorded == ()


def test_a_snapshot_made_after_its_url_expired_is_unrecorded() -> None:
    """A presigned create whose URL expired an hour before the snapshot of its name was made:
    the URL cannot have made it (someone made it outside the guard), so it is unrecorded, as
    it would be without the presign. One made while the URL was valid is the URL's."""
    hour = timedelta(hours=1)
    records = [presigned("p1", "late", NOW - 2 * hour), presigned("p2", "timely", NOW - hour)]
    listed = [snap("late", created=NOW - hour), snap("timely", created=NOW - 2 * hour)]
    report = reconcile(records, listed, None, now=NOW)
    assert report.unrecorded == ("late",)
    assert report.expired == ()


def test_a_delete_left_pending_by_another_service_is_outdated_by_a_later_create() -> None:
    """One namespace across the three APIs: a neptune client's delete of x left without an
    outcome comes before x was deleted by rds and made again; it cannot account for the new
    x vanishing, which is reported as when every call went through rds."""
    records = [
        *made("c1", "x"),
        record("requested", "d1", "x", operation="DeleteDBClusterSnapshot", service="neptune"),
        record("requested", "d2", "x", operation="DeleteDBClusterSnapshot"),
        record("deleted", "d2", "x", operation="DeleteDBClusterSnapshot"),
        *made("c2", "x"),
    ]
    report = reconcile(records, [], None, now=NOW)
    assert report.vanished == ("x",)


def test_another_services_delete_shows_a_presign_used() -> None:
    """A presigned create of x whose snapshot a docdb client's guarded delete later took:
    the URL was used (x existed), so it is not `expired`."""
    records = [
        presigned("p1", "x", NOW - timedelta(hours=1), operation="CreateDBClusterSnapshot"),
        record("requested", "d1", "x", operation="DeleteDBClusterSnapshot", service="docdb"),
        record("deleted", "d1", "x", operation="DeleteDBClusterSnapshot", service="docdb"),
    ]
    assert reconcile(records, [], None, now=NOW).expired == ()


def test_a_db_snapshot_and_a_cluster_snapshot_of_one_name_are_two() -> None:
    """DB snapshots and cluster snapshots are two namespaces: a cluster snapshot x made after
    a DB snapshot x's delete was left pending does not outdate that delete, and a cluster
    snapshot x deleted does not show a presigned DB snapshot x used."""
    delete = "DeleteDBSnapshot"
    pending_delete = [
        *made("c1", "x", operation="CreateDBSnapshot"),
        record("requested", "d1", "x", operation=delete),
        *made("c2", "x"),
    ]
    report = reconcile(pending_delete, [snap("x")], None, now=NOW)
    assert report.vanished == ()
    assert [(p.call, p.snapshot) for p in report.pending] == [("d1", "x")]
    unused = [
        presigned("p1", "y", NOW - timedelta(hours=1), operation="CreateDBSnapshot"),
        *made("c3", "y"),
        record("requested", "d3", "y", operation="DeleteDBClusterSnapshot"),
        record("deleted", "d3", "y", operation="DeleteDBClusterSnapshot"),
    ]
    assert reconcile(unused, [], None, now=NOW).expired == ("y",)


@pytest.mark.parametrize("rule", [["deletion.hold"], {"deletion.hold": 1}, 7, None])
def test_a_violation_whose_rule_is_no_text_is_read_as_no_breach(rule: object) -> None:
    """An edited or foreign record: a rule that is a list or a table is no rule the guard
    writes. It breaches nothing, and the report is made (it was a TypeError)."""
    requested = record("requested", "d1", "x", operation="DeleteDBClusterSnapshot")
    requested["violations"] = [{"rule": rule}]
    records = [*made("c1", "x"), requested, record("deleted", "d1", "x", "DeleteDBClusterSnapshot")]
    assert reconcile(records, [], None, now=NOW).breached == ()


@pytest.mark.parametrize("expires", [7, True, {"at": "x"}, "7", "2026-11-29 11:00:00"])
def test_an_expiry_in_no_form_a_writer_uses_is_not_known(expires: object) -> None:
    """`expires` as text is compared as text: ``"7"`` sorts after every date, so the URL
    looked valid for ever or, as a number, was turned into text. Any form no writer uses is
    read as not known (as a presign made past the client's method): pending."""
    url = {**presigned("p1", "x", NOW), "expires": expires}
    report = reconcile([url], [], None, now=NOW + timedelta(days=400))
    assert [p.call for p in report.pending] == ["p1"] and report.expired == ()


@pytest.mark.parametrize(
    "operation", ["DeleteDBClusterSnapshot", "AddTagsToResource", "RemoveTagsFromResource"]
)
def test_an_expired_url_that_would_not_have_made_a_snapshot_is_not_expired_drift(
    operation: str,
) -> None:
    """A presigned delete (or tag change) left unused: its snapshot may well be gone, deleted
    by the guarded client itself; that says nothing about a snapshot never made."""
    records = [
        *made("c1", "c-1"),
        presigned("p1", "c-1", NOW - timedelta(hours=1), operation=operation),
        record("requested", "c2", "c-1", operation="DeleteDBClusterSnapshot"),
        record("deleted", "c2", "c-1", operation="DeleteDBClusterSnapshot"),
    ]
    report = reconcile(records, [], None, now=NOW)
    assert report.clean and report.expired == () and report.pending == ()


def test_a_snapshot_made_again_outside_the_guard_is_vanished_and_unrecorded(
    policy: rds_guard.Policy,
) -> None:
    """Deleted and made again under the same name by a bare client, long enough after the
    guard's ``created`` record: the guard's snapshot is gone, the one listed is not its."""
    recorded = NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    records = [
        {**r, "time": recorded}
        for r in [*made("c1", "again"), *made("c2", "kept"), *made("c3", "soon")]
    ]
    listed = [
        snap("again", created=NOW + timedelta(minutes=6), tags={"team": "x"}),
        snap("kept", created=NOW - timedelta(seconds=1)),
        snap("soon", created=NOW + timedelta(minutes=4)),  # within the clocks' difference
    ]
    report = reconcile(records, listed, policy)
    assert (report.vanished, report.unrecorded) == (("again",), ("again",))
    assert report.noncompliant == ()  # not the guard's snapshot: its tags are not judged here
    # a final snapshot or a copy may be made long after the call's answer: not held to it
    late = [
        {**r, "time": recorded}
        for r in [
            *made("c4", "final-1", operation="DeleteDBCluster"),
            *made("c5", "copy-1", operation="CopyDBClusterSnapshot"),
        ]
    ]
    taken_later = [snap(name, created=NOW + timedelta(hours=1)) for name in ("final-1", "copy-1")]
    assert reconcile(late, taken_later, None).clean


def delete(call: str, snapshot: str, outcome: str, *rules: str) -> list[dict[str, Any]]:
    """A guarded snapshot delete sent with ``rules`` broken (warn mode), then ``outcome``."""
    requested = record("requested", call, snapshot, operation="DeleteDBClusterSnapshot")
    requested["violations"] = [
        {"rule": rule, "field": "Tags.legal-hold", "value": "true", "message": "on hold"}
        for rule in rules
    ]
    return [requested, record(outcome, call, snapshot, operation="DeleteDBClusterSnapshot")]


def test_a_snapshot_deleted_in_breach_of_deletion_is_breached() -> None:
    records = [
        *made("c1", "held-1"),
        *delete("d1", "held-1", "deleted", "deletion.hold"),
        *made("c2", "young-1"),
        *delete("d2", "young-1", "deleted", "deletion.too_young"),
        *made("c3", "refused-1"),
        *delete("d3", "refused-1", "failed", "deletion.hold"),  # not deleted after all
        *made("c4", "old-1"),
        *delete("d4", "old-1", "deleted"),  # allowed
    ]
    report = reconcile(records, [snap("refused-1")], None)
    assert report.breached == ("held-1", "young-1")
    assert report.as_dict()["breached"] == ["held-1", "young-1"]
    assert report.vanished == () and not report.clean


# --- the listing: every page (botocore's Stubber; moto does not paginate) -------------------


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client, Stubber(client)


def cluster_item(
    name: str, engine: str = "aurora-mysql", kind: str = "manual", **extra: Any
) -> dict[str, Any]:
    return {
        "DBClusterSnapshotIdentifier": name,
        "DBClusterSnapshotArn": f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{name}",
        "Engine": engine,
        "SnapshotType": kind,
        "SnapshotCreateTime": NOW,
        **extra,
    }


def instance_item(name: str, kind: str = "manual") -> dict[str, Any]:
    return {
        "DBSnapshotIdentifier": name,
        "DBSnapshotArn": f"arn:aws:rds:us-east-1:123456789012:snapshot:{name}",
        "Engine": "postgres",
        "SnapshotType": kind,
        "SnapshotCreateTime": NOW,
        "TagList": [{"Key": "team", "Value": name}],
    }


def stub_rds_pages(stubber: Stubber) -> None:
    """Two pages of cluster snapshots, then two pages of instance snapshots."""
    stubber.add_response(
        "describe_db_cluster_snapshots",
        {
            "DBClusterSnapshots": [
                cluster_item("c-1", TagList=[]),
                cluster_item("c-2", TagList=[]),
            ],
            "Marker": "cluster-page-2",
        },
        expected_params={},
    )
    stubber.add_response(
        "describe_db_cluster_snapshots",
        {"DBClusterSnapshots": [
            cluster_item("c-3", TagList=[]),
            cluster_item("docs-1", engine="docdb", TagList=[]),
            cluster_item("graph-1", engine="neptune", TagList=[]),
        ]},
        expected_params={"Marker": "cluster-page-2"},
    )  # fmt: skip
    stubber.add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [instance_item("i-1"), instance_item("rds:i-auto", "automated")],
            "Marker": "instance-page-2",
        },
        expected_params={},
    )
    stubber.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [instance_item("i-2")]},
        expected_params={"Marker": "instance-page-2"},
    )


def test_list_snapshots_follows_every_page() -> None:
    client, stubber = stubbed("rds")
    stub_rds_pages(stubber)
    with stubber:
        listed = list_snapshots(client, "rds")
        stubber.assert_no_pending_responses()
    assert [s.identifier for s in listed] == [
        "c-1", "c-2", "c-3", "docs-1", "graph-1", "i-1", "rds:i-auto", "i-2",
    ]  # fmt: skip
    by_name = {s.identifier: s for s in listed}
    assert by_name["i-2"].tags == {"team": "i-2"}
    assert by_name["rds:i-auto"].tags is None  # automated: never judged, tags not needed
    assert by_name["docs-1"].engine == "docdb" and by_name["c-1"].created == NOW


def test_list_snapshots_of_docdb_reads_tags_per_snapshot() -> None:
    """The docdb listing has no TagList: one ListTagsForResource per non-automated snapshot."""
    client, stubber = stubbed("docdb")
    docs = cluster_item("docs-1", engine="docdb")
    stubber.add_response(
        "describe_db_cluster_snapshots",
        {
            "DBClusterSnapshots": [
                docs,
                cluster_item("rds:docs-auto", engine="docdb", kind="automated"),
            ],
            "Marker": "p2",
        },
        expected_params={},
    )
    stubber.add_response(
        "list_tags_for_resource",
        {"TagList": [{"Key": "team", "Value": "docs"}]},
        expected_params={"ResourceName": docs["DBClusterSnapshotArn"]},
    )
    aurora = cluster_item("aurora-1")
    stubber.add_response(
        "describe_db_cluster_snapshots",
        {"DBClusterSnapshots": [aurora]},
        expected_params={"Marker": "p2"},
    )
    stubber.add_response(
        "list_tags_for_resource",
        {"TagList": []},
        expected_params={"ResourceName": aurora["DBClusterSnapshotArn"]},
    )
    with stubber:
        listed = list_snapshots(client, "docdb")
        stubber.assert_no_pending_responses()
    assert [(s.identifier, s.tags) for s in listed] == [
        ("docs-1", {"team": "docs"}),
        ("rds:docs-auto", None),
        ("aurora-1", {}),
    ]


NOTHING_EXPIRED_OR_BREACHED = (
    "expired: none  (presigned URLs that expired unused: their snapshot was never made)",
    "breached: none  (snapshots deleted in breach of [deletion], sent in warn mode)",
)
NOTHING_UNREAD = "unread: none  (recorded snapshots whose tags could not be read, so not judged)"


@pytest.fixture
def empty_log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    return path


def test_cli_counts_every_page_of_both_listings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_log: Path
) -> None:
    client, stubber = stubbed("rds")
    stub_rds_pages(stubber)
    made_with: list[dict[str, Any]] = []

    def make_client(service: str, **kw: Any) -> Any:
        made_with.append({"service": service, **kw})
        return client

    monkeypatch.setattr(cli_reconcile, "make_client", make_client)
    with stubber:
        result = run_main(capsys, "reconcile", "--audit", str(empty_log), "--json")
        stubber.assert_no_pending_responses()
    assert made_with == [{"service": "rds", "region": None, "endpoint_url": None, "profile": None}]
    assert result.code == 1
    assert result.json() == {
        "pending": [],
        "vanished": [],
        "unrecorded": ["c-1", "c-2", "c-3", "i-1", "i-2"],
        "noncompliant": [],
        "expired": [],
        "breached": [],
        "unread": [],
        "unrecorded_types": ["cluster-snapshot"] * 3 + ["snapshot"] * 2,
    }
    assert result.err == "rds-guard: note: no policy found: tags not judged\n"


def test_cli_docdb_filters_the_listing_by_engine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_log: Path
) -> None:
    client, stubber = stubbed("docdb")
    items = [
        cluster_item("docs-1", engine="docdb"),
        cluster_item("aurora-1"),
        cluster_item("graph-1", engine="neptune"),
    ]
    stubber.add_response(
        "describe_db_cluster_snapshots", {"DBClusterSnapshots": items[:2], "Marker": "m"}, {}
    )
    for item in items[:2]:
        stubber.add_response(
            "list_tags_for_resource",
            {"TagList": []},
            {"ResourceName": item["DBClusterSnapshotArn"]},
        )
    stubber.add_response(
        "describe_db_cluster_snapshots", {"DBClusterSnapshots": items[2:]}, {"Marker": "m"}
    )
    stubber.add_response(
        "list_tags_for_resource",
        {"TagList": []},
        {"ResourceName": items[2]["DBClusterSnapshotArn"]},
    )
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    with stubber:
        result = run_main(capsys, "reconcile", "--audit", str(empty_log), "--service", "docdb")
        stubber.assert_no_pending_responses()
    assert result.code == 1
    assert result.out.splitlines() == [
        "docdb in us-east-1: 1 snapshot listed",
        "pending: none  (calls with no outcome in the log; EXISTS: is the snapshot there now)",
        "vanished: none  (created by a guarded call, gone, with no deleted record)",
        "unrecorded: 1  (manual snapshots no guarded call made)",
        "    docs-1  (DB cluster snapshot)",
        "noncompliant: not judged (no policy found: pass --policy P)",
        *NOTHING_EXPIRED_OR_BREACHED,
        "found: 1 unrecorded",
    ]


def stub_empty_rds(stubber: Stubber) -> None:
    stubber.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": []}, {})
    stubber.add_response("describe_db_snapshots", {"DBSnapshots": []}, {})


def test_cli_reports_expired_and_breached(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    with audit.AuditLog(log, fsync=False) as writer:
        for fields in (
            presigned("p1", "copy-unused", datetime(2020, 1, 1, tzinfo=UTC)),
            *made("c1", "held-1"),
            *delete("d1", "held-1", "deleted", "deletion.hold"),
        ):
            writer.write(str(fields.pop("event")), **fields)
    client, stubber = stubbed("rds")
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    stub_empty_rds(stubber)
    with stubber:
        result = run_main(capsys, "reconcile", "--audit", str(log))
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines()[-6:] == [
        "noncompliant: not judged (no policy found: pass --policy P)",
        "expired: 1  (presigned URLs that expired unused: their snapshot was never made)",
        "    copy-unused",
        "breached: 1  (snapshots deleted in breach of [deletion], sent in warn mode)",
        "    held-1",
        "found: 1 expired, 1 breached",
    ]
    stub_empty_rds(stubber)
    with stubber:
        document = run_main(capsys, "reconcile", "--audit", str(log), "--json").json()
    assert (document["expired"], document["breached"]) == (["copy-unused"], ["held-1"])


def breach_then_presign(folder: Path) -> tuple[Path, Path]:
    """A log that recorded a breach (``held-1`` deleted on hold), rotated, then a presign of
    ``copy-unused`` that expired unused: the live file and the archive."""
    log = folder / "audit.jsonl"
    with audit.AuditLog(log, fsync=False) as writer:
        for fields in (*made("c1", "held-1"), *delete("d1", "held-1", "deleted", "deletion.hold")):
            writer.write(str(fields.pop("event")), **fields)
    archive = audit.rotate(log)
    with audit.AuditLog(log, fsync=False) as writer:
        fields = presigned("p1", "copy-unused", datetime(2020, 1, 1, tzinfo=UTC))
        writer.write(str(fields.pop("event")), **fields)
    return log, archive


def test_cli_reads_the_rotated_series_the_live_file_ends(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/cli.md: ``--audit`` names the live file, and the archives `audit rotate` left
    beside it are read too (or the series' files are given, oldest first): a breach recorded
    before the rotation is found either way."""
    log, archive = breach_then_presign(tmp_path)
    client, stubber = stubbed("rds")
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    for given in ((str(log),), (str(archive), str(log)), (str(archive), "--audit", str(log))):
        stub_empty_rds(stubber)
        with stubber:
            document = run_main(capsys, "reconcile", "--audit", *given, "--json").json()
        assert (document["expired"], document["breached"]) == (["copy-unused"], ["held-1"])


def test_cli_notes_files_given_out_of_order(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/cli.md: a series' files go oldest first. Given the other way round they were read
    so without a word, the live file's records before the archive's; a note on stderr says
    where a file does not go on from the one before."""
    log, archive = breach_then_presign(tmp_path)
    client, stubber = stubbed("rds")
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    notes = {}
    for given in ((str(archive), str(log)), (str(log), str(archive))):
        stub_empty_rds(stubber)
        with stubber:
            result = run_main(capsys, "reconcile", "--audit", *given, "--json")
        notes[given[0]] = result.err
    order = "are the files given oldest first?"
    assert order not in notes[str(archive)]
    assert (
        f"rds-guard: note: {archive} starts at seq 1, not after {log}'s last record (seq"
    ) in notes[str(log)]
    assert order in notes[str(log)]


def three_files(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A log rotated twice, a create in each archive: the live file and the archives, oldest
    first."""
    log = tmp_path / "audit.jsonl"
    archives = []
    for name in ("a-1", "a-2"):
        with audit.AuditLog(log, fsync=False) as writer:
            for fields in made(f"c-{name}", name):
                writer.write(str(fields.pop("event")), **fields)
        archives.append(audit.rotate(log))
    return log, archives


def reconcile_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *paths: Path
) -> Run:
    """``rds-guard reconcile --audit PATHS...`` against an account with no snapshot."""
    client, stubber = stubbed("rds")
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    stub_empty_rds(stubber)
    with stubber:
        return run_main(capsys, "reconcile", "--audit", *map(str, paths))


def test_cli_notes_a_file_of_the_series_left_out(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given the first and the last of three files, the records between were not read and
    nothing said so: the snapshots they recorded may pass for made behind the guard's back."""
    log, archives = three_files(tmp_path)
    result = reconcile_files(capsys, monkeypatch, archives[0], log)
    assert f"rds-guard: note: {log} starts at seq" in result.err
    assert f"in {archives[0]})" in result.err
    assert "is a file of the series not given?" in result.err


@pytest.mark.parametrize("gone", [False, True], ids=["not-given", "not-there"])
def test_cli_notes_an_archive_before_the_files_given_that_is_not_read(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    gone: bool,
) -> None:
    """docs/cli.md: when the oldest file read continues one that is not read, a note says
    so. Given the last two files of three by hand, reconcile read from the second archive on,
    with no note: a snapshot the first recorded, since deleted behind the guard's back, went
    unseen and the answer was ok."""
    log, archives = three_files(tmp_path)
    if gone:
        archives[0].unlink()
    result = reconcile_files(capsys, monkeypatch, archives[1], log)
    why = "which is not there" if gone else "which is not given"
    assert f"rds-guard: note: {archives[1]}: continues {archives[0].name}, {why}:" in result.err
    assert "give the series' files, oldest first" in result.err
    if not gone:  # the whole series given: nothing to note
        whole = reconcile_files(capsys, monkeypatch, archives[0], archives[1], log)
        assert whole.err == ""


@pytest.mark.parametrize("archive", ["gone", "emptied"])
def test_cli_notes_an_unread_archive_once_for_one_file_given(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    archive: str,
) -> None:
    """One file given: the series found from it is noted once, as found (not as files given
    by hand, which a "not given" would say)."""
    log, archives = three_files(tmp_path)
    if archive == "gone":
        archives[0].unlink()
    else:
        archives[0].write_bytes(b"")
    result = reconcile_files(capsys, monkeypatch, log)
    assert result.err.count("rds-guard: note:") == 1, result.err
    why = "which is not there" if archive == "gone" else "which does not hold the records"
    assert f"{archives[1]}: continues {archives[0].name}, {why}" in result.err


@pytest.mark.parametrize("first_line", [b"garbage\n", b'{"prev":"0000\n'], ids=["junk", "torn"])
def test_cli_refuses_an_archive_that_starts_with_no_record_as_when_given_by_hand(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    first_line: bytes,
) -> None:
    """The oldest archive's first line is no record (damaged, torn), its other records
    there: found from the live file, it was left unread with a note (a pending call in it
    lost, exit 0). It is read and refused at that line, as when the files are given by hand:
    reconcile answers for every record or for none."""
    log, archives = three_files(tmp_path)
    kept = archives[0].read_bytes().splitlines(keepends=True)[1:]
    archives[0].write_bytes(first_line + b"".join(kept))
    found = reconcile_files(capsys, monkeypatch, log)
    by_hand = reconcile_files(capsys, monkeypatch, *archives, log)
    assert_one_error_line(found, f"{archives[0]}:1", "not an audit record")
    assert (by_hand.code, by_hand.err) == (found.code, found.err)


def test_cli_notes_files_out_of_order_and_no_gap_that_is_not_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--audit second first live`: the first file out of order is noted; the live file goes
    on from the second (the highest seq read), so no gap is (it named one, the records
    between having been read)."""
    log, archives = three_files(tmp_path)
    result = reconcile_files(capsys, monkeypatch, archives[1], archives[0], log)
    notes = result.err.splitlines()
    assert len(notes) == 1, result.err
    assert f"{archives[0]} starts at seq 1, not after" in notes[0]
    assert "are the files given oldest first?" in notes[0]


def test_a_presign_valid_to_the_end_of_time_is_held_against_a_snapshot_of_its_name() -> None:
    """A presign whose `expires` is the last moment a record can say (a URL asked for with a
    huge ExpiresIn): a snapshot of its name is the guard's, and reconcile does not fail
    (adding the clocks' margin to it overflowed: every later reconcile of the log failed)."""
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    report = reconcile([presigned("p1", "x1", end)], [snap("x1")], None, now=NOW)
    assert report.unrecorded == ()
    assert [call.snapshot for call in report.pending] == ["x1"]


def test_a_snapshot_listed_as_made_at_the_start_of_time_is_judged_not_an_error() -> None:
    """A listing (a broken or hostile endpoint) says a snapshot was made in year 1: taking
    the clocks' margin off that time overflowed, and reconcile ended as "unexpected
    OverflowError". It is held as any other: made long before the records, not the guard's
    new one (vanished is not said), and no older than a presign or a delete of its name."""
    start = datetime(1, 1, 1, tzinfo=UTC)
    records = [*made("c1", "x1"), presigned("p1", "x2", NOW), *delete("d1", "x3", "deleted")]
    for item in records:
        item["time"] = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    listed = [snap(name, created=start) for name in ("x1", "x2", "x3")]
    report = reconcile(records, listed, None, now=NOW - timedelta(minutes=1))
    assert report.vanished == () and report.unrecorded == ()


def test_a_snapshot_still_listed_after_its_guarded_delete_is_not_unrecorded() -> None:
    """A guarded delete recorded `deleted`, the snapshot still listed (AWS shows it
    `deleting` a while): made before the delete, it is the one the guard knew, not one made
    behind its back; one made after the delete is, past the clocks' margin (docs/cli.md: up
    to 5 minutes after the `deleted` record, it is taken for the guard's)."""
    deleted_at = NOW - timedelta(hours=1)
    records = [*made("c1", "x"), *delete("d1", "x", "deleted")]
    for item in records:
        item["time"] = deleted_at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    for created, unrecorded in (
        (NOW - timedelta(hours=2), ()),
        (deleted_at + timedelta(minutes=5), ()),
        (deleted_at + timedelta(minutes=5, seconds=1), ("x",)),
        (NOW, ("x",)),
    ):
        listed = [snap("x", created=created)]
        assert reconcile(records, listed, None, now=NOW).unrecorded == unrecorded, created


def test_a_presigned_create_whose_snapshot_was_deleted_later_did_not_expire_unused() -> None:
    """`expired` is for URLs that expired unused; a guarded delete of the snapshot after the
    presign shows the snapshot was made (through the URL or otherwise)."""
    past = datetime(2020, 1, 1, tzinfo=UTC)
    records = [
        presigned("p1", "via-url", past),
        record("requested", "d9", "via-url", operation="DeleteDBClusterSnapshot"),
        record("deleted", "d9", "via-url", operation="DeleteDBClusterSnapshot"),
        presigned("p2", "never-used", past),
    ]
    assert reconcile(records, [], None).expired == ("never-used",)


def test_cli_refuses_one_file_given_by_two_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An audit rotate stopped between naming the archive and replacing the log leaves the
    log under two names; `--audit ARCHIVE LOG`, the form docs/cli.md gives, read it twice and
    counted one breach twice. As `audit verify` does: an error naming both, exit 2."""
    log = tmp_path / "audit.jsonl"
    with audit.AuditLog(log, fsync=False) as writer:
        for fields in (*made("c1", "held-1"), *delete("d1", "held-1", "deleted", "deletion.hold")):
            writer.write(str(fields.pop("event")), **fields)
    second = tmp_path / "audit.jsonl.1-4"
    os.link(log, second)
    client, _ = stubbed("rds")
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    assert_one_error_line(
        run_main(capsys, "reconcile", "--audit", str(second), str(log)),
        f"{second} and {log} are one file",
    )


def rotated_log(folder: Path) -> tuple[Path, Path]:
    """A log of two guarded creates, rotated between them: the live file and the archive
    (``orders-manual-1`` is recorded in the archive only)."""
    log = folder / "audit.jsonl"
    with audit.AuditLog(log, fsync=False) as writer:
        for fields in made("c1", "orders-manual-1"):
            writer.write(str(fields.pop("event")), **fields)
    archive = audit.rotate(log)
    with audit.AuditLog(log, fsync=False) as writer:
        for fields in made("c2", "orders-manual-2"):
            writer.write(str(fields.pop("event")), **fields)
    return log, archive


def reconcile_both_made(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, log: Path
) -> Run:
    """`reconcile --audit LOG --json` against a listing of both snapshots of `rotated_log`."""
    client, stubber = stubbed("rds")
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    items = [cluster_item(f"orders-manual-{n}", TagList=[]) for n in (1, 2)]
    stubber.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": items}, {})
    stubber.add_response("describe_db_snapshots", {"DBSnapshots": []}, {})
    with stubber:
        return run_main(capsys, "reconcile", "--audit", str(log), "--json")


@pytest.mark.parametrize("account", ["123456789012", "999999999999"])
def test_cli_notes_a_log_of_another_account_than_the_listing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    account: str,
) -> None:
    """One log, one account (docs/cli.md): a log whose records name another account than
    the listed snapshots' can hide drift (the same name in both counts as the guard's), so
    a note says so; the verdict is the listing's, as before, and a log of the listing's own
    account gets no note."""
    log = tmp_path / "audit.jsonl"
    with audit.AuditLog(log, fsync=False) as writer:
        for number in (1, 2):
            for fields in made(f"c{number}", f"orders-manual-{number}"):
                arn = f"arn:aws:rds:us-east-1:{account}:cluster-snapshot:orders-manual-{number}"
                writer.write(str(fields.pop("event")), **fields, arn=arn)
    result = reconcile_both_made(capsys, monkeypatch, log)
    assert (result.code, result.json()["unrecorded"]) == (0, [])
    noted = f"the log records calls of account(s) {account}, the listing is of 123456789012"
    assert (noted in result.err) == (account != "123456789012"), result.err


def test_cli_says_the_series_goes_back_no_further_than_a_missing_archive(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/cli.md: the archives are read as far back as they are there. One that is gone
    takes the records of the snapshots it saw with it: those are listed unrecorded, and a
    note names the archive that is missing, so that nobody takes them for snapshots made
    behind the guard's back."""
    log, archive = rotated_log(tmp_path)
    archive.unlink()
    result = reconcile_both_made(capsys, monkeypatch, log)
    assert (result.code, result.json()["unrecorded"]) == (1, ["orders-manual-1"])
    assert f"{log}: continues {archive.name}, which is not there:" in result.err
    assert "records before seq 3 are not read" in result.err
    assert "one of theirs that vanished is not seen" in result.err


BEYOND_THE_SERIES = {
    "another-log": ("other.jsonl", "continues other.jsonl, which does not hold the records"),
    "parent": ("../audit.jsonl", 'continues "../audit.jsonl", which names no file beside it'),
    "absolute": ("/etc/passwd", 'continues "/etc/passwd", which names no file beside it'),
    "dot": (".", 'continues ".", which names no file beside it'),
    "dotdot": ("..", 'continues "..", which names no file beside it'),
    "nul": ("x\x00y", 'continues "x\\u0000y", which names no file beside it'),
    "surrogate": ("\ud800", 'continues "\\ud800", which names no file beside it'),
    "empty": ("", 'continues "", which names no file beside it'),
    "too-long": ("x" * 300, f"continues {'x' * 300}, which is not there"),
}


@pytest.mark.parametrize("case", list(BEYOND_THE_SERIES), ids=list(BEYOND_THE_SERIES))
def test_cli_follows_no_forged_rotated_from_and_says_so(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: str,
) -> None:
    """A `rotated` record whose ``rotated_from`` names no archive before it in the log's
    folder (a log of its own, a path elsewhere, the folder itself): nothing outside the
    series is read, never a traceback, and the note says the series stops there; the
    archive it should have named is not read either."""
    log, _ = rotated_log(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = rotated_log(tmp_path / "other")
    other.rename(tmp_path / "other.jsonl")
    forged, said = BEYOND_THE_SERIES[case]
    forge_rotated_from(log, forged)
    result = reconcile_both_made(capsys, monkeypatch, log)
    assert (result.code, result.json()["unrecorded"]) == (1, ["orders-manual-1"])
    assert "Traceback" not in result.err
    assert f"{log}: {said}" in result.err
    assert "records before seq 3 are not read" in result.err


@pytest.mark.parametrize(
    ("stderr", "args", "shown"),
    [(Terminal(), (), True), (Terminal(), ("--quiet",), False), (io.StringIO(), (), False)],
    ids=["terminal", "quiet", "not-a-terminal"],
)
def test_cli_shows_its_progress_on_a_terminal_only(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    empty_log: Path,
    stderr: io.StringIO,
    args: tuple[str, ...],
    shown: bool,
) -> None:
    client, stubber = stubbed("rds")
    stub_rds_pages(stubber)
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    monkeypatch.setattr(sys, "stderr", stderr)
    with stubber:
        result = run_main(capsys, "reconcile", "--audit", str(empty_log), *args)
    assert result.code == 1 and result.out.startswith("rds in us-east-1: 6 snapshots listed")
    progress = stderr.getvalue()
    if not shown:
        assert progress == ""
        return
    # the first page is drawn at once; later ones within 0.1 s are not redrawn
    assert progress.startswith("\rlisting snapshots: 1 page read, 2 so far\x1b[K")
    assert progress.endswith("\r\x1b[K")  # cleared before the report


# --- the real console script against the moto server ---------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Scenario:
    """A log written by the real guard, and the service state it is held against."""

    dir: Path
    log: Path
    policy: Path
    pending_exists: str
    pending_missing: str
    server: MotoServer

    def env(self, **extra: str | None) -> dict[str, str]:
        return script_env(self.dir, **extra)

    def run(self, *args: str, **env: str | None) -> Run:
        return run_script(
            "reconcile", "--audit", str(self.log), "--policy", str(self.policy),
            "--endpoint-url", self.server.url, *args, env=self.env(**env),
        )  # fmt: skip


@pytest.fixture
def scenario(moto_server: MotoServer, tmp_path: Path) -> Iterator[Scenario]:
    """Every finding reconcile knows, made by the real guard and plain (unguarded) clients.

    - orders-manual-20261101: guarded create, untouched (compliant: in no list)
    - orders-manual-20261102: guarded create, then env=qa by a plain client (noncompliant)
    - orders-daily-20261103: guarded create, deleted by a plain client (vanished)
    - orders-daily-20261106: guarded create, guarded delete (in no list)
    - orders-adhoc: plain create (unrecorded); test2: blocked, then made by hand (unrecorded)
    - orders-manual-20261104: guarded create on a closed port (requested + unknown), then
      made by a plain client with the tags the guard had sent (pending, exists)
    - orders-manual-20261105: the same, never made (pending, does not exist)
    """
    policy = write_policy(tmp_path, RECONCILED)
    session, _ = guarded_session(policy, on=moto_server)
    guarded = moto_server.client("rds", session=session)
    plain = moto_server.client("rds")
    make_cluster(plain, copy_tags=True, tags=CLUSTER_TAGS)

    def create(client: Any, name: str, **kw: Any) -> str:
        result = client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name, **kw
        )
        return str(result["DBClusterSnapshot"]["DBClusterSnapshotArn"])

    create(guarded, "orders-manual-20261101")
    noncompliant = create(guarded, "orders-manual-20261102")
    plain.add_tags_to_resource(ResourceName=noncompliant, Tags=[{"Key": "env", "Value": "qa"}])
    create(guarded, "orders-daily-20261103")
    plain.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-daily-20261103")
    create(guarded, "orders-daily-20261106")
    guarded.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-daily-20261106")
    create(plain, "orders-adhoc")
    with pytest.raises(rds_guard.PolicyViolation):
        create(guarded, "test2")
    create(plain, "test2")

    offline = session.client(
        "rds",
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5),
    )
    for name in ("orders-manual-20261104", "orders-manual-20261105"):
        with pytest.raises(Exception, match="Could not connect"):
            create(offline, name, Tags=TEAM_ENV)
    records = list(audit.read_records(tmp_path / "audit.jsonl"))
    sent = {r["snapshot"]: r for r in records if r["event"] == "unknown"}
    assert set(sent) == {"orders-manual-20261104", "orders-manual-20261105"}
    exists = sent["orders-manual-20261104"]
    create(
        plain,
        "orders-manual-20261104",
        Tags=[{"Key": k, "Value": v} for k, v in exists["tags"].items()],
    )
    moto_server.reset_counts()
    yield Scenario(
        tmp_path, tmp_path / "audit.jsonl", policy, exists["call"],
        sent["orders-manual-20261105"]["call"], moto_server,
    )  # fmt: skip


READ_ONLY = {"DescribeDBClusterSnapshots", "DescribeDBSnapshots", "ListTagsForResource"}


def test_reconcile_json_reports_every_list(scenario: Scenario) -> None:
    result = scenario.run("--json")
    assert (result.code, result.err) == (1, services_warning(scenario.policy, "docdb", line=2))
    assert result.json() == {
        "pending": [
            {"call": scenario.pending_exists, "snapshot": "orders-manual-20261104", "exists": True},
            {
                "call": scenario.pending_missing,
                "snapshot": "orders-manual-20261105",
                "exists": False,
            },
        ],
        "vanished": ["orders-daily-20261103"],
        "unrecorded": ["orders-adhoc", "test2"],
        "noncompliant": [
            {
                "snapshot": "orders-manual-20261102",
                "violations": [
                    {
                        "rule": "tags.allowed",
                        "field": "Tags.env",
                        "value": "qa",
                        "message": "value must be one of: prod, staging, dev",
                    }
                ],
            }
        ],
        "expired": [],
        "breached": [],
        "unread": [],
        "unrecorded_types": ["cluster-snapshot", "cluster-snapshot"],
    }
    actions = set(scenario.server.actions())
    assert {"DescribeDBClusterSnapshots", "DescribeDBSnapshots"} <= actions <= READ_ONLY


def test_reconcile_reports_every_list_for_humans(scenario: Scenario) -> None:
    result = scenario.run()
    assert (result.code, result.err) == (1, services_warning(scenario.policy, "docdb", line=2))
    lines = result.out.splitlines()
    # 5 manual snapshots (7 made, 2 deleted) and the automated one moto makes with the cluster
    assert lines[0] == "rds in us-east-1: 6 snapshots listed"
    assert lines[1:] == [
        "pending: 2  (calls with no outcome in the log; EXISTS: is the snapshot there now)",
        "    CALL                              EXISTS  SNAPSHOT",
        f"    {scenario.pending_exists}  yes     orders-manual-20261104",
        f"    {scenario.pending_missing}  no      orders-manual-20261105",
        "vanished: 1  (created by a guarded call, gone, with no deleted record)",
        "    orders-daily-20261103",
        "unrecorded: 2  (manual snapshots no guarded call made)",
        "    orders-adhoc  (DB cluster snapshot)",
        "    test2  (DB cluster snapshot)",
        "noncompliant: 1  (recorded snapshots whose tags now break the policy)",
        "    orders-manual-20261102",
        "      [tags.allowed] Tags.env: value must be one of: prod, staging, dev",
        *NOTHING_EXPIRED_OR_BREACHED,
        NOTHING_UNREAD,
        "found: 2 pending, 1 vanished, 2 unrecorded, 1 noncompliant",
    ]


def test_since_leaves_older_unrecorded_snapshots_out(scenario: Scenario) -> None:
    """moto stamps snapshots "now": a --since in the future leaves them all out, one in the
    past keeps them; the other lists do not depend on --since."""
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    future = scenario.run("--since", later, "--json").json()
    assert future["unrecorded"] == []
    assert future["vanished"] == ["orders-daily-20261103"] and len(future["pending"]) == 2
    assert scenario.run("--since", earlier, "--json").json()["unrecorded"] == [
        "orders-adhoc",
        "test2",
    ]


def test_since_without_a_zone_is_utc(scenario: Scenario) -> None:
    """Two hours ahead of UTC, read as local time in Tokyo (UTC+9), would be 7 hours ago."""
    naive_later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    result = scenario.run("--since", naive_later, "--json", TZ="Asia/Tokyo")
    assert result.code == 1 and result.json()["unrecorded"] == []


def test_clean_log_exits_0(moto_server: MotoServer, tmp_path: Path) -> None:
    guarded = guarded_client(write_policy(tmp_path, RECONCILED), on=moto_server)
    make_instance(guarded, "inst", copy_tags=True, tags=CLUSTER_TAGS)
    guarded.create_db_snapshot(
        DBInstanceIdentifier="inst", DBSnapshotIdentifier="inst-daily-20261129"
    )
    env = script_env(tmp_path)
    args = (
        "reconcile",
        "--audit",
        str(tmp_path / "audit.jsonl"),
        "--endpoint-url",
        moto_server.url,
    )
    result = run_script(*args, env=env, cwd=tmp_path)  # the policy found as ./rds_guard.toml
    assert (result.code, result.err) == (0, services_warning("rds_guard.toml", "docdb", line=2))
    assert result.out.splitlines()[-5:] == [
        "noncompliant: none  (recorded snapshots whose tags now break the policy)",
        *NOTHING_EXPIRED_OR_BREACHED,
        NOTHING_UNREAD,
        "ok: the log and rds agree",
    ]
    assert run_script(*args, "--json", env=env, cwd=tmp_path).json() == {
        "pending": [], "vanished": [], "unrecorded": [], "noncompliant": [], "expired": [],
        "breached": [],
        "unread": [], "unrecorded_types": [],
    }  # fmt: skip


def test_neptune_and_rds_share_the_listing(moto_server: MotoServer, tmp_path: Path) -> None:
    """moto lists neptune clusters' snapshots through the rds API too: filtered by engine."""
    policy = write_policy(tmp_path, RECONCILED)
    neptune = guarded_client(policy, "neptune", on=moto_server)
    plain = moto_server.client("rds")
    make_cluster(plain, "graph", engine="neptune", tags=CLUSTER_TAGS)
    make_cluster(plain, "orders", tags=CLUSTER_TAGS)
    neptune.create_db_cluster_snapshot(
        DBClusterIdentifier="graph",
        DBClusterSnapshotIdentifier="graph-daily-20261129",
        Tags=TEAM_ENV,
    )
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="graph", DBClusterSnapshotIdentifier="graph-by-hand"
    )
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-by-hand"
    )
    log = str(tmp_path / "audit.jsonl")
    env = script_env(tmp_path)
    common = ("--audit", log, "--policy", str(policy), "--endpoint-url", moto_server.url, "--json")
    as_neptune = run_script("reconcile", *common, "--service", "neptune", env=env)
    assert as_neptune.code == 1
    assert as_neptune.json() == {
        "pending": [], "vanished": [], "unrecorded": ["graph-by-hand"], "noncompliant": [],
        "expired": [], "breached": [], "unread": [], "unrecorded_types": ["cluster-snapshot"],
    }  # fmt: skip
    as_rds = run_script("reconcile", *common, env=env)
    assert as_rds.json()["unrecorded"] == ["orders-by-hand"]
    assert {r.service for r in moto_server.requests()} == {"rds", "neptune"}


def test_other_regions_records_are_not_vanished(moto_server: MotoServer, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, RECONCILED)
    west = guarded_client(policy, on=moto_server, region="us-west-2")
    make_cluster(west, copy_tags=True, tags=CLUSTER_TAGS)
    west.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-daily-20261129"
    )
    env = script_env(tmp_path)
    args = ("reconcile", "--audit", str(tmp_path / "audit.jsonl"), "--policy", str(policy),
            "--endpoint-url", moto_server.url, "--json")  # fmt: skip
    east = run_script(*args, env=env)
    assert (east.code, east.json()["vanished"]) == (0, [])
    assert run_script(*args, "--region", "us-west-2", env=env).code == 0
    west.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-daily-20261129")
    assert run_script(*args, env=env).code == 0
    gone = run_script(*args, "--region", "us-west-2", env=env)
    assert (gone.code, gone.json()["vanished"]) == (0, [])  # deleted by the guarded client


# --- errors: one line, exit 2 ---------------------------------------------------------------


def test_errors_are_one_line(moto_server: MotoServer, tmp_path: Path, empty_log: Path) -> None:
    url = moto_server.url
    base = ("reconcile", "--audit", str(empty_log), "--endpoint-url", url)
    env = script_env(tmp_path)
    cases: list[tuple[tuple[str, ...], dict[str, str], tuple[str, ...]]] = [
        (base, script_env(tmp_path, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None),
         ("no AWS credentials found", "--profile")),
        (("reconcile", "--audit", str(empty_log), "--endpoint-url", f"http://127.0.0.1:{closed_port()}"),
         env, ("cannot reach the service", "Could not connect to the endpoint URL")),
        ((*base, "--since", "last tuesday"), env, ("--since", "ISO 8601", "last tuesday")),
        (("reconcile", "--audit", str(tmp_path / "nope.jsonl")), env,
         ("nope.jsonl: no such file",)),
        ((*base, "--profile", "ghost"), env, ("ghost", "could not be found")),
        (base, script_env(tmp_path, AWS_DEFAULT_REGION=None), ("no AWS region", "--region")),
        (("reconcile", "--audit", str(empty_log), "--endpoint-url", "not a url"), env,
         ("--endpoint-url", "expected an http:// or https:// URL")),
        ((*base, "--service", "s3"), env, ("--service",)),
        (("reconcile",), env, ("--audit",)),
        ((*base, "--policy", str(tmp_path / "missing.toml")), env, ("missing.toml",)),
    ]  # fmt: skip
    for args, case_env, fragments in cases:
        assert_one_error_line(run_script(*args, env=case_env), *fragments)


def test_a_damaged_log_is_one_line(moto_server: MotoServer, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text("this is not a record\n")
    result = run_script(
        "reconcile",
        "--audit",
        str(log),
        "--endpoint-url",
        moto_server.url,
        env=script_env(tmp_path),
    )
    assert_one_error_line(result, f"{log}:1", "not an audit record")


def test_a_file_of_bytes_with_no_newline_is_no_log(moto_server: MotoServer, tmp_path: Path) -> None:
    """A token named as the log: refused as no log (exit 2), not reported on as an empty one."""
    log = tmp_path / "token"
    log.write_bytes(b"SECRETTOKEN")
    result = run_script(
        "reconcile", "--audit", str(log), "--endpoint-url", moto_server.url,
        env=script_env(tmp_path),
    )  # fmt: skip
    assert_one_error_line(result, str(log), "is not an audit log")


def test_records_joined_after_the_last_newline_are_an_error(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Two calls' records with the newline between them removed, after the log's last
    newline: reconcile answered for the log without them (one call pending, not three); it
    answers for every record or for none."""
    log = tmp_path / "audit.jsonl"
    make_log(log, 3)
    lines = lines_of(log)
    write_lines(log, [lines[0], lines[1] + lines[2]], final_newline=False)
    result = run_script(
        "reconcile", "--audit", str(log), "--endpoint-url", moto_server.url,
        env=script_env(tmp_path),
    )  # fmt: skip
    assert_one_error_line(result, f"{log}:2", "whole record(s)")


@contextlib.contextmanager
def _silent_endpoint() -> Iterator[str]:
    """An endpoint on 127.0.0.1 that accepts every connection and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_reconciles_clients_wait_a_bounded_time() -> None:
    """An endpoint that accepts and never answers is an error within a minute: reconcile's
    clients wait 5 s to connect and 15 s for an answer, three attempts unless the
    environment or the profile says otherwise (botocore's default: 60 s, five attempts)."""
    client = cli_reconcile.make_client("rds", region="us-east-1")
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 15)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_retries_the_environment_sets_apply_to_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    client = cli_reconcile.make_client("rds", region="us-east-1")
    assert client.meta.config.retries["total_max_attempts"] == 7  # botocore read it


def test_an_endpoint_that_never_answers_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_log: Path
) -> None:
    """docs/cli.md: "an unreachable endpoint reads rds-guard: error: cannot reach the
    service: ..." (here with one attempt, and a second's wait for the answer)."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setitem(cli_reconcile.CLIENT_SETTINGS, "read_timeout", 1)
    with _silent_endpoint() as url:
        result = run_main(capsys, "reconcile", "--audit", str(empty_log), "--endpoint-url", url)
    assert_one_error_line(result, "cannot reach the service", "Read timeout on endpoint URL")


def test_a_refused_listing_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_log: Path
) -> None:
    client, stubber = stubbed("rds")
    stubber.add_client_error(
        "describe_db_cluster_snapshots",
        service_error_code="AccessDenied",
        service_message="not authorized to perform rds:DescribeDBClusterSnapshots",
        http_status_code=403,
    )
    monkeypatch.setattr(cli_reconcile, "make_client", lambda service, **kw: client)
    with stubber:
        result = run_main(capsys, "reconcile", "--audit", str(empty_log))
    assert_one_error_line(
        result, "AccessDenied", "DescribeDBClusterSnapshots", "not authorized to perform"
    )


def test_a_presign_past_the_wrapper_stays_pending_where_an_expired_one_does_not(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """docs/operations.md: a presign made through botocore's own function, past the client's
    wrapper, is recorded with `expires` null, and reconcile keeps it pending however late it
    runs; a presign through the client's method records its expiry, and once that has passed
    with its copy never made it is `expired`, no longer pending."""
    policy = write_policy(tmp_path, RECONCILED)
    guarded = guarded_client(policy, on=moto_server)
    make_cluster(moto_server.client("rds"), tags=CLUSTER_TAGS)
    unknown_expiry, past_expiry = "orders-manual-20261107", "orders-manual-20261108"
    params: dict[str, Any] = {"DBClusterIdentifier": "orders", "Tags": TEAM_ENV}
    botocore.signers.generate_presigned_url(
        guarded,
        "create_db_cluster_snapshot",
        Params={**params, "DBClusterSnapshotIdentifier": unknown_expiry},
        ExpiresIn=600,
    )
    # ExpiresIn=0: a URL that has expired by the time reconcile runs, whatever the clock says
    guarded.generate_presigned_url(
        "create_db_cluster_snapshot",
        Params={**params, "DBClusterSnapshotIdentifier": past_expiry},
        ExpiresIn=0,
    )
    records = list(audit.read_records(tmp_path / "audit.jsonl"))
    assert [(r["event"], r["snapshot"]) for r in records] == [
        ("presigned", unknown_expiry),
        ("presigned", past_expiry),
    ]
    assert records[0]["expires"] is None and records[1]["expires"] is not None
    assert moto_server.count("CreateDBClusterSnapshot") == 0  # neither URL was used
    result = run_script(
        "reconcile", "--audit", str(tmp_path / "audit.jsonl"), "--policy", str(policy),
        "--endpoint-url", moto_server.url, "--json", env=script_env(tmp_path),
    )  # fmt: skip
    assert (result.code, result.err) == (1, services_warning(policy, "docdb", line=2))
    assert result.json() == {
        "pending": [{"call": records[0]["call"], "snapshot": unknown_expiry, "exists": False}],
        "vanished": [], "unrecorded": [], "noncompliant": [], "expired": [past_expiry],
        "breached": [],
        "unread": [], "unrecorded_types": [],
    }  # fmt: skip
    # a year on, the URL of unknown expiry may still be used: it is still pending
    listed = list_snapshots(moto_server.client("rds"), "rds")
    later = reconcile(records, listed, None, now=datetime.now(UTC) + timedelta(days=365))
    assert [(p.call, p.snapshot, p.exists) for p in later.pending] == [
        (records[0]["call"], unknown_expiry, False)
    ]
    assert later.expired == (past_expiry,)


@pytest.mark.parametrize("field", ["event", "service", "region", "operation", "call", "snapshot"])
@pytest.mark.parametrize("value", [{"a": 1}, ["a"], 7, None], ids=["object", "list", "int", "null"])
def test_a_record_with_a_field_of_another_type_is_passed_over(field: str, value: Any) -> None:
    """A record is a JSON object whose fields a writer other than the guard (or damage that
    keeps the line JSON) may give any type: reconcile passes over what it cannot read, and
    reports the rest as ever (never a TypeError)."""
    odd = {**record("requested", "c9", "odd-1"), field: value}
    records = [*made("c1", "made-1"), odd]
    report = reconcile(records, [snap("made-1")], None, now=NOW)
    assert "made-1" not in report.unrecorded
    assert [p.call for p in report.pending] in ([], ["c9"])


def test_a_snapshot_deleted_through_another_services_client_has_not_vanished() -> None:
    """One namespace across the three APIs: a Neptune snapshot a guarded rds client deleted
    (a `deleted` record under rds) is not `vanished` for neptune; one deleted unrecorded is."""
    records = [
        *made("c1", "graph-manual-1", service="neptune"),
        *made("c2", "graph-manual-2", service="neptune"),
        record("requested", "d1", "graph-manual-1", operation="DeleteDBClusterSnapshot"),
        record("deleted", "d1", "graph-manual-1", operation="DeleteDBClusterSnapshot"),
    ]
    report = reconcile(records, [], None, service="neptune", now=NOW)
    assert report.vanished == ("graph-manual-2",)


def test_a_pending_export_of_an_automated_snapshot_finds_it() -> None:
    """A record written before records kept an automated snapshot's ``rds:`` (its name as
    `{source}` has it), its ARN as the service lists it: the look-up goes by the ARN."""
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:orders-2026-11-29-03-00"
    pending = [
        record("requested", "c1", "orders-2026-11-29-03-00", operation="StartExportTask")
        | {"arn": arn},
    ]
    automated = snap("rds:orders-2026-11-29-03-00", kind="automated")
    report = reconcile(pending, [automated], None)
    assert report.as_dict()["pending"] == [
        {"call": "c1", "snapshot": "rds:orders-2026-11-29-03-00", "exists": True}
    ]
    assert reconcile(pending, [snap("orders-2026-11-29-03-00")], None).pending[0].exists is False


@pytest.mark.parametrize(
    ("reference", "account"),
    [
        ("arn:aws:rds:us-east-1:123456789012:cluster-snapshot:a", "123456789012"),
        ("arn:aws-cn:rds:cn-north-1:210987654321:snapshot:rds:b", "210987654321"),
        ("arn:aws:rds:us-east-1::cluster-snapshot:a", None),  # names none
        ("arn:aws:rds:us-east-1:123456789012", None),  # too short
        ("orders-manual-1", None),
    ],
)
def test_the_account_of_an_arn(reference: str, account: str | None) -> None:
    """`operations.arn_account`, which the note on a log of another account reads."""
    assert operations.arn_account(reference) == account

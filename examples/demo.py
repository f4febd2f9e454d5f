"""rds_guard in a few calls, against an in-process moto RDS (no AWS account needed).

Run it with ``make demo``. It reads ``examples/rds_guard.toml`` and shows:

1. a compliant cluster snapshot, completed with the policy's default and forced tags;
2. a snapshot of a cluster with ``CopyTagsToSnapshot=True``: the guarded call keeps the
   cluster's tags *and* gets the defaults, while the same call on a plain boto3 client with a
   default tag added by hand silently loses every tag the cluster would have passed on;
3. an identifier generated from the policy's template;
4. a non-compliant call stopped before it is sent, with every violation listed;
5. a cleanup job deleting a snapshot made a minute ago and one on legal hold: both stopped
   before they are sent (``[deletion]``, docs/backups.md);
6. the audit log the guarded calls wrote, and its hash chain verified;
7. the fleet ledger: two hosts ship their logs to one DynamoDB table, a checkpoint is signed
   into S3, a record is then edited and another deleted in the table, and
   ``rds-guard audit verify --ledger`` finds both (docs/ledger.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import boto3
from moto import mock_aws

import rds_guard
from rds_guard import cli

HERE = Path(__file__).resolve().parent
POLICY = HERE / "rds_guard.toml"


def utc_day() -> str:
    """Today's date in UTC, as the policy's ``{utcnow:%Y%m%d}`` writes it."""
    return datetime.now(UTC).strftime("%Y%m%d")


TODAY = utc_day()


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Rows as a plain-text table with a header rule."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def tag_text(tags: Sequence[dict[str, str]]) -> str:
    """Tags as ``key=value`` pairs, sorted."""
    return ", ".join(f"{t['Key']}={t['Value']}" for t in sorted(tags, key=lambda t: t["Key"]))


def heading(text: str) -> None:
    """Print a section heading."""
    print(f"\n== {text} ==")


def make_cluster(rds: object, name: str, tags: dict[str, str], *, copy_tags: bool) -> None:
    """An Aurora cluster to take snapshots of."""
    rds.create_db_cluster(  # type: ignore[attr-defined]
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
        CopyTagsToSnapshot=copy_tags,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def snapshot_arn(rds: object, snapshot: str) -> str:
    """The ARN of a cluster snapshot, as the service describes it."""
    found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)  # type: ignore[attr-defined]
    return str(found["DBClusterSnapshots"][0]["DBClusterSnapshotArn"])


def stored_tags(rds: object, snapshot: str) -> list[dict[str, str]]:
    """The tags the service holds for a cluster snapshot, read back from it."""
    arn = snapshot_arn(rds, snapshot)
    return list(rds.list_tags_for_resource(ResourceName=arn)["TagList"])  # type: ignore[attr-defined]


def cluster_snapshot_count(rds: object) -> int:
    """How many cluster snapshots the service holds."""
    return len(rds.describe_db_cluster_snapshots()["DBClusterSnapshots"])  # type: ignore[attr-defined]


def main() -> int:
    """Run the demo; exit 0 when every step behaved as shown."""
    workdir = Path(tempfile.mkdtemp(prefix="rds-guard-demo-"))
    audit_path = workdir / "rds-guard-audit.jsonl"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        plain = session.client("rds")  # made before install: an ordinary, unguarded client
        guard = rds_guard.install(session, policy=POLICY, audit_path=audit_path)
        rds = session.client("rds")
        print(f"policy {POLICY.name} (mode = {guard.policy.mode}), audit log {audit_path}")

        make_cluster(plain, "orders", {"team": "orders", "env": "prod"}, copy_tags=False)
        make_cluster(
            plain,
            "billing",
            {"team": "payments", "env": "prod", "cost-center": "CC-1042"},
            copy_tags=True,
        )

        heading("1. A compliant snapshot, completed with the policy's tags")
        name = f"orders-daily-{TODAY}"
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            DBClusterSnapshotIdentifier=name,
            Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "prod"}],
        )
        print(
            table(
                [[name, "team=orders, env=prod", tag_text(stored_tags(rds, name))]],
                ["snapshot", "the call sent", "the snapshot has"],
            )
        )

        heading("2. CopyTagsToSnapshot: the cluster's tags survive the defaults")
        guarded_name = f"billing-manual-{TODAY}"
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="billing", DBClusterSnapshotIdentifier=guarded_name
        )
        by_hand = "billing-by-hand"
        plain.create_db_cluster_snapshot(
            DBClusterIdentifier="billing",
            DBClusterSnapshotIdentifier=by_hand,
            Tags=[{"Key": "managed-by", "Value": "rds-guard"}],
        )
        guarded_tags = stored_tags(rds, guarded_name)
        plain_tags = stored_tags(plain, by_hand)
        cluster = plain.describe_db_clusters(DBClusterIdentifier="billing")["DBClusters"][0]
        cluster_keys = {t["Key"] for t in cluster["TagList"]}
        lost = sorted(cluster_keys - {t["Key"] for t in plain_tags})
        kept = sorted(cluster_keys & {t["Key"] for t in guarded_tags})
        print(
            table(
                [
                    ["guarded client", "no Tags", tag_text(guarded_tags)],
                    ["plain boto3 client", "managed-by=rds-guard", tag_text(plain_tags)],
                ],
                ["made by", "the call sent", "the snapshot has"],
            )
        )
        print(f"the cluster's tags: {', '.join(sorted(cluster_keys))}")
        print(
            f"kept by the guarded call: {', '.join(kept)};"
            f" lost by the plain call: {', '.join(lost)}"
        )

        heading("3. No identifier given: the policy's template names the snapshot")
        asked_on = utc_day()
        made = rds.create_db_cluster_snapshot(
            DBClusterIdentifier="orders",
            Tags=[{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "dev"}],
        )
        generated = made["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"]
        # named for the day it was asked on, or the next if the call straddled midnight
        expected = {f"orders-manual-{day}" for day in (asked_on, utc_day())}
        print(table([["(none)", generated]], ["the call gave", "the snapshot is called"]))

        heading("4. A non-compliant call, stopped before it is sent")
        before = cluster_snapshot_count(plain)
        try:
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier="orders",
                DBClusterSnapshotIdentifier="test2",
                Tags=[{"Key": "Team", "Value": "orders"}, {"Key": "env", "Value": "qa"}],
            )
        except rds_guard.PolicyViolation as blocked:
            rows = [[v.rule, v.field, str(v.value), v.message] for v in blocked.violations]
            print(table(rows, ["rule", "field", "value", "message"]))
        else:
            print("error: the non-compliant call was not blocked", file=sys.stderr)
            return 1
        after = cluster_snapshot_count(plain)
        print(f"cluster snapshots before the call: {before}, after: {after} (nothing was sent)")

        heading("5. A cleanup job, stopped before it deletes a backup")
        # Placing a hold is allowed (and recorded); lifting one is not.
        rds.add_tags_to_resource(
            ResourceName=snapshot_arn(plain, generated),
            Tags=[{"Key": "legal-hold", "Value": "true"}],
        )
        before_job = cluster_snapshot_count(plain)
        rows = []
        for doomed in (name, generated):  # made a minute ago; on legal hold
            try:
                rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=doomed)
            except rds_guard.PolicyViolation as stopped:
                rows += [[doomed, v.rule, v.message] for v in stopped.violations]
            else:
                print(f"error: the cleanup job deleted {doomed}", file=sys.stderr)
                return 1
        print(table(rows, ["snapshot", "rule", "message"]))
        after_job = cluster_snapshot_count(plain)
        print(
            f"cluster snapshots before the job: {before_job}, after: {after_job} (nothing was sent)"
        )
        guard.uninstall()

    heading("6. The audit log the guarded calls wrote")
    shown = cli.main(["audit", "show", str(audit_path)])
    verified = cli.main(["audit", "verify", str(audit_path)])
    ok = kept == lost == sorted(cluster_keys) and generated in expected
    unsent = before == after and before_job == after_job
    fleet = fleet_ledger(workdir)
    return 0 if ok and shown == 0 and verified == 0 and unsent and fleet else 1


FLEET_LEDGER = """
[audit.ledger]
table = "rds-guard-audit"
region = "us-east-1"
"""


def fleet_ledger(workdir: Path) -> bool:
    """Scene 7: two hosts, one ledger. Each host's guard ships its log to the DynamoDB table
    (a thread of the guard); a checkpoint is signed (S3 with Object Lock, a KMS key); then
    someone with write access to the table edits host-a's first record and deletes its last,
    and ``verify --ledger`` finds both. True when it does."""
    from rds_guard.audit.ledger import Clients, parse_s3
    from rds_guard.audit.ledger.provision import provision

    heading("7. The fleet ledger: two hosts, one table, a signed checkpoint")
    policy = workdir / "fleet.toml"
    policy.write_text(POLICY.read_text() + FLEET_LEDGER)
    ledger = ["--ledger", "dynamodb://rds-guard-audit?region=us-east-1"]
    checkpoints = ["--checkpoints", "s3://rds-guard-demo-checkpoints/fleet/"]
    with mock_aws():
        clients = Clients("us-east-1")
        provision(clients, "rds-guard-audit", parse_s3(checkpoints[1]), "alias/rds-guard-demo")
        logs = []
        for host in ("host-a", "host-b"):
            log = workdir / host / "rds-guard-audit.jsonl"
            log.parent.mkdir()
            session = boto3.Session(region_name="us-east-1")
            guard = rds_guard.install(session, policy=policy, audit_path=log)
            rds = session.client("rds")
            make_cluster(rds, host, {"team": "orders", "env": "prod"}, copy_tags=True)
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier=host, DBClusterSnapshotIdentifier=f"{host}-daily-{TODAY}"
            )
            guard.uninstall()  # its shipping thread ships what is left first
            logs.append(log)
        print("each guard's thread shipped its records as they were written; nothing is left:")
        cli.main(["audit", "ship", *map(str, logs), *ledger])
        cli.main(
            ["audit", "checkpoint", *ledger, *checkpoints, "--kms-key", "alias/rds-guard-demo"]
        )
        first = logs[0].read_bytes().split(b"\n", 1)[0]
        stream = f"{clients.account()}/us-east-1/{rds_guard.audit.stream_id(first)}"
        print(f"(someone with write access to the table edits {stream} seq 1, deletes seq 2)")
        key = {"stream": {"S": stream}, "seq": {"N": "1"}}
        item = clients.dynamodb.get_item(TableName="rds-guard-audit", Key=key)["Item"]
        item["line"]["S"] = item["line"]["S"].replace('"env":"prod"', '"env":"dev"')
        clients.dynamodb.put_item(TableName="rds-guard-audit", Item=item)
        clients.dynamodb.delete_item(TableName="rds-guard-audit", Key=key | {"seq": {"N": "2"}})
        found = cli.main(["audit", "verify", *ledger, *checkpoints])
    print(f"verify --ledger exits {found}: the edit and the deletion are found")
    return found == 1


if __name__ == "__main__":
    sys.exit(main())

"""Edges of the pure core no other test of tests/core/ pins (each fails on the code changed
to break it): sharing values with spaces, export bucket wildcards whose parts would overlap,
forced values judged and nothing counted injected when the source's tags cannot be read, the
forced values reconcile holds a snapshot to, a cluster group delete keeping its backups only
with False itself, a cluster's delete without the exemptions of an instance's, every hold key
listed when the snapshot's tags cannot be read, and the longest template read."""

from __future__ import annotations

import pytest
from core_fixtures import (
    CLUSTER_COPY,
    CLUSTER_SNAPSHOT_ARN,
    CREATE,
    NOW,
    decide_call,
    each_call,
    make_policy,
    only,
    rules_of,
    run,
    tag_list,
)

from rds_guard.core.calls import DatabaseFacts, Lookups
from rds_guard.core.decide import UNREADABLE, evaluate
from rds_guard.core.rules import Wildcard
from rds_guard.core.tagging import judge_tag_set
from rds_guard.core.templates import MAX_TEMPLATE, TemplateSyntaxError, compile_template

# --- sharing: spaces around `all` ----------------------------------------------------------

SHARE_OPS = [
    ("rds", "ModifyDBSnapshotAttribute", "DBSnapshotIdentifier"),
    ("rds", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
    ("neptune", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
]


@each_call(SHARE_OPS)
@pytest.mark.parametrize("value", [" all", "all ", "\tALL\n"])
def test_all_with_spaces_around_it_is_sharing_public(service, operation, name, value):
    """docs/policy.md: `sharing.public` takes the value in any case, spaces around it ignored
    (any spelling AWS might read as `all`); with no accounts list nothing else stops it."""
    params = {name: "Orders-Manual-1", "AttributeName": "restore", "ValuesToAdd": [value]}
    decision, _ = run(make_policy(), operation, params, service=service)
    violation = only(decision, "sharing.public")
    assert (violation.field, violation.value) == ("ValuesToAdd", value)
    public = make_policy("[sharing]\npublic = true\n")
    assert run(public, operation, params, service=service)[0].allowed


# --- export: wildcard parts never overlap ----------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("acme-*-acme", ["acme--acme", "acme-x-acme"], ["acme-acme", "acme-"]),
        ("acme-*-dr-*-dr", ["acme--dr--dr", "acme-x-dr-y-dr"], ["acme-x-dr-dr", "acme-dr-dr"]),
        ("*-dr-*-dr", ["-dr--dr", "a-dr-b-dr"], ["a-dr-dr", "-dr-dr"]),
    ],
)
def test_a_wildcards_head_middle_and_tail_never_share_characters(pattern, matches, misses):
    """Each `*` stands for a run (empty too) between the literal parts: a name too short to
    hold every part one after another does not match, however its ends look."""
    wildcard = Wildcard(pattern)
    assert [name for name in matches if not wildcard.matches(name)] == []
    assert [name for name in misses if wildcard.matches(name)] == []


@pytest.mark.parametrize(
    ("buckets", "bucket"),
    [('["acme-*-acme"]', "acme-acme"), ('["acme-*-dr-*-dr"]', "acme-x-dr-dr")],
)
def test_an_export_to_a_bucket_the_wildcard_only_overlaps_is_export_bucket(buckets, bucket):
    """StartExportTask to a bucket whose name starts and ends as the wildcard does but is
    too short to hold its parts in order: `export.bucket`."""
    policy = make_policy(f"[export]\ns3_buckets = {buckets}\n")
    params = {
        "ExportTaskIdentifier": "orders-export-1",
        "SourceArn": CLUSTER_SNAPSHOT_ARN,
        "S3BucketName": bucket,
        "IamRoleArn": "arn:aws:iam::123456789012:role/export",
        "KmsKeyId": "alias/export",
    }
    decision = evaluate(policy, "StartExportTask", params, now=NOW)
    violation = only(decision, "export.bucket")
    assert (violation.field, violation.value) == ("S3BucketName", bucket)


# --- tags, when the source's tags cannot be read --------------------------------------------


def test_unreadable_source_tags_still_judge_a_rendered_forced_value():
    """The forced values are still judged when the source's tags cannot be read (they are
    what the policy would have written): a forced `{source}` breaking its pattern is
    `tags.pattern` beside `tags.inherit`."""
    policy = make_policy(
        '[tags.forced]\norigin = "{source}"\n[tags.patterns]\norigin = "^[a-z]+-db$"\n'
    )
    decision, reader = run(policy, CLUSTER_COPY.operation, CLUSTER_COPY.params(), source=UNREADABLE)
    assert reader.calls == 1
    assert rules_of(decision) == ["tags.inherit", "tags.pattern"]
    violation = only(decision, "tags.pattern")
    assert (violation.field, violation.value) == ("Tags.origin", "orders")


def test_unreadable_source_tags_inject_nothing_into_a_request_sent_as_made():
    """inherit = "always", caller Tags, source unreadable: in warn mode the request goes as the
    caller made it, so no key counts as injected (the record would claim a forced value the
    snapshot never got)."""
    policy = make_policy('mode = "warn"\n[tags]\ninherit = "always"\n[tags.forced]\nenv = "prod"\n')
    params = CREATE.params(Tags=tag_list({"env": "dev"}))
    decision, _ = run(policy, CREATE.operation, params, source=UNREADABLE)
    assert rules_of(decision) == ["tags.inherit"]
    assert decision.params == params
    assert decision.injected == ()
    assert dict(decision.tags) == {"env": "dev"}


# --- the tag set a snapshot carries now (reconcile's noncompliant) ----------------------------


def test_a_carried_forced_key_with_another_literal_value_is_tags_forced():
    """`judge_tag_set`: a forced key the snapshot carries with another value than the policy's
    fixed text is `tags.forced`; the forced value itself, or a forced template, is fine."""
    policy = make_policy('[tags.forced]\ncompliance = "pci"\nmade = "{utcnow:%Y}"\n')
    (violation,) = judge_tag_set(policy.tags, {"compliance": "none", "made": "1999"})
    assert (violation.rule, violation.field, violation.value) == (
        "tags.forced",
        "Tags.compliance",
        "none",
    )
    assert "'pci'" in violation.message
    assert judge_tag_set(policy.tags, {"compliance": "pci", "made": "1999"}) == []


# --- deletion ---------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [None, 0, ""])
def test_a_cluster_group_delete_keeps_its_backups_only_with_false_itself(given):
    """DeleteDBClusterGroup under "keep": only `DeleteAutomatedBackups=False` keeps them and is
    left alone; any other value (botocore refuses them) is judged as deleting them, as
    `SkipFinalSnapshot` is read by identity."""
    keep = make_policy('[deletion]\nautomated_backups = "keep"\n')
    params = {"DBClusterGroupIdentifier": "orders", "DeleteAutomatedBackups": given}
    decision = evaluate(keep, "DeleteDBClusterGroup", params, now=NOW)
    violation = only(decision, "deletion.automated_backups")
    assert violation.field == "DeleteAutomatedBackups"
    assert decision.recorded
    kept = {"DBClusterGroupIdentifier": "orders", "DeleteAutomatedBackups": False}
    assert evaluate(keep, "DeleteDBClusterGroup", kept, now=NOW).allowed


def test_a_cluster_delete_read_for_its_engine_gets_no_instance_exemption():
    """A Neptune client's DeleteDBCluster under "keep" reads the cluster for its engine; the
    exemptions from a final snapshot are an instance's (docs/backups.md), so whatever the
    facts say, skipping the final snapshot is still `deletion.final_snapshot`."""
    both = make_policy('[deletion]\nfinal_snapshot = "required"\nautomated_backups = "keep"\n')
    cluster = DatabaseFacts(replica_of="orders-primary", engine="aurora-postgresql", instance=False)
    decision = decide_call(
        both,
        "DeleteDBCluster",
        {"DBClusterIdentifier": "orders", "SkipFinalSnapshot": True},
        Lookups(database=lambda: cluster),
        service="neptune",
    )
    assert rules_of(decision) == ["deletion.final_snapshot", "deletion.automated_backups"]
    assert decision.notes == (
        "the delete takes the automated backups of orders with it (the neptune API cannot keep"
        " them)",
    )


def test_every_hold_key_touched_is_listed_when_the_tags_cannot_be_read():
    """RemoveTagsFromResource of two hold keys, the snapshot's tags unreadable: one
    `deletion.hold` for each key (a blocked call lists every violation)."""
    policy = make_policy('[deletion.hold_tags]\nlegal-hold = "true"\nlitigation = "case-42"\n')
    params = {"ResourceName": CLUSTER_SNAPSHOT_ARN, "TagKeys": ["legal-hold", "team", "litigation"]}
    decision = evaluate(policy, "RemoveTagsFromResource", params, source_tags=UNREADABLE, now=NOW)
    assert [(v.rule, v.field) for v in decision.violations] == [
        ("deletion.hold", "TagKeys.legal-hold"),
        ("deletion.hold", "TagKeys.litigation"),
    ]


# --- templates --------------------------------------------------------------------------------


def test_a_template_of_max_template_characters_is_read_and_one_more_is_not():
    """`MAX_TEMPLATE` (4096) characters are parsed; one more is refused unread."""
    assert compile_template("a" * MAX_TEMPLATE).literal_text == "a" * MAX_TEMPLATE
    with pytest.raises(TemplateSyntaxError, match=f"is {MAX_TEMPLATE + 1} characters long"):
        compile_template("a" * (MAX_TEMPLATE + 1))

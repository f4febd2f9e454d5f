"""tagging.py, through `decide`: AddTagsToResource and RemoveTagsFromResource, on a snapshot
and on anything else."""

from __future__ import annotations

import pytest
from core_fixtures import (
    CLUSTER_ARN,
    CLUSTER_SNAPSHOT_ARN,
    DB_ARN,
    DB_SNAPSHOT_ARN,
    RecordingReader,
    decide_call,
    make_policy,
    only,
    rules_of,
    run,
    tag_list,
)

from rds_guard.core.calls import Lookups, SnapshotFacts, Unreadable

# --- AddTagsToResource ------------------------------------------------------------------------


TAGGING = make_policy(
    """
    [tags]
    required = ["team"]
    [tags.defaults]
    managed-by = "g"
    [tags.forced]
    compliance = "pci"
    origin = "{source}"
    stack = "{env:STACK}"
    made-by = "{operation}"
    made-with = "{service}"
    made-on = "day-{utcnow:%Y-%m-%d}"
    home = "{region}"
    mixed = "{env:STACK}-{operation}"
    [tags.allowed]
    env = ["prod", "dev"]
    [tags.patterns]
    owner = "^[a-z]+$"
    """
)


def tagging(tags, *, arn=CLUSTER_SNAPSHOT_ARN, service="rds", environ=None):
    """AddTagsToResource of ``tags`` (a dict, or a raw list) on ``arn`` under `TAGGING`."""
    raw = tag_list(tags) if isinstance(tags, dict) else tags
    params = {"ResourceName": arn, "Tags": raw}
    decision, reader = run(TAGGING, "AddTagsToResource", params, service=service, environ=environ)
    assert reader.calls == 0
    return decision, params


@pytest.mark.parametrize("arn", [CLUSTER_ARN, DB_ARN, "orders-manual-1", "arn:aws:s3:::bucket"])
def test_tagging_anything_but_a_snapshot_passes_untouched(arn):
    """ARNs of other resources (and plain names) are neither judged nor recorded."""
    decision, params = tagging({"aws:x": "!", "compliance": "none"}, arn=arn)
    assert decision.allowed
    assert decision.recorded is False
    assert decision.params == params


@pytest.mark.parametrize(
    ("service", "arn", "snapshot"),
    [
        ("rds", DB_SNAPSHOT_ARN, "orders-manual-1"),
        ("docdb", CLUSTER_SNAPSHOT_ARN, "orders-manual-1"),
        ("neptune", CLUSTER_SNAPSHOT_ARN, "orders-manual-1"),
    ],
)
def test_tagging_a_snapshot_is_judged_and_recorded(service, arn, snapshot):
    """A compliant request on a snapshot ARN: allowed, recorded as `tagged`; nothing is added
    to it (defaults and required belong to creation), the request is as made."""
    decision, params = tagging({"env": "prod", "other": "x"}, arn=arn, service=service)
    assert decision.allowed
    assert decision.recorded is True
    assert decision.outcome == "tagged"
    assert decision.arn == arn
    assert decision.snapshot == snapshot
    assert dict(decision.tags) == {"env": "prod", "other": "x"}
    assert decision.params == params


def test_tagging_a_forced_key_with_another_value_is_tags_forced():
    """Setting a forced key to anything but its forced value: `tags.forced`."""
    decision, _ = tagging({"compliance": "none"})
    assert rules_of(decision) == ["tags.forced"]
    violation = only(decision, "tags.forced")
    assert (violation.field, violation.value) == ("Tags.compliance", "none")
    assert "'pci'" in violation.message


def test_tagging_a_forced_key_with_its_forced_value_is_fine():
    """Re-setting the forced value is allowed."""
    assert tagging({"compliance": "pci"})[0].allowed


def test_a_forced_source_value_cannot_be_set_by_tagging():
    """`{source}` has no value on a tag request: the forced key can only be written back as
    the snapshot carries it (field `Tags.<key>`, as for any tag)."""
    decision, _ = tagging({"origin": "orders"})
    violation = only(decision, "tags.forced")
    assert (violation.field, violation.value) == ("Tags.origin", "orders")
    assert "{source}" in violation.message
    assert "may only be written back as the snapshot carries it" in violation.message


@pytest.mark.parametrize(
    ("key", "placeholder", "value"),
    [
        ("made-by", "{operation}", "AddTagsToResource"),
        ("made-by", "{operation}", "CreateDBClusterSnapshot"),
        ("made-with", "{service}", "rds"),
        ("made-on", "{utcnow:%Y-%m-%d}", "day-2026-11-29"),
        ("mixed", "{operation}", "s1-AddTagsToResource"),
    ],
)
def test_a_forced_value_of_the_making_call_cannot_be_set_by_tagging(key, placeholder, value):
    """`{operation}`, `{service}` and `{utcnow}` are the making call's, as `{source}` is: a
    tag request cannot render what such a forced tag holds, so it may not set another value
    than the snapshot carries (its own operation's name included, which the snapshot never
    held); here the snapshot's tags are not known (the stand-in answers nothing)."""
    decision, _ = tagging({key: value})
    violation = only(decision, "tags.forced")
    assert (violation.field, violation.value) == (f"Tags.{key}", value)
    assert placeholder in violation.message
    assert violation.message.endswith("the snapshot carries it (its tags are not known here)")


def test_a_forced_value_of_the_making_call_may_be_written_back_as_the_snapshot_carries_it():
    """A tag-sync job writes the snapshot's tags back as they are: allowed, the snapshot's
    tags read once to tell; another value, or tags that cannot be read, are `tags.forced`
    saying what the snapshot carries or why it is not known."""
    carried = {"made-by": "CreateDBClusterSnapshot", "team": "core"}

    def retagging(tags, facts):
        snapshot = RecordingReader(facts)
        params = {"ResourceName": CLUSTER_SNAPSHOT_ARN, "Tags": tag_list(tags)}
        lookups = Lookups(snapshot=snapshot)
        return decide_call(TAGGING, "AddTagsToResource", params, lookups), snapshot

    decision, snapshot = retagging(carried, SnapshotFacts(None, carried))
    assert decision.allowed and snapshot.calls == 1
    for facts, says in (
        (SnapshotFacts(None, carried), "(it carries 'CreateDBClusterSnapshot')"),
        (SnapshotFacts(None, {"team": "core"}), "(it carries none)"),
        (Unreadable("AccessDenied"), "(its tags could not be read: AccessDenied)"),
        (Unreadable(), "(its tags could not be read: given as unreadable (rds_guard.UNREADABLE))"),
    ):
        decision, _ = retagging({"made-by": "CopyDBClusterSnapshot"}, facts)
        assert only(decision, "tags.forced").message.endswith(says)


def test_a_forced_region_value_is_judged_on_tagging():
    """`{region}` is the snapshot's region, the tag request's too: its value is judged."""
    assert tagging({"home": "us-east-1"})[0].allowed
    assert only(tagging({"home": "eu-west-1"})[0], "tags.forced").value == "eu-west-1"


def test_a_forced_env_value_is_judged_when_the_variable_is_set():
    """`{env:STACK}` set: the request must carry its value."""
    assert tagging({"stack": "s1"}, environ={"STACK": "s1"})[0].allowed
    decision, _ = tagging({"stack": "s2"}, environ={"STACK": "s1"})
    assert only(decision, "tags.forced").value == "s2"


def test_a_forced_env_value_with_the_variable_unset_is_template_env():
    """`{env:STACK}` unset: `template.env` on the policy key."""
    decision, _ = tagging({"stack": "s1"}, environ={})
    violation = only(decision, "template.env")
    assert (violation.field, violation.value) == ("tags.forced.stack", "STACK")


def test_forced_keys_not_in_the_request_are_not_judged():
    """Tagging other keys leaves forced keys alone (even unrenderable ones)."""
    assert tagging({"team": "t"}, environ={})[0].allowed


@pytest.mark.parametrize(("count", "allowed"), [(50, True), (51, False)])
def test_the_50_tag_limit_counts_the_request_only(count, allowed):
    """AddTagsToResource: the limit is judged on the request's own tags."""
    decision, _ = tagging({f"k{i}": "v" for i in range(count)})
    assert decision.allowed is allowed
    if not allowed:
        assert only(decision, "tags.aws").value == "51"


def test_tagging_rules_duplicate_aws_allowed_pattern():
    """`tags.duplicate`, `tags.aws`, `tags.allowed`, `tags.pattern` on the request."""
    decision, _ = tagging(
        [
            {"Key": "env", "Value": "qa"},
            {"Key": "env", "Value": "prod"},
            {"Key": "rds:x", "Value": "v"},
            {"Key": "owner", "Value": "Bob"},
        ]
    )
    assert sorted((v.rule, v.field) for v in decision.violations) == [
        ("tags.aws", "Tags.rds:x"),
        ("tags.duplicate", "Tags.env"),
        ("tags.pattern", "Tags.owner"),
    ]
    decision, _ = tagging({"env": "qa"})
    assert only(decision, "tags.allowed").value == "qa"


def test_malformed_tags_on_tagging_are_violations():
    """A malformed tag list on AddTagsToResource: `tags.aws`, no exception."""
    decision, _ = tagging("env=prod")
    assert only(decision, "tags.aws").field == "Tags"


# --- RemoveTagsFromResource -----------------------------------------------------------------


def untagging(keys, *, arn=DB_SNAPSHOT_ARN):
    """RemoveTagsFromResource of ``keys`` on ``arn`` under `TAGGING`."""
    params = {"ResourceName": arn, "TagKeys": keys}
    decision, _ = run(TAGGING, "RemoveTagsFromResource", params)
    return decision, params


def test_removing_a_required_or_forced_key_is_tags_protected():
    """Required and forced keys stay: `tags.protected` on `TagKeys.<key>`, once per key."""
    decision, params = untagging(["team", "other", "compliance", "team"])
    assert [(v.rule, v.field, v.value) for v in decision.violations] == [
        ("tags.protected", "TagKeys.team", "team"),
        ("tags.protected", "TagKeys.compliance", "compliance"),
    ]
    assert "required" in decision.violations[0].message
    assert "forced" in decision.violations[1].message
    assert decision.params == params


def test_removing_other_keys_is_recorded_as_untagged():
    """Other keys may be removed; the record lists them with None values."""
    decision, _ = untagging(["other", "Team"])
    assert decision.allowed
    assert decision.outcome == "untagged"
    assert dict(decision.tags) == {"other": None, "Team": None}
    assert decision.arn == DB_SNAPSHOT_ARN
    assert decision.snapshot == "orders-manual-1"


def test_removing_tags_from_another_resource_passes_untouched():
    """A cluster ARN: not judged, not recorded."""
    decision, params = untagging(["team"], arn=CLUSTER_ARN)
    assert decision.allowed
    assert decision.recorded is False
    assert decision.params == params

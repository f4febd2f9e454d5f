"""decide.py: which calls are judged, the caller's objects left alone, sharing and snapshot
deletes, on plain data.

`run` calls `decide.decide` with a recording source reader (standing in for the guard's
Describe calls) and a fixed environment; `evaluate` is the public offline entry point. What a
create or copy is named: test_naming.py; its tags: test_tagging.py, test_inheritance.py;
AddTagsToResource and RemoveTagsFromResource: test_tag_operations.py.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from clock import UtcDays
from core_fixtures import (
    CREATE,
    DEFAULT_TAG,
    NOW,
    each_call,
    each_op,
    judge,
    make_policy,
    only,
    rules_of,
    run,
    sent_tags,
)

from rds_guard.core.decide import evaluate

# --- which calls are judged -------------------------------------------------------------


def test_an_unguarded_operation_is_a_value_error():
    """evaluate() of an operation the guard does not hook: ValueError naming it."""
    with pytest.raises(ValueError, match="DescribeDBClusters"):
        evaluate(make_policy(), "DescribeDBClusters", {}, now=NOW)


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        *(
            (service, operation)
            for service in ("docdb", "neptune")
            for operation in (
                "CreateDBSnapshot",
                "CopyDBSnapshot",
                "ModifyDBSnapshotAttribute",
                "DeleteDBSnapshot",
            )
        )
    ],
)
def test_operations_a_service_does_not_have_are_value_errors(service, operation):
    """DocumentDB and Neptune have no DB-instance snapshots: those are not operations guarded
    there (their DeleteDBInstance is: on one endpoint it deletes an RDS database too)."""
    with pytest.raises(ValueError, match=f"{service} {operation} is not an operation"):
        evaluate(make_policy(), operation, {}, service=service, now=NOW)


@pytest.mark.parametrize(
    ("service", "words"),
    [
        ("s3", "service 's3': not a service rds_guard guards \\(rds, docdb, neptune\\)"),
        ("", "service '': not a service rds_guard guards"),
        ("RDS", "service 'RDS': write it in lowercase"),
    ],
)
def test_an_unknown_service_is_a_value_error(service, words):
    """A service name outside rds/docdb/neptune (spelt exactly): ValueError, which says when
    only the case is wrong."""
    with pytest.raises(ValueError, match=words):
        evaluate(make_policy(), "CreateDBClusterSnapshot", {}, service=service, now=NOW)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"policy": None}, "policy must be a Policy"),
        ({"operation": None}, "operation must be an operation's name, not NoneType"),
        ({"params": None}, "params must be a dict"),
        ({"params": [1, 2]}, "params must be a dict"),
        ({"now": "2026-11-29"}, "now must be an aware datetime or None, not str"),
        ({"snapshot_created": 0}, "snapshot_created must be an aware datetime or None, not int"),
        ({"service": None}, "service must be one of rds, docdb, neptune"),
        ({"region": 3}, "region must be a region's name or None, not int"),
    ],
)
def test_an_argument_of_the_wrong_type_is_a_type_error_naming_it(arguments, words):
    given = {
        "policy": make_policy(),
        "operation": "CreateDBClusterSnapshot",
        "params": {},
        "now": NOW,
    } | arguments
    with pytest.raises(TypeError, match=words):
        evaluate(given.pop("policy"), given.pop("operation"), given.pop("params"), **given)


@pytest.mark.parametrize(
    "table",
    ['[naming]\ngenerate = "{source}-{region}-x"', '[tags.defaults]\nregion = "{region}"'],
)
def test_a_policy_using_the_region_needs_one(table):
    """Without one, ``{region}`` rendered empty: a name `orders--x` the guard, whose client
    always has a region, would never judge (`identifier.aws`, two hyphens)."""
    policy = make_policy(table)
    params = {"DBClusterIdentifier": "orders"}
    if policy.naming.generate is None:
        params["DBClusterSnapshotIdentifier"] = "orders-1"
    with pytest.raises(ValueError, match=r"templates use \{region\}: pass region="):
        evaluate(policy, "CreateDBClusterSnapshot", params, now=NOW)
    decision = evaluate(policy, "CreateDBClusterSnapshot", params, now=NOW, region="eu-west-1")
    assert "eu-west-1" in (decision.snapshot or "") + str(decision.tags)
    assert decision.allowed


def test_a_service_the_policy_leaves_out_is_judged_all_the_same():
    """`services = ["rds"]`: the three APIs share one endpoint, so a docdb call is judged
    like any other: every rule, the source read, the call recorded."""
    policy = make_policy(
        """
        services = ["rds"]
        [naming]
        pattern = "^never$"
        generate = "gen-{source}"
        [tags]
        required = ["team"]
        [tags.forced]
        compliance = "pci"
        """
    )
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "1--bad-"}
    decision, reader = run(policy, "CreateDBClusterSnapshot", params, service="docdb", source={})
    assert rules_of(decision) == [
        "identifier.aws",
        "identifier.pattern",
        "tags.required",
    ]
    assert decision.recorded is True
    assert reader.calls == 1
    assert decision.params is not params


def test_a_service_the_policy_leaves_out_through_evaluate():
    """The public evaluate() gives the same answer: an rds call under a neptune-only policy."""
    policy = make_policy('services = ["neptune"]\n[naming]\npattern = "^never$"\n')
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "x"}
    decision = evaluate(policy, "CreateDBClusterSnapshot", params, service="rds", now=NOW)
    assert rules_of(decision) == ["identifier.pattern"]


def test_naive_now_is_a_value_error():
    """`now` must be aware: a naive datetime is refused."""
    with pytest.raises(ValueError, match="aware"):
        evaluate(DEFAULT_TAG, CREATE.operation, CREATE.params(), now=datetime(2026, 11, 29))


def test_aware_now_in_another_zone_renders_utcnow_in_utc():
    """`{utcnow}` is UTC whatever zone `now` is given in."""
    policy = make_policy('[naming]\ngenerate = "{source}-{utcnow}"\n')
    paris = NOW.astimezone(timezone(timedelta(hours=2)))
    decision = evaluate(policy, CREATE.operation, CREATE.params_without_identifier(), now=paris)
    assert decision.params[CREATE.identifier] == "orders-20261129T123456Z"


def test_now_defaults_to_the_current_time():
    """No `now`: the current UTC time feeds `{utcnow}`."""
    policy = make_policy('[naming]\ngenerate = "{source}-{utcnow:%Y}"\n')
    days = UtcDays()
    decision = evaluate(policy, CREATE.operation, CREATE.params_without_identifier())
    made = decision.params[CREATE.identifier]
    assert made == days.expect(lambda year: f"orders-{year}", made, "%Y")


# --- step 6: the caller's objects are never mutated -------------------------------------------


@each_op()
def test_the_callers_params_and_tags_are_never_mutated(op):
    """Generating an identifier and rewriting Tags happen on copies: the caller's dict, its
    Tags list and each tag dict compare equal before and after, and are not reused."""
    policy = make_policy(
        """
        [naming]
        generate = "{source}-manual-1"
        [tags]
        inherit = "always"
        [tags.defaults]
        managed-by = "g"
        [tags.forced]
        env = "prod"
        """
    )
    caller_tags = [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "t"}]
    params = op.params_without_identifier(Tags=caller_tags)
    source = {"cost": "1"}
    before, source_before = copy.deepcopy(params), copy.deepcopy(source)
    decision, _ = judge(op, policy, params, source=source)
    assert params == before
    assert source == source_before
    assert decision.params is not params
    assert decision.params["Tags"] is not caller_tags
    assert all(new is not old for new in decision.params["Tags"] for old in caller_tags)
    assert sent_tags(decision) == {"env": "prod", "team": "t", "cost": "1", "managed-by": "g"}


# --- sharing ------------------------------------------------------------------------------


SHARE_OPS = [
    ("rds", "ModifyDBSnapshotAttribute", "DBSnapshotIdentifier"),
    ("rds", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
    ("docdb", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
    ("neptune", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
]
each_share = each_call(SHARE_OPS)
PRIVATE = make_policy('[sharing]\naccounts = ["111122223333"]\n')


def share(policy, service, operation, name, **params):
    """Modify*SnapshotAttribute(AttributeName="restore", **params) on `Orders-Manual-1`."""
    params = {name: "Orders-Manual-1", "AttributeName": "restore", **params}
    decision, _ = run(policy, operation, params, service=service)
    return decision, params


@each_share
def test_sharing_with_all_is_sharing_public(service, operation, name):
    """`all` in ValuesToAdd: `sharing.public` unless `[sharing] public = true`."""
    decision, params = share(PRIVATE, service, operation, name, ValuesToAdd=["all"])
    assert rules_of(decision) == ["sharing.public"]
    assert decision.params == params
    public = make_policy("[sharing]\npublic = true\n")
    assert share(public, service, operation, name, ValuesToAdd=["all"])[0].allowed


@each_share
@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("Restore", "all"),
        (" restore", "ALL"),
        # as a service comparing as Java does reads them: equalsIgnoreCase takes the long s
        # for an s, and trim() drops every control character, NUL included
        ("re\u017ftore", "all"),
        ("restore\x00", "all"),
        ("restore", "all\x00"),
        ("restore", "\x01all"),
        ("\x08RESTORE\x1f", "ALL"),
    ],
)
def test_sharing_spelled_otherwise_is_judged_as_restore_and_all(
    service, operation, name, attribute, value
):
    """`Restore`, ` restore`, `ALL`, `reſtore`, `restore\\0`: AWS documents `restore` and
    `all`, and does not say it refuses other spellings, so the guard reads any it may take
    for them as those (fails closed): with no accounts list, nothing else stops them."""
    anyone = make_policy()
    params = {name: "Orders-Manual-1", "AttributeName": attribute, "ValuesToAdd": [value]}
    decision, _ = run(anyone, operation, params, service=service)
    assert rules_of(decision) == ["sharing.public"]
    assert decision.params == params


@each_share
def test_sharing_with_an_account_outside_the_list_is_sharing_account(service, operation, name):
    """An account not in `[sharing] accounts`: `sharing.account`; listed ones are fine."""
    decision, _ = share(
        PRIVATE, service, operation, name, ValuesToAdd=["111122223333", "444455556666"]
    )
    violation = only(decision, "sharing.account")
    assert (violation.field, violation.value) == ("ValuesToAdd", "444455556666")
    anyone = make_policy()
    assert share(anyone, service, operation, name, ValuesToAdd=["444455556666"])[0].allowed


@each_share
def test_removing_access_is_always_allowed_and_unshared(service, operation, name):
    """Removals, even of `all` or unlisted accounts: allowed, outcome `unshared`."""
    decision, _ = share(PRIVATE, service, operation, name, ValuesToRemove=["all", "444455556666"])
    assert decision.allowed
    assert decision.outcome == "unshared"
    assert decision.notes == ("removed: all, 444455556666",)
    assert decision.snapshot == "orders-manual-1"
    assert decision.recorded is True


@each_share
def test_adding_and_removing_is_shared_with_notes(service, operation, name):
    """Anything added: outcome `shared`, notes listing accounts added and removed."""
    decision, _ = share(
        PRIVATE,
        service,
        operation,
        name,
        ValuesToAdd=["111122223333"],
        ValuesToRemove=["444455556666"],
    )
    assert decision.allowed
    assert decision.outcome == "shared"
    assert decision.notes == ("added: 111122223333", "removed: 444455556666")


@each_share
def test_other_attributes_are_neither_judged_nor_recorded(service, operation, name):
    """An attribute other than `restore` passes untouched."""
    params = {name: "s", "AttributeName": "something-else", "ValuesToAdd": ["all"]}
    decision, _ = run(PRIVATE, operation, params, service=service)
    assert decision.allowed
    assert decision.recorded is False
    assert decision.params == params


@pytest.mark.parametrize(
    ("operation", "params", "fields"),
    [
        (
            "ModifyDBSnapshotAttribute",
            {"AttributeName": "restore", "ValuesToAdd": "all"},
            ["ValuesToAdd"],
        ),
        (
            "ModifyDBSnapshotAttribute",
            {"AttributeName": "restore", "ValuesToAdd": ["111122223333", 444455556666]},
            ["ValuesToAdd[1]"],
        ),
        (
            "ModifyDBSnapshotAttribute",
            {"AttributeName": "restore", "ValuesToAdd": None, "ValuesToRemove": "all"},
            ["ValuesToAdd", "ValuesToRemove"],
        ),
        ("RemoveTagsFromResource", {"TagKeys": "legal-hold"}, ["TagKeys"]),
    ],
)
def test_evaluate_names_a_list_parameter_botocore_would_refuse(operation, params, fields):
    """Offline no client refuses `ValuesToAdd="all"`, and the judges read a lone string as no
    values at all: evaluate() says `request.invalid` for it, as a guard on a client that does
    not validate does, instead of calling the call allowed."""
    arn = "arn:aws:rds:us-east-1:123456789012:snapshot:orders-manual-1"
    params = {"DBSnapshotIdentifier": "orders-manual-1", "ResourceName": arn, **params}
    policy = make_policy('[deletion.hold_tags]\nlegal-hold = "true"\n')
    decision = evaluate(policy, operation, params, source_tags={"legal-hold": "true"}, now=NOW)
    assert [(v.rule, v.field) for v in decision.violations] == [
        ("request.invalid", field) for field in fields
    ]
    listed = {"ValuesToAdd": ["all"], "ValuesToRemove": ["all"], "TagKeys": ["legal-hold"]}
    fixed = params | {name: listed[name] for name in listed if name in params}
    assert "request.invalid" not in rules_of(evaluate(policy, operation, fixed, now=NOW))


# --- snapshot deletes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "name"),
    [
        ("rds", "DeleteDBSnapshot", "DBSnapshotIdentifier"),
        ("rds", "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier"),
        ("docdb", "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier"),
        ("neptune", "DeleteDBClusterSnapshot", "DBClusterSnapshotIdentifier"),
    ],
)
def test_snapshot_deletes_are_recorded_not_judged(service, operation, name):
    """Deleting a snapshot is audit only: no rule applies, even to a non-compliant name."""
    policy = make_policy('[naming]\npattern = "^never$"\n[tags]\nrequired = ["team"]\n')
    params = {name: "Old-Name"}
    decision, reader = run(policy, operation, params, service=service)
    assert decision.allowed
    assert decision.recorded is True
    assert decision.outcome == "deleted"
    assert decision.snapshot == "old-name"
    assert decision.params == params
    assert reader.calls == 0

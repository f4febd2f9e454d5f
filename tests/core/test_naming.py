"""naming.py, through `decide`: an identifier filled in by `generate` or missing, AWS's
identifier rules and the naming pattern (steps 1-3 of a create or copy), and a delete's final
snapshot."""

from __future__ import annotations

import time

import pytest
from core_fixtures import (
    CLUSTER_COPY,
    CLUSTER_SNAPSHOT_ARN,
    CREATE,
    NOW,
    SNAPSHOT_OPS,
    each_op,
    judge,
    make_policy,
    only,
    rules_of,
    run,
    tag_list,
)

from rds_guard.core.decide import evaluate

# --- step 1: the identifier is filled in or missing -------------------------------------------


GENERATE = make_policy('[naming]\ngenerate = "{source}-manual-{utcnow:%Y%m%d}"\n')


@each_op()
def test_generate_fills_an_absent_identifier(op):
    """No identifier and a `generate` template: the guard fills it in (new params only)."""
    params = op.params_without_identifier()
    decision, _ = judge(op, GENERATE, params)
    assert decision.allowed
    assert decision.params[op.identifier] == "orders-manual-20261129"
    assert decision.snapshot == "orders-manual-20261129"
    assert op.identifier not in params


@each_op()
def test_generate_fills_a_none_identifier(op):
    """An identifier given as None counts as absent."""
    decision, _ = judge(op, GENERATE, op.params(**{op.identifier: None}))
    assert decision.params[op.identifier] == "orders-manual-20261129"
    assert decision.allowed


@each_op()
def test_an_empty_identifier_is_identifier_aws_not_generated(op):
    """ "" is an identifier AWS refuses, not a missing one: it is not replaced."""
    decision, _ = judge(op, GENERATE, op.params(**{op.identifier: ""}))
    assert rules_of(decision) == ["identifier.aws"]
    violation = only(decision, "identifier.aws")
    assert (violation.field, violation.value) == (op.identifier, "")
    assert decision.params[op.identifier] == ""


@each_op()
def test_no_identifier_and_no_generate_is_identifier_missing(op):
    """No identifier and no template: `identifier.missing` on the identifier parameter."""
    decision, _ = judge(op, make_policy(), op.params_without_identifier())
    assert rules_of(decision) == ["identifier.missing"]
    violation = only(decision, "identifier.missing")
    assert (violation.field, violation.value) == (op.identifier, None)
    assert "naming.generate" in violation.message
    assert op.identifier not in decision.params


def test_generate_renders_service_region_and_operation():
    """`{service}`, `{region}` and `{operation}` take the call's values."""
    policy = make_policy('[naming]\ngenerate = "{service}-{region}-{source}-{operation}"\n')
    decision, _ = run(
        policy,
        "CopyDBClusterSnapshot",
        CLUSTER_COPY.params_without_identifier(),
        service="neptune",
        region="eu-west-1",
    )
    assert decision.params["TargetDBClusterSnapshotIdentifier"] == (
        "neptune-eu-west-1-orders-CopyDBClusterSnapshot"
    )


def test_evaluate_passes_region_to_templates():
    """evaluate(region=...) feeds `{region}`; without it, a policy using `{region}` is a
    `ValueError` (it rendered empty, judging a name no guard would make)."""
    policy = make_policy('[naming]\ngenerate = "{source}-{region}x"\n')
    params = CREATE.params_without_identifier()
    decision = evaluate(policy, CREATE.operation, params, region="eu-west-1", now=NOW)
    assert decision.params[CREATE.identifier] == "orders-eu-west-1x"
    with pytest.raises(ValueError, match="pass region="):
        evaluate(policy, CREATE.operation, params, now=NOW)


def test_a_generated_identifier_is_judged_like_any_other():
    """A template that renders an identifier AWS refuses gives `identifier.aws`: 64
    characters for a source named orders (a shorter name would fit, so the policy loads)."""
    policy = make_policy('[naming]\ngenerate = "{source}-' + "x" * 57 + '"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params_without_identifier())
    violation = only(decision, "identifier.aws")
    assert violation.value == "orders-" + "x" * 57
    assert "is 64" in violation.message


def test_generate_with_an_unset_env_variable_is_template_env():
    """`{env:X}` unset in `generate`: `template.env`, field the policy key, value X."""
    policy = make_policy('[naming]\ngenerate = "{source}-{env:SNAP_SUFFIX}"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params_without_identifier(), environ={})
    assert rules_of(decision) == ["template.env"]
    violation = only(decision, "template.env")
    assert (violation.field, violation.value) == ("naming.generate", "SNAP_SUFFIX")
    assert "SNAP_SUFFIX" in violation.message
    assert CREATE.identifier not in decision.params


def test_generate_with_a_set_env_variable_uses_it():
    """`{env:X}` set: its value is part of the identifier."""
    policy = make_policy('[naming]\ngenerate = "{source}-{env:SNAP_SUFFIX}"\n')
    decision, _ = run(
        policy,
        CREATE.operation,
        CREATE.params_without_identifier(),
        environ={"SNAP_SUFFIX": "nightly"},
    )
    assert decision.params[CREATE.identifier] == "orders-nightly"


def test_an_override_generate_with_an_unset_env_names_the_override_key():
    """The template.env field is the policy key that holds the template."""
    policy = make_policy(
        '[naming]\ngenerate = "x-{source}"\n'
        '[naming.operations.CopyDBClusterSnapshot]\ngenerate = "dr-{env:DR_TAG}"\n'
    )
    decision, _ = run(policy, CLUSTER_COPY.operation, CLUSTER_COPY.params_without_identifier())
    violation = only(decision, "template.env")
    assert violation.field == "naming.operations.CopyDBClusterSnapshot.generate"
    assert violation.value == "DR_TAG"


@pytest.mark.parametrize(
    ("naming", "key"),
    [
        ('[naming]\ngenerate = "{source}-manual"\n', "naming.generate"),
        (
            '[naming.operations.CreateDBClusterSnapshot]\ngenerate = "{source}-manual"\n',
            "naming.operations.CreateDBClusterSnapshot.generate",
        ),
    ],
)
def test_generate_without_a_source_is_identifier_missing_on_the_identifier(naming, key):
    """`{source}` in `generate` and no source in the request: `identifier.missing` whose field
    is the identifier parameter (not the policy key), saying why generate could not fill it."""
    params = CREATE.params_without_identifier()
    del params[CREATE.source]
    decision, _ = run(make_policy(naming), CREATE.operation, params)
    assert rules_of(decision) == ["identifier.missing"]
    violation = only(decision, "identifier.missing")
    assert (violation.field, violation.value) == (CREATE.identifier, None)
    assert key in violation.message
    assert "{source} has no value" in violation.message
    assert CREATE.identifier not in decision.params


# --- step 2: AWS's identifier rules ---------------------------------------------------------


@each_op()
def test_identifier_length_limit_per_operation(op):
    """Cluster snapshots: 63 characters; DB snapshots: 255."""
    fits, _ = judge(op, make_policy(), op.params(**{op.identifier: "a" * op.limit}))
    assert fits.allowed
    too_long, _ = judge(op, make_policy(), op.params(**{op.identifier: "a" * (op.limit + 1)}))
    violation = only(too_long, "identifier.aws")
    assert violation.field == op.identifier
    assert f"1 to {op.limit} characters" in violation.message


@each_op()
def test_the_naming_pattern_is_not_run_past_the_length_limit(op):
    """An identifier longer than the operation's limit is identifier.aws alone: the pattern,
    which may be quadratic (this one takes seconds on 64 KB), is not run on it."""
    policy = make_policy('[naming]\npattern = "^[a-z]+[a-z0-9]+-x$"\n')
    at_limit, _ = judge(op, policy, op.params(**{op.identifier: "a" * op.limit}))
    assert rules_of(at_limit) == ["identifier.pattern"]
    over, _ = judge(op, policy, op.params(**{op.identifier: "a" * (op.limit + 1)}))
    assert rules_of(over) == ["identifier.aws"]
    started = time.perf_counter()
    huge, _ = judge(op, policy, op.params(**{op.identifier: "a" * 65536}))
    assert rules_of(huge) == ["identifier.aws"]
    assert time.perf_counter() - started < 1


def test_a_source_longer_than_any_aws_identifier_is_refused_without_running_the_pattern():
    """`{source}` is compiled into the pattern: a source longer than any AWS identifier (255)
    names nothing AWS has, so the pattern is not compiled for it: identifier.pattern saying
    why (the call cannot succeed anyway), and a megabyte source takes no time."""
    policy = make_policy('[naming]\npattern = "^({source})?-?orders-.+$"\n')
    op = SNAPSHOT_OPS[-1]  # rds CopyDBSnapshot
    longest, _ = judge(op, policy, op.params(**{op.source: "a" * 255}))
    assert longest.allowed
    longer, _ = judge(op, policy, op.params(**{op.source: "a" * 256}))
    violation = only(longer, "identifier.pattern")
    assert (violation.field, violation.value) == (op.identifier, "orders-manual-1")
    assert "not run" in violation.message
    assert "256 characters" in violation.message
    started = time.perf_counter()
    arn = "arn:aws:rds:us-east-1:123456789012:snapshot:" + "a" * 2**20
    huge, _ = judge(op, policy, op.params(**{op.source: arn}))
    assert rules_of(huge) == ["identifier.pattern"]
    assert len(only(huge, "identifier.pattern").message) < 200
    assert time.perf_counter() - started < 0.5
    plain, _ = judge(
        op, make_policy('[naming]\npattern = "^orders-.+$"\n'), op.params(**{op.source: arn})
    )
    assert plain.allowed


def test_a_tag_pattern_is_not_run_on_a_value_past_aws_s_limit():
    """A tag value over 256 characters is tags.aws; tags.pattern is not judged on it."""
    policy = make_policy('[tags.patterns]\nowner = "^[a-z]+[a-z0-9]+-x$"\n')
    params = CREATE.params(Tags=tag_list({"owner": "a" * 300}))
    decision, _ = run(policy, CREATE.operation, params)
    assert rules_of(decision) == ["tags.aws"]


@pytest.mark.parametrize("identifier", ["1orders", "orders-", "orders--1", "ordérs", "a_b"])
def test_identifier_aws_rules_apply(identifier):
    """First a letter, no trailing hyphen, no `--`, ASCII letters/digits/hyphens only."""
    decision, _ = run(
        make_policy(), CREATE.operation, CREATE.params(**{CREATE.identifier: identifier})
    )
    assert rules_of(decision) == ["identifier.aws"]


def test_a_non_string_identifier_is_a_violation_not_an_exception():
    """An int identifier: `identifier.aws`; the naming pattern is not tried on it."""
    policy = make_policy('[naming]\npattern = "^x$"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params(**{CREATE.identifier: 42}))
    assert rules_of(decision) == ["identifier.aws"]
    assert decision.snapshot is None


# --- step 3: the naming pattern ---------------------------------------------------------------


NAMING = make_policy('[naming]\npattern = "^{source}-(daily|manual)-[0-9]{8}$"\n')


@each_op()
def test_pattern_is_matched_on_the_lowercased_identifier(op):
    """AWS stores identifiers lowercased: `Orders-Manual-…` matches a lowercase pattern."""
    decision, _ = judge(op, NAMING, op.params(**{op.identifier: "Orders-Manual-20261129"}))
    assert decision.allowed
    assert decision.snapshot == "orders-manual-20261129"


@each_op()
def test_an_identifier_not_matching_the_pattern_is_identifier_pattern(op):
    """A mismatch: `identifier.pattern`, the value as given, the lowercased form and the
    pattern in the message."""
    decision, _ = judge(op, NAMING, op.params(**{op.identifier: "Orders-Weekly-20261129"}))
    assert rules_of(decision) == ["identifier.pattern"]
    violation = only(decision, "identifier.pattern")
    assert (violation.field, violation.value) == (op.identifier, "Orders-Weekly-20261129")
    assert "'orders-weekly-20261129'" in violation.message
    assert "does not match the naming pattern" in violation.message
    assert "-(daily|manual)-[0-9]{8}$" in violation.message


def test_pattern_source_is_taken_from_the_caller_source():
    """`{source}` is the call's source: another source's name does not match."""
    params = CREATE.params(**{CREATE.identifier: "billing-daily-20261129"})
    decision, _ = run(NAMING, CREATE.operation, params)
    assert rules_of(decision) == ["identifier.pattern"]


def test_pattern_source_from_an_arn_loses_its_prefix_and_case():
    """A copy whose source is an ARN: `{source}` is the lowercased name after the ARN."""
    policy = make_policy('[naming]\npattern = "^dr-{source}$"\n')
    params = CLUSTER_COPY.params(
        SourceDBClusterSnapshotIdentifier=CLUSTER_SNAPSHOT_ARN,
        TargetDBClusterSnapshotIdentifier="dr-orders-manual-1",
    )
    decision, _ = run(policy, CLUSTER_COPY.operation, params)
    assert decision.allowed
    assert decision.source == "orders-manual-1"


@pytest.mark.parametrize(
    "source",
    [
        "rds:orders-2026-11-29-00-05",
        "RDS:Orders-2026-11-29-00-05",
        "arn:aws:rds:us-east-1:123456789012:snapshot:rds:orders-2026-11-29-00-05",
    ],
)
def test_pattern_source_from_an_automated_snapshot_loses_rds_prefix(source):
    """Automated snapshots are named `rds:…`: `{source}` drops that prefix (ARN or not)."""
    policy = make_policy('[naming]\npattern = "^{source}-kept$"\ngenerate = "{source}-kept"\n')
    params = {"SourceDBSnapshotIdentifier": source}
    decision, _ = run(policy, "CopyDBSnapshot", params)
    assert decision.allowed
    assert decision.params["TargetDBSnapshotIdentifier"] == "orders-2026-11-29-00-05-kept"
    assert decision.source == "orders-2026-11-29-00-05"


def test_utcnow_uppercase_t_and_z_are_seen_lowercased_by_the_pattern():
    """`{utcnow}` renders `T`/`Z`; the pattern, written in lowercase, sees `t`/`z`."""
    policy = make_policy(
        '[naming]\ngenerate = "{source}-{utcnow}"\npattern = "^{source}-[0-9]{8}t[0-9]{6}z$"\n'
    )
    decision, _ = run(policy, CREATE.operation, CREATE.params_without_identifier())
    assert decision.params[CREATE.identifier] == "orders-20261129T123456Z"
    assert decision.allowed


OVERRIDES = make_policy(
    """
    [naming]
    pattern = "^{source}-manual-[0-9]+$"
    generate = "{source}-manual-{utcnow:%Y%m%d}"
    [naming.operations.CopyDBClusterSnapshot]
    pattern = "^dr-[a-z-]+$"
    [naming.operations.CopyDBSnapshot]
    generate = "{source}-manual-99"
    """
)
# (The copy pattern holds no {source}: with ^dr-{source}$ the top generate's name would break
# it for every source, and the policy would be refused at load.)


def test_a_per_operation_pattern_replaces_the_top_level_one():
    """CopyDBClusterSnapshot has its own pattern: `dr-orders` passes there and only there."""
    copy_ok, _ = run(
        OVERRIDES,
        CLUSTER_COPY.operation,
        CLUSTER_COPY.params(**{CLUSTER_COPY.identifier: "dr-orders"}),
    )
    assert copy_ok.allowed
    copy_bad, _ = run(
        OVERRIDES,
        CLUSTER_COPY.operation,
        CLUSTER_COPY.params(**{CLUSTER_COPY.identifier: "orders-manual-1"}),
    )
    assert rules_of(copy_bad) == ["identifier.pattern"]
    create, _ = run(OVERRIDES, CREATE.operation, CREATE.params(**{CREATE.identifier: "dr-orders"}))
    assert rules_of(create) == ["identifier.pattern"]


def test_an_override_without_generate_keeps_the_top_level_generate():
    """The copy override sets only a pattern; the identifier comes from the top generate."""
    decision, _ = run(OVERRIDES, CLUSTER_COPY.operation, CLUSTER_COPY.params_without_identifier())
    assert decision.params[CLUSTER_COPY.identifier] == "orders-manual-20261129"
    assert rules_of(decision) == ["identifier.pattern"]  # the override wants dr-...


def test_an_override_generate_with_the_top_level_pattern():
    """CopyDBSnapshot overrides only generate; the top pattern judges its result."""
    decision, _ = run(OVERRIDES, "CopyDBSnapshot", {"SourceDBSnapshotIdentifier": "orders"})
    assert decision.params["TargetDBSnapshotIdentifier"] == "orders-manual-99"
    assert decision.allowed


# --- deletes with a final snapshot -----------------------------------------------------------


FINAL_OPS = [
    ("rds", "DeleteDBCluster", "DBClusterIdentifier", 63),
    ("docdb", "DeleteDBCluster", "DBClusterIdentifier", 63),
    ("neptune", "DeleteDBCluster", "DBClusterIdentifier", 63),
    ("rds", "DeleteDBInstance", "DBInstanceIdentifier", 255),
]
each_final = pytest.mark.parametrize(
    ("service", "operation", "source", "limit"),
    FINAL_OPS,
    ids=[f"{s}-{o}" for s, o, *_ in FINAL_OPS],
)


@each_final
def test_final_snapshot_identifier_limit(service, operation, source, limit):
    """A final snapshot's identifier follows AWS's rules: 63 for clusters, 255 for instances."""
    ok, _ = run(
        make_policy(),
        operation,
        {source: "orders", "FinalDBSnapshotIdentifier": "a" * limit},
        service=service,
    )
    assert ok.allowed
    assert ok.outcome == "created"
    params = {source: "orders", "FinalDBSnapshotIdentifier": "a" * (limit + 1)}
    too_long, _ = run(make_policy(), operation, params, service=service)
    violation = only(too_long, "identifier.aws")
    assert violation.field == "FinalDBSnapshotIdentifier"


@each_final
def test_final_snapshot_follows_the_naming_pattern_with_its_source(
    service, operation, source, limit
):
    """The naming pattern applies, `{source}` being the cluster or instance deleted."""
    policy = make_policy('[naming]\npattern = "^{source}-final$"\n')
    params = {source: "Orders", "FinalDBSnapshotIdentifier": "Orders-Final"}
    decision, _ = run(policy, operation, params, service=service)
    assert decision.allowed
    assert (decision.snapshot, decision.source) == ("orders-final", "orders")
    params = {source: "orders", "FinalDBSnapshotIdentifier": "final-orders"}
    decision, _ = run(policy, operation, params, service=service)
    assert rules_of(decision) == ["identifier.pattern"]


def test_final_snapshot_uses_its_per_operation_override():
    """`[naming.operations.DeleteDBInstance]` replaces the top pattern for that delete only."""
    policy = make_policy(
        '[naming]\npattern = "^{source}-manual$"\n'
        '[naming.operations.DeleteDBInstance]\npattern = "^{source}-last$"\n'
    )
    params = {"DBInstanceIdentifier": "orders", "FinalDBSnapshotIdentifier": "orders-last"}
    assert run(policy, "DeleteDBInstance", params)[0].allowed
    params = {"DBClusterIdentifier": "orders", "FinalDBSnapshotIdentifier": "orders-last"}
    assert rules_of(run(policy, "DeleteDBCluster", params)[0]) == ["identifier.pattern"]


@each_final
@pytest.mark.parametrize(
    "extra", [{}, {"SkipFinalSnapshot": True}, {"FinalDBSnapshotIdentifier": None}]
)
def test_a_delete_without_a_final_snapshot_is_recorded_never_named(
    service, operation, source, limit, extra
):
    """No final snapshot: never `generate`d and nothing named; under a policy without
    `[deletion]` rules it is allowed, params as made, nothing read, and recorded as a delete
    (its outcome `deleted`, no snapshot)."""
    params = {source: "orders", **extra}
    decision, reader = run(GENERATE, operation, params, service=service)
    assert decision.recorded is True
    assert decision.allowed
    assert decision.params == params
    assert (decision.outcome, decision.snapshot) == ("deleted", None)
    assert reader.calls == 0


@each_final
def test_a_final_snapshot_gets_no_tag_rules(service, operation, source, limit):
    """Its tags are AWS's (CopyTagsToSnapshot): no Tags added, no required judged, no read."""
    policy = make_policy(
        '[tags]\nrequired = ["team"]\n[tags.defaults]\nm = "g"\n[tags.forced]\nc = "pci"\n'
    )
    params = {source: "orders", "FinalDBSnapshotIdentifier": "orders-final"}
    decision, reader = run(policy, operation, params, service=service, source={"x": "y"})
    assert decision.allowed
    assert decision.params == params
    assert reader.calls == 0
    assert decision.injected == ()


def test_generate_for_a_source_that_is_not_a_name_says_so():
    """A source of the wrong type is no missing source: the message says what it is."""
    params = CREATE.params_without_identifier()
    params[CREATE.source] = 5
    decision, _ = judge(CREATE, GENERATE, params)
    message = only(decision, "identifier.missing").message
    assert f"its {CREATE.source} is int, not a name" in message


@pytest.mark.parametrize(
    ("given", "why"),
    [
        (5, f"its {CREATE.source} is int, not a name"),
        (None, f"the request names no {CREATE.source}"),
    ],
)
def test_a_pattern_with_source_for_a_source_that_is_not_a_name_says_so(given, why):
    """The pattern's `{source}` has no value: for a source given as a number the message
    says so (it said the call names no source, which hid the wrong type)."""
    params = CREATE.params()
    params[CREATE.source] = given
    decision, _ = judge(CREATE, make_policy('[naming]\npattern = "^{source}-x$"\n'), params)
    message = only(decision, "identifier.pattern").message
    assert message.endswith(f"({{source}} has no value: {why})")


def test_a_source_with_hyphens_is_shown_as_named_in_the_pattern() -> None:
    """The message shows the pattern with the source filled in: RE2's quoting made it
    ``^orders\\-db-copy$`` for a source ``orders-db``, a pattern no one wrote. A hyphen
    outside a class is itself in RE2, and the pattern still holds the name as text (a dot
    in it stays quoted)."""
    policy = make_policy('[naming]\npattern = "^{source}-copy$"\n')
    for source, shown in (("orders-db", "^orders-db-copy$"), ("a.b", "^a\\.b-copy$")):
        decision = evaluate(
            policy,
            "CreateDBClusterSnapshot",
            {"DBClusterIdentifier": source, "DBClusterSnapshotIdentifier": "x-db-copy"},
        )
        (violation,) = decision.violations
        assert violation.message.endswith(f"does not match the naming pattern {shown}")
        matching = f"{source}-copy"
        allowed = evaluate(
            policy,
            "CreateDBClusterSnapshot",
            {"DBClusterIdentifier": source, "DBClusterSnapshotIdentifier": matching},
        )
        assert [v.rule for v in allowed.violations] == (
            [] if source == "orders-db" else ["identifier.aws"]
        )


def test_a_pattern_too_large_for_rds_with_a_long_source_says_it_was_not_run() -> None:
    """A pattern within RE2's budget at load (its ``{source}`` a short sample) that RE2
    cannot compile with a 255-character source matches nothing: the call is blocked, and the
    message said the name did not match a pattern it does match."""
    policy = make_policy(
        "[naming]\npattern = '(?:{source}){1000}|(?:{source}){1000}|(?:{source}){1000}|snap'\n"
    )
    params = {"SourceDBSnapshotIdentifier": "a" * 255, "TargetDBSnapshotIdentifier": "snap"}
    (violation,) = evaluate(policy, "CopyDBSnapshot", params).violations
    assert violation.rule == "identifier.pattern"
    assert "does not match" not in violation.message
    assert violation.message.endswith(
        "was not run: with its {source} a name of 255 characters, it is larger than RE2 can compile"
    )
    short = {**params, "SourceDBSnapshotIdentifier": "ab"}
    assert evaluate(policy, "CopyDBSnapshot", short).violations == ()

"""decide.py: what a guarded call gets, judged on plain data.

`run` calls `decide.decide` with a recording source reader (standing in for the guard's
Describe calls) and a fixed environment; `evaluate` is the public offline entry point.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from core_fixtures import (
    CLUSTER_ARN,
    CLUSTER_SNAPSHOT_ARN,
    DB_ARN,
    DB_SNAPSHOT_ARN,
    NOW,
    make_policy,
    only,
    rules_of,
    run,
    sent_tags,
    tag_list,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from rds_guard.core.decide import UNREADABLE, evaluate


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


def judge(op: SnapshotOp, policy, params, **kwargs):
    """`run` for one SnapshotOp."""
    return run(policy, op.operation, params, service=op.service, **kwargs)


DEFAULT_TAG = make_policy('[tags.defaults]\nmanaged-by = "rds-guard"\n')
INHERITING_CHOICES = ("true", '"always"')


# --- which calls are judged -------------------------------------------------------------


def test_an_unguarded_operation_is_a_value_error():
    """evaluate() of an operation the guard does not hook: ValueError naming it."""
    with pytest.raises(ValueError, match="DescribeDBClusters"):
        evaluate(make_policy(), "DescribeDBClusters", {}, now=NOW)


@pytest.mark.parametrize("service", ["docdb", "neptune"])
@pytest.mark.parametrize(
    "operation",
    [
        "CreateDBSnapshot",
        "CopyDBSnapshot",
        "DeleteDBInstance",
        "ModifyDBSnapshotAttribute",
        "DeleteDBSnapshot",
    ],
)
def test_rds_only_operations_are_value_errors_on_docdb_and_neptune(service, operation):
    """DocumentDB and Neptune have no DB-instance snapshots: not guarded there."""
    with pytest.raises(ValueError, match=f"{service} {operation} is not an operation"):
        evaluate(make_policy(), operation, {}, service=service, now=NOW)


@pytest.mark.parametrize("service", ["s3", "RDS", ""])
def test_an_unknown_service_is_a_value_error(service):
    """A service name outside rds/docdb/neptune (spelt exactly): ValueError."""
    with pytest.raises(ValueError, match="is not an operation rds_guard guards"):
        evaluate(make_policy(), "CreateDBClusterSnapshot", {}, service=service, now=NOW)


def test_a_service_outside_the_policy_is_allowed_with_params_unchanged():
    """`services = ["rds"]`: a docdb call that would break every rule is allowed as made,
    not recorded, and the source is never read."""
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
    decision, reader = run(policy, "CreateDBClusterSnapshot", params, service="docdb")
    assert decision.allowed
    assert decision.violations == ()
    assert decision.params == params
    assert decision.params is not params
    assert decision.recorded is False
    assert decision.injected == ()
    assert reader.calls == 0


def test_service_outside_the_policy_through_evaluate():
    """The public evaluate() gives the same answer."""
    policy = make_policy('services = ["neptune"]\n[naming]\npattern = "^never$"\n')
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "x"}
    decision = evaluate(policy, "CreateDBClusterSnapshot", params, service="rds", now=NOW)
    assert decision.allowed
    assert decision.params == params


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
    before = datetime.now(UTC).year
    decision = evaluate(policy, CREATE.operation, CREATE.params_without_identifier())
    assert decision.params[CREATE.identifier] in {f"orders-{before}", f"orders-{before + 1}"}


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
    """evaluate(region=...) feeds `{region}`; without it `{region}` renders empty."""
    policy = make_policy('[naming]\ngenerate = "{source}-{region}x"\n')
    params = CREATE.params_without_identifier()
    decision = evaluate(policy, CREATE.operation, params, region="eu-west-1", now=NOW)
    assert decision.params[CREATE.identifier] == "orders-eu-west-1x"
    decision = evaluate(policy, CREATE.operation, params, now=NOW)
    assert decision.params[CREATE.identifier] == "orders-x"


def test_a_generated_identifier_is_judged_like_any_other():
    """A template that renders an identifier AWS refuses gives `identifier.aws`."""
    policy = make_policy('[naming]\ngenerate = "{source}--{utcnow:%Y}-"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params_without_identifier())
    violation = only(decision, "identifier.aws")
    assert violation.value == "orders--2026-"


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
    pattern = "^dr-{source}$"
    [naming.operations.CopyDBSnapshot]
    generate = "{source}-manual-99"
    """
)


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
    assert rules_of(decision) == ["identifier.pattern"]  # the override wants dr-orders


def test_an_override_generate_with_the_top_level_pattern():
    """CopyDBSnapshot overrides only generate; the top pattern judges its result."""
    decision, _ = run(OVERRIDES, "CopyDBSnapshot", {"SourceDBSnapshotIdentifier": "orders"})
    assert decision.params["TargetDBSnapshotIdentifier"] == "orders-manual-99"
    assert decision.allowed


# --- step 4: tag precedence ------------------------------------------------------------------


def test_forced_beats_the_caller():
    """A forced value replaces the caller's, and the key counts as injected."""
    policy = make_policy('[tags.forced]\nenv = "prod"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params(Tags=tag_list({"env": "dev"})))
    assert sent_tags(decision) == {"env": "prod"}
    assert decision.injected == ("env",)


def test_the_caller_beats_defaults():
    """A default is set only when the caller did not send the key."""
    policy = make_policy('[tags.defaults]\nowner = "ops"\nmanaged-by = "rds-guard"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params(Tags=tag_list({"owner": "me"})))
    assert sent_tags(decision) == {"owner": "me", "managed-by": "rds-guard"}
    assert decision.injected == ("managed-by",)


def test_inherited_beats_defaults():
    """A source tag is kept over a default for the same key; the default fills the rest."""
    policy = make_policy('[tags.defaults]\nowner = "ops"\nmanaged-by = "rds-guard"\n')
    decision, reader = run(
        policy, CREATE.operation, CREATE.params(), source={"owner": "src", "team": "t"}
    )
    assert reader.calls == 1
    assert sent_tags(decision) == {"owner": "src", "team": "t", "managed-by": "rds-guard"}
    assert decision.inherited == ("owner", "team")
    assert decision.injected == ("managed-by",)


def test_the_caller_beats_inherited():
    """inherit = "always": the caller's value wins a clash with the source's."""
    policy = make_policy('[tags]\ninherit = "always"\n[tags.defaults]\nmanaged-by = "g"\n')
    decision, _ = run(
        policy,
        CREATE.operation,
        CREATE.params(Tags=tag_list({"team": "mine"})),
        source={"team": "theirs", "cost": "1"},
    )
    assert sent_tags(decision) == {"team": "mine", "cost": "1", "managed-by": "g"}
    assert decision.inherited == ("cost",)


def test_forced_beats_inherited():
    """A forced key replaces an inherited value and is injected, not inherited."""
    policy = make_policy('[tags.forced]\nenv = "prod"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params(), source={"env": "dev", "t": "x"})
    assert sent_tags(decision) == {"env": "prod", "t": "x"}
    assert decision.injected == ("env",)
    assert decision.inherited == ("t",)


def test_forced_beats_a_default_for_the_same_key():
    """A key both defaulted and forced takes the forced value."""
    policy = make_policy('[tags.defaults]\nenv = "dev"\n[tags.forced]\nenv = "prod"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params())
    assert sent_tags(decision) == {"env": "prod"}
    assert decision.injected == ("env",)


def test_all_four_layers_at_once():
    """forced > caller > inherited > defaults, each key from its highest layer; the request
    carries the whole final set, the caller's keys first."""
    policy = make_policy(
        """
        [tags]
        inherit = "always"
        [tags.defaults]
        a = "default"
        b = "default"
        c = "default"
        d = "default"
        [tags.forced]
        a = "forced"
        """
    )
    decision, _ = run(
        policy,
        CREATE.operation,
        CREATE.params(Tags=tag_list({"a": "caller", "b": "caller"})),
        source={"a": "source", "b": "source", "c": "source"},
    )
    assert decision.params["Tags"] == tag_list(
        {"a": "forced", "b": "caller", "c": "source", "d": "default"}
    )
    assert dict(decision.tags) == {"a": "forced", "b": "caller", "c": "source", "d": "default"}
    assert decision.injected == ("a", "d")
    assert decision.inherited == ("c",)


_KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
_LAYER = st.dictionaries(_KEYS, st.sampled_from(["1", "2", "3"]), max_size=5)


@settings(max_examples=60, deadline=None)
@given(caller=_LAYER, inherited=_LAYER, defaults=_LAYER, forced=_LAYER)
def test_precedence_holds_for_any_layers(caller, inherited, defaults, forced):
    """For any four layers (inherit = "always"): each key takes forced > caller > inherited >
    defaults; injected are the keys the policy added or changed; inherited the source's keys
    that no higher layer replaced."""
    table = "".join(f'{k} = "{v}"\n' for k, v in defaults.items())
    forced_table = "".join(f'{k} = "{v}"\n' for k, v in forced.items())
    policy = make_policy(
        f'[tags]\ninherit = "always"\nrequired = ["zz"]\n'
        f"[tags.defaults]\n{table}[tags.forced]\n{forced_table}"
    )
    params = CREATE.params(Tags=tag_list(caller)) if caller else CREATE.params()
    decision, _ = run(policy, CREATE.operation, params, source=inherited)
    expected = {**defaults, **inherited, **caller, **forced}
    assert dict(decision.tags) == expected
    below = {**inherited, **caller}
    assert set(decision.injected) == {
        k
        for k in expected
        if (k in forced and below.get(k) != forced[k])
        or (k not in forced and k in defaults and k not in below)
    }
    assert set(decision.inherited) == set(inherited) - set(caller) - set(forced)
    aws_would_set = caller if caller else inherited
    if expected == aws_would_set:
        assert decision.params == params
    else:
        assert sent_tags(decision) == expected


# --- step 4: inherit modes -----------------------------------------------------------------


@each_op()
def test_inherit_true_keeps_the_source_tags_when_the_caller_sent_none(op):
    """inherit = true, no Tags: the source's tags (what AWS would copy) plus the policy's."""
    decision, reader = judge(op, DEFAULT_TAG, op.params(), source={"team": "orders"})
    assert reader.calls == 1
    assert sent_tags(decision) == {"team": "orders", "managed-by": "rds-guard"}
    assert decision.inherited == ("team",)
    assert decision.injected == ("managed-by",)


@each_op()
def test_inherit_true_copies_nothing_when_the_caller_sent_tags(op):
    """inherit = true, the caller sent Tags: AWS copies nothing and neither does the guard;
    the source is not even read."""
    params = op.params(Tags=tag_list({"team": "mine"}))
    decision, reader = judge(op, DEFAULT_TAG, params, source={"cost": "1"})
    assert reader.calls == 0
    assert sent_tags(decision) == {"team": "mine", "managed-by": "rds-guard"}
    assert decision.inherited == ()


@each_op()
def test_inherit_always_keeps_the_source_tags_even_with_caller_tags(op):
    """inherit = "always": the source's tags are merged into the caller's, the caller wins."""
    policy = make_policy('[tags]\ninherit = "always"\n[tags.defaults]\nmanaged-by = "g"\n')
    params = op.params(Tags=tag_list({"team": "mine"}))
    decision, reader = judge(op, policy, params, source={"team": "theirs", "cost": "1"})
    assert reader.calls == 1
    assert sent_tags(decision) == {"team": "mine", "cost": "1", "managed-by": "g"}
    assert decision.inherited == ("cost",)


@each_op()
def test_inherit_false_never_reads_the_source(op):
    """inherit = false: never read; the policy's tags are sent alone (AWS's copy is off)."""
    policy = make_policy(
        '[tags]\ninherit = false\nrequired = ["managed-by"]\n[tags.defaults]\nmanaged-by = "g"\n'
    )
    decision, reader = judge(op, policy, op.params(), source={"team": "orders"})
    assert reader.calls == 0
    assert sent_tags(decision) == {"managed-by": "g"}
    assert decision.inherited == ()
    assert decision.allowed


@each_op([op for op in SNAPSHOT_OPS if op.is_copy])
@pytest.mark.parametrize("inherit", INHERITING_CHOICES)
@pytest.mark.parametrize("copy_tags", [None, False, "true", 1])
def test_a_copy_inherits_only_with_copy_tags_true(op, inherit, copy_tags):
    """Copy* passes the source's tags on only when CopyTags is True: otherwise the source is
    not read and nothing is inherited."""
    policy = make_policy(f'[tags]\ninherit = {inherit}\n[tags.defaults]\nmanaged-by = "g"\n')
    params = op.params(CopyTags=copy_tags)
    decision, reader = judge(op, policy, params, source={"team": "orders"})
    assert reader.calls == 0
    assert sent_tags(decision) == {"managed-by": "g"}
    assert decision.inherited == ()


@each_op([op for op in SNAPSHOT_OPS if not op.is_copy])
def test_a_create_whose_source_passes_nothing_on(op):
    """The source's flag is off (the reader answers None): nothing inherited, defaults sent."""
    decision, reader = judge(op, DEFAULT_TAG, op.params(), source=None)
    assert reader.calls == 1
    assert sent_tags(decision) == {"managed-by": "rds-guard"}
    assert decision.inherited == ()
    assert decision.injected == ("managed-by",)


@pytest.mark.parametrize("inherit", INHERITING_CHOICES)
def test_inherited_aws_keys_are_never_sent(inherit):
    """`aws:` keys of the source (any case) are AWS's own system tags: never sent, never
    counted as inherited."""
    policy = make_policy(f'[tags]\ninherit = {inherit}\n[tags.defaults]\nmanaged-by = "g"\n')
    source = {"aws:cloudformation:stack-name": "s", "AWS:backup:plan": "p", "team": "t"}
    decision, _ = run(policy, CREATE.operation, CREATE.params(), source=source)
    assert sent_tags(decision) == {"team": "t", "managed-by": "g"}
    assert decision.inherited == ("team",)
    assert decision.allowed


# --- step 4: Tags are written only when the policy adds or changes one -----------------------


@each_op()
def test_a_policy_adding_no_tags_leaves_the_params_as_made(op):
    """No defaults, forced or tag rules: params equal the input (no Tags key) and the source
    is not read, whatever it would pass on."""
    policy = make_policy('[naming]\npattern = "^orders-.+$"\n')
    params = op.params()
    decision, reader = judge(op, policy, params, source={"team": "orders"})
    assert decision.params == params
    assert "Tags" not in decision.params
    assert reader.calls == 0
    assert decision.injected == ()


@each_op()
def test_tag_rules_alone_read_the_source_but_change_nothing(op):
    """Only `required`: the source is read to judge it; the request stays as made."""
    policy = make_policy('[tags]\nrequired = ["team"]\n')
    params = op.params()
    decision, reader = judge(op, policy, params, source={"team": "orders"})
    assert reader.calls == 1
    assert decision.allowed
    assert decision.params == params
    assert "Tags" not in decision.params
    assert decision.inherited == ("team",)


def test_inherit_always_alone_makes_no_extra_call():
    """inherit = "always" with no defaults, forced or rules: "a policy that adds no tags and
    has no tag rules makes no extra call at all" - the source is not read, the request is
    as made even though AWS will copy nothing."""
    policy = make_policy('[tags]\ninherit = "always"\n')
    params = CREATE.params(Tags=tag_list({"team": "t"}))
    decision, reader = run(policy, CREATE.operation, params, source={"cost": "1"})
    assert reader.calls == 0
    assert decision.params == params


def test_inherit_always_with_rules_merges_the_source_tags():
    """inherit = "always" with a rule: the source is read, and since the rules judge what the
    snapshot will carry, the merged set is written (the guard adds the inherited tags)."""
    policy = make_policy('[tags]\ninherit = "always"\nrequired = ["cost"]\n')
    params = CREATE.params(Tags=tag_list({"team": "t"}))
    decision, reader = run(policy, CREATE.operation, params, source={"cost": "1"})
    assert reader.calls == 1
    assert decision.allowed
    assert sent_tags(decision) == {"team": "t", "cost": "1"}
    assert decision.inherited == ("cost",)
    assert decision.injected == ()


def test_caller_tags_already_holding_every_default_are_left_alone():
    """The caller set every default key: nothing added, the request is as made."""
    policy = make_policy('[tags.defaults]\nowner = "ops"\n')
    params = CREATE.params(Tags=tag_list({"owner": "me", "team": "t"}))
    decision, _ = run(policy, CREATE.operation, params)
    assert decision.params == params
    assert decision.injected == ()


def test_a_forced_value_the_caller_already_sent_changes_nothing():
    """The caller sent the forced value: not injected, not rewritten."""
    policy = make_policy('[tags.forced]\nenv = "prod"\n')
    params = CREATE.params(Tags=tag_list({"env": "prod"}))
    decision, _ = run(policy, CREATE.operation, params)
    assert decision.params == params
    assert decision.injected == ()


def test_inherited_tags_covering_every_default_are_left_to_aws():
    """The source passes on every default key: AWS's copy already gives the final set, so
    no Tags are sent (sending them would change nothing but could drop `aws:` tags)."""
    decision, reader = run(
        DEFAULT_TAG,
        CREATE.operation,
        CREATE.params(),
        source={"managed-by": "old", "aws:x": "y"},
    )
    assert reader.calls == 1
    assert "Tags" not in decision.params
    assert decision.injected == ()
    assert decision.inherited == ("managed-by",)


# --- step 4: the source's tags cannot be read ------------------------------------------------


@each_op()
def test_unreadable_source_tags_is_tags_inherit_and_the_params_are_unchanged(op):
    """The source would pass its tags on but they cannot be read: `tags.inherit` naming the
    source and the three ways out; the request keeps no policy tag."""
    params = op.params()
    decision, reader = judge(op, DEFAULT_TAG, params, source=UNREADABLE)
    assert reader.calls == 1
    assert rules_of(decision) == ["tags.inherit"]
    violation = only(decision, "tags.inherit")
    assert (violation.field, violation.value) == (op.source, "orders")
    assert "could not be read" in violation.message
    assert "grant read access to the source" in violation.message
    assert "send Tags explicitly" in violation.message
    assert "inherit = false" in violation.message
    assert decision.params == params
    assert decision.injected == ()
    assert decision.inherited == ()
    assert not decision.allowed


def test_unreadable_source_tags_sends_no_forced_tag_either():
    """Not even a forced tag is written: sending any Tags would drop what the source passes
    on, so in warn mode the call goes exactly as the caller made it."""
    policy = make_policy('mode = "warn"\n[tags.forced]\ncompliance = "pci"\n')
    params = CREATE.params()
    decision, _ = run(policy, CREATE.operation, params, source=UNREADABLE)
    assert rules_of(decision) == ["tags.inherit"]
    assert decision.params == params
    assert decision.injected == ()


def test_unknown_source_tags_record_the_tags_actually_sent():
    """Source tags unknown (unreadable, or not read because the identifier already blocks in
    enforce): `Decision.tags`, which the audit record stores, is what the request carries (the
    caller's tags), not the forced ones; the forced values are still judged."""
    warn = make_policy('mode = "warn"\n[tags.forced]\ncompliance = "pci"\n')
    unread = evaluate(warn, CREATE.operation, CREATE.params(), source_tags=UNREADABLE, now=NOW)
    assert "Tags" not in unread.params
    assert dict(unread.tags) == {}
    params = CREATE.params(Tags=tag_list({"team": "t"}))
    always = make_policy('mode = "warn"\n[tags]\ninherit = "always"\n[tags.forced]\nc = "p"\n')
    decision, _ = run(always, CREATE.operation, params, source=UNREADABLE)
    assert sent_tags(decision) == {"team": "t"}
    assert dict(decision.tags) == {"team": "t"}
    blocked, reader = run(
        make_policy('[tags.forced]\nstack = "{env:STACK}"\n[tags.patterns]\nstack = "^[a-z]+$"\n'),
        CREATE.operation,
        CREATE.params(**{CREATE.identifier: "1bad"}),
        source={},
        environ={"STACK": "Bad Stack"},
    )
    assert reader.calls == 0
    assert rules_of(blocked) == ["identifier.aws", "tags.pattern"]
    assert dict(blocked.tags) == {}


def test_unreadable_source_tags_leaves_required_unjudged():
    """Rules that depend on the unread tags are not judged: no `tags.required`."""
    policy = make_policy('[tags]\nrequired = ["team"]\n[tags.defaults]\nmanaged-by = "g"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params(), source=UNREADABLE)
    assert rules_of(decision) == ["tags.inherit"]


def test_unreadable_source_tags_still_judges_the_callers_tags():
    """inherit = "always" with caller Tags: the caller's own values are still judged."""
    policy = make_policy(
        '[tags]\ninherit = "always"\n[tags.allowed]\nenv = ["prod"]\n[tags.defaults]\nm = "g"\n'
    )
    params = CREATE.params(Tags=tag_list({"env": "qa"}))
    decision, _ = run(policy, CREATE.operation, params, source=UNREADABLE)
    assert sorted(rules_of(decision)) == ["tags.allowed", "tags.inherit"]
    assert decision.params == params


@pytest.mark.parametrize("inherit", ["true", '"always"'])
def test_unreadable_source_with_tag_rules_only_is_no_tags_inherit(inherit):
    """A policy that only judges tags (no defaults, no forced) adds nothing, so it cannot drop
    what the source passes on (e.g. a cross-region copy with CopyTags=True): no `tags.inherit`,
    and the rules that depend on the unread tags (`required`) are not judged."""
    policy = make_policy(
        f'[tags]\ninherit = {inherit}\nrequired = ["team"]\n'
        '[tags.allowed]\nenv = ["prod"]\n[tags.patterns]\nowner = "^[a-z]+$"\n'
    )
    params = CLUSTER_COPY.params()
    decision, reader = run(policy, CLUSTER_COPY.operation, params, source=UNREADABLE)
    assert reader.calls == 1
    assert decision.allowed
    assert decision.params == params
    assert dict(decision.tags) == {}
    # With caller Tags, inherit = true inherits nothing: the caller's set is the whole set,
    # so `required` is judged; "always" would have merged the unread tags in, so it is not.
    params = CLUSTER_COPY.params(Tags=tag_list({"env": "qa"}))
    judged, _ = run(policy, CLUSTER_COPY.operation, params, source=UNREADABLE)
    expected = ["tags.required", "tags.allowed"] if inherit == "true" else ["tags.allowed"]
    assert rules_of(judged) == expected


def test_unreadable_does_not_matter_with_inherit_false():
    """inherit = false never reads the source, so it cannot fail to read it."""
    policy = make_policy('[tags]\ninherit = false\n[tags.defaults]\nmanaged-by = "g"\n')
    decision, reader = run(policy, CREATE.operation, CREATE.params(), source=UNREADABLE)
    assert reader.calls == 0
    assert decision.allowed
    assert sent_tags(decision) == {"managed-by": "g"}


def test_unreadable_does_not_matter_when_the_caller_sent_tags():
    """inherit = true and caller Tags: AWS copies nothing, the source is not needed."""
    params = CREATE.params(Tags=tag_list({"team": "t"}))
    decision, reader = run(DEFAULT_TAG, CREATE.operation, params, source=UNREADABLE)
    assert reader.calls == 0
    assert decision.allowed
    assert sent_tags(decision) == {"team": "t", "managed-by": "rds-guard"}


def test_unreadable_with_inherit_always_and_caller_tags():
    """inherit = "always" needs the source's tags even when the caller sent Tags."""
    policy = make_policy('[tags]\ninherit = "always"\n[tags.defaults]\nmanaged-by = "g"\n')
    params = CREATE.params(Tags=tag_list({"team": "t"}))
    decision, _ = run(policy, CREATE.operation, params, source=UNREADABLE)
    assert rules_of(decision) == ["tags.inherit"]
    assert decision.params == params


def test_evaluate_takes_source_tags_offline():
    """evaluate(source_tags=...): a dict is what the source passes on, None nothing,
    UNREADABLE a source whose tags could not be read."""
    params = CREATE.params()
    kept = evaluate(DEFAULT_TAG, CREATE.operation, params, source_tags={"team": "t"}, now=NOW)
    assert sent_tags(kept) == {"team": "t", "managed-by": "rds-guard"}
    assert kept.inherited == ("team",)
    nothing = evaluate(DEFAULT_TAG, CREATE.operation, params, source_tags=None, now=NOW)
    assert sent_tags(nothing) == {"managed-by": "rds-guard"}
    unread = evaluate(DEFAULT_TAG, CREATE.operation, params, source_tags=UNREADABLE, now=NOW)
    assert rules_of(unread) == ["tags.inherit"]
    assert unread.params == params


@pytest.mark.parametrize(
    ("source_tags", "message"),
    [
        ({"team": 1}, "must map str to str, not str to int"),
        ({1: "a"}, "must map str to str, not int to str"),
        ({"team": None}, "must map str to str, not str to NoneType"),
        ([("team", "a")], "not list"),
        ("team=a", "not str"),
        ({("team",)}, "not set"),
    ],
)
def test_evaluate_refuses_source_tags_that_are_no_mapping_of_str_to_str(source_tags, message):
    """`source_tags` is None, UNREADABLE or a mapping of str to str: anything else is a clear
    TypeError (never a silent 'nothing inherited', never a TypeError from deep inside)."""
    with pytest.raises(TypeError, match="source_tags") as raised:
        evaluate(DEFAULT_TAG, CREATE.operation, CREATE.params(), source_tags=source_tags, now=NOW)
    assert message in str(raised.value)


# --- when the source is read ----------------------------------------------------------------


REQUIRED_AND_DEFAULT = make_policy(
    '[naming]\npattern = "^orders-.+$"\n'
    '[tags]\nrequired = ["team"]\n[tags.defaults]\nmanaged-by = "g"\n'
)


@pytest.mark.parametrize(
    ("identifier", "rule"),
    [
        (None, "identifier.missing"),
        ("orders--bad", "identifier.aws"),
        ("billing-1", "identifier.pattern"),
    ],
)
def test_enforce_identifier_violation_means_the_source_is_never_read(identifier, rule):
    """enforce: the identifier alone blocks the call, so the source is not read and rules
    that depend on inherited tags (here the missing `team`) are not judged."""
    params = CREATE.params(**{CREATE.identifier: identifier})
    decision, reader = run(REQUIRED_AND_DEFAULT, CREATE.operation, params, source={})
    assert reader.calls == 0
    assert rules_of(decision) == [rule]
    assert decision.params == params


def test_warn_mode_reads_the_source_despite_an_identifier_violation():
    """warn: the call goes on, so its tags are completed and judged: the source is read once
    and `tags.required` is reported next to the identifier problem."""
    policy = make_policy('mode = "warn"\n[tags]\nrequired = ["team"]\n[tags.defaults]\nm = "g"\n')
    decision, reader = run(
        policy, CREATE.operation, CREATE.params(**{CREATE.identifier: "1bad"}), source={}
    )
    assert reader.calls == 1
    assert rules_of(decision) == ["identifier.aws", "tags.required"]
    assert sent_tags(decision) == {"m": "g"}


@each_op()
def test_the_source_is_read_at_most_once(op):
    """However many rules and tags, one read per call."""
    policy = make_policy(
        '[tags]\nrequired = ["team"]\n[tags.allowed]\nteam = ["a"]\n'
        '[tags.patterns]\nteam = "a"\n[tags.defaults]\nx = "1"\n[tags.forced]\ny = "2"\n'
    )
    decision, reader = judge(op, policy, op.params(), source={"team": "a"})
    assert reader.calls == 1
    assert decision.allowed


# --- template.env in tags ---------------------------------------------------------------------


OWNER_FROM_ENV = make_policy(
    '[tags.defaults]\nowner = "{env:APP_OWNER}"\nmanaged-by = "g"\n'
    '[tags.forced]\nstack = "{env:STACK}"\n'
)


def test_unset_env_in_a_default_is_template_env_and_the_other_tags_still_go():
    """`{env:X}` unset: `template.env`, field the policy key, value the variable's name; the
    tag is left out, the others are still sent."""
    decision, _ = run(OWNER_FROM_ENV, CREATE.operation, CREATE.params(), environ={"STACK": "s1"})
    assert rules_of(decision) == ["template.env"]
    violation = only(decision, "template.env")
    assert (violation.field, violation.value) == ("tags.defaults.owner", "APP_OWNER")
    assert violation.message == "environment variable APP_OWNER is not set"
    assert sent_tags(decision) == {"managed-by": "g", "stack": "s1"}


def test_unset_env_in_a_forced_tag_is_template_env():
    """The same for a forced value: its field is `tags.forced.<key>`."""
    decision, _ = run(OWNER_FROM_ENV, CREATE.operation, CREATE.params(), environ={"APP_OWNER": "o"})
    violation = only(decision, "template.env")
    assert (violation.field, violation.value) == ("tags.forced.stack", "STACK")


def test_a_source_default_without_a_source_is_simply_not_added():
    """`{source}` in a default and no source in the request: the default is left out, with
    no violation from the defaults table (botocore refuses a call without its source anyway)."""
    policy = make_policy('[tags.defaults]\norigin = "{source}"\nmanaged-by = "g"\n')
    params = CREATE.params()
    del params[CREATE.source]
    decision, _ = run(policy, CREATE.operation, params)
    assert decision.allowed
    assert sent_tags(decision) == {"managed-by": "g"}


def test_a_source_forced_tag_without_a_source_is_tags_forced_on_the_tag():
    """`{source}` in a forced value and no source: `tags.forced` on `Tags.<key>`."""
    policy = make_policy('[tags.forced]\norigin = "{source}"\n')
    params = CREATE.params()
    del params[CREATE.source]
    decision, _ = run(policy, CREATE.operation, params)
    assert rules_of(decision) == ["tags.forced"]
    violation = only(decision, "tags.forced")
    assert (violation.field, violation.value) == ("Tags.origin", None)
    assert "{source}" in violation.message


def test_env_values_are_rendered_into_tags():
    """Set variables fill their tags; they count as injected."""
    decision, _ = run(
        OWNER_FROM_ENV,
        CREATE.operation,
        CREATE.params(),
        environ={"APP_OWNER": "ops@example.com", "STACK": "s1"},
    )
    assert decision.allowed
    assert sent_tags(decision) == {"owner": "ops@example.com", "managed-by": "g", "stack": "s1"}
    assert decision.injected == ("owner", "managed-by", "stack")


def test_evaluate_reads_the_process_environment(monkeypatch):
    """evaluate() renders `{env:X}` from os.environ."""
    monkeypatch.setenv("APP_OWNER", "ops@example.com")
    monkeypatch.delenv("STACK", raising=False)
    decision = evaluate(OWNER_FROM_ENV, CREATE.operation, CREATE.params(), now=NOW)
    assert sent_tags(decision)["owner"] == "ops@example.com"
    assert only(decision, "template.env").value == "STACK"


def test_utcnow_and_source_render_into_tags():
    """`{utcnow:…}` and `{source}` in defaults take the call's values."""
    policy = make_policy('[tags.defaults]\ncreated = "{utcnow:%Y-%m-%d}"\nfrom = "{source}"\n')
    decision, _ = run(
        policy,
        CLUSTER_COPY.operation,
        CLUSTER_COPY.params(SourceDBClusterSnapshotIdentifier=CLUSTER_SNAPSHOT_ARN),
    )
    assert sent_tags(decision) == {"created": "2026-11-29", "from": "orders-manual-1"}


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


# --- step 5: rules on the final tag set ----------------------------------------------------


def test_a_key_twice_in_the_callers_list_is_tags_duplicate():
    """`tags.duplicate` on the key given twice."""
    params = CREATE.params(Tags=[{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "b"}])
    decision, _ = run(make_policy(), CREATE.operation, params)
    violation = only(decision, "tags.duplicate")
    assert violation.field == "Tags.team"
    assert decision.params == params


def test_a_reserved_key_from_the_caller_is_tags_aws():
    """The caller's `aws:`-prefixed key breaks AWS's rules (only inherited ones are dropped)."""
    params = CREATE.params(Tags=tag_list({"aws:team": "x"}))
    decision, _ = run(make_policy(), CREATE.operation, params)
    assert only(decision, "tags.aws").field == "Tags.aws:team"


def test_a_rendered_default_breaking_aws_rules_is_tags_aws():
    """A value rendered from the environment is judged like any other."""
    policy = make_policy('[tags.defaults]\nowner = "{env:APP_OWNER}"\n')
    decision, _ = run(
        policy, CREATE.operation, CREATE.params(), environ={"APP_OWNER": "ops!example"}
    )
    violation = only(decision, "tags.aws")
    assert (violation.field, violation.value) == ("Tags.owner", "ops!example")


def test_inherited_tags_are_judged_too():
    """Inherited tags are what the snapshot will carry: `tags.allowed` judges them."""
    policy = make_policy('[tags.allowed]\nenv = ["prod", "staging"]\n[tags.defaults]\nm = "g"\n')
    decision, _ = run(policy, CREATE.operation, CREATE.params(), source={"env": "qa"})
    violation = only(decision, "tags.allowed")
    assert (violation.field, violation.value) == ("Tags.env", "qa")


@pytest.mark.parametrize(("caller_count", "allowed"), [(47, True), (48, False)])
def test_the_50_tag_limit_counts_the_final_set(caller_count, allowed):
    """Caller tags plus the policy's three defaults: 50 is fine, 51 is `tags.aws`."""
    policy = make_policy('[tags.defaults]\nd1 = "x"\nd2 = "x"\nd3 = "x"\n')
    caller = {f"k{i}": "v" for i in range(caller_count)}
    decision, _ = run(policy, CREATE.operation, CREATE.params(Tags=tag_list(caller)))
    assert decision.allowed is allowed
    if not allowed:
        violation = only(decision, "tags.aws")
        assert (violation.field, violation.value) == ("Tags", "51")


def test_the_50_tag_limit_counts_inherited_tags():
    """49 inherited tags plus 2 defaults: 51 on the snapshot."""
    policy = make_policy('[tags.defaults]\nd1 = "x"\nd2 = "x"\n')
    source = {f"k{i}": "v" for i in range(49)}
    decision, _ = run(policy, CREATE.operation, CREATE.params(), source=source)
    assert only(decision, "tags.aws").value == "51"


REQUIRED = make_policy('[tags]\nrequired = ["team", "env"]\n')


def test_a_missing_required_tag_with_the_case_hint():
    """`Team` for a required `team`: `tags.required` pointing at `Team`."""
    params = CREATE.params(Tags=tag_list({"Team": "a", "env": "prod"}))
    decision, _ = run(REQUIRED, CREATE.operation, params)
    violation = only(decision, "tags.required")
    assert violation.field == "Tags.team"
    assert "there is 'Team'" in violation.message


@pytest.mark.parametrize(
    ("policy_body", "caller", "source"),
    [
        ('[tags.defaults]\nteam = "d"\nenv = "d"\n', {}, None),
        ('[tags.forced]\nteam = "f"\nenv = "f"\n', {}, None),
        ("", {}, {"team": "s", "env": "s"}),
        ("", {"team": "c", "env": "c"}, None),
        ('[tags.defaults]\nenv = "d"\n', {}, {"team": "s"}),
    ],
    ids=["defaults", "forced", "inherited", "caller", "mixed"],
)
def test_required_tags_may_come_from_any_layer(policy_body, caller, source):
    """Required keys are judged after defaults and inheritance."""
    policy = make_policy('[tags]\nrequired = ["team", "env"]\n' + policy_body)
    params = CREATE.params(Tags=tag_list(caller)) if caller else CREATE.params()
    decision, _ = run(policy, CREATE.operation, params, source=source)
    assert decision.allowed, decision.violations


def test_allowed_values_and_patterns_judge_the_callers_tags():
    """`tags.allowed` (with a glob) and `tags.pattern` (full match) on the final values."""
    policy = make_policy(
        '[tags.allowed]\ncc = ["CC-*"]\n[tags.patterns]\nowner = "[a-z.]+@example\\\\.com"\n'
    )
    good = CREATE.params(Tags=tag_list({"cc": "CC-12", "owner": "a.b@example.com"}))
    assert run(policy, CREATE.operation, good)[0].allowed
    bad = CREATE.params(Tags=tag_list({"cc": "XX-12", "owner": "a.b@example.com.evil"}))
    decision, _ = run(policy, CREATE.operation, bad)
    assert [(v.rule, v.field) for v in decision.violations] == [
        ("tags.allowed", "Tags.cc"),
        ("tags.pattern", "Tags.owner"),
    ]


# --- malformed Tags: violations, not exceptions ----------------------------------------------


@pytest.mark.parametrize(
    ("tags", "field", "message"),
    [
        ({"team": "a"}, "Tags", "must be a list of {Key, Value}, not dict"),
        ("team=a", "Tags", "must be a list of {Key, Value}, not str"),
        ([{"Value": "a"}], "Tags[0]", "tag has no Key"),
        ([{"Key": "t", "Value": "a"}, "team"], "Tags[1]", "tag has no Key"),
        ([{"Key": 5, "Value": "a"}], "Tags[0]", "tag Key must be a string, not int"),
        ([{"Key": "team", "Value": 5}], "Tags.team", "value must be a string"),
    ],
)
def test_malformed_tags_are_violations_not_exceptions(tags, field, message):
    """A Tags value that is not a list of {Key, Value} strings: `tags.aws`, and the request
    is not rewritten (the policy's tags are not merged into a list it cannot read)."""
    params = CREATE.params(Tags=tags)
    decision, reader = run(DEFAULT_TAG, CREATE.operation, params, source={"x": "y"})
    violation = only(decision, "tags.aws")
    assert (violation.field, violation.message) == (field, message)
    assert decision.params == params
    assert reader.calls == 0


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_malformed_tags_count_as_sent_tags(mode):
    """Even in warn mode, a malformed Tags value is Tags the caller sent: AWS copies nothing,
    so the source is not read and no policy tag is merged in."""
    policy = make_policy(f'mode = "{mode}"\n[tags.forced]\ncompliance = "pci"\n')
    params = CREATE.params(Tags=[{"Value": "orphan"}])
    decision, reader = run(policy, CREATE.operation, params, source={"x": "y"})
    assert reader.calls == 0
    assert rules_of(decision) == ["tags.aws"]
    assert decision.params == params
    assert decision.inherited == ()


def test_a_missing_value_is_an_empty_value():
    """`{"Key": "team"}` without Value is the tag `team` = "" (AWS's Value is optional)."""
    params = CREATE.params(Tags=[{"Key": "team"}])
    decision, _ = run(DEFAULT_TAG, CREATE.operation, params)
    assert decision.allowed
    assert sent_tags(decision) == {"team": "", "managed-by": "rds-guard"}


def test_tags_none_counts_as_no_tags():
    """`Tags=None` is as if the caller sent none: the source passes its tags on."""
    decision, reader = run(
        DEFAULT_TAG, CREATE.operation, CREATE.params(Tags=None), source={"t": "1"}
    )
    assert reader.calls == 1
    assert sent_tags(decision) == {"t": "1", "managed-by": "rds-guard"}


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
    """`{source}` has no value on a tag request: the forced key cannot be set at all,
    whatever the value (field `Tags.<key>`, as for any tag)."""
    decision, _ = tagging({"origin": "orders"})
    violation = only(decision, "tags.forced")
    assert (violation.field, violation.value) == ("Tags.origin", "orders")
    assert "{source}" in violation.message
    assert "cannot be set" in violation.message


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
def test_a_delete_without_a_final_snapshot_is_neither_judged_nor_recorded(
    service, operation, source, limit, extra
):
    """No final snapshot: never `generate`d, not judged, not recorded, params as made."""
    params = {source: "orders", **extra}
    decision, reader = run(GENERATE, operation, params, service=service)
    assert decision.recorded is False
    assert decision.allowed
    assert decision.params == params
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


# --- sharing ------------------------------------------------------------------------------


SHARE_OPS = [
    ("rds", "ModifyDBSnapshotAttribute", "DBSnapshotIdentifier"),
    ("rds", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
    ("docdb", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
    ("neptune", "ModifyDBClusterSnapshotAttribute", "DBClusterSnapshotIdentifier"),
]
each_share = pytest.mark.parametrize(
    ("service", "operation", "name"), SHARE_OPS, ids=[f"{s}-{o}" for s, o, _ in SHARE_OPS]
)
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

"""tagging.py, through `decide`: the tag layers' precedence (forced > caller > inherited >
defaults), templates in tags, the rules on the final tag set, and malformed Tags."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from core_fixtures import (
    CLUSTER_COPY,
    CLUSTER_SNAPSHOT_ARN,
    CREATE,
    DEFAULT_TAG,
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

from rds_guard.core.decide import evaluate

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


def test_a_forced_value_the_source_carries_already_is_inherited_not_injected():
    """The source carries `backup-policy = std`, which the policy forces: the snapshot keeps
    it from the source, and the record says so (it was in neither list)."""
    policy = make_policy('[tags.forced]\nbackup-policy = "std"\n[tags.defaults]\nowner = "x"\n')
    source = {"backup-policy": "std", "team": "core"}
    decision, _ = run(policy, CREATE.operation, CREATE.params(), source=source)
    assert dict(decision.tags) == {"backup-policy": "std", "team": "core", "owner": "x"}
    assert decision.inherited == ("backup-policy", "team")
    assert decision.injected == ("owner",)


_KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
_LAYER = st.dictionaries(_KEYS, st.sampled_from(["1", "2", "3"]), max_size=5)


@settings(max_examples=60, deadline=None)
@given(caller=_LAYER, inherited=_LAYER, defaults=_LAYER, forced=_LAYER)
def test_precedence_holds_for_any_layers(caller, inherited, defaults, forced):
    """For any four layers (inherit = "always"): each key takes forced > caller > inherited >
    defaults, in the order it first appears; injected are the keys the policy added or
    changed; inherited the source's keys that no higher layer replaced with another value."""
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
    # keys in the order they first appear: the caller's, then the source's, defaults, forced
    assert list(decision.tags) == list(dict.fromkeys([*caller, *inherited, *defaults, *forced]))
    below = {**inherited, **caller}
    assert set(decision.injected) == {
        k
        for k in expected
        if (k in forced and below.get(k) != forced[k])
        or (k not in forced and k in defaults and k not in below)
    }
    # a forced value the source carries already is kept from the source: no layer changed it
    changed_by_force = {k for k in forced if inherited.get(k) != forced[k]}
    assert set(decision.inherited) == set(inherited) - set(caller) - changed_by_force
    aws_would_set = caller if caller else inherited
    if expected == aws_would_set:
        assert decision.params == params
    else:
        assert sent_tags(decision) == expected


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
    assert {"team", "env"} <= set(decision.tags), "the snapshot gets both, from its layers"
    without = make_policy('[tags]\nrequired = ["team", "env"]\n')
    alone, _ = run(without, CREATE.operation, CREATE.params(), source=None)
    assert [v.rule for v in alone.violations] == ["tags.required", "tags.required"]


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
        (
            [{"Key": "t", "Value": "a"}, "team"],
            "Tags[1]",
            "tag must be a {Key, Value} dict, not str",
        ),
        ([{"Key": 5, "Value": "a"}], "Tags[0]", "tag Key must be a string, not int"),
        ([{"Key": "team", "Value": 5}], "Tags.team", "value must be a string, not int"),
        # what botocore's validation refuses, which a rewrite would have made valid
        (None, "Tags", "must be a list of {Key, Value}, not NoneType"),
        ([{"Key": "team", "Value": None}], "Tags.team", "value must be a string, not NoneType"),
        (
            [{"Key": "team", "Value": "a", "Owner": "b"}],
            "Tags[0]",
            "tag has fields other than Key and Value: Owner",
        ),
        (
            [MappingProxyType({"Key": "team"})],
            "Tags[0]",
            "tag must be a {Key, Value} dict, not mappingproxy",
        ),
    ],
)
def test_malformed_tags_are_violations_not_exceptions(tags, field, message):
    """A Tags value that is not a list of {Key, Value} strings, or anything else botocore's
    parameter validation refuses: `tags.aws`, and the request is not rewritten (the policy's
    tags are not merged into a list it cannot read, nor a call botocore refuses made one it
    accepts)."""
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
    """`{"Key": "team"}` without Value is the tag `team` = "" (AWS's Value is optional),
    written back as given (no Value field, as a bare client sends it) beside the tag added."""
    params = CREATE.params(Tags=[{"Key": "team"}])
    decision, _ = run(DEFAULT_TAG, CREATE.operation, params)
    assert decision.allowed
    assert sent_tags(decision) == {"team": "", "managed-by": "rds-guard"}
    assert decision.params["Tags"][0] == {"Key": "team"}

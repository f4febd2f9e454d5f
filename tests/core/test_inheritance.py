"""What a create or copy inherits from its source, through `decide`: the inherit modes, when
Tags are written at all, a source whose tags cannot be read, and when the source is read."""

from __future__ import annotations

import pytest
from core_fixtures import (
    ACCOUNT,
    CLUSTER_COPY,
    CREATE,
    DEFAULT_TAG,
    INHERITING_CHOICES,
    NOW,
    SNAPSHOT_OPS,
    each_op,
    judge,
    make_policy,
    only,
    rules_of,
    run,
    sent_tags,
    tag_list,
)

from rds_guard.core.decide import UNREADABLE, evaluate

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
    # AWS's own copy would have kept them: their loss is said, not silent
    assert decision.notes == (
        "not kept from the source: AWS:backup:plan, aws:cloudformation:stack-name (AWS reserves"
        " aws: keys, so the request that adds the policy's tags cannot carry them, and AWS"
        " copies none once it carries Tags)",
    )


@pytest.mark.parametrize(
    ("params", "policy_text"),
    [
        (CREATE.params(Tags=[{"Key": "team", "Value": "x"}]), '[tags]\ninherit = "always"\n'),
        (CREATE.params(), "[tags]\nrequired = ['team']\n"),
    ],
    ids=["the caller sent Tags", "nothing rewritten"],
)
def test_no_note_where_aws_would_not_have_kept_the_aws_keys_either(params, policy_text):
    """The caller's Tags switch AWS's copy off already; a call not rewritten keeps AWS's copy."""
    policy = make_policy(
        policy_text + '[tags.defaults]\nmanaged-by = "g"\n' * ("required" not in policy_text)
    )
    source = {"aws:cloudformation:stack-name": "s", "team": "t"}
    decision, _ = run(policy, CREATE.operation, params, source=source)
    assert decision.notes == ()


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
    """Source tags unknown (unreadable): `Decision.tags`, which the audit record stores, is
    what the request carries (the caller's tags), not the forced ones; the forced values are
    still judged. A call the identifier blocks reads the source all the same, so its record
    holds the tags the snapshot would have carried."""
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
    assert reader.calls == 1
    assert rules_of(blocked) == ["identifier.aws", "tags.pattern"]
    assert dict(blocked.tags) == {"stack": "Bad Stack"}


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
    ("source", "region", "read"),
    [
        pytest.param(f"arn:aws:rds:eu-west-1:{ACCOUNT}:snapshot:db-snap", "us-east-1", False),
        pytest.param(f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:db-snap", "us-east-1", True),
        pytest.param("db-snap", "us-east-1", True, id="a-name"),
        pytest.param(f"arn:aws:rds:eu-west-1:{ACCOUNT}:snapshot:db-snap", None, True),
    ],
)
def test_evaluate_never_reads_a_source_in_another_region_than_the_client(source, region, read):
    """The guard never reads a copy's source named by the ARN of another region than its
    client's (no access granted lets it): `evaluate`, told the client's region, says what the
    guard does, the tags given offline notwithstanding; a name, an ARN of that region, or no
    region known, and the tags given are the source's."""
    params = {
        "SourceDBSnapshotIdentifier": source,
        "TargetDBSnapshotIdentifier": "db-snap-copy",
        "CopyTags": True,
    }
    decision = evaluate(
        DEFAULT_TAG, "CopyDBSnapshot", params, source_tags={"team": "t"}, region=region, now=NOW
    )
    if read:
        assert sent_tags(decision) == {"team": "t", "managed-by": "rds-guard"}
        assert rules_of(decision) == []
    else:
        assert rules_of(decision) == ["tags.inherit"]
        message = decision.violations[0].message
        assert "(the source is in eu-west-1, the client in us-east-1)" in message
        assert decision.params == params


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
def test_a_call_the_identifier_blocks_still_lists_every_violation(identifier, rule):
    """enforce: the identifier alone blocks the call, yet the source is read (a read-only
    look-up) so that the rules depending on inherited tags (here the missing `team`) are
    judged too: one attempt shows every problem."""
    params = CREATE.params(**{CREATE.identifier: identifier})
    decision, reader = run(REQUIRED_AND_DEFAULT, CREATE.operation, params, source={})
    assert reader.calls == 1
    assert rules_of(decision) == [rule, "tags.required"]


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


@pytest.mark.parametrize(("mode", "noted"), [("enforce", False), ("warn", True)])
def test_the_note_of_aws_keys_not_kept_is_for_a_call_that_goes(mode, noted):
    """A blocked call makes no snapshot: its record says nothing of tags it would not keep;
    in warn mode the call goes, with the guard's Tags."""
    policy = make_policy(
        f'mode = "{mode}"\n[naming]\npattern = "^orders-.+$"\n[tags.defaults]\nmanaged-by = "g"\n'
    )
    source = {"aws:cloudformation:stack-name": "s", "team": "t"}
    params = CREATE.params(**{CREATE.identifier: "bad-name"})
    decision, _ = run(policy, CREATE.operation, params, source=source)
    assert [v.rule for v in decision.violations] == ["identifier.pattern"]
    assert bool(decision.notes) is noted

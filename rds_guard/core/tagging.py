"""Tags: the caller's list read, the policy's tags rendered, the layers merged (forced >
caller > inherited > defaults) and the final set judged; AddTagsToResource and
RemoveTagsFromResource on a snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import operations, rules
from .calls import UNREAD_AS_GIVEN, Decision, Request, Unreadable
from .frozen import frozen
from .naming import env_violation, template_values
from .policy import TagPolicy, dotted_key
from .rules import Violation
from .templates import Placeholder, Template, TemplateValues, UnrenderableTemplate


def read_tag_list(
    params: Mapping[str, Any], name: str
) -> tuple[list[tuple[str, str]], list[Violation]]:
    """The caller's ``[{Key, Value}]`` in ``params[name]`` as pairs, and what is malformed in
    it: everything botocore's parameter validation refuses (a None list or value, a tag that
    is not a dict, a field other than Key and Value), so that a call it would refuse is never
    made valid by the guard's rewrite, and a tag without a Key, which AWS refuses."""
    if name not in params:
        return [], []
    raw = params[name]
    if not isinstance(raw, (list, tuple)):
        kind = type(raw).__name__
        return [], [
            Violation("tags.aws", name, None, f"must be a list of {{Key, Value}}, not {kind}")
        ]
    pairs: list[tuple[str, str]] = []
    violations = []
    for index, entry in enumerate(raw):
        # a dict (botocore takes its subclasses too) with a string Key, and a string Value
        # when given: no other field
        if isinstance(entry, dict):
            key, value = entry.get("Key"), entry.get("Value", "")
            fields = 2 if "Value" in entry else 1
            if isinstance(key, str) and isinstance(value, str) and len(entry) == fields:
                pairs.append((key, value))
                continue
        violations.append(_tag_problem(entry, f"{name}[{index}]", name))
    return pairs, violations


def written_tags(final: Mapping[str, str], given: object) -> list[dict[str, str]]:
    """The tag list the guard writes for the ``final`` tags: a key the caller's list
    (``given``, as `read_tag_list` reads it) holds without a ``Value``, still empty, is
    written so again, as a bare client sends it."""
    valueless = {
        entry["Key"]
        for entry in (given if isinstance(given, (list, tuple)) else ())
        if isinstance(entry, dict) and isinstance(entry.get("Key"), str) and "Value" not in entry
    }
    return [
        {"Key": key} if value == "" and key in valueless else {"Key": key, "Value": value}
        for key, value in final.items()
    ]


def _tag_problem(entry: object, where: str, name: str) -> Violation:
    """What is wrong with one malformed tag of the caller's list."""
    if not isinstance(entry, dict):
        problem = f"tag must be a {{Key, Value}} dict, not {type(entry).__name__}"
        return Violation("tags.aws", where, None, problem)
    unknown = sorted(rules.shown_given(field) for field in entry if field not in ("Key", "Value"))
    if unknown:
        listed = rules.shown(", ".join(unknown))
        return Violation(
            "tags.aws", where, None, f"tag has fields other than Key and Value: {listed}"
        )
    key = entry.get("Key")
    if not isinstance(key, str):
        problem = "has no Key" if key is None else f"Key must be a string, not {type(key).__name__}"
        return Violation("tags.aws", where, None, f"tag {problem}")
    value = entry.get("Value")
    return Violation(
        "tags.aws",
        f"{name}.{rules.shown(key, rules.TAG_KEY_MAX)}",
        rules.shown_value(value),
        f"value must be a string, not {type(value).__name__}",
    )


def forced_without_value(key: str, value: str | None, error: UnrenderableTemplate) -> Violation:
    """``tags.forced``: a forced value whose template has no value here cannot be set."""
    return Violation(
        "tags.forced",
        f"Tags.{key}",
        value,
        f"forced tag: its value comes from {error.placeholder.spelling}, which has no value"
        " here, so it cannot be set",
    )


OF_THE_MAKING = frozenset({"source", "operation", "service", "utcnow"})
"""The placeholders whose value is that of the call that made a snapshot (its source, its
operation, its client's service, its time): a tag request later on cannot render what a
forced tag made of them holds, so it may only write back the value the snapshot carries."""


def _made_by(template: Template) -> str | None:
    """The first placeholder of ``template`` whose value is the making call's (as written),
    None when it has none (`OF_THE_MAKING`)."""
    return next(
        (
            part.spelling
            for part in template.parts
            if isinstance(part, Placeholder) and part.name in OF_THE_MAKING
        ),
        None,
    )


def _forced_of_the_making(request: Request, key: str, value: str, made_by: str) -> Violation | None:
    """``tags.forced`` for a tag request setting forced ``key``, whose value comes from the
    making call's ``made_by``, to ``value``: None when the snapshot carries that value (read
    only then: a tag-sync job writes its tags back as they are)."""
    from .deletion import carried_tags  # loaded by tag operations and deletes, not at import

    held = carried_tags(request)
    if isinstance(held, Mapping) and held.get(key) == value:
        return None
    if isinstance(held, Unreadable):
        carried = f"its tags could not be read: {held.why or UNREAD_AS_GIVEN}"
    elif not isinstance(held, Mapping):  # `evaluate` not given them
        carried = "its tags are not known here"
    elif key in held:
        carried = f"it carries {held[key]!r}"
    else:
        carried = "it carries none"
    return Violation(
        "tags.forced",
        f"Tags.{key}",
        value,
        f"forced tag: its value comes from {made_by} of the call that made the snapshot,"
        f" which a tag request cannot render, so it may only be written back as the snapshot"
        f" carries it ({carried})",
    )


def _forced_value(key: str, value: str, expected: str) -> Violation:
    return Violation(
        "tags.forced", f"Tags.{key}", value, f"forced tag: its value must be {expected!r}"
    )


def judge_tag_set(tag_policy: TagPolicy, tags: Mapping[str, str]) -> list[Violation]:
    """The policy's rules on the whole tag set a snapshot carries now: AWS's rules, required
    keys, allowed values, patterns, and each forced key present (with its value, when the
    policy's value is fixed text)."""
    violations = rules.check_required(tags, tag_policy.required) + judge_tag_values(
        tag_policy, tags
    )
    for key, template in tag_policy.forced.items():
        value = tags.get(key)
        if value is None:
            violations.append(
                Violation("tags.forced", f"Tags.{key}", None, "forced tag is missing")
            )
        elif template.is_literal and value != template.literal_text:
            violations.append(_forced_value(key, value, template.literal_text))
    return violations


def render_tags(
    templates: Mapping[str, Template], values: TemplateValues, *, forced: bool
) -> tuple[dict[str, str], list[Violation]]:
    """The tags of ``[tags.defaults]`` or ``[tags.forced]`` at this call.

    An unset ``{env:NAME}``, or one whose value shows a credential, is `template.env`. A
    ``{source}`` without a value (the request names no source, which botocore refuses anyway)
    makes a forced tag `tags.forced` and a default simply not added.
    """
    table = "tags.forced" if forced else "tags.defaults"
    rendered: dict[str, str] = {}
    violations = []
    for key, template in templates.items():
        try:
            rendered[key] = template.render(values)
        except UnrenderableTemplate as error:
            of_env = env_violation(error, dotted_key(table, key))
            if of_env is not None:
                violations.append(of_env)
            elif forced:
                violations.append(forced_without_value(key, None, error))
    return rendered, violations


def judge_tag_values(tag_policy: TagPolicy, tags: Mapping[str, str]) -> list[Violation]:
    """``tags.aws``, ``tags.allowed`` and ``tags.pattern`` on a set of tags."""
    return (
        rules.check_tags_aws(tags)
        + rules.check_allowed(tags, tag_policy.allowed)
        + rules.check_patterns(tags, tag_policy.patterns)
    )


@frozen
class TagLayers:
    """The tag sets a new snapshot's tags are made of, and what is known of them.

    ``caller_sent``: the request carried Tags (malformed ones too); ``malformed``: some of them
    could not be read; ``known``: the inherited layer is known (False when the source's tags
    could not be read, or were not read because the call is blocked already).
    """

    caller: dict[str, str]
    inherited: dict[str, str]
    defaults: dict[str, str]
    forced: dict[str, str]
    caller_sent: bool
    malformed: bool
    known: bool


@frozen
class TagVerdict:
    """Steps 4-5 once the tag layers are known: the final set and what is wrong with it.

    ``rewrite``: the request must carry the final set (the policy adds or changes a tag).
    """

    final: dict[str, str]
    violations: list[Violation]
    injected: tuple[str, ...]
    kept: tuple[str, ...]
    rewrite: bool


def judge_layers(tag_policy: TagPolicy, layers: TagLayers) -> TagVerdict:
    """The final tag set (forced > caller > inherited > defaults) and its violations."""
    caller, inherited, forced = layers.caller, layers.inherited, layers.forced
    violations: list[Violation] = []
    if layers.known:
        final = merge(caller, inherited, layers.defaults, forced)
        violations += rules.check_required(final, tag_policy.required)
        judged = final
    else:
        # The request goes as the caller made it, so that is what the snapshot gets; the
        # forced values are still judged: they are what the policy would have written.
        final = dict(caller)
        judged = merge(caller, {}, {}, forced)
    violations += judge_tag_values(tag_policy, judged)

    below_forced = {**inherited, **caller}
    injected = tuple(
        key
        for key in final
        if (key in forced and below_forced.get(key) != forced[key])
        or (key not in forced and key in layers.defaults and key not in below_forced)
    )
    # a forced value the source carries already is kept from it: the policy changes nothing
    kept = tuple(
        key
        for key in inherited
        if key not in caller and (key not in forced or forced[key] == inherited[key])
    )
    what_aws_would_set = caller if layers.caller_sent else inherited
    rewrite = layers.known and not layers.malformed and final != what_aws_would_set
    return TagVerdict(final, violations, injected if layers.known else (), kept, rewrite)


def reads_source_tags(
    tag_policy: TagPolicy, row: operations.Operation, params: Mapping[str, Any], caller_sent: bool
) -> bool:
    """Whether the guard reads the tags the source of a create or copy passes on: the call
    lets it pass them on (its ``CopyTags``, where it has one; no Tags of its own, unless
    ``inherit = "always"``) and the policy adds tags or judges them."""
    if tag_policy.inherit is False or not (tag_policy.adds_tags or tag_policy.has_rules):
        return False
    if row.copy_tags is not None and params.get(row.copy_tags) is not True:
        return False
    return tag_policy.inherit == "always" or not caller_sent


def owner_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A snapshot's tags without AWS's own system tags (``aws:...``, any case): those are
    AWS's, no request may set them, and the policy does not judge them."""
    return {key: value for key, value in tags.items() if not _aws_own(key)}


def _aws_own(key: str) -> bool:
    """Whether ``key`` is one of AWS's own system tags (``aws:...``, any case)."""
    return key.lower().startswith("aws:")


def dropped_reserved(tags: Mapping[str, str]) -> tuple[str, ...]:
    """The note of a rewrite that drops the source's ``aws:`` tags (a CloudFormation stack's
    names, copied to snapshots as any tag): no request may carry them, and a request that
    carries Tags makes AWS copy none, so they are lost, and the record says which."""
    reserved = sorted(filter(_aws_own, tags))
    if not reserved:
        return ()
    return (
        f"not kept from the source: {', '.join(reserved)} (AWS reserves aws: keys, so the"
        " request that adds the policy's tags cannot carry them, and AWS copies none once it"
        " carries Tags)",
    )


def merge(
    caller: Mapping[str, str],
    inherited: Mapping[str, str],
    defaults: Mapping[str, str],
    forced: Mapping[str, str],
) -> dict[str, str]:
    """forced > caller > inherited > defaults, keys in the caller's order first."""
    # The first merge places each key where it first appears; the updates set the winners.
    final = {**caller, **inherited, **defaults, **forced}
    final.update(inherited)
    final.update(caller)
    final.update(forced)
    return final


def inherit_violation(request: Request, found: Unreadable) -> Violation:
    """``tags.inherit``: the source's tags would be lost, and they could not be read."""
    assert request.row.source is not None
    reference = request.reference()
    cause = f" ({found.why})" if found.why else ""
    if found.elsewhere:  # no access granted lets this client read it
        access = ""
    elif found.missing:  # warn mode: the service says there is no such source
        access = "check the source's name (the service says it does not exist), "
    else:
        access = "grant read access to the source, "
    return Violation(
        "tags.inherit",
        request.row.source,
        reference,
        f"the tags of {request.params.get(request.row.source)} would be passed on to the"
        f" snapshot but could not be read{cause}, so adding the policy's tags would drop them:"
        f" {access}send Tags explicitly, or set inherit = false in [tags]",
    )


def _snapshot_arn(request: Request) -> str | None:
    reference = request.reference()
    return reference if reference is not None and operations.is_snapshot_arn(reference) else None


def judge_tagging(request: Request) -> Decision:
    """AddTagsToResource on a snapshot ARN."""
    arn = _snapshot_arn(request)
    if arn is None:
        return request.untouched()
    policy, row = request.policy, request.row
    assert row.tags is not None
    pairs, violations = read_tag_list(request.params, row.tags)
    violations += rules.check_duplicates([key for key, _ in pairs])
    tags = dict(pairs)
    violations += judge_tag_values(policy.tags, tags)
    values = template_values(request, None)
    for key, template in policy.tags.forced.items():
        if key not in tags:
            continue
        made_by = _made_by(template)
        if made_by is not None:
            of_the_making = _forced_of_the_making(request, key, tags[key], made_by)
            violations += [of_the_making] if of_the_making is not None else []
            continue
        try:
            forced = template.render(values)
        except UnrenderableTemplate as error:  # an {env:NAME} unset or showing a credential
            violations.append(
                env_violation(error, dotted_key("tags.forced", key))
                or forced_without_value(key, tags[key], error)
            )
            continue
        if tags[key] != forced:
            violations.append(_forced_value(key, tags[key], forced))
    from .deletion import lifted_holds  # loaded by tag operations and deletes, not at import

    violations += lifted_holds(request, tags.items(), row.tags)
    return request.decision(
        violations=tuple(violations), snapshot=operations.listed_name(arn), arn=arn, tags=tags
    )


def judge_untagging(request: Request) -> Decision:
    """RemoveTagsFromResource on a snapshot ARN: required and forced keys stay."""
    arn = _snapshot_arn(request)
    if arn is None:
        return request.untouched()
    tag_policy, row = request.policy.tags, request.row
    assert row.tag_keys is not None
    raw: Any = request.params.get(row.tag_keys)
    keys = rules.string_items(raw)
    removed: dict[str, None] = dict.fromkeys(keys)  # each key once, in the caller's order
    violations = [
        Violation(
            "tags.protected",
            f"{row.tag_keys}.{key}",
            key,
            "a required tag cannot be removed"
            if key in tag_policy.required
            else "a forced tag cannot be removed",
        )
        for key in removed
        if key in tag_policy.required or key in tag_policy.forced
    ]
    from .deletion import lifted_holds  # loaded by tag operations and deletes, not at import

    violations += lifted_holds(request, removed.items(), row.tag_keys)
    return request.decision(
        violations=tuple(violations), snapshot=operations.listed_name(arn), arn=arn, tags=removed
    )

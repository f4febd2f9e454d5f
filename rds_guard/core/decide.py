"""evaluate(): request parameters + policy (+ the source's tags) -> `Decision`.

Pure: no botocore, no I/O. The guard hands in a `SourceReader` that reads the source's tags
only when the decision needs them; offline callers hand in the tags they already know.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from . import operations, rules
from .operations import Kind, Operation
from .policy import Policy, TagPolicy
from .rules import Violation
from .templates import NamePattern, Template, TemplateValues, UnrenderableTemplate


class _Unreadable:
    """The type of `UNREADABLE`."""

    _instance: _Unreadable | None = None

    def __new__(cls) -> _Unreadable:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "rds_guard.UNREADABLE"

    def __reduce__(self) -> str:
        return "UNREADABLE"

    def __deepcopy__(self, memo: dict[int, object]) -> _Unreadable:
        return self


UNREADABLE: Final = _Unreadable()
"""Stands for a source that would pass its tags on, but whose tags could not be read."""

SourceTags = Mapping[str, str] | None | _Unreadable
SourceReader = Callable[[], SourceTags]


@dataclass(frozen=True)
class CallFacts:
    """What the decision needs to know besides the policy and the parameters."""

    service: str
    region: str | None
    now: datetime
    environ: Mapping[str, str]


@dataclass(frozen=True)
class Decision:
    """What the guard does to one call.

    ``params`` are the final parameters (a new dict), ``violations`` every broken rule,
    ``injected`` the tag keys the policy added or changed, ``inherited`` the tag keys kept from
    the source. The rest feeds the audit record: ``snapshot``, ``source``, ``arn``, ``tags`` (the
    snapshot's final tags; removed keys map to None), ``notes``, ``outcome`` (the event of a
    successful call) and ``recorded`` (False for calls the guard neither judges nor records).
    """

    params: dict[str, Any]
    violations: tuple[Violation, ...] = ()
    injected: tuple[str, ...] = ()
    inherited: tuple[str, ...] = ()
    operation: str = ""
    service: str = ""
    snapshot: str | None = None
    source: str | None = None
    arn: str | None = None
    tags: Mapping[str, str | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    outcome: str | None = None
    recorded: bool = True

    @property
    def allowed(self) -> bool:
        """True when the call breaks no rule."""
        return not self.violations


def evaluate(
    policy: Policy,
    operation: str,
    params: Mapping[str, Any],
    *,
    service: str = "rds",
    source_tags: SourceTags = None,
    region: str | None = None,
    now: datetime | None = None,
) -> Decision:
    """What the guard would do to this call, offline.

    ``source_tags`` stands in for the tags the source would pass on (None: it passes nothing
    on; `UNREADABLE`: it would, but they could not be read). ``region`` and ``now`` (an aware
    datetime) feed ``{region}`` and ``{utcnow}``. An operation not guarded on ``service`` is a
    `ValueError`; a service outside the policy's ``services`` gets the params back unchanged.
    """
    row = operations.find(service, operation)
    if row is None:
        raise ValueError(f"{service} {operation} is not an operation rds_guard guards")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be an aware datetime (for example datetime.now(timezone.utc))")
    _check_source_tags(source_tags)
    facts = CallFacts(service, region, now.astimezone(UTC), os.environ)
    return decide(policy, row, params, facts, lambda: source_tags)


def _check_source_tags(source_tags: object) -> None:
    """`TypeError` unless ``source_tags`` is None, `UNREADABLE` or a mapping of str to str."""
    if source_tags is None or source_tags is UNREADABLE:
        return
    if not isinstance(source_tags, Mapping):
        raise TypeError(
            "source_tags must be None, rds_guard.UNREADABLE or a mapping of tag keys to values"
            f" (str to str), not {type(source_tags).__name__}"
        )
    for key, value in source_tags.items():
        if not (isinstance(key, str) and isinstance(value, str)):
            raise TypeError(
                "source_tags must map str to str, not"
                f" {type(key).__name__} to {type(value).__name__} (key {key!r:.60})"
            )


def decide(
    policy: Policy,
    row: Operation,
    params: Mapping[str, Any],
    facts: CallFacts,
    read_source: SourceReader,
) -> Decision:
    """The decision for one call of a guarded operation; ``read_source`` is called at most once."""
    if facts.service not in policy.services:
        return _untouched(dict(params), row, facts)
    return _JUDGES[row.kind](policy, row, dict(params), facts, read_source)


def _untouched(params: dict[str, Any], row: Operation, facts: CallFacts) -> Decision:
    """A call the guard neither judges nor records: its parameters go on as they are."""
    return Decision(params, operation=row.name, service=facts.service, recorded=False)


def _values(row: Operation, facts: CallFacts, source: str | None) -> TemplateValues:
    return TemplateValues(row.name, facts.service, facts.now, facts.environ, source, facts.region)


def _source_name(params: Mapping[str, Any], row: Operation) -> str | None:
    reference = params.get(row.source) if row.source else None
    return operations.snapshot_name(reference) if isinstance(reference, str) else None


def _unset_env(error: UnrenderableTemplate, policy_key: str) -> Violation | None:
    """`template.env` for an unset ``{env:NAME}``; None when another placeholder (``{source}``,
    in a request that names no source) is what has no value."""
    placeholder = error.placeholder
    if placeholder.name != "env":
        return None
    return Violation(
        "template.env",
        policy_key,
        placeholder.argument,
        f"environment variable {placeholder.argument} is not set",
    )


def _forced_without_value(key: str, value: str | None, error: UnrenderableTemplate) -> Violation:
    """``tags.forced``: a forced value whose template has no value here cannot be set."""
    return Violation(
        "tags.forced",
        f"Tags.{key}",
        value,
        f"forced tag: its value comes from {error.placeholder.spelling}, which has no value"
        " here, so it cannot be set",
    )


_LONGEST_IDENTIFIER: Final = operations.INSTANCE_ID_LIMIT
"""No AWS identifier is longer; ``{source}`` is one (an ARN loses its prefix)."""


def _judge_identifier(
    policy: Policy,
    row: Operation,
    params: dict[str, Any],
    values: TemplateValues,
    *,
    generate: bool,
) -> tuple[str | None, list[Violation]]:
    """Steps 1-3: fill a missing identifier, then AWS's rules and the naming pattern."""
    assert row.identifier is not None
    naming = policy.naming_for(row.name)
    identifier = params.get(row.identifier)
    violations: list[Violation] = []
    if identifier is None:
        if not (generate and naming.generate):
            message = "no snapshot identifier given" + (
                " and the policy has no naming.generate" if generate else ""
            )
            return None, [Violation("identifier.missing", row.identifier, None, message)]
        key = naming.generate_key
        try:
            identifier = naming.generate.render(values)
        except UnrenderableTemplate as error:
            missing = Violation(
                "identifier.missing",
                row.identifier,
                None,
                f"no snapshot identifier given, and {key} cannot fill it in:"
                f" {error.placeholder.spelling} has no value (the request names no {row.source})",
            )
            return None, [_unset_env(error, key) or missing]
        params[row.identifier] = identifier
    violations += rules.check_identifier(row.identifier, identifier, row.limit)
    # Past AWS's limit identifier.aws is already reported, and a regex that passed the
    # load-time check may still be quadratic on a long text: the pattern is not run.
    if isinstance(identifier, str) and naming.pattern is not None and len(identifier) <= row.limit:
        violations += _judge_pattern(naming.pattern, row.identifier, identifier, values.source)
    return (identifier if isinstance(identifier, str) else None), violations


def _judge_pattern(
    pattern: NamePattern, field: str, identifier: str, source: str | None
) -> list[Violation]:
    """Step 3, ``identifier.pattern``, on an identifier within AWS's length limit."""
    if pattern.uses_source and source is not None and len(source) > _LONGEST_IDENTIFIER:
        # No AWS resource has such a name (the call cannot succeed), and compiling it into the
        # pattern would take seconds for a megabyte: refused without running the pattern.
        return [
            Violation(
                "identifier.pattern",
                field,
                rules.shown(identifier),
                f"the naming pattern {pattern.text} was not run: its {{source}} would be a name"
                f" of {len(source)} characters, longer than any AWS identifier"
                f" ({_LONGEST_IDENTIFIER})",
            )
        ]
    lowered = identifier.lower()
    if pattern.fullmatch(lowered, source):
        return []
    return [
        Violation(
            "identifier.pattern",
            field,
            rules.shown(identifier),
            f"{rules.shown(lowered)!r} does not match the naming pattern"
            f" {pattern.compiled(source).pattern}",
        )
    ]


def _read_tag_list(raw: object, prefix: str) -> tuple[list[tuple[str, str]], list[Violation]]:
    """The caller's ``[{Key, Value}]`` as pairs, and what is malformed in it."""
    if raw is None:
        return [], []
    if not isinstance(raw, (list, tuple)):
        kind = type(raw).__name__
        return [], [
            Violation("tags.aws", prefix, None, f"must be a list of {{Key, Value}}, not {kind}")
        ]
    pairs: list[tuple[str, str]] = []
    violations = []
    for index, entry in enumerate(raw):
        if type(entry) is dict:  # the usual shape: checked without the ABC machinery
            key, value = entry.get("Key"), entry.get("Value", "")
            if type(key) is str and type(value) is str:
                pairs.append((key, value))
                continue
        where = f"{prefix}[{index}]"
        key = entry.get("Key") if isinstance(entry, Mapping) else None
        value = entry.get("Value", "") if isinstance(entry, Mapping) else None
        if not isinstance(key, str):
            problem = (
                "has no Key" if key is None else f"Key must be a string, not {type(key).__name__}"
            )
            violations.append(Violation("tags.aws", where, None, f"tag {problem}"))
        elif value is not None and not isinstance(value, str):
            violations.append(
                Violation("tags.aws", f"{prefix}.{key}", repr(value), "value must be a string")
            )
        else:
            pairs.append((key, value or ""))
    return pairs, violations


def _render_tags(
    templates: Mapping[str, Template], values: TemplateValues, *, forced: bool
) -> tuple[dict[str, str], list[Violation]]:
    """The tags of ``[tags.defaults]`` or ``[tags.forced]`` at this call.

    An unset ``{env:NAME}`` is `template.env`. A ``{source}`` without a value (the request names
    no source, which botocore refuses anyway) makes a forced tag `tags.forced` and a default
    simply not added.
    """
    table = "tags.forced" if forced else "tags.defaults"
    rendered: dict[str, str] = {}
    violations = []
    for key, template in templates.items():
        try:
            rendered[key] = template.render(values)
        except UnrenderableTemplate as error:
            unset = _unset_env(error, f"{table}.{key}")
            if unset is not None:
                violations.append(unset)
            elif forced:
                violations.append(_forced_without_value(key, None, error))
    return rendered, violations


def _judge_tag_values(tag_policy: TagPolicy, tags: Mapping[str, str]) -> list[Violation]:
    """``tags.aws``, ``tags.allowed`` and ``tags.pattern`` on a set of tags."""
    return (
        rules.check_tags_aws(tags)
        + rules.check_allowed(tags, tag_policy.allowed)
        + rules.check_patterns(tags, tag_policy.patterns)
    )


_NOT_READ: Final = object()


def _judge_snapshot(
    policy: Policy,
    row: Operation,
    params: dict[str, Any],
    facts: CallFacts,
    read_source: SourceReader,
) -> Decision:
    """Create and copy: steps 1-5 of the contract."""
    source = _source_name(params, row)
    values = _values(row, facts, source)
    identifier, violations = _judge_identifier(policy, row, params, values, generate=True)
    assert row.tags is not None
    raw_tags = params.get(row.tags)
    pairs, malformed = _read_tag_list(raw_tags, row.tags)
    caller = dict(pairs)
    violations += malformed
    if len(caller) != len(pairs):  # a key given twice
        violations += rules.check_duplicates([key for key, _ in pairs])
    caller_sent = bool(pairs) or bool(malformed)
    tag_policy = policy.tags

    copy_allowed = row.copy_tags is None or params.get(row.copy_tags) is True
    may_inherit = (
        tag_policy.inherit is not False
        and copy_allowed
        and (tag_policy.inherit == "always" or not caller_sent)
    )
    inherited: dict[str, str] = {}
    known = True
    if may_inherit and (tag_policy.adds_tags or tag_policy.has_rules):
        blocked_already = policy.mode == "enforce" and bool(violations)
        found: object = _NOT_READ if blocked_already else read_source()
        if found is UNREADABLE and tag_policy.adds_tags:
            # only tags the guard writes would drop them; AWS's own copy keeps them
            violations.append(_inherit_violation(row, params))
        if found is _NOT_READ or found is UNREADABLE:
            known = False
        elif isinstance(found, Mapping):
            inherited = {k: v for k, v in found.items() if not k.lower().startswith("aws:")}

    defaults, unset = _render_tags(tag_policy.defaults, values, forced=False)
    forced, unset_forced = _render_tags(tag_policy.forced, values, forced=True)
    violations += unset + unset_forced
    verdict = _tag_verdict(
        policy.tags, caller, inherited, defaults, forced, known, caller_sent, bool(malformed)
    )
    violations += verdict.violations
    final = dict(verdict.final)
    if verdict.rewrite:
        params[row.tags] = [{"Key": k, "Value": v} for k, v in final.items()]
    return Decision(
        params,
        tuple(violations),
        verdict.injected if known else (),
        verdict.kept,
        operation=row.name,
        service=facts.service,
        snapshot=identifier.lower() if identifier else None,
        source=source,
        tags=final,
        outcome=row.outcome,
    )


@dataclass(frozen=True)
class _TagVerdict:
    """Steps 4-5 once the tag layers are known: the final set and what is wrong with it."""

    final: Mapping[str, str]
    violations: tuple[Violation, ...]
    injected: tuple[str, ...]
    kept: tuple[str, ...]
    rewrite: bool


class _Identity:
    """Hashes and compares by the identity of what it holds (a TagPolicy holds dicts)."""

    __slots__ = ("held",)

    def __init__(self, held: TagPolicy) -> None:
        self.held = held

    def __hash__(self) -> int:
        return id(self.held)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.held is self.held


_Layers = tuple[tuple[tuple[str, str], ...], ...]


def _tag_verdict(
    tag_policy: TagPolicy,
    caller: dict[str, str],
    inherited: dict[str, str],
    defaults: dict[str, str],
    forced: dict[str, str],
    known: bool,
    caller_sent: bool,
    malformed: bool,
) -> _TagVerdict:
    """`_judge_tags`, remembered: it is a pure function, and calls repeat the same tag sets."""
    layers: _Layers = tuple(tuple(layer.items()) for layer in (caller, inherited, defaults, forced))
    return _remembered_verdict(_Identity(tag_policy), layers, known, caller_sent, malformed)


@functools.lru_cache(maxsize=1024)
def _remembered_verdict(
    policy: _Identity, layers: _Layers, known: bool, caller_sent: bool, malformed: bool
) -> _TagVerdict:
    caller, inherited, defaults, forced = (dict(layer) for layer in layers)
    return _judge_tags(
        policy.held, caller, inherited, defaults, forced, known, caller_sent, malformed
    )


def _judge_tags(
    tag_policy: TagPolicy,
    caller: dict[str, str],
    inherited: dict[str, str],
    defaults: dict[str, str],
    forced: dict[str, str],
    known: bool,
    caller_sent: bool,
    malformed: bool,
) -> _TagVerdict:
    """The final tag set (forced > caller > inherited > defaults) and its violations."""
    violations: list[Violation] = []
    if known:
        final = _merge(caller, inherited, defaults, forced)
        violations += rules.check_required(final, tag_policy.required)
        judged = final
    else:
        # The request goes as the caller made it, so that is what the snapshot gets; the
        # forced values are still judged: they are what the policy would have written.
        final = dict(caller)
        judged = _merge(caller, {}, {}, forced)
    violations += _judge_tag_values(tag_policy, judged)

    below_forced = {**inherited, **caller}
    injected = tuple(
        key
        for key in final
        if (key in forced and below_forced.get(key) != forced[key])
        or (key not in forced and key in defaults and key not in below_forced)
    )
    kept = tuple(key for key in inherited if key not in caller and key not in forced)
    what_aws_would_set = caller if caller_sent else inherited
    rewrite = known and not malformed and final != what_aws_would_set
    return _TagVerdict(final, tuple(violations), injected, kept, rewrite)


def _merge(
    caller: Mapping[str, str],
    inherited: Mapping[str, str],
    defaults: Mapping[str, str],
    forced: Mapping[str, str],
) -> dict[str, str]:
    """forced > caller > inherited > defaults, keys in the caller's order first."""
    final: dict[str, str] = {}
    for layer in (caller, inherited, defaults, forced):
        for key in layer:
            final.setdefault(key, "")
    for layer in (defaults, inherited, caller, forced):
        final.update(layer)
    return final


def _inherit_violation(row: Operation, params: Mapping[str, Any]) -> Violation:
    assert row.source is not None
    reference = params.get(row.source)
    return Violation(
        "tags.inherit",
        row.source,
        reference if isinstance(reference, str) else None,
        f"the tags of {reference} would be passed on to the snapshot but could not be read,"
        " so adding the policy's tags would drop them: grant read access to the source,"
        " send Tags explicitly, or set inherit = false in [tags]",
    )


def _judge_final(
    policy: Policy,
    row: Operation,
    params: dict[str, Any],
    facts: CallFacts,
    read_source: SourceReader,
) -> Decision:
    """A delete with a final snapshot: AWS's identifier rules and the naming pattern."""
    assert row.identifier is not None
    if params.get(row.identifier) is None:
        return _untouched(params, row, facts)
    source = _source_name(params, row)
    identifier, violations = _judge_identifier(
        policy, row, params, _values(row, facts, source), generate=False
    )
    return Decision(
        params,
        tuple(violations),
        operation=row.name,
        service=facts.service,
        snapshot=identifier.lower() if identifier else None,
        source=source,
        outcome=row.outcome,
    )


def _resource_arn(params: Mapping[str, Any], row: Operation) -> str | None:
    assert row.source is not None
    reference = params.get(row.source)
    return (
        reference if isinstance(reference, str) and operations.is_snapshot_arn(reference) else None
    )


def _arn_snapshot(arn: str) -> str:
    return arn.split(":", 6)[6].lower()


def _judge_tagging(
    policy: Policy,
    row: Operation,
    params: dict[str, Any],
    facts: CallFacts,
    read_source: SourceReader,
) -> Decision:
    """AddTagsToResource on a snapshot ARN."""
    arn = _resource_arn(params, row)
    if arn is None:
        return _untouched(params, row, facts)
    assert row.tags is not None
    pairs, violations = _read_tag_list(params.get(row.tags), row.tags)
    violations += rules.check_duplicates([key for key, _ in pairs])
    tags = dict(pairs)
    violations += _judge_tag_values(policy.tags, tags)
    values = _values(row, facts, None)
    for key, template in policy.tags.forced.items():
        if key not in tags:
            continue
        try:
            forced = template.render(values)
        except UnrenderableTemplate as error:
            # e.g. {source}: a tag request names no source, so the value cannot be set
            violations.append(
                _unset_env(error, f"tags.forced.{key}")
                or _forced_without_value(key, tags[key], error)
            )
            continue
        if tags[key] != forced:
            violations.append(
                Violation(
                    "tags.forced",
                    f"Tags.{key}",
                    tags[key],
                    f"forced tag: its value must be {forced!r}",
                )
            )
    return Decision(
        params,
        tuple(violations),
        operation=row.name,
        service=facts.service,
        snapshot=_arn_snapshot(arn),
        arn=arn,
        tags=tags,
        outcome=row.outcome,
    )


def _judge_untagging(
    policy: Policy,
    row: Operation,
    params: dict[str, Any],
    facts: CallFacts,
    read_source: SourceReader,
) -> Decision:
    """RemoveTagsFromResource on a snapshot ARN: required and forced keys stay."""
    arn = _resource_arn(params, row)
    if arn is None:
        return _untouched(params, row, facts)
    assert row.tag_keys is not None
    raw = params.get(row.tag_keys)
    keys = [k for k in raw if isinstance(k, str)] if isinstance(raw, (list, tuple)) else []
    protected = set(policy.tags.required) | set(policy.tags.forced)
    violations = tuple(
        Violation(
            "tags.protected",
            f"{row.tag_keys}.{key}",
            key,
            "a required tag cannot be removed"
            if key in policy.tags.required
            else "a forced tag cannot be removed",
        )
        for key in dict.fromkeys(keys)
        if key in protected
    )
    return Decision(
        params,
        violations,
        operation=row.name,
        service=facts.service,
        snapshot=_arn_snapshot(arn),
        arn=arn,
        tags=dict.fromkeys(keys),
        outcome=row.outcome,
    )


def _string_list(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []


def _judge_sharing(
    policy: Policy,
    row: Operation,
    params: dict[str, Any],
    facts: CallFacts,
    read_source: SourceReader,
) -> Decision:
    """Modify*SnapshotAttribute on ``restore``: who may restore the snapshot."""
    if params.get("AttributeName") != "restore":
        return _untouched(params, row, facts)
    added = _string_list(params.get("ValuesToAdd"))
    removed = _string_list(params.get("ValuesToRemove"))
    violations = rules.check_sharing(
        added, public=policy.sharing.public, accounts=policy.sharing.accounts
    )
    notes = tuple(
        f"{label}: {', '.join(values)}"
        for label, values in (("added", added), ("removed", removed))
        if values
    )
    snapshot = params.get(row.source) if row.source else None
    return Decision(
        params,
        tuple(violations),
        operation=row.name,
        service=facts.service,
        snapshot=operations.snapshot_name(snapshot) if isinstance(snapshot, str) else None,
        notes=notes,
        outcome="shared" if added else "unshared",
    )


def _judge_delete(
    policy: Policy,
    row: Operation,
    params: dict[str, Any],
    facts: CallFacts,
    read_source: SourceReader,
) -> Decision:
    """Snapshot deletes are recorded, not judged."""
    identifier = params.get(row.identifier) if row.identifier else None
    return Decision(
        params,
        operation=row.name,
        service=facts.service,
        snapshot=identifier.lower() if isinstance(identifier, str) else None,
        outcome=row.outcome,
    )


_Judge = Callable[[Policy, Operation, dict[str, Any], CallFacts, SourceReader], Decision]
_JUDGES: dict[Kind, _Judge] = {
    Kind.CREATE: _judge_snapshot,
    Kind.COPY: _judge_snapshot,
    Kind.FINAL: _judge_final,
    Kind.TAG: _judge_tagging,
    Kind.UNTAG: _judge_untagging,
    Kind.SHARE: _judge_sharing,
    Kind.DELETE: _judge_delete,
}

"""Load-time checks across keys: parts of a policy that each read well and together say
something its author cannot have meant (a tag no value could pass, a generated name its
pattern refuses, a required key listed twice, a ledger of a log that is never written), and
the advice for an operation no naming rule applies to. (More tags than AWS allows is the
schema's `check_tag_count`, before any template is read.)

Each check returns the dotted key to blame and the problem, for the schema's reader to raise
as a `PolicyError` at that key's line.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime

from . import operations, rules
from .policy import Policy, TagPolicy, dotted_key
from .positions import shown
from .samples import NAMED_SOURCE, on_date, sample_values

Problem = tuple[str, str]
"""The dotted key at fault and what is wrong with it."""


def contradiction(policy: Policy, times: tuple[datetime, ...]) -> Problem | None:
    """The first contradiction in ``policy``, or None; dates rendered at ``times``
    (`samples.this_years`)."""
    return next(_contradictions(policy, times), None)


def _contradictions(policy: Policy, times: tuple[datetime, ...]) -> Iterator[Problem]:
    tags = policy.tags
    yield from _generated_names_refused(policy, times)
    yield from _policy_tag_values_refused(tags, times)
    for key, globs in tags.allowed.items():
        pattern = tags.patterns.get(key)
        if pattern is None or any("*" in glob.text for glob in globs):
            continue  # a glob's run may hold what the pattern asks for
        if not any(pattern.fullmatch(glob.text) for glob in globs):
            yield (
                dotted_key("tags.patterns", key),
                f"matches none of the values {dotted_key('tags.allowed', key)} lists: no value"
                f" of {shown(key)} could pass both",
            )
    first_at: dict[str, int] = {}
    for index, key in enumerate(tags.required):
        if key in first_at:
            yield (
                f"tags.required[{index}]",
                f"lists {shown(key)} again (first at tags.required[{first_at[key]}])",
            )
        first_at.setdefault(key, index)
    if not policy.audit.enabled and policy.audit.ledger is not None:
        yield (
            "audit.ledger",
            "the ledger mirrors the audit log, and audit.enabled = false writes none: nothing"
            " would ever be shipped (remove one of the two)",
        )


def _generated_names_refused(policy: Policy, times: tuple[datetime, ...]) -> Iterator[Problem]:
    """A name ``generate`` gives that AWS or the naming pattern refuses, for an operation it
    names snapshots for (overrides merged), at each of ``times``: checked where the name does
    not depend on what the call names, that is when the pattern holds ``{source}`` (rendered
    for a source named `NAMED_SOURCE`) or the template reads no source nor region, and it
    reads no ``{env:...}``."""
    for row in operations.OPERATIONS.values():
        rule = policy.naming_for(row.name)
        generate, pattern = rule.generate, rule.pattern
        if not row.generates_name or generate is None or pattern is None:
            continue
        read = {part.name for part in generate.parts if not isinstance(part, str)}
        if generate.env_names or not (pattern.uses_source or not read & {"source", "region"}):
            continue
        override = policy.naming_operations.get(row.name)
        pattern_key = (
            f"naming.operations.{row.name}.pattern"
            if override is not None and override.pattern is not None
            else "naming.pattern"
        )
        for service, now in itertools.product(sorted(row.services), times):
            values = sample_values(row.name, service, source=NAMED_SOURCE, environ={}, now=now)
            name = generate.render(values)
            problems = rules.identifier_problems(name, row.limit)
            if not problems and not pattern.fullmatch(name.lower(), NAMED_SOURCE):
                problems = [f"does not match {pattern_key} {pattern.text}"]
            if problems:
                yield (
                    rule.generate_key,
                    f"for a {row.name} of a source named {NAMED_SOURCE!r}{on_date(now)} it"
                    f" would name the snapshot {shown(name)}, which " + "; ".join(problems),
                )


def _policy_tag_values_refused(tags: TagPolicy, times: tuple[datetime, ...]) -> Iterator[Problem]:
    """A default or forced value the policy's own ``allowed`` or ``patterns`` refuse, at each
    of ``times``, for each template that renders the same at every call but for its dates:
    every call that gets it would be blocked (a forced one, every call)."""
    for table, templates in (("tags.forced", tags.forced), ("tags.defaults", tags.defaults)):
        for key, template in templates.items():
            if any(not isinstance(part, str) and part.name != "utcnow" for part in template.parts):
                continue
            for now in times if not template.is_literal else times[:1]:
                value = template.fixed_text(now)
                globs = tags.allowed.get(key)
                if globs is not None and not any(glob.matches(value) for glob in globs):
                    problem = f"is not in {dotted_key('tags.allowed', key)}"
                elif key in tags.patterns and not tags.patterns[key].fullmatch(value):
                    problem = f"does not match {dotted_key('tags.patterns', key)}"
                else:
                    continue
                yield (dotted_key(table, key), f"value {shown(value)}{on_date(now)} {problem}")
                break


def naming_operation_advice(name: str) -> str:
    """What to say of ``name`` under ``[naming.operations]``, an operation no naming rule
    applies to: "did you mean" only for a near-certain misspelling (a restore or a create of
    an instance is no misspelt snapshot create, however alike the names), else the list."""
    import difflib  # only a bad policy needs it

    known = sorted(operations.NAMING_OPERATIONS)
    listed = ", ".join(known)
    spelled = operations.operation_name(name)  # boto3's or the CLI's spelling, any case
    if spelled in operations.NAMING_OPERATIONS:
        return f" (did you mean {spelled!r}? operations are named as the API names them)"
    if spelled is not None:
        return f": {spelled} names no snapshot it makes; naming rules are for {listed}"
    close = difflib.get_close_matches(name, known, n=1, cutoff=_MISSPELT)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f": naming rules are for the operations that name a snapshot ({listed})"


_MISSPELT = 0.85
"""How alike (difflib's ratio) an unknown operation name must be to a known one to be called
a misspelling of it: a letter or two in names this long, while ``RestoreDBClusterFromSnapshot``
is 0.78 like ``CreateDBClusterSnapshot`` and ``CreateDBInstance`` 0.69 like ``CreateDBSnapshot``."""

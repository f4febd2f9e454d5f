"""Naming a snapshot: fill a missing identifier from ``generate``, then AWS's identifier rules
and the policy's naming pattern (steps 1-3 of a create or copy; a delete's final snapshot)."""

from __future__ import annotations

from typing import Final

from . import operations, rules
from .calls import Request
from .regex import NamePattern
from .rules import Violation
from .templates import TemplateValues, UnrenderableTemplate

_LONGEST_IDENTIFIER: Final = operations.INSTANCE_ID_LIMIT
"""No AWS identifier is longer; ``{source}`` is one (an ARN loses its prefix)."""


def template_values(request: Request, source: str | None) -> TemplateValues:
    """What the placeholders stand for in this call."""
    facts = request.facts
    return TemplateValues(
        request.row.name, facts.service, facts.now, facts.environ, source, facts.region
    )


def source_name(request: Request) -> str | None:
    """The source as ``{source}`` sees it: lowercased, ARN and ``rds:`` prefixes removed."""
    reference = request.reference()
    return operations.snapshot_name(reference) if reference is not None else None


def env_violation(error: UnrenderableTemplate, policy_key: str) -> Violation | None:
    """`template.env` for an unset ``{env:NAME}``, or one whose value shows a credential
    (never written into a tag or the audit log: the message does not quote it); None when
    another placeholder (``{source}``, in a request that names no source) is what has no
    value."""
    placeholder = error.placeholder
    if placeholder.name != "env":
        return None
    name = placeholder.argument
    message = (
        f"environment variable {name} is not set"
        if error.why is None
        else f"environment variable {name} holds {error.why}: not written into a tag or the"
        " audit log"
    )
    return Violation("template.env", policy_key, name, message)


def judge_identifier(
    request: Request, values: TemplateValues, *, generate: bool
) -> tuple[str | None, list[Violation]]:
    """Steps 1-3: fill a missing identifier (when ``generate``), then AWS's rules and the
    naming pattern. Returns the identifier (None when there is none) and the violations."""
    row = request.row
    assert row.identifier is not None
    naming = request.policy.naming_for(row.name)
    identifier = request.params.get(row.identifier)
    if identifier is None:
        if not (generate and naming.generate):
            message = "no snapshot identifier given" + (
                " and the policy has no naming.generate" if generate else ""
            )
            return None, [Violation("identifier.missing", row.identifier, None, message)]
        try:
            identifier = naming.generate.render(values)
        except UnrenderableTemplate as error:
            missing = Violation(
                "identifier.missing",
                row.identifier,
                None,
                f"no snapshot identifier given, and {naming.generate_key} cannot fill it in:"
                f" {error.placeholder.spelling} has no value ({_no_source(request)})",
            )
            return None, [env_violation(error, naming.generate_key) or missing]
        request.params[row.identifier] = identifier
    violations = rules.check_identifier(row.identifier, identifier, row.limit)
    if not isinstance(identifier, str):
        return None, violations
    # Past AWS's limit identifier.aws is already reported: the pattern is not run.
    if naming.pattern is not None and len(identifier) <= row.limit:
        violations += _judge_pattern(naming.pattern, request, identifier, values.source)
    return identifier, violations


def _no_source(request: Request) -> str:
    """Why a call has no ``{source}``: it names none, or names it with no string."""
    name = request.row.source
    given = request.params.get(name) if name else None
    if given is None:
        return f"the request names no {name}"
    return f"its {name} is {type(given).__name__}, not a name"


def _judge_pattern(
    pattern: NamePattern, request: Request, identifier: str, source: str | None
) -> list[Violation]:
    """Step 3, ``identifier.pattern``, on an identifier within AWS's length limit."""
    field = request.row.identifier or request.row.name
    shown = rules.shown(identifier)
    if pattern.uses_source and source is not None and len(source) > _LONGEST_IDENTIFIER:
        # No AWS resource has such a name (the call cannot succeed), and compiling a megabyte
        # into the pattern is work for nothing: refused without running the pattern.
        why = (
            f"its {{source}} would be a name of {len(source)} characters, longer than any AWS"
            f" identifier ({_LONGEST_IDENTIFIER})"
        )
        return [_not_run(pattern, field, shown, why)]
    lowered = identifier.lower()
    regex = pattern.compiled(source)
    if regex.fullmatch(lowered):
        return []
    if not regex.runs:
        why = (
            f"with its {{source}} a name of {len(source or '')} characters, it is larger than"
            " RE2 can compile"
        )
        return [_not_run(pattern, field, shown, why)]
    written = regex.pattern
    if source is None and pattern.uses_source:
        written = f"{pattern.text} ({{source}} has no value: {_no_source(request)})"
    return [
        Violation(
            "identifier.pattern",
            field,
            shown,
            f"{rules.shown(lowered)!r} does not match the naming pattern {written}",
        )
    ]


def _not_run(pattern: NamePattern, field: str, shown: str, why: str) -> Violation:
    """``identifier.pattern`` for a name the pattern was not run on, and why."""
    return Violation(
        "identifier.pattern", field, shown, f"the naming pattern {pattern.text} was not run: {why}"
    )

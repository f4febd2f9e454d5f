"""Templates rendered when a policy loads, for sample values: what the placeholders stand for
then, and whether a template can render a name or tag value AWS accepts at all.

A template every call would render into one AWS refuses is a `PolicyError` at load; one that
some calls render well (a short enough source, an ``{env:...}`` in front) loads and is judged
at each call. See docs/policy.md, "Checked at load".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from . import operations, rules
from .operations import Operation
from .regex_syntax import SAMPLE_SOURCE
from .templates import Template, TemplateValues

SAMPLE_NOW = datetime(2026, 5, 31, 12, 34, 56, tzinfo=UTC)
"""The time ``{utcnow}`` is rendered at: the shortest month and weekday names (May, Sunday),
and a day and an hour of two digits, which no format pads with a space."""
SAMPLE_EARLY = datetime(2026, 1, 1, 1, 1, 1, tzinfo=UTC)
"""A second time the text a template renders at every call is checked at: a month, day,
hour, minute and second of one digit, which ``%e``, ``%k``, ``%l`` and ``%_d`` pad with a
space and ``%-d`` renders one character shorter."""
SAMPLE_TIMES = (SAMPLE_NOW, SAMPLE_EARLY)


def this_years(today: datetime | None = None) -> tuple[datetime, ...]:
    """`SAMPLE_TIMES` in the year the policy loads in: a date's text held against the policy's
    own values (a forced ``{utcnow:%Y}`` against allowed years) is judged for this year."""
    year = (today or datetime.now(UTC)).year
    return tuple(moment.replace(year=year) for moment in SAMPLE_TIMES)


SAMPLE_REGION = "us-east-1"
"""What ``{region}`` stands for: no region's name is shorter."""
NAMED_SOURCE = "orders"
"""The source ``generate`` is rendered for when its name is held against its pattern."""

_SHORTEST_OPERATION = min(operations.OPERATIONS, key=len)
# Each {env:...} first as one letter, which breaks no rule of AWS's but length, then empty,
# the shortest: a rule both break is broken whatever the variables hold.
_ENV_SAMPLES = ("x", "")


def sample_values(
    operation: str,
    service: str,
    *,
    source: str = SAMPLE_SOURCE,
    environ: dict[str, str],
    now: datetime = SAMPLE_NOW,
) -> TemplateValues:
    """The values a template is rendered for at load, for one operation and service."""
    return TemplateValues(operation, service, now, environ, source, SAMPLE_REGION)


def on_date(now: datetime) -> str:
    """When a template renders as a message quotes it: nothing for `SAMPLE_NOW`, in any year
    (the time every load-time rendering uses), the time for any other."""
    return (
        ""
        if now.replace(year=SAMPLE_NOW.year) == SAMPLE_NOW
        else f" on {now:%Y-%m-%d} at {now:%H:%M:%S} UTC"
    )


def identifier_never_valid(template: Template, row: Operation, service: str) -> tuple[str, str]:
    """The name ``generate`` renders for ``row`` (a source named 'x') and why AWS refuses
    every name it could render for ``row`` and ``service``; the reason is empty when some
    call's name would do."""
    samples = (
        sample_values(row.name, service, environ=dict.fromkeys(template.env_names, env))
        for env in _ENV_SAMPLES
    )
    return _never_valid(template, samples, lambda name: rules.identifier_problems(name, row.limit))


def tag_value_never_valid(template: Template) -> tuple[str, str]:
    """The value a tag template renders (a source named 'x') and why AWS refuses every value
    it could render; the reason is empty when some call's value would do. ``{service}`` is
    ``docdb`` first, then ``rds`` (the shortest, but ``rds:`` is a reserved prefix)."""
    samples = (
        sample_values(_SHORTEST_OPERATION, service, environ=dict.fromkeys(template.env_names, env))
        for service, env in zip(("docdb", "rds"), _ENV_SAMPLES, strict=True)
    )
    return _never_valid(template, samples, rules.tag_value_problems)


def rendered_for(template: Template) -> str:
    """What ``template`` is rendered for at load, as a message says it."""
    env = f", each {{env:...}} {_ENV_SAMPLES[0]!r}" if template.env_names else ""
    return f" (for a source named {SAMPLE_SOURCE!r}{env})"


def _never_valid(
    template: Template, samples: Iterable[TemplateValues], problems_of: Callable[[str], list[str]]
) -> tuple[str, str]:
    first: tuple[str, str] | None = None
    for values in samples:
        text = template.render(values)
        problems = problems_of(text)
        if not problems:
            return text, ""
        first = first or (text, "; ".join(problems))
    assert first is not None
    return first

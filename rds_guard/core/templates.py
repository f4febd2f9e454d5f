"""The placeholder language of ``generate``, ``tags.defaults`` and ``tags.forced``.

A template is parsed once, when the policy loads, into literal text and placeholders:
``{source}``, ``{operation}``, ``{service}``, ``{region}``, ``{utcnow}`` or
``{utcnow:STRFTIME}``, ``{env:NAME}``; ``{{`` and ``}}`` are literal braces.
Naming patterns are regexes whose only placeholder is ``{source}`` (see `regex.NamePattern`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from .frozen import frozen
from .patterns import Lazy

PLACEHOLDERS = ("source", "operation", "service", "region", "utcnow", "env")
UTCNOW_DEFAULT_FORMAT = "%Y%m%dT%H%M%SZ"
ENV_NAME = Lazy(r"[A-Za-z_][A-Za-z0-9_]*")
"""An environment variable's name, as ``{env:NAME}`` and ``[audit] hmac_key_env`` take it."""


class TemplateSyntaxError(ValueError):
    """A template that cannot be parsed; the message says what is wrong, ``offset`` where in
    the template (the character it starts at; 0: the template as a whole)."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


# Bounded by what a key id is made of, not by \b: ``ci_AKIA...`` and ``AKIA..._x`` hold one.
_AWS_KEY_ID = Lazy(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_URL_AUTHORITY = Lazy(r"[^/\s?#]*")


def credential_in(value: str) -> str | None:
    """What credential ``value`` shows, if any: an AWS access key's id, or a URL's user
    information, where a password goes (``postgres://app:hunter2@db/prod``), both of which
    the audit log's redaction hides in what it records; None: neither. Linear in ``value``:
    each URL's authority ends where the next ``://`` begins."""
    if _AWS_KEY_ID.search(value):
        return "an AWS access key's id"
    start = value.find("://")
    while start != -1:
        found = _URL_AUTHORITY.match(value, start + 3)
        authority = found.group() if found is not None else ""
        if "@" in authority:
            return "a URL's user information"
        start = value.find("://", start + 3)
    return None


class UnrenderableTemplate(Exception):
    """A placeholder that has no value at this call: an unset variable, or no source; or an
    ``{env:NAME}`` whose value shows a credential (``why``: which), never written."""

    def __init__(self, placeholder: Placeholder, why: str | None = None) -> None:
        self.placeholder = placeholder
        self.why = why
        super().__init__(placeholder.spelling)


@frozen
class Placeholder:
    """One ``{name}`` or ``{name:argument}`` in a template."""

    name: str
    argument: str | None = None

    @property
    def spelling(self) -> str:
        """The placeholder as written in the policy."""
        return "{" + self.name + (f":{self.argument}" if self.argument is not None else "") + "}"


@frozen
class TemplateValues:
    """What the placeholders stand for at one call."""

    operation: str
    service: str
    now: datetime
    environ: Mapping[str, str]
    source: str | None = None
    region: str | None = None


@frozen
class Template:
    """A parsed template: literal strings and `Placeholder` parts, in order."""

    text: str
    parts: tuple[str | Placeholder, ...]

    @property
    def is_literal(self) -> bool:
        """True when the template has no placeholders."""
        return all(isinstance(part, str) for part in self.parts)

    @property
    def literal_text(self) -> str:
        """The template's literal parts joined (the whole value when `is_literal`)."""
        return "".join(part for part in self.parts if isinstance(part, str))

    def fixed_text(self, now: datetime) -> str:
        """The text the template renders at every call, for load-time checks: its literal
        parts and each ``{utcnow}`` formatted at ``now``; the placeholders whose values vary
        (source, region, env...) are left out. `ValueError` when strftime refuses a format."""
        return "".join(
            part
            if isinstance(part, str)
            else now.strftime(part.argument or UTCNOW_DEFAULT_FORMAT)
            if part.name == "utcnow"
            else ""
            for part in self.parts
        )

    @property
    def env_names(self) -> tuple[str, ...]:
        """The environment variables the template reads."""
        return tuple(
            part.argument
            for part in self.parts
            if isinstance(part, Placeholder) and part.name == "env" and part.argument
        )

    def __post_init__(self) -> None:
        # A template without placeholders renders to the same text at every call.
        object.__setattr__(self, "_fixed", self.literal_text if self.is_literal else None)

    def render(self, values: TemplateValues) -> str:
        """The template's text at this call; `UnrenderableTemplate` when a part has no value."""
        fixed: str | None = self.__dict__["_fixed"]
        if fixed is not None:
            return fixed
        return "".join(
            [
                part if isinstance(part, str) else _render_placeholder(part, values)
                for part in self.parts
            ]
        )


def _render_placeholder(placeholder: Placeholder, values: TemplateValues) -> str:
    name = placeholder.name
    if name == "utcnow":
        return _utcnow_text(values.now, placeholder.argument or UTCNOW_DEFAULT_FORMAT)
    if name == "env":
        value = values.environ.get(placeholder.argument or "")
        if value is None:
            raise UnrenderableTemplate(placeholder)
        shown = credential_in(value)
        if shown is not None:
            raise UnrenderableTemplate(placeholder, shown)
        return value
    if name == "source":
        if values.source is None:
            raise UnrenderableTemplate(placeholder)
        return values.source
    if name == "region":
        return values.region or ""
    return values.operation if name == "operation" else values.service


_NONE, _ONE_SECOND = timedelta(0), timedelta(seconds=1)
_formatted: dict[str, tuple[datetime, str]] = {}
"""Each format's latest text, with the start of the UTC second it was formatted for."""


def _utcnow_text(now: datetime, strftime_format: str) -> str:
    """``now.strftime(strftime_format)``, formatted once per second and format when ``now``
    is in UTC, as every call's time is: calls repeat the same second, and strftime costs more
    than a look-up. A format with ``%f`` (the only directive finer than a second), or a time
    in another zone, is formatted every time."""
    if now.tzinfo is not UTC or "%f" in strftime_format:
        return now.strftime(strftime_format)
    known = _formatted.get(strftime_format)
    if known is not None and _NONE <= now - known[0] < _ONE_SECOND:
        return known[1]
    text = now.strftime(strftime_format)
    _formatted[strftime_format] = (now.replace(microsecond=0), text)
    return text


def compile_template(text: str) -> Template:
    """Parse a template; `TemplateSyntaxError` names the bad placeholder, or says it is
    longer than `MAX_TEMPLATE`."""
    if len(text) > MAX_TEMPLATE:  # what it renders is read at load: not a mebibyte of it
        raise TemplateSyntaxError(
            f"it is {len(text)} characters long: a template makes a snapshot name or a tag"
            f" (at most {MAX_WIDTH} characters), and one longer than {MAX_TEMPLATE} is not read"
        )
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            literal.append(char)
            i += 2
        elif char == "}":
            raise TemplateSyntaxError(
                f"single '}}' at offset {i} (write '}}}}' for a literal brace)", i
            )
        elif char == "{":
            end = text.find("}", i)
            if end < 0:
                raise TemplateSyntaxError(f"unclosed '{{' at offset {i}", i)
            if literal:
                parts.append("".join(literal))
                literal = []
            try:
                parts.append(_parse_placeholder(text[i + 1 : end]))
            except TemplateSyntaxError as exc:
                raise TemplateSyntaxError(str(exc), i) from None
            i = end + 1
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def _parse_placeholder(body: str) -> Placeholder:
    name, sep, argument = body.partition(":")
    if name not in PLACEHOLDERS:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise TemplateSyntaxError(f"unknown placeholder {{{body}}} (known: {known})")
    if name == "env":
        if not ENV_NAME.fullmatch(argument):
            raise TemplateSyntaxError(f"{{env:NAME}} needs a variable name, got {{{body}}}")
        return Placeholder("env", argument)
    if name == "utcnow":
        if sep and not argument:
            raise TemplateSyntaxError("{utcnow:} needs a strftime format after the colon")
        if "\0" in argument:
            raise TemplateSyntaxError(
                f"{{utcnow:{argument!r}}}: a NUL character ends a strftime format: what follows"
                " it would be dropped"
            )
        problem = _directive_problem(argument)
        if problem is not None:
            raise TemplateSyntaxError(f"{{{body}}}: {problem}")
        return Placeholder("utcnow", argument if sep else None)
    if sep:
        raise TemplateSyntaxError(f"{{{name}}} takes no argument, got {{{body}}}")
    return Placeholder(name)


def _directive_problem(strftime_format: str) -> str | None:
    """Why the first directive of a format that cannot be used cannot be (None: none), its
    directives read left to right as glibc reads them, ``%%`` as one (``%%s`` is text):

    - no directive (``%Q``, a last ``%``): glibc writes it as it stands, ``%`` and all;
    - one Python formats itself (``%f``, ``%z``, ``%Z``) given flags, a width or a modifier,
      which goes to the C library instead: nothing, or the directive as written;
    - a width past `MAX_WIDTH` (``%300Y``): glibc pads to any width it can, and gives no text
      at all where it cannot (a snapshot named by the template's other text alone, a tag
      value left empty);
    - ``%s`` (with flags, width or modifier: ``%-s``, ``%10s``...): it formats the local time
      whatever the datetime's zone;
    - a directive written in the language of the process's locale (`_LOCALE_DIRECTIVES`, or
      any with the ``E`` or ``O`` modifier): a program that sets its locale
      (``locale.setlocale(locale.LC_ALL, "")``) renders other text than the load-time checks
      saw (``Mär``, ``janv.``), text AWS may refuse.
    """
    for found in _DIRECTIVE.finditer(strftime_format):
        written, (digits, modifier, conversion) = found.group(), found.groups()
        if written == "%:" and strftime_format.startswith("z", found.end()) and _colon_z():
            continue  # Python's own %:z (3.12 and later): +00:00
        if conversion not in _DIRECTIVES:
            return (
                f"{written} is no strftime directive: the C library writes it as it is, "
                "'%' and all (write '%%' for a '%')"
                if conversion
                else f"{written} at its end starts no directive (write '%%' for a '%')"
            )
        if conversion in _PYTHONS_OWN and len(written) > 2:
            return (
                f"{written}: Python formats %{conversion} itself only as that, with nothing"
                " between; given flags, a width or a modifier the C library formats it, as"
                " nothing or as it is written"
            )
        width = digits.lstrip("0")
        if len(width) > len(str(MAX_WIDTH)) or (width and int(width) > MAX_WIDTH):
            return (
                f"{written} is wider than any snapshot name or tag value ({MAX_WIDTH}"
                " characters at most)"
            )
        if conversion == "s":
            return (
                f"{written} is the C library's seconds since the epoch of the machine's"
                " local time, not of UTC: it differs from host to host"
            )
        if conversion != "%" and (modifier or conversion in _LOCALE_DIRECTIVES):
            return (
                f"{written} is written in the language of the process's locale (LC_TIME):"
                " it differs from program to program and host to host; write the date in"
                " numbers (%Y %m %d %H %M %S, %j for the day of the year)"
            )
    return None


_DIRECTIVES = frozenset("aAbBcCdDeFfgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%")
"""The conversions of the C library's strftime (glibc's), which writes any other as it
stands, ``%`` included, and ``%f``, Python's own."""

_PYTHONS_OWN = frozenset("fzZ")
"""The conversions Python formats itself (the C library is given the others), each only
written bare: ``%-z`` goes to the C library, which writes nothing for it."""


def _colon_z() -> bool:
    """Whether this Python formats ``%:z`` itself (3.12 and later), told by doing it."""
    return datetime(2000, 1, 1, tzinfo=UTC).strftime("%:z") != "%:z"


_LOCALE_DIRECTIVES = frozenset("aAbBhpPcxXr")
"""strftime conversions whose text the locale chooses: names of days and months, AM/PM, and
the locale's own date and time layouts."""


MAX_WIDTH = 256
"""The most characters a directive may be padded to: a tag value's limit (a snapshot
identifier's is 255)."""
_DIRECTIVE = Lazy(r"%[-_0^#]*([0-9]*)([EO]?)(.?)", re.DOTALL)
"""One strftime directive as glibc reads it: flags, width, modifier, conversion."""

MAX_TEMPLATE = 4096
"""The longest template read (`compile_template`): sixteen times the longest tag value."""

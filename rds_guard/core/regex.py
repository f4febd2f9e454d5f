"""Policy regexes (naming patterns, tag patterns), run on RE2: linear time on any input.

Python's ``re`` backtracks, and no shape checker finds every pattern that makes it take
seconds on a 28-character value; RE2 (``google-re2``) is linear by construction. Each pattern
is read once at load (`regex_syntax` keeps Python's meaning where RE2's differs), compiled in
UTF-8 mode with RE2's own error logging off, and matched on UTF-8 bytes, each verdict
remembered per value. ``re2`` is imported on the first compile, not with rds_guard. The
dialect: docs/policy.md.
"""

from __future__ import annotations

import functools
from dataclasses import FrozenInstanceError
from typing import Any

from .regex_refusals import RegexProblem
from .regex_syntax import SAMPLE_SOURCE, Translation, translate

__all__ = ["NamePattern", "Regex", "RegexBudget", "RegexProblem", "compile_regex", "escape"]

_REMEMBERED = 1024
"""Verdicts (and per-source compilations) kept per pattern before the memory starts over."""
MAX_TEXT = 65_536
MAX_UNICODE_CLASSES = 64
MAX_INSTRUCTIONS = 200_000
MAX_REGEXES = 1_024
"""How many regexes a policy may hold: each costs tens of microseconds to read, compile and
check however short it is, which the other limits do not count (60,000 empty patterns took
two seconds to refuse)."""


class RegexBudget:
    """What one policy's regexes may cost RE2 in all, charged as each loads, so that no policy
    takes seconds to load: RE2 builds a Unicode class (``\\w``, ``\\p{L}``) in up to half a
    millisecond, compiles some million program instructions a second, and reads some
    million characters of cheap syntax a second."""

    def __init__(self) -> None:
        self.regexes = MAX_REGEXES
        self.text = MAX_TEXT
        self.classes = MAX_UNICODE_CLASSES
        self.instructions = MAX_INSTRUCTIONS

    def charge_regex(self) -> None:
        """Take one from the regexes the policy may still hold."""
        if self.regexes == 0:
            raise RegexProblem(
                f"a policy may hold {MAX_REGEXES:,} regexes in all (naming and tag patterns);"
                " this one is past that",
                None,
            )
        self.regexes -= 1

    def charge_text(self, text: str) -> None:
        """Take ``text``'s length from what the policy's regexes may still hold."""
        if len(text) > self.text:
            total = MAX_TEXT - self.text + len(text)
            raise RegexProblem(
                f"a policy's regexes may hold {MAX_TEXT:,} characters in all; with this one"
                f" they hold {total:,}",
                None,
            )
        self.text -= len(text)

    def charge_classes(self, translation: Translation) -> None:
        """Take the translation's Unicode classes from what the regexes may still hold."""
        found = translation.unicode_classes
        if len(found) > self.classes:
            raise RegexProblem(
                f"a policy's regexes may hold {MAX_UNICODE_CLASSES} Unicode classes in all"
                " (\\w \\W \\d \\D \\p{...} \\P{...}: RE2 takes up to half a millisecond to"
                " build each); this one is past that",
                found[self.classes],
            )
        self.classes -= len(found)

    def charge_program(self, compiled: Any) -> None:
        """Take the compiled regex's RE2 program size from what the regexes may still hold."""
        size = int(compiled.programsize)
        if size > self.instructions:
            total = MAX_INSTRUCTIONS - self.instructions + size
            raise RegexProblem(
                f"a policy's regexes may compile to {MAX_INSTRUCTIONS:,} RE2 instructions in"
                f" all; with this one they compile to {total:,}",
                None,
            )
        self.instructions -= size


def _read(text: str, *, naming: bool, budget: RegexBudget | None) -> tuple[Translation, Any]:
    """A pattern read and compiled (``{source}`` standing for `SAMPLE_SOURCE`), charged to
    ``budget`` step by step, so that no step runs over it."""
    if budget is not None:
        budget.charge_regex()
        budget.charge_text(text)
    translation = translate(text, naming=naming)
    if budget is not None:
        budget.charge_classes(translation)
    compiled = _compile(translation, translation.with_source(SAMPLE_SOURCE))
    if budget is not None:
        budget.charge_program(compiled)
    return translation, compiled


@functools.cache
def _engine() -> tuple[Any, Any]:
    """The ``re2`` module and the options every policy regex is compiled with."""
    import re2  # about 10 ms: only once a policy has a pattern

    options = re2.Options()
    options.encoding = re2.Options.Encoding.UTF8  # never Latin-1, where '.' is one byte
    options.log_errors = False  # errors become PolicyErrors, not lines on stderr
    options.never_capture = True  # only "does it match" is ever asked
    return re2, options


def _compile(translation: Translation, re2_text: str) -> Any:
    """RE2's compiled form of ``re2_text``; `RegexProblem` at the place RE2 names."""
    module, options = _engine()
    try:
        return module.compile(re2_text, options)
    except module.error as exc:
        raw = exc.args[0] if exc.args else ""
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        reason, _, argument = message.partition(": ")
        at = re2_text.find(argument) if argument else -1
        position = translation.written_offset(at) if at >= 0 else None
        raise RegexProblem(reason or "RE2 refuses it", position, syntax=True) from None


class Regex:
    """A compiled policy regex; ``pattern`` is its text as the policy wrote it (a naming
    pattern's with the escaped ``{source}`` filled in), for messages."""

    __slots__ = ("_compiled", "_seen", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._compiled = compiled
        self._seen: dict[str, bool] = {}

    @property
    def runs(self) -> bool:
        """False for a naming pattern RE2 could not compile with this call's ``{source}``
        filled in (too large): it matches nothing, and a message must not say mismatch."""
        return self._compiled is not None

    def fullmatch(self, text: str) -> bool:
        """True when the whole of ``text`` matches."""
        verdict = self._seen.get(text)
        if verdict is None:
            # bytes: RE2 matches str about twice as slowly. surrogatepass: a lone surrogate
            # (no AWS name holds one) is one character to RE2, as to Python.
            data = text.encode("utf-8", "surrogatepass")
            verdict = self._compiled is not None and self._compiled.fullmatch(data) is not None
            if len(self._seen) >= _REMEMBERED:
                self._seen.clear()
            self._seen[text] = verdict
        return verdict

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"

    def __reduce__(self) -> tuple[object, ...]:
        re2_text = None if self._compiled is None else self._compiled.pattern
        return (_rebuild, (self.pattern, re2_text))


def _rebuild(pattern: str, re2_text: str | None) -> Regex:
    compiled = None if re2_text is None else _engine()[0].compile(re2_text, _engine()[1])
    return Regex(pattern, compiled)


def compile_regex(text: str, budget: RegexBudget | None = None) -> Regex:
    """A tag pattern, compiled; `RegexProblem` when it cannot be used."""
    return Regex(text, _read(text, naming=False, budget=budget)[1])


def escape(text: str) -> str:
    """RE2 syntax matching exactly ``text`` outside a character class (where ``{source}``
    always is: a class holding it is refused): RE2's own ``QuoteMeta`` (``re2.escape``) for
    UTF-8 text but for the hyphen, which RE2 reads as itself there, and which messages then
    show as the name has it (``^orders-db-...``, not ``^orders\\-db-...``); ``\\x{...}`` for a
    lone surrogate, which UTF-8 cannot hold."""
    return "".join(map(_escaped, text))


def _escaped(char: str) -> str:
    if not char.isascii():
        return f"\\x{{{ord(char):x}}}" if "\ud800" <= char <= "\udfff" else char
    if char.isalnum() or char in "_-":
        return char
    return "\\x00" if char == "\0" else "\\" + char


class NamePattern:
    """A naming regex whose only placeholder is ``{source}``, inserted escaped (`escape`).

    Constructing one reads and compiles it (charged to ``budget``, when given): `RegexProblem`
    when it cannot be used. Equal to another of the same ``text``; immutable.
    """

    # A plain class, as `Regex` is: a dataclass with an InitVar is made by ``dataclasses``,
    # which writes and compiles its methods on every ``import rds_guard`` (0.6 ms).
    __slots__ = ("_by_source", "_translation", "text")

    text: str
    _translation: Translation
    _by_source: dict[str | None, Regex]

    def __init__(self, text: str, budget: RegexBudget | None = None) -> None:
        translation, compiled = _read(text, naming=True, budget=budget)
        if _matches_only_nothing(compiled):
            raise RegexProblem(
                "it can match no identifier: nothing but the empty text, if even that, and an"
                " identifier is never empty: every name would be refused",
                None,
            )
        refused = None if translation.uses_source else _refused_by_aws(compiled)
        if refused is not None:
            raise RegexProblem(refused, None)
        setattr_ = object.__setattr__
        setattr_(self, "text", text)
        setattr_(self, "_translation", translation)
        setattr_(self, "_by_source", {})
        sample = SAMPLE_SOURCE if translation.uses_source else None
        self._by_source[sample] = Regex(self._written(SAMPLE_SOURCE), compiled)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(other.text == self.text)

    def __hash__(self) -> int:
        return hash((self.text,))

    def __repr__(self) -> str:
        return f"NamePattern(text={self.text!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (NamePattern, (self.text,))

    @property
    def uses_source(self) -> bool:
        """True when the pattern mentions ``{source}``."""
        return self._translation.uses_source

    def compiled(self, source: str | None) -> Regex:
        """The regex for this source (compiled once per distinct source)."""
        key = source if self.uses_source else None
        found = self._by_source.get(key)
        if found is None:
            escaped = escape(source or "")
            try:
                compiled = _compile(self._translation, self._translation.with_source(escaped))
            except RegexProblem:  # too large for RE2 with this source: it matches nothing
                compiled = None
            found = Regex(self._written(escaped), compiled)
            if len(self._by_source) >= _REMEMBERED:
                self._by_source.clear()
            self._by_source[key] = found
        return found

    def fullmatch(self, identifier: str, source: str | None) -> bool:
        """True when the whole identifier matches the pattern for this source."""
        return self.compiled(source).fullmatch(identifier)

    def _written(self, escaped: str) -> str:
        """The pattern as written, with ``escaped`` where each ``{source}`` is (in a group
        where a repeat follows, which applies to the whole name: ``(?:orders)?``)."""
        text, written, last = self.text, [], 0
        for start in self._translation.sources:
            end = start + len("{source}")
            repeated = _repeat_at(text, end) and len(escaped) != 1
            written += [text[last:start], f"(?:{escaped})" if repeated else escaped]
            last = end
        return "".join([*written, text[last:]])


def _repeat_at(text: str, at: int) -> bool:
    """Whether a repeat (``?``, ``*``, ``+``, ``{2}``, ``{1,3}``) is written at ``at``."""
    if text[at : at + 1] in ("?", "*", "+"):
        return True
    count = text[at + 1 : text.find("}", at)] if text.startswith("{", at) else ""
    return count.strip("0123456789,") == "" and any(c.isdigit() for c in count)


def _matches_only_nothing(compiled: Any) -> bool:
    """Whether ``compiled`` can match no text but the empty one (``''``, ``^$``, ``(?:)``,
    ``[^\\s\\S]``): RE2's possible-match range of every match is then empty to empty."""
    try:
        return bool(compiled.possiblematchrange(8)[1] == b"")
    except Exception:  # RE2 gives no range (a pattern that may match anything): it may match
        return False


def _refused_by_aws(compiled: Any) -> str | None:
    """Why AWS refuses every name ``compiled`` matches (None: it may match one AWS takes),
    from RE2's possible-match range, which bounds every match: a pattern with one match only
    (``^snap-``: a prefix written without what may follow it), or whose every match starts
    with two hyphens in a row, or with no letter."""
    from .rules import identifier_problems  # rules compiles its checks with this module

    found = _match_range(compiled)
    if found is None:
        return None
    low, high = found
    refused = "every name would be refused"
    if low == high:
        only = _decoded(low)
        problems = identifier_problems(only, _LONGEST_NAME)
        if not problems:
            return None
        hint = ""
        if not identifier_problems(f"{only}a", _LONGEST_NAME):
            hint = (
                "; a pattern is matched against the whole name: for names that start with"
                f" {only}, write ^{only}.*"
            )
        return f"its only match is {only!r}, which AWS refuses ({problems[0]}): {refused}{hint}"
    start = _shared_start(low, high).decode("utf-8", "replace")
    if "--" in start:
        return (
            f"every name it matches starts with {start!r}, and AWS refuses two hyphens in a"
            f" row: {refused}"
        )
    first, last = low[:1], high[:1]
    if first and last and (last < b"A" or first > b"z" or (first > b"Z" and last < b"a")):
        return (
            f"every name it matches starts with a character from {_first_char(low)} to"
            f" {_first_char(high)}, and AWS's names start with a letter a to z: {refused}"
        )
    return None


def _decoded(match: bytes) -> str:
    """RE2's one match as text: a lone surrogate the pattern names (``\\ud800``) is encoded
    as its three bytes, which are no UTF-8, and is said as itself, not as U+FFFD."""
    try:
        return match.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return match.decode("utf-8", "replace")


def _first_char(text: bytes) -> str:
    """The first character of RE2's bound of a match (UTF-8 it may cut short), as shown."""
    char = text[:4].decode("utf-8", "ignore")[:1]
    return repr(char) if char else "a character past ASCII"


def tag_value_refusal(regex: Regex) -> str | None:
    """Why AWS refuses every tag value ``regex`` (a ``[tags.patterns]`` pattern) matches
    (None: it may match one AWS takes), from RE2's possible-match range: a pattern with one
    match only, or whose every match starts with a character no tag value holds (``#.+``)."""
    from .rules import character_name, tag_char_allowed, tag_value_problems

    found = _match_range(regex._compiled)
    if found is None:
        return None
    low, high = found
    refused = "every value would be refused"
    if low == high:
        only = _decoded(low)
        problems = tag_value_problems(only)
        if problems:
            return f"its only match is {only!r}, which AWS refuses ({problems[0]}): {refused}"
        return None
    start = _shared_start(low, high).decode("utf-8", "ignore")  # a character cut: not shared
    bad = next((char for char in start if not tag_char_allowed(char)), None)
    if bad is None:
        return None
    return (
        f"every value it matches starts with {start!r}, and AWS's tag values hold no"
        f" U+{ord(bad):04X} {character_name(bad)}: {refused}"
    )


def _match_range(compiled: Any) -> tuple[bytes, bytes] | None:
    """RE2's possible-match range of ``compiled``: bytes at or below every match, and at or
    above (None: RE2 gives none, for a pattern that may match anything)."""
    try:
        low, high = compiled.possiblematchrange(_RANGE_LENGTH)
    except Exception:
        return None
    return bytes(low), bytes(high)


def _shared_start(low: bytes, high: bytes) -> bytes:
    """The bytes ``low`` and ``high`` start with alike: every match between them starts so."""
    shared = 0
    while shared < min(len(low), len(high)) and low[shared] == high[shared]:
        shared += 1
    return low[:shared]


_RANGE_LENGTH = 256
"""How much of a match RE2's possible-match range reads: past any identifier's length."""
_LONGEST_NAME = 255
"""The longest snapshot name AWS takes (an instance snapshot's; a cluster snapshot's is 63)."""

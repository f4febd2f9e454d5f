"""What a naming pattern's characters can match: an identifier is matched lowercased, and
holds only ASCII letters, digits and hyphens, so a literal or a class that can match none of
``a-z``, ``0-9`` and ``-`` can never match (`regex_syntax` refuses it at load)."""

from __future__ import annotations

from .regex_refusals import RegexProblem

IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")  # matched lowercased

_FOLDED = IDENTIFIER_CHARS | {c.upper() for c in IDENTIFIER_CHARS} | set("\u212a\u017f\u0130\u0131")
"""What may match an identifier's character under ``(?i)``: its letters in either case, the
Kelvin sign (k) and the long s (s), as RE2 folds them, and the dotted and dotless i, one
letter with i under ``(?i)`` in the policy's dialect (`regex_syntax`), as in Python."""

_ASCII_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

_CASE_HINT = "or start the pattern with (?i)"


class IdentifierChecks:
    """The checks of a naming pattern's literals and classes, for the translator that reads
    it (``naming``: the pattern is a naming pattern; ``ignorecase``: ``(?i)`` is in force)."""

    naming: bool
    ignorecase: bool

    def fail(self, message: str, at: int, *, syntax: bool = False) -> RegexProblem:
        """The problem to raise at offset ``at`` (the translator's)."""
        raise NotImplementedError

    def check_case(self, run: str, start: int) -> None:
        """An uppercase letter of a literal run can never match."""
        if not self.naming or self.ignorecase or run == run.lower():
            return
        offset, char = next((o, c) for o, c in enumerate(run) if c != c.lower())
        raise self.fail(
            f"the uppercase letter {char!r} can never match: identifiers are matched lowercased"
            f" (write {char.lower()!r}, {_CASE_HINT})",
            start + offset,
        )

    def check_identifier_char(self, char: str, at: int) -> None:
        """A literal character no identifier holds, in a naming pattern, can never match (as
        an uppercase letter cannot): an underscore, a dot, a space, an en dash pasted for a
        hyphen. Under ``(?i)`` a letter may fold to an ASCII one (the Kelvin sign to k)."""
        if not self.naming or char in IDENTIFIER_CHARS:
            return
        if self.ignorecase and (char.lower() in IDENTIFIER_CHARS or char.isalpha()):
            return
        self.check_case(char, at)
        raise self.fail(
            f"{char!r} can never match: an identifier holds only letters, digits and hyphens",
            at,
        )

    def check_class(
        self, written: str, spans: list[tuple[int, int]], negate: bool, at: int
    ) -> None:
        """A class of characters and ranges alone (``spans``; ``negate``: ``[^...]``) that
        holds none of an identifier's characters (under ``(?i)``: none of their foldings),
        or, negated, every one: it can never match. With a shorthand or ``\\p{...}`` it is not
        judged, nor is a negated class under ``(?i)``."""
        if not self.naming or (negate and self.ignorecase):
            return
        matched = _FOLDED if self.ignorecase else IDENTIFIER_CHARS
        held = {c for c in matched if any(lo <= ord(c) <= hi for lo, hi in spans)}
        if (held != IDENTIFIER_CHARS) if negate else held:
            return
        upper = not negate and any(lo <= ord(c) <= hi for lo, hi in spans for c in _ASCII_UPPER)
        hint = f" (write it in lowercase, {_CASE_HINT})" if upper else ""
        raise self.fail(
            f"the class {written} can never match: identifiers are matched lowercased and hold"
            f" only a-z, 0-9 and -{hint}",
            at,
        )

"""The policy regex dialect, read once at load and written out in RE2's syntax.

Policy regexes are RE2 syntax, read so that a pattern written for Python's ``re`` keeps its
meaning: ``\\w \\W \\d \\D \\s \\S`` become the Unicode classes Python gives them, Python's
``\\uXXXX``, ``\\N{...}`` and octal escapes become ``\\x{...}``, and under ``(?i)`` the four
Turkish i's stay one letter, as in Python. What RE2 lacks (lookaround, backreferences, atomic
groups, possessive repeats, ``\\Z``) or would read otherwise (``\\b``, ``{,n}``, ``[[:alpha:]]``)
is a `RegexProblem` at the offset where it is written. The dialect: docs/policy.md.
"""

from __future__ import annotations

import bisect
import sys

from .frozen import frozen
from .identifier_chars import IDENTIFIER_CHARS, IdentifierChecks
from .patterns import Lazy
from .regex_refusals import PYTHON_FLAGS, REFUSED_ESCAPES, REFUSED_GROUPS, RegexProblem

SAMPLE_SOURCE = "x"
"""What ``{source}`` stands for when a naming pattern is compiled at load."""

_WORD = r"\p{L}\p{N}_"  # Python's \w: str.isalnum() (categories L and N) or '_'
_SHORTHANDS = {
    "d": r"\p{Nd}",  # Python's \d: str.isdecimal()
    "D": r"\P{Nd}",
    "w": _WORD,
    "s": (  # Python's \s: str.isspace()
        r"\x{9}-\x{d}\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
        r"\x{202f}\x{205f}\x{3000}"
    ),
    "S": (
        r"\x{0}-\x{8}\x{e}-\x{1b}\x{21}-\x{84}\x{86}-\x{9f}\x{a1}-\x{167f}\x{1681}-\x{1fff}"
        r"\x{200b}-\x{2027}\x{202a}-\x{202e}\x{2030}-\x{205e}\x{2060}-\x{2fff}"
        r"\x{3001}-\x{10ffff}"
    ),
}
_TURKISH_I = frozenset("Ii\u0130\u0131")  # one letter to Python's IGNORECASE, two pairs to RE2
_TURKISH_CLASS = r"Ii\x{130}\x{131}"
_PLAIN = Lazy(r"[^\\\[\](){}*+?.^$|]+")  # a run of literal characters
_QUANTIFIER = Lazy(r"\{(\d*)(,?)(\d*)\}")
_MOST_REPEATS, _TOO_MANY = 1000, "RE2 repeats at most 1000 times (a count it cannot hold is text)"
_PLACEHOLDER = Lazy(r"\{([A-Za-z_]+)(?::[^{}]*)?\}")
_LITERAL_BRACE = "a brace neither {source} nor a repeat such as {8} is text no identifier holds"
_GROUP_NAME = Lazy(r"P?<\w*>")
_FLAGS = Lazy(r"([A-Za-z]*)(?:-([A-Za-z]*))?([:)])")
_RE2_FLAGS = frozenset("imsU")
_GLOBAL_FLAGS = "flags such as (?i) apply to the whole pattern only at its start: write (?i:...)"
_FLAGS_OFF = "a flag is turned off only for a group, as in (?-i:...), not for the whole pattern"
_BRACED = {  # what may stand between the braces of \p{...}, \x{...}, \N{...}
    "p": Lazy(r"\{\^?\w*\}?"),
    "x": Lazy(r"\{[0-9A-Fa-f]*\}?"),
    "N": Lazy(r"\{[\w \-]*\}?"),
}
_SIMPLE_ESCAPES = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_HEX = Lazy(r"[0-9A-Fa-f]+")
_OCTAL = frozenset("01234567")
_POSIX_CLASS = Lazy(r"\[:\^?\w+:\]")


@frozen
class Translation:
    """A pattern in RE2's syntax: ``pieces`` around each ``{source}`` (one more than there are
    placeholders), and ``origins``: (offset in the text compiled at load, offset in the
    pattern as written) where each emitted token starts, for error positions."""

    pieces: tuple[str, ...]
    origins: tuple[tuple[int, int], ...]
    sources: tuple[int, ...] = ()
    """Where each ``{source}`` is written."""
    unicode_classes: tuple[int, ...] = ()
    """Where each ``\\w \\W \\d \\D \\p{...} \\P{...}`` is written: the classes RE2 is slow
    to build (up to half a millisecond for \\p{L})."""

    @property
    def uses_source(self) -> bool:
        """Whether the pattern holds ``{source}``."""
        return len(self.pieces) > 1

    def with_source(self, escaped: str) -> str:
        """The RE2 text with ``escaped`` where each ``{source}`` is, as one atom: a repeat
        written after ``{source}`` repeats the whole name, not its last letter."""
        return f"(?:{escaped})".join(self.pieces)

    def written_offset(self, offset: int) -> int:
        """Where the token at ``offset`` of the text compiled at load is written."""
        index = bisect.bisect_right(self.origins, (offset, sys.maxsize)) - 1
        return self.origins[index][1] if index >= 0 else 0


def translate(text: str, *, naming: bool) -> Translation:
    """The RE2 form of a policy regex; `RegexProblem` for what cannot keep its meaning there.

    ``naming``: a naming pattern, whose ``{source}`` is a placeholder and whose case-sensitive
    uppercase letters (identifiers are matched lowercased) are refused.
    """
    return _Translator(text, naming).run()


def _char(code: int) -> str:
    """One character for RE2, escaped unless it is an ASCII letter or digit."""
    char = chr(code)
    return char if char.isascii() and char.isalnum() else f"\\x{{{code:x}}}"


class _Translator(IdentifierChecks):
    def __init__(self, text: str, naming: bool) -> None:
        self.text = text
        self.naming = naming
        self.i = 0
        self.out: list[str] = []
        self.origins: list[tuple[int, int]] = []
        self.pieces: list[str] = []
        self.sources: list[int] = []
        self.unicode_classes: list[int] = []
        self.emitted = 0  # length of the text compiled at load, so far
        self.groups: list[tuple[int, bool]] = []  # (offset of its '(', ignorecase outside it)
        self.ignorecase = False
        self.flags_end = 0  # where the global flags that start the pattern end
        self.atom = False  # what was just emitted can take a repeat
        self.repeated = False  # ... was a repeat

    def fail(self, message: str, at: int, *, syntax: bool = False) -> RegexProblem:
        return RegexProblem(message, at, syntax=syntax)

    def emit(self, re2_text: str, written_at: int, *, atom: bool = True) -> None:
        self.origins.append((self.emitted, written_at))
        self.out.append(re2_text)
        self.emitted += len(re2_text)
        self.atom, self.repeated = atom, False

    def run(self) -> Translation:
        text = self.text
        while self.i < len(text):
            start, char = self.i, text[self.i]
            plain = _PLAIN.match(text, start)
            if plain:
                self.literal_run(plain.group(), start)
                self.i = plain.end()
            elif char == "\\":
                self.escape()
            elif char == "[":
                self.char_class()
            elif char == "(":
                self.group()
            elif char == ")":
                if not self.groups:
                    raise self.fail("unbalanced ')'", start, syntax=True)
                self.ignorecase = self.groups.pop()[1]
                self.emit(")", start)
                self.i += 1
            elif char in "*+?":
                self.repeat(start, start + 1)
            elif char == "{":
                self.brace()
            else:  # . ^ $ | ] }
                if char in "]}":
                    self.check_identifier_char(char, start)
                self.emit("\\" + char if char in "]}" else char, start, atom=char in ".]}")
                self.i += 1
        if self.groups:
            unclosed = self.groups[-1][0]
            raise self.fail("missing ')': this group is never closed", unclosed, syntax=True)
        self.pieces.append("".join(self.out))
        return Translation(
            tuple(self.pieces),
            tuple(self.origins),
            tuple(self.sources),
            tuple(self.unicode_classes),
        )

    # --- literals and escapes ----------------------------------------------------------------

    def literal_run(self, run: str, start: int) -> None:
        self.check_case(run, start)
        for offset, char in enumerate(run):
            if char not in IDENTIFIER_CHARS:
                self.check_identifier_char(char, start + offset)
        if self.ignorecase and not _TURKISH_I.isdisjoint(run):
            for offset, char in enumerate(run):
                self.literal(ord(char), start + offset)
        else:
            self.emit(run, start)

    def literal(self, code: int, at: int) -> None:
        self.check_identifier_char(chr(code), at)
        if self.ignorecase and chr(code) in _TURKISH_I:
            self.emit(f"[{_TURKISH_CLASS}]", at)
        else:
            self.emit(_char(code), at)

    def braced_end(self, letter: str, at: int) -> int:
        """Where ``\\p{...}`` (``\\x{...}``, ``\\N{...}``; or ``\\pL``) at ``at`` ends."""
        found = _BRACED[letter].match(self.text, at + 2)
        if found and found.group():
            return found.end()
        return min(at + 3, len(self.text))

    def escape(self) -> None:
        text, start = self.text, self.i
        if start + 1 >= len(text):
            raise self.fail("'\\' at the end of the pattern", start, syntax=True)
        char = text[start + 1]
        self.i = start + 2
        if char in "wWdDpP":
            self.unicode_classes.append(start)
        if char == "w" or char == "W":
            self.emit(self.word_class(negated=char == "W"), start)
        elif char in _SHORTHANDS:
            body = _SHORTHANDS[char]
            self.emit(body if char in "dD" else f"[{body}]", start)
        elif char in REFUSED_ESCAPES:
            raise self.fail(f"\\{char}{REFUSED_ESCAPES[char]}", start)
        elif char == "Q":  # RE2's quoted text, up to \E
            end = text.find("\\E", self.i)
            stop = len(text) if end < 0 else end
            self.check_case(text[self.i : stop], self.i)
            for offset in range(self.i, stop):
                self.literal(ord(text[offset]), offset)
            self.i = stop if end < 0 else end + 2
        elif char in "pP" or (char == "x" and text.startswith("{", self.i)):
            self.i = self.braced_end(char.lower(), start)
            if (code := self.braced_code(start) if char == "x" else None) is not None:
                self.literal(code, start)  # a character as any other: case, Turkish i...
            else:
                self.emit(text[start : self.i], start)  # RE2 reads it, and reports it when bad
        elif char in "123456789" and not self.octal_ahead(start + 1):
            raise self.fail(
                f"\\{char}: a backreference; RE2 has none (it would need backtracking)", start
            )
        elif char in "Az":
            self.emit(text[start : self.i], start, atom=False)
        elif char.isascii() and char.isalpha() and char not in "xuUN" and char not in "aftnrv":
            # an escape RE2 does not know (\k<name>, \g<1>, \cA...): said here, where it is,
            # before a check of an identifier's characters reads what follows as text
            raise self.fail("invalid escape sequence", start, syntax=True)
        else:
            self.literal(self.escaped_code(start), start)

    def braced_code(self, start: int) -> int | None:
        """The character ``\\x{HEX}`` at ``start`` stands for (None: none; RE2 reports it)."""
        digits = self.text[start + 3 : self.i - 1]
        code = int(digits, 16) if _HEX.fullmatch(digits) and self.text[self.i - 1] == "}" else -1
        return code if 0 <= code <= 0x10FFFF else None

    def octal_ahead(self, at: int) -> bool:
        """True when three octal digits start at ``at`` (Python's ``\\123``)."""
        digits = self.text[at : at + 3]
        return len(digits) == 3 and _OCTAL.issuperset(digits)

    def escaped_code(self, start: int) -> int:
        """The character the escape at ``start`` stands for; ``self.i`` moves past it."""
        text, char = self.text, self.text[start + 1]
        self.i = start + 2
        if char in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[char]
        if char in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[char]
            digits = text[self.i : self.i + width]
            if len(digits) != width or not _HEX.fullmatch(digits) or int(digits, 16) > 0x10FFFF:
                raise self.fail(f"\\{char} needs {width} hex digits", start, syntax=True)
            self.i += width
            return int(digits, 16)
        if char == "N":
            end = self.braced_end("N", start)
            name = text[start + 3 : end - 1]
            if not text.startswith("{", start + 2) or not text.startswith("}", end - 1):
                raise self.fail("\\N needs a character's name: \\N{EN DASH}", start, syntax=True)
            self.i = end
            import unicodedata  # an extension module: loaded by the first \N{...}

            try:
                return ord(unicodedata.lookup(name))
            except KeyError:
                raise self.fail(f"\\N{{{name}}}: no such character", start, syntax=True) from None
        if char in "0123456789":  # octal: \0, \01, \012, \123 (and \1 in a class)
            if char in "89":
                raise self.fail(f"bad escape \\{char}", start, syntax=True)
            end = start + 2
            while end < min(start + 4, len(text)) and text[end] in _OCTAL:
                end += 1
            self.i = end
            code = int(text[start + 1 : end], 8)
            if code > 0o377:
                raise self.fail(f"octal escape {text[start:end]} above \\377", start, syntax=True)
            return code
        if char.isascii() and char.isalnum():
            raise self.fail(f"bad escape \\{char}", start, syntax=True)
        return ord(char)  # \. \- \é ...: the character itself

    # --- groups, repeats, braces ----------------------------------------------------------

    def group(self) -> None:
        text, start = self.text, self.i
        if not text.startswith("?", start + 1):
            self.groups.append((start, self.ignorecase))
            self.emit("(", start, atom=False)
            self.i = start + 1
            return
        after = start + 2
        for opening, (what, why) in REFUSED_GROUPS.items():
            if text.startswith(opening, after):
                raise self.fail(f"RE2 has no {what}: {why}", start)
        named = _GROUP_NAME.match(text, after)
        flags = None if named else _FLAGS.match(text, after)
        if named:
            self.i = named.end()
        elif flags:
            on, off, _ = flags.groups()
            for flag in on + (off or ""):
                if flag in PYTHON_FLAGS:
                    raise self.fail(f"RE2 has no flag {PYTHON_FLAGS[flag]}", start)
                if flag not in _RE2_FLAGS:
                    raise self.fail(f"unknown flag {flag!r}", start, syntax=True)
            if flags.group(2) == "":
                raise self.fail(
                    "missing flag: a '-' names the flags it turns off", start, syntax=True
                )
            self.i = flags.end()
        else:
            raise self.fail(f"unknown group syntax {text[start : start + 4]}", start, syntax=True)
        scoped = not (flags and flags.group(3) == ")")  # (?i) lasts to the enclosing ')'
        if flags and not scoped and set(flags.group(1) + (flags.group(2) or "")) - {"U"}:
            # Python refuses them after the start, or turned off; RE2 would take them from
            # there on (its own (?U) has no meaning in Python to keep)
            if flags.group(2) is not None:
                raise self.fail(_FLAGS_OFF, start, syntax=True)
            if start != self.flags_end:
                raise self.fail(_GLOBAL_FLAGS, start, syntax=True)
            self.flags_end = self.i
        if scoped:
            self.groups.append((start, self.ignorecase))
        self.emit(text[start : self.i], start, atom=False)
        if flags and "i" in flags.group(1):
            self.ignorecase = True
        if flags and "i" in (flags.group(2) or ""):
            self.ignorecase = False

    def repeat(self, start: int, end: int) -> None:
        """A repeat (``*`` ``+`` ``?`` ``{m,n}``) from ``start`` to ``end``, and its suffix."""
        text = self.text
        spelling = text[start:end]
        if not self.atom:
            problem = "multiple repeat" if self.repeated else "nothing to repeat"
            raise self.fail(f"{problem} {spelling}", start, syntax=True)
        if text.startswith("+", end):
            raise self.fail(
                f"RE2 has no possessive repeat {spelling}+: it never backtracks, so write"
                f" {spelling} and check the pattern still means what you want",
                start,
            )
        end += text.startswith("?", end)
        self.emit(text[start:end], start, atom=False)
        self.repeated = True
        self.i = end

    def brace(self) -> None:
        text, start = self.text, self.i
        placeholder = _PLACEHOLDER.match(text, start)
        # any {name} is refused but a naming pattern's {source}: as text it could never match
        # a tag value or an identifier ({sorce}, a typo, blocked every call)
        if placeholder:
            self.placeholder(placeholder.group(), start)
            return
        quantifier = _QUANTIFIER.match(text, start)
        if quantifier and quantifier.group(1):
            if max(int(quantifier.group(1)), int(quantifier.group(3) or 0)) > _MOST_REPEATS:
                raise self.fail(f"{quantifier.group()}: {_TOO_MANY}", start, syntax=True)
            self.repeat(start, quantifier.end())
        elif quantifier and quantifier.group(2):
            bound = quantifier.group(3)
            meant = f"{{0,{bound}}}" if bound else "*"
            raise self.fail(
                f"{quantifier.group()}: Python reads it as {meant}, RE2 as literal text; write"
                f" {meant} (or \\{{ for a literal brace)",
                start,
            )
        elif self.naming:  # an identifier holds letters, digits and hyphens: never a brace
            raise self.fail(f"{text[start : start + 12]}: {_LITERAL_BRACE}", start)
        else:
            self.emit("\\{", start)
            self.i = start + 1

    def placeholder(self, spelling: str, start: int) -> None:
        # as text it would match itself, which no tag value or identifier holds
        if not self.naming:
            raise self.fail(f"{spelling}: a tag pattern has no placeholders", start)
        if spelling != "{source}":
            raise self.fail(f"{spelling}: a naming pattern's only placeholder is {{source}}", start)
        self.origins.append((self.emitted, start))
        self.sources.append(start)
        self.pieces.append("".join(self.out))
        self.out = []
        self.emitted += len(f"(?:{SAMPLE_SOURCE})")  # as `Translation.with_source` puts it
        self.atom, self.repeated = True, False
        self.i = start + len(spelling)

    # --- character classes ----------------------------------------------------------------

    def char_class(self) -> None:
        text, start = self.text, self.i
        i = start + 1 + text.startswith("^", start + 1)
        negate = i > start + 1
        items: list[str] = []
        spans: list[tuple[int, int]] = []  # the characters and ranges, for the Turkish i's
        not_word = word = False
        while i == start + 1 + negate or not text.startswith("]", i):
            if i >= len(text):
                raise self.fail("missing ']': this class is never closed", start, syntax=True)
            posix = _POSIX_CLASS.match(text, i) if text.startswith("[:", i) else None
            if posix:
                raise self.fail(
                    f"{posix.group()}: a POSIX class to RE2, literal characters to Python;"
                    " write a range (a-z) or \\p{...} instead, or \\[ for a literal [",
                    i,
                )
            if self.naming and text.startswith("{source}", i):
                raise self.fail("{source} in a class would stand for its letters one by one", i)
            first = i
            low, end, shorthand = self.class_item(i)
            if shorthand is not None and shorthand not in ("s", "S"):
                self.unicode_classes.append(i)
            # a range from a class, which RE2 reads as the class, a literal - and the end
            if (
                shorthand is not None
                and text.startswith("-", end)
                and text[end + 1 : end + 2] not in ("", "]")
            ):
                _, after, _ = self.class_item(end + 1)
                raise self.fail(f"bad character range {text[i:after]}", i, syntax=True)
            i = end
            if shorthand == "W":
                not_word = True
            elif shorthand == "w" and self.ignorecase and not negate:
                word = True  # kept out of the fold (`word_class`), beside the class
            elif shorthand is not None:
                items.append(_SHORTHANDS.get(shorthand, shorthand))
            elif text.startswith("-", i) and not text.startswith("]", i + 1):
                high, end, other = self.class_item(i + 1)
                if other is not None or high < low:
                    raise self.fail(f"bad character range {text[first:end]}", first, syntax=True)
                spans.append((low, high))
                items.append(f"{_char(low)}-{_char(high)}")
                i = end
            else:
                spans.append((low, low))
                items.append(_char(low))
        self.i = i + 1
        if len(spans) == len(items) and not not_word:  # characters and ranges alone
            self.check_class(text[start : self.i], spans, negate, start)
        if self.ignorecase and any(lo <= ord(c) <= hi for lo, hi in spans for c in _TURKISH_I):
            items.append(_TURKISH_CLASS)
        body = "".join(items)
        if negate and not_word and body:
            raise self.fail(
                "\\W with other members of a [^...] class: RE2 cannot say it; write the class"
                " without \\W",
                start,
            )
        if negate and not_word:  # [^\W] is \w
            negate, not_word, word = False, False, True
        members = [self.word_class(negated=n) for n, on in ((True, not_word), (False, word)) if on]
        members += [f"[{'^' * negate}{body}]"] if body or not members else []
        self.emit(members[0] if len(members) == 1 else f"(?:{'|'.join(members)})", start)

    def word_class(self, *, negated: bool) -> str:
        """Python's ``\\w`` (``\\W``: ``negated``), under ``(?i)`` not case-folded, as Python's."""
        written = f"[{'^' * negated}{_WORD}]"  # folded by RE2, it would take in U+0345 (to ι)
        return f"(?-i:{written})" if self.ignorecase else written

    def class_item(self, i: int) -> tuple[int, int, str | None]:
        """The class member at ``i``: (its character, where the next one starts, None); for
        ``\\d``-like letters and ``\\p{...}``: (0, where the next one starts, its text)."""
        text = self.text
        if i >= len(text) or (text[i] == "\\" and i + 1 >= len(text)):
            raise self.fail("missing ']': this class is never closed", i, syntax=True)
        if text[i] != "\\":
            return ord(text[i]), i + 1, None
        char = text[i + 1]
        if char in _SHORTHANDS or char == "W":
            return 0, i + 2, char
        if char in "pP":
            end = self.braced_end("p", i)
            return 0, end, text[i:end]
        if char == "b":
            return 8, i + 2, None  # backspace, as in Python
        if char == "x" and text.startswith("{", i + 2):
            end = self.braced_end("x", i)
            digits = text[i + 3 : end - 1]
            if not _HEX.fullmatch(digits) or not text.startswith("}", end - 1):
                raise self.fail("\\x{...} needs hex digits", i, syntax=True)
            if int(digits, 16) > 0x10FFFF:
                raise self.fail("\\x{...} above \\x{10ffff}", i, syntax=True)
            return int(digits, 16), end, None
        saved = self.i
        try:
            return self.escaped_code(i), self.i, None
        finally:
            self.i = saved

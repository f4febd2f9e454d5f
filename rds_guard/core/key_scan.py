"""The scan behind `positions.KeyLines`: where each dotted key of a policy's TOML text is
written, found in one linear pass. Only a message asks for a line, so this module is
imported when the first one does: a policy that loads never compiles its patterns.
"""

from __future__ import annotations

import re

from .policy import dotted_key
from .positions import MAX_KEY_DOTS, MAX_KEY_PARTS, MAX_TABLES
from .toml_strings import BASIC_RUN, MULTILINE_RUN, decode_string, past_closing


class Stop(Exception):
    """The text stops being TOML the scan understands: keep what was found."""


_BLANK = re.compile(r"[ \t\r]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BARE_VALUE = re.compile(r"[^#\n]*")
_BARE_ELEMENT = re.compile(r"[^#\n,\]]*")
ARRAY_GAP = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
"""What may come between an array's elements and its commas: blanks, line ends, comments."""
_IN_BRACKETS = re.compile(r"[^\"'#\[\]{}]*")


class Scan:
    """One pass over TOML text, made as far as asked (`until`): each key's line and value
    offset (-1 for a table header), the first key deeper than `MAX_KEY_PARTS`, and where the
    text first holds more than `MAX_TABLES` headers or `MAX_KEY_DOTS` dots in its keys. Stops
    where the text is not TOML, or at either of those."""

    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.i = start  # a scan from within the text reads on from there; `line` stays 1
        self.line = 1
        self.table = ""
        self.done = False
        self.keys: dict[str, tuple[int, int]] = {}
        self.too_deep: tuple[int, str] | None = None
        self.too_many: tuple[int, str, str] | None = None
        self.tables = self.dots = 0
        self.value: tuple[int, str] = (0, "")
        self.deepest: tuple[int, int, str] = (0, 0, "")
        self.last: tuple[int, str] = (0, "")  # the line and dotted key of the last statement

    def until(self, key: str | None) -> None:
        """Scan on until ``key`` is found (None: to the end of the text)."""
        try:
            while not self.done and (key is None or key not in self.keys):
                self.statement()
        except Stop:
            self.done = True

    def blank(self) -> None:
        self.i = _BLANK.match(self.text, self.i).end()  # type: ignore[union-attr]

    def statement(self) -> None:
        """Scan the next line's statement (a table header or a key and its value)."""
        text = self.text
        self.blank()
        if self.i >= len(text):
            self.done = True
            return
        char = text[self.i]
        if char == "\n":
            self.i += 1
            self.line += 1
            return
        if char == "#":
            self.skip_comment()
            return
        if char == "[":
            self.i += 2 if text.startswith("[[", self.i) else 1
            parts = self.key()
            self.blank()
            if not text.startswith("]", self.i):
                raise Stop
            self.i += 2 if text.startswith("]]", self.i) else 1
            self.tables += 1
            self.table = self.found(parts, "", -1)
            self.last = self.line, self.table
            if self.tables > MAX_TABLES:
                self.too_many = self.line, self.table, f"more than {MAX_TABLES} table headers"
                raise Stop
        else:
            parts, line = self.key(), self.line
            self.blank()
            if not text.startswith("=", self.i):
                raise Stop
            self.i += 1
            self.blank()
            self.value = line, self.found(parts, self.table, self.i, line)
            self.last = self.value
            self.skip_value()
        self.blank()
        if text.startswith("#", self.i):
            self.skip_comment()
        elif self.i < len(text) and text[self.i] != "\n":
            raise Stop

    def found(self, parts: list[str], table: str, value_at: int, line: int = 0) -> str:
        """Records a key (and the tables its dots open) on its line; returns the dotted key."""
        key = table
        for part in parts:
            key = dotted_key(key, part)
            self.keys.setdefault(key, (line or self.line, -1))
        if value_at >= 0:
            self.keys[key] = self.keys[key][0], value_at
        self.dots += len(parts) - 1
        if self.dots > MAX_KEY_DOTS:
            what = f"more than {MAX_KEY_DOTS} dots in its keys and table headers together"
            self.too_many = line or self.line, key, what
            raise Stop
        return key

    def skip_comment(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end

    def key(self) -> list[str]:
        text, parts = self.text, []
        while True:
            self.blank()
            start = self.i
            if text.startswith('"', start):
                self.skip_basic()
                decoded = decode_string(text, start)
                parts.append(decoded[0] if decoded else text[start + 1 : self.i - 1])
            elif text.startswith("'", start):
                self.skip_literal()
                parts.append(text[start + 1 : self.i - 1])
            else:
                bare = _BARE_KEY.match(text, start)
                if bare is None:
                    raise Stop
                parts.append(bare.group())
                self.i = bare.end()
            if len(parts) > MAX_KEY_PARTS:
                self.too_deep = (self.line, ".".join(parts))
                raise Stop
            self.blank()
            if not text.startswith(".", self.i):
                return parts
            self.i += 1

    def skip_value(self) -> None:
        text, start = self.text, self.i
        if text.startswith('"""', start):
            self.skip_multiline_basic()
        elif text.startswith("'''", start):
            self.skip_multiline_literal()
        elif text.startswith('"', start):
            self.skip_basic()
        elif text.startswith("'", start):
            self.skip_literal()
        elif text.startswith(("[", "{"), start):
            self.skip_brackets()
        else:
            self.i = _BARE_VALUE.match(text, start).end()  # type: ignore[union-attr]
        self.line += text.count("\n", start, self.i)

    def skip_element(self) -> None:
        """An array's element: a value, a bare one ending at a comma or the bracket."""
        if self.text.startswith(("[", "{", '"', "'"), self.i):
            self.skip_value()
        else:
            self.i = _BARE_ELEMENT.match(self.text, self.i).end()  # type: ignore[union-attr]

    def skip_basic(self) -> None:
        text, i = self.text, self.i + 1
        while True:
            i = BASIC_RUN.match(text, i).end()  # type: ignore[union-attr]
            if i >= len(text) or text[i] == "\n":
                raise Stop
            if text[i] == '"':
                self.i = i + 1
                return
            i += 2  # a backslash and what it escapes

    def skip_literal(self) -> None:
        end = self.text.find("'", self.i + 1)
        newline = self.text.find("\n", self.i + 1, max(end, 0))
        if end < 0 or newline >= 0:
            raise Stop
        self.i = end + 1

    def skip_multiline_basic(self) -> None:
        text, i = self.text, self.i + 3
        while True:
            i = MULTILINE_RUN.match(text, i).end()  # type: ignore[union-attr]
            if i >= len(text):
                raise Stop
            if text[i] == "\\":
                i += 2
            elif text.startswith('"""', i):
                self.i = past_closing(text, i, '"')
                return
            else:
                i += 1

    def skip_multiline_literal(self) -> None:
        end = self.text.find("'''", self.i + 3)
        if end < 0:
            raise Stop
        self.i = past_closing(self.text, end, "'")

    def skip_brackets(self) -> None:
        """An array or inline table, however nested, with the strings and comments in it."""
        text, depth = self.text, 0
        while True:
            self.i = _IN_BRACKETS.match(text, self.i).end()  # type: ignore[union-attr]
            if self.i >= len(text):
                raise Stop
            char = text[self.i]
            if char in "[{":
                depth += 1
                self.i += 1
                if depth > self.deepest[0]:
                    self.deepest = depth, *self.value
            elif char in "]}":
                depth -= 1
                self.i += 1
                if depth == 0:
                    return
            elif char == "#":
                self.skip_comment()
            elif text.startswith('"""', self.i):
                self.skip_multiline_basic()
            elif text.startswith("'''", self.i):
                self.skip_multiline_literal()
            elif char == '"':
                self.skip_basic()
            else:
                self.skip_literal()

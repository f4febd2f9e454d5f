"""Where things are in a policy's text, and how its values are shown in messages.

tomllib keeps no positions: `KeyLines` scans the text once (linear, whatever it holds) for
the line of each dotted key and where its value starts; `toml_error` finds the line of a
syntax error; `hint` offers the closest known key.
"""

from __future__ import annotations

import itertools
import re
import sys
import tomllib

from .policy import PolicyError, dotted_key
from .toml_strings import BASIC_RUN, MULTILINE_RUN, decode_string, past_closing

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")

MAX_KEY_PARTS = 32
"""The most dotted parts a key may have (no policy key has more than four): tomllib takes
time quadratic in the parts of one key, seconds for 20,000."""


def toml_error(exc: tomllib.TOMLDecodeError, source: str, text: str) -> PolicyError:
    """The `PolicyError` for tomllib's error, at the line it names; a table's name as it is
    written (tomllib shows a tuple), and a word for a file in YAML or JSON."""
    message = str(exc)
    found = _TOML_POSITION.search(message)
    line = int(found.group(1)) if found and found.group(1) else None
    if found and line is None:
        line = text.count("\n") + 1
    problem = _TOML_POSITION.sub("", message).strip()
    problem = _TUPLE.sub(lambda found: f"[{'.'.join(_NAMES.findall(found.group(1)))}]", problem)
    if problem == "Cannot overwrite a value" and line is not None:  # which: tomllib names none
        written = text.split("\n")[line - 1].strip()
        problem += f" ({shown(written)} sets a key set before)"
    start = next((s for s in text.lstrip("\ufeff").splitlines() if s.strip()[:1] not in "#"), "")
    other = "JSON" if start.lstrip()[:1] == "{" else "YAML" if _YAML_START.match(start) else None
    written = f" (it looks like {other}: a policy is TOML, `version = 1`)" if other else ""
    return PolicyError(f"invalid TOML: {problem}{written}", path=source, line=line)


_TUPLE = re.compile(r"\(((?:'[^']*', ?)*'[^']*',?)\)")  # tomllib's ('tags', 'defaults')
_NAMES = re.compile(r"'([^']*)'")
_YAML_START = re.compile(r"---\s*$|[A-Za-z_][\w-]*:(?:\s|$)")


def hint(name: str, known: tuple[str, ...] | frozenset[str]) -> str:
    """A "did you mean" for an unknown ``name``, else the names ``known``."""
    import difflib  # only a bad policy needs it: loading a good one never imports it

    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def kind(value: object) -> str:
    """What a message calls a TOML value's type ("a string", "an array")."""
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def shown(value: object, limit: int = 60) -> str:
    """A value from the file as repr() shows it, cut short: a 5 MB string makes no message.
    A string cut short is shown quoted, with its own length (not its text's); a boolean as
    TOML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return (
            repr(value)
            if len(value) <= limit
            else f"{value[:limit]!r}... ({len(value)} characters)"
        )
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than int -> str converts (0x... has no limit)
        return f"{kind(value)} too long to show"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class KeyLines:
    """Where each dotted key is written in the TOML text, found in one linear scan, made as
    far as a question needs (a key on line 2 of a large file is found at once)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._scan: _Scan | None = None

    def scanned(self, key: str | None = None) -> _Scan:
        """The scan of the text, made at least until ``key`` is found (None: to the end)."""
        if self._scan is None:
            self._scan = _Scan(self.text)
        self._scan.until(key)
        return self._scan

    def too_deep(self) -> tuple[int, str] | None:
        """The line and the start of the first key of more than `MAX_KEY_PARTS` parts."""
        # A key is written on one line: without a line of that many dots, none is that deep,
        # and the scan waits until a message needs a line.
        if self.text.count(".") < MAX_KEY_PARTS or all(
            line.count(".") < MAX_KEY_PARTS for line in self.text.split("\n")
        ):
            return None
        return self.scanned().too_deep

    def most_nested(self) -> tuple[int, str] | None:
        """The line and key of the value whose arrays or inline tables nest deepest (None:
        no value holds one, or the text stops being TOML before)."""
        _, line, key = self.scanned().deepest
        return (line, key) if line else None

    def long_integer(self) -> tuple[int, str | None] | None:
        """The line and key (None: not found) of the first integer of more digits than
        Python converts (``sys.get_int_max_str_digits``, 4,300 unless set), which
        ``tomllib`` refuses with a `ValueError` that says nowhere; None: none is found.

        A run of that many digits may be no integer: in a string or a comment, or part of a
        float. The text up to the end of the run is parsed: only an integer there makes
        ``tomllib`` raise that `ValueError` (a string left open is a `TOMLDecodeError`, a
        comment no error); a float is told by what follows the run."""
        limit = sys.get_int_max_str_digits()
        if not limit:
            return None
        run = rf"(?<![\w\"'.])[0-9](?:_?[0-9]){{{limit},}}(?![.eE0-9_])"
        for found in itertools.islice(re.finditer(run, self.text), _LONG_RUNS_TRIED):
            try:
                tomllib.loads(self.text[: found.end()])
            except (tomllib.TOMLDecodeError, RecursionError):
                continue
            except ValueError:
                line = self.text.count("\n", 0, found.start()) + 1
                return self.key_holding(found.start()) or (line, None)
        return None

    def key_holding(self, offset: int) -> tuple[int, str] | None:
        """The line of character ``offset`` and the key whose value holds it (None: no key's
        value does: it is in a comment, a key, a table's header)."""
        keys = self.scanned().keys
        starts = [(at, key) for key, (_, at) in keys.items() if 0 <= at <= offset]
        if not starts:
            return None
        at, key = max(starts)
        scan = _Scan(self.text, at)
        try:
            scan.skip_value()
        except _Stop:
            return None
        if offset >= scan.i:
            return None
        return self.text.count("\n", 0, offset) + 1, key

    def find(self, key: str) -> int | None:
        """The line of ``key``, else of its nearest enclosing table or key; of an array's
        element (``key[2]``), its own line when the array is written over several."""
        element = re.search(r"\[(\d+)\]$", key)
        if element is not None:
            key = key[: element.start()]
            line = self.element_line(key, int(element.group(1)))
            if line is not None:
                return line
        keys = self.scanned(key).keys
        if key in keys:  # the key itself, even the empty key ""
            return keys[key][0]
        while "." in key:
            key = key.rpartition(".")[0]
            if key in keys:
                return keys[key][0]
        return None

    def element_line(self, key: str, index: int) -> int | None:
        """The line element ``index`` of the array written at ``key`` starts on (None: no
        array is written there, or it has no such element)."""
        entry = self.scanned(key).keys.get(key)
        if entry is None or entry[1] < 0 or not self.text.startswith("[", entry[1]):
            return None
        scan = _Scan(self.text, entry[1] + 1)
        try:
            for _ in range(index):
                scan.i = _ARRAY_GAP.match(self.text, scan.i).end()  # type: ignore[union-attr]
                scan.skip_element()
                scan.i = _ARRAY_GAP.match(self.text, scan.i).end()  # type: ignore[union-attr]
                if not self.text.startswith(",", scan.i):
                    return None
                scan.i += 1
        except _Stop:
            return None
        start = _ARRAY_GAP.match(self.text, scan.i).end()  # type: ignore[union-attr]
        if self.text.startswith("]", start) or start >= len(self.text):
            return None
        return self.text.count("\n", 0, start) + 1

    def locate(self, key: str, value: str, index: int) -> tuple[int, int] | None:
        """The line and column where character ``index`` of the string ``value``, written at
        ``key``, is in the text; None when the key's value is not written as such a string."""
        entry = self.scanned(key).keys.get(key)
        if entry is None or entry[1] < 0:
            return None
        decoded = decode_string(self.text, entry[1])
        if decoded is None or decoded[0] != value or not value:
            return None
        at = decoded[1][min(max(index, 0), len(value) - 1)]
        line_start = self.text.rfind("\n", 0, at) + 1
        return self.text.count("\n", 0, at) + 1, at - line_start + 1


class _Stop(Exception):
    """The text stops being TOML the scan understands: keep what was found."""


_BLANK = re.compile(r"[ \t\r]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BARE_VALUE = re.compile(r"[^#\n]*")
_LONG_RUNS_TRIED = 20
"""How many runs of digits `KeyLines.long_integer` parses the text up to, at most (each
parse reads the text from its start)."""
_BARE_ELEMENT = re.compile(r"[^#\n,\]]*")
_ARRAY_GAP = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
"""What may come between an array's elements and its commas: blanks, line ends, comments."""
_IN_BRACKETS = re.compile(r"[^\"'#\[\]{}]*")


class _Scan:
    """One pass over TOML text, made as far as asked (`until`): each key's line and value
    offset (-1 for a table header), and the first key deeper than `MAX_KEY_PARTS`. Stops
    where the text is not TOML."""

    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.i = start  # a scan from within the text reads on from there; `line` stays 1
        self.line = 1
        self.table = ""
        self.done = False
        self.keys: dict[str, tuple[int, int]] = {}
        self.too_deep: tuple[int, str] | None = None
        self.value: tuple[int, str] = (0, "")
        self.deepest: tuple[int, int, str] = (0, 0, "")

    def until(self, key: str | None) -> None:
        """Scan on until ``key`` is found (None: to the end of the text)."""
        try:
            while not self.done and (key is None or key not in self.keys):
                self.statement()
        except _Stop:
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
                raise _Stop
            self.i += 2 if text.startswith("]]", self.i) else 1
            self.table = self.found(parts, "", -1)
        else:
            parts, line = self.key(), self.line
            self.blank()
            if not text.startswith("=", self.i):
                raise _Stop
            self.i += 1
            self.blank()
            self.value = line, self.found(parts, self.table, self.i, line)
            self.skip_value()
        self.blank()
        if text.startswith("#", self.i):
            self.skip_comment()
        elif self.i < len(text) and text[self.i] != "\n":
            raise _Stop

    def found(self, parts: list[str], table: str, value_at: int, line: int = 0) -> str:
        """Records a key (and the tables its dots open) on its line; returns the dotted key."""
        key = table
        for part in parts:
            key = dotted_key(key, part)
            self.keys.setdefault(key, (line or self.line, -1))
        if value_at >= 0:
            self.keys[key] = self.keys[key][0], value_at
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
                    raise _Stop
                parts.append(bare.group())
                self.i = bare.end()
            if len(parts) > MAX_KEY_PARTS:
                self.too_deep = (self.line, ".".join(parts))
                raise _Stop
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
                raise _Stop
            if text[i] == '"':
                self.i = i + 1
                return
            i += 2  # a backslash and what it escapes

    def skip_literal(self) -> None:
        end = self.text.find("'", self.i + 1)
        newline = self.text.find("\n", self.i + 1, max(end, 0))
        if end < 0 or newline >= 0:
            raise _Stop
        self.i = end + 1

    def skip_multiline_basic(self) -> None:
        text, i = self.text, self.i + 3
        while True:
            i = MULTILINE_RUN.match(text, i).end()  # type: ignore[union-attr]
            if i >= len(text):
                raise _Stop
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
            raise _Stop
        self.i = past_closing(self.text, end, "'")

    def skip_brackets(self) -> None:
        """An array or inline table, however nested, with the strings and comments in it."""
        text, depth = self.text, 0
        while True:
            self.i = _IN_BRACKETS.match(text, self.i).end()  # type: ignore[union-attr]
            if self.i >= len(text):
                raise _Stop
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

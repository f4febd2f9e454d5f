"""Where things are in a policy's text, and how its values are shown in messages.

tomllib keeps no positions: `KeyLines` scans the text once (linear, whatever it holds) for
the line of each dotted key and where its value starts; `toml_error` finds the line of a
syntax error; `parse_toml` parses the text, each problem at its line; `hint` offers the
closest known key.
"""

from __future__ import annotations

import re
import sys
import tomllib
from typing import TYPE_CHECKING, Any

from .policy import PolicyError

if TYPE_CHECKING:
    from .key_scan import Scan

# The patterns only a message reads are compiled when one first does (re's own cache): a
# policy that loads never needs them.
_TOML_POSITION = r"\(at line (\d+), column \d+\)|\(at end of document\)"
_TUPLE = r"\(((?:'[^']*', ?)*'[^']*',?)\)"  # tomllib's ('tags', 'defaults')
_NAMES = r"'([^']*)'"
_YAML_START = r"---\s*$|[A-Za-z_][\w-]*:(?:\s|$)"
_HEADER = r"(?m)^[ \t]*\["  # where a table header may start
_SET_TWICE = ("Cannot overwrite a value", "Cannot declare")  # tomllib's words for a key twice
# a line whose key (or table header) may go on past a dot: its first part and the dot
_DOTTED = r"""(?m)^[ \t]*\[*[ \t]*(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')[ \t]*\."""

MAX_KEY_PARTS = 32
"""The most dotted parts a key may have (no policy key has more than four): tomllib takes
time quadratic in the parts of one key, seconds for 20,000."""
MAX_TABLES = 256
"""The most table headers a policy may have (one per table the schema knows, one per
operation under ``[naming.operations]``): tomllib takes seconds for a MiB of dotted ones."""
MAX_KEY_DOTS = 4096
"""The most dots a policy's keys and table headers may hold together: tomllib takes seconds
for a MiB of dotted keys."""


def toml_error(exc: tomllib.TOMLDecodeError, source: str, lines: KeyLines) -> PolicyError:
    """The `PolicyError` for tomllib's error, at the line it names; a table's name as it is
    written (tomllib shows a tuple), and a word for a file in YAML or JSON; ``lines``: the
    text's `KeyLines`, whose scan the caller may have begun."""
    text, message = lines.text, str(exc)
    found = re.search(_TOML_POSITION, message)
    line = int(found.group(1)) if found and found.group(1) else None
    if found and line is None:
        line = text.count("\n") + 1
    problem = re.sub(_TOML_POSITION, "", message).strip()
    problem = re.sub(_TUPLE, lambda tuple_: f"[{'.'.join(re.findall(_NAMES, tuple_[1]))}]", problem)
    statement = None if line is None else lines.statement_on(line)
    key = None if statement is None else statement[1]
    if statement is not None and problem.startswith(_SET_TWICE):  # tomllib names neither
        line, (key, first) = statement[0], lines.set_before(statement[1], statement[0])
        problem += "" if first is None else f" (first at line {first})"
    start = next((s for s in text.lstrip("\ufeff").splitlines() if s.strip()[:1] not in "#"), "")
    yaml = re.match(_YAML_START, start)
    other = "JSON" if start.lstrip()[:1] == "{" else "YAML" if yaml else None
    written = f" (it looks like {other}: a policy is TOML, `version = 1`)" if other else ""
    return PolicyError(f"invalid TOML: {problem}{written}", path=source, line=line, key=key)


def _value_at(error: BaseException | None) -> int | None:
    """Where tomllib's parser was reading the value it failed on when it raised ``error``: the
    ``pos`` of its innermost ``parse_value`` frame (None: no such frame, another parser)."""
    at = None
    trace = None if error is None else error.__traceback__
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_name == "parse_value" and "tomllib" in code.co_filename:
            pos = trace.tb_frame.f_locals.get("pos")
            at = pos if type(pos) is int else at
        trace = trace.tb_next
    return at


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
        self._scan: Scan | None = None

    def scanned(self, key: str | None = None) -> Scan:
        """The scan of the text, made at least until ``key`` is found (None: to the end)."""
        from .key_scan import Scan

        if self._scan is None:
            self._scan = Scan(self.text)
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

    def too_many(self) -> tuple[int, str, str] | None:
        """The line and the key where the text first holds more than `MAX_TABLES` table
        headers or `MAX_KEY_DOTS` dots in its keys, and which of the two (the problem)."""
        # Without that many lines that may start a header, nor lines whose keys of at most
        # `MAX_KEY_PARTS` parts could hold that many dots, it holds neither, and the scan
        # waits until a message needs a line.
        text = self.text
        dotted_lines = MAX_KEY_DOTS // (MAX_KEY_PARTS - 1)
        if (text.count("[") <= MAX_TABLES or len(re.findall(_HEADER, text)) <= MAX_TABLES) and (
            text.count(".") <= dotted_lines or len(re.findall(_DOTTED, text)) <= dotted_lines
        ):
            return None
        return self.scanned().too_many

    def most_nested(self) -> tuple[int, str] | None:
        """The line and key of the value whose arrays or inline tables nest deepest (None:
        no value holds one, or the text stops being TOML before)."""
        _, line, key = self.scanned().deepest
        return (line, key) if line else None

    def long_integer(self, error: ValueError) -> tuple[int, str | None] | None:
        """The line and key (None: not found) of the integer of more digits than Python
        converts (``sys.get_int_max_str_digits``, 4,300 unless set) that ``tomllib`` refused
        with ``error``, a `ValueError` that says nowhere; None when it is not one. Where
        tomllib was reading it is told by its own frames in the traceback (`_value_at`): no
        second parse, whatever runs of digits (in comments, strings) come before it."""
        limit = sys.get_int_max_str_digits()
        at = _value_at(error)
        if not limit or at is None:
            return None
        run = rf"[+-]?[0-9](?:_?[0-9]){{{limit},}}(?![.eE0-9_])"
        if not re.compile(run).match(self.text, at):
            return None
        return self.key_holding(at) or (self.text.count("\n", 0, at) + 1, None)

    def key_holding(self, offset: int) -> tuple[int, str] | None:
        """The line of character ``offset`` and the key whose value holds it (None: no key's
        value does: it is in a comment, a key, a table's header)."""
        keys = self.scanned().keys
        starts = [(at, key) for key, (_, at) in keys.items() if 0 <= at <= offset]
        if not starts:
            return None
        at, key = max(starts)
        from .key_scan import Scan, Stop

        scan = Scan(self.text, at)
        try:
            scan.skip_value()
        except Stop:
            return None
        if offset >= scan.i:
            return None
        return self.text.count("\n", 0, offset) + 1, key

    def statement_on(self, line: int) -> tuple[int, str] | None:
        """The first line and the dotted key of the statement (a key and its value, a table's
        header) that ``line`` is part of (None: none, or the text stops being TOML before):
        tomllib names the line where it stood when it refused one, the value's last."""
        from .key_scan import Scan, Stop

        scan = Scan(self.text)
        before = scan.last
        try:
            while not scan.done and scan.line <= line:
                before = scan.last
                scan.statement()
                if scan.last is not before and scan.last[0] <= line <= scan.line:
                    return scan.last
        except Stop:  # the statement it stopped in, if it got as far as its key
            if scan.last is not before and scan.last[0] <= line <= scan.line:
                return scan.last
        return None

    def set_before(self, key: str, line: int) -> tuple[str, int | None]:
        """The key a statement of ``key`` on ``line`` sets again, and the line it was first set
        on (None: not before it): ``key`` itself, or the first of its tables given a value
        before (``a.b = 2`` after ``a = 1`` sets ``a`` again)."""
        keys = self.scanned().keys
        parts = key.split(".")  # a quoted part with a dot reads as more parts: none is set
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            first, value_at = keys.get(prefix, (line, -1))
            if first < line and (value_at >= 0 or end == len(parts)):
                return prefix, first
        return key, None

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
        from .key_scan import ARRAY_GAP, Scan, Stop

        scan = Scan(self.text, entry[1] + 1)
        try:
            for _ in range(index):
                scan.i = ARRAY_GAP.match(self.text, scan.i).end()  # type: ignore[union-attr]
                scan.skip_element()
                scan.i = ARRAY_GAP.match(self.text, scan.i).end()  # type: ignore[union-attr]
                if not self.text.startswith(",", scan.i):
                    return None
                scan.i += 1
        except Stop:
            return None
        start = ARRAY_GAP.match(self.text, scan.i).end()  # type: ignore[union-attr]
        if self.text.startswith("]", start) or start >= len(self.text):
            return None
        return self.text.count("\n", 0, start) + 1

    def locate(self, key: str, value: str, index: int) -> tuple[int, int] | None:
        """The line and column where character ``index`` of the string ``value``, written at
        ``key``, is in the text; None when the key's value is not written as such a string."""
        entry = self.scanned(key).keys.get(key)
        if entry is None or entry[1] < 0:
            return None
        from .toml_strings import decode_string

        decoded = decode_string(self.text, entry[1])
        if decoded is None or decoded[0] != value or not value:
            return None
        at = decoded[1][min(max(index, 0), len(value) - 1)]
        line_start = self.text.rfind("\n", 0, at) + 1
        return self.text.count("\n", 0, at) + 1, at - line_start + 1


def parse_toml(text: str, source: str) -> tuple[dict[str, Any], KeyLines]:
    """The document TOML ``text`` (from ``source``) holds, and the `KeyLines` of the text;
    every problem a `PolicyError` at its line and key. What tomllib would take seconds on is
    refused before it parses the text."""
    if text.startswith("\ufeff"):
        raise PolicyError(
            "starts with a byte order mark (BOM), which TOML does not allow: save it as UTF-8"
            " without one",
            path=source,
            line=1,
        )
    lines = KeyLines(text)
    refused = _refused_unparsed(lines)
    if refused is not None:
        raise PolicyError(refused[2], path=source, line=refused[0], key=refused[1])
    try:
        return tomllib.loads(text), lines
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(exc, source, lines) from None
    except RecursionError:
        line, key = lines.most_nested() or (None, None)
        raise PolicyError(
            "cannot parse TOML: arrays or inline tables nest too deeply (no policy value nests"
            " more than two levels)",
            path=source,
            line=line,
            key=key,
        ) from None
    except (MemoryError, ValueError) as exc:
        where = lines.long_integer(exc) if isinstance(exc, ValueError) else None
        what = "an integer of more digits than Python reads" if where else type(exc).__name__
        line, key = where or (None, None)
        raise PolicyError(f"cannot parse TOML: {what}", path=source, line=line, key=key) from None


def _refused_unparsed(lines: KeyLines) -> tuple[int, str, str] | None:
    """The line, key and problem of what is refused before tomllib parses the text, which
    would take seconds on it: a key of 20,000 parts, a MiB of dotted table headers or keys."""
    deep = lines.too_deep()
    if deep is not None:
        problem = (
            f"a key of more than {MAX_KEY_PARTS} dotted parts (no policy key has more than four)"
        )
        return (*deep, problem)
    many = lines.too_many()
    if many is not None:
        line, key, what = many
        return line, key, f"{what} (no policy needs so many; TOML takes seconds to read them)"
    return None

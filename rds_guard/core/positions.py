"""Where things are in a policy's text, and how its values are shown in messages.

tomllib keeps no positions: `KeyLines` finds the line of a dotted key, `toml_error` the line
of a syntax error; `hint` offers the closest known key.
"""

from __future__ import annotations

import difflib
import re
import tomllib

from .policy import PolicyError

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def toml_error(exc: tomllib.TOMLDecodeError, source: str, text: str) -> PolicyError:
    message = str(exc)
    found = _TOML_POSITION.search(message)
    line = int(found.group(1)) if found and found.group(1) else None
    if found and line is None:
        line = text.count("\n") + 1
    problem = _TOML_POSITION.sub("", message).strip()
    return PolicyError(f"invalid TOML: {problem}", path=source, line=line)


def join(table: str, key: str) -> str:
    return f"{table}.{key}" if table else key


def hint(name: str, known: tuple[str, ...] | frozenset[str]) -> str:
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
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def shown(value: object, limit: int = 60) -> str:
    """A value from the file as repr() shows it, cut short: a 5 MB string makes no message."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than int -> str converts (0x... has no limit)
        return f"{kind(value)} too long to show"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_ASSIGNMENT = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_KEY_PART = re.compile(r"[A-Za-z0-9_-]+|\"([^\"]*)\"|'([^']*)'")


class KeyLines:
    """Where each dotted key is written in the TOML text (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: dict[str, int] | None = None

    def find(self, key: str) -> int | None:
        """The line of ``key``, else of its nearest enclosing table or key."""
        if self._lines is None:
            self._lines = self._scan()
        key = re.sub(r"\[\d+\]$", "", key)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key.rpartition(".")[0]
        return None

    def _scan(self) -> dict[str, int]:
        found: dict[str, int] = {}
        table = ""
        for number, line in enumerate(self.text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = ".".join(_key_parts(header.group(1)))
                found.setdefault(table, number)
                continue
            assignment = _ASSIGNMENT.match(line)
            if assignment:
                key = ".".join(_key_parts(assignment.group(1)))
                found.setdefault(join(table, key), number)
        return found


def _key_parts(dotted: str) -> list[str]:
    return [m.group(1) or m.group(2) or m.group(0) for m in _KEY_PART.finditer(dotted)]

"""TOML strings as written: where one ends, and what it holds with where each character is
written (`positions` reports a value's problem at its column). tomllib keeps neither.

Plain runs of characters are taken a slice at a time: a policy may hold a string of a
mebibyte, and its error is reported within the second the policy's load is allowed.
"""

from __future__ import annotations

import re

BASIC_RUN = re.compile(r'[^"\\\n]*')
"""A basic string's characters up to a quote, a backslash or a line end."""
MULTILINE_RUN = re.compile(r'[^"\\]*')
"""A multi-line basic string's characters up to a quote or a backslash."""

_LINE_ENDING_BACKSLASH = re.compile(r"\\[ \t]*\r?\n[ \t\r\n]*")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_PLAIN = {  # by delimiter: what may be taken as it is, up to the next character to look at
    '"': re.compile(r'[^"\\\n\r]+'),
    "'": re.compile(r"[^'\n\r]+"),
    '"""': re.compile(r'[^"\\\r]+'),
    "'''": re.compile(r"[^'\r]+"),
}


def past_closing(text: str, at: int, quote: str) -> int:
    """Past the closing delimiter at ``at``: up to two more quotes are the string's own."""
    end = at + 3
    for _ in range(2):
        if text.startswith(quote, end):
            end += 1
    return end


def decode_string(text: str, start: int) -> tuple[str, list[int]] | None:
    """The TOML string written at ``start`` and, for each of its characters, where it is
    written; None when no string the decoder understands starts there."""
    for delimiter in ('"""', "'''", '"', "'"):
        if text.startswith(delimiter, start):
            break
    else:
        return None
    multiline, basic, plain = len(delimiter) == 3, delimiter[0] == '"', _PLAIN[delimiter]
    chars: list[str] = []
    where: list[int] = []
    i = start + len(delimiter)
    if multiline and text.startswith("\n", i):
        i += 1
    elif multiline and text.startswith("\r\n", i):
        i += 2
    while i < len(text):
        run = plain.match(text, i)
        if run is not None:
            chars.append(run.group())
            where += range(i, run.end())
            i = run.end()
            continue
        if text.startswith(delimiter, i):
            if multiline:
                extra = past_closing(text, i, delimiter[0]) - i - 3
                chars += delimiter[0] * extra
                where += range(i, i + extra)
            return "".join(chars), where
        char = text[i]
        if char == "\\" and basic:
            code = text[i + 1 : i + 2]
            if code in _ESCAPES:
                chars.append(_ESCAPES[code])
                where.append(i)
                i += 2
            elif code in ("u", "U"):
                width = 4 if code == "u" else 8
                try:
                    chars.append(chr(int(text[i + 2 : i + 2 + width], 16)))
                except ValueError:
                    return None
                where.append(i)
                i += 2 + width
            elif multiline and (ending := _LINE_ENDING_BACKSLASH.match(text, i)):
                i = ending.end()  # a line-ending backslash takes the blanks after it along
            else:
                return None
            continue
        if char == "\n" and not multiline:
            return None
        if char == "\r" and text.startswith("\r\n", i):
            i += 1
            char = "\n"
        chars.append(char)
        where.append(i)
        i += 1
    return None

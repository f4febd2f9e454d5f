"""What the policy regex dialect refuses, and what to write instead: Python's flags RE2 lacks,
the groups and escapes that need backtracking or that RE2 would read otherwise. `regex_syntax`
raises each as a `RegexProblem` where it is written."""

from __future__ import annotations


class RegexProblem(ValueError):
    """A pattern that cannot be used. ``position``: the offset in the pattern as written (None
    when RE2 names no place); ``syntax``: True when it is no regex at all."""

    def __init__(self, message: str, position: int | None, *, syntax: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.syntax = syntax


PYTHON_FLAGS = {
    "a": "(?a) (ASCII classes): write [0-9A-Za-z_] for an ASCII \\w",
    "L": "(?L) (locale classes)",
    "u": "(?u): the classes are Unicode already, drop it",
    "x": "(?x) (verbose): write the pattern without its spaces and comments",
}
_BACKTRACKS = "it would need backtracking"
REFUSED_GROUPS = {  # (? and what follows: what it is, what to do
    "=": ("lookahead (?=...)", _BACKTRACKS),
    "!": ("negative lookahead (?!...)", _BACKTRACKS),
    "<=": ("lookbehind (?<=...)", _BACKTRACKS),
    "<!": ("negative lookbehind (?<!...)", _BACKTRACKS),
    "P=": ("backreference (?P=name)", _BACKTRACKS),
    ">": (
        "atomic group (?>...)",
        "RE2 never backtracks, so drop the (?> and its ) and check the pattern still means"
        " what you want",
    ),
    "(": ("conditional group (?(...)", _BACKTRACKS),
    "#": ("comment group (?#...)", "delete it"),
}
_BOUNDARY = (
    ": RE2's word boundary knows only ASCII letters, Python's every letter; write the"
    " characters around it out (\\p{L}, \\p{N}, [^\\p{L}\\p{N}_]), or drop it (a full match"
    " anchors both ends already)"
)
REFUSED_ESCAPES = {
    "b": _BOUNDARY,
    "B": _BOUNDARY,
    "Z": ": RE2 has no \\Z; write \\z (the end of the text)",
    "C": " matches one byte, not one character: write .",
}

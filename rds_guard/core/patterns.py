"""`Lazy`: a stdlib regular expression compiled the first time it is used.

A pattern compiled where its module is imported costs every process that imports the module
(about 70 µs each on CPython 3.11), though most of rds_guard's are for paths a program may
never take: a policy's own regular expressions and templates, a ledger's names, a presigned
URL's expiry, an error message's secrets, botocore's validation report, an operation's other
spellings. Each of those is compiled when a call first needs it, once per process (not left
to the `re` module's cache: it is bounded and shared with the application, whose patterns
can evict ours on a path that runs per character).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, AnyStr, Generic


class Lazy(Generic[AnyStr]):
    """``re.compile(source, flags)``, made at the first match: the `re.Pattern` methods
    rds_guard uses, with their arguments."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: AnyStr, flags: int = 0) -> None:
        self._source: AnyStr = source
        self._flags: int = flags
        self._compiled: re.Pattern[AnyStr] | None = None

    @property
    def compiled(self) -> re.Pattern[AnyStr]:
        """The compiled pattern (two threads meeting here compile it twice, both alike)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source, self._flags)
        return compiled

    def match(self, string: AnyStr, pos: int = 0) -> re.Match[AnyStr] | None:
        """`re.Pattern.match`."""
        return self.compiled.match(string, pos)

    def fullmatch(self, string: AnyStr) -> re.Match[AnyStr] | None:
        """`re.Pattern.fullmatch`."""
        return self.compiled.fullmatch(string)

    def search(self, string: AnyStr) -> re.Match[AnyStr] | None:
        """`re.Pattern.search`."""
        return self.compiled.search(string)

    def finditer(self, string: AnyStr) -> Iterator[re.Match[AnyStr]]:
        """`re.Pattern.finditer`."""
        return self.compiled.finditer(string)

    def findall(self, string: AnyStr) -> list[Any]:
        """`re.Pattern.findall`."""
        return self.compiled.findall(string)

    def sub(
        self, replacement: AnyStr | Callable[[re.Match[AnyStr]], AnyStr], string: AnyStr
    ) -> AnyStr:
        """`re.Pattern.sub`."""
        return self.compiled.sub(replacement, string)

    def __repr__(self) -> str:
        return f"Lazy({self._source!r}, {self._flags!r})"

"""`Lazy` answers as the `re.Pattern` it stands for, compiled at its first use."""

from __future__ import annotations

import re

import pytest

from rds_guard.core.patterns import Lazy

TEXTS = ["", "abc", "a1-b2", "ABC def", "\n", "é", "x" * 70]


@pytest.mark.parametrize(
    ("source", "flags"),
    [(r"[a-z0-9-]*", 0), (r"(-?)([0-9]+)", 0), (r"a.c", re.DOTALL), (r"[A-Z]+ ?", re.I)],
)
def test_a_lazy_pattern_answers_as_the_compiled_one(source: str, flags: int) -> None:
    lazy, compiled = Lazy(source, flags), re.compile(source, flags)
    for text in TEXTS:
        assert _groups(lazy.fullmatch(text)) == _groups(compiled.fullmatch(text))
        assert _groups(lazy.search(text)) == _groups(compiled.search(text))
        for pos in (0, 1, 3):
            assert _groups(lazy.match(text, pos)) == _groups(compiled.match(text, pos))
        assert [m.span() for m in lazy.finditer(text)] == [
            m.span() for m in compiled.finditer(text)
        ]
        for replacement in ("<\\g<0>>", lambda m: m.group(0).upper()):
            assert lazy.sub(replacement, text) == compiled.sub(replacement, text)
    assert lazy.compiled is lazy.compiled  # compiled once
    assert lazy.compiled.pattern == source and lazy.compiled.flags == compiled.flags


def test_a_lazy_bytes_pattern_matches_bytes() -> None:
    lazy = Lazy(rb"[0-9a-f]{4}")
    assert lazy.fullmatch(b"00ff") is not None
    assert lazy.fullmatch(b"00fg") is None


def test_a_bad_pattern_fails_where_it_is_first_used() -> None:
    lazy = Lazy(r"(unclosed")
    with pytest.raises(re.error):
        lazy.fullmatch("x")


def _groups(found: re.Match[str] | None) -> tuple[object, ...] | None:
    return None if found is None else (found.span(), found.groups())

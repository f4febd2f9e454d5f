"""Find the regex shapes that backtrack catastrophically, so a policy can refuse them at load.

Python's ``re`` backtracks: ``^([a-z]+)+-x$`` takes seconds on 30 characters, and AWS's
255/256-character limits do not save a guard that runs in the path of every snapshot. Two
known shapes are refused (possessive quantifiers and atomic groups, both in Python 3.11, are
the way out):

- a repeated group whose body is itself repeated, unless a mandatory character that the inner
  repeat cannot match separates the rounds (``(-[a-z0-9]+)*`` is fine, ``([a-z]+)+`` is not);
- a repeated alternation whose alternatives can start with the same character
  (``(\\w|\\d)+``, ``(a|aa)*``).

The analysis reads the parse tree of ``re._parser`` (stable across 3.11-3.13); characters are
compared on a sample alphabet, which is enough to tell the shapes apart.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any

# Private but stable modules, without type information.
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

_SAMPLE = frozenset(
    [chr(c) for c in range(0x20, 0x7F)] + list("\t\n\r\x00\u00e9\u00fc\u4e2d\u0663\u3000\u2028_")
)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)
_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    sre.CATEGORY_DIGIT: str.isdecimal,
    sre.CATEGORY_SPACE: str.isspace,
    sre.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
}
_NEGATED = {
    sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
    sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
}

Node = tuple[Any, Any]


def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack catastrophically, or None when no known shape is found."""
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None  # compiling it reports the error
    return _scan(list(tree))


def _scan(sequence: Sequence[Node]) -> str | None:
    for op, av in sequence:
        if op in _REPEATS:
            _low, high, body = av
            if high > 1:
                problem = _repeated_body_problem(list(body))
                if problem:
                    return problem
            found = _scan(list(body))
        elif op in (sre.SUBPATTERN,):
            found = _scan(list(av[-1]))
        elif op == sre.BRANCH:
            found = next((p for alt in av[1] if (p := _scan(list(alt)))), None)
        elif op in (sre.ATOMIC_GROUP, sre.POSSESSIVE_REPEAT):
            found = None  # no backtracking into these
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            found = _scan(list(av[1]))
        else:
            found = None
        if found:
            return found
    return None


def _flatten(sequence: Sequence[Node]) -> list[Node]:
    """The sequence with plain groups inlined: ``(-[a-z]+)`` reads as ``-[a-z]+``."""
    flat: list[Node] = []
    for op, av in sequence:
        if op == sre.SUBPATTERN:
            flat += _flatten(list(av[-1]))
        else:
            flat.append((op, av))
    return flat


def _repeated_body_problem(body: list[Node]) -> str | None:
    body = _flatten(body)
    inner = _inner_repeats(body)
    if inner and not _separated(body, inner):
        return "a repeated group contains another repeat (nested quantifier)"
    if _ambiguous_branch(body, _first(body)):
        return "a repeated alternation whose alternatives can match the same character"
    return None


def _inner_repeats(sequence: Sequence[Node]) -> list[frozenset[str]]:
    """Character sets of the repeats (max > 1) inside a body, not looking into atomic parts."""
    found: list[frozenset[str]] = []
    for op, av in sequence:
        if op in _REPEATS:
            if av[1] > 1:
                found.append(_chars(list(av[2])))
            found += _inner_repeats(list(av[2]))
        elif op == sre.SUBPATTERN:
            found += _inner_repeats(list(av[-1]))
        elif op == sre.BRANCH:
            for alt in av[1]:
                found += _inner_repeats(list(alt))
    return found


def _separated(body: Sequence[Node], inner: list[frozenset[str]]) -> bool:
    """True when a mandatory character, which no inner repeat can match, splits the rounds."""
    for op, av in body:
        if op in (sre.LITERAL, sre.IN, sre.NOT_LITERAL, sre.ANY):
            chars = _chars([(op, av)])
            if all(not (chars & repeat) for repeat in inner):
                return True
    return False


def _ambiguous_branch(sequence: Sequence[Node], loop_first: frozenset[str]) -> bool:
    for index, (op, av) in enumerate(sequence):
        rest = list(sequence[index + 1 :])
        follow = _first(rest) | (loop_first if _nullable(rest) else frozenset())
        if op == sre.BRANCH:
            starts = [
                _first(list(alt)) | (follow if _nullable(list(alt)) else frozenset())
                for alt in av[1]
            ]
            for i, left in enumerate(starts):
                if any(left & right for right in starts[i + 1 :]):
                    return True
            if any(_ambiguous_branch(list(alt), follow) for alt in av[1]):
                return True
        elif op == sre.SUBPATTERN and _ambiguous_branch(list(av[-1]), follow):
            return True
    return False


def _nullable(sequence: Sequence[Node]) -> bool:
    return all(_node_nullable(node) for node in sequence)


def _node_nullable(node: Node) -> bool:
    op, av = node
    if op in _REPEATS or op == sre.POSSESSIVE_REPEAT:
        return bool(av[0] == 0 or _nullable(list(av[2])))
    if op == sre.SUBPATTERN:
        return _nullable(list(av[-1]))
    if op == sre.ATOMIC_GROUP:
        return _nullable(list(av))
    if op == sre.BRANCH:
        return any(_nullable(list(alt)) for alt in av[1])
    return op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT, sre.GROUPREF, sre.GROUPREF_EXISTS)


def _first(sequence: Sequence[Node]) -> frozenset[str]:
    """The characters a match of the sequence can start with."""
    found: frozenset[str] = frozenset()
    for node in sequence:
        found |= _node_first(node)
        if not _node_nullable(node):
            break
    return found


def _node_first(node: Node) -> frozenset[str]:
    op, av = node
    if op in _REPEATS or op == sre.POSSESSIVE_REPEAT:
        return _first(list(av[2]))
    if op == sre.SUBPATTERN:
        return _first(list(av[-1]))
    if op == sre.ATOMIC_GROUP:
        return _first(list(av))
    if op == sre.BRANCH:
        return frozenset().union(*(_first(list(alt)) for alt in av[1]))
    return _chars([node])


def _chars(sequence: Sequence[Node]) -> frozenset[str]:
    """Every character the sequence can match anywhere (on the sample alphabet)."""
    found: set[str] = set()
    for op, av in sequence:
        if op == sre.LITERAL:
            found.add(chr(av))
        elif op == sre.NOT_LITERAL:
            found |= _SAMPLE - {chr(av)}
        elif op == sre.ANY:
            found |= _SAMPLE - {"\n"}
        elif op == sre.IN:
            found |= _class_chars(av)
        elif op in _REPEATS or op == sre.POSSESSIVE_REPEAT:
            found |= _chars(list(av[2]))
        elif op == sre.SUBPATTERN:
            found |= _chars(list(av[-1]))
        elif op == sre.ATOMIC_GROUP:
            found |= _chars(list(av))
        elif op == sre.BRANCH:
            for alt in av[1]:
                found |= _chars(list(alt))
    return frozenset(found)


def _class_chars(items: Sequence[Node]) -> frozenset[str]:
    negate = bool(items) and items[0][0] == sre.NEGATE
    members: set[str] = set()
    for op, av in items:
        if op == sre.LITERAL:
            members.add(chr(av))
        elif op == sre.RANGE:
            low, high = av
            members |= {ch for ch in _SAMPLE if low <= ord(ch) <= high}
            members |= {chr(low), chr(high)}
        elif op == sre.CATEGORY:
            members |= _category_chars(av)
    return frozenset(_SAMPLE - members) if negate else frozenset(members)


def _category_chars(category: Any) -> set[str]:
    if category in _NEGATED:
        return set(_SAMPLE) - _category_chars(_NEGATED[category])
    test = _CATEGORIES.get(category)
    return {ch for ch in _SAMPLE if test(ch)} if test else set(_SAMPLE)

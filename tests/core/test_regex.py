"""core/regex.py and core/regex_syntax.py: policy regexes on RE2, read so that a pattern
written for Python's `re` matches what it matched there or is refused saying why; naming
patterns and their `{source}`."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import re
import subprocess
import sys
import unicodedata

import pytest
import re2
from core_fixtures import body_error
from hypothesis import given
from hypothesis import strategies as st

from rds_guard.core.regex import (
    NamePattern,
    RegexProblem,
    compile_regex,
    escape,
    tag_value_refusal,
)
from rds_guard.core.regex_syntax import translate

# --- naming patterns -----------------------------------------------------------------------


def test_name_pattern_inserts_source_regex_escaped():
    """A source holding `.` or `+` matches itself literally, not as regex syntax."""
    pattern = NamePattern("^{source}-manual$")
    assert pattern.fullmatch("db.v2-manual", "db.v2")
    assert not pattern.fullmatch("dbxv2-manual", "db.v2")
    assert pattern.fullmatch("c++-manual", "c++")
    assert not pattern.fullmatch("cc-manual", "c++")


def test_name_pattern_other_braces_are_regex_quantifiers():
    """`{8}` and `{1,2}` keep their regex meaning; only `{source}` is replaced."""
    pattern = NamePattern("^{source}-[0-9]{8}-v[0-9]{1,2}$")
    assert pattern.fullmatch("orders-20261129-v12", "orders")
    assert not pattern.fullmatch("orders-2026112-v1", "orders")
    assert not pattern.fullmatch("orders-20261129-v123", "orders")


def test_name_pattern_is_a_full_match():
    """The whole identifier must match, even without `^`/`$` anchors."""
    pattern = NamePattern("{source}-[a-z]+")
    assert pattern.fullmatch("orders-daily", "orders")
    assert not pattern.fullmatch("orders-daily-1", "orders")
    assert not pattern.fullmatch("x-orders-daily", "orders")


def test_name_pattern_with_several_source_placeholders():
    """Each `{source}` is replaced."""
    pattern = NamePattern("^{source}-copy-of-{source}$")
    assert pattern.uses_source
    assert pattern.fullmatch("a-copy-of-a", "a")
    assert not pattern.fullmatch("a-copy-of-b", "a")


def test_name_pattern_without_source_ignores_the_source():
    """A pattern without `{source}` is the same regex whatever the source."""
    pattern = NamePattern("^dr-.+$")
    assert not pattern.uses_source
    assert pattern.compiled("a") is pattern.compiled("b")
    assert pattern.compiled("a").pattern == "^dr-.+$"


def test_name_pattern_compiled_regex_is_escaped_source():
    """The compiled regex holds `re2.escape(source)` (RE2's QuoteMeta) where `{source}` was."""
    assert NamePattern("^{source}$").compiled("a.b+c").pattern == "^" + re2.escape("a.b+c") + "$"


@given(st.text(max_size=30))
def test_name_pattern_source_matches_itself_literally(source):
    """Whatever characters a source holds, `^{source}$` matches exactly that source."""
    pattern = NamePattern("^{source}$")
    assert pattern.fullmatch(source, source)
    assert not pattern.fullmatch(source + "x", source)


def test_name_pattern_source_with_a_lone_surrogate_matches_itself():
    """A source no UTF-8 text can hold (a lone surrogate) is still itself to the pattern."""
    pattern = NamePattern("^{source}-x$")
    assert pattern.fullmatch("db\ud800-x", "db\ud800")
    assert not pattern.fullmatch("db-x", "db\ud800")


# --- escape is RE2's QuoteMeta --------------------------------------------------------------


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
def test_escape_is_re2s_own_for_utf8_text(text):
    """`escape` spells text as `re2.escape` (RE2's QuoteMeta on its UTF-8) does, hyphens
    aside (itself outside a class), and the result matches the text and nothing else."""
    assert escape(text) == re2.escape(text).replace("\\-", "-")
    assert compile_regex("^" + escape(text) + "$").fullmatch(text)
    assert not compile_regex(escape(text)).fullmatch(text + "x")


def test_escape_quotes_every_ascii_punctuation_and_control_character():
    """Each ASCII character other than a letter, digit, '_' or '-' is quoted; NUL is \\x00."""
    for code in range(128):
        char = chr(code)
        assert compile_regex(escape(char)).fullmatch(char), repr(char)
    assert escape("a-b.c\0é_") == "a-b\\.c\\x00é_"


# --- RE2, not Python's re: what it refuses -------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        (r"^(a)\1$", "backreference"),
        (r"^(?P<x>a)(?P=x)$", "backreference"),
        (r"^a(?=b)", "lookahead"),
        (r"^a(?!b)", "negative lookahead"),
        (r"(?<=a)b", "lookbehind"),
        (r"(?<!a)b", "negative lookbehind"),
        (r"^a\Z", "\\Z"),
        (r"^(?>a+)b$", "atomic group"),
        (r"^a++b$", "possessive repeat ++"),
        (r"^a*+b$", "possessive repeat *+"),
        (r"^a?+b$", "possessive repeat ?+"),
        (r"^a{2}+$", "possessive repeat {2}+"),
        (r"^(?(1)a|b)$", "conditional group"),
        (r"^a(?#note)$", "comment group"),
        (r"(?x)^a b$", "(?x)"),
        (r"(?a)^\w$", "(?a)"),
        (r"^\C$", "one byte"),
    ],
)
def test_a_construct_re2_lacks_is_refused_by_name(pattern, named):
    """Backreferences, lookaround, \\Z, atomic groups, possessive repeats and Python-only
    flags: a `RegexProblem` naming the construct, at its offset."""
    with pytest.raises(RegexProblem) as caught:
        compile_regex(pattern)
    assert named in caught.value.message
    assert not caught.value.syntax
    assert caught.value.position is not None


@pytest.mark.parametrize(
    ("pattern", "position", "said"),
    [
        ("a(?i)bc", 1, r"only at its start: write \(\?i:\.\.\.\)"),
        ("^(?i)abc", 1, r"only at its start: write \(\?i:\.\.\.\)"),
        ("(?i:a)(?s)b", 6, r"only at its start: write \(\?i:\.\.\.\)"),
        ("(?i)(?-s)a", 4, r"turned off only for a group, as in \(\?-i:\.\.\.\)"),
        ("(?-i)a", 0, r"turned off only for a group, as in \(\?-i:\.\.\.\)"),
        ("(?i-s)a", 0, r"turned off only for a group"),
    ],
)
def test_flags_for_the_whole_pattern_anywhere_but_at_its_start_are_refused(pattern, position, said):
    """Python refuses global flags after the start, and a global flag turned off: RE2 would
    take them from their place on, a meaning the pattern never had. At the start, and in a
    group of their own, they are the same to both. A flag turned off is told as such (at
    the start too, where "only at its start" would name no problem)."""
    with pytest.raises(re.error):
        re.compile(pattern)
    with pytest.raises(RegexProblem, match=said) as caught:
        compile_regex(pattern)
    assert (caught.value.position, caught.value.syntax) == (position, True)
    for allowed in ("(?i)(?s)abc", "(?i:a)b(?-i:c)"):
        assert compile_regex(allowed).fullmatch("Abc")


@pytest.mark.parametrize("pattern", ["(?i-)a", "(?-)a", "a(?i-:b)"])
def test_a_minus_naming_no_flag_is_a_missing_flag(pattern):
    """Python's "missing flag": a ``-`` turns off the flags after it, and none follow."""
    with pytest.raises(re.error, match="missing flag"):
        re.compile(pattern)
    with pytest.raises(RegexProblem, match=r"^missing flag: a '-' names the flags it turns off"):
        compile_regex(pattern)


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        (r"^a\bb$", "\\p{L}"),
        (r"^a\Bb$", "\\p{L}"),
        (r"^a{,3}$", "{0,3}"),
        (r"^a{,}$", "write *"),
        (r"^[[:alpha:]]$", "\\p{...}"),
        (r"^[^\Wa]$", "without \\W"),
    ],
)
def test_what_re2_would_read_otherwise_is_refused_with_a_hint(pattern, hint):
    """\\b (ASCII in RE2, Unicode in Python), {,n} (literal text in RE2), [[:alpha:]] (literal
    characters in Python) never silently change meaning: refused, saying what to write."""
    with pytest.raises(RegexProblem) as caught:
        compile_regex(pattern)
    assert hint in caught.value.message


@pytest.mark.parametrize(
    ("pattern", "position", "problem"),
    [
        ("^(x$", 1, "missing ')'"),
        ("^x)$", 2, "unbalanced ')'"),
        ("^[a$", 1, "missing ']'"),
        ("^[a-$]", 2, "bad character range a-$"),
        ("^[z-a]$", 2, "bad character range z-a"),
        ("^[\\d-z]$", 2, "bad character range \\d-z"),
        ("^[x\\W-z]$", 3, "bad character range \\W-z"),
        ("^[\\p{L}-z]$", 2, "bad character range \\p{L}-z"),
        ("^[x\\x41-\\d]$", 3, "bad character range \\x41-\\d"),
        ("^[\\x{7a}-a]$", 2, "bad character range \\x{7a}-a"),
        ("^*$", 1, "nothing to repeat"),
        ("^a**$", 3, "multiple repeat"),
        ("^ab\\", 3, "at the end of the pattern"),
        ("^a\\q$", 2, "invalid escape sequence"),
        ("^a{1001}$", 2, "RE2 repeats at most 1000 times"),
        ("^\\N{NO SUCH NAME}$", 1, "no such character"),
        ("^\\pX$", 1, "invalid character class range"),
    ],
)
def test_syntax_errors_carry_their_offset_in_the_pattern_as_written(pattern, position, problem):
    """Errors found while reading, and errors RE2 reports on the rewritten text, both point
    into the pattern as the policy wrote it."""
    with pytest.raises(RegexProblem) as caught:
        compile_regex(pattern)
    assert caught.value.syntax
    assert (caught.value.position, problem in caught.value.message) == (position, True)


def test_an_re2_error_after_a_rewritten_class_points_into_the_written_pattern():
    """`\\w` is ten characters in RE2's text: the error after it is still at its place."""
    with pytest.raises(RegexProblem) as caught:
        compile_regex(r"^\w\d\s\pX$")
    assert caught.value.position == 7


# --- RE2, not Python's re: what keeps Python's meaning -------------------------------------

SAMPLES = [
    *"aZ09_-. \t\n\x0b\x0c\r\x00\x1c\x1f\x7f",
    "é",  # Ll
    "É",  # Lu
    "ß",
    "ǅ",  # Lt
    "ʰ",  # Lm
    "中",  # Lo
    "ー",  # Lm
    "٣",  # Nd (Arabic-Indic three)
    "²",  # No
    "½",  # No
    "Ⅻ",  # Nl
    "\u0301",  # Mn: no word character to Python
    "\u00a0",
    "\u0085",
    "\u1680",
    "\u2007",
    "\u2028",
    "\u2029",
    "\u202f",
    "\u3000",
    "\u200b",  # Cf: no space to Python
    "\ufeff",
    "😀",
    "K",  # Kelvin sign
    "ſ",  # long s
    "İ",
    "ı",
    "ẞ",
]

PYTHON_PATTERNS = [
    r"\w",
    r"\W",
    r"\d",
    r"\D",
    r"\s",
    r"\S",
    r"[\w]",
    r"[\W]",
    r"[\d]",
    r"[\D]",
    r"[\s]",
    r"[\S]",
    r"[^\w]",
    r"[^\W]",
    r"[^\d]",
    r"[^\D]",
    r"[^\s]",
    r"[^\S]",
    r"[\w-]",
    r"[\W\d]",
    r"[\s\d.]",
    r"[^\s\d.]",
    r"[\S\d]",
    r"[a-z\d]",
    r"[\b]",
    r".",
    r"[^a]",
    r"\u00e9",
    r"\U0001F600",
    r"\N{EN DASH}",
    r"\x7f",
    r"\0",
    r"\013",
    r"\é",
    r"[\1-\7]",
    r"(?i)i",
    r"(?i)I",
    r"(?i)k",
    r"(?i)s",
    r"(?i)ß",
    r"(?i)[a-z]",
    r"(?i)[^a-z]",
    r"(?i)[h-j]",
    r"(?i)[^i]",
    r"(?i)\u0130",
    r"(?i)\w",
    r"(?i:[^I])",
]


@pytest.mark.parametrize("pattern", PYTHON_PATTERNS)
def test_a_pattern_written_for_python_matches_what_it_matched_there(pattern):
    """On every sample character, in both directions: RE2's verdict is Python's."""
    compiled = compile_regex(pattern)
    python = re.compile(pattern)
    differ = [c for c in SAMPLES if compiled.fullmatch(c) != (python.fullmatch(c) is not None)]
    assert differ == []


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"^\w+$", "café"),
        (r"^\w+$", "naïve_1"),
        (r"^\w+$", "日本語"),
        (r"^\w+$", "a b"),
        (r"^\d{3}$", "٣٤٥"),
        (r"^\d+$", "12³"),
        (r"^\s+$", "\u3000\u00a0\t"),
        (r"^\S+$", "a\u2028b"),
        (r"^[\w.-]+@[\w.-]+$", "zoë@exämple.com"),
        (r"(?i)^istanbul$", "İSTANBUL"),
        (r"(?i)^[a-z]+$", "ıi"),
        (r"^.{3}$", "日本語"),
        (r"^.$", "😀"),
        (r"^.$", "é"),
        (r"^\x{e9}$", "é"),
    ],
)
def test_words_of_other_scripts_match_as_in_python(pattern, text):
    """Unicode text: `^\\w+$` matches `café` (it would not under RE2's own ASCII \\w), and
    `.` is one character, not one byte (UTF-8 mode)."""
    expected = re.fullmatch(pattern.replace(r"\x{e9}", r"\u00e9"), text) is not None
    assert compile_regex(pattern).fullmatch(text) == expected


@pytest.mark.parametrize("spelling", [r"\x{69}", r"\x{0069}", r"\x69", "i"])
def test_a_turkish_i_however_spelt_matches_as_in_python(spelling):
    """Under (?i) Python's `i` matches `İ` and `ı` too, and so does RE2's translation of it:
    spelt `\\x{69}`, RE2's own way, it went to RE2 as written and matched neither."""
    compiled = compile_regex(f"(?i){spelling}")
    assert [compiled.fullmatch(c) for c in "iIİı"] == [True] * 4
    assert compile_regex(r"\x{e9}").fullmatch("é") and not compile_regex(r"\x{e9}").fullmatch("e")


def test_rewritten_classes_equal_pythons_on_every_assigned_character():
    """`\\w \\W \\d \\D \\s \\S` against Python's `re`, on every character Python's Unicode
    database assigns (RE2's may be newer: unassigned characters are left out): RE2 matches
    each character Python's matches, and none of the others."""
    every = "".join(
        chr(code)
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF and unicodedata.category(chr(code)) != "Cn"
    )
    options = re2.Options()
    options.log_errors = False
    # under (?i) too: RE2 folds case into a class, and Python never folds \w (U+0345, a
    # combining mark whose fold is a letter, was a word character to the translation)
    ignoring_case = (r"(?i)\w", r"(?i)\W", r"(?i)[\w-]", r"(?i)[\w\W]", r"(?i)[^\W]", r"(?i)[\Wé]")
    for pattern in (
        *(r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", r"[\W\d]", r"[^\s\d]"),
        *ignoring_case,
    ):
        matching = "".join(re.findall(pattern, every))
        others = re.sub(pattern, "", every)
        translated = translate(pattern, naming=False).with_source("")
        assert re2.compile(f"(?:{translated})*", options).fullmatch(matching.encode()), pattern
        assert re2.compile(translated, options).search(others.encode()) is None, pattern


def test_a_value_with_a_lone_surrogate_is_one_character():
    """A lone surrogate (no AWS value holds one) is one character to RE2, as to Python."""
    assert compile_regex("^.$").fullmatch("\ud800")
    assert compile_regex("^a.b$").fullmatch("a\udcffb")
    assert not compile_regex("^[a-z]+$").fullmatch("ab\ud800")


def test_dollar_matches_only_at_the_very_end():
    """RE2's `$` is the end of the text; Python's also matches before a final newline, which
    only shows when the pattern goes on to match that newline (no AWS name holds one)."""
    assert compile_regex("^a$").fullmatch("a")
    assert not compile_regex("^a$").fullmatch("a\n")
    assert not compile_regex("^a$\n").fullmatch("a\n")
    assert compile_regex(r"^a\z").fullmatch("a")


def test_dialect_additions_of_re2_work():
    """What RE2 adds: `\\p{..}` classes, `\\x{..}`, `\\z`, `\\Q..\\E`, `(?<name>..)`, `(?U)`."""
    assert compile_regex(r"^\p{Greek}+$").fullmatch("αβγ")
    assert compile_regex(r"^[\p{L}\p{N}-]+$").fullmatch("zoë-2")
    assert compile_regex(r"^\pN$").fullmatch("٣")
    assert compile_regex(r"^\Qa.b\E$").fullmatch("a.b")
    assert not compile_regex(r"^\Qa.b\E$").fullmatch("axb")
    assert compile_regex(r"^(?<x>a)b$").fullmatch("ab")
    assert compile_regex(r"(?U)^a+$").fullmatch("aaa")


# --- naming patterns: what can never match a lowercased identifier --------------------------


@pytest.mark.parametrize(
    ("pattern", "position"),
    [
        ("^Orders-x$", 1),
        ("^{source}-Manual$", 10),
        ("^a(b|C)$", 5),
        (r"^\QAB\E$", 3),
        (r"^\x41?b$", 1),
        (r"^a\x{42}$", 2),  # RE2's own spelling was passed to RE2 unchecked
        (r"^a\u0042$", 2),
        (r"^\101$", 1),
        (r"^\N{LATIN CAPITAL LETTER A}$", 1),
    ],
)
def test_an_uppercase_literal_in_a_naming_pattern_is_refused(pattern, position):
    """Identifiers are matched lowercased: `M` can never match. Refused at its offset."""
    with pytest.raises(RegexProblem) as caught:
        NamePattern(pattern)
    assert caught.value.position == position
    assert "uppercase" in caught.value.message and "lowercased" in caught.value.message


@pytest.mark.parametrize(
    "pattern",
    [
        r"^\W\D\S$",
        r"^\P{Lu}$",
        r"^\p{Lu}?x$",
        r"^[A-Z0-9-]{1,5}$",
        r"^[A-Za-z]+$",
        r"(?i)^Orders-X$",
        r"^(?i:Orders)-x$",
        r"^(?P<Name>a)$",
        r"^(?U)a+$",
        r"^\N{LATIN SMALL LETTER A}$",
    ],
)
def test_escapes_classes_flags_and_names_are_no_uppercase_literals(pattern):
    """`\\W \\D \\S \\P{..}`, `[A-Z]`, a group's name, `(?i)`: no literal to refuse."""
    NamePattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "position", "hint"),
    [
        ("^orders-[A-Z]+$", 8, True),
        ("^[A-Z][a-z0-9-]*$", 1, True),
        ("^x(-[A-Z])?$", 4, True),  # optional, and still a class that matches nothing
        ("^[^a-z0-9-]+$", 1, False),
        ("^a[^-0-9a-z]$", 2, False),
        ("^[_.]x$", 1, False),
        (r"^x[\x{e0}-\x{ff}]$", 2, False),
        ("^[\u0100-\u017f]x$", 1, False),  # uppercase, but not ASCII: no "lowercase" hint
        ("^(?i:[_])x$", 5, False),  # under (?i) too: no letter folds to an underscore
        ("(?i)^[_.]x$", 5, False),
    ],
)
def test_a_class_no_identifier_character_matches_is_refused_in_a_naming_pattern(
    pattern, position, hint
):
    """`[A-Z]` in a naming pattern can match no lowercased identifier (a-z, 0-9, -), nor can
    a negated class of all of them: the policy loaded and every create was blocked. Refused at
    the class, saying what to write for an uppercase one."""
    with pytest.raises(RegexProblem) as caught:
        NamePattern(pattern)
    assert caught.value.position == position
    assert "can never match: identifiers are matched lowercased" in caught.value.message
    assert ("start the pattern with (?i)" in caught.value.message) is hint


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?i)^[A-Z]+$",
        r"^(?i:[A-Z])x$",
        r"^[A-Z0-9]$",
        r"^[^A-Z]+$",
        r"^[^_]$",
        r"^[\W]x$",
        "(?i)^[\u0131]x$",  # the dotless i: one letter with i under (?i)
        "(?i)^[\u017f\u212a]x$",  # the long s and the Kelvin sign fold to s and k
        r"(?i)^[^_]x$",
    ],
)
def test_a_class_an_identifier_character_may_match_loads(pattern):
    """Under `(?i)`, with one of a-z, 0-9 or - among its members, negated without all of
    them, or with a shorthand: the class may match."""
    NamePattern(pattern)


def test_a_tag_pattern_may_hold_any_class():
    """Tag values keep their case: `[A-Z]` in a tag pattern is a class like any other."""
    assert compile_regex("^[A-Z]+$").fullmatch("PROD")


@pytest.mark.parametrize(
    ("pattern", "char", "position"),
    [
        ("^{source}_daily-[0-9]{8}$", "_", 9),
        ("^{source}\u2013daily$", "\u2013", 9),  # an en dash pasted for a hyphen
        (r"^{source}\.daily$", ".", 9),
        ("^{source} daily$", " ", 9),
        (r"^{source}-\{source}$", "{", 10),
        (r"^a\n$", "\n", 2),
        ("^a]$", "]", 2),
        ("^a}$", "}", 2),
        ("(?i)^a_b$", "_", 6),
        (r"^a\.?b$", ".", 2),  # optional, as an uppercase letter may be: still never matches
        (r"^snap\x{5f}x$", "_", 5),
        (r"^snap\x{d800}$", "\ud800", 5),
        (r"^{source}\x{2e}x$", ".", 9),
    ],
)
def test_a_literal_no_identifier_holds_is_refused_in_a_naming_pattern(pattern, char, position):
    """An identifier holds letters, digits and hyphens only: a literal underscore, dot, space
    or en dash in a naming pattern can never match, as an uppercase letter cannot, and every
    call would be blocked. Refused at its offset, written or escaped."""
    with pytest.raises(RegexProblem) as caught:
        NamePattern(pattern)
    assert caught.value.position == position
    assert caught.value.message == (
        f"{char!r} can never match: an identifier holds only letters, digits and hyphens"
    )


@pytest.mark.parametrize(
    "pattern", [r"^a\-b$", r"(?i)^\x41-\N{KELVIN SIGN}$", r"^a\x2db$", "^[_.a-z]+$"]
)
def test_what_an_identifier_may_hold_loads_in_a_naming_pattern(pattern):
    """An escaped hyphen, a letter under (?i) (the Kelvin sign folds to k), a class holding
    more than the identifier's characters: all can match some identifier."""
    NamePattern(pattern)


def test_a_tag_pattern_keeps_literals_no_identifier_holds():
    """Tag values hold spaces, dots, underscores and braces: the refusal is for names only."""
    assert compile_regex(r"^a_b\.c d\{e\}$").fullmatch("a_b.c d{e}")


def test_a_repeat_after_source_repeats_the_whole_name():
    """``{source}`` is the source's name as one atom: ``{source}?`` makes the name optional,
    not its last letter (``order-x`` is no name this pattern meant)."""
    pattern = NamePattern("^{source}?-x$")
    assert pattern.fullmatch("orders-x", "orders")
    assert pattern.fullmatch("-x", "orders")
    assert not pattern.fullmatch("order-x", "orders")
    assert NamePattern("^({source}-)+daily$").fullmatch("orders-orders-daily", "orders")


@pytest.mark.parametrize(
    ("pattern", "shown"),
    [
        ("^{source}?x$", "^(?:orders)?x$"),
        ("^{source}{2}$", "^(?:orders){2}$"),
        ("^{source}+-daily$", "^(?:orders)+-daily$"),
        ("^{source}{source}-x$", "^ordersorders-x$"),
        ("^{source}-[0-9]{8}$", "^orders-[0-9]{8}$"),
    ],
)
def test_a_pattern_is_shown_with_its_source_as_it_is_read(pattern, shown):
    """A message shows the pattern with the source's name in it: a repeat after the name
    applies to the whole name, and it is shown so (``^orders?x$`` matched the very name it
    was shown refusing)."""
    assert NamePattern(pattern).compiled("orders").pattern == shown


def test_uppercase_after_case_insensitivity_ends_is_refused():
    """`(?i:...)` covers only its group: an uppercase letter after it is refused."""
    with pytest.raises(RegexProblem, match="uppercase letter 'X'"):
        NamePattern("^(?i:a)X$")


@pytest.mark.parametrize(
    "placeholder",
    ["{utcnow}", "{utcnow:%Y%m%d}", "{env:X}", "{region}", "{operation}", "{sorce}", "{foo}"],
)
def test_a_placeholder_other_than_source_in_a_naming_pattern_is_refused(placeholder):
    """`{utcnow}` used to match its own text silently, and so did a typo such as `{sorce}`
    (no identifier holds a brace: every call blocked): a RegexProblem naming it."""
    with pytest.raises(RegexProblem) as caught:
        NamePattern(f"^{{source}}-{placeholder}$")
    assert caught.value.message.startswith(f"{placeholder}: a naming pattern's only placeholder")
    assert caught.value.position == 10


@pytest.mark.parametrize("pattern", ["^{source}-{}$", "^{ source }$", "^{source}-{1-x$"])
def test_a_brace_that_is_no_repeat_in_a_naming_pattern_is_refused(pattern):
    """A brace that is neither `{source}` nor a repeat is text, which no identifier holds."""
    with pytest.raises(RegexProblem) as caught:
        NamePattern(pattern)
    assert "a brace neither {source} nor a repeat" in caught.value.message


@pytest.mark.parametrize(
    ("pattern", "matching"),
    [
        ("^{source}-[0-9]{8}$", "orders-20261129"),
        ("^{source}-[0-9]{2,5}$", "orders-123"),
        ("^{source}-x{2,}$", "orders-xxx"),
    ],
)
def test_braces_that_are_no_placeholder_keep_their_regex_meaning(pattern, matching):
    """`{8}`, `{2,5}` are repeats."""
    assert NamePattern(pattern).fullmatch(matching, "orders")


def test_source_inside_a_class_is_refused():
    """`[{source}]` would stand for the source's letters one by one."""
    with pytest.raises(RegexProblem, match="in a class"):
        NamePattern("^[{source}]+$")


def test_a_tag_pattern_has_no_placeholders():
    """In a tag pattern `{source}` is no placeholder (tags have no source), and read as text
    it could never match, since no tag value holds a brace: refused. An escaped brace is
    literal text, and a quantifier a quantifier."""
    with pytest.raises(RegexProblem, match="a tag pattern has no placeholders"):
        compile_regex("^{source}$")
    assert compile_regex("^\\{source}$").fullmatch("{source}")
    assert compile_regex("^[0-9]{2}$").fullmatch("42")


# --- how it runs ---------------------------------------------------------------------------


def test_re2_writes_nothing_to_stderr_when_it_refuses_a_pattern(capfd):
    """RE2 logs its errors to stderr unless told not to: the loader tells it."""
    with pytest.raises(RegexProblem):
        compile_regex("^(a{1000}){1000}$")  # each repeat within RE2's limit, not the whole
    assert capfd.readouterr().err == ""


def test_importing_rds_guard_does_not_import_re2():
    """`import rds_guard` (and a policy without patterns) leaves re2 unimported; the first
    pattern imports it."""
    code = (
        "import sys, rds_guard\n"
        "rds_guard.Policy.from_toml('version = 1\\n')\n"
        "assert 're2' not in sys.modules\n"
        "rds_guard.Policy.from_toml('version = 1\\n[tags.patterns]\\nx = \"a\"\\n')\n"
        "assert 're2' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_compiled_regex_survives_pickle_and_deepcopy():
    """A policy holding patterns can be copied (botocore deep-copies what a call carries)."""
    regex = compile_regex(r"^\w+$")
    for copied in (pickle.loads(pickle.dumps(regex)), copy.deepcopy(regex)):
        assert copied == regex and copied.pattern == regex.pattern
        assert copied.fullmatch("café") and not copied.fullmatch("a b")
    pattern = NamePattern("^{source}-x$")
    assert copy.deepcopy(pattern).fullmatch("orders-x", "orders")


def test_a_naming_pattern_is_a_value_of_its_text_and_cannot_be_changed():
    """Equal and hashed by its text alone (what a policy compares), immutable, and copied or
    pickled as a pattern that still matches."""
    pattern = NamePattern("^{source}-x$")
    assert pattern == NamePattern("^{source}-x$") and pattern != NamePattern("^{source}-y$")
    assert hash(pattern) == hash(NamePattern("^{source}-x$"))
    assert pattern != "^{source}-x$" and repr(pattern) == "NamePattern(text='^{source}-x$')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        pattern.text = "^.+$"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del pattern.text
    for copied in (pickle.loads(pickle.dumps(pattern)), copy.copy(pattern)):
        assert copied == pattern and copied.fullmatch("orders-x", "orders")
        assert not copied.fullmatch("orders-y", "orders")


def test_verdicts_are_remembered_per_value_within_a_bound():
    """Each value is matched once; past 1,024 values the memory starts over."""
    regex = compile_regex("^[a-z]+$")
    assert regex.fullmatch("abc") and regex.fullmatch("abc")
    assert not any(regex.fullmatch(f"v{index}") for index in range(2000))
    assert len(regex._seen) <= 1024


PIECES = [
    *"abIiİıé1٣ _-.",
    r"\w",
    r"\W",
    r"\d",
    r"\D",
    r"\s",
    r"\S",
    r"\.",
    r"\x41",
    r"\u00e9",
    r"\012",
    "[a-c]",
    "[^a]",
    r"[\w-]",
    r"[\d.]",
    r"[^\s]",
    r"[\W\d]",
    r"[^\D]",
    "[]a]",
    r"[\b]",
]
TEXT = st.text(st.sampled_from([*"abIiİıé1٣ _-.\n\t\u00a0\u3000\x08A²中", "\u0301"]), max_size=4)


REPEATS = ["", "", "*", "+", "?", "{1,2}", "*?"]
_REPEATED = re.compile(r"[*+]|\{1,2\}|(?<!\()\?")


@st.composite
def python_patterns(draw, depth=0):
    """Patterns both Python's `re` and the policy dialect read: pieces, repeats, groups,
    alternations, `(?i)`. A group that holds a repeat is itself repeated at most once
    (``?``): Python's `re`, the oracle here, backtracks through nested repeats in time
    exponential in their depth (minutes for four characters), which RE2 does not."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 5)) if depth < 2 else 0
        if kind == 4:
            flag = draw(st.sampled_from(["", "?:", "?i:"]))
            atom = f"({flag}{draw(python_patterns(depth + 1))})"
        elif kind == 5:
            atom = f"(?:{draw(python_patterns(depth + 1))}|{draw(python_patterns(depth + 1))})"
        else:
            atom = draw(st.sampled_from(PIECES))
        repeats = [*REPEATS[:2], "?"] if _REPEATED.search(atom) else REPEATS
        parts.append(atom + draw(st.sampled_from(repeats)))
    return "".join(parts)


@given(pattern=python_patterns(), ignorecase=st.booleans(), texts=st.lists(TEXT, max_size=8))
def test_any_pattern_python_reads_matches_as_in_python(pattern, ignorecase, texts):
    """Built from pieces both read, a pattern matches exactly the texts Python's matches."""
    pattern = ("(?i)" if ignorecase else "") + pattern
    compiled, python = compile_regex(pattern), re.compile(pattern)
    for text in texts:
        assert compiled.fullmatch(text) == (python.fullmatch(text) is not None), text


@pytest.mark.parametrize("pattern", ["", "^$", "(?:)", r"[^\s\S]", r"^(?:)$|[^\d\D]"])
def test_a_naming_pattern_matching_only_the_empty_text_is_refused(pattern):
    """An empty naming pattern (or one as good as empty) loaded, and then refused every name:
    no identifier is empty."""
    with pytest.raises(RegexProblem) as caught:
        NamePattern(pattern)
    assert "can match no identifier: nothing but the empty text, if even that" in (
        caught.value.message
    )


@pytest.mark.parametrize("pattern", ["a*", "^[a-z]*$", "^{source}?$", "(?s).*"])
def test_a_naming_pattern_that_may_match_the_empty_text_and_more_loads(pattern):
    name = "aaa" if pattern == "a*" else "abc"
    assert NamePattern(pattern).fullmatch(name, "abc")


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        (
            "^snap-",
            "its only match is 'snap-', which AWS refuses (must not end with a hyphen): every"
            " name would be refused; a pattern is matched against the whole name: for names"
            " that start with snap-, write ^snap-.*",
        ),
        ("snap-", "its only match is 'snap-'"),
        ("^9$", "its only match is '9', which AWS refuses (must start with a letter): every"),
        (
            "^[0-9]+$",
            "every name it matches starts with a character from '0' to '9', and AWS's names"
            " start with a letter a to z: every name would be refused",
        ),
        ("^[à-ÿ]+$", "the class [à-ÿ] can never match: identifiers are matched lowercased"),
        ("^\\p{Greek}.*$", "every name it matches starts with a character from 'Ͱ' to"),
        (
            "^snap--[0-9]+$",
            "every name it matches starts with 'snap--', and AWS refuses two hyphens in a row",
        ),
        ("^-.*", "every name it matches starts with a character from '-' to '-'"),
    ],
)
def test_a_naming_pattern_whose_every_match_aws_refuses_is_refused(pattern, said):
    """`^snap-` (a prefix, written as if the pattern were searched) matches `snap-` alone,
    which AWS refuses: the policy loaded, and then every name was blocked. RE2's possible-
    match range bounds every match: one text only, or a start every match shares, that AWS
    refuses, is a `RegexProblem` saying so."""
    with pytest.raises(RegexProblem) as caught:
        NamePattern(pattern)
    assert said in caught.value.message


IDENTIFIERS = st.from_regex(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,40}", fullmatch=True)
"""Names AWS takes: a letter first, no hyphen last or twice in a row."""


TAILS = {"": "", ".*": "-x", "[0-9]*": "7", "-[0-9]{8}": "-20261129", "|9x": ""}
"""A pattern's tail after a name, and what the tail matches in one name AWS takes."""


@given(name=IDENTIFIERS, tail=st.sampled_from(sorted(TAILS)))
def test_a_naming_pattern_that_matches_a_name_aws_takes_loads(name, tail):
    """The refusal is sound: a pattern with a match AWS takes is never refused for it."""
    pattern = f"^{re.escape(name)}{tail}$" if tail != "|9x" else f"{re.escape(name)}|9x"
    assert NamePattern(pattern).fullmatch(name + TAILS[tail], None)


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        (
            "#.+",
            "every value it matches starts with '#', and AWS's tag values hold no U+0023 NUMBER"
            " SIGN: every value would be refused",
        ),
        ("x#", "its only match is 'x#', which AWS refuses (value may hold only"),
        ("\\n.*", "hold no U+000A (a control character)"),
        # RE2 holds a lone surrogate as bytes that are no UTF-8: said as itself, not U+FFFD
        ("^\\ud800$", "its only match is '\\ud800', which AWS refuses (value may hold only"),
    ],
)
def test_a_tag_pattern_whose_every_match_aws_refuses_is_refused(pattern, said):
    """``#.+`` loaded, and then flagged every value of its key: AWS refuses ``#`` in a tag."""
    assert said in (tag_value_refusal(compile_regex(pattern)) or "")


TAG_VALUES = st.text(
    st.characters(categories=("L", "N", "Zs"), include_characters="_.:/=+-@"), max_size=30
).filter(lambda value: not value.lower().startswith(("aws:", "rds:")))
"""Tag values AWS takes: its characters, and not its reserved prefixes (``AWS:`` was drawn)."""


@given(value=TAG_VALUES, tail=st.sampled_from(["", ".*", "[0-9]*", "(-x)?"]))
def test_a_tag_pattern_that_matches_a_value_aws_takes_is_not_refused(value, tail):
    """The refusal is sound: a pattern with a match AWS takes is never refused for it."""
    regex = compile_regex(f"{re.escape(value)}{tail}")
    assert regex.fullmatch(value)
    assert tag_value_refusal(regex) is None


@pytest.mark.parametrize("escape", [r"\k<src>", r"\g<1>", r"\cA", r"\e", r"\G"])
@pytest.mark.parametrize(("table", "key"), [("naming", "pattern"), ("tags.patterns", "env")])
def test_an_escape_re2_does_not_know_is_said_where_it_is_written(
    escape: str, table: str, key: str
) -> None:
    """In a naming pattern too: the identifier's character checks read what followed the
    escape as text (``'<' can never match``, ``the uppercase letter 'A'``, a column past it),
    and the advice they gave (write ``a``) failed again."""
    error = body_error(f"[{table}]\n{key} = '^{escape}[a-z]+$'\n")
    assert error.key == f"{table}.{key}"
    column = len(f"{key} = '^") + 1
    assert error.problem.startswith("not a valid regex: invalid escape sequence")
    assert error.problem.endswith(f"column {column})")

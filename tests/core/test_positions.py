"""core/positions.py: the one scan of a policy's text behind every message's line and column."""

from __future__ import annotations

import pytest
from core_fixtures import body_error

from rds_guard.core.policy import dotted_key
from rds_guard.core.positions import MAX_KEY_PARTS, KeyLines, shown

DOCUMENT = """\
version = 1  # the first line
[naming]
pattern = "^{source}-\\\\.x$"
generate = '{source}-manual'

[naming.operations.CopyDBSnapshot]
pattern = '''
^dr-
  (x$'''

[tags]
required = [
  "team",  # [not a table]
  'env',
  [1, { a = "]" }],
]
"quoted.key".part = "\\u00e9\\U0001F600"
defaults = { owner = "x" }
note = \"\"\"\\
    a [b]
    k = 1\"\"\"\"
'literal' = 1979-05-27 07:32:00Z

[[history]]
when = 2
"""


@pytest.fixture
def lines() -> KeyLines:
    return KeyLines(DOCUMENT)


LINES = [
    ("version", 1),
    ("naming", 2),
    ("naming.pattern", 3),
    ("naming.generate", 4),
    ("naming.operations", 6),
    ("naming.operations.CopyDBSnapshot", 6),
    ("naming.operations.CopyDBSnapshot.pattern", 7),
    ("tags.required", 12),
    ("tags.required[1]", 14),  # an element on its own line
    ("tags.required[2]", 15),
    ("tags.required[3]", 12),  # no such element: the array's line
    ('tags."quoted.key"', 17),
    ('tags."quoted.key".part', 17),
    ("tags.defaults", 18),
    ("tags.defaults.owner", 18),
    ("tags.note", 19),
    ("tags.literal", 22),
    ("history.when", 25),
    ("tags.unknown", 11),
    ("nothing", None),
]
"""Each key of `DOCUMENT` and its line (an unknown one: its table's; None: none)."""


@pytest.mark.parametrize(("key", "line"), LINES)
def test_each_key_is_found_on_its_own_line(lines: KeyLines, key: str, line: int | None) -> None:
    """Keys, the tables their dots open, array elements (the key's line) and what strings,
    arrays and comments hold (never taken for a key)."""
    assert lines.find(key) == line


def test_one_scan_asked_in_any_order_finds_what_a_fresh_one_finds() -> None:
    """The scan goes only as far as a question needs, and on from there for the next one: a
    key found early, then later ones, then earlier ones again, each on its line."""
    keys = [key for key, _ in LINES]
    shared = KeyLines(DOCUMENT)
    for key in [*keys, *reversed(keys), *keys]:
        assert shared.find(key) == KeyLines(DOCUMENT).find(key), key
    assert shared.locate("naming.generate", "{source}-manual", 2) == (4, 15)


def test_a_scan_stopped_by_text_that_is_no_toml_stays_stopped() -> None:
    """Asked for a key past the text that is no TOML, then for another: the scan does not
    resume inside the broken statement (a key read from it would have a made-up line)."""
    lines = KeyLines("version = 1\nx = [1, 2\ny = 3\n[tags]\nz = 1\n")
    assert (lines.find("tags.z"), lines.find("y"), lines.find("version")) == (None, None, 1)


@pytest.mark.parametrize(
    ("key", "value", "index", "where"),
    [
        ("naming.pattern", "^{source}-\\.x$", 0, (3, 12)),
        ("naming.pattern", "^{source}-\\.x$", 11, (3, 24)),  # after the escaped backslash
        ("naming.generate", "{source}-manual", 9, (4, 22)),
        ("naming.operations.CopyDBSnapshot.pattern", "^dr-\n  (x$", 7, (9, 3)),
        ('tags."quoted.key".part', "é😀", 1, (17, 28)),
        ("tags.note", 'a [b]\n    k = 1"', 2, (20, 7)),
        ("tags.note", 'a [b]\n    k = 1"', 15, (21, 10)),
    ],
)
def test_a_character_of_a_string_value_is_located_in_the_file(
    lines: KeyLines, key: str, value: str, index: int, where: tuple[int, int]
) -> None:
    """Basic, literal and multi-line strings; escapes, a trimmed first newline, a line-ending
    backslash and a quote before the closing delimiter are all mapped back."""
    assert lines.locate(key, value, index) == where


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("naming.pattern", "something else"),  # not the value written there
        ("naming", "x"),  # a table, no value
        ("tags.literal", "1979-05-27 07:32:00Z"),  # no string
        ("tags.defaults.owner", "x"),  # inside an inline table
        ("nothing", "x"),
        ("naming.generate", ""),
    ],
)
def test_what_cannot_be_located_is_none(lines: KeyLines, key: str, value: str) -> None:
    assert lines.locate(key, value, 0) is None


def test_the_empty_key_is_found_on_its_own_line() -> None:
    """``"" = ...`` is a key like any other, at the top level too (no table encloses it),
    named quoted, as it is written."""
    lines = KeyLines('version = 1\n\n"" = false\n[tags]\n"" = 1\n')
    assert (lines.find('""'), lines.find('tags.""')) == (3, 5)
    assert KeyLines(DOCUMENT).find("") is None


def test_a_key_of_too_many_parts_is_found_with_its_line() -> None:
    deep = "version = 1\nx = 'a.b.c'\n" + ".".join(["k"] * (MAX_KEY_PARTS + 1)) + " = 1\n"
    assert KeyLines(deep).too_deep() == (3, ".".join(["k"] * (MAX_KEY_PARTS + 1)))
    assert KeyLines(".".join(["k"] * MAX_KEY_PARTS) + " = 1\n").too_deep() is None


def test_a_line_of_dots_in_a_value_is_no_deep_key() -> None:
    assert KeyLines("x = '" + "." * 100 + "'\n").too_deep() is None


@pytest.mark.parametrize(
    "text",
    [
        'version = 1\nx = "unterminated\ny = 2\n',
        "version = 1\nx = '''never closed\n",
        'version = 1\nx = """never closed\\"\n',
        "version = 1\nx = [1, 2\n",
        "version = 1\n[unclosed\n",
        "version = 1\n= 3\n",
        "version = 1\nx 3\n",
        "version = 1\nx = 1 y = 2\n",
        "version = 1\nx = 'a\nb'\n",
    ],
)
def test_text_that_is_no_toml_keeps_what_was_found_before_it(text: str) -> None:
    """The scan stops where the text stops being TOML: the keys before it keep their lines."""
    assert KeyLines(text).find("version") == 1


def test_crlf_line_ends_are_lines() -> None:
    lines = KeyLines("version = 1\r\n[tags]\r\nnote = '''\r\nx\r\n'''\r\nk = 'v'\r\n")
    assert (lines.find("tags"), lines.find("tags.k")) == (2, 6)
    assert lines.locate("tags.note", "x\n", 0) == (4, 1)  # tomllib reads CRLF as LF


def test_a_long_string_is_shown_quoted_with_its_own_length() -> None:
    """The length a message gives is the value's, never its quoted text's; the quote that
    opens it is closed."""
    assert shown("a" * 70) == repr("a" * 60) + "... (70 characters)"
    assert shown("a" * 60) == repr("a" * 60)
    assert shown(list(range(40))) == repr(list(range(40)))[:60] + "... (150 characters)"


@pytest.mark.parametrize(
    ("table", "key", "dotted"),
    [
        ("tags", "team", "tags.team"),
        ("tags", "aws:team", "tags.aws:team"),
        ("tags", "a.b", 'tags."a.b"'),
        ("tags", "", 'tags.""'),
        ("tags", 'say "hi"', 'tags."say \\"hi\\""'),
        ("tags", "a\\.b", 'tags."a\\\\.b"'),
        ("", "a.b", '"a.b"'),
        ("tags.allowed", "env[1]", 'tags.allowed."env[1]"'),
        ("tags", "a b", 'tags."a b"'),
    ],
)
def test_a_key_with_a_dot_is_named_quoted(table: str, key: str, dotted: str) -> None:
    """A key holding a dot is named as TOML writes it, in quotes: ``tags.a.b`` would read
    as ``a`` holding ``b``. A key with no dot, quote or emptiness is named as it is."""
    assert dotted_key(table, key) == dotted


def test_a_policy_error_on_a_quoted_dotted_key_names_it_quoted() -> None:
    """The message and ``.key`` of a value under ``"a.b"`` say ``"a.b"``, and the line is
    the key's own."""
    error = body_error('[tags]\nrequired = []\n[tags.allowed]\nteam = ["x"]\n"a.b" = ["x", 3]\n')
    assert (error.key, error.line) == ('tags.allowed."a.b"[1]', 6)
    assert str(error).startswith('<string>:6: tags.allowed."a.b"[1]: must be a string')

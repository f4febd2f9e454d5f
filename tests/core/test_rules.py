"""rules.py: AWS's own constraints and the policy's rules, as pure functions."""

from __future__ import annotations

import copy
import dataclasses
import re
import unicodedata

import pytest
import regex
from core_fixtures import make_policy, only, run
from hypothesis import given
from hypothesis import strategies as st

from rds_guard.core import rules
from rds_guard.core.rules import ValueGlob
from rds_guard.errors import Violation

# --- identifier.aws ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier", ["a", "orders-manual-20261129", "Orders-Manual-1", "a1-b2-c3", "x" * 63]
)
def test_valid_identifiers_have_no_problems(identifier):
    """ASCII letters, digits and single inner hyphens, first a letter, up to the limit."""
    assert rules.identifier_problems(identifier, 63) == []
    assert rules.check_identifier("DBClusterSnapshotIdentifier", identifier, 63) == []


@pytest.mark.parametrize(("limit", "length"), [(63, 64), (255, 256)])
def test_identifier_longer_than_its_limit(limit, length):
    """63 for cluster snapshots, 255 for DB snapshots: one character more is refused."""
    assert rules.identifier_problems("a" * limit, limit) == []
    assert rules.identifier_problems("a" * length, limit) == [
        f"must be 1 to {limit} characters long, is {length}"
    ]


def test_empty_identifier_is_too_short_only():
    """ "" breaks the length rule (and no rule about a first character it does not have)."""
    assert rules.identifier_problems("", 63) == ["must be 1 to 63 characters long, is 0"]


@pytest.mark.parametrize("identifier", ["1orders", "-orders", "Éorders"])
def test_identifier_must_start_with_an_ascii_letter(identifier):
    """A digit, a hyphen or a non-ASCII letter first: "must start with a letter"."""
    assert "must start with a letter" in rules.identifier_problems(identifier, 63)


def test_identifier_must_not_end_with_a_hyphen():
    """A trailing hyphen is refused."""
    assert rules.identifier_problems("orders-", 63) == ["must not end with a hyphen"]


def test_identifier_must_not_hold_two_consecutive_hyphens():
    """`--` anywhere is refused."""
    assert rules.identifier_problems("orders--1", 63) == [
        "must not contain two consecutive hyphens"
    ]


@pytest.mark.parametrize(
    ("identifier", "shown"),
    [("café-1", "'é'"), ("orders_1", "'_'"), ("orders 1", "' '"), ("a.b", "'.'"), ("a٣", "'٣'")],
)
def test_identifier_holds_only_ascii_letters_digits_hyphens(identifier, shown):
    """Non-ASCII letters or digits, underscores, spaces and dots are named in the problem."""
    problems = rules.identifier_problems(identifier, 63)
    assert any(p.startswith("may hold only ASCII letters, digits and hyphens") for p in problems)
    assert any(shown in p for p in problems)


def test_identifier_with_several_problems_lists_them_all():
    """Every broken rule is reported, joined in one violation."""
    [violation] = rules.check_identifier("DBSnapshotIdentifier", "1a--b_-", 255)
    assert violation == Violation(
        "identifier.aws",
        "DBSnapshotIdentifier",
        "1a--b_-",
        "may hold only ASCII letters, digits and hyphens, not '_'; must start with a letter;"
        " must not end with a hyphen; must not contain two consecutive hyphens",
    )


@pytest.mark.parametrize(("value", "kind"), [(None, "NoneType"), (42, "int"), (["a"], "list")])
def test_non_string_identifier_is_identifier_aws(value, kind):
    """A non-string identifier is a violation (not an exception), its value the repr."""
    assert rules.check_identifier("DBClusterSnapshotIdentifier", value, 63) == [
        Violation(
            "identifier.aws",
            "DBClusterSnapshotIdentifier",
            repr(value),
            f"must be a string, not {kind}",
        )
    ]


def test_long_identifier_value_is_shortened_in_the_violation():
    """A 300-character identifier is shown as 80 characters and its length."""
    [violation] = rules.check_identifier("DBSnapshotIdentifier", "a" * 300, 255)
    assert violation.value == "a" * 80 + "... (300 characters)"


# --- tags.aws: characters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        "a",
        "Z",
        "é",
        "ß",
        "Ω",
        "日",
        "ㅎ",
        "0",
        "٣",  # ARABIC-INDIC DIGIT THREE (Nd)
        "Ⅻ",  # ROMAN NUMERAL TWELVE (Nl)
        "½",  # VULGAR FRACTION ONE HALF (No)
        " ",
        "\u00a0",  # NO-BREAK SPACE (Zs)
        "\u3000",  # IDEOGRAPHIC SPACE (Zs)
        "\u2028",  # LINE SEPARATOR (Zl)
        "\u2029",  # PARAGRAPH SEPARATOR (Zp)
        *"_.:/=+-@",
    ],
)
def test_allowed_tag_characters(char):
    """Letters, numbers and separators of any script, and `_ . : / = + - @`."""
    assert rules.tag_char_allowed(char)


@pytest.mark.parametrize(
    "char",
    [
        "\t",
        "\n",
        "\r",
        "\x00",
        "#",
        "!",
        "*",
        ",",
        ";",
        "?",
        "%",
        "&",
        "(",
        '"',
        "'",
        "\\",
        "~",
        "$",
        "{",
        "😀",  # So
        "\u0301",  # COMBINING ACUTE ACCENT (Mn)
        "\u200b",  # ZERO WIDTH SPACE (Cf, not Zs)
        "\ud800",  # a lone surrogate (Cs)
    ],
)
def test_disallowed_tag_characters(char):
    """Controls (tab, newline are Cc), other punctuation, symbols, marks, format chars."""
    assert not rules.tag_char_allowed(char)


_AWS_TAG_CHAR = regex.compile(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]")


def test_tag_char_allowed_agrees_with_the_aws_character_class_on_every_ascii_character():
    """The ASCII characters are answered without Unicode's database: each one as AWS's class
    answers it."""
    for code in range(128):
        char = chr(code)
        expected = _AWS_TAG_CHAR.fullmatch(char) is not None
        assert rules.tag_char_allowed(char) == expected, repr(char)


@given(st.characters())
def test_tag_char_allowed_agrees_with_the_aws_character_class(char):
    """`tag_char_allowed` is AWS's `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]` on every character.

    Characters unassigned in Python's Unicode database are left out: the `regex` package may
    know a newer Unicode version that assigns them (both agree on every assigned one)."""
    if unicodedata.category(char) == "Cn":
        assert not rules.tag_char_allowed(char)
        return
    assert rules.tag_char_allowed(char) == (_AWS_TAG_CHAR.fullmatch(char) is not None)


# --- tags.aws: keys, values, prefixes, lengths ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "ok"),
    [("k" * 128, True), ("k" * 129, False), ("", False), ("cost-center", True), ("x y", True)],
)
def test_tag_key_length_is_1_to_128(key, ok):
    """A key is 1 to 128 characters."""
    problems = rules.tag_key_problems(key)
    assert (problems == []) is ok
    if not ok:
        assert problems == [f"key must be 1 to 128 characters long, is {len(key)}"]


@pytest.mark.parametrize(("value", "ok"), [("", True), ("v" * 256, True), ("v" * 257, False)])
def test_tag_value_length_is_0_to_256(value, ok):
    """A value is 0 to 256 characters (empty is fine)."""
    problems = rules.tag_value_problems(value)
    assert (problems == []) is ok
    if not ok:
        assert problems == ["value must be 0 to 256 characters long, is 257"]


@pytest.mark.parametrize("text", ["aws:x", "AWS:x", "Aws:team", "rds:x", "RDS:", "rDs:y"])
def test_reserved_prefixes_in_any_case(text):
    """Keys and values starting with `aws:` or `rds:`, in any case, are reserved."""
    reserved = "must not start with 'aws:' or 'rds:' (reserved)"
    assert rules.tag_key_problems(text) == [f"key {reserved}"]
    assert rules.tag_value_problems(text) == [f"value {reserved}"]


@pytest.mark.parametrize("text", ["aws", "awsx:y", "x-aws:y", "rds", "my:rds:x", " aws:x"])
def test_reserved_prefix_only_at_the_start(text):
    """`aws`/`rds` without the colon, or not at the start, are ordinary text."""
    assert rules.tag_key_problems(text) == []
    assert rules.tag_value_problems(text) == []


def test_bad_characters_are_named_with_their_code_points():
    """The problem names each bad character as U+XXXX and its Unicode name."""
    [problem] = rules.tag_value_problems("a#b!")
    assert "U+0021 EXCLAMATION MARK" in problem
    assert "U+0023 NUMBER SIGN" in problem


def test_check_tags_aws_reports_each_bad_tag():
    """One `tags.aws` violation per bad tag, field `Tags.<key>`, value the tag's value."""
    violations = rules.check_tags_aws({"ok": "fine", "aws:x": "v", "team": "a\tb", "e": ""})
    assert [(v.rule, v.field, v.value) for v in violations] == [
        ("tags.aws", "Tags.aws:x", "v"),
        ("tags.aws", "Tags.team", "a\tb"),
    ]
    assert "U+0009" in violations[1].message


def test_check_tags_aws_joins_key_and_value_problems():
    """A bad key and a bad value of one tag make one violation listing both."""
    [violation] = rules.check_tags_aws({"rds:k": "aws:v"})
    assert "key must not start" in violation.message
    assert "value must not start" in violation.message


def test_fifty_tags_are_fine_and_fifty_one_are_not():
    """At most 50 tags: the 51st is a `tags.aws` on the whole `Tags`."""
    fifty = {f"k{i}": "v" for i in range(50)}
    assert rules.check_tags_aws(fifty) == []
    [violation] = rules.check_tags_aws({**fifty, "k50": "v"})
    assert (violation.rule, violation.field, violation.value) == ("tags.aws", "Tags", "51")
    assert "at most 50 tags" in violation.message


def test_check_tags_aws_prefix_names_the_field():
    """The field prefix can be changed (the parameter's name)."""
    [violation] = rules.check_tags_aws({"a#": "v"}, prefix="TagList")
    assert violation.field == "TagList.a#"


# --- tags.duplicate, tags.required -----------------------------------------------------------


def test_duplicates_are_reported_once_per_key():
    """A key given twice (or three times) is one `tags.duplicate`."""
    assert rules.check_duplicates(["a", "b", "a", "c", "a", "b"]) == [
        Violation("tags.duplicate", "Tags.a", "a", "key given more than once"),
        Violation("tags.duplicate", "Tags.b", "b", "key given more than once"),
    ]


def test_keys_differing_in_case_are_not_duplicates():
    """Tag keys are case-sensitive: `Team` and `team` are two keys."""
    assert rules.check_duplicates(["Team", "team"]) == []


def test_required_keys_present_pass():
    """Every required key present: no violation (empty values count as present)."""
    assert rules.check_required({"team": "", "env": "prod"}, ["team", "env"]) == []


def test_missing_required_key():
    """A missing required key: `tags.required`, field `Tags.<key>`, value None."""
    assert rules.check_required({"env": "prod"}, ["team", "env"]) == [
        Violation("tags.required", "Tags.team", None, "required tag is missing")
    ]


def test_required_key_differing_in_case_gets_a_hint():
    """`Team` present for a required `team`: the message points at `Team`."""
    [violation] = rules.check_required({"Team": "x"}, ["team"])
    assert violation.field == "Tags.team"
    assert violation.message == (
        "required tag is missing (there is 'Team': tag keys are case-sensitive)"
    )


# --- tags.allowed and its globs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "value", "matches"),
    [
        ("prod", "prod", True),
        ("prod", "Prod", False),
        ("prod", "prod1", False),
        ("CC-*", "CC-1234", True),  # prefix
        ("CC-*", "CC-", True),  # empty run
        ("CC-*", "cc-1", False),
        ("CC-*", "XCC-1", False),
        ("*-prod", "eu-prod", True),  # suffix
        ("*-prod", "-prod", True),
        ("*-prod", "eu-prod-2", False),
        ("a*z", "abcz", True),  # middle
        ("a*z", "az", True),  # empty run in the middle
        ("a*z", "a", False),
        ("aa*aa", "aaa", False),  # head and tail may not overlap
        ("aa*aa", "aaaa", True),
        ("*", "", True),
        ("*", "anything at all", True),
    ],
)
def test_value_glob(glob, value, matches):
    """One `*` stands for any run (empty too); everything else matches exactly."""
    assert ValueGlob(glob).matches(value) is matches


def test_check_allowed_reports_values_outside_the_list():
    """A value not allowed: `tags.allowed`, the message lists the allowed values."""
    allowed = {"env": (ValueGlob("prod"), ValueGlob("dev")), "cc": (ValueGlob("CC-*"),)}
    assert rules.check_allowed({"env": "qa", "cc": "CC-9"}, allowed) == [
        Violation("tags.allowed", "Tags.env", "qa", "value must be one of: prod, dev")
    ]


def test_check_allowed_ignores_absent_keys():
    """An allowed list does not make its key required."""
    assert rules.check_allowed({"other": "x"}, {"env": (ValueGlob("prod"),)}) == []


# --- tags.pattern -----------------------------------------------------------------------------


def test_check_patterns_is_a_full_match():
    """`[a-z]+` refuses `abc1` (a search would find `abc`)."""
    patterns = {"owner": re.compile("[a-z]+")}
    assert rules.check_patterns({"owner": "abc"}, patterns) == []
    assert rules.check_patterns({"owner": "abc1"}, patterns) == [
        Violation("tags.pattern", "Tags.owner", "abc1", "value must match [a-z]+")
    ]


def test_check_patterns_ignores_absent_keys():
    """A pattern does not make its key required."""
    assert rules.check_patterns({}, {"owner": re.compile("x")}) == []


def test_check_patterns_skips_values_longer_than_aws_allows():
    """A value over 256 characters is tags.aws already; the regex is not run on it (a pattern
    that passes the load-time check may still be quadratic on a long text)."""
    patterns = {"owner": re.compile("^[a-z]+[a-z0-9]+-x$")}
    assert len(rules.check_patterns({"owner": "a" * 256}, patterns)) == 1
    assert rules.check_patterns({"owner": "a" * 257}, patterns) == []


# --- sharing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("111122223333", True),
        ("000000000000", True),
        ("11112222333", False),
        ("1111222233334", False),
        ("11112222333a", False),
        ("１１１１２２２２３３３３", False),  # fullwidth digits
        ("111122223333\n", False),
    ],
)
def test_is_account_id(text, ok):
    """Exactly 12 ASCII digits."""
    assert rules.is_account_id(text) is ok


def test_sharing_with_all_is_public():
    """`all` is `sharing.public` unless public sharing is allowed."""
    assert rules.check_sharing(["all"], public=False, accounts=None) == [
        Violation(
            "sharing.public",
            "ValuesToAdd",
            "all",
            "making a snapshot public is not allowed ([sharing] public = false)",
        )
    ]
    assert rules.check_sharing(["all"], public=True, accounts=frozenset()) == []


def test_sharing_with_an_unlisted_account():
    """An account not in `[sharing] accounts` is `sharing.account`; listed ones pass."""
    accounts = frozenset({"111122223333"})
    assert rules.check_sharing(
        ["111122223333", "444455556666"], public=False, accounts=accounts
    ) == [
        Violation(
            "sharing.account", "ValuesToAdd", "444455556666", "account is not in [sharing] accounts"
        )
    ]


def test_sharing_without_an_accounts_list_allows_any_account():
    """No `accounts` list: any account may be added."""
    assert rules.check_sharing(["444455556666"], public=False, accounts=None) == []


def test_sharing_with_an_empty_accounts_list_allows_no_account():
    """`accounts = []`: no account may be added."""
    [violation] = rules.check_sharing(["444455556666"], public=False, accounts=frozenset())
    assert violation.rule == "sharing.account"


def test_a_caller_key_longer_than_aws_allows_is_shown_cut_in_the_field():
    """The field names the key as values are shown: cut, with its length, so that a
    megabyte key does not come back whole in every message and record."""
    key = "k" * (1 << 20)
    [aws] = rules.check_tags_aws({key: "v"})
    [duplicate] = rules.check_duplicates([key, key])
    for violation in (aws, duplicate):
        assert violation.field == f"Tags.{'k' * rules.TAG_KEY_MAX}... ({1 << 20} characters)"
    assert duplicate.value == aws.field.removeprefix("Tags.")
    longest = "k" * rules.TAG_KEY_MAX
    [whole] = rules.check_tags_aws({longest: "v" * 300})
    assert whole.field == f"Tags.{longest}"


def test_a_non_string_identifier_is_shown_cut():
    [violation] = rules.check_identifier("DBSnapshotIdentifier", ["x" * 1000] * 1000, 255)
    assert violation.value is not None and len(violation.value) < 200


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("caf\udce9.toml", "caf\\xe9.toml"),  # a byte surrogateescape kept: as the byte
        ("\udc80\udcff", "\\x80\\xff"),
        ("\ud800-\udc7f", "\\ud800-\\udc7f"),  # other lone surrogates: as repr() writes them
        ("a\nb\x1b[31m\u202e", "a\\nb\\x1b[31m\\u202e"),
        ("équipe", "équipe"),
        ("\x85\udc85\xa0\udca0\x1b", "\\u0085\\x85\\u00a0\\xa0\\x1b"),  # never alike
    ],
)
def test_escaped_writes_a_byte_that_was_not_utf8_as_that_byte(text: str, shown: str) -> None:
    assert rules.escaped(text) == shown
    assert rules.escaped(text).isprintable()


def test_a_violation_is_the_frozen_dataclass_the_readme_says():
    """README: `Violation` is a frozen dataclass of ``rule, field, value, message``: a
    caller's handler may keep, hash and compare one, and never change it."""
    decision, _ = run(
        make_policy('[tags]\nrequired = ["team"]\n'),
        "CreateDBClusterSnapshot",
        {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "orders-1"},
    )
    violation = only(decision, "tags.required")
    assert dataclasses.is_dataclass(violation)
    assert [f.name for f in dataclasses.fields(violation)] == ["rule", "field", "value", "message"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        violation.rule = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del violation.message
    again = copy.copy(violation)
    assert again == violation and hash(again) == hash(violation)
    assert again == Violation("tags.required", "Tags.team", None, violation.message)

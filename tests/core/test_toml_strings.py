"""`toml_strings.decode_string`: what a TOML string holds, as tomllib reads it, and where each
of its characters is written (a value's problem is reported at its column)."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rds_guard.core.toml_strings import decode_string

WRITTEN = [
    '"plain"',
    '"tab\\there \\u00e9 \\U0001F600 \\\\ \\""',
    "'C:\\\\path\\\\literal'",
    '"""\nfirst\r\nsecond "quoted" ""two"" \\\n    joined"""',
    '"""ends with quotes"""""',
    "'''\nmulti 'literal' ''\r\nline'''",
    "'''a''''",
    '""',
    "''",
]


@pytest.mark.parametrize("written", WRITTEN)
def test_a_string_decodes_as_tomllib_reads_it(written: str) -> None:
    text = f"k = {written}\n"
    decoded = decode_string(text, 4)
    assert decoded is not None
    value, where = decoded
    assert value == tomllib.loads(text)["k"]
    assert len(where) == len(value) and where == sorted(where)
    assert all(4 < offset < len(text) for offset in where)


def test_each_plain_character_is_where_it_is_written() -> None:
    text = 'k = "ab\\tc"\n'
    assert decode_string(text, 4) == ("ab\tc", [5, 6, 7, 9])


def test_a_mebibyte_string_decodes_whole() -> None:
    """Runs of plain characters are taken a slice at a time: a MiB is one run."""
    text = 'k = "' + "x" * 1_048_576 + '"\n'
    value, where = decode_string(text, 4) or ("", [])
    assert len(value) == 1_048_576 and where[-1] == 4 + 1_048_576


@pytest.mark.parametrize("written", ['"unclosed', '"bad \\q escape"', '"line\nbreak"', "x"])
def test_what_is_no_string_decodes_to_none(written: str) -> None:
    assert decode_string(f"k = {written}", 4) is None


CHARS = st.sampled_from([*"ab \t\"'\\\r\n", "\\u00e9", "\\n", "é"])


@settings(max_examples=300, deadline=None)
@given(st.lists(CHARS, max_size=20), st.sampled_from(['"', "'", '"""', "'''"]))
def test_any_string_tomllib_reads_decodes_alike(parts: list[str], delimiter: str) -> None:
    text = f"k = {delimiter}{''.join(parts)}{delimiter}\n"
    try:
        expected = tomllib.loads(text)["k"]
    except tomllib.TOMLDecodeError:
        return  # no string: what the decoder says of it is not asked (the file is refused)
    decoded = decode_string(text, 4)
    assert decoded is not None and decoded[0] == expected

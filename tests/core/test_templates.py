"""templates.py: the placeholder language (naming patterns are in tests/core/test_regex.py)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from core_fixtures import NOW

from rds_guard.core.templates import (
    UTCNOW_DEFAULT_FORMAT,
    Placeholder,
    TemplateSyntaxError,
    TemplateValues,
    UnrenderableTemplate,
    compile_template,
)


def values(**overrides: object) -> TemplateValues:
    """The values of one call: CreateDBClusterSnapshot on rds in eu-west-1 at `NOW`."""
    fields: dict[str, object] = {
        "operation": "CreateDBClusterSnapshot",
        "service": "rds",
        "now": NOW,
        "environ": {"APP_OWNER": "ops@example.com"},
        "source": "orders",
        "region": "eu-west-1",
    }
    fields.update(overrides)
    return TemplateValues(**fields)  # type: ignore[arg-type]


def render(text: str, **overrides: object) -> str:
    """Compile ``text`` and render it with `values`."""
    return compile_template(text).render(values(**overrides))


# --- each placeholder ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{source}", "orders"),
        ("{operation}", "CreateDBClusterSnapshot"),
        ("{service}", "rds"),
        ("{region}", "eu-west-1"),
        ("{utcnow}", "20261129T123456Z"),
        ("{utcnow:%Y-%m-%d}", "2026-11-29"),
        ("{utcnow:%H:%M:%S}", "12:34:56"),
        ("{env:APP_OWNER}", "ops@example.com"),
    ],
)
def test_each_placeholder_renders_its_value(text, expected):
    """Every placeholder of §4 stands for its value at the call."""
    assert render(text) == expected


def test_utcnow_default_format_is_iso_8601_basic():
    """`{utcnow}` alone is `%Y%m%dT%H%M%SZ`, safe in identifiers."""
    assert UTCNOW_DEFAULT_FORMAT == "%Y%m%dT%H%M%SZ"
    assert render("{utcnow}", now=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20270102T030405Z"


def test_placeholders_and_literal_text_mix():
    """Literal text around and between placeholders is kept as written."""
    assert (
        render("{source}-manual-{utcnow:%Y%m%d}-{service}.{region}")
        == "orders-manual-20261129-rds.eu-west-1"
    )


def test_region_none_renders_empty():
    """No region known: `{region}` renders as the empty string."""
    assert render("at-{region}", region=None) == "at-"


def test_doubled_braces_are_literal_braces():
    """`{{` and `}}` are literal braces, not placeholders."""
    assert render("{{source}}") == "{source}"
    assert render("a}}b{{c") == "a}b{c"
    assert render("{{{source}}}") == "{orders}"


def test_literal_template_properties():
    """A template with no placeholders is literal; its literal text is the whole value."""
    template = compile_template("rds-{{guard}}")
    assert template.is_literal
    assert template.literal_text == "rds-{guard}"
    assert template.parts == ("rds-{guard}",)


def test_template_parts_and_env_names():
    """Parsing yields literal strings and `Placeholder`s in order; env_names lists variables."""
    template = compile_template("{env:A}-{utcnow:%Y}-{source}{env:B_2}")
    assert template.parts == (
        Placeholder("env", "A"),
        "-",
        Placeholder("utcnow", "%Y"),
        "-",
        Placeholder("source"),
        Placeholder("env", "B_2"),
    )
    assert not template.is_literal
    assert template.literal_text == "--"
    assert template.env_names == ("A", "B_2")


def test_placeholder_spelling_is_as_written():
    """A placeholder's spelling is how the policy wrote it (used in messages)."""
    assert Placeholder("env", "APP_OWNER").spelling == "{env:APP_OWNER}"
    assert Placeholder("source").spelling == "{source}"


# --- what cannot be parsed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{sorce}", "unknown placeholder {sorce}"),
        ("{}", "unknown placeholder {}"),
        ("{Source}", "unknown placeholder {Source}"),
        ("{now:%Y}", "unknown placeholder {now:%Y}"),
        ("x-{source", "unclosed '{' at offset 2"),
        ("x}", "single '}' at offset 1"),
        ("{env:}", "{env:NAME} needs a variable name"),
        ("{env}", "{env:NAME} needs a variable name"),
        ("{env:9LIVES}", "{env:NAME} needs a variable name"),
        ("{env:A-B}", "{env:NAME} needs a variable name"),
        ("{utcnow:}", "{utcnow:} needs a strftime format"),
        ("{source:x}", "{source} takes no argument"),
        ("{region:us}", "{region} takes no argument"),
        ("{utcnow:%Q}", "%Q is no strftime directive: the C library writes it as it is"),
        ("{utcnow:%EQ}", "%EQ is no strftime directive"),
        ("{utcnow:%5!}", "%5! is no strftime directive"),
        ("{utcnow:%Y%}", "% at its end starts no directive"),
        ("{utcnow:%Y%-}", "%- at its end starts no directive"),
        ("{utcnow:%Y%10}", "%10 at its end starts no directive"),
        # Python formats these itself only bare; otherwise glibc writes nothing, or the text
        ("{utcnow:%-f}", "%-f: Python formats %f itself only as that"),
        ("{utcnow:%5z}", "%5z: Python formats %z itself only as that"),
        ("{utcnow:%-Z}", "%-Z: Python formats %Z itself only as that"),
        ("{utcnow:%Ez}", "%Ez: Python formats %z itself only as that"),
    ],
)
def test_syntax_errors_name_the_problem(text, problem):
    """Unknown placeholders, stray braces and bad arguments are `TemplateSyntaxError`s."""
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_template(text)
    assert problem in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("x-{source", 2),
        ("ab}", 2),
        ("run-{sorce}", 4),
        ("{{x}}-{utcnow:%Q}", 6),
        ("x" * 5000, 0),  # the template as a whole: too long
    ],
)
def test_a_syntax_error_says_where_in_the_template(text, offset):
    """``offset``: the character the problem starts at (a placeholder's ``{``), which a
    policy's error turns into the file's column."""
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_template(text)
    assert caught.value.offset == offset


def test_every_conversion_the_c_library_knows_is_a_directive():
    """What the check takes for a directive is what strftime formats: each known conversion
    gives other text than itself, each other letter is written as it stands."""
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    for letter in string.ascii_letters:
        known = now.strftime("%" + letter) != "%" + letter
        if letter in "EO":  # modifiers, not conversions: read with what follows them
            continue
        try:
            compile_template(f"{{utcnow:%{letter}}}")
            refused = ""
        except TemplateSyntaxError as error:
            refused = str(error)
        assert ("is no strftime directive" in refused) == (not known), letter


def test_colon_z_is_a_directive_where_python_formats_it():
    """``%:z`` (``+00:00``) is Python's own from 3.12 on; before, glibc writes it as it
    stands: accepted exactly where this Python formats it."""
    formats = datetime(2026, 1, 1, tzinfo=UTC).strftime("%:z") != "%:z"
    try:
        compile_template("{utcnow:%Y-%m-%dT%H:%M:%S%:z}")
    except TemplateSyntaxError as error:
        assert not formats and "%: is no strftime directive" in str(error)
    else:
        assert formats


def test_unknown_placeholder_message_lists_the_known_ones():
    """The message lists every known placeholder."""
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_template("{sorce}")
    for name in ("{source}", "{operation}", "{service}", "{region}", "{utcnow}", "{env}"):
        assert name in str(caught.value)


# --- what cannot be rendered at a call -------------------------------------------------------


def test_unset_env_variable_is_unrenderable():
    """`{env:NAME}` with NAME unset: `UnrenderableTemplate` carrying the placeholder."""
    with pytest.raises(UnrenderableTemplate) as caught:
        render("owner-{env:NOT_SET}", environ={})
    assert caught.value.placeholder == Placeholder("env", "NOT_SET")
    assert str(caught.value) == "{env:NOT_SET}"


def test_env_variable_set_to_empty_renders_empty():
    """A variable that is set, even to "", has a value."""
    assert render("x{env:EMPTY}y", environ={"EMPTY": ""}) == "xy"


def test_source_unknown_is_unrenderable():
    """`{source}` where there is no source (a tag request): `UnrenderableTemplate`."""
    with pytest.raises(UnrenderableTemplate) as caught:
        render("{source}-x", source=None)
    assert caught.value.placeholder == Placeholder("source")


# --- {utcnow} formatted once per second --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moments", "expected"),
    [
        # the same second: one text, whatever the microseconds
        (
            "{utcnow:%H:%M:%S}",
            [datetime(2026, 11, 29, 8, 30, 5, 1, UTC), datetime(2026, 11, 29, 8, 30, 5, 999, UTC)],
            ["08:30:05", "08:30:05"],
        ),
        # the next second, the next day, and back: each its own text
        (
            "{utcnow:%Y-%m-%d %H:%M:%S}",
            [
                datetime(2026, 11, 29, 23, 59, 59, 999_999, UTC),
                datetime(2026, 11, 30, 0, 0, 0, 0, UTC),
                datetime(2026, 11, 29, 23, 59, 59, 0, UTC),
            ],
            ["2026-11-29 23:59:59", "2026-11-30 00:00:00", "2026-11-29 23:59:59"],
        ),
        # %f is finer than a second: formatted every time
        (
            "{utcnow:%S.%f}",
            [datetime(2026, 11, 29, 8, 30, 5, 1, UTC), datetime(2026, 11, 29, 8, 30, 5, 2, UTC)],
            ["05.000001", "05.000002"],
        ),
        # the same instant in another zone is another text (%Z, %H)
        (
            "{utcnow:%H %Z}",
            [
                datetime(2026, 11, 29, 8, 30, 5, tzinfo=UTC),
                datetime(2026, 11, 29, 8, 30, 5, tzinfo=UTC).astimezone(
                    timezone(timedelta(hours=2), "EET")
                ),
            ],
            ["08 UTC", "10 EET"],
        ),
        # a naive moment (not one a call has) is formatted as it is
        (
            "{utcnow:%H:%M}",
            [datetime(2026, 11, 29, 8, 30), datetime(2026, 11, 29, 9, 30)],
            ["08:30", "09:30"],
        ),
        # a clock change: two wall times of one instant are two texts
        (
            "{utcnow:%H:%M}",
            [
                datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("America/New_York")),
                datetime(2026, 3, 8, 3, 30, tzinfo=ZoneInfo("America/New_York")),
            ],
            ["02:30", "03:30"],
        ),
        # at the end of time a float timestamp loses the microseconds: seconds stay apart
        (
            "{utcnow:%S}",
            [
                datetime(9999, 12, 31, 23, 59, 58, 999_999, UTC),
                datetime(9999, 12, 31, 23, 59, 59, 0, UTC),
            ],
            ["58", "59"],
        ),
    ],
)
def test_utcnow_text_follows_each_moment(
    text: str, moments: list[datetime], expected: list[str]
) -> None:
    """Calls in one second share a formatted ``{utcnow}``; any other moment gets its own."""
    template = compile_template(text)
    assert [template.render(values(now=moment)) for moment in moments] == expected

"""AWS's own constraints and the policy's rules, as pure functions returning `Violation` lists.

Nothing here knows botocore: each function takes plain values and says what is wrong.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Mapping, Sequence

from .folding import folded
from .frozen import frozen
from .patterns import Lazy
from .regex import Regex

TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAGS_PER_RESOURCE_MAX = 50
_TAG_PUNCTUATION = frozenset("_.:/=+-@")
_RESERVED_PREFIXES = ("aws:", "rds:")
_RESERVED_PREFIX_SET = frozenset(_RESERVED_PREFIXES)
# The ASCII characters tag_char_allowed accepts: letters, digits, space (Zs) and _.:/=+-@
_ASCII_TAG_TEXT = string.ascii_letters + string.digits + " " + "".join(sorted(_TAG_PUNCTUATION))
_PLAIN_TAG_TEXT = re.compile(f"[{re.escape(_ASCII_TAG_TEXT)}]*")
_ASCII_TAG_CHARS = frozenset(_ASCII_TAG_TEXT)
_IDENTIFIER_CHARS = re.compile(r"[A-Za-z0-9-]*")
_ACCOUNT_ID = Lazy(r"[0-9]{12}")


@frozen
class Violation:
    """One broken rule: the rule id, the parameter or tag it concerns, the offending value."""

    rule: str
    field: str
    value: str | None
    message: str

    def as_dict(self) -> dict[str, str | None]:
        """The violation as a plain JSON-ready dict (``rule, field, value, message``)."""
        return {
            "rule": self.rule,
            "field": self.field,
            "value": self.value,
            "message": self.message,
        }

    def __str__(self) -> str:
        # one line, whatever the caller's keys hold: `PolicyViolation` lists one a line
        return escaped(f"[{self.rule}] {self.field}: {self.message}")


def escaped(text: str) -> str:
    """``text`` with each character that is not printable written as its escape, as repr()
    writes it: a tag key or a name may hold a newline, which would split a one-line message
    (or forge another line of a log), or a bidi override, which would show the rest of the
    line reversed. A byte that was not UTF-8, held as Python's ``surrogateescape`` holds it (a
    file name, an argument), is written as that byte (``\\xe9``), not as the surrogate
    (``\\udce9``), a character no file name holds."""
    if text.isprintable():  # the usual message: nothing to escape
        return text
    return "".join(char if char.isprintable() else escape_char(char) for char in text)


def escape_char(char: str) -> str:
    """One character as `escaped` writes it when it does not print: a byte
    ``surrogateescape`` kept as ``\\xe9``, a character of U+0080 to U+00FF as ``\\u0085``
    (so that neither is taken for the other), any other as repr() writes it."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if 0x80 <= code <= 0xFF:
        return f"\\u{code:04x}"
    return repr(char)[1:-1]


def string_items(value: object) -> list[str]:
    """The strings of a list parameter (``ValuesToAdd``, ``TagKeys``); none when it is no list
    (botocore's validation refuses the call then, and it says why)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []


def shown(value: str, limit: int = 80) -> str:
    """A value for a message: cut to `limit` characters, with its length, when longer."""
    return value if len(value) <= limit else value[:limit] + f"... ({len(value)} characters)"


def shown_value(value: object) -> str:
    """A parameter's value of any type for a message, as `shown` cuts it: its ``repr()``; for
    one nested deeper than ``repr()`` can go from where it is called (a list in a list, a
    thousand deep), its first levels, the rest as ``...``; for one whose ``repr()`` fails,
    its type. A call is judged whatever a caller passes: no value may raise from a message."""
    try:
        text = repr(value)
    except RecursionError:
        text = _shallow_repr(value)
    except Exception:  # a __repr__ of the caller's class may raise anything
        text = f"<{type(value).__name__}>"
    return shown(text)


def shown_given(value: object) -> str:
    """A caller's value as a violation shows it: a string as it is, any other value as
    `shown_value` shows it (``True``, ``7``, ``None``; a list as its first levels), cut."""
    return shown(value) if isinstance(value, str) else shown_value(value)


def _shallow_repr(value: object) -> str:
    import reprlib  # only a value nested too deep for repr() needs it

    shallow = reprlib.Repr()
    shallow.maxlevel = 8
    try:
        return shallow.repr(value)
    except Exception:  # a member's own __repr__, reached within the first levels
        return f"<{type(value).__name__}>"


def identifier_problems(identifier: str, limit: int) -> list[str]:
    """Why AWS would refuse this snapshot identifier (empty when it is fine)."""
    problems = []
    if not 1 <= len(identifier) <= limit:
        problems.append(f"must be 1 to {limit} characters long, is {len(identifier)}")
    if not _IDENTIFIER_CHARS.fullmatch(identifier):
        bad = sorted({c for c in identifier if not (c.isascii() and (c.isalnum() or c == "-"))})
        problems.append(
            "may hold only ASCII letters, digits and hyphens, not " + ", ".join(map(repr, bad))
        )
    if identifier and not (identifier[0].isascii() and identifier[0].isalpha()):
        problems.append("must start with a letter")
    if identifier.endswith("-"):
        problems.append("must not end with a hyphen")
    if "--" in identifier:
        problems.append("must not contain two consecutive hyphens")
    return problems


def check_identifier(field: str, identifier: object, limit: int) -> list[Violation]:
    """``identifier.aws``: AWS's rules for snapshot identifiers."""
    if not isinstance(identifier, str):
        return [
            Violation(
                "identifier.aws",
                field,
                shown_value(identifier),
                f"must be a string, not {type(identifier).__name__}",
            )
        ]
    problems = identifier_problems(identifier, limit)
    if not problems:
        return []
    return [Violation("identifier.aws", field, shown(identifier), "; ".join(problems))]


def _tag_text_problems(text: str, what: str, low: int, high: int) -> list[str]:
    if (
        low <= len(text) <= high
        and _PLAIN_TAG_TEXT.fullmatch(text) is not None
        and text[:4].lower() not in _RESERVED_PREFIX_SET
    ):
        return []  # plain ASCII and fine: the common case, without a per-character loop
    problems = []
    if not low <= len(text) <= high:
        problems.append(f"{what} must be {low} to {high} characters long, is {len(text)}")
    bad = sorted({c for c in set(text) if not tag_char_allowed(c)})  # each character once
    if bad:
        shown = ", ".join(f"U+{ord(c):04X} {character_name(c)}" for c in bad[:5])
        problems.append(
            f"{what} may hold only Unicode letters, numbers, separators and _ . : / = + - @,"
            f" not {shown}"
        )
    if text.lower().startswith(_RESERVED_PREFIXES):
        problems.append(f"{what} must not start with 'aws:' or 'rds:' (reserved)")
    return problems


_UNNAMED = {
    "Cc": "(a control character)",
    "Cs": "(a lone surrogate)",
    "Co": "(a private-use character)",
    "Cn": "(unassigned)",
}


def character_name(char: str) -> str:
    """A character's Unicode name, or what it is when it has none (a line feed, a lone
    surrogate)."""
    import unicodedata  # an extension module: loaded by the first text that is not ASCII

    return unicodedata.name(char, "") or _UNNAMED.get(unicodedata.category(char), "(unnamed)")


def tag_char_allowed(char: str) -> bool:
    """True for the characters AWS allows in tag keys and values (L*, N*, Z* and _.:/=+-@)."""
    if char < "\x80":
        return char in _ASCII_TAG_CHARS
    import unicodedata  # an extension module: loaded by the first text that is not ASCII

    return char in _TAG_PUNCTUATION or unicodedata.category(char)[0] in "LNZ"


def tag_key_problems(key: str) -> list[str]:
    """Why AWS would refuse this tag key (empty when it is fine)."""
    return _tag_text_problems(key, "key", 1, TAG_KEY_MAX)


def tag_value_problems(value: str) -> list[str]:
    """Why AWS would refuse this tag value (empty when it is fine)."""
    return _tag_text_problems(value, "value", 0, TAG_VALUE_MAX)


def value_glob_problems(text: str) -> list[str]:
    """Why ``text`` is no allowed value of a tag (`ValueGlob`): more than one ``*``, or what
    AWS would refuse in the value it stands for (empty when it is fine)."""
    if text.count("*") > 1:
        return ["an allowed value may hold at most one '*'"]
    return tag_value_problems(text.replace("*", ""))


@functools.lru_cache(maxsize=4096)
def _pair_problems(key: str, value: str) -> tuple[str, ...]:
    """`tag_key_problems` and `tag_value_problems` of one tag, remembered: calls repeat the
    same tags, and the answer depends on the text alone."""
    return (*tag_key_problems(key), *tag_value_problems(value))


def check_tags_aws(tags: Mapping[str, str], *, prefix: str = "Tags") -> list[Violation]:
    """``tags.aws``: AWS's rules on each key and value, and the 50-tag limit."""
    violations = []
    for key, value in tags.items():
        problems = _pair_problems(key, value)
        if problems:
            violations.append(
                Violation("tags.aws", _tag_field(prefix, key), shown(value), "; ".join(problems))
            )
    if len(tags) > TAGS_PER_RESOURCE_MAX:
        violations.append(
            Violation(
                "tags.aws",
                prefix,
                str(len(tags)),
                f"at most {TAGS_PER_RESOURCE_MAX} tags per snapshot, this call would set"
                f" {len(tags)}",
            )
        )
    return violations


def _tag_field(prefix: str, key: str) -> str:
    """The field of a violation about the caller's tag ``key``: a key longer than AWS allows
    is shown cut, as values are."""
    return f"{prefix}.{shown(key, TAG_KEY_MAX)}"


def check_duplicates(keys: Sequence[str], *, prefix: str = "Tags") -> list[Violation]:
    """``tags.duplicate``: a key given more than once in one request."""
    seen: set[str] = set()
    reported: set[str] = set()
    violations = []
    for key in keys:
        if key in seen and key not in reported:
            reported.add(key)
            violations.append(
                Violation(
                    "tags.duplicate",
                    _tag_field(prefix, key),
                    shown(key, TAG_KEY_MAX),
                    "key given more than once",
                )
            )
        seen.add(key)
    return violations


def check_required(tags: Mapping[str, str], required: Iterable[str]) -> list[Violation]:
    """``tags.required``: keys the snapshot must carry, with a hint when only the case differs."""
    missing = [key for key in required if key not in tags]
    if not missing:
        return []
    by_lower = {key.lower(): key for key in tags}
    violations = []
    for key in missing:
        message = "required tag is missing"
        near = by_lower.get(key.lower())
        if near is not None:
            message += f" (there is '{near}': tag keys are case-sensitive)"
        violations.append(Violation("tags.required", f"Tags.{key}", None, message))
    return violations


@frozen
class ValueGlob:
    """An allowed tag value that may hold one ``*`` standing for any run, empty too."""

    text: str

    def matches(self, value: str) -> bool:
        """True when the value matches the glob."""
        head, star, tail = self.text.partition("*")
        if not star:
            return value == self.text
        return (
            len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)
        )


@frozen
class Wildcard:
    """A name pattern whose ``*`` stand for any run of characters (empty too), any number."""

    text: str

    def matches(self, name: str) -> bool:
        """True when the whole name matches (each ``*`` taken as early as it can be)."""
        parts = self.text.split("*")
        if len(parts) == 1:
            return name == self.text
        first, *middle, last = parts
        if len(name) < len(first) + len(last):
            return False
        if not (name.startswith(first) and name.endswith(last)):
            return False
        position, end = len(first), len(name) - len(last)
        for part in middle:
            found = name.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True


def check_allowed(
    tags: Mapping[str, str], allowed: Mapping[str, Sequence[ValueGlob]], *, prefix: str = "Tags"
) -> list[Violation]:
    """``tags.allowed``: values outside the policy's list for that key."""
    violations = []
    for key, globs in allowed.items():
        value = tags.get(key)
        if value is not None and not any(glob.matches(value) for glob in globs):
            listed = ", ".join(glob.text for glob in globs)
            violations.append(
                Violation(
                    "tags.allowed",
                    f"{prefix}.{key}",
                    shown(value),
                    f"value must be one of: {listed}",
                )
            )
    return violations


def check_patterns(
    tags: Mapping[str, str], patterns: Mapping[str, Regex], *, prefix: str = "Tags"
) -> list[Violation]:
    """``tags.pattern``: values that do not fully match the policy's regex for that key.

    A value longer than AWS allows is not matched: `check_tags_aws` reports it already.
    """
    violations = []
    for key, pattern in patterns.items():
        value = tags.get(key)
        if value is not None and len(value) <= TAG_VALUE_MAX and not pattern.fullmatch(value):
            violations.append(
                Violation(
                    "tags.pattern",
                    f"{prefix}.{key}",
                    shown(value),
                    f"value must match {pattern.pattern}",
                )
            )
    return violations


def is_account_id(text: str) -> bool:
    """True for a 12-digit AWS account id."""
    return _ACCOUNT_ID.fullmatch(text) is not None


def check_sharing(
    values_to_add: Sequence[str], *, public: bool, accounts: frozenset[str] | None
) -> list[Violation]:
    """``sharing.public`` and ``sharing.account`` for a snapshot's ``restore`` attribute."""
    violations = []
    for value in values_to_add:
        if folded(value) == "all":  # any spelling AWS might read as "all"
            if not public:
                violations.append(
                    Violation(
                        "sharing.public",
                        "ValuesToAdd",
                        value,
                        "making a snapshot public is not allowed ([sharing] public = false)",
                    )
                )
        elif accounts is not None and value not in accounts:
            violations.append(
                Violation(
                    "sharing.account",
                    "ValuesToAdd",
                    value,
                    "account is not in [sharing] accounts",
                )
            )
    return violations


def check_export(
    bucket: str | None, *, enabled: bool, buckets: Sequence[Wildcard] | None
) -> list[Violation]:
    """``export.disabled`` and ``export.bucket`` for an export of snapshot data to S3."""
    if not enabled:
        return [
            Violation(
                "export.disabled",
                "S3BucketName",
                bucket,
                "exporting snapshot data is not allowed ([export] enabled = false)",
            )
        ]
    if buckets is not None and not (bucket and any(w.matches(bucket) for w in buckets)):
        listed = ", ".join(w.text for w in buckets) or "none"
        return [
            Violation(
                "export.bucket",
                "S3BucketName",
                bucket,
                f"bucket is not in [export] s3_buckets ({listed})",
            )
        ]
    return []

"""Reading values out of a parsed policy: each wrong type, template or regex a `PolicyError`
naming the file, the line (the column too, for a regex) and the dotted key.

`schema` builds on it, one method per table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .operations import snake_case
from .policy import PolicyError, dotted_key, none_of
from .positions import KeyLines, hint, kind, shown
from .regex import (
    NamePattern,
    Regex,
    RegexBudget,
    RegexProblem,
    compile_regex,
    tag_value_refusal,
)
from .templates import Template, TemplateSyntaxError, compile_template

_CREDENTIAL_WORDS = (
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PRIVATE",
    "CREDENTIAL",
)
_CREDENTIAL_NAME_WORDS = frozenset({"APIKEY", "DSN", "JWT", "COOKIE", "BEARER"})
"""Words of a name that say its variable holds a credential, refused as a word of it
(`_name_words`), whatever is beside them: ``SENTRY_DSN``, ``GITHUB_APIKEY``."""
_CREDENTIAL_SHORT_WORDS = frozenset({"KEY", "KEYS", "PASS", "PWD"})
"""Credential words too short to refuse anywhere in a name (``MONKEY``, ``PASSAGE``): refused
as a word of it (`_name_words`), digits aside (``STRIPE_API_KEY_LIVE``, ``DB_PASS_2``,
``MYSQL_PWD1``, ``apiKeys``), unless a word beside it says the name is about a key rather
than one: the kind of key before it (`_KEY_KINDS`: ``PUBLIC_KEY``, ``PARTITION_KEY``), or
what of it after it (`_OF_A_KEY`: ``KMS_KEY_ID``, ``KEY_PAIR_NAME``, ``S3_KEY_PREFIX``,
``PASS_THROUGH``); ``PWD`` alone is the shell's working directory."""
_KEY_KINDS = frozenset(
    {"PUBLIC", "PRIMARY", "FOREIGN", "PARTITION", "SORT", "HASH", "RANGE", "CACHE", "KMS"}
    | {"S3", "OBJECT", "IDEMPOTENCY"}
)
_OF_A_KEY = frozenset(
    {"ID", "IDS", "NAME", "ARN", "ALIAS", "PAIR", "PREFIX", "VERSION", "REGION", "OWNER"}
    | {"FINGERPRINT", "COLUMN", "FILE", "PATH", "DIR", "TYPE", "SIZE", "SPEC", "USAGE"}
    | {"THROUGH", "COUNT"}
)
_R = TypeVar("_R")


class ValueReader:
    """Reads the parsed document, turning every problem into a `PolicyError` with its line."""

    def __init__(self, source: str, lines: KeyLines) -> None:
        self.source = source
        self.lines = lines
        self.regexes = RegexBudget()  # what all the policy's regexes may cost RE2 together

    def fail(self, key: str, problem: str) -> PolicyError:
        """The `PolicyError` for ``problem`` at ``key``, with the key's line."""
        return PolicyError(problem, path=self.source, line=self.lines.find(key), key=key)

    def table(
        self,
        value: object,
        key: str,
        known: tuple[str, ...],
        advice: Callable[[str], str] | None = None,
    ) -> dict[str, Any]:
        """``value`` as a table holding only ``known`` keys; an unknown one is an error saying
        ``advice(name)``, by default a "did you mean" among ``known``."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {kind(value)}")
        for name in value:
            if name not in known:
                said = advice(name) if advice is not None else hint(name, known)
                raise self.fail(dotted_key(key, name), "unknown key" + said)
        return value

    def string(self, value: object, key: str) -> str:
        """``value`` as a string."""
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {kind(value)}")
        return value

    def boolean(self, value: object, key: str) -> bool:
        """``value`` as a boolean."""
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {kind(value)}")
        return value

    def strings(self, value: object, key: str) -> tuple[str, ...]:
        """``value`` as an array of strings."""
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array of strings, not {kind(value)}")
        if all(type(item) is str for item in value):  # the common case: no name made per item
            return tuple(value)
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))

    def string_table(self, value: object, key: str) -> dict[str, str]:
        """``value`` as a table of strings."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {kind(value)}")
        return {name: self.string(item, dotted_key(key, name)) for name, item in value.items()}

    def template(self, value: object, key: str) -> Template:
        """``value`` as a template; ``{env:...}`` naming a credential variable is refused."""
        text = self.string(value, key)
        try:
            template = compile_template(text)
        except TemplateSyntaxError as exc:
            raise self.template_fail(key, text, str(exc), exc.offset) from None
        for name in template.env_names:
            if any(word in name.upper() for word in _CREDENTIAL_WORDS) or _names_a_secret(
                _name_words(name)
            ):
                raise self.fail(
                    key,
                    f"{{env:{name}}} names a credential variable: its value would be written"
                    " into tags and the audit log",
                )
        return template

    def template_fail(self, key: str, text: str, problem: str, offset: int = 0) -> PolicyError:
        """The `PolicyError` for ``problem`` of the template ``text`` at ``key``, with the line
        and column of its character ``offset`` (0: where the template begins)."""
        found = self.lines.locate(key, text, offset)
        if found is None:
            return self.fail(key, problem)
        return PolicyError(
            f"{problem} (column {found[1]})", path=self.source, line=found[0], key=key
        )

    def number(self, value: object, key: str, *, low: float, high: float) -> float:
        """``value`` as a number from ``low`` to ``high``."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, not {kind(value)}")
        if not low <= value <= high:
            raise self.fail(key, f"must be from {low:g} to {high:g}, not {shown(value)}")
        return float(value)

    def choice(self, table: dict[str, Any], name: str, key: str, choices: tuple[str, ...]) -> Any:
        """The value at ``name`` (default: the first choice), one of ``choices``."""
        value = table.get(name, choices[0])
        if value not in choices:
            raise self.fail(dotted_key(key, name), none_of(choices, shown(value)))
        return value

    def name_pattern(self, value: object, key: str) -> NamePattern:
        """``value`` as a naming pattern, charged to the policy's regex budget."""
        return self._regex(value, key, NamePattern)

    def tag_pattern(self, value: object, key: str) -> Regex:
        """``value`` as a tag value pattern, charged to the policy's regex budget; one whose
        every match AWS refuses as a tag value is refused (`tag_value_refusal`)."""
        regex = self._regex(value, key, compile_regex)
        refused = tag_value_refusal(regex)
        if refused is not None:
            raise self.fail(key, refused)
        return regex

    def _regex(self, value: object, key: str, build: Callable[[str, RegexBudget], _R]) -> _R:
        text = self.string(value, key)
        try:
            return build(text, self.regexes)
        except RegexProblem as exc:
            raise self.regex_problem(key, text, exc) from None

    def regex_problem(self, key: str, text: str, exc: RegexProblem) -> PolicyError:
        """The problem at its place in the file: line and column, not the offset in the
        pattern compiled (where ``{source}`` is filled in and classes are spelled out)."""
        problem = f"not a valid regex: {exc.message}" if exc.syntax else exc.message
        if exc.position is None:
            return self.fail(key, problem)
        found = self.lines.locate(key, text, exc.position)
        excerpt = shown(text[exc.position : exc.position + 24], limit=30)
        where = f"column {found[1]}" if found else f"character {exc.position + 1} of the pattern"
        return PolicyError(
            f"{problem} (at {excerpt}, {where})",
            path=self.source,
            line=found[0] if found else self.lines.find(key),
            key=key,
        )


def table_holding(
    table: dict[str, Any], key: str, kind: type, within: str = "", named: str = ""
) -> tuple[str, str, str] | None:
    """The first table below ``table`` that holds ``key`` with a value of type ``kind``: its
    dotted name, the header it was written under and that header's dotted key
    (``audit.ledger``, ``[audit.ledger]``, ``audit.ledger``; ``tags[0]``, ``[[tags]]``,
    ``tags``). A key written after a table's header is that table's, however deep it is
    (and of another type, a value of the table's own: a tag named ``version``)."""
    for name, value in table.items():
        path, dotted = dotted_key(within, name), dotted_key(named, name)
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, inner in items:
            if not isinstance(inner, dict):
                continue
            here = dotted if index is None else f"{dotted}[{index}]"
            if type(inner.get(key)) is kind:
                return here, f"[{path}]" if index is None else f"[[{path}]]", path
            found = table_holding(inner, key, kind, path, here)
            if found is not None:
                return found
    return None


def _name_words(name: str) -> list[str]:
    """The words of a variable's name, in capitals, digits written onto one aside: split at
    ``_`` and where camel case starts a word (``openAIKey``: ``OPEN``, ``AI``, ``KEY``)."""
    return [word.rstrip("0123456789") for word in snake_case(name).upper().split("_")]


def _names_a_secret(words: list[str]) -> bool:
    """Whether one of a name's ``words`` is a short credential word that no word beside it
    says is about a key rather than one (`_CREDENTIAL_SHORT_WORDS`)."""
    if words == ["PWD"]:
        return False
    words = [word for word in words if word]  # a word of digits alone says nothing
    for i, word in enumerate(words):
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        if word in _CREDENTIAL_NAME_WORDS:
            return True
        # AWS_ACCESS_KEY_ID: the first half of an access key, which the audit log's
        # redaction hides in what it records too
        if word == "ACCESS" and words[i + 1 : i + 3] == ["KEY", "ID"]:
            return True
        if word in _CREDENTIAL_SHORT_WORDS and before not in _KEY_KINDS and after not in _OF_A_KEY:
            return True
    return False

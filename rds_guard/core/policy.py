"""TOML text -> `Policy`: every problem is a `PolicyError` naming the file, the line and the key."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from . import operations, rules
from .files import NotRegularFile, read_regular_file
from .regex_safety import backtracking_risk
from .rules import ValueGlob
from .templates import NamePattern, Template, TemplateSyntaxError, compile_template

Inherit = bool | Literal["always"]
DEFAULT_AUDIT_PATH = "rds-guard-audit.jsonl"


class PolicyError(ValueError):
    """A policy that cannot be used. ``str()`` reads ``PATH:LINE: dotted.key: what is wrong``."""

    def __init__(
        self,
        problem: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.path] if self.path else []
        if self.path and self.line is not None:
            parts[0] += f":{self.line}"
        if self.key:  # .key keeps a megabyte-long key whole; the message shows its start
            parts.append(self.key if len(self.key) <= 120 else f"{self.key[:120]}...")
        return ": ".join([*parts, self.problem])

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_policy_error, (self.problem, self.path, self.line, self.key))


def _rebuild_policy_error(
    problem: str, path: str | None, line: int | None, key: str | None
) -> PolicyError:
    return PolicyError(problem, path=path, line=line, key=key)


@dataclass(frozen=True)
class NamingRule:
    """A naming pattern and/or a template that generates missing identifiers.

    ``generate_key`` is the policy key that holds ``generate`` (violations name it).
    """

    pattern: NamePattern | None = None
    generate: Template | None = None
    generate_key: str = "naming.generate"


@dataclass(frozen=True)
class TagPolicy:
    """``[tags]``: required keys, inheritance, defaults, forced values, allowed values, patterns."""

    required: tuple[str, ...] = ()
    inherit: Inherit = True
    defaults: Mapping[str, Template] = field(default_factory=dict)
    forced: Mapping[str, Template] = field(default_factory=dict)
    allowed: Mapping[str, tuple[ValueGlob, ...]] = field(default_factory=dict)
    patterns: Mapping[str, re.Pattern[str]] = field(default_factory=dict)

    @property
    def adds_tags(self) -> bool:
        """True when the policy sets tags of its own."""
        return bool(self.defaults or self.forced)

    @property
    def has_rules(self) -> bool:
        """True when the policy judges the snapshot's tag set."""
        return bool(self.required or self.allowed or self.patterns)


@dataclass(frozen=True)
class SharingPolicy:
    """``[sharing]``: may snapshots be public, and with which accounts may they be shared."""

    public: bool = False
    accounts: frozenset[str] | None = None


@dataclass(frozen=True)
class AuditPolicy:
    """``[audit]``: where the log lives and how it is written."""

    path: Path = Path(DEFAULT_AUDIT_PATH)
    enabled: bool = True
    fsync: bool = True
    hmac_key_env: str | None = None


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy (version 1). Build it with `load_policy` or `from_toml`."""

    mode: Literal["enforce", "warn"] = "enforce"
    services: frozenset[str] = operations.ALL
    naming: NamingRule = NamingRule()
    naming_operations: Mapping[str, NamingRule] = field(default_factory=dict)
    tags: TagPolicy = TagPolicy()
    sharing: SharingPolicy = SharingPolicy()
    audit: AuditPolicy = AuditPolicy()
    source: str = "<string>"
    sha256: str = ""
    version: int = 1
    _naming_by_operation: Mapping[str, NamingRule] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # Each override merged with the top-level rule once, not at every call.
        merged = {name: self._merged(rule) for name, rule in self.naming_operations.items()}
        object.__setattr__(self, "_naming_by_operation", merged)

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> Policy:
        """Parse and validate policy text; relative audit paths are taken from the cwd."""
        if not isinstance(text, str):
            raise TypeError(
                f"policy text must be a str, not {type(text).__name__}"
                " (decode it first, or read a file with load_policy)"
            )
        try:
            data = text.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate: text no file could hold
            line = text.count("\n", 0, exc.start) + 1
            raise PolicyError(
                f"not valid Unicode text: lone surrogate U+{ord(text[exc.start]):04X}",
                path=source,
                line=line,
            ) from None
        return _load(text, source, base=Path.cwd(), digest=hashlib.sha256(data).hexdigest())

    def naming_for(self, operation: str) -> NamingRule:
        """The naming rule of one operation: its override, else the top-level one."""
        return self._naming_by_operation.get(operation, self.naming)

    def _merged(self, override: NamingRule) -> NamingRule:
        generating = override if override.generate is not None else self.naming
        return NamingRule(
            pattern=override.pattern or self.naming.pattern,
            generate=generating.generate,
            generate_key=generating.generate_key,
        )


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate a policy file; relative audit paths are taken from its folder."""
    where = os.fspath(path)
    try:
        data = read_regular_file(where)
    except NotRegularFile as exc:
        raise PolicyError(f"is {exc.kind}, not a policy file", path=where) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror or exc}", path=where) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError("not UTF-8 text", path=where, line=line) from None
    # absolute: the audit log stays next to the policy file even if the process changes cwd
    base = Path(where).absolute().parent
    return _load(text, where, base=base, digest=hashlib.sha256(data).hexdigest())


def _load(text: str, source: str, *, base: Path, digest: str) -> Policy:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, source, text) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise PolicyError(f"cannot parse TOML: {type(exc).__name__}", path=source) from None
    reader = _Reader(source, text)
    return reader.policy(document, base=base, digest=digest)


_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def _toml_error(exc: tomllib.TOMLDecodeError, source: str, text: str) -> PolicyError:
    message = str(exc)
    found = _TOML_POSITION.search(message)
    line = int(found.group(1)) if found and found.group(1) else None
    if found and line is None:
        line = text.count("\n") + 1
    problem = _TOML_POSITION.sub("", message).strip()
    return PolicyError(f"invalid TOML: {problem}", path=source, line=line)


_SAMPLE_NOW = datetime(2026, 11, 29, 12, 34, 56, tzinfo=UTC)
"""The date `{utcnow:FMT}` is rendered at when a policy loads, to check the characters."""

# The schema: for each table, its keys and the reader of each value.
_TOP_KEYS = ("version", "mode", "services", "naming", "tags", "sharing", "audit")
_NAMING_KEYS = ("pattern", "generate", "operations")
_OPERATION_NAMING_KEYS = ("pattern", "generate")
_TAG_KEYS = ("required", "inherit", "defaults", "forced", "allowed", "patterns")
_SHARING_KEYS = ("public", "accounts")
_AUDIT_KEYS = ("path", "enabled", "fsync", "hmac_key_env")


class _Reader:
    """Reads the parsed document, turning every problem into a `PolicyError` with its line."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = _KeyLines(text)

    def fail(self, key: str, problem: str) -> PolicyError:
        return PolicyError(problem, path=self.source, line=self.lines.find(key), key=key)

    def table(self, value: object, key: str, known: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_kind(value)}")
        for name in value:
            if name not in known:
                raise self.fail(_join(key, name), "unknown key" + _hint(name, known))
        return value

    def string(self, value: object, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_kind(value)}")
        return value

    def boolean(self, value: object, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_kind(value)}")
        return value

    def strings(self, value: object, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array of strings, not {_kind(value)}")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))

    def string_table(self, value: object, key: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_kind(value)}")
        return {name: self.string(item, _join(key, name)) for name, item in value.items()}

    def template(self, value: object, key: str) -> Template:
        try:
            return compile_template(self.string(value, key))
        except TemplateSyntaxError as exc:
            raise self.fail(key, str(exc)) from None

    def regex(self, value: object, key: str, *, sample_source: str | None = None) -> str:
        text = self.string(value, key)
        try:
            compiled = NamePattern(text).compiled("x") if sample_source else re.compile(text)
        except (re.error, RecursionError, OverflowError) as exc:
            raise self.fail(key, f"not a valid regex: {exc}") from None
        risk = backtracking_risk(compiled.pattern)
        if risk:
            raise self.fail(
                key,
                f"{risk}, which can backtrack for seconds on a short value: make the inner"
                " repeat possessive ([a-z]++) or wrap it in an atomic group (?>...)",
            )
        return text

    def policy(self, document: dict[str, Any], *, base: Path, digest: str) -> Policy:
        top = self.table(document, "", _TOP_KEYS)
        if "version" not in top:
            raise PolicyError(
                "missing key 'version' (write: version = 1)", path=self.source, key="version"
            )
        version = top["version"]
        if type(version) is not int or version != 1:
            raise self.fail(
                "version", f"unsupported version {_shown(version)}: this rds_guard reads version 1"
            )
        mode = top.get("mode", "enforce")
        if mode not in ("enforce", "warn"):
            raise self.fail("mode", f'must be "enforce" or "warn", not {_shown(mode)}')
        tags = self.tag_policy(top.get("tags", {}))
        return Policy(
            mode=mode,
            services=self.services(top.get("services", list(operations.SERVICES))),
            naming=self.naming_rule(top.get("naming", {}), "naming", _NAMING_KEYS),
            naming_operations=self.naming_operations(top.get("naming", {})),
            tags=tags,
            sharing=self.sharing(top.get("sharing", {})),
            audit=self.audit(top.get("audit", {}), base),
            source=self.source,
            sha256=digest,
        )

    def services(self, value: object) -> frozenset[str]:
        names = self.strings(value, "services")
        for i, name in enumerate(names):
            if name not in operations.SERVICES:
                raise self.fail(
                    f"services[{i}]",
                    f"unknown service {_shown(name)}" + _hint(name, operations.SERVICES),
                )
        return frozenset(names)

    def naming_rule(self, value: object, key: str, known: tuple[str, ...]) -> NamingRule:
        table = self.table(value, key, known)
        pattern = table.get("pattern")
        generate = table.get("generate")
        return NamingRule(
            pattern=None
            if pattern is None
            else NamePattern(self.regex(pattern, _join(key, "pattern"), sample_source="x")),
            generate=None if generate is None else self.identifier_template(generate, key),
            generate_key=_join(key, "generate"),
        )

    def identifier_template(self, value: object, table: str) -> Template:
        """A ``generate`` template whose fixed text AWS allows in identifiers."""
        where = _join(table, "generate")
        template = self.template(value, where)
        try:
            fixed = template.fixed_text(_SAMPLE_NOW)
        except ValueError as exc:
            raise self.fail(where, f"a {{utcnow}} format cannot be used: {exc}") from None
        bad = sorted({c for c in fixed if not (c.isascii() and (c.isalnum() or c == "-"))})
        if bad:
            shown = ", ".join(repr(c) for c in bad)
            raise self.fail(
                where,
                f"an identifier may hold only ASCII letters, digits and hyphens, not {shown}",
            )
        return template

    def naming_operations(self, naming: object) -> dict[str, NamingRule]:
        if not isinstance(naming, dict):
            return {}
        table = self.table(
            naming.get("operations", {}), "naming.operations", tuple(operations.NAMING_OPERATIONS)
        )
        return {
            name: self.naming_rule(rule, f"naming.operations.{name}", _OPERATION_NAMING_KEYS)
            for name, rule in table.items()
        }

    def tag_policy(self, value: object) -> TagPolicy:
        table = self.table(value, "tags", _TAG_KEYS)
        required = self.strings(table.get("required", []), "tags.required")
        for i, key in enumerate(required):
            self.check_tag_key(key, f"tags.required[{i}]")
        inherit = table.get("inherit", True)
        if not (isinstance(inherit, bool) or inherit == "always"):
            raise self.fail(
                "tags.inherit", f'must be true, false or "always", not {_shown(inherit)}'
            )
        defaults = self.tag_templates(table.get("defaults", {}), "tags.defaults")
        forced = self.tag_templates(table.get("forced", {}), "tags.forced")
        allowed = self.allowed(table.get("allowed", {}))
        patterns = {
            key: re.compile(self.regex(text, f"tags.patterns.{key}"))
            for key, text in self.string_table(table.get("patterns", {}), "tags.patterns").items()
        }
        policy = TagPolicy(required, inherit, defaults, forced, allowed, patterns)
        self.check_literal_values(policy)
        return policy

    def tag_templates(self, value: object, key: str) -> dict[str, Template]:
        result = {}
        for name, text in self.string_table(value, key).items():
            where = _join(key, name)
            self.check_tag_key(name, where)
            template = self.template(text, where)
            if template.is_literal:
                problems = rules.tag_value_problems(template.literal_text)
            else:  # its literal text and {utcnow:FMT} dates: the same at every call
                try:
                    fixed = template.fixed_text(_SAMPLE_NOW)
                except ValueError as exc:
                    raise self.fail(where, f"a {{utcnow}} format cannot be used: {exc}") from None
                bad = sorted({c for c in fixed if not rules.tag_char_allowed(c)})
                problems = [f"value may not hold {c!r} (AWS tag rules)" for c in bad]
            if problems:
                raise self.fail(where, "; ".join(problems))
            result[name] = template
        return result

    def allowed(self, value: object) -> dict[str, tuple[ValueGlob, ...]]:
        if not isinstance(value, dict):
            raise self.fail("tags.allowed", f"must be a table, not {_kind(value)}")
        result = {}
        for key, items in value.items():
            where = _join("tags.allowed", key)
            self.check_tag_key(key, where)
            globs = []
            for i, text in enumerate(self.strings(items, where)):
                if text.count("*") > 1:
                    raise self.fail(f"{where}[{i}]", "an allowed value may hold at most one '*'")
                problems = rules.tag_value_problems(text.replace("*", ""))
                if problems:
                    raise self.fail(f"{where}[{i}]", "; ".join(problems))
                globs.append(ValueGlob(text))
            result[key] = tuple(globs)
        return result

    def check_tag_key(self, key: str, where: str) -> None:
        problems = rules.tag_key_problems(key)
        if problems:
            raise self.fail(where, f"tag key {_shown(key)}: " + "; ".join(problems))

    def check_literal_values(self, policy: TagPolicy) -> None:
        for table, templates in (
            ("tags.forced", policy.forced),
            ("tags.defaults", policy.defaults),
        ):
            for key, template in templates.items():
                if not template.is_literal:
                    continue
                value = template.literal_text
                globs = policy.allowed.get(key)
                if globs is not None and not any(glob.matches(value) for glob in globs):
                    raise self.fail(
                        f"{table}.{key}", f"value {_shown(value)} is not in tags.allowed.{key}"
                    )
                pattern = policy.patterns.get(key)
                if pattern is not None and pattern.fullmatch(value) is None:
                    raise self.fail(
                        f"{table}.{key}",
                        f"value {_shown(value)} does not match tags.patterns.{key}",
                    )

    def sharing(self, value: object) -> SharingPolicy:
        table = self.table(value, "sharing", _SHARING_KEYS)
        public = self.boolean(table.get("public", False), "sharing.public")
        if "accounts" not in table:
            return SharingPolicy(public, None)
        accounts = self.strings(table["accounts"], "sharing.accounts")
        for i, account in enumerate(accounts):
            if not rules.is_account_id(account):
                raise self.fail(
                    f"sharing.accounts[{i}]", f"{_shown(account)} is not a 12-digit account id"
                )
        return SharingPolicy(public, frozenset(accounts))

    def audit(self, value: object, base: Path) -> AuditPolicy:
        table = self.table(value, "audit", _AUDIT_KEYS)
        text = self.string(table.get("path", DEFAULT_AUDIT_PATH), "audit.path")
        if not text.strip():
            raise self.fail("audit.path", "must name a file (omit the key for the default)")
        if "\0" in text:
            raise self.fail("audit.path", "a path may not hold a NUL character (\\u0000)")
        path = Path(text)
        key_env = table.get("hmac_key_env")
        return AuditPolicy(
            path=path if path.is_absolute() else base / path,
            enabled=self.boolean(table.get("enabled", True), "audit.enabled"),
            fsync=self.boolean(table.get("fsync", True), "audit.fsync"),
            hmac_key_env=None if key_env is None else self.string(key_env, "audit.hmac_key_env"),
        )


def _join(table: str, key: str) -> str:
    return f"{table}.{key}" if table else key


def _hint(name: str, known: tuple[str, ...] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def _kind(value: object) -> str:
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def _shown(value: object, limit: int = 60) -> str:
    """A value from the file as repr() shows it, cut short: a 5 MB string makes no message."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than int -> str converts (0x... has no limit)
        return f"{_kind(value)} too long to show"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_ASSIGNMENT = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_KEY_PART = re.compile(r"[A-Za-z0-9_-]+|\"([^\"]*)\"|'([^']*)'")


class _KeyLines:
    """Where each dotted key is written in the TOML text (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: dict[str, int] | None = None

    def find(self, key: str) -> int | None:
        """The line of ``key``, else of its nearest enclosing table or key."""
        if self._lines is None:
            self._lines = self._scan()
        key = re.sub(r"\[\d+\]$", "", key)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key.rpartition(".")[0]
        return None

    def _scan(self) -> dict[str, int]:
        found: dict[str, int] = {}
        table = ""
        for number, line in enumerate(self.text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = ".".join(_key_parts(header.group(1)))
                found.setdefault(table, number)
                continue
            assignment = _ASSIGNMENT.match(line)
            if assignment:
                key = ".".join(_key_parts(assignment.group(1)))
                found.setdefault(_join(table, key), number)
        return found


def _key_parts(dotted: str) -> list[str]:
    return [m.group(1) or m.group(2) or m.group(0) for m in _KEY_PART.finditer(dotted)]


POLICY_ENV = "RDS_GUARD_POLICY"
DEFAULT_POLICY_FILE = "rds_guard.toml"
PolicyLike = str | os.PathLike[str] | Policy | None


def resolve_policy(policy: PolicyLike) -> Policy:
    """A `Policy` from a path, a `Policy`, or None: $RDS_GUARD_POLICY, then ./rds_guard.toml."""
    if isinstance(policy, Policy):
        return policy
    if policy is not None:
        return load_policy(policy)
    named = os.environ.get(POLICY_ENV)
    if named is not None:
        if not Path(named).is_file():
            raise PolicyError(f"{POLICY_ENV} names {named!r}, which is not a readable file")
        return load_policy(named)
    if Path(DEFAULT_POLICY_FILE).is_file():
        return load_policy(DEFAULT_POLICY_FILE)
    raise PolicyError(
        f"no policy given: {POLICY_ENV} is not set and there is no ./{DEFAULT_POLICY_FILE}"
        f" in {Path.cwd()} (pass policy=PATH, set {POLICY_ENV}, or create {DEFAULT_POLICY_FILE})"
    )

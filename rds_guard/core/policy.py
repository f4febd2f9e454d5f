"""The policy: frozen dataclasses, `PolicyError`, and where a policy is found and read.

The TOML schema and every load-time check are in `schema`; the policy reference is
docs/policy.md.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import field
from pathlib import Path
from typing import Literal

from . import operations
from .files import NotRegularFile, file_kind, read_regular_file, unencodable_path
from .frozen import frozen
from .patterns import Lazy
from .regex import NamePattern, Regex
from .rules import ValueGlob, Wildcard, escaped
from .templates import Placeholder, Template

DEFAULT_AUDIT_PATH = "rds-guard-audit.jsonl"
DEFAULT_LOCK_TIMEOUT = 10.0


Inherit = bool | Literal["always"]
MAX_POLICY_BYTES = 1 << 20
"""The largest policy file, refused before it is parsed: a real one is a few kilobytes."""


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
        self.path = None if path is None else str(path)  # a Path given as the source too
        self.line = line
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        # escaped: a path (or what a problem quotes) may hold a newline or an escape sequence,
        # which would split the one line a program prints or logs, or forge another
        parts = [escaped(self.path)] if self.path else []
        if self.path and self.line is not None:
            parts[0] += f":{self.line}"
        if self.key:  # .key keeps a megabyte-long key whole; the message shows its start
            key = self.key if len(self.key) <= 120 else f"{self.key[:120]}..."
            parts.append(escaped(key))
        return ": ".join([*parts, escaped(self.problem)])

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_policy_error, (self.problem, self.path, self.line, self.key))


def _rebuild_policy_error(
    problem: str, path: str | None, line: int | None, key: str | None
) -> PolicyError:
    return PolicyError(problem, path=path, line=line, key=key)


@frozen
class NamingRule:
    """A naming pattern and/or a template that generates missing identifiers.

    ``generate_key`` is the policy key that holds ``generate`` (violations name it).
    """

    pattern: NamePattern | None = None
    generate: Template | None = None
    generate_key: str = "naming.generate"


@frozen
class TagPolicy:
    """``[tags]``: required keys, inheritance, defaults, forced values, allowed values, patterns."""

    required: tuple[str, ...] = ()
    inherit: Inherit = True
    defaults: Mapping[str, Template] = field(default_factory=dict)
    forced: Mapping[str, Template] = field(default_factory=dict)
    allowed: Mapping[str, tuple[ValueGlob, ...]] = field(default_factory=dict)
    patterns: Mapping[str, Regex] = field(default_factory=dict)

    @property
    def adds_tags(self) -> bool:
        """True when the policy sets tags of its own."""
        return bool(self.defaults or self.forced)

    @property
    def has_rules(self) -> bool:
        """True when the policy judges the snapshot's tag set."""
        return bool(self.required or self.allowed or self.patterns)


@frozen
class SharingPolicy:
    """``[sharing]``: may snapshots be public, and with which accounts may they be shared."""

    public: bool = False
    accounts: frozenset[str] | None = None


@frozen
class ExportPolicy:
    """``[export]``: may snapshot data be exported to S3 (StartExportTask), and to which
    buckets (None: any)."""

    enabled: bool = True
    s3_buckets: tuple[Wildcard, ...] | None = None


@frozen
class DeletionPolicy:
    """``[deletion]``: deletes that touch backups.

    ``final_snapshot``: "required" makes ``SkipFinalSnapshot=True`` a violation;
    ``automated_backups``: "keep" makes deleting automated backups one; ``minimum_age_days``:
    a younger snapshot may not be deleted (None: any age); ``hold_tags``: a snapshot carrying
    one of these key = value pairs may not be deleted, nor the tag removed or changed.
    """

    final_snapshot: Literal["required", "optional"] = "optional"
    automated_backups: Literal["keep", "any"] = "any"
    minimum_age_days: float | None = None
    hold_tags: Mapping[str, str] = field(default_factory=dict)


TABLE_NAME = Lazy(r"[A-Za-z0-9_.-]{3,255}")
"""A DynamoDB table's name."""
REGION_NAME = Lazy(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
"""A region's name as botocore takes one (its ``validate_region_name``)."""
BUCKET_NAME = Lazy(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
"""An S3 bucket's name (the checkpoints' bucket: the policy and the ledger's commands alike)."""


KMS_KEY = Lazy(r"[A-Za-z0-9:/_-]{1,2048}")
"""A KMS key as KMS takes one (its ``KeyId``): a key id, a key ARN, an alias or its ARN."""
KMS_KEY_FORM = "an id, ARN or alias: 1 to 2048 of A-Z a-z 0-9 : / _ -"
"""`KMS_KEY` in words, for the messages that refuse a value."""
CONTROL = Lazy(r"[\x00-\x1f\x7f-\x9f]")
"""A control character: none is in an S3 key prefix the ledger's commands take."""


def is_bucket_name(text: str) -> bool:
    """Whether ``text`` is an S3 bucket name: `BUCKET_NAME`, and no two dots side by side."""
    return BUCKET_NAME.fullmatch(text) is not None and ".." not in text


MODES = ("enforce", "warn")
"""The policy's modes: ``enforce`` blocks a call that breaks it, ``warn`` sends it."""

LEDGER_MODES = ("ship", "required")
"""The ledger's modes (`LedgerPolicy`)."""


def _check_mode(mode: object, modes: tuple[str, ...], key: str) -> None:
    """A `PolicyError` (naming ``key``) unless ``mode`` is one of ``modes`` exactly: a policy
    built or changed in code (``dataclasses.replace``) is held to what the loader allows, so
    that ``"Enforce"`` can never be taken for a mode that sends what it should block."""
    if not (type(mode) is str and mode in modes):
        raise PolicyError(none_of(modes, f"{mode!r:.80}"), key=key)


def none_of(choices: tuple[str, ...], shown: str) -> str:
    """The problem of a value (``shown`` as the caller shows it) that is none of ``choices``:
    one wording for the file's keys and for a policy built in code."""
    allowed = " or ".join(f'"{choice}"' for choice in choices)
    return f"must be {allowed}, not {shown}"


@frozen
class LedgerPolicy:
    """``[audit.ledger]``: the fleet ledger the local log is shipped to (docs/ledger.md).

    ``mode``: "ship" (the local file is the spool) or "required" (a call is sent only once
    the ledger holds its ``requested`` record); ``checkpoints``: ``s3://BUCKET/PREFIX`` for
    signed checkpoints, signed with the KMS key ``kms_key``.
    """

    table: str
    region: str | None = None
    mode: Literal["ship", "required"] = "ship"
    checkpoints: str | None = None
    kms_key: str | None = None

    def __post_init__(self) -> None:
        _check_mode(self.mode, LEDGER_MODES, "audit.ledger.mode")


@frozen
class AuditPolicy:
    """``[audit]``: where the log lives and how it is written."""

    path: Path = Path(DEFAULT_AUDIT_PATH)
    enabled: bool = True
    fsync: bool = True
    hmac_key_env: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ledger: LedgerPolicy | None = None


@frozen
class Policy:
    """A loaded, validated policy (version 1). Build it with `load_policy` or `from_toml`."""

    mode: Literal["enforce", "warn"] = "enforce"
    services: frozenset[str] = operations.ALL
    naming: NamingRule = NamingRule()
    naming_operations: Mapping[str, NamingRule] = field(default_factory=dict)
    tags: TagPolicy = TagPolicy()
    sharing: SharingPolicy = SharingPolicy()
    export: ExportPolicy = ExportPolicy()
    deletion: DeletionPolicy = DeletionPolicy()
    audit: AuditPolicy = AuditPolicy()
    source: str = "<string>"
    sha256: str = field(default="", init=False)
    """The SHA-256 of the bytes the policy was read from (of the UTF-8 text for `from_toml`),
    which its audit records carry; set by the loader alone (and kept by the pytest plugin,
    which drops only the ledger), so that a policy made otherwise, or changed from a loaded
    one (``dataclasses.replace``), carries none (""), not the digest of a file that does not
    say it."""
    version: int = 1
    _naming_by_operation: Mapping[str, NamingRule] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        _check_mode(self.mode, MODES, "mode")
        _check_parts(self)
        # Each override merged with the top-level rule once, not at every call.
        merged = {name: self._merged(rule) for name, rule in self.naming_operations.items()}
        object.__setattr__(self, "_naming_by_operation", merged)

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> Policy:
        """Parse and validate policy text; relative audit paths are taken from the cwd.
        ``source`` names the text in messages (a `PolicyError`'s path)."""
        if not isinstance(text, str):
            raise TypeError(
                f"policy text must be a str, not {type(text).__name__}"
                " (decode it first, or read a file with load_policy)"
            )
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        if not isinstance(source, str):
            raise TypeError(f"source must be a str naming the text, not {type(source).__name__}")
        source = source or "<string>"  # an empty name would leave messages without one
        if len(text) > MAX_POLICY_BYTES:  # every character is one byte at least
            raise _too_large(f"at least {len(text):,}", source)
        try:
            data = text.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate: text no file could hold
            line = text.count("\n", 0, exc.start) + 1
            from .positions import KeyLines  # as `key_line`: only a message needs it

            held = KeyLines(text).key_holding(exc.start)
            raise PolicyError(
                f"not valid Unicode text: lone surrogate U+{ord(text[exc.start]):04X}",
                path=source,
                line=line,
                key=held[1] if held else None,
            ) from None
        if len(data) > MAX_POLICY_BYTES:
            raise _too_large(f"{len(data):,}", source)
        from .schema import read_policy  # the reader builds these classes: imported when used

        try:
            base = Path.cwd()
        except OSError as exc:  # the working directory was removed
            raise PolicyError(
                f"relative audit paths are taken from the working directory: {exc.strerror}",
                path=source,
            ) from None
        return read_policy(text, source, base=base, digest=hashlib.sha256(data).hexdigest())

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


_QUOTED = re.compile(r'[.\[\]" \t]')
"""What a key in a dotted key is quoted for: a dot, a bracket (``env[1]`` reads as element 1
of ``env``), a quote, a space."""


def _check_parts(policy: Policy) -> None:
    """A `PolicyError` naming a field set in code (``replace``) to what no call is judged by."""
    kinds = {"naming": NamingRule, "tags": TagPolicy, "sharing": SharingPolicy}
    kinds |= {"export": ExportPolicy, "deletion": DeletionPolicy, "audit": AuditPolicy}
    for name, kind in kinds.items():
        if not isinstance(value := getattr(policy, name), kind):
            raise PolicyError(f"must be of {kind.__name__}, not {type(value).__name__}", key=name)
    rules = policy.naming_operations
    if not (isinstance(rules, Mapping) and all(isinstance(r, NamingRule) for r in rules.values())):
        raise PolicyError("must map operation names to NamingRule", key="naming_operations")
    if not (isinstance(policy.services, frozenset) and policy.services <= operations.ALL):
        raise PolicyError("must be a frozenset of rds, docdb and neptune", key="services")
    if type(policy.version) is not int or policy.version != 1:
        raise PolicyError(f"must be 1, not {policy.version!r:.40}", key="version")


def dotted_key(table: str, key: str) -> str:
    """The dotted key ``key`` inside ``table`` (the top level when ``table`` is empty). A key
    that is empty or holds a dot, a bracket, a quote or a space is put in double quotes (its
    own quotes and backslashes escaped), so that ``"a.b"`` is not read as ``a`` holding
    ``b``; any other is written as it is (``aws:team``): a message shows what does not print
    as escapes."""
    if not key or _QUOTED.search(key):
        key = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{table}.{key}" if table else key


def templates_of(policy: Policy) -> Iterator[tuple[str, Template]]:
    """Every template of ``policy`` with the dotted key that holds it: the ``generate`` of
    ``[naming]`` and of each override, then ``[tags.defaults]`` and ``[tags.forced]``."""
    for rule in (policy.naming, *policy.naming_operations.values()):
        if rule.generate is not None:
            yield rule.generate_key, rule.generate
    for table, templates in (
        ("tags.defaults", policy.tags.defaults),
        ("tags.forced", policy.tags.forced),
    ):
        for key, template in templates.items():
            yield dotted_key(table, key), template


def uses_region(policy: Policy) -> bool:
    """Whether a template of ``policy`` holds ``{region}`` (a guarded client always has a
    region; offline, one must be given)."""
    return any(
        isinstance(part, Placeholder) and part.name == "region"
        for _, template in templates_of(policy)
        for part in template.parts
    )


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate a policy file; relative audit paths are taken from its folder."""
    where = text_path(path, "a policy file's path")
    if not where:
        raise PolicyError("cannot read policy file: the path is empty", path="''")
    try:
        data = read_regular_file(where, limit=MAX_POLICY_BYTES)
    except NotRegularFile as exc:
        raise PolicyError(f"is {exc.kind}, not a policy file", path=where) from None
    except OSError as exc:
        # a path of several lines is likely a policy's text given where its path goes
        text = " (a policy's text? rds_guard.Policy.from_toml reads one)" if "\n" in where else ""
        why = f"cannot read policy file: {exc.strerror or exc}{text}"
        raise PolicyError(why, path=where) from None
    except UnicodeEncodeError as exc:  # a character the file system's encoding cannot write
        why = unencodable_path(where) or str(exc)
        raise PolicyError(f"cannot read policy file: {why}", path=where) from None
    except ValueError:  # os.open refuses a path with a NUL byte in it
        raise PolicyError(
            "cannot read policy file: its path holds a NUL byte", path=where
        ) from None
    if len(data) > MAX_POLICY_BYTES:
        raise _too_large(f"more than {MAX_POLICY_BYTES:,}", where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError("not UTF-8 text", path=where, line=line) from None
    # absolute: the audit log stays next to the policy file even if the process changes cwd
    base = Path(where).absolute().parent
    from .schema import read_policy

    return read_policy(text, where, base=base, digest=hashlib.sha256(data).hexdigest())


def key_line(policy: Policy, key: str) -> int | None:
    """The line of ``key`` in the file ``policy`` was read from, while that file holds the
    very bytes read (None: a policy made from text, or a file changed or gone since): for a
    problem found after the load, such as a variable the install needs that is not set."""
    try:
        data = read_regular_file(policy.source, limit=MAX_POLICY_BYTES)
    except (OSError, ValueError, NotRegularFile):
        return None
    if hashlib.sha256(data).hexdigest() != policy.sha256:
        return None
    from .positions import KeyLines

    return KeyLines(data.decode("utf-8")).find(key)


def _too_large(size: str, source: str) -> PolicyError:
    return PolicyError(
        f"is {size} bytes: a policy file may hold at most {MAX_POLICY_BYTES:,} (1 MiB)",
        path=source,
    )


POLICY_ENV = "RDS_GUARD_POLICY"
DEFAULT_POLICY_FILE = "rds_guard.toml"
PolicyLike = str | os.PathLike[str] | Policy | None
AUDIT_PATH_ENV = "RDS_GUARD_AUDIT_PATH"


def text_path(path: object, what: str) -> str:
    """``path`` (a str, or an ``os.PathLike`` that gives one) as a str; else the `TypeError`
    that names ``what`` (a path given as bytes would reach ``pathlib``, which says less)."""
    where = os.fspath(path) if isinstance(path, os.PathLike) else path
    if isinstance(where, str):
        return where
    kind = type(path).__name__
    if isinstance(path, os.PathLike):
        kind += f" whose __fspath__ gives {type(where).__name__}"
    raise TypeError(f"{what} must be a str or an os.PathLike giving one, not {kind}")


def audit_path_of(
    policy: Policy,
    given: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[str | os.PathLike[str], str | None]:
    """Where a guard of ``policy`` writes its audit log, and what says so: ``given`` (the
    ``audit_path`` of install: ``"audit_path"``), else $RDS_GUARD_AUDIT_PATH (its name), else
    the policy's ``[audit] path`` (None)."""
    if given is not None:
        return text_path(given, "audit_path"), "audit_path"
    overridden = environ.get(AUDIT_PATH_ENV)
    if overridden:
        return overridden, AUDIT_PATH_ENV
    return policy.audit.path, None


def find_policy_path(base: str | os.PathLike[str] | None = None) -> str | None:
    """The policy file to use when none is named: $RDS_GUARD_POLICY, else ./rds_guard.toml,
    else None, relative to ``base`` (None: the working directory). The path is returned as
    written, under ``base`` when given (messages and `Policy.source` show it so).

    $RDS_GUARD_POLICY set but naming no regular file is a `PolicyError`, not a fallback. A
    ./rds_guard.toml that is there but no regular file (a directory, a FIFO, a symlink to
    nothing, such as a mount that failed) is returned, for `load_policy` to say what it is:
    the guard never runs without the policy put there.
    """
    named = os.environ.get(POLICY_ENV)
    if named is not None:
        path = os.path.join(base, named) if base is not None and named else named
        if not os.path.isfile(path):  # False on any error (pathlib's raises some)
            raise PolicyError(
                f"{POLICY_ENV} names {named!r}, which is not a readable file ({_what_is_at(path)})"
            )
        return path
    path = DEFAULT_POLICY_FILE if base is None else os.path.join(base, DEFAULT_POLICY_FILE)
    return path if os.path.lexists(path) else None


def _what_is_at(path: str) -> str:
    """What ``path`` names instead of a regular file, in words (`files.file_kind`)."""
    try:
        return file_kind(os.stat(path).st_mode)
    except OSError as error:
        return error.strerror or "it cannot be read"


def resolve_policy(policy: PolicyLike) -> Policy:
    """A `Policy` from a path, a `Policy`, or None: $RDS_GUARD_POLICY, then ./rds_guard.toml."""
    if isinstance(policy, Policy):
        return policy
    if policy is not None and not isinstance(policy, str | os.PathLike):
        raise TypeError(
            f"policy must be a Policy, a policy file's path or None, not {type(policy).__name__}"
        )
    path = policy if policy is not None else find_policy_path()
    if path is not None:
        return load_policy(path)
    raise PolicyError(
        f"no policy given: {POLICY_ENV} is not set and there is no ./{DEFAULT_POLICY_FILE}"
        f" in {working_directory()} (set {POLICY_ENV} or create {DEFAULT_POLICY_FILE}; from"
        " Python, pass policy=PATH)"
    )


def working_directory() -> str:
    """The working directory, for a message: its path, or what became of it."""
    try:
        return str(Path.cwd())
    except OSError:
        return "the working directory, which was removed"

"""Property-based tests (hypothesis) of the policy loader, `evaluate` and the audit chain.

`evaluate` is judged by an oracle written here from AWS's published rules, never with
rds_guard's own rule functions: AWS's tag regex ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$`` through
the ``regex`` package plus the length, prefix and 50-tag limits, and AWS's snapshot
identifier rules as a regex of our own. Settings stay modest so the suite stays quick.
"""

from __future__ import annotations

import copy
import hashlib
import operator
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, assume, event, given, reject, settings
from hypothesis import strategies as st

import rds_guard
from rds_guard import UNREADABLE, Policy, PolicyError, audit, load_policy

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- a TOML writer of our own (the documents must reach the loader as text) -----------------


def toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash, control characters and DEL escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value: object) -> str:
    """The TOML spelling of a Python value (inline arrays and tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{toml_string(key)} = {toml_value(item)}" for key, item in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(type(value))


def toml_document(document: Mapping[str, object]) -> str:
    return "".join(f"{toml_string(key)} = {toml_value(value)}\n" for key, value in document.items())


# --- strategies: TOML documents shaped like a policy, and any TOML value --------------------

TEXT = st.text(max_size=20)
ODD_TEXT = st.one_of(
    st.text(
        alphabet=st.one_of(
            st.characters(),
            st.sampled_from(["\n", "\t", "\x00", "\x7f", "\u2028", "\u200b", "{", "}", "*"]),
        ),
        max_size=24,
    ),
    st.builds(operator.add, st.sampled_from(["aws:", "RDS:", "{", "{{", "}}"]), TEXT),
)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(),
    ODD_TEXT,
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.dates(),
    st.times(),
)
ANY_VALUE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` seven times in eight, ``odd`` the eighth."""
    return st.integers(0, 7).flatmap(lambda n: odd if n == 0 else usual)


def maybe_any(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right shape, sometimes any TOML value at all."""
    return mostly(strategy, ANY_VALUE)


PATTERNS = [
    "^{source}-manual-[0-9]{8}$",
    "^[a-z][a-z0-9-]*$",
    "^.*$",
    "^{source}-.+$",
    "^snap-[0-9]{8}t[0-9]{6}z$",
    "^[a-z]+$",
    "^[A-Z0-9-]{1,5}$",
    "(a+)+$",
    "[",
]
TEMPLATES = [
    "{source}-manual-{utcnow:%Y%m%d}",
    "snap-{utcnow}",
    "{operation}",
    "{service}-{region}",
    "{env:RDS_GUARD_PROPERTY_UNSET}",
    "{unknown}",
    "{{literal}}",
    "rds-guard",
    "x}",
]
TAG_KEYS = mostly(
    st.sampled_from(["team", "env", "owner", "Team", "cost-center"]),
    st.one_of(st.sampled_from(["aws:x", ""]), TEXT),
)


TEMPLATE_TEXT = mostly(
    st.sampled_from(TEMPLATES[:4] + TEMPLATES[6:8]), st.one_of(st.sampled_from(TEMPLATES), ODD_TEXT)
)
NAMING = st.fixed_dictionaries(
    {},
    optional={
        "pattern": maybe_any(
            mostly(st.sampled_from(PATTERNS[:7]), st.one_of(st.sampled_from(PATTERNS), ODD_TEXT))
        ),
        "generate": maybe_any(TEMPLATE_TEXT),
        "operations": maybe_any(
            st.dictionaries(
                st.one_of(st.sampled_from(["CopyDBSnapshot", "DeleteDBCluster"]), TEXT),
                maybe_any(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "pattern": st.sampled_from(PATTERNS),
                            "generate": TEMPLATE_TEXT,
                        },
                    )
                ),
                max_size=2,
            )
        ),
    },
)
TAGS = st.fixed_dictionaries(
    {},
    optional={
        "required": maybe_any(st.lists(TAG_KEYS, max_size=3)),
        "inherit": maybe_any(st.sampled_from([True, False, "always"])),
        "defaults": maybe_any(st.dictionaries(TAG_KEYS, maybe_any(TEMPLATE_TEXT), max_size=3)),
        "forced": maybe_any(st.dictionaries(TAG_KEYS, maybe_any(TEMPLATE_TEXT), max_size=2)),
        "allowed": maybe_any(
            st.dictionaries(
                TAG_KEYS,
                maybe_any(
                    st.lists(
                        mostly(
                            st.sampled_from(["prod", "dev-*", "*"]),
                            st.sampled_from(["**", "", "a\nb"]),
                        ),
                        max_size=3,
                    )
                ),
                max_size=2,
            )
        ),
        "patterns": maybe_any(st.dictionaries(TAG_KEYS, st.sampled_from(PATTERNS), max_size=2)),
    },
)
POLICY_DOCUMENTS = st.builds(
    lambda known, extra: {**extra, **known},
    st.fixed_dictionaries(
        {"version": maybe_any(st.just(1))},
        optional={
            "mode": maybe_any(mostly(st.sampled_from(["enforce", "warn"]), st.just("Enforce"))),
            "services": maybe_any(
                st.lists(mostly(st.sampled_from(["rds", "docdb", "neptune"]), st.just("s3")))
            ),
            "naming": maybe_any(NAMING),
            "tags": maybe_any(TAGS),
            "sharing": maybe_any(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "public": maybe_any(st.booleans()),
                        "accounts": maybe_any(
                            st.lists(
                                mostly(
                                    st.from_regex(r"\A[0-9]{12}\Z"),
                                    st.from_regex(r"\A[0-9]{11,13}\Z"),
                                ),
                                max_size=2,
                            )
                        ),
                    },
                )
            ),
            "audit": maybe_any(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "path": maybe_any(TEXT),
                        "enabled": maybe_any(st.booleans()),
                        "fsync": maybe_any(st.booleans()),
                        "hmac_key_env": maybe_any(TEXT),
                    },
                )
            ),
        },
    ),
    mostly(st.just({}), st.dictionaries(TEXT, ANY_VALUE, max_size=1)),
)


def check_loaded(load: Any, source: str | None = None) -> Policy | None:
    """``load()`` gives a Policy or raises a PolicyError, nothing else; the Policy, if any.

    With ``source`` (the text is TOML): the error names that file, a line (but for a missing
    version, written nowhere) and a key (but for text that no file can hold).
    """
    try:
        policy = load()
    except PolicyError as error:
        assert str(error)
        assert error.line is None or error.line >= 1
        if source is not None:
            assert error.path == source
            if error.line is None:
                assert (error.key, error.problem[:11]) == ("version", "missing key"), error
            if error.key is None:
                assert error.problem.startswith(("not valid Unicode", "not UTF-8")), error
        event("PolicyError")
        return None
    event("Policy")
    assert isinstance(policy, Policy)
    assert policy.mode in ("enforce", "warn")
    assert policy.services <= {"rds", "docdb", "neptune"}
    assert policy.version == 1
    return policy


@SETTINGS
@given(document=POLICY_DOCUMENTS)
def test_any_policy_document_is_a_policy_or_a_policy_error(document: dict[str, Any]) -> None:
    """Any TOML document built from policy-shaped parts and any other TOML value loads to a
    Policy or raises a PolicyError naming the file, the line and the key, from text and from
    a file alike."""
    text = toml_document(document)
    from_text = check_loaded(lambda: Policy.from_toml(text, "generated.toml"), "generated.toml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "p.toml")
        path.write_bytes(text.encode("utf-8", "surrogatepass"))  # a surrogate: no UTF-8
        from_file = check_loaded(lambda: load_policy(path), str(path))
    assert (from_text is None) == (from_file is None)
    if from_file is not None:
        assert from_file.sha256 == hashlib.sha256(text.encode()).hexdigest()


PREFIXES = [b"", b"version = 1\n", b"version = 1\n[tags]\n", b'version = 1\n[naming]\npattern = "']


@SETTINGS
@given(prefix=st.sampled_from(PREFIXES), data=st.binary(max_size=300))
def test_any_bytes_in_a_file_are_a_policy_or_a_policy_error(prefix: bytes, data: bytes) -> None:
    """load_policy on a file holding any bytes at all (after a plausible start or not)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "p.toml")
        path.write_bytes(prefix + data)
        check_loaded(lambda: load_policy(path))


# --- the oracle: AWS's rules, written from AWS's documentation ------------------------------

AWS_TAG_TEXT = regex.compile(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$")
AWS_IDENTIFIER = re.compile(r"[A-Za-z](?:-?[A-Za-z0-9])*")
IDENTIFIER_LIMITS = {  # identifier parameter and its AWS limit
    "CreateDBClusterSnapshot": ("DBClusterSnapshotIdentifier", "DBClusterIdentifier", 63),
    "CopyDBClusterSnapshot": (
        "TargetDBClusterSnapshotIdentifier",
        "SourceDBClusterSnapshotIdentifier",
        63,
    ),
    "CreateDBSnapshot": ("DBSnapshotIdentifier", "DBInstanceIdentifier", 255),
    "CopyDBSnapshot": ("TargetDBSnapshotIdentifier", "SourceDBSnapshotIdentifier", 255),
}


def aws_tag_text_ok(text: str, low: int, high: int) -> bool:
    """AWS: low..high Unicode characters matching its tag regex, no aws:/rds: prefix."""
    return (
        low <= len(text) <= high
        and AWS_TAG_TEXT.fullmatch(text) is not None
        and "\n" not in text  # regex's $ would match before a final newline
        and not text.lower().startswith(("aws:", "rds:"))
    )


def aws_tags_ok(tags: Mapping[str, str]) -> bool:
    return len(tags) <= 50 and all(
        aws_tag_text_ok(key, 1, 128) and aws_tag_text_ok(value, 0, 256)
        for key, value in tags.items()
    )


def aws_identifier_ok(identifier: object, limit: int) -> bool:
    return (
        isinstance(identifier, str)
        and len(identifier) <= limit
        and AWS_IDENTIFIER.fullmatch(identifier) is not None
    )


def source_name(reference: str) -> str:
    """What {source} stands for: lowercased, without an ARN prefix or 'rds:'."""
    name = reference
    if name.startswith("arn:") and name.count(":") >= 6:
        name = name.split(":", 6)[6]
    if name.lower().startswith("rds:"):
        name = name[4:]
    return name.lower()


def glob_matches(glob: str, value: str) -> bool:
    head, star, tail = glob.partition("*")
    if not star:
        return value == glob
    return re.fullmatch(re.escape(head) + ".*" + re.escape(tail), value, re.DOTALL) is not None


@dataclass(frozen=True)
class PolicyParts:
    """What a generated policy says, kept by the test so the oracle never asks rds_guard."""

    mode: str
    pattern: str | None
    generate: str | None
    required: tuple[str, ...]
    inherit: bool | str
    defaults: dict[str, str]
    forced: dict[str, str]
    allowed: dict[str, list[str]]
    patterns: dict[str, str]

    def document(self) -> dict[str, Any]:
        naming = {k: v for k, v in (("pattern", self.pattern), ("generate", self.generate)) if v}
        return {
            "version": 1,
            "mode": self.mode,
            "naming": naming,
            "tags": {
                "required": list(self.required),
                "inherit": self.inherit,
                "defaults": self.defaults,
                "forced": self.forced,
                "allowed": self.allowed,
                "patterns": self.patterns,
            },
            "audit": {"enabled": False},
        }


def render(template: str, values: Mapping[str, str], now: datetime) -> str:
    """The oracle's own rendering of the placeholders the strategies use."""
    text = template
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    text = re.sub(r"\{utcnow:([^}]*)\}", lambda m: now.strftime(m.group(1)), text)
    return text.replace("{utcnow}", now.strftime("%Y%m%dT%H%M%SZ"))


POLICY_KEYS = ["managed-by", "owner", "team", "compliance"]
RULE_KEYS = ["team", "env", "cost"]
VALUES = ["prod", "dev-1", "core", "rds-guard", "x", "", "PROD", "aws:no", "a\nb", "é", "\u2028"]
TAG_VALUE_TEXT = st.one_of(st.sampled_from(VALUES), st.text(max_size=6))
TAG_TEMPLATES = st.one_of(
    st.sampled_from(VALUES[:6]),
    st.sampled_from(
        ["{operation}", "{service}", "{region}", "{source}", "{utcnow:%Y}", "o-{utcnow}"]
    ),
)

POLICY_PARTS = st.builds(
    PolicyParts,
    mode=st.sampled_from(["enforce", "warn"]),
    pattern=st.sampled_from([None, *PATTERNS[:6]]),
    generate=st.sampled_from(
        [None, "{source}-manual-{utcnow:%Y%m%d}", "snap-{utcnow}", "{operation}"]
    ),
    required=st.lists(st.sampled_from(["team", "env", "owner"]), max_size=2, unique=True).map(
        tuple
    ),
    inherit=st.sampled_from([True, False, "always"]),
    defaults=st.dictionaries(st.sampled_from(POLICY_KEYS), TAG_TEMPLATES, max_size=3),
    forced=st.dictionaries(st.sampled_from(POLICY_KEYS[2:]), TAG_TEMPLATES, max_size=1),
    allowed=st.dictionaries(
        st.sampled_from(RULE_KEYS),
        st.lists(st.sampled_from(["prod", "dev-*", "*", "c*e"]), min_size=1, max_size=2),
        max_size=2,
    ),
    patterns=st.dictionaries(
        st.sampled_from(RULE_KEYS),
        st.sampled_from(["^[a-z]+$", "^.*$", "^[a-z-0-9]{1,5}$"]),
        max_size=1,
    ),
)

CALLER_KEYS = st.one_of(
    st.sampled_from(["team", "env", "cost", "owner", "Team", "aws:x", "managed-by"]),
    st.text(max_size=5),
)
TAG_LISTS = st.lists(
    st.builds(lambda k, v: {"Key": k, "Value": v}, CALLER_KEYS, TAG_VALUE_TEXT), max_size=5
)
SOURCE_TAGS = st.one_of(
    st.none(),
    st.just(UNREADABLE),
    st.dictionaries(
        st.one_of(
            st.sampled_from(["team", "env", "aws:cloudformation:stack-name", "AWS:x", "cost"]), TEXT
        ),
        TAG_VALUE_TEXT,
        max_size=4,
    ),
)
IDENTIFIERS = st.one_of(
    st.from_regex(r"\A[a-z][a-z0-9-]{0,70}\Z"),
    st.sampled_from(["orders-manual-20261129", "Orders-Manual-20261129", "a--b", "a-", "1a", ""]),
    TEXT,
)
SOURCES = st.one_of(
    st.sampled_from(
        [
            "orders",
            "Orders",
            "rds:orders-2026-11-29-00-00",
            "arn:aws:rds:us-east-1:1:cluster:orders",
        ]
    ),
    st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z"),
)
NOW = datetime(2026, 11, 29, 12, 34, 56, tzinfo=UTC)


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], Any]:
    """(service, operation, params, source tags) of a create or copy call."""
    operation = draw(st.sampled_from(sorted(IDENTIFIER_LIMITS)))
    service = (
        "rds" if "Cluster" not in operation else draw(st.sampled_from(["rds", "docdb", "neptune"]))
    )
    id_param, source_param, _limit = IDENTIFIER_LIMITS[operation]
    source = draw(SOURCES)
    params: dict[str, Any] = {source_param: source}
    if draw(st.integers(0, 3)):
        following = st.sampled_from([f"{source_name(source)}-manual-20261129", "snap-20261129"])
        params[id_param] = draw(st.one_of(following, IDENTIFIERS))
    if draw(st.booleans()):
        params["Tags"] = draw(TAG_LISTS)
    if operation.startswith("Copy") and draw(st.booleans()):
        params["CopyTags"] = draw(st.booleans())
    return service, operation, params, draw(SOURCE_TAGS)


def expected_final(
    parts: PolicyParts,
    operation: str,
    service: str,
    params: Mapping[str, Any],
    source_tags: Any,
) -> tuple[dict[str, str], bool, dict[str, str]]:
    """The tag set the oracle expects, whether the source must be read for it, and what AWS
    itself would copy from the source if the request carried no Tags."""
    _id_param, source_param, _ = IDENTIFIER_LIMITS[operation]
    caller_list = params.get("Tags") or []
    caller = {tag["Key"]: tag["Value"] for tag in caller_list}
    source = source_name(params[source_param])
    values = {"operation": operation, "service": service, "region": "us-east-1", "source": source}
    defaults = {k: render(v, values, NOW) for k, v in parts.defaults.items()}
    forced = {k: render(v, values, NOW) for k, v in parts.forced.items()}
    # Create: the source's own flag decides (only a read tells); Copy: CopyTags=True
    may_pass_on = operation.startswith("Create") or params.get("CopyTags") is True
    aws_copies = (
        {k: v for k, v in source_tags.items() if not k.lower().startswith("aws:")}
        if may_pass_on and isinstance(source_tags, Mapping)
        else {}
    )
    adds_or_judges = bool(parts.defaults or parts.forced or parts.required)
    adds_or_judges = adds_or_judges or bool(parts.allowed or parts.patterns)
    reads = (
        parts.inherit is not False
        and may_pass_on
        and (parts.inherit == "always" or not caller_list)
        and adds_or_judges
    )
    # a blocked call reads the source too (every violation is listed)
    if reads and source_tags is UNREADABLE:
        return caller, reads, aws_copies  # unknown source tags: the request goes as made
    inherited = aws_copies if reads else {}
    return {**defaults, **inherited, **caller, **forced}, reads, aws_copies


def oracle_fullmatch(pattern: str, text: str) -> bool:
    """The oracle's full match: the ``regex`` package's (on these patterns, none of the
    constructs where RE2 reads otherwise), given up after ten seconds: RE2 never backtracks,
    the oracle may (``(a+)+$`` loads now)."""
    try:
        return regex.fullmatch(pattern, text, timeout=10) is not None
    except TimeoutError:
        reject()


@settings(SETTINGS, max_examples=200)
@given(parts=POLICY_PARTS, call=calls())
def test_evaluate_gives_violations_or_tags_that_keep_every_rule(
    parts: PolicyParts, call: tuple[str, str, dict[str, Any], Any]
) -> None:
    """For any policy and any create/copy call: either violations, or a final identifier and
    tag set that satisfy every AWS rule and every policy rule (judged by the oracle); the
    input is never changed; and forced > caller > inherited > defaults holds."""
    service, operation, params, source_tags = call
    try:
        policy = Policy.from_toml(toml_document(parts.document()))
    except PolicyError:
        assume(False)
        raise
    kept = copy.deepcopy(params)
    decision = rds_guard.evaluate(
        policy,
        operation,
        params,
        service=service,
        source_tags=source_tags,
        region="us-east-1",
        now=NOW,
    )
    assert params == kept, "evaluate() changed the caller's parameters"
    id_param, source_param, limit = IDENTIFIER_LIMITS[operation]
    source = source_name(params[source_param])

    identifier = decision.params.get(id_param)
    naming_ok = parts.pattern is None or (
        isinstance(identifier, str)
        and oracle_fullmatch(
            parts.pattern.replace("{source}", regex.escape(source)), identifier.lower()
        )
    )
    identifier_ok = aws_identifier_ok(identifier, limit) and naming_ok
    if not identifier_ok:
        assert {v.rule for v in decision.violations} & {
            "identifier.aws",
            "identifier.pattern",
            "identifier.missing",
        }

    final, reads, aws_copies = expected_final(parts, operation, service, params, source_tags)
    assert dict(decision.tags) == final, "forced > caller > inherited > defaults is broken"

    event("allowed" if decision.allowed else "violations")
    event("source read" if reads else "source not read")
    if not decision.allowed:
        return
    # Allowed: what the snapshot will carry is the Tags the request carries, or else what AWS
    # copies from the source by itself; the guard writes Tags whenever it adds or changes one.
    sent = decision.params.get("Tags")
    if sent:
        assert {tag["Key"]: tag["Value"] for tag in sent} == final
    elif reads:
        assert aws_copies == final
    else:
        assert final == {}  # nothing added, nothing judged: AWS's own copy, if any, stands
    assert aws_identifier_ok(identifier, limit) and naming_ok
    assert aws_tags_ok(final), final
    # unread source tags (the policy adds nothing, so that is allowed): required is not judged
    assert (reads and source_tags is UNREADABLE) or all(key in final for key in parts.required)
    for key, globs in parts.allowed.items():
        assert key not in final or any(glob_matches(g, final[key]) for g in globs)
    for key, pattern in parts.patterns.items():
        assert key not in final or oracle_fullmatch(pattern, final[key])


ANY_CHARACTER = st.one_of(
    # assigned in Python's Unicode version: `regex` may know a newer one, where a character
    # unassigned here is a letter there
    st.characters(exclude_categories=["Cn"]),
    st.sampled_from(list("_.:/=+-@ \t\n\x00\u2028\u2029\u00a0\u3000\u200b\u0301")),
)
AWS_LIKE_TEXT = st.text(
    st.characters(categories=["L", "N", "Z"], include_characters="_.:/=+-@"), max_size=8
)
TAG_TEXT = mostly(
    AWS_LIKE_TEXT,
    st.one_of(
        st.text(ANY_CHARACTER, max_size=8),
        st.builds(
            operator.add,
            st.sampled_from(["aws:", "AWS:", "rds:", "Rds:x", "awsx"]),
            st.text(ANY_CHARACTER, max_size=8),
        ),
        st.text(st.sampled_from("ab-"), min_size=120, max_size=260),
    ),
)
PLAIN = Policy.from_toml("version = 1\n[audit]\nenabled = false\n")


@settings(SETTINGS, max_examples=200)
@given(
    tags=st.lists(st.builds(lambda k, v: {"Key": k, "Value": v}, TAG_TEXT, TAG_TEXT), max_size=4),
    filler=mostly(st.just(0), st.integers(44, 52)),
)
def test_tags_aws_is_exactly_aws_s_rule(tags: list[dict[str, str]], filler: int) -> None:
    """With a policy that adds and judges nothing, any caller tags: tags.aws is raised
    exactly when the oracle (AWS's regex, lengths, prefixes, 50 tags) says AWS refuses them."""
    tags = tags + [{"Key": f"filler-{i}", "Value": "v"} for i in range(filler)]
    decision = rds_guard.evaluate(
        PLAIN,
        "CreateDBClusterSnapshot",
        {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "orders-1", "Tags": tags},
        now=NOW,
    )
    caller = {tag["Key"]: tag["Value"] for tag in tags}
    duplicates = len(caller) != len(tags)
    rules = {v.rule for v in decision.violations}
    assert ("tags.aws" in rules) == (not aws_tags_ok(caller)), caller
    assert ("tags.duplicate" in rules) == duplicates
    assert rules <= {"tags.aws", "tags.duplicate"}
    event("refused" if rules else "allowed")


@settings(SETTINGS, max_examples=200)
@given(
    operation=st.sampled_from(sorted(IDENTIFIER_LIMITS)),
    identifier=st.one_of(
        st.text(ANY_CHARACTER, max_size=10),
        st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,300}\Z"),
        st.text(st.sampled_from("aZ9-"), max_size=70),
    ),
)
def test_identifier_aws_is_exactly_aws_s_rule(operation: str, identifier: str) -> None:
    """Any identifier: identifier.aws is raised exactly when the oracle's own regex and
    limit (63 for clusters, 255 for instances) say AWS refuses it."""
    id_param, source_param, limit = IDENTIFIER_LIMITS[operation]
    decision = rds_guard.evaluate(
        PLAIN, operation, {source_param: "orders", id_param: identifier}, now=NOW
    )
    rules = {v.rule for v in decision.violations}
    assert ("identifier.aws" in rules) == (not aws_identifier_ok(identifier, limit)), identifier
    assert rules <= {"identifier.aws"}
    event("refused" if rules else "allowed")


# --- the audit chain ------------------------------------------------------------------------

FIELD_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(), st.sampled_from(["\ud800", "\n", "\u2028", "\x00", '"', "\\"])
    ),
    max_size=12,
)
RECORDS = st.lists(
    st.tuples(
        st.sampled_from(sorted(audit.EVENTS - {"repaired", "rotated"})),
        st.fixed_dictionaries(
            {},
            optional={
                "snapshot": FIELD_TEXT,
                "source": FIELD_TEXT,
                "tags": st.dictionaries(FIELD_TEXT, st.one_of(st.none(), FIELD_TEXT), max_size=3),
                "notes": st.lists(FIELD_TEXT, max_size=2),
                "error": st.fixed_dictionaries({"code": FIELD_TEXT, "message": FIELD_TEXT}),
            },
        ),
    ),
    min_size=2,
    max_size=12,
)
KEYS = st.one_of(st.none(), st.binary(min_size=1, max_size=16))


def write_log(folder: str, records: list[tuple[str, dict[str, Any]]], key: bytes | None) -> Path:
    path = Path(folder, "audit.jsonl")
    with audit.AuditLog(path, fsync=False, hmac_key=key) as log:
        for event, fields in records:
            log.write(event, call=audit.new_call_id(), **fields)
    return path


@SETTINGS
@given(records=RECORDS, key=KEYS)
def test_any_sequence_of_appends_verifies(
    records: list[tuple[str, dict[str, Any]]], key: bytes | None
) -> None:
    """Whatever the records hold (newlines, NULs, lone surrogates, U+2028...), each is one
    line and the chain verifies, with the head of the last line."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_log(folder, records, key)
        lines = path.read_bytes().split(b"\n")
        assert lines.pop() == b""
        assert len(lines) == len(records)
        result = audit.verify([path], hmac_key=key)
        assert result.ok, result.summary()
        assert result.records == len(records)
        assert result.head == audit.chain_hash(lines[-1], key)
        assert audit.verify([path], hmac_key=key, head=result.head).ok


@SETTINGS
@given(records=RECORDS, key=KEYS, data=st.data())
def test_any_tampering_before_the_last_record_is_detected(
    records: list[tuple[str, dict[str, Any]]], key: bytes | None, data: st.DataObject
) -> None:
    """A changed byte, a deleted record or two records swapped, anywhere before the last
    record: verify finds it without being told the head."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_log(folder, records, key)
        lines = path.read_bytes().split(b"\n")[:-1]
        index = data.draw(st.integers(0, len(lines) - 2), label="index")
        kind = data.draw(st.sampled_from(["change", "delete", "swap"]), label="kind")
        if kind == "change":
            line = bytearray(lines[index])
            at = data.draw(st.integers(0, len(line) - 1), label="at")
            new = data.draw(st.integers(0, 255).filter(lambda b: b != line[at]), label="byte")
            line[at] = new
            lines[index] = bytes(line)
        elif kind == "delete":
            del lines[index]
        else:
            lines[index], lines[index + 1] = lines[index + 1], lines[index]
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        result = audit.verify([path], hmac_key=key)
        assert not result.ok, (kind, index)
        assert result.reason in audit.REASONS


@SETTINGS
@given(records=RECORDS, key=KEYS, data=st.data())
def test_tampering_with_the_last_record_is_detected_with_the_head(
    records: list[tuple[str, dict[str, Any]]], key: bytes | None, data: st.DataObject
) -> None:
    """A changed byte in the last record, or the last record deleted: verify given the head
    it had finds it (without the head, a deleted last record is a documented blind spot)."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_log(folder, records, key)
        head = audit.verify([path], hmac_key=key).head
        lines = path.read_bytes().split(b"\n")[:-1]
        if data.draw(st.booleans(), label="delete"):
            lines.pop()
            path.write_bytes(b"".join(line + b"\n" for line in lines))
            assert audit.verify([path], hmac_key=key).ok  # the documented limit
        else:
            line = bytearray(lines[-1])
            at = data.draw(st.integers(0, len(line) - 1), label="at")
            line[at] = data.draw(st.integers(0, 255).filter(lambda b: b != line[at]), label="b")
            lines[-1] = bytes(line)
            path.write_bytes(b"".join(line + b"\n" for line in lines))
        result = audit.verify([path], hmac_key=key, head=head)
        assert not result.ok
        assert result.reason in audit.REASONS


def test_the_oracle_agrees_with_aws_examples() -> None:
    """The oracle itself, on values AWS documents as allowed and refused (so that a broken
    oracle cannot make the properties pass)."""
    assert aws_tags_ok({"team": "core", "Ünïcödé": "値 1 +=.:/@_-", "sep": "a\u2028b"})
    for key, value in [("aws:x", "v"), ("RDS:x", "v"), ("k", "aws:v"), ("k\n", "v"), ("k", "v\t")]:
        assert not aws_tags_ok({key: value})
    assert not aws_tags_ok({"": "v"}) and not aws_tags_ok({"k" * 129: "v"})
    assert not aws_tags_ok({"k": "v" * 257}) and aws_tags_ok({"k": ""})
    assert not aws_tags_ok({f"k{i}": "v" for i in range(51)})
    assert aws_identifier_ok("orders-manual-20261129", 63)
    for bad in ["", "1a", "a-", "a--b", "a_b", "é", "a" * 64]:
        assert not aws_identifier_ok(bad, 63)
    assert source_name("arn:aws:rds:us-east-1:1:cluster-snapshot:rds:Orders-1") == "orders-1"


@pytest.mark.parametrize("name", ["RDS_GUARD_PROPERTY_UNSET"])
def test_the_unset_variable_the_strategies_use_is_unset(name: str) -> None:
    """The strategies' {env:...} template relies on this variable being unset."""
    assert name not in os.environ

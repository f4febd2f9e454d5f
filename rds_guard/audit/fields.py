"""Normalising a record's fields: only plain JSON values of known shape reach the file, no
text longer than `TEXT_MAX`, and no line longer than `LINE_MAX` (`fit`); see docs/audit.md,
"Records"."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping

from rds_guard.errors import Violation

TEXT_MAX = 4096
"""The longest text a record holds whole. No AWS name, ARN, tag or error message is longer; a
longer one (a call AWS refuses, a megabyte identifier in ``warn`` mode) is cut there and ends
with its length and SHA-256 (`capped`), so that no record grows with what a caller passes."""


def capped(text: str) -> str:
    """``text``, or when longer than `TEXT_MAX` its start followed by ``... (N characters,
    sha256 HEX)`` (the digest of its UTF-8 bytes, lone surrogates kept)."""
    return text if len(text) <= TEXT_MAX else text[:TEXT_MAX] + _whole(text)


def _whole(text: str) -> str:
    """What a cut text ends with: the length and SHA-256 of the whole."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"... ({len(text)} characters, sha256 {digest})"


def as_text(value: object) -> str | None:
    """``value`` as a text field holds it: None, or its text, `capped`."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= TEXT_MAX else capped(text)


def _strings(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [capped(value)]
    if not isinstance(value, Iterable):
        raise TypeError(f"expected a list of strings, got {type(value).__name__}")
    return [capped(str(item)) for item in value]


def _tags(value: object) -> dict[str, str | None]:
    """Tags as a ``{key: value}`` object; a botocore ``[{"Key", "Value"}]`` list is accepted."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {capped(str(key)): as_text(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        tags: dict[str, str | None] = {}
        for tag in value:
            if not isinstance(tag, Mapping) or "Key" not in tag:
                raise TypeError("tags: expected a mapping or a list of {'Key', 'Value'} dicts")
            tags[capped(str(tag["Key"]))] = as_text(tag.get("Value"))
        return tags
    raise TypeError(f"tags: expected a mapping, got {type(value).__name__}")


def _violation(value: object) -> dict[str, str | None]:
    if isinstance(value, Violation):
        value = value.as_dict()
    if isinstance(value, Mapping):
        return {key: as_text(value.get(key)) for key in ("rule", "field", "value", "message")}
    raise TypeError(f"violations: expected Violation or dict, got {type(value).__name__}")


def _violations(value: object) -> list[dict[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, Iterable) or isinstance(value, str | Mapping):
        raise TypeError("violations: expected a list of Violation or dict")
    return [_violation(item) for item in value]


def _error(value: object) -> dict[str, str | None] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        code, given = as_text(value.get("code")), value.get("message")
        message = None if given is None else str(given)
    elif isinstance(value, BaseException):
        code, message = type(value).__name__, str(value)
    else:
        raise TypeError(f"error: expected a {{'code', 'message'}} dict, got {type(value).__name__}")
    # redacted whole, then cut: a cut never hides part of a secret from the redaction; the
    # code too, which a server or a proxy in front of it writes as it likes (the redaction is
    # imported with the first error recorded: a call that succeeds has none)
    from .redact import without_signing_values

    return {
        "code": code and capped(without_signing_values(code)),
        "message": message and capped(without_signing_values(message)),
    }


def _snapshot(value: object) -> str | None:
    text = as_text(value)
    return None if text is None else text.lower()


def _count(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return value


NORMALIZERS: dict[str, Callable[[object], object]] = {
    "tags": _tags,
    "injected": _strings,
    "inherited": _strings,
    "violations": _violations,
    "notes": _strings,
    "error": _error,
    "snapshot": _snapshot,
    "dropped_bytes": _count,
}


LINE_MAX = 1 << 18
"""The longest line a record takes: 256 KiB, within a DynamoDB item's 400 KB with the fleet
ledger's attributes. Texts are cut at `TEXT_MAX`, but a call can pass thousands of tags (AWS
refuses more than 50), and a character outside ASCII takes up to 12 bytes escaped: a longer
record is cut (`CUTS`, `fit`) and says so in its notes."""
CUTS = ((50, 256, False), (10, 64, False), (10, 64, True))
"""How `fit` cuts, in turn until the line fits: the entries of each tag table and list kept,
the characters of each text, and whether the fields that name the call (`NAMING`) are cut too
(only a call AWS refuses gets that far: its names are ASCII and within 2,048 characters)."""
NAMING = frozenset(
    {"service", "operation", "region", "snapshot", "source", "arn", "request_id", "rotated_from"}
)
_FIXED = frozenset({"prev", "seq", "time", "event", "call", "policy", "pid", "host", "chain"})
_COUNTED = ("tags", "injected", "inherited", "violations", "notes")


def fit(
    record: dict[str, object],
    size: int,
    limit: int,
    encode: Callable[[dict[str, object]], bytes],
) -> bytes:
    """Cut ``record``, ``size`` bytes encoded, over ``limit``, by each of `CUTS` in turn (from
    the whole record each time) until ``encode`` makes it no longer; a note says what it held.
    Returns the last encoding."""
    whole = dict(record)
    held = ", ".join(
        f"{len(value)} {name}"
        for name in _COUNTED
        if isinstance(value := whole.get(name), dict | list)
    )
    encoded = b""
    for kept, longest, naming in CUTS:
        for name, value in whole.items():
            if name not in _FIXED and (naming or name not in NAMING):
                record[name] = _cut(_first(value, kept), longest)
        notes = record.get("notes")
        if isinstance(notes, list):
            notes.append(
                f"cut to fit {LINE_MAX} bytes (it took about {size}): it held {held}; the"
                f" first {kept} of each are kept, each text cut at {longest} characters"
                " (with the length and SHA-256 of the whole)"
                + ("" if naming else " (the call's names whole)")
            )
        encoded = encode(record)
        if len(encoded) <= limit:
            break
    return encoded


def _first(value: object, kept: int) -> object:
    if isinstance(value, dict):
        return dict(list(value.items())[:kept])
    return value[:kept] if isinstance(value, list) else value


def _cut(value: object, longest: int) -> object:
    if isinstance(value, str):
        return _cut_text(value, longest)
    if isinstance(value, dict):  # a key cut keeps a mark of the whole: no two keys merge
        return {_cut_key(key, longest): _cut(item, longest) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item, longest) for item in value]
    return value


def _cut_text(text: str, longest: int) -> str:
    """``text`` cut at ``longest`` characters and ending, as a `capped` one does, with the
    length and SHA-256 of the whole: a text longer than `TEXT_MAX` was capped already, and
    keeps its own ending (the whole the caller passed). Kept whole when cutting would not
    make it shorter."""
    if len(text) <= longest:
        return text
    cut = text[:longest] + (text[TEXT_MAX:] if len(text) > TEXT_MAX else _whole(text))
    return cut if len(cut) < len(text) else text


def _cut_key(key: object, longest: int) -> object:
    if not isinstance(key, str) or len(key) <= longest:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{key[:longest]}~{digest}"


def normalize(name: str, value: object) -> object:
    """``value`` as the record's field ``name`` holds it."""
    return NORMALIZERS.get(name, as_text)(value)

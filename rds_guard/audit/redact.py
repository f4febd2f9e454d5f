"""What a record never stores: the signing values an error message may quote."""

from __future__ import annotations

import re

# AWS quotes the canonical request in some error messages (SignatureDoesNotMatch), the signed
# headers' values included: a session token or a signature would reach the log with them. A
# message may quote them in a header (name: value), a query (name=value), a query quoted
# URL-encoded once or twice (name%3Dvalue, name%253Dvalue) or as HTML (name&#61;value), JSON
# ("name": "value", escaped quotes too), a Python dict ('name': 'value'), XML (<name>value)
# or SigV2's header (AWS KEYID:signature); the bare names only with = (Credential=... in an
# Authorization header), so that prose keeps its words. Compiled by `re` when first used
# (few records quote an error): not on every import.
_SIGNING_VALUES = (
    r"(?i)("
    r"x-amz-(?:security-token|signature|credential)"
    r"(?:[\"'\\]*\s*(?:[:=]|%3d|%253d|&#61;)[\s\"'\\]*|>)"
    r"|(?<![\w-])(?:signature|credential)(?:=|%3d|%253d|&#61;)[\"']?"
    r"|(?<![\w-])AWS\s+[A-Z0-9]{16,128}:"
    r")"
    r"[^\s&,'\"<\\]+"
)


def without_signing_values(message: str) -> str:
    """``message`` with each session token, signature or credential scope it quotes replaced
    by ``[redacted]`` (the name it was quoted under is kept)."""
    return re.sub(_SIGNING_VALUES, r"\1[redacted]", message)

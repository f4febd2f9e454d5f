"""What a record never stores: the signing values an error message may quote."""

from __future__ import annotations

import re

# AWS quotes the canonical request in some error messages (SignatureDoesNotMatch), the signed
# headers' values included: a session token or a signature would reach the log with them.
_SIGNING_VALUES = re.compile(
    r"(?i)(x-amz-(?:security-token|signature|credential)\s*[:=]\s*|(?:signature|credential)=)"
    r"[^\s&,'\"]+"
)


def without_signing_values(message: str) -> str:
    """``message`` with each session token, signature or credential scope it quotes replaced
    by ``[redacted]`` (the name it was quoted under is kept)."""
    return _SIGNING_VALUES.sub(r"\1[redacted]", message)

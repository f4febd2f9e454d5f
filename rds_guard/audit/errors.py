"""The audit package's own errors, both `AuditError`s: `KeyRequired` (a keyed log met without
its key) and `NotAnAuditLog` (a file that is no audit log at all). The command exits 2 on
either: neither is a finding about the chain."""

from __future__ import annotations

from pathlib import Path

from rds_guard.errors import AuditError

KEY_HINT = (
    "give the key: --key-env VAR on the command, or the policy whose [audit] hmac_key_env "
    "names the variable holding it"
)
"""How to give the key, as `KeyRequired` says it."""


class KeyRequired(AuditError):
    """The log is HMAC-keyed (its records say ``hmac-sha256``) and no key was given.

    Not a sign of tampering: the records cannot be checked, nor a record chained onto them,
    without the key. ``line`` is the first line found saying ``hmac-sha256``.
    """

    def __init__(self, path: Path | str | None, line: int, action: str) -> None:
        self.line = line
        self.action = action
        where = f"{path}:{line}: " if path is not None else f"line {line}: "
        super().__init__(
            f"{where}the log is HMAC-keyed (line {line} says hmac-sha256) and no key was "
            f"given: {action} needs it; {KEY_HINT}",
            path=None if path is None else str(path),
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (KeyRequired, (self.path, self.line, self.action))


class NotAnAuditLog(AuditError):
    """The file is not an audit log at all: its first line is no audit record (a policy file,
    a binary, a blank line first, ...). ``line`` is that line's number (1)."""

    def __init__(self, path: Path | str | None, what: str, line: int = 1) -> None:
        self.line = line
        self.what = what
        name = "the lines given" if path is None else str(path)
        super().__init__(
            f"{name} is not an audit log: line {line} is not an audit record ({what})",
            path=None if path is None else str(path),
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (NotAnAuditLog, (self.path, self.what, self.line))

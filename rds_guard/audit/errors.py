"""The audit package's own errors, all `AuditError`s: `KeyRequired` (a keyed log met without
its key) and `NotAnAuditLog` (a file that is no audit log at all), on either of which the
command exits 2, neither being a finding about the chain; `ChangedWhileLocked`, which a
writer meets when a process that takes no lock renames, removes or cuts the log under it;
`NotAuthentic`, a last record a writer cannot vouch for."""

from __future__ import annotations

from pathlib import Path

from rds_guard.errors import AuditError

KEY_HINT = (
    "give the key: in the policy, [audit] hmac_key_env naming the environment variable that "
    "holds it (install, check, the plugins); on an rds-guard audit command, --key-env VAR or "
    "--policy P; in Python (rds_guard.audit), hmac_key="
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


class ChangedWhileLocked(AuditError):
    """The locked file is no longer the one the path names (renamed or removed since it was
    locked), or its size changed while it was read (cut, or written to, by a process that
    takes no lock): what was read of it is not what it holds. A writer takes the lock again
    on what the path names then (`locked.locked_append`)."""


_SIZE_CHANGED = "changed while locked (cut, or written to, by a process that takes no lock)"


def changed_while_locked(path: Path, how: str = _SIZE_CHANGED) -> ChangedWhileLocked:
    """The `ChangedWhileLocked` of ``path``: by default, of a file whose size changed under
    the lock; ``how`` says otherwise."""
    return ChangedWhileLocked(f"{path}: {how}", path=str(path))


class NotAuthentic(AuditError):
    """The last record is not authentic: its own digest does not match its bytes, or it does
    not link to (or follow the seq of) the record before it. ``line`` is its number, ``why``
    what failed; `repair` moves it aside only with ``force``."""

    def __init__(
        self,
        detail: str,
        *,
        path: str | None = None,
        line: int = 0,
        why: str = "",
        unlinked: bool = False,
    ) -> None:
        super().__init__(detail, path=path)
        self.line = line
        self.why = why
        self.unlinked = unlinked
        """True when its own digest holds and its link to the records before it does not: a
        line before it was edited, removed or added, not this one."""

    @property
    def summary(self) -> str:
        """What is wrong with line ``line``, in short (``line 5 is not authentic``)."""
        return f"line {self.line} {_FAULTS[self.unlinked][0]}"

    @property
    def finding(self) -> str:
        """What is wrong with line ``line``, explained, and why (`not_authentic_finding`)."""
        return not_authentic_finding(self.line, self.why, unlinked=self.unlinked)

    def __reduce__(self) -> tuple[object, ...]:
        state = (self.detail, self.path, self.line, self.why, self.unlinked)
        return (_rebuild_not_authentic, state)


_FAULTS = {
    False: ("is not authentic", "edited, or written with another key"),
    True: (
        "does not chain onto the records before it",
        "a line before it edited, removed or added",
    ),
}
"""A last record a writer cannot vouch for, in short and explained: its own digest fails
(False), or it holds and its link does not (True: `NotAuthentic.unlinked`)."""


def not_authentic_finding(line: int, why: str, *, unlinked: bool = False) -> str:
    """What is wrong with line ``line``, a last record a writer cannot vouch for, explained,
    and ``why`` (``line 5 is not authentic: edited, or written with another key (...)``)."""
    short, explained = _FAULTS[unlinked]
    return f"line {line} {short}: {explained} ({why})"


def _rebuild_not_authentic(
    detail: str, path: str | None, line: int, why: str, unlinked: bool = False
) -> NotAuthentic:
    return NotAuthentic(detail, path=path, line=line, why=why, unlinked=unlinked)

"""The botocore-derived exceptions: `PolicyViolation` and `AuditError`.

`PolicyError` and `Violation` live in the pure core (beside the loader and the rules) and are
re-exported here for compatibility.
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ParamValidationError

from .core.policy import PolicyError
from .core.rules import Violation, escaped

__all__ = ["AuditError", "PolicyError", "PolicyViolation", "Violation"]


class PolicyViolation(ParamValidationError):
    """Raised before a non-compliant call is sent; ``.violations`` lists every problem found."""

    fmt = "rds_guard blocked {operation}:\n{report}"

    def __init__(self, operation: str, violations: Iterable[Violation]) -> None:
        self.operation = operation
        self.violations: tuple[Violation, ...] = tuple(violations)
        report = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(operation=operation, report=report)

    def __reduce__(self) -> tuple[object, ...]:
        return (PolicyViolation, (self.operation, self.violations))


class AuditError(BotoCoreError):
    """The audit log could not be written or is damaged, so the call was not sent."""

    fmt = "rds_guard audit log: {detail}"

    def __init__(self, detail: str, *, path: str | None = None) -> None:
        self.detail = detail
        self.path = path
        # str() escaped: a path may hold a newline or an escape sequence, which would split
        # the one line a program prints or logs (``.detail`` keeps it as it is)
        super().__init__(detail=escaped(detail))

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_audit_error, (self.detail, self.path))


def _rebuild_audit_error(detail: str, path: str | None) -> AuditError:
    return AuditError(detail, path=path)

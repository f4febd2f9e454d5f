"""What the pure core reports, without botocore: the `Violation` record and `PolicyError`.

`rds_guard.errors` re-exports both beside the botocore-based exceptions, so the policy,
rules and decision modules stay free of botocore.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One broken rule: the rule id, the parameter or tag it concerns, the offending value."""

    rule: str
    field: str
    value: str | None
    message: str

    def as_dict(self) -> dict[str, str | None]:
        """The violation as a plain JSON-ready dict (``rule, field, value, message``)."""
        return {
            "rule": self.rule,
            "field": self.field,
            "value": self.value,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"[{self.rule}] {self.field}: {self.message}"


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

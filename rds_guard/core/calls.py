"""One judged call as plain data: what the judges get (`Request`) and what they return
(`Decision`), and what the look-ups of the source can answer (`SourceTags`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from .operations import Operation
from .policy import Policy
from .rules import Violation


@dataclass(frozen=True)
class Unreadable:
    """A source that would pass its tags on, but whose tags could not be read.

    ``why`` is what stopped the read (an error code and message), when it is known.
    """

    why: str | None = None


UNREADABLE: Final = Unreadable()
"""Stands for a source that would pass its tags on, but whose tags could not be read."""

SourceTags = Mapping[str, str] | None | Unreadable
"""The tags a source passes on: a mapping, None (it passes none on), or `Unreadable`."""

SourceReader = Callable[[], SourceTags]
"""Reads the source's tags when the decision needs them; called at most once per call."""


@dataclass(frozen=True)
class CallFacts:
    """What the decision needs to know besides the policy and the parameters."""

    service: str
    region: str | None
    now: datetime
    environ: Mapping[str, str]


@dataclass(frozen=True)
class Decision:
    """What the guard does to one call.

    ``params`` are the final parameters (a new dict), ``violations`` every broken rule,
    ``injected`` the tag keys the policy added or changed, ``inherited`` the tag keys kept from
    the source. The rest feeds the audit record: ``snapshot``, ``source``, ``arn``, ``tags`` (the
    snapshot's final tags; removed keys map to None), ``notes``, ``outcome`` (the event of a
    successful call) and ``recorded`` (False for calls the guard neither judges nor records).
    """

    params: dict[str, Any]
    violations: tuple[Violation, ...] = ()
    injected: tuple[str, ...] = ()
    inherited: tuple[str, ...] = ()
    operation: str = ""
    service: str = ""
    snapshot: str | None = None
    source: str | None = None
    arn: str | None = None
    tags: Mapping[str, str | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    outcome: str | None = None
    recorded: bool = True

    @property
    def allowed(self) -> bool:
        """True when the call breaks no rule."""
        return not self.violations


@dataclass(frozen=True)
class Request:
    """One call being judged: its policy, its operation's row, its parameters (a copy the
    judge may change), the facts of the call, and the reader of its source's tags."""

    policy: Policy
    row: Operation
    params: dict[str, Any]
    facts: CallFacts
    read_source: SourceReader

    def decision(self, **fields: Any) -> Decision:
        """A `Decision` on this call's (possibly changed) parameters, with ``fields`` set."""
        fields.setdefault("outcome", self.row.outcome)
        return Decision(self.params, operation=self.row.name, service=self.facts.service, **fields)

    def untouched(self) -> Decision:
        """A call the guard neither judges nor records: its parameters go on as they are."""
        return Decision(
            self.params, operation=self.row.name, service=self.facts.service, recorded=False
        )

    def reference(self) -> str | None:
        """What the request names as its source, when it names one as a string."""
        value = self.params.get(self.row.source) if self.row.source else None
        return value if isinstance(value, str) else None

"""rds_guard: naming, tagging and audit guardrails for RDS, DocumentDB and Neptune snapshots.

Call `install` once on a boto3 session (or one client); every snapshot the application then
creates, copies, re-tags, shares or deletes is checked against a TOML policy, completed with
the policy's tags, and written to a hash-chained audit log. See the README for the tour.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import forks as _forks  # noqa: F401 (the process a later fork is told from: the first)

if TYPE_CHECKING:
    from .core.decide import UNREADABLE, Decision, evaluate
    from .core.policy import Policy, load_policy
    from .errors import AuditError, PolicyError, PolicyViolation, Violation
    from .guard import Guard, install

__all__ = [
    "UNREADABLE",
    "AuditError",
    "Decision",
    "Guard",
    "Policy",
    "PolicyError",
    "PolicyViolation",
    "Violation",
    "evaluate",
    "install",
    "load_policy",
]
__version__ = "0.2.0.dev0"

# The public names are imported when first asked for, so that a submodule such as the AWS
# CLI plugin can be imported without the whole guard (every `aws` command imports it).
_HOMES = {
    "UNREADABLE": ".core.decide",
    "Decision": ".core.decide",
    "evaluate": ".core.decide",
    "Policy": ".core.policy",
    "load_policy": ".core.policy",
    "AuditError": ".errors",
    "PolicyError": ".errors",
    "PolicyViolation": ".errors",
    "Violation": ".errors",
    "Guard": ".guard",
    "install": ".guard",
}


def _lazy_names(
    namespace: Mapping[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``, given its ``globals()``: the first imports
    each name of ``homes`` (name -> relative module) when it is asked for, the second lists
    them with the package's own."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # Not stored in the package's namespace: each look-up goes through sys.modules, so
        # the name is always the class the guard raises, even where a runner such as pytest's
        # in-process pytester drops the submodules and imports them afresh.
        return getattr(importlib.import_module(home, package), name)

    def __dir__() -> list[str]:
        return sorted([*namespace, *homes])

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_names(globals(), _HOMES)

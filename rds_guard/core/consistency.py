"""Load-time checks across keys: parts of a policy that each read well and together say
something its author cannot have meant (more tags than AWS allows, a required key listed
twice, a ledger of a log that is never written), and the advice for an operation name that
no naming rule applies to.

Each check returns the dotted key to blame and the problem, for the schema's reader to raise
as a `PolicyError` at that key's line.
"""

from __future__ import annotations

from collections.abc import Iterator

from . import operations, rules
from .policy import Policy
from .positions import shown

Problem = tuple[str, str]
"""The dotted key at fault and what is wrong with it."""


def contradiction(policy: Policy) -> Problem | None:
    """The first contradiction in ``policy``, or None."""
    return next(_contradictions(policy), None)


def _contradictions(policy: Policy) -> Iterator[Problem]:
    tags = policy.tags
    # No snapshot can carry more tags than AWS allows: a policy that needs more (its required
    # and forced keys) blocks every call.
    needed = len(set(tags.required) | set(tags.forced))
    if needed > rules.TAGS_PER_RESOURCE_MAX:
        yield (
            "tags.required" if len(set(tags.required)) > len(tags.forced) else "tags.forced",
            f"tags.required and tags.forced name {needed} keys: AWS allows at most"
            f" {rules.TAGS_PER_RESOURCE_MAX} tags per snapshot, so no call could comply",
        )
    first_at: dict[str, int] = {}
    for index, key in enumerate(tags.required):
        if key in first_at:
            yield (
                f"tags.required[{index}]",
                f"lists {shown(key)} again (first at tags.required[{first_at[key]}])",
            )
        first_at.setdefault(key, index)
    if not policy.audit.enabled and policy.audit.ledger is not None:
        yield (
            "audit.ledger",
            "the ledger mirrors the audit log, and audit.enabled = false writes none: nothing"
            " would ever be shipped (remove one of the two)",
        )


def naming_operation_advice(name: str) -> str:
    """What to say of ``name`` under ``[naming.operations]``, an operation no naming rule
    applies to: "did you mean" only for a near-certain misspelling (a restore or a create of
    an instance is no misspelt snapshot create, however alike the names), else the list."""
    import difflib  # only a bad policy needs it

    known = sorted(operations.NAMING_OPERATIONS)
    listed = ", ".join(known)
    if name in operations.OPERATIONS:
        return f": {name} names no snapshot it makes; naming rules are for {listed}"
    close = difflib.get_close_matches(name, known, n=1, cutoff=_MISSPELT)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f": naming rules are for the operations that name a snapshot ({listed})"


_MISSPELT = 0.85
"""How alike (difflib's ratio) an unknown operation name must be to a known one to be called
a misspelling of it: a letter or two in names this long, while ``RestoreDBClusterFromSnapshot``
is 0.78 like ``CreateDBClusterSnapshot`` and ``CreateDBInstance`` 0.69 like ``CreateDBSnapshot``."""

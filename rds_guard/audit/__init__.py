"""The audit log: one hash-chained JSON record per line, each sealed with its own digest,
shared by threads and processes.

``record`` (fields, layout, sealing, hashing), ``fields`` (normalising them), ``fileio``
(opening and reading files), ``lock`` (the flock, never waited on for ever), ``tail``
(authenticating the record a writer chains onto), ``writer`` (`AuditLog`), ``rotation``
(`rotate`), ``maintenance`` (`repair`), ``read`` (`iter_lines`, `read_records`), ``verify``
(`verify`, `verify_lines`, `head`) over ``walk`` and ``fastpath``, and ``errors``. The format
and its guarantees are described in docs/audit.md.
"""

import sys
import types
from typing import TYPE_CHECKING, Any

from .. import _lazy_names
from .errors import KeyRequired, NotAnAuditLog, NotAuthentic
from .fields import LINE_MAX, TEXT_MAX
from .record import (
    CHAIN_HMAC,
    CHAIN_SHA256,
    CHAINS,
    EVENTS,
    EXTRA_FIELDS,
    RECORD_FIELDS,
    ZERO_HASH,
    MissingKey,
    chain_hash,
    chain_of,
    is_authentic,
    is_digest,
    key_from_env,
    new_call_id,
    own_digest,
    parse_record,
    stream_id,
)
from .writer import DEFAULT_LOCK_TIMEOUT, AuditLog

if TYPE_CHECKING:
    from .findings import Finding
    from .maintenance import RepairResult, repair
    from .read import LogLine, iter_lines, read_records
    from .rotation import rotate
    from .verify import (
        MAX_FINDINGS,
        REASONS,
        Checkpoint,
        VerifyResult,
        head,
        parse_checkpoint,
        verify,
        verify_lines,
    )

# What a guarded call never needs is imported when first asked for: a Lambda's cold start
# and every `aws` command with the plugin pay only for the writer.
_LAZY = {
    "RepairResult": ".maintenance",
    "repair": ".maintenance",
    "rotate": ".rotation",
    "LogLine": ".read",
    "iter_lines": ".read",
    "read_records": ".read",
    "MAX_FINDINGS": ".verify",
    "REASONS": ".verify",
    "Checkpoint": ".verify",
    "VerifyResult": ".verify",
    "head": ".verify",
    "parse_checkpoint": ".verify",
    "verify": ".verify",
    "verify_lines": ".verify",
    "Finding": ".findings",
}


__getattr__, __dir__ = _lazy_names(globals(), _LAZY)


class _Package(types.ModuleType):
    """This package, whose ``verify`` stays the function: loading the submodule ``verify``
    (by `__getattr__`, or by any ``from rds_guard.audit.verify import ...``) makes the import
    system bind the submodule on its package under that name, over the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == f".{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "CHAINS",
    "CHAIN_HMAC",
    "CHAIN_SHA256",
    "DEFAULT_LOCK_TIMEOUT",
    "EVENTS",
    "EXTRA_FIELDS",
    "LINE_MAX",
    "MAX_FINDINGS",
    "REASONS",
    "RECORD_FIELDS",
    "TEXT_MAX",
    "ZERO_HASH",
    "AuditLog",
    "Checkpoint",
    "Finding",
    "KeyRequired",
    "LogLine",
    "MissingKey",
    "NotAnAuditLog",
    "NotAuthentic",
    "RepairResult",
    "VerifyResult",
    "chain_hash",
    "chain_of",
    "head",
    "is_authentic",
    "is_digest",
    "iter_lines",
    "key_from_env",
    "new_call_id",
    "own_digest",
    "parse_checkpoint",
    "parse_record",
    "read_records",
    "repair",
    "rotate",
    "stream_id",
    "verify",
    "verify_lines",
]

"""The audit log: one hash-chained JSON record per line, shared by threads and processes.

``record`` (fields, layout, hashing), ``fileio`` (opening and reading files), ``writer``
(`AuditLog`), ``maintenance`` (`rotate`, `repair`), ``read`` (`iter_lines`, `read_records`)
and ``verify``. The format and its guarantees are described in docs/audit.md.
"""

from .maintenance import RepairResult, repair, rotate
from .read import LogLine, iter_lines, read_records
from .record import (
    EVENTS,
    EXTRA_FIELDS,
    RECORD_FIELDS,
    ZERO_HASH,
    MissingKey,
    chain_hash,
    is_digest,
    key_from_env,
    new_call_id,
    parse_record,
)
from .verify import REASONS, VerifyResult, verify
from .writer import AuditLog

__all__ = [
    "EVENTS",
    "EXTRA_FIELDS",
    "REASONS",
    "RECORD_FIELDS",
    "ZERO_HASH",
    "AuditLog",
    "LogLine",
    "MissingKey",
    "RepairResult",
    "VerifyResult",
    "chain_hash",
    "is_digest",
    "iter_lines",
    "key_from_env",
    "new_call_id",
    "parse_record",
    "read_records",
    "repair",
    "rotate",
    "verify",
]

"""The fleet ledger: every host's audit log mirrored, record for record, into one DynamoDB
table, with signed checkpoints in S3 (DESIGN.md §10, docs/ledger.md).

``location`` (where the ledger is; the botocore clients), ``items`` (the table's items),
``table`` (conditional puts and reads), ``series`` (a log's records across its rotated
files), ``state`` (what a shipper remembers, and its lock), ``shipper`` (`Shipper`),
``spool`` (`ShippingLog`: the guard's log, shipped by a thread), ``checkpoints`` (signed
checkpoints), ``continuity`` (what a checkpointer tells of a stream's new records),
``verify`` (`verify_ledger`), ``provision`` (``rds-guard ledger init``).

Nothing here is imported unless a ledger is used: a guard without ``[audit.ledger]`` never
loads it.
"""

from .errors import (
    Fork,
    LedgerUnavailable,
    RemoteAhead,
    Reordered,
    ShipRefused,
    Unnamed,
    UnreadableLine,
)
from .location import Clients, LedgerLocation, S3Location, location_of, parse_ledger, parse_s3
from .results import ShipResult
from .shipper import Shipper
from .table import LedgerTable

__all__ = [
    "Clients",
    "Fork",
    "LedgerLocation",
    "LedgerTable",
    "LedgerUnavailable",
    "RemoteAhead",
    "Reordered",
    "S3Location",
    "ShipRefused",
    "ShipResult",
    "Shipper",
    "Unnamed",
    "UnreadableLine",
    "location_of",
    "parse_ledger",
    "parse_s3",
]

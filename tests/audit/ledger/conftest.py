"""Fixtures of the fleet ledger's tests: the moto server reached through botocore's own
configuration (``AWS_ENDPOINT_URL``), and the ledger's table on it (``log_path`` is the
audit tests' own). Helpers are in tests/ledger_helpers.py."""

from __future__ import annotations

import pytest
from ledger_helpers import BUCKET, KEY_ALIAS, ledger_table, reach_moto
from servers import MotoServer

from rds_guard.audit.ledger import LedgerTable, S3Location
from rds_guard.audit.ledger.checkpoints import CheckpointStore
from rds_guard.audit.ledger.provision import provision


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto server, which every botocore client made now reaches (AWS_ENDPOINT_URL);
    botocore's retries short, so that a refusal shows at once."""
    return reach_moto(moto_server, monkeypatch, attempts=3, retry_mode="standard")


@pytest.fixture
def table(aws: MotoServer) -> LedgerTable:
    """The ledger's table, made on the moto server."""
    return ledger_table()


@pytest.fixture
def store(table: LedgerTable) -> CheckpointStore:
    """The checkpoints' bucket (Object Lock, compliance) and signing key, made on the moto
    server beside the table."""
    location = S3Location(BUCKET, "rds-guard/")
    provision(table.clients, table.name, location, KEY_ALIAS)
    return CheckpointStore(table.clients, location, KEY_ALIAS)

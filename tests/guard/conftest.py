"""Fixtures of the guard's tests with a fleet ledger: the moto server for RDS and the ledger,
botocore giving up at once on an error, and the ledger's table on it."""

from __future__ import annotations

import pytest
from ledger_helpers import ledger_table, reach_moto
from servers import MotoServer

from rds_guard.audit.ledger import LedgerTable


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto server for RDS and the ledger; botocore gives up at once on an error."""
    return reach_moto(moto_server, monkeypatch, attempts=1)


@pytest.fixture
def table(aws: MotoServer) -> LedgerTable:
    """The ledger's table, made on the moto server."""
    return ledger_table()

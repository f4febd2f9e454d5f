"""What the async suites share: an aiobotocore session guarded by a policy, an rds client of
the moto server, and a hang detector around each test's work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from policies import write_policy
from servers import MotoServer

import rds_guard

T = TypeVar("T")
GOOD = "orders-manual-20261129"
TEAM = [{"Key": "team", "Value": "core"}]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def run(work: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(work(), timeout=120))  # a hang detector only


def guarded_session(folder: Path, policy: str, **settings: str | bool) -> AioSession:
    """An aiobotocore session guarded by ``policy`` (TOML text) written in ``folder``, its
    ``settings`` set as `write_policy` sets them."""
    session = get_session()
    rds_guard.install(session, policy=write_policy(folder, policy, **settings))
    return session


@asynccontextmanager
async def rds_client(
    session: AioSession, server: MotoServer, *, url: str | None = None, **config: Any
) -> AsyncIterator[Any]:
    async with session.create_client(
        "rds",
        region_name="us-east-1",
        endpoint_url=url or server.url,
        config=AioConfig(**config) if config else None,
        **CREDENTIALS,
    ) as client:
        yield client

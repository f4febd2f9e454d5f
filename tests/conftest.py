"""Fixtures shared by every test: a safe AWS environment and the AWS stand-ins.

- ``aws_env`` (autouse): dummy credentials and region, no profile, no user config or
  credentials file, no instance metadata, no ``RDS_GUARD_*`` variables. No test can reach real
  AWS or read the user's configuration.
- ``default_session_left_unguarded`` (autouse): a test that leaves a guard on boto3's default
  session fails, and the guard is taken off, so no later test is judged by it.
- ``moto_server_process`` (session): one :class:`servers.MotoServer` for the whole run.
- ``moto_server``: that server with moto's state and the request counts wiped before the test.
- ``moto_inprocess``: the test runs under ``moto.mock_aws()`` (no HTTP). moto's state is
  global to the process: do not combine it with ``moto_server`` in one test.
- ``docdb``: a fresh :class:`servers.DocDBResponder` (attach it to a client or session).

pytest imports this file from tests/, which puts tests/ on ``sys.path`` for every test below
it (tests/core/ too): the helper modules beside it import as top-level modules. Each helper
has one home among them:

- ``servers``: the fakes (the moto server, the DocumentDB responder), counting requests;
- ``cluster_groups``: the DB cluster group API, which moto does not emulate, in memory;
- ``aws``: clusters, instances, a snapshot's tags, guarded sessions and clients, sent counts;
- ``policies``: the policies the integration tests install, and ``write_policy``;
- ``core_fixtures``: plain data for the pure-core tests (policies from TOML, ``run``, ops);
- ``clock``: the UTC days a test ran through, for names made from ``{utcnow:...}``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from servers import DocDBResponder, MotoServer

# The async tests need aiobotocore, which pins botocore: `make test` runs them in
# environments of their own (.venv-aio, .venv-aioboto3), not in the main one.
collect_ignore_glob = [] if importlib.util.find_spec("aiobotocore") else ["aio/*"]

if importlib.util.find_spec("hypothesis"):  # the async environments have none
    import hypothesis

    # A slow example on a loaded machine is no failure: the tests assert no speed (bench/ does).
    hypothesis.settings.register_profile("rds_guard", deadline=None)
    hypothesis.settings.load_profile("rds_guard")

_SET = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_UNSET_PREFIXES = ("RDS_GUARD_", "AWS_ENDPOINT_URL")
_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_SIGV4A_SIGNING_REGION_SET",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_DEFAULT_OUTPUT",
    "AWS_PAGER",
)


@pytest.fixture(scope="session")
def _nonexistent_aws_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that exists, holding no AWS config or credentials file."""
    return tmp_path_factory.mktemp("no-aws-config")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, _nonexistent_aws_dir: Path) -> None:
    """Dummy AWS credentials and region; nothing of the user's AWS or rds_guard setup."""
    for name in list(os.environ):
        if name.startswith(_UNSET_PREFIXES) or name in _UNSET:
            monkeypatch.delenv(name, raising=False)
    for name, value in _SET.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(_nonexistent_aws_dir / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_nonexistent_aws_dir / "credentials"))
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name, "")
        monkeypatch.setenv(name, ",".join(p for p in (current, "127.0.0.1", "localhost") if p))
    # boto3's module-level default session may have been built from the real environment.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture(autouse=True)
def default_session_left_unguarded() -> Iterator[None]:
    """Fail the test that leaves a guard on boto3's default session: every later test in
    the run (the pytest plugin's inner runs too) would be judged by it."""
    yield
    installs = sys.modules.get("rds_guard.guard.installs")
    if installs is None:
        return
    stack = installs.stack_in_force(installs._DEFAULT_SESSION)
    left = list(stack.guards) if stack is not None else []
    for guard in reversed(left):  # so the next test starts clean: one leak, one failure
        stack.remove(guard)
    if left:
        pytest.fail(f"the test left {len(left)} guard(s) installed on boto3's default session")


@pytest.fixture(scope="session")
def moto_server_process() -> Iterator[MotoServer]:
    """One moto server on 127.0.0.1 for the whole test session."""
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto_server(moto_server_process: MotoServer) -> MotoServer:
    """The session's moto server, with moto's state and the request counts wiped."""
    moto_server_process.reset_state()
    moto_server_process.reset_counts()
    return moto_server_process


@pytest.fixture
def moto_inprocess() -> Iterator[None]:
    """Run the test under ``moto.mock_aws()``."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def docdb() -> DocDBResponder:
    """A fresh DocumentDB fake, attached to nothing yet."""
    return DocDBResponder()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """Where a test's log goes: ``audit.jsonl`` in its own temporary directory."""
    return tmp_path / "audit.jsonl"

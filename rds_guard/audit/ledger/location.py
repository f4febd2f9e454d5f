"""Where the fleet ledger lives and how it is reached: ``dynamodb://TABLE[?region=R]`` and
``s3://BUCKET/PREFIX`` locations, and `Clients`, the botocore clients every ledger call goes
through (made from a botocore session, so botocore's own configuration applies: profiles,
regions, ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, retry settings).
"""

from __future__ import annotations

import functools
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

from rds_guard.clients import DEFAULT_RETRIES, made_client, retries_configured
from rds_guard.core.frozen import frozen
from rds_guard.core.policy import CONTROL, REGION_NAME, TABLE_NAME, LedgerPolicy, is_bucket_name

if TYPE_CHECKING:
    from botocore.config import Config


CLIENT_SETTINGS: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 10,
    "max_pool_connections": 32,
    "user_agent_extra": "rds-guard-ledger",
}
"""The ledger clients' botocore ``Config``: bounded waits (a ledger that cannot be reached must
not hold a guarded call for long in ``required`` mode) and enough connections for the
shipper's parallel puts."""


@frozen
class LedgerLocation:
    """A DynamoDB table holding the ledger, and the region to reach it in (None: botocore's
    own choice, from the environment or the profile). ``str()`` is ``dynamodb://TABLE``."""

    table: str
    region: str | None = None

    def __str__(self) -> str:
        query = f"?region={self.region}" if self.region else ""
        return f"dynamodb://{self.table}{query}"


def parse_ledger(text: str) -> LedgerLocation:
    """``dynamodb://TABLE[?region=R]`` as a `LedgerLocation`; anything else is a ValueError."""
    parts = urllib.parse.urlsplit(text.strip())
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"region"})
    if parts.scheme != "dynamodb" or not TABLE_NAME.fullmatch(parts.netloc) or unknown:
        raise ValueError(
            f"a ledger is dynamodb://TABLE or dynamodb://TABLE?region=REGION, got {_shown(text)}"
        )
    if parts.path not in ("", "/"):
        raise ValueError(f"a ledger names a table, not a path in it: {_shown(text)}")
    if len(query.get("region", [])) > 1:  # which one the user meant, no one can tell
        raise ValueError(f"a ledger names one region, got {_shown(text)}")
    region = query.get("region", [""])[-1] or None
    if region is not None and not REGION_NAME.fullmatch(region):
        raise ValueError(f"a ledger's region is a region's name (us-east-1), got {_shown(region)}")
    return LedgerLocation(parts.netloc, region)


def _shown(text: str) -> str:
    """``text`` quoted for an error message, unless it holds an ``@``: a location given with
    a user and password by mistake (``scheme://user:pw@``) is not shown at all, as a password
    may hold what ends a URL's user information (a raw ``/``), past which no redaction can
    tell it from the rest."""
    if "@" in text:
        return "a location naming a user or password (not shown)"
    return repr(text)


def location_of(policy: LedgerPolicy) -> LedgerLocation:
    """The ledger a policy's ``[audit.ledger]`` names."""
    return LedgerLocation(policy.table, policy.region)


@frozen
class S3Location:
    """A bucket and a key prefix (empty, or ending with ``/``)."""

    bucket: str
    prefix: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        """The key of ``name`` under the prefix."""
        return self.prefix + name


def parse_s3(text: str) -> S3Location:
    """``s3://BUCKET[/PREFIX]`` as an `S3Location` (the prefix gets its trailing ``/``)."""
    if not text.startswith("s3://"):
        raise ValueError(f"an S3 location is s3://BUCKET/PREFIX, got {_shown(text)}")
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not is_bucket_name(bucket):
        if "@" in text:  # s3://user:password@bucket: never echoed
            raise ValueError(f"an S3 location is s3://BUCKET/PREFIX, got {_shown(text)}")
        raise ValueError(f"{bucket!r} is not an S3 bucket name (in {text!r})")
    prefix = prefix.strip("/")
    try:
        prefix.encode("utf-8")
    except UnicodeEncodeError:  # a byte that is no UTF-8 on the command line: no S3 key
        raise ValueError(f"an S3 key prefix is UTF-8 text, not so in {_shown(text)}") from None
    if CONTROL.search(prefix):
        raise ValueError(f"an S3 key prefix holds no control character, as {_shown(text)} does")
    return S3Location(bucket, prefix + "/" if prefix else "")


class Clients:
    """The botocore clients of one ledger: DynamoDB, S3, KMS and STS, made on first use from
    one botocore session, in ``region`` (None: botocore's choice).

    ``session``: the botocore session to make them from; by default a new one of
    ``profile`` (None: botocore's choice), made at first use and dropped by `release`.
    ``endpoint_url`` points every client at one endpoint (``rds-guard ledger init
    --endpoint-url``: moto's server); otherwise botocore's configuration decides, the
    ``AWS_ENDPOINT_URL*`` variables included. Safe to share between threads.
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        session: Any = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
    ) -> None:
        self._given = session
        self._session = session
        self._profile = profile
        self._region = region
        self._endpoint_url = endpoint_url
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None

    def client(self, service: str) -> Any:
        """The client of ``service``, made once (until `release`)."""
        with self._lock:
            made = self._made.get(service)
            if made is None:
                if self._session is None:
                    # imported here, not with this module: every rds-guard command imports
                    # the ledger's modules to build its parser
                    import botocore.session

                    self._session = botocore.session.Session(profile=self._profile)
                kwargs: dict[str, Any] = {"config": self._config()}
                if self._region:
                    kwargs["region_name"] = self._region
                if self._endpoint_url:
                    kwargs["endpoint_url"] = self._endpoint_url
                made = self._made[service] = made_client(self._session, service, **kwargs)
            return made

    def release(self) -> None:
        """Drop the clients, and the session made for them (its service models are most of
        the memory they hold): both are made again at the next use. A closed log's."""
        with self._lock:
            self._made = {}
            self._session = self._given

    def forget_after_fork(self) -> None:
        """In a forked child: make new clients at first use. The parent's share their
        connections with it, and two processes on one connection read each other's answers."""
        self._lock = threading.Lock()
        self._made = {}

    def _config(self) -> Config:
        """`CLIENT_SETTINGS`, with `clients.DEFAULT_RETRIES` unless retries are configured
        (made once per choice: every ledger client shares it)."""
        return _client_config(retries=not retries_configured(self._session))

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client."""
        return self.client("dynamodb")

    @property
    def s3(self) -> Any:
        """The S3 client."""
        return self.client("s3")

    @property
    def kms(self) -> Any:
        """The KMS client."""
        return self.client("kms")

    @property
    def region(self) -> str:
        """The region the DynamoDB client talks to."""
        return str(self.dynamodb.meta.region_name)

    def account(self) -> str:
        """The account the credentials belong to (STS GetCallerIdentity, asked once)."""
        if self._account is None:
            self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account


@functools.cache
def _client_config(*, retries: bool) -> Config:
    from botocore.config import Config

    if retries:
        return Config(**CLIENT_SETTINGS, retries=dict(DEFAULT_RETRIES))
    return Config(**CLIENT_SETTINGS)

"""What the ledger's commands share: ``--ledger dynamodb://TABLE[?region=R]`` and
``--checkpoints s3://BUCKET/PREFIX`` (argparse types), and the ledger, checkpoints and
signing key a command works with, from those options or from a policy's ``[audit.ledger]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from rds_guard.audit.ledger import (
    Clients,
    LedgerLocation,
    LedgerTable,
    S3Location,
    location_of,
    parse_ledger,
    parse_s3,
)
from rds_guard.audit.ledger.checkpoints import CheckpointStore
from rds_guard.audit.ledger.items import is_stream_of
from rds_guard.core.frozen import frozen
from rds_guard.core.policy import KMS_KEY, KMS_KEY_FORM, Policy
from rds_guard.core.positions import shown

from ..common import UsageError, policy_if_any

LEDGER_HELP = "the ledger: dynamodb://TABLE or dynamodb://TABLE?region=REGION"
CHECKPOINTS_HELP = "where the signed checkpoints are: s3://BUCKET/PREFIX"


def ledger_arg(text: str) -> LedgerLocation:
    """An argparse type for ``dynamodb://TABLE[?region=R]``."""
    try:
        return parse_ledger(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def s3_arg(text: str) -> S3Location:
    """An argparse type for ``s3://BUCKET/PREFIX``."""
    try:
        return parse_s3(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def kms_key_arg(text: str) -> str:
    """An argparse type for a KMS key (its id, ARN or alias, as the policy's ``kms_key``)."""
    if not KMS_KEY.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{shown(text)} names no KMS key ({KMS_KEY_FORM})")
    return text


def add_ledger(parser: argparse._ActionsContainer) -> None:
    """``--ledger dynamodb://TABLE[?region=R]`` (on a parser or a group)."""
    parser.add_argument("--ledger", type=ledger_arg, metavar="dynamodb://TABLE", help=LEDGER_HELP)


def add_checkpoints(parser: argparse.ArgumentParser) -> None:
    """``--checkpoints s3://BUCKET/PREFIX``."""
    parser.add_argument(
        "--checkpoints", type=s3_arg, metavar="s3://BUCKET/PREFIX", help=CHECKPOINTS_HELP
    )


def add_scan(parser: argparse.ArgumentParser) -> None:
    """``--scan``: find the streams by reading the whole table too, not by the index alone."""
    parser.add_argument(
        "--scan",
        action="store_true",
        help="find every stream by reading the keys of the whole table (billed as a read of"
        " every item), not only those the index lists: a writer of the table can keep a"
        " stream out of the index by overwriting its marker",
    )


@frozen
class Ledger:
    """The ledger a command works with, and how to reach it."""

    location: LedgerLocation
    clients: Clients
    table: LedgerTable
    policy: Policy | None = None

    @property
    def kms_key(self) -> str | None:
        """The signing key the policy names (None: no policy, or none named)."""
        settings = None if self.policy is None else self.policy.audit.ledger
        return None if settings is None else settings.kms_key

    def checkpoints(self, given: S3Location | None) -> S3Location | None:
        """``given``, else the policy's ``checkpoints``."""
        if given is not None:
            return given
        settings = None if self.policy is None else self.policy.audit.ledger
        if settings is None or settings.checkpoints is None:
            return None
        return parse_s3(settings.checkpoints)

    def own_checkpoints(self, given: S3Location | None) -> S3Location | None:
        """``given``, else the policy's ``checkpoints`` when its ``[audit.ledger]`` names the
        table worked with, in its region: they pin that table only (None: none)."""
        if given is not None:
            return given
        settings = None if self.policy is None else self.policy.audit.ledger
        if settings is None or settings.table != self.location.table:
            return None
        policy_region = settings.region or _configured_region()
        return self.checkpoints(None) if policy_region == self.clients.region else None

    def store(self, location: S3Location, kms_key: str | None = None) -> CheckpointStore:
        """The checkpoints at ``location``, signed with ``kms_key`` (else the policy's)."""
        return CheckpointStore(self.clients, location, kms_key or self.kms_key)


def _configured_region() -> str | None:
    """The region botocore's configuration names, as `ledger_from`'s clients read it (the
    environment, the profile); None: none. Asks for no credentials."""
    import botocore.session

    region = botocore.session.Session().get_config_variable("region")
    return region if isinstance(region, str) and region else None


def ledger_from(
    location: LedgerLocation | None,
    policy_path: str | None,
    *,
    endpoint_url: str | None = None,
    advice: str = "give --ledger dynamodb://TABLE",
) -> Ledger:
    """The ledger ``--ledger`` names, else the one the policy's ``[audit.ledger]`` names (the
    policy at ``--policy``, else the one `install` would find); neither: `UsageError` with
    ``advice`` (what the command takes instead)."""
    policy = policy_if_any(policy_path) if location is None or policy_path is not None else None
    if location is None:
        settings = None if policy is None else policy.audit.ledger
        if settings is None:
            where = "the policy has no [audit.ledger]" if policy is not None else "no policy"
            raise UsageError(f"no ledger: {advice} ({where})")
        location = location_of(settings)
    clients = Clients(location.region, endpoint_url=endpoint_url)
    return Ledger(location, clients, LedgerTable(clients, location.table), policy)


def find_stream(table: LedgerTable, given: str, checkpointed: Iterable[str] = ()) -> str:
    """The stream ``--stream`` names: a whole key (``ACCOUNT/REGION/ID``) as it is, or the
    16-hex id of one the ledger lists or a checkpoint holds (``checkpointed``: someone who
    can write the table can unlist a stream and list a copy under another region; unknown
    or ambiguous: `UsageError`)."""
    if "/" in given:
        return given
    names = set(table.streams()) | set(checkpointed)
    found = sorted(name for name in names if is_stream_of(name, given))
    if len(found) != 1:
        what = "no stream" if not found else f"{len(found)} streams ({', '.join(found)})"
        raise UsageError(f"--stream {given}: {what} of the ledger end with that id")
    return found[0]

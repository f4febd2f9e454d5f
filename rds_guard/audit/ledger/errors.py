"""The ledger's refusals, all `AuditError`s: a stream a shipper will not ship (`Fork`,
`RemoteAhead`, `Reordered`, `Unnamed`, `UnreadableLine`), a ledger that cannot be reached
(`LedgerUnavailable`), and `describe_error`, the one line each of them quotes of what went
wrong."""

from __future__ import annotations

from botocore.exceptions import ClientError

from rds_guard.core.rules import escaped
from rds_guard.errors import AuditError

from ..redact import without_signing_values


class ShipRefused(AuditError):
    """A stream the shipper refuses to ship; nothing more is sent for it until a person
    looks (the command exits 1: a finding). ``stream`` names it."""

    def __init__(self, detail: str, *, path: str | None = None, stream: str = "") -> None:
        super().__init__(detail, path=path)
        self.stream = stream

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.detail,), dict(self.__dict__))


class Fork(ShipRefused):
    """The ledger holds another record than the local log at ``seq``: two logs share their
    first record (a cloned disk or image), or the local log was rewritten and sealed again.
    ``theirs`` is the digest the ledger holds."""

    seq: int = 0
    theirs: str = ""

    @classmethod
    def at(cls, path: str, stream: str, seq: int, theirs: str, ours: str, written: str) -> Fork:
        """The fork of ``stream`` at ``seq``: the ledger holds digest ``theirs`` there, the
        local log ``ours``; ``written`` says what became of the refused record."""
        fork = cls(
            f"{path}: fork of stream {stream} at seq {seq}: the ledger holds another record "
            f"there (digest {theirs}, ours {ours}): another log shares this one's first record"
            " (a cloned disk or image?), or this one was rewritten and sealed again; shipping"
            f" stopped{written}",
            path=path,
            stream=stream,
        )
        fork.seq, fork.theirs = seq, theirs
        return fork


class RemoteAhead(ShipRefused):
    """The ledger holds records past the local log's end, the same ones up to it: the local
    file was truncated, restored from an older copy, or had older records copied to its end."""


class Reordered(ShipRefused):
    """A record of the local log comes after one with the same or a higher seq: older records
    were copied behind the writer, or the file was edited."""


class UnreadableLine(ShipRefused):
    """A line of the local log no reader reads (longer than any record): the records before
    it are shipped, none from it on."""


class Unnamed(ShipRefused):
    """The series' first record (seq 1) is gone and no state names the stream."""


class LedgerUnavailable(AuditError):
    """The ledger could not be reached, refused the request (throttled past botocore's
    retries, no connection, access denied) or, in ``required`` mode, refused the log (a
    fork, the ledger ahead, records out of order); the records wait in the local log."""


def describe_error(error: BaseException) -> str:
    """What went wrong talking to the ledger or the checkpoints' bucket, in one line (a line
    break or a terminal escape in the service's message is written as its escape: the guard's
    thread logs it), without the secrets a message may quote (`without_signing_values`: an
    endpoint's password)."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        text = f"{info.get('Code', 'error')}: {info.get('Message', '')}".rstrip(": ")
    else:
        text = str(error) or type(error).__name__
    return escaped(without_signing_values(text))

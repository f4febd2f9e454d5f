"""A checkpoint's body: what it says (`Checkpoint`, `StreamHead`, `ForkEntry`), the canonical
bytes that are stored and signed (`Checkpoint.body`), and reading them back (`parse_body`).

JSON: ``{"checkpoint", "prev", "time", "table", "location", "key", "algorithm", "streams":
[{"stream", "size", "head"}], "forks": [{"key", "seq", "digest"}], "findings"}`` where
``location`` is where it was written (``s3://BUCKET/PREFIX/``; none before this release: a
checkpoint copied to another prefix or bucket names where it came from), ``prev`` is the
SHA-256 of the previous checkpoint's body (64 zeros for the first), ``size`` a stream's last
seq and ``head`` the SHA-256 of that record's line (keyless: the checkpointer holds no HMAC
key); ``forks``, present once the ledger records one, lists every fork item (its key, and the
digest of the refused line it holds), so that a fork overwritten later, which would drop out
of the ``kind`` index, is still found.
"""

from __future__ import annotations

import hashlib
import json

from rds_guard.core.frozen import frozen

from .items import Item, full_sha256, line_of, number, text

ALGORITHM = "ECDSA_SHA_256"
"""The signing algorithm (an ECC_NIST_P256 key)."""

MOST_BYTES = 64 * 1024 * 1024
"""The largest checkpoint body read or written: about 300,000 streams. Whoever can write the
bucket can put an object of any size under a checkpoint's name; no more of it is read."""


def name_of(number: int) -> str:
    """The object name of checkpoint ``number``."""
    return f"checkpoint-{number:010d}.json"


@frozen
class StreamHead:
    """Where one stream stood: its last seq (``size``) and that line's SHA-256."""

    stream: str
    size: int
    head: str

    def as_dict(self) -> dict[str, object]:
        """Plain JSON values."""
        return {"stream": self.stream, "size": self.size, "head": self.head}


@frozen
class ForkEntry:
    """A fork the ledger recorded: its item's key (``<stream>/fork/<hex>``, ``seq``) and the
    SHA-256 of the refused line the item holds (its own digest, read where a sealed line
    carries it, would not see the rest of the line edited)."""

    key: str
    seq: int
    digest: str

    @property
    def stream(self) -> str:
        """The stream forked."""
        return self.key.split("/fork/", 1)[0]

    def as_dict(self) -> dict[str, object]:
        """Plain JSON values."""
        return {"key": self.key, "seq": self.seq, "digest": self.digest}

    @classmethod
    def of_item(cls, item: Item) -> ForkEntry:
        """The entry of a fork item as the ledger holds it now (an empty digest when it
        holds no line)."""
        line = line_of(item)
        return cls(
            text(item, "stream") or "",
            number(item, "seq") or 0,
            "" if line is None else full_sha256(line),
        )


@frozen
class Checkpoint:
    """One checkpoint, as its body says."""

    number: int
    prev: str
    time: str
    table: str
    key: str
    streams: tuple[StreamHead, ...]
    findings: tuple[str, ...] = ()
    forks: tuple[ForkEntry, ...] = ()
    location: str = ""
    """Where it was written, ``s3://BUCKET/PREFIX/`` (empty: a body of an earlier release)."""

    def body(self) -> bytes:
        """The canonical bytes that are stored and signed."""
        document = {
            "checkpoint": self.number,
            "prev": self.prev,
            "time": self.time,
            "table": self.table,
            **({"location": self.location} if self.location else {}),
            "key": self.key,
            "algorithm": ALGORITHM,
            "streams": [head.as_dict() for head in self.streams],
        }
        if self.forks:  # a ledger with no fork: the body of the first release
            document["forks"] = [fork.as_dict() for fork in self.forks]
        document["findings"] = list(self.findings)
        return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"

    def foreign_to(self, table: str | None, location: str) -> str | None:
        """Why this is no checkpoint of ``table`` (None: of any table) written to
        ``location`` (a body that names where it was written) (None: it is one)."""
        if table is not None and self.table != table:
            return f"it is a checkpoint of table {self.table!r}, not of {table!r}"
        if self.location and self.location != location:
            return f"it was written to {self.location}, not here (copied)"
        return None

    def head_of(self, stream: str) -> StreamHead | None:
        """The entry of ``stream``, or None."""
        for head in self.streams:
            if head.stream == stream:
                return head
        return None


def parse_body(body: bytes) -> Checkpoint:
    """The checkpoint a body holds; ValueError (or the KeyError or TypeError of a field
    missing or of the wrong kind) when it is not one, whatever its bytes."""
    if len(body) > MOST_BYTES:
        raise ValueError(f"larger than {MOST_BYTES} bytes, which no checkpoint is")
    try:
        return _checkpoint_of(json.loads(body))
    except (OverflowError, RecursionError) as exc:  # 1e999 as a number; arrays nested deep
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


def _checkpoint_of(value: object) -> Checkpoint:
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    streams = value.get("streams")
    if not isinstance(streams, list):
        raise ValueError("no list of streams")
    heads = []
    for entry in streams:
        if not isinstance(entry, dict):
            raise ValueError("a stream entry is not an object")
        heads.append(StreamHead(str(entry["stream"]), int(entry["size"]), str(entry["head"])))
    forks = value.get("forks", [])
    if not isinstance(forks, list) or not all(isinstance(entry, dict) for entry in forks):
        raise ValueError("forks is not a list of objects")
    findings = value.get("findings", [])
    return Checkpoint(
        number=int(value["checkpoint"]),
        prev=str(value["prev"]),
        time=str(value["time"]),
        table=str(value.get("table", "")),
        key=str(value.get("key", "")),
        location=str(value.get("location", "")),
        streams=tuple(heads),
        findings=tuple(str(f) for f in findings) if isinstance(findings, list) else (),
        forks=tuple(
            ForkEntry(str(entry["key"]), int(entry["seq"]), str(entry["digest"])) for entry in forks
        ),
    )


def body_digest(body: bytes) -> str:
    """What the next checkpoint's ``prev`` holds: the SHA-256 of this one's body."""
    return hashlib.sha256(body).hexdigest()

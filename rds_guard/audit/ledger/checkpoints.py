"""Signed checkpoints: where every stream of the ledger stood, written to S3 and signed with
an asymmetric KMS key, like CloudTrail's digest files.

A checkpoint is ``PREFIX/checkpoint-<number>.json``, numbered from 1, its body canonical JSON
(`checkpoint_body`). The body's SHA-256 is signed (KMS ``Sign``, ECDSA_SHA_256, as a digest)
and the signature kept in the object's metadata (``x-amz-meta-signature``, base64). Objects
are written create-only (``If-None-Match: *``) into a bucket with Object Lock in compliance
mode: the checkpoint after ``n`` is ``n + 1``, and of two writers racing for it one wins.

A checkpoint never signs a state inconsistent with the one before: a stream that shrank,
vanished, changed at its old head, or whose new records do not follow on, is a finding, and
the new checkpoint keeps that stream where the previous one had it. The previous one is
trusted only once its signature holds (`CheckpointStore.newest`): one a writer of the bucket
put there is a finding, and its time and heads count for nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from rds_guard.answers import read_body
from rds_guard.core.frozen import frozen

from ..record import ZERO_HASH, utc_now
from .checkpoint_body import (
    ALGORITHM,
    MOST_BYTES,
    Checkpoint,
    ForkEntry,
    StreamHead,
    body_digest,
    name_of,
    parse_body,
)
from .continuity import follows_on
from .items import full_sha256, item_problems, line_of, number, odd_seq
from .location import Clients, S3Location
from .table import UNLISTED, LedgerTable, error_code
from .versions import Original, Originals, Version, originals, version_of

__all__ = [
    "ALGORITHM",
    "NAME",
    "Checkpoint",
    "CheckpointOutcome",
    "CheckpointStore",
    "ForkEntry",
    "Newest",
    "Stored",
    "StreamHead",
    "Version",
    "body_digest",
    "name_of",
    "parse_body",
    "write_checkpoint",
]

NAME = re.compile(r"checkpoint-(\d{10,})\.json")  # ten digits, more past 9999999999
_TAKEN = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


@frozen
class Stored:
    """A checkpoint object as the bucket holds it: the number in its name, its body, the
    signature in its metadata (base64; empty: none), and the checkpoint its body holds
    (None: it holds none)."""

    number: int
    body: bytes
    signature: str
    checkpoint: Checkpoint | None
    original: Original | None = None
    """The version first written under its number, which this is, and what was done over it
    (None: nothing, or this store wrote it)."""

    @property
    def hidden(self) -> bool:
        """Its current version is a delete marker: this is the version first written below it."""
        return self.original is not None and self.original.hidden

    @property
    def written(self) -> int:
        """How many versions were written under its number: this is the first (Object Lock's)."""
        return 1 if self.original is None else self.original.written

    @property
    def fingerprint(self) -> tuple[int, str, str]:
        """The object's number, body digest and signature: what a verification holds for."""
        return self.number, body_digest(self.body), self.signature


@frozen
class Newest:
    """The newest checkpoint object (``top``: the next checkpoint is numbered after it and
    links to its body) and the checkpoint the next one holds the streams to (``base``:
    ``top``'s when its signature holds); ``problem``: why ``top`` is not trusted."""

    top: Stored
    base: Checkpoint | None
    problem: str | None = None
    """Also set when ``top`` is signed but a delete marker hides it (``base`` is then
    ``top``'s: the streams are held to what it signed)."""


class CheckpointStore:
    """The checkpoints' bucket and prefix, and the KMS key that signs them."""

    def __init__(self, clients: Clients, location: S3Location, kms_key: str | None = None) -> None:
        self.clients = clients
        self.location = location
        self.kms_key = kms_key
        self._arn: str | None = None
        self._signed: set[tuple[int, str, str]] = set()
        self._trusted: Stored | None = None

    def stored(self, number: int, firsts: Originals) -> Stored:
        """Checkpoint object ``number`` as stored (its body need not hold a checkpoint), read
        at the version first written under its number (``firsts``, from `listing`): the one
        Object Lock keeps and ``verify --checkpoints`` checks, whatever was put over it, or a
        delete marker hides, since (even between the listing and this read)."""
        original = firsts.get(number)
        if original is not None and original.version_id is None:  # delete markers only
            return Stored(number, b"", "", None, original)
        version = None if original is None else original.version_id
        body, answer = self.read(self.location.key(name_of(number)), version)
        try:
            checkpoint: Checkpoint | None = parse_body(body)
        except (ValueError, KeyError, TypeError):
            checkpoint = None
        signature = str(answer.get("Metadata", {}).get("signature", ""))
        return Stored(number, body, signature, checkpoint, original)

    def newest(self, key: str, table: str | None = None) -> Newest | None:
        """The newest checkpoint object and the checkpoint the next one is held to: that one
        when ``key`` (an ARN) signed it for ``table`` (None: any table), here, and it links to
        the one below it, else the newest signed one below it, this store's own or the first
        found signed going down (None: no checkpoint yet). One KMS Verify for the newest,
        none for a checkpoint this store found signed or wrote before.

        A checkpoint a delete marker hides, or one written again, is still there (Object
        Lock keeps its first version): it is read at that version, so neither a marker nor
        an older checkpoint put over it frees its number or rolls the streams back to the
        one before it; the marker or the overwrite is a finding."""
        numbers, firsts = self.listing()
        if not numbers:
            return None
        top = self.stored(numbers[-1], firsts)
        problem = self.problem_of(top, key, table) or self._link_problem(top, numbers, firsts)
        where = f"{self.location}{name_of(top.number)}"
        if problem is None:
            self._trusted = top
            return Newest(top, top.checkpoint, _covered(top, where))
        base = self._signed_below(numbers[:-1], firsts, key, table)
        held = f"checkpoint {base.number}" if base else "their first record"
        return Newest(
            top,
            base,
            f"{where}: {problem}: its time and heads are not trusted; the streams are held "
            f"to {held}",
        )

    def _link_problem(self, top: Stored, numbers: list[int], firsts: Originals) -> str | None:
        """Why ``top``, signed, does not follow on from the checkpoint object below it (None:
        its ``prev`` is that object's body digest, or zeros for checkpoint 1): a signed
        checkpoint copied from another prefix or bucket keeps its own ``prev``."""
        assert top.checkpoint is not None
        below = top.number - 1
        if below == 0:
            expected = ZERO_HASH
        elif below in numbers:
            expected = body_digest(self.stored(below, firsts).body)
        else:
            return f"checkpoint {below}, which it follows, is not there"
        if top.checkpoint.prev != expected:
            return f"its prev is not the digest of checkpoint {below} (copied from elsewhere)"
        return None

    def _signed_below(
        self, numbers: list[int], firsts: Originals, key: str, table: str | None = None
    ) -> Checkpoint | None:
        """The newest checkpoint of ``numbers`` (ascending) signed with ``key``: this store's
        own when it knows one, else the first that verifies going down, however many are not
        (a writer of the bucket who cannot sign may put any number of objects above the last
        signed one: stopping short of it would free every stream it holds, to be read again
        from its first record and signed as it then stands)."""
        known = self._trusted
        if known is not None and numbers and known.number <= numbers[-1]:
            return known.checkpoint
        for below in reversed(numbers):
            stored = self.stored(below, firsts)
            if self.problem_of(stored, key, table) is None:
                self._trusted = stored
                return stored.checkpoint
        return None

    def problem_of(self, stored: Stored, key: str, table: str | None = None) -> str | None:
        """Why ``stored`` is not a checkpoint ``key`` signed under its own number, of
        ``table`` (None: of any table), written to this store's location (a body that names
        one) (None: it is). Asks KMS only about one this store did not find signed or write
        before."""
        checkpoint = stored.checkpoint
        if checkpoint is None:
            return "deleted (a delete marker only)" if stored.hidden else "not a checkpoint"
        if checkpoint.number != stored.number:
            return f"its body says it is checkpoint {checkpoint.number}"
        foreign = checkpoint.foreign_to(table, str(self.location))
        if foreign is not None:
            return foreign
        if stored.fingerprint in self._signed:
            return None
        problem = self.signature_problem(checkpoint, stored.body, stored.signature, key)
        if problem is None:
            self._signed.add(stored.fingerprint)
        return problem

    def signature_problem(
        self, checkpoint: Checkpoint, body: bytes, signature: str, key: str
    ) -> str | None:
        """Why ``body`` (``checkpoint``'s) with ``signature`` is not signed by ``key``, an ARN
        (None: it is): its body names another key, or its signature does not hold."""
        if checkpoint.key != key:
            return f"signed with {checkpoint.key}, not with {key}"
        if not signature or not self.signature_holds(body, signature, key):
            return "its signature does not hold (forged or edited)"
        return None

    def numbers(self) -> list[int]:
        """The numbers of the checkpoints there are, ascending (`listing`)."""
        return self.listing()[0]

    def listing(self) -> tuple[list[int], dict[int, Original]]:
        """The numbers of the checkpoints there are, ascending, those a delete marker hides
        too (ListObjectVersions: a marker must not free a number for a checkpoint of older
        heads); and each one's version first written, with what was done over it (a delete
        marker, versions written again), for `stored`."""
        return originals(self.versions(), self.number_of)

    def number_of(self, key: str) -> int | None:
        """The number of the checkpoint stored under ``key`` (None: not a checkpoint's)."""
        name = key[len(self.location.prefix) :]
        found = NAME.fullmatch(name)
        if found is None or name_of(int(found.group(1))) != name:  # one name per number
            return None
        return int(found.group(1)) or None  # numbered from 1: a checkpoint 0 is no checkpoint

    def looks_like_one(self, key: str) -> bool:
        """Whether ``key`` is named like a checkpoint (`NAME`), whatever its number."""
        return NAME.fullmatch(key[len(self.location.prefix) :]) is not None

    def versions(self) -> list[Version]:
        """Every version and delete marker under the prefix (ListObjectVersions)."""
        found: list[Version] = []
        pages = self.clients.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix
        )
        for answer in pages:
            for entry in answer.get("Versions", []):
                found.append(version_of(entry, False))
            for entry in answer.get("DeleteMarkers", []):
                found.append(version_of(entry, True))
        return found

    def read(self, key: str, version_id: str | None = None) -> tuple[bytes, dict[str, Any]]:
        """An object's body and its GetObject answer (metadata, lock mode)."""
        kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        answer = self.clients.s3.get_object(**kwargs)
        # one byte more than a checkpoint may hold tells a larger one (`parse_body`)
        body = read_body(self.clients.s3, answer["Body"], MOST_BYTES + 1)
        return body, dict(answer)

    def key_arn(self) -> str:
        """The ARN of the signing key (its alias or id resolved by DescribeKey)."""
        if not self.kms_key:
            raise ValueError("no KMS key to sign checkpoints with")
        if self._arn is None:
            metadata = self.clients.kms.describe_key(KeyId=self.kms_key)["KeyMetadata"]
            self._arn = str(metadata["Arn"])
        return self._arn

    def put(self, checkpoint: Checkpoint) -> bool:
        """Sign ``checkpoint`` and write it create-only; False when its number is taken."""
        body = checkpoint.body()
        if len(body) > MOST_BYTES:  # no reader would read it whole
            raise ValueError(
                f"checkpoint {checkpoint.number} would be {len(body)} bytes, more than the"
                f" {MOST_BYTES} a checkpoint may hold"
            )
        signed = self.clients.kms.sign(
            KeyId=checkpoint.key,
            Message=hashlib.sha256(body).digest(),
            MessageType="DIGEST",
            SigningAlgorithm=ALGORITHM,
        )
        signature = base64.b64encode(signed["Signature"]).decode("ascii")
        try:
            self.clients.s3.put_object(
                Bucket=self.location.bucket,
                Key=self.location.key(name_of(checkpoint.number)),
                Body=body,
                IfNoneMatch="*",
                ContentType="application/json",
                Metadata={"signature": signature, "signing-algorithm": ALGORITHM},
            )
        except ClientError as exc:
            if error_code(exc) in _TAKEN or _status(exc) in (409, 412):
                return False
            raise
        written = Stored(checkpoint.number, body, signature, checkpoint)
        self._signed.add(written.fingerprint)
        self._trusted = written
        return True

    def signature_holds(self, body: bytes, signature: str, key: str) -> bool:
        """True when ``signature`` (base64) is ``key``'s signature of ``body`` (KMS Verify)."""
        try:
            raw = base64.b64decode(signature, validate=True)
            answer = self.clients.kms.verify(
                KeyId=key,
                Message=hashlib.sha256(body).digest(),
                MessageType="DIGEST",
                Signature=raw,
                SigningAlgorithm=ALGORITHM,
            )
        except ValueError:
            return False
        except ClientError as exc:
            if error_code(exc) in ("KMSInvalidSignatureException", "ValidationException"):
                return False
            raise
        return bool(answer.get("SignatureValid"))


def _covered(top: Stored, where: str) -> str | None:
    """What was done over ``top``, a signed checkpoint read at its first version (None:
    nothing)."""
    done = ["a delete marker hides it"] if top.hidden else []
    if top.written > 1:
        done.append(f"it was written again ({top.written} versions: the first is the one read)")
    if not done:
        return None
    return f"{where}: {' and '.join(done)}; the streams are held to it still"


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


# --- writing one ------------------------------------------------------------------------------


@dataclass
class CheckpointOutcome:
    """What `write_checkpoint` did: the checkpoint written (None: none, ``taken``: another
    writer wrote that number first), and every inconsistency found (each stream it concerns
    kept where the previous checkpoint had it)."""

    checkpoint: Checkpoint | None = None
    key: str = ""
    findings: list[str] = field(default_factory=list)
    taken: bool = False


def write_checkpoint(
    table: LedgerTable,
    store: CheckpointStore,
    *,
    attempts: int = 3,
    newest: Newest | None = None,
    scan: bool = False,
) -> CheckpointOutcome:
    """Write the next checkpoint of ``table`` to ``store``: every stream's head, each checked
    against the previous checkpoint first. A number taken meanwhile by another writer is
    tried again on top of that one's (``attempts`` times). ``newest``: the store's newest
    checkpoint, when the caller has just read it (`CheckpointStore.newest`).

    A newest checkpoint whose signature does not hold (written by someone who can write the
    bucket but not sign) is a finding. The next one is still numbered after it and links to
    its body: numbers stay create-only (its number is taken for good), the signed chain pins
    the very bytes found there, and ``verify --checkpoints`` reports it by its signature
    alone, not as a break in the chain. Its heads vouch for nothing, so the streams are held
    to the newest checkpoint this store found signed (or wrote) below it, else read from
    their first record: signing what a forger wrote would pin it. ``scan``: also the
    streams no marker lists (`LedgerTable.streams_scanned`), each a finding (`UNLISTED`)."""
    key = store.key_arn()
    outcome = CheckpointOutcome()
    unlisted = table.streams_scanned()[1] if scan else set()  # one scan for every attempt
    for attempt in range(attempts):
        if attempt or newest is None:
            newest = store.newest(key, table.name)
        findings = [] if newest is None or newest.problem is None else [newest.problem]
        base = None if newest is None else newest.base
        heads = list(_heads(table, base, findings, unlisted))
        checkpoint = Checkpoint(
            number=1 if newest is None else newest.top.number + 1,
            prev=ZERO_HASH if newest is None else body_digest(newest.top.body),
            time=utc_now(),
            table=table.name,
            location=str(store.location),
            key=key,
            streams=tuple(sorted(heads, key=lambda head: head.stream)),
            forks=_forks(table, base, findings),
            findings=tuple(findings),
        )
        outcome = CheckpointOutcome(checkpoint, store.location.key(name_of(checkpoint.number)))
        outcome.findings = findings
        if store.put(checkpoint):
            return outcome
        outcome.taken = True
    outcome.checkpoint = None
    return outcome


def _heads(
    table: LedgerTable, previous: Checkpoint | None, findings: list[str], unlisted: set[str]
) -> Iterator[StreamHead]:
    """Each stream's head, or where ``previous`` had it when the stream is not consistent
    with it (a finding says why); of the ``unlisted`` ones too, each a finding."""
    listed = set(table.streams())
    findings.extend(f"{stream}: {UNLISTED}" for stream in sorted(unlisted))
    held = set() if previous is None else {head.stream for head in previous.streams}
    for stream in sorted(listed | unlisted | held):
        old = None if previous is None else previous.head_of(stream)
        problem, head = _advance(table, stream, old)
        if problem is not None:
            findings.append(f"{stream}: {problem}")
        if head is not None:
            yield head


def _forks(
    table: LedgerTable, previous: Checkpoint | None, findings: list[str]
) -> tuple[ForkEntry, ...]:
    """Every fork the ledger records, and every one ``previous`` held: one no longer there as
    it was (its item overwritten, which drops it out of the ``kind`` index) is a finding,
    and is kept as ``previous`` had it."""
    found: dict[tuple[str, int], ForkEntry] = {}
    for item in table.forks():
        entry = ForkEntry.of_item(item)
        found[(entry.key, entry.seq)] = entry
    for old in () if previous is None else previous.forks:
        if found.get((old.key, old.seq)) != old:
            findings.append(
                f"{old.stream}: the fork at seq {old.seq} that a checkpoint recorded (item "
                f"{old.key}, digest {old.digest}) is no longer in the ledger as it was: "
                "overwritten since"
            )
            found[(old.key, old.seq)] = old
    return tuple(sorted(found.values(), key=lambda entry: (entry.key, entry.seq)))


def _advance(
    table: LedgerTable, stream: str, old: StreamHead | None
) -> tuple[str | None, StreamHead | None]:
    """The stream's new head when it follows on from ``old``; else why not, and ``old``."""
    newest = table.head(stream)
    odd = None if newest is None else odd_seq(newest)
    if odd is not None:  # taken for seq 0, the stream would never be signed again
        return f"its newest item {odd}", old
    size = 0 if newest is None else number(newest, "seq") or 0
    if old is not None and newest is not None and size == old.size:
        # a stream that did not move: its head is the item read, nothing more to read
        line = line_of(newest)
        if line is None or full_sha256(line) != old.head:
            return f"seq {old.size} changed since a checkpoint held it (its head)", old
        problems = item_problems(newest, line)
        if problems:
            return f"the item at seq {size} {problems[0]}", old
        return None, old
    if old is not None:
        if size < old.size:
            what = "has no record" if newest is None else f"ends at seq {size}"
            return f"{what}, and a checkpoint saw it at seq {old.size}: records were deleted", old
        at_old = table.get(stream, old.size)
        line = None if at_old is None else line_of(at_old)
        if line is None or full_sha256(line) != old.head:
            return f"seq {old.size} changed since a checkpoint held it (its head)", old
    if newest is None:
        return None, None
    start = 1 if old is None else old.size
    line = line_of(newest) or b""
    problem = follows_on(table.records(stream, start), start, size, line)
    if problem is not None:
        return problem, old
    return None, StreamHead(stream, size, full_sha256(line))

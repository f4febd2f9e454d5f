"""The walk's fast path: runs of lines checked by byte position only, hashing as it goes.

Each function accepts lines from ``start`` on while every one is laid out and chained as a
writer writes it (positions from `record`), and returns how many it accepted and the digest
the next line's ``prev`` must hold. They never report: the first line they do not accept goes
to `walk.ChainWalk`, which looks at it closely. The loops bind everything to locals and branch
on the algorithm once, outside the loop: they run once per line of the log.
"""

from __future__ import annotations

import hashlib
from itertools import islice

from .record import (
    CHAIN_MARKS,
    CHAIN_SHA256,
    DIGEST_KEY,
    DIGEST_START,
    DIGEST_TAIL,
    LINE_END,
    LINE_START,
    SEALED_END,
    SEQ_KEY,
    Pads,
    chain_hash,
)


def scan_sealed(
    lines: list[bytes], start: int, prev: bytes, seq: int, chain: str, pads: Pads | None
) -> tuple[int, bytes]:
    """Sealed lines naming ``chain``: envelope, prev, seq, algorithm and own digest.

    The own digest and the full line's digest share one pass over the line (its tail is
    added after the first digest is taken); under HMAC, the key's inner and outer SHA-256
    states are prepared once (``pads``, from `hmac_pads`) and copied per line, as RFC 2104
    allows.
    """
    mark = CHAIN_MARKS[chain]
    mark_at, tail = DIGEST_START - len(mark), -DIGEST_TAIL
    opening = LINE_START + b"%s" + SEQ_KEY + b"%d,"  # {"prev":"<prev>","seq":<seq>,
    closing = mark + b"%s" + SEALED_END  # ,"chain":"<chain>","digest":"<digest>"}
    first = seq
    if chain == CHAIN_SHA256:
        sha256 = hashlib.sha256
        for line in islice(lines, start, None):
            if not line.startswith(opening % (prev, seq + 1)):
                break
            digest = sha256(line[:tail])
            if line[mark_at:] != closing % digest.hexdigest().encode():
                break
            digest.update(line[tail:])
            prev = digest.hexdigest().encode()
            seq += 1
        return seq - first, prev
    assert pads is not None
    inner, outer = pads
    for line in islice(lines, start, None):
        if not line.startswith(opening % (prev, seq + 1)):
            break
        keyed = inner.copy()
        keyed.update(line[:tail])
        digest = outer.copy()
        digest.update(keyed.digest())
        if line[mark_at:] != closing % digest.hexdigest().encode():
            break
        keyed.update(line[tail:])
        digest = outer.copy()
        digest.update(keyed.digest())
        prev = digest.hexdigest().encode()
        seq += 1
    return seq - first, prev


def scan_first_format(
    lines: list[bytes], start: int, prev: bytes, seq: int, key: bytes | None
) -> tuple[int, bytes]:
    """Lines in the first format (no digest of their own): envelope ``{"prev":"`` ... ``}``,
    prev and seq; a sealed line is left for the walk (the format changes there)."""
    first = seq
    opening = LINE_START + b"%s" + SEQ_KEY + b"%d,"
    sealed_at = DIGEST_START - len(DIGEST_KEY)
    for line in islice(lines, start, None):
        if (
            not line.startswith(opening % (prev, seq + 1))
            or line[-1] != LINE_END
            or line[sealed_at:DIGEST_START] == DIGEST_KEY
        ):
            break
        prev = chain_hash(line, key).encode()
        seq += 1
    return seq - first, prev

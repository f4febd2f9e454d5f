"""Encoding one audit record, two ways, side by side: one pass of the JSON encoder over the
whole record (what the writer does), and a line spliced from pre-encoded parts (the fields
that are the same in every record of a writer, encoded once, and the others encoded one by
one). Both give the same bytes, checked before timing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bench.audit_throughput import FIELDS
from bench.common import alternate, summarize
from rds_guard.audit import new_call_id
from rds_guard.audit.record import Record, build_record, encode

WRITER_FIELDS = ("policy", "pid", "host", "chain")
"""The fields every record of one writer has the same value in."""

_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


@dataclass(frozen=True)
class EncodingCost:
    """Median microseconds to encode one record each way."""

    one_pass_us: float
    spliced_us: float
    record_bytes: int


def typical_record() -> Record:
    """A `requested` record as the throughput runs write it, not yet sealed."""
    return build_record("requested", {"call": new_call_id(), **FIELDS}, "0" * 64, 1, "1" * 64)


def spliced(record: Record, constant: Collection[str] = WRITER_FIELDS) -> Callable[[], bytes]:
    """An encoder of ``record``'s line with the ``constant`` fields (and every key) encoded
    once, ahead, and each other value encoded when called."""
    encoded = {name: f",{_ENCODE(name)}:{_ENCODE(record[name])}" for name in constant}
    keys = {name: f",{_ENCODE(name)}:" for name in record}
    order = tuple(record)

    def encode_spliced() -> bytes:
        parts = []
        for name in order:
            if name in encoded:
                parts.append(encoded[name])
            else:
                parts += (keys[name], _ENCODE(record[name]))
        return ("{" + "".join(parts)[1:] + "}").encode("ascii")

    return encode_spliced


def measure(rounds: int, repeat: int = 100) -> EncodingCost:
    """Both encodings of `typical_record`, alternated ``rounds`` times, each timing
    ``repeat`` encodings."""
    record = typical_record()
    one_pass = encode(record)
    encode_spliced = spliced(record)
    if encode_spliced() != one_pass:
        raise RuntimeError("the spliced line differs from the record's own encoding")

    def timed(encoder: Callable[[], bytes]) -> Callable[[], float]:
        def sample() -> float:
            started = time.perf_counter()
            for _ in range(repeat):
                encoder()
            return (time.perf_counter() - started) / repeat

        return sample

    whole, parts = alternate([timed(lambda: encode(record)), timed(encode_spliced)], rounds)
    return EncodingCost(summarize(whole).median * 1e6, summarize(parts).median * 1e6, len(one_pass))

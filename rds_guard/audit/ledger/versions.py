"""A checkpoint object's versions as S3 lists them, and the one first written under each
number: the version Object Lock keeps, which is the checkpoint, whatever was put over it or
a delete marker hides."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from rds_guard.core.frozen import frozen

__all__ = ["Original", "Originals", "Version", "originals", "version_of"]


@frozen
class Version:
    """One version of an object under the prefix (or a delete marker)."""

    key: str
    version_id: str
    modified: str
    delete_marker: bool = False
    latest: bool = False
    """S3's ``IsLatest``: the current version of its key."""


@frozen
class Original:
    """The version first written under a checkpoint's number, when the current one is not it."""

    version_id: str | None
    """None: no version is left, only delete markers."""
    hidden: bool = False
    """Its current version is a delete marker."""
    written: int = 1
    """How many versions (no delete marker) were written under the number."""


Originals: TypeAlias = Mapping[int, Original]
"""The checkpoints whose current version is not the one first written, by number."""


def version_of(entry: Mapping[str, Any], marker: bool) -> Version:
    """A `Version` from an entry of ListObjectVersions' ``Versions`` or ``DeleteMarkers``."""
    return Version(
        str(entry["Key"]),
        str(entry.get("VersionId") or "null"),
        str(entry.get("LastModified", "")),
        marker,
        bool(entry.get("IsLatest")),
    )


def originals(
    versions: Iterable[Version], number_of: Callable[[str], int | None]
) -> tuple[list[int], dict[int, Original]]:
    """The checkpoint numbers among ``versions``, ascending (those a delete marker hides
    too: a marker must not free a number), and each one whose current version is not the
    one first written (S3 lists a key's versions newest first: the first written is the
    last listed)."""
    found: set[int] = set()
    hidden: set[int] = set()
    first: dict[int, str] = {}
    written: dict[int, int] = {}
    for version in versions:
        number = number_of(version.key)
        if number is None:
            continue
        found.add(number)
        if version.delete_marker:
            if version.latest:
                hidden.add(number)
        else:
            first[number] = version.version_id
            written[number] = written.get(number, 0) + 1
    odd = hidden | {number for number, count in written.items() if count > 1}
    return sorted(found), {
        number: Original(first.get(number), number in hidden, written.get(number, 0))
        for number in sorted(odd)
    }

"""A checkpoint object's versions as S3 lists them, and the one first written under each
number: the version Object Lock keeps, which is the checkpoint, whatever was put over it or
a delete marker hides."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from rds_guard.core.frozen import frozen

__all__ = ["Original", "Originals", "Version", "by_number", "originals", "version_of"]


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
    """The version first written under a checkpoint's number (the one Object Lock keeps),
    and what was done over it."""

    version_id: str | None
    """None: no version is left, only delete markers."""
    hidden: bool = False
    """Its current version is a delete marker."""
    written: int = 1
    """How many versions (no delete marker) were written under the number."""


Originals: TypeAlias = Mapping[int, Original]
"""Each checkpoint's number, with the version first written under it."""


def version_of(entry: Mapping[str, Any], marker: bool) -> Version:
    """A `Version` from an entry of ListObjectVersions' ``Versions`` or ``DeleteMarkers``."""
    return Version(
        str(entry["Key"]),
        str(entry.get("VersionId") or "null"),
        str(entry.get("LastModified", "")),
        marker,
        bool(entry.get("IsLatest")),
    )


def by_number(
    versions: Iterable[Version], number_of: Callable[[str], int | None]
) -> dict[int, list[Version]]:
    """The versions and delete markers of each checkpoint object, by its number, the first
    written first (S3 lists a key's versions newest first; their times are only to the
    second). Versions of keys that name no checkpoint are left out."""
    found: dict[int, list[Version]] = {}
    for version in versions:
        number = number_of(version.key)
        if number is not None:
            found.setdefault(number, []).append(version)
    for listed in found.values():
        listed.reverse()
    return found


def originals(
    versions: Iterable[Version], number_of: Callable[[str], int | None]
) -> tuple[list[int], dict[int, Original]]:
    """The checkpoint numbers among ``versions``, ascending (those a delete marker hides
    too: a marker must not free a number), each with the version first written under it."""
    found = by_number(versions, number_of)
    first: dict[int, Original] = {}
    for number, listed in found.items():
        written = [version for version in listed if not version.delete_marker]
        hidden = any(version.delete_marker and version.latest for version in listed)
        version_id = written[0].version_id if written else None
        first[number] = Original(version_id, hidden, len(written))
    return sorted(found), first

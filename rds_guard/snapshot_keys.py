"""Values by snapshot `Key`, as `reconcile` indexes a log's records: a name may be a DB
snapshot and a DB cluster snapshot at once (two namespaces), and a record that does not say
which stands for either."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

V = TypeVar("V")
Key = tuple[str | None, str]
"""A snapshot: its ARN resource type (``cluster-snapshot``, ``snapshot``; None when a record
does not tell, which matches either) and its lower-case name."""


class ByKey(Generic[V]):
    """Values by snapshot `Key`; a key whose type is None matches a snapshot of either type
    (`get` then gives the first value that is not empty)."""

    def __init__(self) -> None:
        self._names: dict[str, dict[str | None, V]] = {}

    def get(self, key: Key) -> V | None:
        """The value of the snapshot ``key`` names (None: none)."""
        kind, name = key
        types = self._names.get(name, {})
        if kind is None:
            return next((value for value in types.values() if value), None)
        return types[kind] if kind in types else types.get(None)

    def set(self, key: Key, value: V) -> None:
        """Set the value of exactly ``key``."""
        self._names.setdefault(key[1], {})[key[0]] = value

    def setdefault(self, key: Key, value: V) -> V:
        """The value of exactly ``key``, set to ``value`` first when it has none."""
        return self._names.setdefault(key[1], {}).setdefault(key[0], value)

    def pop(self, key: Key) -> list[V]:
        """Forget ``key``, and a key of that name whose type is not known (with a type None:
        every key of that name); the values forgotten."""
        kind, name = key
        types = self._names.get(name, {})
        forgotten = [
            types.pop(known)
            for known in (list(types) if kind is None else [kind, None])
            if known in types
        ]
        if not types:  # a year's log deletes tens of thousands of snapshots
            self._names.pop(name, None)
        return forgotten

    def forget_exactly(self, key: Key) -> None:
        """Forget ``key`` alone (a key of that name and another type, or none, stays)."""
        types = self._names.get(key[1], {})
        types.pop(key[0], None)
        if not types:
            self._names.pop(key[1], None)

    def items(self) -> Iterator[tuple[Key, V]]:
        """Every key and its value."""
        for name, types in self._names.items():
            for kind, value in types.items():
                yield (kind, name), value


class CallsByKey(ByKey[set[str]]):
    """Call ids by the snapshot `Key` their records give (none kept for a call naming none)."""

    def add(self, key: Key | None, call: str) -> None:
        if key is not None:
            self.setdefault(key, set()).add(call)

    def discard(self, key: Key | None, call: str) -> None:
        if key is None:
            return
        calls = self._names.get(key[1], {}).get(key[0])  # exactly ``key``'s
        if calls is not None:
            calls.discard(call)
            if not calls:  # a year's log names tens of thousands of snapshots
                self.forget_exactly(key)

    def take(self, key: Key) -> set[str]:
        """The calls that may name the snapshot ``key``, forgotten here."""
        return set().union(*self.pop(key))

"""Values that say one thing and are sent as another, for the tests of what the guard judges
against what botocore sends."""

from __future__ import annotations

from typing import Any


class EncodesAs(str):
    """A string that holds one text and is sent as another: botocore (and urllib) send a
    string through its own ``encode()``, where ``str()`` of it gives the text it holds."""

    sent: str

    def __new__(cls, held: str, sent: str) -> EncodesAs:
        made = super().__new__(cls, held)
        made.sent = sent
        return made

    def encode(self, *_: Any, **__: Any) -> bytes:
        return self.sent.encode()

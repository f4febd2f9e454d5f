"""The library's two loggers, each of whose messages is one line of printable text.

A message may quote what an attacker chose: a tag key, an endpoint's error message, a stream
name read from the ledger's table, a file's path. A line break in it would forge another line
of the application's log, and a terminal escape or a bidi override would rewrite what is
shown. `OneLine` escapes every record of the two loggers where it is made, whatever the
handler or formatter, so no call site has to remember to.
"""

from __future__ import annotations

import logging
import traceback

from rds_guard.core.rules import escaped

__all__ = ["AUDIT_LOGGER", "LOGGER", "OneLine"]

_TRACEBACK_HEADERS = frozenset(
    {
        "Traceback (most recent call last):\n",
        "\nDuring handling of the above exception, another exception occurred:\n\n",
        "\nThe above exception was the direct cause of the following exception:\n\n",
    }
)
"""The lines of a formatted traceback that are the traceback's own, as `traceback` writes them."""


class OneLine(logging.Filter):
    """Escapes a record's message (`escaped`), and the exception messages of its traceback,
    so that what it quotes cannot break its line. Passes every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Escape ``record`` in place; True (the record is kept)."""
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: the handler reports it, as logging does
            return True
        safe = escaped(message)
        if safe != message:
            record.msg, record.args = safe, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = traceback_text(record.exc_info[1])
        return True


def traceback_text(error: BaseException) -> str:
    """``error``'s traceback as logging formats it, but each exception's message escaped:
    the frames are the code's own, the messages may quote anything (a tag, a response)."""
    chunks = traceback.TracebackException.from_exception(error).format()
    return "".join(
        chunk
        if chunk in _TRACEBACK_HEADERS or chunk.startswith('  File "')
        else escaped(chunk.removesuffix("\n")) + "\n"
        for chunk in chunks
    ).removesuffix("\n")


def _logger(name: str) -> logging.Logger:
    made = logging.getLogger(name)
    if not any(isinstance(each, OneLine) for each in made.filters):  # a module reloaded
        made.addFilter(OneLine())
    return made


LOGGER = _logger("rds_guard")
"""Where the guard, the ledger's shipper and the policy's loader log (DESIGN §3, §5)."""

AUDIT_LOGGER = _logger("rds_guard.audit")
"""Where every audit record is emitted at INFO, and where a record that could not be written
is logged (DESIGN §6)."""

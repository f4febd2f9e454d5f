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

_MARK = "rds_guard_one_line"
"""The attribute that tells `OneLine` on a logger, whichever import of this module made it."""


class OneLine(logging.Filter):
    """Escapes a record's message (`escaped`) so that what it quotes cannot break its line,
    and formats its traceback with each exception's message and notes escaped when one
    holds what is not printable (else the handler's formatter formats it, as its own).
    Passes every record."""

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
            try:
                record.exc_text = traceback_text(record.exc_info[1])
            except Exception:  # never into the code that logs, whatever the traceback holds
                record.exc_text = None
        return True


setattr(OneLine, _MARK, True)


def traceback_text(error: BaseException) -> str | None:
    """``error``'s traceback as logging formats it, each exception's message and notes
    escaped (of the chain, and of an exception group's members); None when none of them
    needs it. The frames are the code's own; the messages may quote anything."""
    shown = traceback.TracebackException.from_exception(error)
    if not _escape(shown):
        return None
    return "".join(shown.format()).removesuffix("\n")


def _escape(first: traceback.TracebackException) -> bool:
    """Escape the texts of ``first`` and of those it leads to, in place (iteratively, as
    `TracebackException` walks them: a chain may be longer than the recursion limit); whether
    any changed."""
    changed = False
    seen: set[int] = set()
    waiting = [first]
    while waiting:
        shown = waiting.pop()
        if id(shown) in seen:
            continue
        seen.add(id(shown))
        text = getattr(shown, "_str", None)  # the message as `format` writes it (CPython 3.11+)
        if isinstance(text, str) and escaped(text) != text:
            shown._str = escaped(text)  # type: ignore[attr-defined]  # typeshed lacks it
            changed = True
        notes = getattr(shown, "__notes__", None)
        if isinstance(notes, list) and any(escaped(str(note)) != str(note) for note in notes):
            shown.__notes__ = [escaped(str(note)) for note in notes]
            changed = True
        linked = (shown.__cause__, shown.__context__, *(shown.exceptions or ()))
        waiting.extend(each for each in linked if each is not None)
    return changed


def _logger(name: str) -> logging.Logger:
    made = logging.getLogger(name)
    if not any(getattr(each, _MARK, False) for each in made.filters):  # a module reloaded
        made.addFilter(OneLine())
    return made


LOGGER = _logger("rds_guard")
"""Where the guard, the ledger's shipper and the policy's loader log (DESIGN §3, §5)."""

AUDIT_LOGGER = _logger("rds_guard.audit")
"""Where every audit record is emitted at INFO, and where a record that could not be written
is logged (DESIGN §6)."""

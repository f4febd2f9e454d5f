"""Every message of the library's loggers is one line of printable text, whatever it quotes
and whichever handler writes it (`rds_guard.core.logs`)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from rds_guard.core.logs import AUDIT_LOGGER, LOGGER, OneLine

FORGED = "orders\n2026-12-03 WARNING rds_guard: all clear\x1b[2K\u202egnp.txt"


@pytest.fixture(params=[LOGGER, AUDIT_LOGGER], ids=["rds_guard", "rds_guard.audit"])
def written(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """One of the two loggers, writing through a plain handler (no caplog: what an
    application's own handler is given) into a buffer."""
    logger: logging.Logger = request.param
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_an_argument_cannot_forge_a_line(written: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = written
    logger.warning("could not read %s: %s", FORGED, "AccessDenied")
    (line,) = buffer.getvalue().splitlines()
    assert line == (
        f"WARNING {logger.name}: could not read orders\\n2026-12-03 WARNING rds_guard: all"
        " clear\\x1b[2K\\u202egnp.txt: AccessDenied"
    )


def test_the_message_itself_is_escaped(written: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = written
    logger.error(FORGED)
    assert len(buffer.getvalue().splitlines()) == 1
    assert "\x1b" not in buffer.getvalue() and "\u202e" not in buffer.getvalue()


def test_a_traceback_keeps_its_lines_but_not_the_message_s(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = written
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError(FORGED) from inner
    except ValueError:
        logger.exception("shipping failed")
    lines = buffer.getvalue().splitlines()
    assert lines[0] == f"ERROR {logger.name}: shipping failed"
    assert "The above exception was the direct cause of the following exception:" in lines
    assert lines.count("Traceback (most recent call last):") == 2
    assert any(line.startswith('  File "') for line in lines)
    assert lines[-1] == (
        "ValueError: orders\\n2026-12-03 WARNING rds_guard: all clear\\x1b[2K\\u202egnp.txt"
    )
    assert not any(line.startswith("2026-12-03") for line in lines)


def test_printable_messages_keep_their_arguments(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    """A handler that reads ``args`` (a structured one) still gets them when nothing needed
    escaping."""
    logger, buffer = written
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logger.addHandler(keep)
    try:
        logger.info("%s: %d record(s)", "audit.jsonl", 3)
    finally:
        logger.removeHandler(keep)
    (record,) = seen
    assert (record.msg, record.args) == ("%s: %d record(s)", ("audit.jsonl", 3))
    assert buffer.getvalue() == f"INFO {logger.name}: audit.jsonl: 3 record(s)\n"


def test_arguments_that_do_not_fit_are_left_to_logging() -> None:
    """The filter never raises into the code that logs: the record goes on as it was, and
    logging's handler reports the mismatch as it always does."""
    record = logging.LogRecord(
        "rds_guard", logging.WARNING, __file__, 1, "%d records", ("x",), None
    )
    assert OneLine().filter(record) is True
    assert (record.msg, record.args) == ("%d records", ("x",))
    with pytest.raises(TypeError):
        record.getMessage()


def test_each_logger_has_the_filter_once() -> None:
    """Reloading the module (a new `OneLine` class) adds no second filter."""
    import importlib

    import rds_guard.core.logs as logs

    importlib.reload(logs)
    for logger in (LOGGER, AUDIT_LOGGER):
        marked = [f for f in logger.filters if getattr(f, "rds_guard_one_line", False)]
        assert len(marked) == 1


def test_a_notes_lines_are_escaped_too(written: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = written
    error = ValueError("bad value")
    error.add_note(FORGED)
    try:
        raise error
    except ValueError:
        logger.exception("failed")
    lines = buffer.getvalue().splitlines()
    assert lines[-2:] == [
        "ValueError: bad value",
        "orders\\n2026-12-03 WARNING rds_guard: all clear\\x1b[2K\\u202egnp.txt",
    ]


def test_an_exception_groups_members_are_escaped_and_its_frames_kept(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = written
    try:
        raise ExceptionGroup("several", [ValueError(FORGED), KeyError("k")])
    except ExceptionGroup:
        logger.exception("failed")
    text = buffer.getvalue()
    assert "| ValueError: orders\\n2026-12-03 WARNING rds_guard: all clear" in text
    assert not any(line.startswith("2026-12-03") for line in text.splitlines())
    frames = [line for line in text.splitlines() if line.lstrip(" |").startswith('File "')]
    assert frames and all("\\n" not in line for line in frames)


def test_a_printable_traceback_is_left_to_the_handlers_formatter(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    """An application's own `formatException` (one line, JSON) still formats the traceback
    of a record that needed no escaping."""
    logger, buffer = written

    class Short(logging.Formatter):
        def formatException(self, ei: Any) -> str:
            return f"[{ei[0].__name__}]"

    (handler,) = [h for h in logger.handlers if getattr(h, "stream", None) is buffer]
    handler.setFormatter(Short("%(message)s"))
    try:
        raise ValueError("plain")
    except ValueError:
        logger.exception("failed")
    assert buffer.getvalue() == "failed\n[ValueError]\n"


def test_a_chain_deeper_than_the_recursion_limit_is_logged_escaped(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    """The filter never raises into the code that logs, and walks as far as logging does: a
    chain of causes deeper than the recursion limit is logged, the message at its root
    escaped (a recursive walk gave up there and left the chain to logging, unescaped)."""
    error: BaseException = ValueError("first\x1b[2J\nforged")
    for depth in range(sys.getrecursionlimit() + 100):
        try:
            raise ValueError(f"cause {depth}") from error
        except ValueError as raised:
            error = raised
    try:
        raise error
    except ValueError:
        logger, buffer = written
        logger.exception("failed")
    lines = buffer.getvalue().splitlines()
    assert lines[0] == f"ERROR {logger.name}: failed"
    assert lines[-1] == f"ValueError: cause {sys.getrecursionlimit() + 99}"
    assert "ValueError: first\\x1b[2J\\nforged" in lines
    assert not any("\x1b" in line or line == "forged" for line in lines)

"""Logging while the process exits, when some handlers may write to streams already closed.

A handler created while pytest (or anything else) had replaced ``sys.stderr`` keeps that
stream after it was closed; logging to it prints ``--- Logging error --- ValueError: I/O
operation on closed file`` with a stack trace. What the tracer logs at exit goes to the
handlers that can still write, as ``Logger.handle`` would send it; a handler whose stream is
closed counts as no handler, so with none left the record reaches ``sys.stderr`` through
``logging.lastResort``, as it would in a process that configured no logging.
"""

from __future__ import annotations

import contextlib
import logging


def log_at_exit(logger: logging.Logger, level: int, message: str, *args: object) -> None:
    """Log like ``logger.log(level, message, *args)``, skipping handlers with closed streams."""
    if not logger.isEnabledFor(level):
        return
    path, line, function, _stack = logger.findCaller(stacklevel=2)
    record = logger.makeRecord(logger.name, level, path, line, message, args, None, function)
    if logger.disabled or not logger.filter(record):
        return
    usable_handlers = 0
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if _stream_closed(handler):
                continue
            usable_handlers += 1
            if record.levelno >= handler.level:
                _handle(handler, record)
        current = current.parent if current.propagate else None
    last_resort = logging.lastResort
    if usable_handlers == 0 and last_resort is not None and record.levelno >= last_resort.level:
        _handle(last_resort, record)


def _stream_closed(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return bool(getattr(stream, "closed", False))


def _handle(handler: logging.Handler, record: logging.LogRecord) -> None:
    # A handler failing at exit must not end the exit flush.
    with contextlib.suppress(Exception):
        handler.handle(record)

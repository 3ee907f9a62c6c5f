"""Why an export failed, told in a few words, from what the exporter logged or raised.

The OTLP exporters log every retry and every failure, with the exception's whole repr. While
one of our exports runs, those records are held back (:class:`HeldRecords`) and turned into
one short reason for the WARNING, and the full messages for a DEBUG line, never cut.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Final

#: Loggers of the OTLP exporters and their HTTP client, across supported SDK versions.
EXPORTER_LOGGERS: Final = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.common._internal",
)


@dataclasses.dataclass
class Attempt:
    """What one call to an exporter left behind: its log records, the error it raised."""

    records: list[logging.LogRecord] = dataclasses.field(default_factory=list)
    error: BaseException | None = None
    seconds: float = 0.0
    #: The export used up the time it was given.
    timed_out: bool = False
    #: Runs when the exporter logs a warning or an error: it is about to wait and retry
    #: (1, 2, 4... seconds) or has given up.
    on_warning: Callable[[], None] | None = None

    def reason(self) -> str:
        """A short reason, whole: the innermost cause of an error (``Connection refused``), a
        gRPC status and its details, else the exporter's first message."""
        if self.timed_out:
            return f"no answer within {self.seconds:.1f} s"
        arguments = [
            record.args for record in self.records if isinstance(record.args, tuple) and record.args
        ]
        errors = [self.error] if self.error is not None else []
        errors += [arg for args in arguments for arg in args if isinstance(arg, BaseException)]
        if errors:
            return innermost_cause(errors[0])
        for args in arguments:
            status = next((arg for arg in args if isinstance(arg, enum.Enum)), None)
            if status is not None:  # the gRPC exporter logs the status code, details last
                details = args[-1] if isinstance(args[-1], str) else ""
                return f"{status.name}: {details}" if details else status.name
        if self.records:
            return _message(self.records[0]).rstrip(".")
        return f"no answer within {self.seconds:.1f} s"

    def details(self) -> str:
        """Every distinct message the exporter logged, in order, each one whole."""
        messages = [_message(record).rstrip(".") for record in self.records]
        if self.error is not None:
            messages.append(f"{type(self.error).__name__}: {self.error}")
        return " / ".join(dict.fromkeys(messages)) or "the exporter gave no details"


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a record whose arguments do not fit its format
        return str(record.msg)


def innermost_cause(error: BaseException) -> str:
    """``Connection refused`` rather than three nested reprs of the same failure."""
    seen = {id(error)}
    while True:
        inner = error.__cause__ or error.__context__
        if inner is None:
            inner = next((arg for arg in error.args if isinstance(arg, BaseException)), None)
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        error = inner
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class HeldRecords(logging.Filter):
    """Keeps the exporters' records out of the log while this thread runs one of our exports.

    Attached to :data:`EXPORTER_LOGGERS`; a record logged by another thread passes through.
    """

    def __init__(self) -> None:
        super().__init__("signal_tracing.exporting")
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        attempt: Attempt | None = getattr(self.local, "attempt", None)
        if attempt is None:
            return True
        attempt.records.append(record)
        if attempt.on_warning is not None and record.levelno >= logging.WARNING:
            attempt.on_warning()
        return False

    @contextlib.contextmanager
    def holding(self) -> Iterator[Attempt]:
        """Hold the exporter records this thread logs meanwhile in the yielded attempt."""
        attempt = Attempt()
        self.local.attempt = attempt
        try:
            yield attempt
        finally:
            self.local.attempt = None

    def attach(self) -> None:
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def detach(self) -> None:
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).removeFilter(self)

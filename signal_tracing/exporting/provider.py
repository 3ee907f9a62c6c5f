"""Building an SDK ``TracerProvider`` with a batching exporter, configured like the SDK would be.

Only what the SDK cannot know is decided here: the service name when no variable names one,
and which OTLP exporter class the protocol variables ask for. Everything else (sampler, span
limits, batch queue sizes, endpoints, headers, timeouts, compression, certificates) the SDK
and the exporters read from ``OTEL_*`` variables themselves.
"""

from __future__ import annotations

import os
import sys
from typing import Final, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from signal_tracing.conf import Config
from signal_tracing.exporting.batching import CountingBatchSpanProcessor
from signal_tracing.exporting.guard import GuardedExporter
from signal_tracing.exporting.requirements import GRPC, HTTP_PROTOBUF, otlp_protocol
from signal_tracing.exporting.sending import ExporterWithTimeout

TRACES_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
_DEFAULT_ENDPOINTS: Final = {GRPC: "http://localhost:4317", HTTP_PROTOBUF: "http://localhost:4318"}


def default_service_name() -> str:
    """The settings module's top package (``mysite`` for ``mysite.settings``), else "django"."""
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "").strip()
    return settings_module.partition(".")[0] or "django"


def resource(config: Config) -> Resource:
    """The process's resource: ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` win.

    Operators set those variables per deployment; ``SERVICE_NAME`` in settings is the fallback
    that the code base ships with, and the settings module's name the last resort.
    """
    from_environment = OTELResourceDetector().detect().attributes.get(SERVICE_NAME)
    if from_environment:
        return Resource.create()
    return Resource.create({SERVICE_NAME: config.service_name or default_service_name()})


def otlp_destination() -> str:
    """Where the OTLP exporter sends, resolved by the specification's rules (for messages).

    Credentials in the URL (``https://user:token@host``) are left out: this goes to the log.
    """
    protocol = otlp_protocol(os.environ)[0]
    endpoint = os.environ.get(TRACES_ENDPOINT, "").strip()
    if not endpoint:
        endpoint = os.environ.get(ENDPOINT, "").strip() or _DEFAULT_ENDPOINTS.get(protocol, "")
        if protocol != GRPC:
            endpoint = endpoint.rstrip("/") + "/v1/traces"
    parts = urlsplit(endpoint)
    if parts.username is not None or parts.password is not None:
        endpoint = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return f"{endpoint} ({protocol})"


def span_exporter(exporter: str, timeout: float | None = None) -> tuple[SpanExporter, str]:
    """Return the span exporter asked for by name, and a description of where it sends.

    ``timeout`` (seconds, retries included) replaces the ``OTEL_EXPORTER_OTLP_*TIMEOUT`` one.
    """
    if exporter == "console":
        # stderr: a command's stdout may be data (dumpdata, inspectdb) and must stay clean.
        return ConsoleSpanExporter(out=sys.stderr), "the console (stderr)"
    if otlp_protocol(os.environ)[0] == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(timeout=timeout), otlp_destination()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(timeout=timeout), otlp_destination()


def exit_exporter(exporter: str) -> ExporterWithTimeout | None:
    """What builds the exporter used at exit, bounded by what is left of the exit budget."""
    if exporter == "console":
        return None  # writes at once: the running one does
    return lambda seconds: span_exporter(exporter, timeout=seconds)[0]


class Built(NamedTuple):
    provider: TracerProvider
    processor: CountingBatchSpanProcessor
    guard: GuardedExporter
    destination: str


def build_provider(config: Config) -> Built:
    """Return a new provider exporting in batches to ``config.exporter`` (not made global),
    its batch processor, the guard around its exporter, and a description of where it sends.

    Nothing is registered to run at exit: ``shutdown.ExitFlush`` does that, within a budget
    (the SDK's own exit handler would wait up to the exporter's timeout for each batch).
    """
    if config.exporter is None:
        raise ValueError("build_provider() needs an exporter name")
    exporter, destination = span_exporter(config.exporter)
    # gRPC channels do not survive fork() (docs/jaeger.md says to use HTTP with --preload).
    http = config.exporter == "otlp" and otlp_protocol(os.environ)[0] == HTTP_PROTOBUF
    guard = GuardedExporter(
        exporter, destination, exit_exporter(config.exporter), renew_after_fork=http
    )
    processor = CountingBatchSpanProcessor(guard)
    provider = TracerProvider(resource=resource(config), shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return Built(provider, processor, guard, destination)

"""A small OTLP receiver that can misbehave: for what Rotel cannot show or do.

It speaks real OTLP (HTTP/protobuf on ``/v1/traces``, and gRPC ``TraceService/Export``) on an
ephemeral 127.0.0.1 port, records each request's headers and decoded spans, and can answer
normally, refuse (an HTTP status or gRPC code of your choice), or be slow (hold each request
for a while before answering). Tests use it to check headers, timeouts and outages; Rotel is
used for everything else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass
class Received:
    headers: dict[str, str]
    span_names: list[str]


@dataclass
class Behaviour:
    """How the receiver answers: ``refuse_with`` an HTTP status (gRPC: UNAVAILABLE)."""

    refuse_with: int | None = None
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, headers: dict[str, str], body: bytes) -> None:
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        names = [
            span.name
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self.lock:
            self.requests.append(Received(headers, names))

    def span_names(self) -> list[str]:
        with self.lock:
            return [name for request in self.requests for name in request.span_names]


def _http_handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            behaviour.record({key.lower(): value for key, value in self.headers.items()}, body)
            time.sleep(behaviour.delay)
            status = behaviour.refuse_with or 200
            payload = b"" if status != 200 else _empty_response()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _empty_response() -> bytes:
    return trace_service_pb2.ExportTraceServiceResponse().SerializeToString()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        headers = {key: value for key, value in context.invocation_metadata()}
        self.behaviour.record(headers, request.SerializeToString())
        time.sleep(self.behaviour.delay)
        if self.behaviour.refuse_with is not None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "refused by the test receiver")
        return trace_service_pb2.ExportTraceServiceResponse()


@contextmanager
def http_receiver(behaviour: Behaviour) -> Iterator[str]:
    """Serve OTLP/HTTP; yield the base endpoint (``http://127.0.0.1:PORT``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(behaviour))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def grpc_receiver(behaviour: Behaviour) -> Iterator[str]:
    """Serve OTLP/gRPC; yield the endpoint (``http://127.0.0.1:PORT``)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(behaviour), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop(grace=None)

"""Lifecycle scenarios that need a fresh process: start-up, ``manage.py`` commands on a fresh
database, Django's test runner, and re-connections in a single-threaded WSGI server.

Run as ``python -m tests.lifecycle.scenario NAME`` with ``DJANGO_SETTINGS_MODULE`` set to
``tests.lifecycle.scenario_settings`` and ``SCENARIO_DATABASE_URL`` set. Prints one JSON object:
the span tree (``signal_tracing.testing.render_spans``) and every span's name and attributes.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import urllib.request
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.db.backends.signals import connection_created
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

KEYS = (
    "django.startup.observed",
    "django.command.name",
    "django.signal.app_label",
    "django.signal.migrate.plan.size",
    "db.system",
    "django.db.alias",
    "http.route",
    "test.case.result.status",
    "error.type",
)

connections_seen: list[str] = []


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """A typical receiver: per-connection set-up (here it only notes the alias)."""
    connections_seen.append(connection.alias)


connection_created.connect(on_connection_created)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_requests(paths: list[str]) -> None:
    """Serve ``paths`` one after another from ONE server thread (wsgiref is single-threaded)."""
    from django.core.wsgi import get_wsgi_application

    server: WSGIServer = make_server(
        "127.0.0.1", 0, get_wsgi_application(), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        for path in paths:
            url = f"http://127.0.0.1:{server.server_port}{path}"
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def manage(*argv: str) -> None:
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["manage.py", *argv])
    except SystemExit as exit_:
        if exit_.code not in (0, None, 1):
            raise


def early(provider: TracerProvider) -> None:
    """``instrument()`` in manage.py, before ``django.setup()``; then commands and requests."""
    import signal_tracing

    signal_tracing.instrument(tracer_provider=provider)
    manage("migrate", "--run-syncdb", "--verbosity", "0")
    manage("greet", "--name", "cli", "--password", "hunter2-never-exported")
    manage("greet", "--fail")
    serve_requests(["/authors/new/", "/authors/new/"])


def late(provider: TracerProvider) -> None:
    """The SDK provider is global; tracing starts in signal_tracing's ready()."""
    import django

    trace.set_tracer_provider(provider)
    django.setup()


def test_runner(provider: TracerProvider) -> None:
    """``manage.py test`` with Django's DiscoverRunner, no project code changed."""
    import signal_tracing

    signal_tracing.instrument(tracer_provider=provider)
    manage("test", "tests.lifecycle.sample_tests", "--verbosity", "0")


def _run_tests_from_a_script(provider: TracerProvider, *labels: str) -> None:
    # A runtests.py: tracing starts before django.test is imported, no manage.py at all.
    import django

    import signal_tracing

    signal_tracing.instrument(tracer_provider=provider)
    django.setup()
    from django.conf import settings
    from django.test.utils import get_runner

    runner = get_runner(settings)(verbosity=0)
    runner.run_tests(list(labels))


def runtests(provider: TracerProvider) -> None:
    """Django's DiscoverRunner driven from a script, as many reusable apps test themselves."""
    _run_tests_from_a_script(provider, "tests.lifecycle.sample_tests")


def runtests_simple(provider: TracerProvider) -> None:
    """The same with SimpleTestCase classes only: no test database is set up."""
    _run_tests_from_a_script(provider, "tests.lifecycle.sample_tests.SampleTests")


def unittest_main(provider: TracerProvider) -> None:
    """Django test cases run by unittest's own runner: no Django test runner, no command."""
    import unittest

    import django

    import signal_tracing

    signal_tracing.instrument(tracer_provider=provider)
    django.setup()
    from tests.lifecycle import sample_tests

    suite = unittest.defaultTestLoader.loadTestsFromTestCase(sample_tests.SampleTests)
    unittest.TextTestRunner(stream=io.StringIO()).run(suite)


SCENARIOS: dict[str, Callable[[TracerProvider], None]] = {
    "early": early,
    "late": late,
    "test_runner": test_runner,
    "runtests": runtests,
    "runtests_simple": runtests_simple,
    "unittest_main": unittest_main,
}


def main() -> None:
    from signal_tracing.testing import render_spans

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    SCENARIOS[sys.argv[1]](provider)
    finished = exporter.get_finished_spans()
    json.dump(
        {
            "tree": render_spans(finished, KEYS),
            "spans": [
                {"name": span.name, "attributes": dict(span.attributes or {})} for span in finished
            ],
            "connections_seen": connections_seen,
        },
        sys.stdout,
        default=list,
    )


if __name__ == "__main__":
    main()

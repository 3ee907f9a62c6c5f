"""A log-in to a fresh project under opentelemetry-instrumentation-django, set up as its docs say.

Run in the project's directory with its settings. Logging in to the admin sends
``user_logged_in`` from the view (``update_last_login`` receives it). Prints one JSON object:
the response's status, the MIDDLEWARE the request ran through, and the finished spans of the
request (name, kind, instrumentation scope, span id, parent span id, trace id, and the Django
receivers a firing span names in ``django.signal.receivers.django``).
"""

from __future__ import annotations

import json

from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
# Its docs: instrument before Django loads the middleware (in manage.py, wsgi.py or asgi.py).
DjangoInstrumentor().instrument()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402  (needs the settings set up)
from django.contrib.auth.models import User  # noqa: E402
from django.test import Client  # noqa: E402

User.objects.create_superuser("admin", password="a password for this run only")
exporter.clear()
response = Client(SERVER_NAME="localhost").post(
    "/admin/login/", {"username": "admin", "password": "a password for this run only"}
)
spans = [
    {
        "name": span.name,
        "kind": span.kind.name,
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else "",
        "span_id": span.context.span_id if span.context else 0,
        "parent_id": span.parent.span_id if span.parent else 0,
        "trace_id": span.context.trace_id if span.context else 0,
        "django_receivers": list((span.attributes or {}).get("django.signal.receivers.django", [])),
    }
    for span in exporter.get_finished_spans()
]
print(
    json.dumps({"status": response.status_code, "middleware": settings.MIDDLEWARE, "spans": spans})
)

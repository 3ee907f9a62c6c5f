"""Django's own test settings, traced by ``signal_tracing.instrument()``.

``sitecustomize`` already called ``instrument(tracer_provider=...)`` at interpreter start (as
``opentelemetry-instrument`` does). Calling it again here, once ``runtests.py`` has imported
``django.test``, is what a project calling ``instrument()`` from its settings does, and lets
the test-case spans (``SimpleTestCase.__call__``) in: ``runtests.py`` runs no management
command, whose wrapper would otherwise install them.
"""

from test_sqlite import *  # noqa: F403

import signal_tracing

signal_tracing.instrument()

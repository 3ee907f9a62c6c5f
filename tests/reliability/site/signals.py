from __future__ import annotations

from django.dispatch import Signal

#: Sent once by each request to the sync view, with its ``request_number``.
probe = Signal()
#: Sent by one of ``probe``'s receivers: a firing nested in a receiver call.
probe_detail = Signal()
#: Sent twice by each request to the async view (``phase`` "before" and "after" it waits).
aprobe = Signal()
#: Sent once when the WSGI module is imported: in gunicorn's master with --preload, before fork.
preloaded = Signal()

"""Request a fresh project's admin login page through Django's test client, with the toolbar.

Run in the project's directory with its settings; prints one JSON object: the page's status,
whether the toolbar lists our panel, and the panel's content as the toolbar renders it.
"""

from __future__ import annotations

import json
import re

import django

django.setup()

from django.test import Client  # noqa: E402  (needs the settings set up)

# With DEBUG and an empty ALLOWED_HOSTS, Django accepts "localhost", not "testserver".
client = Client(SERVER_NAME="localhost")
page = client.get("/admin/login/")
html = page.content.decode()
toolbar = re.search(r'data-request-id="(?P<request_id>[^"]+)"', html)
panel = None
if toolbar:
    rendered = client.get(
        "/__debug__/render_panel/",
        {"request_id": toolbar["request_id"], "panel_id": "SignalTracingPanel"},
    )
    panel = {"status": rendered.status_code, "content": rendered.json()["content"]}
print(
    json.dumps(
        {
            "status": page.status_code,
            "toolbar": toolbar is not None,
            "panel_in_toolbar": 'id="djdt-SignalTracingPanel"' in html,
            "panel": panel,
        }
    )
)

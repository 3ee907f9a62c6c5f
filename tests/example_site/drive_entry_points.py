"""Run in a subprocess by test_project.py: the example site's own WSGI and ASGI entry points.

Prints one JSON line: the status and body of a request through each entry point.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any
from wsgiref.util import setup_testing_defaults

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator


def via_wsgi(path: str, payload: dict[str, Any]) -> tuple[int, Any]:
    from example_site.wsgi import application

    body = json.dumps(payload).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    started: list[str] = []
    chunks = application(environ, lambda status, headers: started.append(status))
    content = b"".join(chunks)
    chunks.close()
    return int(started[0].split()[0]), json.loads(content)


async def _asgi_get(path: str) -> tuple[int, str]:
    from example_site.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], body.decode()


def main() -> None:
    import example_site.wsgi  # noqa: F401  (sets up Django from example_site.settings)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    wsgi_status, wsgi_body = via_wsgi("/api/sms/code/", {"mobile": "13800138000", "sms_type": 1})
    asgi_status, asgi_html = async_to_sync(_asgi_get)("/kitchen/")
    json.dump(
        {
            "wsgi": [wsgi_status, wsgi_body],
            "asgi": [asgi_status, "mozzarella" in asgi_html],
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

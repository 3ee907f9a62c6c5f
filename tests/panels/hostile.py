"""Strings an attacker may choose, in every field the panel shows about a receiver.

A receiver's name comes from its ``__qualname__`` (code may set it), its location from the
code object's file name (``compile()`` takes any string), its ``dispatch_uid`` and a
literal-string sender filter from whoever connects it. Each must come out as text.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

SENDER = "<img src=x onerror=\"alert('sender');window.__xss=1\">"
DISPATCH_UID = "<b onmouseover=\"alert('uid')\">uid</b>"
FILE_NAME = "<img src=x onerror=\"alert('file');window.__xss=1\">.py"
QUALNAME = "<script>alert('receiver');window.__xss=1</script>"

#: Sent by the hostile views with :data:`SENDER`.
parcel_scanned = Signal()

_namespace: dict[str, Any] = {"__name__": __name__}
exec(compile("def receive(sender, **kwargs):\n    return None\n", FILE_NAME, "exec"), _namespace)
receive = _namespace["receive"]
receive.__qualname__ = QUALNAME


def connect() -> None:
    parcel_scanned.connect(receive, sender=SENDER, weak=False, dispatch_uid=DISPATCH_UID)


def disconnect() -> None:
    parcel_scanned.disconnect(sender=SENDER, dispatch_uid=DISPATCH_UID)

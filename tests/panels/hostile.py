"""Strings an attacker may choose, in every field the panel shows about a receiver.

A receiver's name comes from its ``__qualname__`` (code may set it), its location from the
code object's file name (``compile()`` takes any string), its ``dispatch_uid`` and a
literal-string sender filter from whoever connects it. A firing's send site comes from the
sending code's file name, qualified name and module ``__name__``. Each must come out as text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

SENDER = "<img src=x onerror=\"alert('sender');window.__xss=1\">"
DISPATCH_UID = "<b onmouseover=\"alert('uid')\">uid</b>"
FILE_NAME = "<img src=x onerror=\"alert('file');window.__xss=1\">.py"
QUALNAME = "<script>alert('receiver');window.__xss=1</script>"

#: Sent by the hostile views with :data:`SENDER`.
parcel_scanned = Signal()


def _hostile_receiver() -> Callable[..., None]:
    namespace: dict[str, Any] = {"__name__": __name__}
    exec(compile("def receive(sender, **kwargs):\n    return None\n", FILE_NAME, "exec"), namespace)
    receiver: Callable[..., None] = namespace["receive"]
    receiver.__qualname__ = QUALNAME
    return receiver


receive = _hostile_receiver()

MODULE = "<iframe src=javascript:alert('module')>"


def _hostile_sender() -> Callable[[int], None]:
    # A function whose file, module and qualified name are markup, sending in a loop.
    namespace: dict[str, Any] = {
        "__name__": MODULE,
        "parcel_scanned": parcel_scanned,
        "SENDER": SENDER,
    }
    source = (
        "def scan(times):\n    for _ in range(times):\n        parcel_scanned.send(sender=SENDER)\n"
    )
    exec(compile(source, FILE_NAME, "exec"), namespace)
    scan: Callable[[int], None] = namespace["scan"]
    # The send site names the code's qualified name, or its bare name where code objects carry
    # no qualified name (Python 3.10).
    field = "co_qualname" if hasattr(scan.__code__, "co_qualname") else "co_name"
    scan.__code__ = scan.__code__.replace(**{field: QUALNAME})
    return scan


#: ``scan(times)`` sends :data:`parcel_scanned` ``times`` times from line 3 of FILE_NAME.
scan = _hostile_sender()
_leaks = itertools.count(1)


def connect() -> None:
    parcel_scanned.connect(receive, sender=SENDER, weak=False, dispatch_uid=DISPATCH_UID)


def disconnect() -> None:
    parcel_scanned.disconnect(sender=SENDER, dispatch_uid=DISPATCH_UID)


def leak() -> Callable[[], None]:
    """Connect a new hostile receiver, as a view that leaks one would; return its undoing.

    Each call connects another one (its own ``dispatch_uid``), so every request that calls
    it leaves one more receiver connected.
    """
    dispatch_uid = f"{DISPATCH_UID} #{next(_leaks)}"
    parcel_scanned.connect(
        _hostile_receiver(), sender=SENDER, weak=False, dispatch_uid=dispatch_uid
    )
    return lambda: parcel_scanned.disconnect(sender=SENDER, dispatch_uid=dispatch_uid)

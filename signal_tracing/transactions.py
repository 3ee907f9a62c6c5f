"""Whether a model signal fired inside ``transaction.atomic()`` on its database.

``pre_save``, ``post_save``, ``pre_delete``, ``post_delete`` and ``m2m_changed`` name their
database in ``using``. A receiver that talks to the world (an SMS, an e-mail, a cache, a task
queue) from inside a transaction acts on a row that may still be rolled back, and holds the
transaction's locks while it waits: that is what ``transaction.on_commit()`` is for.

The answer is the connection's ``in_atomic_block``, from this thread's connection object for
``using``: Django has it by the time it sends (save, delete and the m2m methods take it before
sending; ``pre_save`` just after, and creating the object connects nothing). One lookup, not
``connections.all()``: each goes through asgiref's ``Local``, the costly part. Nothing is
queried, connected or registered on the connection: no ``on_commit`` callback, so
``captureOnCommitCallbacks`` sees what it sees untraced. ``pre_init``/``post_init`` carry no
``using`` and fire once per row: not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.db import connections
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.utils.connection import ConnectionDoesNotExist

#: The signals whose ``using`` names the database their firing wrote to.
TRANSACTION_SIGNALS: Final = frozenset(
    id(signal) for signal in (pre_save, post_save, pre_delete, post_delete, m2m_changed)
)


def in_atomic_block(signal: object, named: Mapping[str, Any]) -> bool | None:
    """Return whether ``signal``'s firing runs inside ``atomic()`` on its ``using`` database.

    ``None`` for any other signal, or when ``using`` is not a database alias's name.
    """
    if id(signal) not in TRANSACTION_SIGNALS:
        return None
    using = named.get("using")
    if not isinstance(using, str):
        return None
    try:
        connection = connections[using]
    except ConnectionDoesNotExist:
        return None
    return bool(connection.in_atomic_block)

"""Reading the spans a served site wrote (``site/spans_file.py``), waiting until they are in."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.reliability.traces import Span


def read_spans(path: Path) -> list[Span]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_named(path: Path, name: str, count: int, timeout: float = 15.0) -> list[Span]:
    """Wait until ``count`` spans called ``name`` were written (at most ``timeout``); read all.

    A request span ends just after its response is sent, so the last ones may still be on
    their way when the clients are done.
    """
    marker = json.dumps({"name": name})[1:-1]  # '"name": "…"' as each line spells it
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count(marker) >= count:
            break
        time.sleep(0.1)
    return read_spans(path)

"""Read the panel's HTML the way a person reads it: the text of each table row."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser


class _TableRows(HTMLParser):
    """Collects the cells of the rows that ``is_wanted(tr attributes)`` picks."""

    def __init__(self, is_wanted: Callable[[dict[str, str | None]], bool]) -> None:
        super().__init__(convert_charrefs=True)
        self.is_wanted = is_wanted
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and self.is_wanted(dict(attrs)):
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def timeline_rows(html: str) -> list[str]:
    """Return each waterfall row as "cell | cell | ...", without the toggle, bar and time."""
    parser = _TableRows(lambda attrs: (attrs.get("id") or "").startswith("signalTracingMain_"))
    parser.feed(html)
    # Cells: toggle, signal/receiver, sender, method, sync/async, outcome, bar, time.
    return [" | ".join(row[1:6]) for row in parser.rows]


def connected_rows(html: str) -> list[str]:
    """Return each row of the "Connected receivers" table as "cell | cell | ..."."""
    parser = _TableRows(lambda attrs: "djdt-st-connected-" in (attrs.get("class") or ""))
    parser.feed(html)
    return [" | ".join(row) for row in parser.rows]


def text_of(html: str) -> str:
    """Return the visible text, whitespace collapsed (tags dropped, entities decoded)."""
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


def tags_of(html: str) -> set[str]:
    """Return the names of the elements in ``html``."""
    parser = _Tags()
    parser.feed(html)
    return parser.tags

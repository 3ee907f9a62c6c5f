"""The receiver coverage report: the project's own receivers, their calls, and a threshold.

A receiver is the project's own when its code is in a file under one of the *source*
directories (by default pytest's rootdir, or the current directory for Django's test runner)
and no directory between the source and the file is a ``site-packages`` or
``dist-packages`` directory. So a virtualenv inside the project does not count, and neither do
Django, signal_tracing or other installed packages, unless a source directory is inside one
(``--signal-coverage-source=.venv/lib/python3.12/site-packages/allauth`` asks for that
package). Receivers with no code file (builtins, classes, mocks) are never the project's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from signal_tracing.testing.coverage import FORMAT, CoverageData

#: Directory names that hold installed packages.
INSTALLED_PACKAGE_DIRECTORIES: Final = frozenset({"site-packages", "dist-packages"})


class ProjectFiles:
    """Tells whether a code file is the project's own (see the module docstring)."""

    def __init__(self, sources: Iterable[str | os.PathLike[str]]) -> None:
        self.sources = tuple(Path(source).resolve() for source in sources)
        self._known: dict[str, bool] = {}

    def __contains__(self, file_path: object) -> bool:
        if not isinstance(file_path, str):
            return False
        known = self._known.get(file_path)
        if known is None:
            known = self._known[file_path] = self._is_own(file_path)
        return known

    def _is_own(self, file_path: str) -> bool:
        if not os.path.isabs(file_path):  # "<string>", "<frozen ...>"
            return False
        path = Path(file_path).resolve()
        for source in self.sources:
            if path == source or source in path.parents:
                between = path.relative_to(source).parts[:-1]
                if not INSTALLED_PACKAGE_DIRECTORIES.intersection(between):
                    return True
        return False


@dataclass(frozen=True)
class ReportRow:
    receiver_name: str
    signal_name: str
    signal_path: str
    #: The code file, relative to the report's root directory when inside it.
    file_path: str | None
    line_number: int | None
    calls: int

    @property
    def location(self) -> str:
        if self.file_path is None:
            return ""
        return f"{self.file_path}:{self.line_number}"


def _display_path(file_path: str | None, root: Path) -> str | None:
    if file_path is None:
        return None
    try:
        return Path(file_path).resolve().relative_to(root).as_posix()
    except ValueError:
        return file_path


@dataclass(frozen=True)
class CoverageReport:
    """The project's receivers and their calls, sorted by file and line."""

    rows: tuple[ReportRow, ...]
    sources: tuple[str, ...]
    #: Calls not counted because too many distinct receivers were seen (see call_counts).
    dropped: int = 0

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def called(self) -> int:
        return sum(1 for row in self.rows if row.calls)

    @property
    def percent(self) -> float:
        """Receivers called at least once, in percent (100 when there are none)."""
        return 100.0 * self.called / self.total if self.rows else 100.0

    @property
    def never_called(self) -> tuple[ReportRow, ...]:
        return tuple(row for row in self.rows if not row.calls)

    def lines(self) -> list[str]:
        """The report as text lines: a table, the total, and the receivers never called."""
        headers = ("Receiver", "Signal", "Calls", "Where")
        table = [(row.receiver_name, row.signal_name, str(row.calls), row.location) for row in self]
        widths = [
            max([len(header)] + [len(cells[i]) for cells in table])
            for i, header in enumerate(headers)
        ]

        def line(cells: tuple[str, str, str, str]) -> str:
            name, signal, calls, where = cells
            return (
                f"{name:<{widths[0]}}  {signal:<{widths[1]}}  {calls:>{widths[2]}}  {where}"
            ).rstrip()

        lines = [line(headers), *(line(cells) for cells in table)]
        lines.append(f"TOTAL: {self.called} of {self.total} receivers called ({self.percent:.1f}%)")
        if self.never_called:
            lines.append(f"Never called ({len(self.never_called)}):")
            lines.extend(
                f"  {row.receiver_name} ({row.signal_name}) {row.location}".rstrip()
                for row in self.never_called
            )
        if self.dropped:
            lines.append(
                f"({self.dropped} calls of receivers past the first 10,000 were not counted)"
            )
        return lines

    def __iter__(self) -> Any:
        return iter(self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "sources": list(self.sources),
            "summary": {
                "receivers": self.total,
                "called": self.called,
                "never_called": len(self.never_called),
                "percent": round(self.percent, 2),
            },
            "receivers": [
                {
                    "receiver": row.receiver_name,
                    "signal": row.signal_name,
                    "signal_path": row.signal_path,
                    "file": row.file_path,
                    "line": row.line_number,
                    "calls": row.calls,
                }
                for row in self.rows
            ],
            "dropped_calls": self.dropped,
        }

    def failure(self, fail_under: float) -> str | None:
        """Return the message for a coverage under ``fail_under`` percent, else ``None``."""
        if self.percent >= fail_under:
            return None
        return (
            f"FAIL Required receiver coverage of {fail_under:g}% not reached. "
            f"Total receiver coverage: {self.percent:.1f}% ({self.called} of {self.total} "
            "receivers called)"
        )


def build_report(
    data: CoverageData, sources: Iterable[str | os.PathLike[str]], root: Path
) -> CoverageReport:
    """Keep the project's own receivers of ``data``; show their files relative to ``root``."""
    project = ProjectFiles(sources)
    root = root.resolve()
    rows = [
        ReportRow(
            key.receiver_name,
            data.signal_names.get(key.signal_path, key.signal_path),
            key.signal_path,
            _display_path(key.file_path, root),
            key.line_number,
            calls,
        )
        for key, calls in data.calls.items()
        if key.file_path in project
    ]
    rows.sort(key=lambda row: (row.file_path or "", row.line_number or 0, row.signal_path))
    return CoverageReport(
        tuple(rows), tuple(str(source) for source in project.sources), data.dropped
    )

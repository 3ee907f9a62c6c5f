"""The signal map as plain text, JSON, or a Mermaid flowchart."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Final

from signal_tracing.management.connections import ConnectedReceiver
from signal_tracing.management.mapping import SendStatus, SignalEntry, SignalMap
from signal_tracing.management.send_sites import SendSite
from signal_tracing.paths import short_path

MAX_SITES_SHOWN: Final = 3


def display_path(file_path: str | None) -> str | None:
    """Return a path relative to the working directory when it is inside it."""
    if file_path is None:
        return None
    relative = os.path.relpath(file_path)
    return file_path if relative.startswith("..") else relative


def _location(file_path: str | None, line_number: int | None) -> str:
    # For reading: what the file is imported as ("sms/receivers.py", "django/db/...").
    shown = short_path(file_path)
    if not shown:
        return "(no source)"
    return shown if line_number is None else f"{shown}:{line_number}"


def _site(site: SendSite) -> str:
    return _location(site.file_path, site.line_number)


def _status_text(entry: SignalEntry) -> str:
    if entry.status is SendStatus.DJANGO:
        return "sent by Django"
    if entry.status is SendStatus.FOUND:
        shown = ", ".join(_site(site) for site in entry.send_sites[:MAX_SITES_SHOWN])
        more = len(entry.send_sites) - MAX_SITES_SHOWN
        return f"sent at {shown}" + (f" and {more} more" if more > 0 else "")
    if entry.status is SendStatus.NOT_FOUND:
        return "NOT SENT: no send call in installed apps"
    return "defined outside installed apps: sends not scanned"


def _receiver_facts(receiver: ConnectedReceiver) -> str:
    facts = [
        "async" if receiver.is_async else "sync",
        "weak" if receiver.weak else "strong",
    ]
    if receiver.dispatch_uid is not None:
        facts.append(f"dispatch_uid={receiver.dispatch_uid!r}")
    facts.append(f"sender={receiver.sender}" if receiver.sender is not None else "any sender")
    return ", ".join(facts)


def render_text(signal_map: SignalMap) -> str:
    """Return the map as indented plain text: signals with receivers first, then the rest."""
    connected = signal_map.with_receivers
    never_sent = signal_map.never_sent
    lines = [
        f"{len(signal_map.signals)} signals known, {len(connected)} with receivers.",
        "Sends looked for in the source of: "
        + (", ".join(signal_map.scanned_apps) or "no installed app outside Django")
        + ".",
        "",
    ]
    for entry in connected:
        lines.append(f"{entry.path}  ({_status_text(entry)})")
        for receiver in entry.receivers:
            location = _location(receiver.file_path, receiver.line_number)
            lines.append(f"    {receiver.name}  {location}  [{_receiver_facts(receiver)}]")
    idle = [entry for entry in signal_map.signals if not entry.receivers]
    if idle:
        lines += ["", f"Signals without receivers ({len(idle)}):"]
        lines += [
            f"    {entry.path}"
            + ("" if entry.status is SendStatus.DJANGO else f"  ({_status_text(entry)})")
            for entry in idle
        ]
    if never_sent:
        lines += ["", "Receivers that never run: no installed app sends their signal."]
        for entry in never_sent:
            for receiver in entry.receivers:
                location = _location(receiver.file_path, receiver.line_number)
                lines.append(f"    {entry.path} -> {receiver.name}  {location}")
    return "\n".join(lines)


def _receiver_json(receiver: ConnectedReceiver) -> dict[str, Any]:
    return {
        "name": receiver.name,
        "file": display_path(receiver.file_path),
        "line": receiver.line_number,
        "async": receiver.is_async,
        "weak": receiver.weak,
        "dispatch_uid": receiver.dispatch_uid,
        "sender": receiver.sender,
    }


def _entry_json(entry: SignalEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "path": entry.path,
        "builtin": entry.builtin,
        "sent": entry.status.value,
        "send_sites": [
            {"file": display_path(site.file_path), "line": site.line_number, "method": site.method}
            for site in entry.send_sites
        ],
        "receivers_never_run": entry.receivers_never_run,
        "receivers": [_receiver_json(receiver) for receiver in entry.receivers],
    }


def render_json(signal_map: SignalMap) -> str:
    """Return the map as a JSON document (see docs/signal_map.md for its shape)."""
    document = {
        "scanned_apps": list(signal_map.scanned_apps),
        "signals": [_entry_json(entry) for entry in signal_map.signals],
    }
    return json.dumps(document, indent=2)


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label only these need entity codes.
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def render_mermaid(signal_map: SignalMap) -> str:
    """Return a Mermaid flowchart of the signals that have receivers, signal -> receiver.

    Async receivers are rounded, strong references are thick edges, and signals that no
    installed app sends are outlined in red.
    """
    lines = ["flowchart LR"]
    receiver_ids: dict[tuple[str, str | None, int | None], str] = {}
    edges: list[str] = []
    for signal_index, entry in enumerate(signal_map.with_receivers, start=1):
        signal_id = f"s{signal_index}"
        style = ":::never_sent" if entry.receivers_never_run else ""
        label = f"{_mermaid_text(entry.name)}<br/><small>{_mermaid_text(entry.path)}</small>"
        lines.append(f'    {signal_id}["{label}"]{style}')
        for receiver in entry.receivers:
            key = (receiver.name, receiver.file_path, receiver.line_number)
            receiver_id = receiver_ids.get(key)
            if receiver_id is None:
                receiver_id = receiver_ids[key] = f"r{len(receiver_ids) + 1}"
                location = _location(receiver.file_path, receiver.line_number)
                text = (
                    f"{_mermaid_text(receiver.name)}<br/><small>{_mermaid_text(location)}</small>"
                )
                opening, closing = ("([", "])") if receiver.is_async else ("[", "]")
                lines.append(f'    {receiver_id}{opening}"{text}"{closing}')
            arrow = "==>" if not receiver.weak else "-->"
            tags = []
            if receiver.sender is not None:
                tags.append(f"sender={receiver.sender}")
            if receiver.dispatch_uid is not None:
                tags.append(f"uid={receiver.dispatch_uid}")
            label_part = f'|"{_mermaid_text(", ".join(tags))}"|' if tags else ""
            edges.append(f"    {signal_id} {arrow}{label_part} {receiver_id}")
    lines += edges
    lines.append("    classDef never_sent stroke:#c0392b,stroke-width:3px")
    return "\n".join(lines)


RENDERERS: Final[dict[str, Callable[[SignalMap], str]]] = {
    "text": render_text,
    "json": render_json,
    "mermaid": render_mermaid,
}

"""Text for people: the tree of what fired, a compact list, and failure messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from signal_tracing.records import Outcome, ReceiverCall
from signal_tracing.testing.firing import Firing
from signal_tracing.testing.matching import Sent
from signal_tracing.testing.values import MAX_COMPARED_LENGTH, safe_repr

INDENT: Final = "  "
#: How many firings a failure message lists one by one before saying "... and N more".
MAX_DETAIL_LINES: Final = 10
MAX_SUMMARY_GROUPS: Final = 40


def times(count: int) -> str:
    return "1 time" if count == 1 else f"{count} times"


def _call_text(call: ReceiverCall) -> str:
    text = call.receiver_name
    if call.outcome is not Outcome.OK:
        text += f" ({call.outcome.value}"
        text += f" {call.error_type})" if call.error_type else ")"
    return text


def receivers_text(firing: Firing) -> str:
    calls = firing.calls
    if not calls:
        return "-> no receivers"
    return "-> " + ", ".join(_call_text(call) for call in calls)


def site_text(firing: Firing) -> str:
    """`` (from sms/views.py:78 in resend_codes_page)``, or nothing when no line qualified.

    Only the code location: never a value that was sent.
    """
    site = firing.send_site
    return "" if site is None else f" (from {site.describe()})"


def firing_line(firing: Firing, keys: Iterable[str] = ()) -> str:
    """``post_save send sender=sms.SmsCode created=False (from sms/views.py:78 in resend)
    -> sms.receivers.send_sms_code``, on one line.

    ``keys`` are keyword arguments to show (those a filter looked at).
    """
    parts = [firing.signal_name, firing.method, f"sender={firing.sender_label}"]
    sent = firing.kwargs
    parts += [
        f"{key}={safe_repr(sent[key], MAX_COMPARED_LENGTH) if key in sent else '<missing>'}"
        for key in keys
    ]
    return " ".join(parts) + site_text(firing) + " " + receivers_text(firing)


def summary(firings: Sequence[Firing]) -> str:
    """Every firing in order, repeats folded: ``pre_save sender=a.B, post_init sender=a.B x3``."""
    groups: list[tuple[str, int]] = []
    for firing in firings:
        text = f"{firing.signal_name} sender={firing.sender_label}"
        if groups and groups[-1][0] == text:
            groups[-1] = (text, groups[-1][1] + 1)
        else:
            groups.append((text, 1))
    shown = [text if count == 1 else f"{text} x{count}" for text, count in groups]
    if len(shown) > MAX_SUMMARY_GROUPS:
        shown = [*shown[:MAX_SUMMARY_GROUPS], f"... and {len(shown) - MAX_SUMMARY_GROUPS} more"]
    return ", ".join(shown)


def render_tree(roots: Iterable[Firing]) -> str:
    """One line per firing and per receiver call, nested as they ran.

    ``post_save send sender=sms.SmsCode created=True, instance=<sms.SmsCode pk=1>, ...
    (from sms/views.py:78 in resend_codes_page)`` then, indented,
    ``sms.receivers.send_sms_code: ok`` and the firings it caused.
    """
    lines: list[str] = []

    def visit(firing: Firing, depth: int) -> None:
        head = f"{firing.signal_name} {firing.method} sender={firing.sender_label}"
        if firing.kwargs:
            head += " " + ", ".join(f"{k}={safe_repr(v)}" for k, v in firing.kwargs.items())
        head += site_text(firing)
        if firing.reentrant:
            head += " [reentrant]"
        if not firing.calls:
            head += " (no receivers)"
        lines.append(INDENT * depth + head)
        children = firing.children
        for call in firing.calls:
            line = f"{call.receiver_name}: {call.outcome.value}"
            if call.error_type:
                line += f" {call.error_type}"
            if call.is_async:
                line += " (async)"
            lines.append(INDENT * (depth + 1) + line)
            for child in children:
                if child.record.parent_call is call:
                    visit(child, depth + 2)
        # Firings sent by async receivers that shared one context (no single call owns them).
        for child in children:
            if child.record.parent_call is None:
                visit(child, depth + 1)

    for root in roots:
        visit(root, 0)
    return "\n".join(lines)


def near_misses(wanted: Sent, firings: Sequence[Firing]) -> str:
    """The firings of the wanted signal, with the keyword arguments the filter looked at."""
    if wanted.signal_object is None:
        return ""
    same_signal = [firing for firing in firings if firing.signal is wanted.signal_object]
    if not same_signal:
        return ""
    label = same_signal[0].signal_name
    lines = [f"{label} was sent {times(len(same_signal))}:"]
    for firing in same_signal[:MAX_DETAIL_LINES]:
        mark = "  * " if wanted.matches(firing) else "    "
        lines.append(mark + firing_line(firing, wanted.kwargs))
    if len(same_signal) > MAX_DETAIL_LINES:
        lines.append(f"    ... and {len(same_signal) - MAX_DETAIL_LINES} more")
    if any(wanted.matches(firing) for firing in same_signal):
        lines.append("  (* = matches)")
    return "\n".join(lines)


def context(
    firings: Sequence[Firing], roots: Iterable[Firing], verbose: bool, hint: str | None
) -> str:
    """What actually fired: the compact list, then the tree (verbose) or the hint."""
    if not firings:
        return "No signals were sent."
    text = f"All firings ({len(firings)}): {summary(firings)}"
    if verbose:
        text += "\n\nSignals sent:\n" + render_tree(roots)
    elif hint:
        text += "\n" + hint
    return text

"""Signal storms, the N+1 of signals: one signal and sender fired many times from one line.

A ``save()`` in a loop fires ``post_save`` (and whatever its receivers send) once per turn.
Each firing is cheap to read alone and easy to miss among hundreds; counted per send site,
the loop stands out. A storm is a (signal, sender, send site) that fired more than
``STORM_THRESHOLD`` times in one request, management command or test. Firings whose receivers
are all Django's own plumbing (the test client's ``template_rendered`` receiver, once per
template) are not counted: nothing of the app's runs in them.

Two consumers, one notion:

- spans: each scope (``nesting.Scope``) with a span keeps a :class:`StormTable` while it runs;
  when it closes, every storm becomes one ``django.signal.storm`` event on its span
  (:func:`storm_event`);
- the panel and the test API: :func:`find_storms` reads the same from a recording's records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from opentelemetry.util.types import AttributeValue

from signal_tracing import attributes as attrs
from signal_tracing.records import Policy

if TYPE_CHECKING:
    from signal_tracing.origins import SendSite
    from signal_tracing.records import DispatchRecord

#: Distinct (signal, sender, send site) keys one scope counts; later ones are not counted,
#: so a request firing signals from thousands of places keeps a bounded table.
MAX_KEYS_PER_SCOPE: Final = 512

StormKey = tuple[str, str, "SendSite | None"]


class Storm:
    """One signal and sender fired ``count`` times from one send site."""

    __slots__ = ("count", "send_site", "sender_label", "signal_name", "signal_path", "total_ns")

    def __init__(
        self, signal_name: str, signal_path: str, sender_label: str, send_site: SendSite | None
    ) -> None:
        self.signal_name = signal_name
        self.signal_path = signal_path
        self.sender_label = sender_label
        #: ``None`` when the firings' send site was not known.
        self.send_site = send_site
        self.count = 0
        #: The firings' time added up: their receivers, and what those sent in turn.
        self.total_ns = 0

    def describe(self) -> str:
        """``post_save sms.SmsCode x200 from sms/views.py:42 in bulk_resend (12.50 ms)``"""
        site = f" from {self.send_site.describe()}" if self.send_site is not None else ""
        return (
            f"{self.signal_name} {self.sender_label} x{self.count}{site}"
            f" ({self.total_ns / 1e6:.2f} ms)"
        )

    def __repr__(self) -> str:
        return f"<Storm {self.describe()}>"


class StormTable:
    """The firings of one scope, counted per (signal path, sender label, send site)."""

    __slots__ = ("entries", "threshold", "uncounted")

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.entries: dict[StormKey, Storm] = {}
        #: Firings not counted because the table was full.
        self.uncounted = 0

    def add(self, record: DispatchRecord, elapsed_ns: int) -> None:
        self.count(
            record.signal_name,
            record.signal_path,
            record.sender_label,
            record.send_site,
            elapsed_ns,
        )

    def count(
        self,
        signal_name: str,
        signal_path: str,
        sender_label: str,
        send_site: SendSite | None,
        elapsed_ns: int,
    ) -> None:
        """Count one firing (a traced firing has no record unless something records it)."""
        key = (signal_path, sender_label, send_site)
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= MAX_KEYS_PER_SCOPE:
                self.uncounted += 1
                return
            entry = self.entries[key] = Storm(signal_name, signal_path, sender_label, send_site)
        entry.count += 1
        entry.total_ns += elapsed_ns

    def storms(self) -> list[Storm]:
        """The entries over the threshold, most firings first."""
        return _ordered(entry for entry in self.entries.values() if entry.count > self.threshold)


def storm_event(storm: Storm, threshold: int) -> dict[str, AttributeValue]:
    """The attributes of the ``django.signal.storm`` event that reports ``storm``."""
    attributes: dict[str, AttributeValue] = {
        attrs.SIGNAL_NAME: storm.signal_name,
        attrs.SIGNAL_PATH: storm.signal_path,
        attrs.SIGNAL_SENDER: storm.sender_label,
        attrs.STORM_COUNT: storm.count,
        attrs.STORM_DURATION: storm.total_ns / 1e9,
        attrs.STORM_THRESHOLD: threshold,
    }
    if storm.send_site is not None:  # both forms: one event per storm costs nothing
        attributes.update(storm.send_site.compact_attributes)
        attributes.update(storm.send_site.full_attributes)
    return attributes


def find_storms(dispatches: Iterable[DispatchRecord], threshold: int) -> list[Storm]:
    """Return the storms among recorded firings, most firings first.

    ``dispatches`` is every firing of one request, command or test (a recording's
    ``dispatches``). Left out, as they are from the span events: firings of count-policy
    signals (``pre_init``, ``post_init``), firings that found no receivers, and firings that
    ran only Django's own receivers, all of which a test capture records too.
    """
    if not threshold:
        return []
    table = StormTable(threshold)
    for record in dispatches:
        if (
            record.policy is Policy.SPAN
            and record.receiver_count
            and not record.only_django_receivers
        ):
            table.add(record, record.duration_ns)
    return table.storms()


def _ordered(storms: Iterable[Storm]) -> list[Storm]:
    return sorted(storms, key=lambda storm: (-storm.count, storm.signal_path, storm.sender_label))

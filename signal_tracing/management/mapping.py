"""Build the signal map: every signal the process knows, its receivers, and where it is sent.

"Known to the process" means what is loaded when the map is built: Django's signals, those of
every imported module (``naming.registry``), and any other live ``Signal`` that has receivers
(found through the garbage collector, e.g. signals kept as class attributes). Nothing is
imported here; the command imports the URLconf first, as a server does on its first request.
"""

from __future__ import annotations

import enum
import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.apps import AppConfig, apps
from django.dispatch import Signal

from signal_tracing.management.connections import ConnectedReceiver, connected_receivers
from signal_tracing.management.send_sites import SendSite, scan_package
from signal_tracing.naming import BUILTIN_SIGNAL_PATHS, find_loaded, loaded_modules, registry


class SendStatus(enum.Enum):
    """Whether anything is known to send a signal."""

    DJANGO = "django"  # defined by Django, which sends it
    FOUND = "found"  # a send call was found in an installed app's source
    NOT_FOUND = "not_found"  # defined in an installed app, and no app sends it
    NOT_SCANNED = "not_scanned"  # defined outside installed apps: we cannot tell


@dataclass(frozen=True)
class SignalEntry:
    name: str
    path: str
    builtin: bool
    status: SendStatus
    send_sites: tuple[SendSite, ...]
    receivers: tuple[ConnectedReceiver, ...]

    @property
    def receivers_never_run(self) -> bool:
        """Receivers are connected, but no installed app sends the signal."""
        return self.status is SendStatus.NOT_FOUND and bool(self.receivers)


@dataclass(frozen=True)
class SignalMap:
    signals: tuple[SignalEntry, ...]
    #: The installed apps whose source was scanned for send calls, by app label.
    scanned_apps: tuple[str, ...]

    @property
    def with_receivers(self) -> tuple[SignalEntry, ...]:
        return tuple(entry for entry in self.signals if entry.receivers)

    @property
    def never_sent(self) -> tuple[SignalEntry, ...]:
        return tuple(entry for entry in self.signals if entry.receivers_never_run)


def _sends_of(signal: Signal, name: str, sites: Sequence[SendSite]) -> tuple[SendSite, ...]:
    matched = []
    for site in sites:
        # Only modules already imported are looked at, and attributes are read statically, so
        # a lookup can neither import code nor run a property or a module __getattr__.
        resolved = find_loaded(site.target) if site.target is not None else None
        if resolved is None:
            if site.name == name:
                matched.append(site)
        elif resolved is signal:
            matched.append(site)
    return tuple(matched)


def _is_django(app_config: AppConfig) -> bool:
    return app_config.name == "django" or app_config.name.startswith("django.")


def _class_attribute_path(signal: Signal) -> str | None:
    for module_name, _module, namespace in loaded_modules():
        for _attribute, value in namespace:
            # type(value), never isinstance(): a lazy object would evaluate itself for it.
            if not issubclass(type(value), type) or value.__module__ != module_name:
                continue
            for attribute, member in list(vars(value).items()):
                if member is signal:
                    return f"{module_name}.{value.__qualname__}.{attribute}"
    return None


def _all_signals() -> list[tuple[str, str, Signal]]:
    found = [(name.name, name.path, signal) for name, signal in registry.known_signals()]
    listed = {id(signal) for _name, _path, signal in found}
    for candidate in gc.get_objects():
        if (
            issubclass(type(candidate), Signal)
            and id(candidate) not in listed
            and candidate.receivers
        ):
            path = _class_attribute_path(candidate) or registry.name_of(candidate).path
            found.append((path.rpartition(".")[2], path, candidate))
            listed.add(id(candidate))
    return found


def _defined_in(path: str, app_configs: Iterable[AppConfig]) -> bool:
    module = path.rpartition(".")[0]
    return any(
        module == app_config.name or module.startswith(app_config.name + ".")
        for app_config in app_configs
    )


def build_signal_map() -> SignalMap:
    """Return the map of every known signal, sorted by dotted path."""
    scanned = [
        app_config
        for app_config in apps.get_app_configs()
        if not _is_django(app_config) and Path(app_config.path).is_dir()
    ]
    sites: list[SendSite] = []
    seen_roots: set[Path] = set()
    for app_config in scanned:
        root = Path(app_config.path).resolve()
        if root not in seen_roots:
            seen_roots.add(root)
            sites.extend(scan_package(root, app_config.name))
    # An app nested inside another app's directory is scanned twice: keep each call once.
    sites = list({(site.file_path, site.line_number, site.method): site for site in sites}.values())
    entries = []
    for name, path, signal in _all_signals():
        sends = _sends_of(signal, name, sites)
        if path.startswith("django."):
            status = SendStatus.DJANGO
        elif sends:
            status = SendStatus.FOUND
        elif _defined_in(path, scanned):
            status = SendStatus.NOT_FOUND
        else:
            status = SendStatus.NOT_SCANNED
        entries.append(
            SignalEntry(
                name=name,
                path=path,
                builtin=path in BUILTIN_SIGNAL_PATHS,
                status=status,
                send_sites=sends,
                receivers=tuple(connected_receivers(signal)),
            )
        )
    entries.sort(key=lambda entry: entry.path)
    return SignalMap(tuple(entries), tuple(app_config.label for app_config in scanned))

"""What an exporter choice needs, read from the environment without importing the SDK.

The system checks and the start-up code ask the same questions here: is the SDK disabled, which
OTLP protocol is asked for, and which distributions are missing for it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Final, NamedTuple

from signal_tracing.conf import SETTING_NAME, Problem

SDK_DISABLED: Final = "OTEL_SDK_DISABLED"
TRACES_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
PROTOCOL: Final = "OTEL_EXPORTER_OTLP_PROTOCOL"

GRPC: Final = "grpc"
HTTP_PROTOBUF: Final = "http/protobuf"
#: The specification's default; it also needs no grpcio and survives fork() (gunicorn preload).
DEFAULT_PROTOCOL: Final = HTTP_PROTOBUF
PROTOCOLS: Final = (GRPC, HTTP_PROTOBUF)

INSTALL_HINT: Final = 'Install the extra: pip install "signal-tracing[otlp]".'


class Requirement(NamedTuple):
    module: str
    distribution: str


_SDK: Final = Requirement("opentelemetry.sdk.trace", "opentelemetry-sdk")
_NEEDS: Final[Mapping[tuple[str, str | None], tuple[Requirement, ...]]] = {
    ("console", None): (_SDK,),
    ("otlp", HTTP_PROTOBUF): (
        _SDK,
        Requirement(
            "opentelemetry.exporter.otlp.proto.http.trace_exporter",
            "opentelemetry-exporter-otlp-proto-http",
        ),
    ),
    ("otlp", GRPC): (
        _SDK,
        Requirement(
            "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
            "opentelemetry-exporter-otlp-proto-grpc",
        ),
    ),
}


def sdk_disabled(environ: Mapping[str, str]) -> bool:
    """Whether ``OTEL_SDK_DISABLED`` is true, read the way the SDK reads it."""
    return environ.get(SDK_DISABLED, "").strip().lower() == "true"


def otlp_protocol(environ: Mapping[str, str]) -> tuple[str, str | None]:
    """Return the OTLP protocol asked for, and the variable that asked (None: the default).

    The signal-specific variable wins over the general one, as the specification says.
    """
    for variable in (TRACES_PROTOCOL, PROTOCOL):
        value = environ.get(variable, "").strip()
        if value:
            return value, variable
    return DEFAULT_PROTOCOL, None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def missing_distributions(exporter: str, environ: Mapping[str, str]) -> list[str]:
    """Return the distributions that ``exporter`` needs and that cannot be imported."""
    protocol = otlp_protocol(environ)[0] if exporter == "otlp" else None
    needs = _NEEDS.get((exporter, protocol), ())
    return [need.distribution for need in needs if not _importable(need.module)]


def problems(exporter: str | None, environ: Mapping[str, str]) -> list[Problem]:
    """Return what stops ``exporter`` from working here, for the system checks."""
    if exporter is None or sdk_disabled(environ):
        return []
    if exporter == "otlp":
        protocol, variable = otlp_protocol(environ)
        if protocol not in PROTOCOLS:
            return [
                Problem(
                    "signal_tracing.E007",
                    f"{variable}={protocol!r} is not an OTLP protocol this exporter supports.",
                    f'Use "{GRPC}" (port 4317) or "{HTTP_PROTOBUF}" (port 4318).',
                )
            ]
    missing = missing_distributions(exporter, environ)
    if missing:
        return [
            Problem(
                "signal_tracing.E006",
                f"{SETTING_NAME}['EXPORTER'] is {exporter!r}, which needs "
                f"{' and '.join(missing)}, not installed.",
                INSTALL_HINT,
            )
        ]
    return []

"""The static scan that finds where signals are sent (it parses files, never imports them)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from signal_tracing.management.send_sites import SendSite, scan_package


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def scan(root: Path) -> list[tuple[str, int, str, str | None, str]]:
    return [
        (str(Path(site.file_path).relative_to(root)), site.line_number, *_rest(site))
        for site in scan_package(root, "shop")
    ]


def _rest(site: SendSite) -> tuple[str, str | None, str]:
    return site.method, site.target, site.name


def test_every_send_method_is_found_and_resolved_through_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        "orders.py",
        """\
        import shop.signals
        import shop.signals as sig
        from shop.signals import order_paid as paid
        from .signals import order_shipped


        async def flow(order):
            shop.signals.order_paid.send(sender=None)
            sig.order_paid.send_robust(sender=None)
            await paid.asend(sender=None)
            await order_shipped.asend_robust(sender=None)
        """,
    )

    assert scan(tmp_path) == [
        ("orders.py", 8, "send", "shop.signals.order_paid", "order_paid"),
        ("orders.py", 9, "send_robust", "shop.signals.order_paid", "order_paid"),
        ("orders.py", 10, "asend", "shop.signals.order_paid", "order_paid"),
        ("orders.py", 11, "asend_robust", "shop.signals.order_shipped", "order_shipped"),
    ]


def test_relative_imports_resolve_from_the_files_own_package(tmp_path: Path) -> None:
    write(tmp_path, "__init__.py", "from .signals import ready\nready.send(sender=None)\n")
    write(
        tmp_path,
        "billing/views.py",
        """\
        from ..signals import order_paid


        def pay():
            from . import signals as local

            order_paid.send(sender=None)
            local.invoice_sent.send(sender=None)
        """,
    )

    assert scan(tmp_path) == [
        ("__init__.py", 2, "send", "shop.signals.ready", "ready"),
        ("billing/views.py", 7, "send", "shop.signals.order_paid", "order_paid"),
        ("billing/views.py", 8, "send", "shop.billing.signals.invoice_sent", "invoice_sent"),
    ]


def test_a_signal_used_in_its_own_module_resolves_to_that_module(tmp_path: Path) -> None:
    write(
        tmp_path,
        "signals.py",
        """\
        from django.dispatch import Signal

        order_paid = Signal()


        def announce():
            order_paid.send(sender=None)
        """,
    )

    assert scan(tmp_path) == [("signals.py", 7, "send", "shop.signals.order_paid", "order_paid")]


def test_a_call_on_a_computed_object_keeps_only_the_last_name(tmp_path: Path) -> None:
    write(tmp_path, "hub.py", "def go(hub):\n    hub().changed.send(sender=None)\n")

    assert scan(tmp_path) == [("hub.py", 2, "send", None, "changed")]


def test_other_calls_named_like_send_methods_are_not_matched(tmp_path: Path) -> None:
    write(
        tmp_path,
        "mail.py",
        """\
        def go(socket, message):
            socket.sendall(b"x")
            message.send_mail()
            send(1)
            get_socket().send(b"x")
        """,
    )

    assert scan(tmp_path) == []


def test_tests_migrations_and_unparsable_files_are_skipped(tmp_path: Path) -> None:
    sending = "from shop.signals import s\ns.send(sender=None)\n"
    write(tmp_path, "tests.py", sending)
    write(tmp_path, "test_orders.py", sending)
    write(tmp_path, "tests/test_more.py", sending)
    write(tmp_path, "migrations/0001_initial.py", sending)
    write(tmp_path, ".hidden/x.py", sending)
    write(tmp_path, "venv/pyvenv.cfg", "")
    write(tmp_path, "venv/lib/x.py", sending)
    write(tmp_path, "broken.py", "def (:\n")
    write(tmp_path, "binary.py", "")
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe\x00bad")
    write(tmp_path, "real.py", sending)

    assert scan(tmp_path) == [("real.py", 2, "send", "shop.signals.s", "s")]

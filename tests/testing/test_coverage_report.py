"""The receiver coverage report: whose receivers count, the text, the JSON and the threshold."""

from __future__ import annotations

from pathlib import Path

from signal_tracing.testing.coverage import CoverageData, ReceiverKey
from signal_tracing.testing.coverage_report import ProjectFiles, build_report


def test_the_projects_own_files_are_under_a_source_and_not_installed(tmp_path: Path) -> None:
    project = ProjectFiles([tmp_path])

    assert str(tmp_path / "shop" / "receivers.py") in project
    assert str(tmp_path / ".venv/lib/python3.12/site-packages/allauth/receivers.py") not in project
    assert str(tmp_path / "debian/usr/lib/python3/dist-packages/lib/receivers.py") not in project
    assert str(tmp_path.parent / "elsewhere.py") not in project
    assert "<string>" not in project
    assert None not in project


def test_a_source_inside_site_packages_asks_for_that_package(tmp_path: Path) -> None:
    package = tmp_path / ".venv/lib/python3.12/site-packages/allauth"
    project = ProjectFiles([tmp_path, package])

    assert str(package / "account" / "receivers.py") in project
    assert str(package.parent / "other" / "receivers.py") not in project


def data_with(tmp_path: Path) -> CoverageData:
    data = CoverageData()
    shop = str(tmp_path / "shop" / "receivers.py")
    data.note(
        ReceiverKey("shop.signals.order_paid", "shop.receivers.ship", shop, 20), "order_paid", 3
    )
    data.note(
        ReceiverKey("django.db.models.signals.post_save", "shop.receivers.audit", shop, 9),
        "post_save",
        12,
    )
    data.note(
        ReceiverKey("shop.signals.order_paid", "shop.receivers.refund", shop, 31), "order_paid"
    )
    installed = str(tmp_path / ".venv/lib/python3.12/site-packages/django/contrib/auth/models.py")
    data.note(
        ReceiverKey(
            "django.db.models.signals.post_migrate", "django.x.create_permissions", installed, 5
        ),
        "post_migrate",
        1,
    )
    data.note(
        ReceiverKey("shop.signals.order_paid", "unittest.mock.Mock", None, None), "order_paid", 1
    )
    return data


def test_the_report_lists_the_projects_receivers_by_file_and_line(tmp_path: Path) -> None:
    report = build_report(data_with(tmp_path), [tmp_path], tmp_path)

    assert report.lines() == [
        "Receiver               Signal      Calls  Where",
        "shop.receivers.audit   post_save      12  shop/receivers.py:9",
        "shop.receivers.ship    order_paid      3  shop/receivers.py:20",
        "shop.receivers.refund  order_paid      0  shop/receivers.py:31",
        "TOTAL: 2 of 3 receivers called (66.7%)",
        "Never called (1):",
        "  shop.receivers.refund (order_paid) shop/receivers.py:31",
    ]


def test_the_json_report_holds_the_summary_and_every_receiver(tmp_path: Path) -> None:
    report = build_report(data_with(tmp_path), [tmp_path], tmp_path)
    as_json = report.to_json()

    assert as_json["summary"] == {"receivers": 3, "called": 2, "never_called": 1, "percent": 66.67}
    assert as_json["receivers"][0] == {
        "receiver": "shop.receivers.audit",
        "signal": "post_save",
        "signal_path": "django.db.models.signals.post_save",
        "file": "shop/receivers.py",
        "line": 9,
        "calls": 12,
    }
    assert as_json["sources"] == [str(tmp_path.resolve())]


def test_the_threshold(tmp_path: Path) -> None:
    report = build_report(data_with(tmp_path), [tmp_path], tmp_path)

    assert report.failure(66) is None
    assert report.failure(90) == (
        "FAIL Required receiver coverage of 90% not reached. "
        "Total receiver coverage: 66.7% (2 of 3 receivers called)"
    )


def test_no_receivers_is_full_coverage(tmp_path: Path) -> None:
    report = build_report(CoverageData(), [tmp_path], tmp_path)
    assert report.percent == 100.0
    assert report.failure(100) is None

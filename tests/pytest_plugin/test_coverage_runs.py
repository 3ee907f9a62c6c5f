"""pytest --signal-coverage, run the way users run it: pytest in a subprocess, on a project
that uses the example site's apps and has receivers of its own."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.pytest_plugin.test_runs import REPO, django_project

pytest_plugins = ["pytester"]

SHOP_RECEIVERS = """
    from kitchen.signals import pizza_done
    from sms.signals import sms_code_sent


    def on_pizza(sender, **kwargs):
        pass


    def on_code_sent(sender, **kwargs):
        pass


    def on_pizza_for_nobody(sender, **kwargs):
        pass


    pizza_done.connect(on_pizza)
    sms_code_sent.connect(on_code_sent)
    pizza_done.connect(on_pizza_for_nobody, sender="nobody")
"""

#: A package installed in a virtualenv that lives inside the project: not the project's.
INSTALLED_RECEIVERS = """
    from kitchen.signals import pizza_done


    def on_pizza_installed(sender, **kwargs):
        pass


    pizza_done.connect(on_pizza_installed)
"""

CONFTEST = """
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / ".venv/lib/python3.12/site-packages"))

    import installed_package.receivers  # noqa: E402, F401
    import shop_receivers  # noqa: E402, F401
"""

TESTS = """
    import pytest

    from kitchen.baking import bake
    from kitchen.models import Topping
    from sms.verification import request_code

    pytestmark = pytest.mark.django_db


    @pytest.mark.parametrize("size", ["M", "L"])
    def test_bake(size):
        bake(size, [Topping.objects.get(name="ham")])


    @pytest.mark.parametrize("mobile", ["13800138000", "13800138001", "13800138002"])
    def test_request_code(mobile):
        request_code(mobile, sms_type=1)
"""

REPORT = [
    "*- signal receiver coverage -*",
    "Receiver                            Signal         Calls  Where",
    "shop_receivers.on_pizza             pizza_done         2  shop_receivers.py:5",
    "shop_receivers.on_code_sent         sms_code_sent      3  shop_receivers.py:9",
    "shop_receivers.on_pizza_for_nobody  pizza_done         0  shop_receivers.py:13",
    "TOTAL: 2 of 3 receivers called (66.7%)",
    "Never called (1):",
    "  shop_receivers.on_pizza_for_nobody (pizza_done) shop_receivers.py:13",
]


def shop_project(pytester: pytest.Pytester) -> None:
    django_project(pytester, shop_receivers=SHOP_RECEIVERS, test_shop=TESTS)
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    installed = pytester.path / ".venv/lib/python3.12/site-packages/installed_package"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    (installed / "receivers.py").write_text(textwrap.dedent(INSTALLED_RECEIVERS))


def test_the_report_lists_the_projects_receivers_with_their_calls(
    pytester: pytest.Pytester,
) -> None:
    shop_project(pytester)
    result = pytester.runpytest_subprocess("--signal-coverage")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(REPORT, consecutive=True)
    # Neither Django's receivers, nor the example site's (outside the rootdir), nor the
    # package installed in the project's virtualenv.
    for absent in ("django.", "kitchen.receivers", "sms.receivers", "on_pizza_installed"):
        result.stdout.no_fnmatch_line(f"*{absent}*")
    assert result.ret == 0


def test_sources_name_the_projects_directories(pytester: pytest.Pytester) -> None:
    shop_project(pytester)
    result = pytester.runpytest_subprocess(
        "--signal-coverage",
        f"--signal-coverage-source={REPO / 'example_site' / 'kitchen'}",
        f"--signal-coverage-source={pytester.path / '.venv/lib/python3.12/site-packages'}",
    )
    result.stdout.fnmatch_lines(
        [
            "Receiver*",
            "installed_package.receivers.on_pizza_installed  pizza_done       2  "
            ".venv/lib/python3.12/site-packages/installed_package/receivers.py:5",
            "kitchen.receivers.update_price                  m2m_changed      4  "
            f"{REPO}/example_site/kitchen/receivers.py:25",
            "kitchen.receivers.announce_pizza                pizza_done       2  "
            f"{REPO}/example_site/kitchen/receivers.py:56",
        ],
        consecutive=True,
    )
    result.stdout.no_fnmatch_line("*shop_receivers*")


def test_json_for_ci_and_a_threshold_that_fails_the_run(pytester: pytest.Pytester) -> None:
    shop_project(pytester)
    result = pytester.runpytest_subprocess(
        "--signal-coverage-json=receivers.json", "--signal-coverage-fail-under=80"
    )
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            *REPORT[1:],
            "JSON report written to receivers.json",
            "FAIL Required receiver coverage of 80% not reached. Total receiver coverage: "
            "66.7% (2 of 3 receivers called)",
        ]
    )
    written = json.loads((pytester.path / "receivers.json").read_text())
    assert written["summary"] == {"receivers": 3, "called": 2, "never_called": 1, "percent": 66.67}
    assert written["receivers"][0] == {
        "receiver": "shop_receivers.on_pizza",
        "signal": "pizza_done",
        "signal_path": "kitchen.signals.pizza_done",
        "file": "shop_receivers.py",
        "line": 5,
        "calls": 2,
    }

    passing = pytester.runpytest_subprocess("--signal-coverage-fail-under=66")
    assert passing.ret == pytest.ExitCode.OK


def test_pytest_xdist_workers_add_up_to_the_same_report(pytester: pytest.Pytester) -> None:
    shop_project(pytester)
    result = pytester.runpytest_subprocess("--signal-coverage", "-n", "2")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*2 workers*"])
    result.stdout.fnmatch_lines(REPORT, consecutive=True)


OFF = """
    import sys

    from signal_tracing import call_counts


    def test_nothing_is_counted_without_the_option():
        assert call_counts.active is None
        assert "signal_tracing.testing.pytest_coverage" not in sys.modules
"""


def test_without_the_option_nothing_is_counted(pytester: pytest.Pytester) -> None:
    django_project(pytester, test_off=OFF)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*signal receiver coverage*")

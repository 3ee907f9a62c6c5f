"""Loaded by every Python process of a suite run (``scripts/suites`` is on ``PYTHONPATH``).

Two jobs, each switched on by an environment variable the runner sets:

- ``SUITES_OUTCOMES``: append ``outcome<TAB>test id`` for every unittest result to that file, in
  the main process only (a ``--parallel`` worker's results are replayed into the main
  process's result object, so recording there too would count them twice). Recorded the same
  way in traced and untraced runs, so the two files can be diffed.
- ``SUITES_TRACE=instrument``: call ``signal_tracing.instrument()`` with a real SDK provider
  (``counting_provider``) before anything else runs, as ``opentelemetry-instrument`` would, and
  with the ``SIGNAL_TRACING`` keys in ``SUITES_SIGNAL_TRACING`` (JSON) as its options.
- ``SUITES_TRACE=global``: only make the counting provider the global one (``app`` mode:
  ``"signal_tracing"`` in ``INSTALLED_APPS`` instruments with it from ``ready()``).
"""

from __future__ import annotations

import json
import os


def _record_unittest_outcomes(path: str) -> None:
    import unittest

    main_pid = int(os.environ.setdefault("SUITES_MAIN_PID", str(os.getpid())))
    result_class = unittest.TestResult

    def write(outcome: str, test: object) -> None:
        if os.getpid() != main_pid:
            return
        test_id = getattr(test, "id", None)
        name = test_id() if callable(test_id) else repr(test)
        with open(path, "a", encoding="utf-8") as file:
            file.write(f"{outcome}\t{name}\n")

    def wrap(method_name: str, outcome: str) -> None:
        original = getattr(result_class, method_name)

        def method(self: object, test: object, *args: object) -> object:
            write(outcome, test)
            return original(self, test, *args)

        setattr(result_class, method_name, method)

    wrap("addSuccess", "pass")
    wrap("addFailure", "fail")
    wrap("addError", "error")
    wrap("addSkip", "skip")
    wrap("addExpectedFailure", "xfail")
    wrap("addUnexpectedSuccess", "xpass")
    original_sub_test = result_class.addSubTest

    def addSubTest(self: object, test: object, subtest: object, err: object) -> object:
        if err is not None:
            failed = issubclass(err[0], test.failureException)  # type: ignore[index,attr-defined]
            write("fail" if failed else "error", test)
        return original_sub_test(self, test, subtest, err)

    result_class.addSubTest = addSubTest  # type: ignore[method-assign]


def _reinstrument_after_first_setup() -> None:
    """Call ``instrument()`` again right after the first ``django.setup()``, then unwrap.

    Tracing started before ``django.test`` was imported, so Django's test cases are not
    wrapped for test spans yet (the ``manage.py test`` command wrapper would do it; a
    ``runtests.py`` script has none). A project calling ``instrument()`` from its settings or
    test script does the same. ``django.setup`` is put back untouched at once.
    """
    import django

    original = django.setup

    def setup(*args: object, **kwargs: object) -> None:
        django.setup = original
        original(*args, **kwargs)
        import signal_tracing

        signal_tracing.instrument()

    django.setup = setup


if os.environ.get("SUITES_OUTCOMES"):
    _record_unittest_outcomes(os.environ["SUITES_OUTCOMES"])

if os.environ.get("SUITES_TRACE") == "instrument":
    import counting_provider

    import signal_tracing

    _setting = json.loads(os.environ.get("SUITES_SIGNAL_TRACING", "{}"))
    signal_tracing.instrument(
        tracer_provider=counting_provider.provider(),
        **{key.lower(): value for key, value in _setting.items()},
    )
    _reinstrument_after_first_setup()
elif os.environ.get("SUITES_TRACE") == "global":
    import counting_provider

    counting_provider.install_globally()

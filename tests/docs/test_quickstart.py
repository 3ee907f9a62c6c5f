"""The README's and the quick start's snippets, pasted into a fresh ``startproject`` project.

The snippets are read out of the Markdown at test time, exactly as written. The first step
must work with nothing else running (no collector, no exporter waiting for one); the Jaeger
step must get the project's traces to an OTLP collector (Rotel, standing in for Jaeger).
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import pytest

from tests.collector.rotel import running_rotel
from tests.docs.markdown import ROOT, blocks_in, page, settings_snippets
from tests.docs.project import FreshProject

pytest_plugins = ["pytester"]

VISIT = Path(__file__).with_name("visit.py")

#: Each page's steps, by the headings their snippets sit under: (first step, Jaeger step).
DOCUMENTS = {
    "README.md": (("Quick start",), ("Then: traces in Jaeger",)),
    "docs/quickstart.md": (("Quick start", "1. In the debug toolbar"), ("2. In Jaeger",)),
}
REQUEST_SPAN = "GET admin/login/"
SERVER = 2  # SpanKind.SERVER in OTLP's numbering


@pytest.fixture
def project(tmp_path: Path) -> FreshProject:
    project = FreshProject.create(tmp_path / "project")
    project.set_up_debug_toolbar()
    return project


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def visit(project: FreshProject) -> tuple[str, str]:
    """Load a page with the toolbar; return our panel's content and the process's stderr."""
    visited = succeeded(project.run(str(VISIT)))
    outcome: dict[str, Any] = json.loads(visited.stdout)
    assert (outcome["status"], outcome["toolbar"], outcome["panel_in_toolbar"]) == (200, True, True)
    assert outcome["panel"]["status"] == 200
    content: str = outcome["panel"]["content"]
    return content, visited.stderr


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_first_step_works_in_a_fresh_project_with_nothing_else_running(
    project: FreshProject, document: str
) -> None:
    first_step, _jaeger_step = DOCUMENTS[document]
    project.append_settings(*settings_snippets(document, *first_step))

    checked = succeeded(project.manage("check"))
    migrated = succeeded(project.manage("migrate", "-v0"))
    panel, visit_errors = visit(project)
    mapped = succeeded(project.manage("signal_map"))

    # Nothing on stderr: no error, no warning, no exporter complaining about a missing collector.
    assert [checked.stderr, migrated.stderr, visit_errors, mapped.stderr] == ["", "", "", ""]
    assert "System check identified no issues" in checked.stdout
    # The toolbar's own Templates panel receives template_rendered: the defaults were kept,
    # and our panel recorded the firing.
    assert "django.test.signals.template_rendered" in panel
    assert "django.core.signals.request_started" in mapped.stdout
    assert "django.db.close_old_connections" in mapped.stdout


@pytest.mark.collector
@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_jaeger_step_sends_the_fresh_project_s_traces_to_a_collector(
    project: FreshProject, document: str, tmp_path: Path
) -> None:
    first_step, jaeger_step = DOCUMENTS[document]
    project.append_settings(*settings_snippets(document, *first_step, *jaeger_step))

    with running_rotel(tmp_path) as collector:
        # Jaeger's OTLP/HTTP port may be taken on this machine: the collector's own port.
        project.environment.update(collector.environment("http/protobuf"))
        succeeded(project.manage("migrate", "-v0"))
        panel, _errors = visit(project)
        spans = collector.wait_for_spans(
            lambda received: any(span["name"] == REQUEST_SPAN for span in received)
        )

    request = next(span for span in spans if span["name"] == REQUEST_SPAN)
    assert request["resource"]["service.name"] == "mysite"
    assert (request["kind"], request["parent_span_id"]) == (SERVER, "")
    in_request = [span for span in spans if span["parent_span_id"] == request["span_id"]]
    # Django's own receivers have no span of their own: their firing's span names them.
    (started,) = [span for span in in_request if span["name"] == "request_started send"]
    assert "django.db.reset_queries" in started["attributes"]["django.signal.receivers.django"]
    assert f'href="http://localhost:16686/trace/{request["trace_id"]}"' in panel


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_jaeger_compose_file_shown_is_the_example_site_s(document: str) -> None:
    _first_step, jaeger_step = DOCUMENTS[document]
    compose = (ROOT / "example_site" / "docker-compose.jaeger.yml").read_text(encoding="utf-8")
    without_comments = "".join(
        f"{line}\n" for line in compose.splitlines() if not line.startswith("#")
    )

    assert blocks_in(document, *jaeger_step, language="yaml") == [without_comments]


def test_every_extra_the_docs_install_exists() -> None:
    extras = set(metadata("signal-tracing").get_all("Provides-Extra") or [])
    pages = ["README.md", *(f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md"))]
    named = {
        (name, extra.strip())
        for name in pages
        for group in re.findall(r"signal-tracing\[([\w,]+)\]", page(name))
        for extra in group.split(",")
    }

    assert named, "no page installs an extra?"
    assert {(name, extra) for name, extra in named if extra not in extras} == set()


def test_the_quick_start_s_tests_pass_on_the_example_site(pytester: pytest.Pytester) -> None:
    # The page's blocks read as one test module: the later ones use the first one's imports.
    module = "\n\n".join(blocks_in("docs/quickstart.md", "3. In tests", language="python"))
    pytester.makeini(
        textwrap.dedent(
            f"""
            [pytest]
            DJANGO_SETTINGS_MODULE = tests.settings
            pythonpath = {ROOT} {ROOT / "example_site"}
            addopts = -p no:cacheprovider -p no:cov
            filterwarnings = error
            """
        )
    )
    pytester.makepyfile(test_quickstart=module)

    result = pytester.runpytest_subprocess()

    result.assert_outcomes(passed=len(re.findall(r"^def test_", module, re.MULTILINE)))

"""docs/tutorial.md shows the golden traces exactly as the golden tests assert them."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
GOLDEN_TESTS = Path(__file__).with_name("test_golden_traces.py")
SHOWN = re.compile(r"<!-- golden: (?P<test>\w+) -->\n```text\n(?P<tree>.*?)\n```", re.DOTALL)


def asserted_trees() -> dict[str, str]:
    """Test name -> the tree its ``assert_trace(...)`` call expects, root included."""
    trees = {}
    for node in ast.parse(GOLDEN_TESTS.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == "assert_trace"
            ):
                body = ast.literal_eval(call.args[1])
                tree = textwrap.dedent(body).strip("\n")
                root = {k.arg: k.value for k in call.keywords}.get("root")
                if root is not None:
                    tree = ast.literal_eval(root) + "\n" + textwrap.indent(tree, "  ")
                trees[node.name] = tree
    return trees


SHOWN_TREES = {m["test"]: m["tree"] for m in SHOWN.finditer(TUTORIAL.read_text(encoding="utf-8"))}


def test_the_tutorial_shows_the_trees_of_every_flow() -> None:
    assert set(SHOWN_TREES) == {
        "test_request_code_with_the_console_gateway",
        "test_django_receivers_get_spans_of_their_own_when_asked",
        "test_the_lean_configuration_counts_firings_of_djangos_receivers_alone",
        "test_request_code_with_the_failing_gateway",
        "test_a_failure_recorded_with_queryset_update_saves_once",
        "test_the_seeds_receiver_runs_inside_request_codes_transaction",
        "test_sending_on_commit_moves_the_delivery_out_of_post_save",
        "test_verify_a_good_code",
        "test_verify_a_wrong_code",
        "test_bake_a_pizza_with_toppings",
        "test_purge_expired_codes",
    }


@pytest.mark.parametrize("test_name", sorted(SHOWN_TREES))
def test_each_tree_in_the_tutorial_is_the_asserted_one(test_name: str) -> None:
    trees = asserted_trees()
    assert test_name in trees, f"docs/tutorial.md names {test_name}, which asserts no tree"
    assert SHOWN_TREES[test_name] == trees[test_name], (
        f"Copy the tree asserted by {test_name} into docs/tutorial.md"
    )


def test_code_included_from_the_example_site_exists() -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    includes = re.findall(r'^--8<-- "([^":]+)(?::(\w+))?"$', text, re.MULTILINE)

    # A formatter that touched these lines (ruff formats ```python blocks) breaks them
    # silently: the page would show the mangled line instead of the code.
    assert len(includes) == text.count("--8<") == 5
    for path, section in includes:
        source = (ROOT / path).read_text(encoding="utf-8")
        if section:
            assert f"# --8<-- [start:{section}]" in source, f"{path} lost section {section}"
            assert f"# --8<-- [end:{section}]" in source, f"{path} lost section {section}"

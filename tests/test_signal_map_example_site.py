"""``manage.py signal_map`` run as a user runs it: on the example site, in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "example_site"


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "manage.py", "signal_map", *args],
        cwd=EXAMPLE_SITE,
        # pytest-django exported the test settings; the site must use its own.
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "example_site.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    result = manage("--format", "json", "--fail-on-never-sent")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def receivers_of(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    [entry] = [entry for entry in document["signals"] if entry["path"] == path]
    receivers: list[dict[str, Any]] = entry["receivers"]
    return receivers


def test_example_apps_are_scanned_and_every_custom_signal_is_sent(
    document: dict[str, Any],
) -> None:
    assert {"sms", "kitchen"} <= set(document["scanned_apps"])
    custom = [e for e in document["signals"] if e["path"].startswith(("sms.", "kitchen."))]
    assert {entry["path"] for entry in custom} >= {
        "kitchen.signals.pizza_done",
        "sms.signals.sms_code_sent",
        "sms.signals.sms_code_verified",
    }
    assert {entry["sent"] for entry in custom} == {"found"}


def test_pizza_done_is_sent_robustly_by_the_kitchen(document: dict[str, Any]) -> None:
    [pizza_done] = [e for e in document["signals"] if e["path"] == "kitchen.signals.pizza_done"]

    assert [(site["file"], site["method"]) for site in pizza_done["send_sites"]] == [
        ("kitchen/baking.py", "send_robust")
    ]
    assert {r["name"]: r["async"] for r in pizza_done["receivers"]} == {
        "kitchen.receivers.announce_pizza": False,
        "kitchen.receivers.count_toppings": False,
        "kitchen.receivers.notify_courier": True,
    }


def test_the_seeds_post_save_receiver_listens_to_smscode_only(document: dict[str, Any]) -> None:
    [send_sms_code] = [
        r
        for r in receivers_of(document, "django.db.models.signals.post_save")
        if r["name"] == "sms.receivers.send_sms_code"
    ]

    assert send_sms_code["sender"] == "sms.SmsCode"
    assert send_sms_code["file"] == "sms/receivers.py"
    assert (send_sms_code["weak"], send_sms_code["async"]) == (True, False)


def test_text_and_mermaid_outputs_show_the_same_wiring() -> None:
    text = manage()
    mermaid = manage("--format", "mermaid")

    assert (text.returncode, mermaid.returncode) == (0, 0), text.stderr + mermaid.stderr
    assert "kitchen.signals.pizza_done  (sent at kitchen/baking.py:" in text.stdout
    assert "Receivers that never run" not in text.stdout
    assert mermaid.stdout.startswith("flowchart LR\n")
    assert '"kitchen.receivers.notify_courier<br/><small>kitchen/receivers.py:' in mermaid.stdout
    assert ":::never_sent" not in mermaid.stdout.replace("classDef never_sent", "")

"""The panel in a real headless Chromium, on the example site's failing-gateway SMS flow.

The SMS gateway refuses every message, so ``send_sms_code`` (a post_save receiver) marks the
code failed and saves it again: the nested post_save is the re-entrant dispatch the panel
must point out. Screenshots land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from tests.panels import hostile

pytestmark = pytest.mark.browser

PANEL = "#SignalTracingPanel"


def request_a_code(page: Page) -> None:
    page.goto("/sms/code/")
    page.fill("input[name=mobile]", "13800138000")
    page.click("button[type=submit]")
    expect(page.locator("#djdt-SignalTracingPanel")).to_be_visible()


def open_panel(page: Page) -> Locator:
    page.locator("#djdt-SignalTracingPanel a").click()
    panel = page.locator(PANEL)
    expect(panel.locator(".djdt-st")).to_be_visible()
    # The panel's stylesheet is linked from its content and loads after it: wait until it
    # applies, so that what is checked and photographed is what a person sees.
    expect(panel.locator(".djdt-st-headline li").first).to_have_css("display", "inline-block")
    return panel


def switch_history_to(page: Page, row: Locator, nav_text: str | re.Pattern[str]) -> None:
    """Click the History row's Switch button until our panel's nav shows ``nav_text``.

    The History panel's script arrives with its content: a click before it ran does nothing.
    """
    nav = page.locator("#djdt-SignalTracingPanel small")
    for _attempt in range(10):
        row.locator(".switchHistory").click()
        try:
            expect(nav).to_contain_text(nav_text, timeout=2_000)
            return
        except AssertionError:
            continue
    expect(nav).to_contain_text(nav_text)


def row_texts(panel: Locator) -> list[str]:
    """Each waterfall row's cells (tree, sender, method, sync/async, outcome) joined by |."""
    texts = []
    for row in panel.locator("tr[id^=signalTracingMain_]").all():
        cells = [" ".join(cell.split()) for cell in row.locator("td").all_inner_texts()]
        texts.append(" | ".join(cells[1:6]))
    return texts


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_failing_gateway_flow_shows_the_reentrant_save(
    page: Page, artifacts: Path, theme: str
) -> None:
    page.emulate_media(color_scheme=theme)
    request_a_code(page)
    nav = page.locator("#djdt-SignalTracingPanel small")
    # The first SmsCode built in the process may be counted as a post_init (see the report).
    expect(nav).to_have_text(
        re.compile(r"^2 firings( · 1 counted)? · \d+\.\d\d ms · \d+ warnings?$")
    )

    panel = open_panel(page)
    expect(page.locator("#djDebug")).to_have_attribute("data-theme", theme)
    rows = row_texts(panel)
    assert rows[0] == "post_save | sms.SmsCode | send | 1 receiver | ok"
    assert re.fullmatch(
        r"sms\.receivers\.send_sms_code sms/receivers\.py:\d+ \| sms\.SmsCode \| send \| sync"
        r" \| ok",
        rows[1],
    )
    assert rows[2] == "post_save re-entrant | sms.SmsCode | send | 1 receiver | ok"
    assert rows[3].startswith("sms.receivers.send_sms_code ")

    warning = panel.locator(".djdt-st-finding-reentrant")
    expect(warning).to_contain_text(
        "Re-entrant dispatch: post_save from sms.SmsCode was sent again while it was already "
        "being dispatched."
    )
    expect(warning.locator(".djdt-st-chain")).to_have_text(
        "post_save (sms.SmsCode) → sms.receivers.send_sms_code → post_save (sms.SmsCode)"
    )
    # The panel's own stylesheet reached the shadow root: the badge is red, rows indented.
    badge = panel.locator(".djdt-st-badge")
    expect(badge).to_have_css("background-color", "rgb(204, 0, 0)")
    expect(panel.locator(".djdt-st-indent-2")).to_have_css("padding-inline-start", "32px")

    details = panel.locator("#signalTracingDetails_3")
    expect(details).to_be_hidden()
    toggle = panel.locator("#signalTracingMain_3 .djToggleSwitch")
    toggle.click()
    expect(details).to_be_visible()
    expect(details).to_contain_text("django.db.models.signals.post_save")
    expect(details).to_contain_text("re-entrant: the same signal and sender were already")
    expect(toggle).to_have_text("-")
    page.screenshot(path=str(artifacts / f"panel-failing-gateway-{theme}.png"))
    toggle.click()
    expect(details).to_be_hidden()

    # Connected receivers: what the toolbar's own Signals panel lists, and what each did.
    connected = panel.locator(".djdt-st-connected")
    send_sms_code = connected.locator("tr", has_text="sms.receivers.send_sms_code")
    expect(send_sms_code.locator("td").nth(2)).to_have_text("sms.SmsCode")
    expect(send_sms_code.locator("td").nth(3)).to_have_text("weak")
    expect(send_sms_code.locator(".djdt-st-connected-use")).to_have_text("called 2 times")
    log_code_sent = connected.locator("tr", has_text="sms.receivers.log_code_sent")
    expect(log_code_sent.locator(".djdt-st-connected-use")).to_have_text("not called")
    headline = " ".join(panel.locator(".djdt-st-connected-headline").inner_text().split())
    assert re.fullmatch(
        r"\d+ receivers of \d+ signals connected when the request ended; 1 of them ran in it\.",
        headline,
    )
    connected.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"panel-connected-receivers-{theme}.png"))


def test_hostile_sender_and_receiver_are_shown_as_text(page: Page, artifacts: Path) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    hostile_sender = "<img src=x onerror=\"alert('xss');window.__xss=1\">"
    page.goto("/probe/?" + "sender=" + hostile_sender.replace("&", "%26"))
    panel = open_panel(page)
    sender_cell = panel.locator("#signalTracingMain_1 td").nth(2)
    expect(sender_cell).to_have_text(hostile_sender)
    expect(panel.locator(".djdt-st img")).to_have_count(0)
    expect(panel.locator("#signalTracingMain_3")).to_contain_text("tests.browser.views.<lambda>")
    # A receiver whose name, file, dispatch_uid and sender filter are all markup.
    name = f"tests.panels.hostile.{hostile.QUALNAME}"
    expect(panel.locator("#signalTracingMain_5 td").nth(1)).to_have_text(
        f"{name} {hostile.FILE_NAME}:1"
    )
    row = panel.locator(".djdt-st-connected tr", has_text="parcel_scanned")
    cells = [" ".join(text.split()) for text in row.locator("td").all_inner_texts()]
    assert cells == [
        "parcel_scanned",
        f"{name} {hostile.FILE_NAME}:1",
        hostile.SENDER,
        f"strong dispatch_uid {hostile.DISPATCH_UID}",
        "sync",
        "called 1 time",
    ]
    expect(panel.locator(".djdt-st img, .djdt-st script, .djdt-st b")).to_have_count(0)
    row.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "panel-hostile-sender.png"))
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_a_page_building_many_instances_reads_the_same_everywhere(
    page: Page, artifacts: Path
) -> None:
    # 717 model instances with a post_init receiver: counted, warned about, and the timeline
    # agrees (the issue was its "No signal ... was sent" beside the warning).
    page.goto("/probe/toppings/")
    expect(page.locator("#djdt-SignalTracingPanel small")).to_have_text(
        re.compile(r"^0 firings · 717 counted · \d+\.\d\d ms · 1 warning$")
    )
    panel = open_panel(page)
    expect(panel.locator(".djdt-st-headline")).to_contain_text("Counted, not traced: 717 post_init")
    expect(panel.locator(".djdt-st-finding-init_flood")).to_have_text(
        "Many model instances: post_init fired 717 times for kitchen.Topping; is the page "
        "loading more rows than it shows?"
    )
    expect(panel).to_contain_text(
        "Nothing to draw: the 717 firings of count-policy signals are totalled above and in "
        "the summary, not drawn row by row."
    )
    expect(panel).not_to_contain_text("No traced signal")
    row = panel.locator(".djdt-st-connected tr", has_text="tests.browser.views._topping_built")
    expect(row.locator(".djdt-st-connected-use")).to_have_text("ran for 717 counted firings")
    page.screenshot(path=str(artifacts / "panel-counted-only.png"))


def test_a_receiver_handled_by_send_robust_is_reported_in_one_sentence(
    page: Page, artifacts: Path
) -> None:
    page.goto("/kitchen/")
    page.check("input[name=toppings] >> nth=0")
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("is ready")
    # The POST redirected: its panel is in the History, listed when the History opens (a
    # refresh would redraw the rows under the click).
    page.locator("#djdt-HistoryPanel a").click()
    requests = page.locator("#HistoryPanel tr[data-request-id]")
    post_row = requests.filter(has_text="/kitchen/").filter(has_text="POST")
    # The page after the redirect has no warning; the POST has the failing receiver's.
    switch_history_to(page, post_row, "warning")
    panel = open_panel(page)
    warning = " ".join(panel.locator(".djdt-st-finding-raised").inner_text().split())
    assert re.fullmatch(
        r"Receiver raised: kitchen\.receivers\.notify_courier raised "
        r"kitchen\.receivers\.CourierUnavailable on pizza_done \(handled by send_robust\) "
        r"kitchen/receivers\.py:\d+",
        warning,
    )
    page.screenshot(path=str(artifacts / "panel-handled-by-send-robust.png"))


def test_history_switches_the_panel_to_an_earlier_request(page: Page, artifacts: Path) -> None:
    page.goto("/")
    status = page.evaluate(
        """async () => (await fetch("/api/sms/code/", {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({mobile: "13900139000", sms_type: 1}),
        })).status"""
    )
    assert status == 502  # the gateway refused; the code is saved as failed
    page.locator("#djdt-HistoryPanel a").click()
    page.locator("#HistoryPanel .refreshHistory").click()
    api_row = page.locator("#HistoryPanel tr[data-request-id]", has_text="/api/sms/code/")
    switch_history_to(page, api_row, re.compile(r"^2 firings · "))
    panel = open_panel(page)
    assert row_texts(panel)[2] == "post_save re-entrant | sms.SmsCode | send | 1 receiver | ok"
    page.screenshot(path=str(artifacts / "panel-history-snapshot.png"))

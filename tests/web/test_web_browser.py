"""The pages in a real browser: headless Chromium (Playwright) against the pages and the Slack
listener served by uvicorn on loopback, with the whole stack behind them (the register on
SQLite and PostgreSQL, real Prefect flows, the Slack emulator).

Two approvers sign in with Slack through the emulator, look at the portfolio and a pilot, and
answer from "my sign-offs": one gate is approved (the pilot moves on), another rejected with a
reason (the pilot is terminated), and the Slack messages they were asked in change. Any console
error, uncaught exception, failed request, error response or request to anywhere but the pages
and the emulator fails the test. Screenshots are saved under the test's temporary folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from web_site import FIN, PMO1, serve_site

from store import gates

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PREFECT_UI = "http://prefect.invalid:4200"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watch:
    """What a person would have seen go wrong in one browser context, and where it went."""

    problems: list[str] = field(default_factory=list)
    origins: set[str] = field(default_factory=set)

    def attach(self, page: Page) -> Page:
        def console(message: Any) -> None:
            if message.type in ("error", "assert"):
                self.problems.append(f"console.{message.type}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))
        page.on(
            "requestfailed",
            lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"),
        )
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )

        def request(r: Any) -> None:
            parts = urlsplit(r.url)
            self.origins.add(f"{parts.scheme}://{parts.netloc}")

        page.on("request", request)
        return page


def slack_text(stack: Any, request_id: int) -> tuple[str, list[dict[str, Any]]]:
    with stack.db.session() as session:
        request = gates.get_request(session, request_id)
    message = stack.emulator.find_message(request.channel, request.message_ts)
    assert message is not None
    return message.text or "", message.blocks or []


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    return any(b.get("type") == "actions" for b in blocks)


def asked(stack: Any, pilot_id: str) -> dict[str, int]:
    return {r.approver: r.id for r in stack.open_requests(pilot_id)}


def test_approvers_sign_in_with_slack_and_answer_on_the_pages(
    stack: Any, browser: Browser, tmp_path: Path
) -> None:
    helpdesk = stack.propose()
    devprod = stack.propose("developer-productivity")
    for pilot_id in (helpdesk, devprod):
        stack.advance(pilot_id)
    stack.dispatcher.drain()  # the asks reach Slack
    helpdesk_asks, devprod_asks = asked(stack, helpdesk), asked(stack, devprod)
    assert {PMO1, FIN} <= set(helpdesk_asks) and FIN in devprod_asks
    stack.emulator.add_user(PMO1, "pmo1", real_name="Pat Moreno")

    server, _ = serve_site(
        stack.runtime,
        stack.emulator,
        clock=stack.clock,
        on_wake=stack.dispatcher.wake.set,
        prefect_ui_url=PREFECT_UI,
    )
    watch = Watch()
    contexts = []
    try:
        base = server.base_url
        # ---- the programme office signs in: Slack (the emulator) sends them back
        stack.emulator.sign_in_as(PMO1)
        contexts.append(browser.new_context(viewport={"width": 1280, "height": 900}))
        page = watch.attach(contexts[-1].new_page())
        page.goto(base + "/")
        assert page.url == base + "/"
        expect(page.locator("h1")).to_have_text("Portfolio")
        expect(page.locator("header .name")).to_have_text("Pat Moreno")
        gates_table = page.locator("#open-gates table")
        expect(gates_table.locator("tbody tr")).to_have_count(2)
        helpdesk_row = gates_table.locator("tr", has_text="IT help-desk assistant")
        # by name (the example policy names them), the Slack id as the tooltip
        blocking = helpdesk_row.locator(".blocking")
        expect(blocking).to_contain_text("Pat Moreno")
        expect(blocking).to_contain_text("Dana Smith")
        expect(blocking).not_to_contain_text(PMO1)
        expect(blocking.locator(f'.person[title="{FIN}"]')).to_contain_text("Dana Smith")
        expect(blocking).to_contain_text("finance")
        expect(helpdesk_row).to_contain_text("programme_office 0/1")
        expect(page.locator("#caps")).to_contain_text("it-operations")
        expect(page.locator("#funnel")).to_contain_text("proposal")
        page.screenshot(path=str(tmp_path / "portfolio.png"), full_page=True)

        # ---- filters narrow everything to one portfolio
        page.select_option("select[name=portfolio]", "engineering")
        page.click("#filters button[type=submit]")
        expect(page.locator("#register tbody tr")).to_have_count(1)
        expect(page.locator("#register")).to_contain_text("engineering")
        page.goto(base + "/")

        # ---- the pilot's page
        page.locator("#register").get_by_role("link", name="IT help-desk assistant").click()
        assert page.url == f"{base}/pilots/{helpdesk}"
        expect(page.locator("#pilot-title")).to_have_text("IT help-desk assistant")
        expect(page.locator("#business-owner")).to_contain_text("Tom Becker")
        expect(page.locator("#business-owner")).to_contain_text("180,000 USD")
        expect(page.locator("#metrics tbody tr")).to_have_count(2)
        expect(page.locator("#metrics")).to_contain_text("resolution_minutes")
        expect(page.locator("#open-gate #tally")).to_contain_text("finance 0/1")
        expect(page.locator("#asks tbody tr")).to_have_count(len(helpdesk_asks))
        expect(page.locator(f'#asks td[title="{FIN}"]')).to_contain_text("Dana Smith")
        expect(page.locator("#chain")).to_contain_text("intact")
        expect(page.locator("#proposal")).to_contain_text("Level-1 IT tickets")
        page.screenshot(path=str(tmp_path / "pilot.png"), full_page=True)

        # ---- my sign-offs: approve
        page.get_by_role("link", name="My sign-offs").click()
        card = page.locator(f"#request-{helpdesk_asks[PMO1]}")
        expect(card).to_contain_text("IT help-desk assistant")
        card.get_by_role("button", name="Approve").click()
        expect(page.locator("#recorded")).to_contain_text("approved IT help-desk assistant")
        expect(page.locator(f"#request-{helpdesk_asks[PMO1]}")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "me-approved.png"), full_page=True)
        stack.dispatcher.drain()  # the outbox relays the chat.update
        text, blocks = slack_text(stack, helpdesk_asks[PMO1])
        assert f"Approved by <@{PMO1}>" in text and not has_buttons(blocks)
        assert stack.stage(helpdesk) == "proposal"  # finance has not answered yet

        # ---- finance: approves one pilot, rejects the other with a reason
        stack.emulator.sign_in_as(FIN)
        contexts.append(browser.new_context(viewport={"width": 1280, "height": 900}))
        fin = watch.attach(contexts[-1].new_page())
        fin.goto(base + "/me")
        assert fin.url == base + "/me"
        expect(fin.locator("article.ask")).to_have_count(2)
        fin.locator(f"#request-{helpdesk_asks[FIN]}").get_by_role("button", name="Approve").click()
        expect(fin.locator("#recorded")).to_contain_text("approved IT help-desk assistant")
        stack.dispatcher.drain()  # woken: resolve-gate runs, the pilot moves on
        assert stack.stage(helpdesk) == "pilot"

        reject = fin.locator(f"#request-{devprod_asks[FIN]}")
        reject.locator("textarea").fill("too short")
        before = fin.url
        reject.get_by_role("button", name="Reject").click()  # the browser keeps the form
        assert reject.locator("textarea").evaluate("t => t.validity.tooShort") is True
        assert fin.url == before and stack.stage(devprod) == "proposal"
        reason = "No budget for this in Q3; propose again with the licence costs."
        reject.locator("textarea").fill(reason)
        reject.get_by_role("button", name="Reject").click()
        expect(fin.locator("#recorded")).to_contain_text("rejected")
        expect(fin.locator("#answered")).to_contain_text(reason)
        fin.screenshot(path=str(tmp_path / "me-rejected.png"), full_page=True)
        stack.dispatcher.drain()
        assert stack.stage(devprod) == "terminated"
        text, blocks = slack_text(stack, devprod_asks[FIN])
        assert f"Rejected by <@{FIN}>" in text and reason in json.dumps(blocks)
        assert not has_buttons(blocks)

        # ---- the terminated pilot's page tells the story, with its flow runs
        fin.goto(f"{base}/pilots/{devprod}")
        expect(fin.locator("#stage")).to_contain_text("terminated")
        expect(fin.locator("#decisions")).to_contain_text(reason)
        expect(fin.locator("#open-gate")).to_contain_text("No gate is open")
        links = fin.locator("#flow-runs a")
        assert links.count() >= 1
        assert (links.first.get_attribute("href") or "").startswith(f"{PREFECT_UI}/runs/flow-run/")
        fin.screenshot(path=str(tmp_path / "pilot-terminated.png"), full_page=True)
    finally:
        for context in contexts:
            context.close()
        server.stop()

    assert watch.problems == [], watch.problems
    emulator = f"http://127.0.0.1:{stack.emulator.port}"
    assert watch.origins <= {server.base_url, emulator}, watch.origins
    for name in ("portfolio", "pilot", "me-approved", "me-rejected", "pilot-terminated"):
        shot = tmp_path / f"{name}.png"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

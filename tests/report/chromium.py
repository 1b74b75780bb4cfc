"""Headless Chromium driven by Playwright, for the report's page test.

`Browser.load(path)` opens a file from disk and returns what a person would have seen go
wrong: uncaught exceptions, console errors (CSP violations among them), requests that failed,
the requests the page made (anything but the file itself has left it), and the on-screen size
of every chart's <svg>; `screenshot` saves the whole page as PNG. Playwright drives the system's
Chromium (browsers cannot be downloaded here).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Error, Request, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
]

CHART_SIZES = """() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : null;
  return {id: f.id, svg: !!svg, width: box ? box.width : 0, height: box ? box.height : 0,
          bars: f.querySelectorAll('rect.bar').length};
})"""


def chromium_binary() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "headless Chromium is needed for the report's browser test: "
        "apt-get install -y chromium (.ci/run does this)"
    )


@dataclass
class PageLoad:
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""


class Browser:
    def __init__(self) -> None:
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=chromium_binary(), args=CHROMIUM_ARGS
            )
            self.page = self._browser.new_page(viewport={"width": 1200, "height": 900})
        except BaseException:
            self._playwright.stop()
            raise
        self._load: PageLoad | None = None
        self.page.on("console", self._console)
        self.page.on("pageerror", self._uncaught)
        self.page.on("requestfailed", self._failed)
        self.page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if self._load is not None and message.type in ("error", "assert"):
            self._load.errors.append(f"console.{message.type}: {message.text}")

    def _uncaught(self, error: Error) -> None:
        if self._load is not None:
            self._load.errors.append(f"exception: {error.message}")

    def _failed(self, request: Request) -> None:
        if self._load is not None:
            self._load.errors.append(f"load failed: {request.url} ({request.failure})")

    def _request(self, request: Request) -> None:
        if self._load is not None:
            self._load.requests.append(request.url)

    def load(self, path: Path) -> PageLoad:
        result = PageLoad(path.resolve().as_uri())
        self._load = result
        self.page.goto(result.url, wait_until="load")
        self.page.evaluate("1")  # let late console events arrive
        result.charts = list(self.page.evaluate(CHART_SIZES))
        result.title = self.page.title()
        self._load = None
        return result

    def screenshot(self, path: Path) -> Path:
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._playwright.stop()

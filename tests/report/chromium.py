"""Headless Chromium driven over the DevTools protocol (websockets), for the report's page test.

`Browser.load(path)` opens a file from disk and returns what a person would have seen go
wrong: uncaught exceptions, console errors, browser log errors (CSP violations, failed loads),
requests that left the file, and the on-screen size of every chart's <svg>; `screenshot`
saves the whole page as PNG.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1200,900",
    "--remote-debugging-port=0",
]

CHART_SIZES = """JSON.stringify(Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : null;
  return {id: f.id, svg: !!svg, width: box ? box.width : 0, height: box ? box.height : 0,
          bars: f.querySelectorAll('rect.bar').length};
}))"""


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
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
    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.process = subprocess.Popen(
            [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._port()
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def _port(self) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            if marker.exists():
                lines = marker.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port within 30 s")

    def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._id += 1
        wanted = self._id
        self.ws.send(json.dumps({"id": wanted, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def _wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while time.monotonic() < deadline:
            if any(e.get("method") == event for e in self.events[seen:]):
                return
            try:
                message = json.loads(self.ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            self.events.append(message)
            if message.get("method") == event:
                return
        raise TimeoutError(f"no {event} within {timeout} s")

    def load(self, path: Path) -> PageLoad:
        url = path.resolve().as_uri()
        self.events.clear()
        self.send("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")
        self.send("Runtime.evaluate", expression="1")  # let late console events arrive
        result = PageLoad(url)
        result.charts = json.loads(
            self.send("Runtime.evaluate", expression=CHART_SIZES, returnByValue=True)["result"][
                "value"
            ]
        )
        result.title = self.send(
            "Runtime.evaluate", expression="document.title", returnByValue=True
        )["result"]["value"]
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                result.errors.append(
                    "exception: "
                    + str(details.get("exception", {}).get("description") or details.get("text"))
                )
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                result.errors.append(
                    "console."
                    + params["type"]
                    + ": "
                    + " ".join(
                        str(a.get("value", a.get("description", ""))) for a in params["args"]
                    )
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                result.errors.append("log: " + params["entry"]["text"])
            elif method == "Network.loadingFailed":
                result.errors.append("load failed: " + params.get("errorText", ""))
            elif method == "Network.requestWillBeSent":
                result.requests.append(params["request"]["url"])
        return result

    def screenshot(self, path: Path) -> Path:
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

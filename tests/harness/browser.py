"""A real headless Chromium (Debian's `chromium`) driven over the DevTools
protocol, for the HTML report's test: open a page, collect console errors,
uncaught exceptions, failed and external requests, read values out of the
DOM, take a screenshot and print to PDF.

    with Chromium(tmp_path) as browser:
        page = browser.open(Path("report.html"))
        page.problems          # console errors, exceptions, failed/external requests
        page.evaluate("document.title")
        page.screenshot(tmp_path / "report.png")

Chromium runs as its own process group with a fresh profile directory,
offline flags (no background networking, updates, sync, QUIC), and is
stopped by PID.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

import pytest

from .procs import stop_process, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--no-default-browser-check", "--remote-allow-origins=*")


class Page:
    def __init__(self, ws: Any, url: str) -> None:
        self._ws = ws
        self._next = 0
        self.url = url
        self.events: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.requests: list[str] = []

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)
        raise TimeoutError(method)

    def wait_event(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == name:
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._ws.recv())
            self._event(message)
            if message.get("method") == name:
                return message
        raise TimeoutError(name)

    def _event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:
            return
        self.events.append(message)
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.problems.append(f"console {params.get('type')}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            self.problems.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.problems.append(f"log error: {params['entry'].get('text')}")
        elif method == "Network.loadingFailed":
            self.problems.append(f"request failed: {params.get('errorText')} "
                                 f"{params.get('requestId')}")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            self.requests.append(url)
            if url != self.url and not url.startswith("data:"):
                self.problems.append(f"request to {url}")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png",
                                          captureBeyondViewport=False)["data"])
        path.write_bytes(data)
        return data

    def print_pdf(self) -> bytes:
        return base64.b64decode(self.call("Page.printToPDF", timeout=120.0,
                                          printBackground=True, preferCSSPageSize=True)["data"])


class Chromium:
    def __init__(self, workdir: Path, width: int = 1280, height: int = 1600) -> None:
        self.workdir = workdir
        self.size = (width, height)
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self._sockets: list[Any] = []
        self._tmpdir: Optional[str] = None

    def __enter__(self) -> "Chromium":
        if not Path(CHROMIUM).exists():
            pytest.fail("chromium is not installed (tools/bootstrap.sh installs it)")
        profile = self.workdir / "chromium-profile"
        if profile.exists():
            shutil.rmtree(profile)      # a fresh profile: no state, no stale DevToolsActivePort
        profile.mkdir(parents=True)
        log = open(self.workdir / "chromium.stderr", "wb")
        # Chromium leaves its singleton directory (org.chromium.Chromium.*) in
        # TMPDIR: a private one, removed on exit, keeps /tmp as it was (short:
        # it holds a unix socket, whose path must fit 108 bytes).
        self._tmpdir = tempfile.mkdtemp(prefix="aeql-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env={**os.environ, "TMPDIR": self._tmpdir})
        log.close()
        active = profile / "DevToolsActivePort"
        if not wait_for(lambda: active.exists() and active.read_text().strip() != ""
                        or self.proc.poll() is not None, 60.0, 0.1) or self.proc.poll() is not None:
            self.__exit__(None, None, None)
            pytest.fail("chromium did not start: "
                        + (self.workdir / "chromium.stderr").read_text(errors="replace")[-2000:])
        self.port = int(active.read_text().split()[0])
        return self

    def open(self, path: Path, timeout: float = 60.0) -> Page:
        import websocket
        targets = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{self.port}/json/list", timeout=10).read())
        target = next(t for t in targets if t.get("type") == "page")
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout,
                                         suppress_origin=True)
        self._sockets.append(ws)
        url = path.resolve().as_uri()
        page = Page(ws, url)
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1],
                  deviceScaleFactor=1, mobile=False)
        page.call("Page.navigate", url=url)
        page.wait_event("Page.loadEventFired", timeout)
        page.evaluate("new Promise(r => setTimeout(r, 200))")   # late console messages
        return page

    def __exit__(self, *exc: Any) -> None:
        for ws in self._sockets:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - closing a dead socket
                pass
        if self.proc is not None:
            stop_process(self.proc, timeout=15)
            self.proc = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

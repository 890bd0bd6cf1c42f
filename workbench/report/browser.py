"""Headless Chromium driven over the DevTools protocol, for checking the HTML report as a browser renders it.

Chromium is started with --remote-debugging-pipe: the protocol's JSON messages travel over two pipes (its fd 3 in,
fd 4 out, each message ended by a NUL byte), so no port, websocket or extra package is needed. The network is
blocked twice: the page is emulated offline, and every request that is not a file: or data: URL is paused by the
Fetch domain, recorded in `requests_left` and failed. Console errors and uncaught exceptions land in `console_errors`.
Used by tests/test_html_report.py and benchmarks/report_size.py.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")  # Debian's package first
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe")  # fmt: skip
LOCAL_SCHEMES = ("file:", "data:", "about:")  # what a self-contained page may load


class BrowserError(RuntimeError):
    """Chromium could not be started, or did not answer in time."""


def find_chromium() -> str | None:
    """The path of an installed Chromium or Chrome, or None."""
    return next((p for p in map(shutil.which, EXECUTABLES) if p), None)


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, executable: str | None = None, width: int = 1280, height: int = 900, timeout: float = 60.0) -> None:
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError(f"no Chromium found (looked for {', '.join(EXECUTABLES)})")
        self.width, self.height, self.timeout = width, height, timeout
        self.console_errors: list[str] = []
        self.requests_left: list[str] = []
        self._events: queue.Queue = queue.Queue()
        self._replies: dict[int, queue.Queue] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self._session = ""

    def __enter__(self) -> "Chromium":
        self._profile = tempfile.mkdtemp(prefix="framebench-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:  # in the child before exec: the protocol's pipes become its fd 3 and 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        argv = [self.executable, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={self.width},{self.height}",
                "about:blank"]  # fmt: skip
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         preexec_fn=wire, pass_fds=(3, 4))  # noqa: PLW1509 - dup2 only, before exec
        os.close(to_child_r)
        os.close(from_child_w)
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.call(method)
        offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        self.call("Network.emulateNetworkConditions", offline)
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})
        self.set_viewport(self.width, self.height)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            os.close(self._to_child)
        except OSError:
            pass
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._from_child)
        shutil.rmtree(self._profile, ignore_errors=True)

    # ------------------------------------------------------------------ the protocol
    def _send(self, method: str, params: dict | None, session: str) -> int:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            self._replies[ident] = queue.Queue()
            message = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            os.write(self._to_child, json.dumps(message).encode() + b"\0")
        return ident

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command (to the page's session unless `session` is given) and return its result."""
        ident = self._send(method, params, self._session if session is None else session)
        try:
            reply = self._replies[ident].get(timeout=self.timeout)
        except queue.Empty:
            raise BrowserError(f"Chromium did not answer {method} within {self.timeout:g} s") from None
        finally:
            self._replies.pop(ident, None)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result", {})

    def _read(self) -> None:
        """Reader thread: replies to their caller; events recorded, paused requests answered."""
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self._dispatch(json.loads(raw))

    def _dispatch(self, message: dict) -> None:
        if "id" in message:
            waiting = self._replies.get(message["id"])
            if waiting is not None:
                waiting.put(message)
            return
        method, params, session = message.get("method", ""), message.get("params", {}), message.get("sessionId", "")
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if url.startswith(LOCAL_SCHEMES):
                self._send("Fetch.continueRequest", {"requestId": params["requestId"]}, session)
            else:
                self.requests_left.append(url)
                self._send("Fetch.failRequest", {"requestId": params["requestId"], "errorReason": "BlockedByClient"}, session)
        elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(LOCAL_SCHEMES):
            self.requests_left.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console_errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.console_errors.append(params["entry"].get("text", ""))
        self._events.put((method, params))

    def _wait_event(self, name: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                method, params = self._events.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if method == name:
                return params
        raise BrowserError(f"no {name} within {self.timeout:g} s")

    # ------------------------------------------------------------------ what a test does with a page
    def set_viewport(self, width: int, height: int) -> None:
        """Lay the page out at this CSS width and height (device scale 1)."""
        self.width, self.height = width, height
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)

    def open(self, path: Path) -> float:
        """Load a local file and wait for its load event; returns the seconds from navigation to load. The lists of
        console errors and outside requests start empty for each page."""
        self.console_errors.clear()
        self.requests_left.clear()
        while not self._events.empty():
            self._events.get_nowait()
        start = time.perf_counter()
        reply = self.call("Page.navigate", {"url": Path(path).resolve().as_uri()})
        if reply.get("errorText"):
            raise BrowserError(f"cannot open {path}: {reply['errorText']}")
        self._wait_event("Page.loadEventFired")
        return time.perf_counter() - start

    def evaluate(self, expression: str) -> object:
        """The value of a JavaScript expression in the page (JSON-serialisable results only)."""
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression[:80]}: {reply['exceptionDetails'].get('text', 'exception')}")
        return reply["result"].get("value")

    def click(self, selector: str, index: int = 0) -> None:
        """A real mouse click (press and release) at the centre of the index-th element matching `selector`."""
        box = self.evaluate(f"(() => {{ const e = document.querySelectorAll({json.dumps(selector)})[{index}];"
                            " if (!e) return null; e.scrollIntoView({block: 'center'});"
                            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")  # fmt: skip
        if box is None:
            raise BrowserError(f"nothing matches {selector!r} (index {index})")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def screenshot(self, path: Path, full_page: bool = True, max_height: int | None = None) -> Path:
        """Save a PNG of the page (the whole page, or the viewport), its top `max_height` CSS pixels at most."""
        params: dict = {"format": "png"}
        if full_page:
            height = self.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
            height = min(height, max_height) if max_height else height
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1})
        data = self.call("Page.captureScreenshot", params)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

"""Screenshots of the viewer page with headless Chromium, driven over the DevTools protocol.

viser draws the splats with WebGL in the browser; without a GPU, Chromium's SwiftShader
(software WebGL) does it. No selenium / chromedriver needed: the DevTools websocket is enough.
"""
from __future__ import annotations

import base64
import io
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np

from gscodec.errors import GscodecError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


# viser's toasts (e.g. "Software WebGL rendering detected") would cover part of the capture
HIDE_NOTIFICATIONS = ("document.querySelectorAll('[class*=\"Notification\"]')"
                      ".forEach(e => e.style.display = 'none'); true")


class BrowserError(GscodecError):
    """Headless Chromium is missing, failed to start, or the page never got ready."""


def find_chromium() -> str | None:
    env = os.environ.get("GSCODEC_CHROMIUM")
    if env:
        return env
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def colour_fraction(rgb: np.ndarray, min_saturation: float = 0.25, min_value: float = 0.15) -> float:
    """Share of pixels that are clearly coloured (not white / grey / black UI)."""
    x = rgb[..., :3].astype(np.float32) / 255.0
    mx, mn = x.max(-1), x.min(-1)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    return float(((sat > min_saturation) & (mx > min_value)).mean())


def drawn_fraction(rgb: np.ndarray) -> float:
    """Share of the scene area (left of the side panel, clear of the axes gizmo) that is not
    the page's white background: something has been drawn there."""
    h, w = rgb.shape[:2]
    area = rgb[h // 10: h * 9 // 10, w // 10: w * 7 // 10, :3].astype(np.int16)
    return float(((255 - area).max(-1) > 30).mean())


def distinct_hues(rgb: np.ndarray, bins: int = 12, min_share: float = 0.001) -> int:
    """How many of `bins` hue bins hold at least `min_share` of the pixels (coloured ones only)."""
    x = rgb[..., :3].astype(np.float32) / 255.0
    mx, mn = x.max(-1), x.min(-1)
    col = ((mx - mn) / np.maximum(mx, 1e-6) > 0.25) & (mx > 0.15)
    if not col.any():
        return 0
    r, g, b = (x[..., i][col] for i in range(3))
    d = np.maximum(mx[col] - mn[col], 1e-6)
    h = np.where(mx[col] == r, ((g - b) / d) % 6, np.where(mx[col] == g, (b - r) / d + 2, (r - g) / d + 4))
    counts = np.bincount(np.clip((h / 6 * bins).astype(int), 0, bins - 1), minlength=bins)
    return int((counts >= min_share * rgb.shape[0] * rgb.shape[1]).sum())


def decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class _DevTools:
    def __init__(self, ws_url: str):
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=20)
        self._ids = itertools.count(1)

    def call(self, method: str, timeout: float = 60.0, **params) -> dict:
        i = next(self._ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == i:
                if "error" in msg:
                    raise BrowserError(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


def chromium_args(exe: str, profile: str, width: int, height: int) -> list[str]:
    return [exe, "--headless=new", "--no-sandbox", "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--disable-quic",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"]


class BrowserPage:
    """One headless-Chromium page on `url`, kept open for several captures (the player's test
    changes the time or the mode between them: same browser, same camera)."""

    def __init__(self, url: str, *, width: int = 1280, height: int = 800):
        self.url, self.width, self.height = url, width, height
        self.proc = self.tools = self._profile = self._log = None

    def open(self) -> "BrowserPage":
        exe = find_chromium()
        if exe is None:
            raise BrowserError("Chromium not found (apt-get install chromium, or set GSCODEC_CHROMIUM)")
        self._profile = tempfile.mkdtemp(prefix="gscodec-chromium-")
        self._log = tempfile.TemporaryFile()  # Chromium is chatty; a pipe nobody reads could block it
        self.proc = subprocess.Popen(chromium_args(exe, self._profile, self.width, self.height),
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        try:
            self.tools = _DevTools(_page_ws_url(self.proc, Path(self._profile), self._log,
                                                deadline=time.monotonic() + 30))
            self.tools.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                            deviceScaleFactor=1, mobile=False)
            self.tools.call("Page.enable")
            self.tools.call("Page.navigate", url=self.url)
        except (BrowserError, KeyboardInterrupt):
            self.close()
            raise
        except Exception as e:
            self.close()
            raise BrowserError(f"headless Chromium failed: {type(e).__name__}: {e}") from e
        return self

    def capture(self, out: str | Path | None = None, *, timeout: float = 60.0,
                ready: Callable[[np.ndarray], bool] | None = None, settle: int = 2,
                interval: float = 1.0) -> np.ndarray:
        """Capture every `interval` s until `ready(rgb)` holds for `settle` captures in a row;
        write the last one to `out` (if given, also on failure, for diagnosis) and return it."""
        ready = ready or (lambda rgb: drawn_fraction(rgb) > 0.01)
        deadline, streak, png, rgb = time.monotonic() + timeout, 0, None, None
        try:
            while streak < settle and time.monotonic() < deadline:
                time.sleep(interval)
                left = max(5.0, deadline - time.monotonic())
                try:  # software WebGL under load can take long over a frame: keep trying until deadline
                    self.tools.call("Runtime.evaluate", timeout=left, expression=HIDE_NOTIFICATIONS)
                    data = self.tools.call("Page.captureScreenshot", timeout=left, format="png")["data"]
                except TimeoutError:
                    continue
                png = base64.b64decode(data)
                rgb = decode_png(png)
                streak = streak + 1 if ready(rgb) else 0
        except (BrowserError, KeyboardInterrupt):
            raise
        except Exception as e:  # websocket / OS errors of the browser session: one clear line
            raise BrowserError(f"headless Chromium failed: {type(e).__name__}: {e}") from e
        if png is None:
            raise BrowserError(f"headless Chromium gave no capture of {self.url} within {timeout:.0f} s")
        if out is not None:
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(png)
        if streak < settle:
            raise BrowserError(f"the page at {self.url} did not get ready within {timeout:.0f} s"
                               + (f" (last capture: {out})" if out is not None else ""))
        return rgb

    def evaluate(self, expression: str, *, await_promise: bool = False, timeout: float = 60.0):
        """The value of a JavaScript expression in the page (a promise awaited if asked)."""
        try:
            r = self.tools.call("Runtime.evaluate", timeout=timeout, expression=expression,
                                awaitPromise=await_promise, returnByValue=True)
        except (BrowserError, KeyboardInterrupt):
            raise
        except Exception as e:
            raise BrowserError(f"headless Chromium failed: {type(e).__name__}: {e}") from e
        if "exceptionDetails" in r:
            raise BrowserError(f"the page's script failed: {r['exceptionDetails'].get('text', '?')}")
        return r.get("result", {}).get("value")

    def close(self) -> None:
        if self.tools is not None:
            try:
                self.tools.call("Browser.close", timeout=5)
            except Exception:
                pass
            self.tools.close()
            self.tools = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def __enter__(self) -> "BrowserPage":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def screenshot(url: str, out: str | Path, *, width: int = 1280, height: int = 800,
               timeout: float = 60.0, ready: Callable[[np.ndarray], bool] | None = None,
               settle: int = 2, interval: float = 1.0) -> np.ndarray:
    """Open `url` in headless Chromium, capture the page every `interval` s until `ready(rgb)`
    holds for `settle` captures in a row, write the last capture to `out` (PNG), return it.
    Raises BrowserError when Chromium is missing or `timeout` passes (the last capture is
    still written, for diagnosis)."""
    with BrowserPage(url, width=width, height=height) as page:
        try:
            return page.capture(out, timeout=timeout, ready=ready, settle=settle, interval=interval)
        except BrowserError as e:
            if "did not get ready" in str(e):
                raise BrowserError(f"the viewer page at {url} did not show the splats within "
                                   f"{timeout:.0f} s (last capture: {out})") from None
            raise


def _page_ws_url(proc: subprocess.Popen, profile: Path, log, deadline: float) -> str:
    """Wait for Chromium's DevToolsActivePort file, then return the first page's websocket."""
    port_file = profile / "DevToolsActivePort"
    while not port_file.is_file() or not port_file.read_text().strip():
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")[-2000:]
            raise BrowserError(f"Chromium exited with code {proc.returncode}: {err}")
        if time.monotonic() > deadline:
            raise BrowserError("Chromium did not open its DevTools port within 30 s")
        time.sleep(0.2)
    port = int(port_file.read_text().split()[0])
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BrowserError("Chromium opened no page to drive")
        time.sleep(0.2)

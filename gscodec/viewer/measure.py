"""How fast the player plays a stream in headless Chromium, and what it sends per frame: the
numbers behind the issue's goal (a benchmark row, not a timed test; bench/ can call this).

Two rates are measured over the same window, because either can be the bottleneck:
* `achieved_fps` - frames the server switched to per second while playing (slicing, baking
  and sending each new frame; after one loop every frame is in the browser and only
  visibility changes travel);
* `browser_fps` - frames the page drew per second (requestAnimationFrame), i.e. how often
  software WebGL (SwiftShader) re-splats the scene; a switched frame is seen at this rate.
"""
from __future__ import annotations

import time
from pathlib import Path

# frames the page draws in `ms` milliseconds, per second (the page's own clock)
_RAF_RATE = ("new Promise(done => {{ let n = 0; const t0 = performance.now();"
             " const tick = () => {{ n++; const dt = performance.now() - t0;"
             " if (dt < {ms}) requestAnimationFrame(tick); else done(1000 * n / dt); }};"
             " requestAnimationFrame(tick); }})")


def measure_playback(path: str | Path, *, seconds: float = 5.0, rate: float = 1.0, width: int = 800,
                     height: int = 600, timeout: float = 120.0) -> dict:
    """Play `path` (a dynamic .gsz) in headless Chromium for `seconds` after the page shows the
    first frame; returns target / achieved / browser frame rates and the bytes sent per frame."""
    from gscodec.viewer.app import free_port
    from gscodec.viewer.browser import BrowserPage, drawn_fraction
    from gscodec.viewer.dynamic import DynamicSource
    from gscodec.viewer.player import Player

    src = DynamicSource.load(path)
    player = Player([src], port=free_port(), rate=rate, verbose=False)
    try:
        player.start()
        with BrowserPage(player.url, width=width, height=height) as page:
            t0 = time.perf_counter()
            page.capture(None, timeout=timeout, ready=lambda rgb: drawn_fraction(rgb) > 0.01)
            first_frame_s = time.perf_counter() - t0
            player.play()
            browser_fps = page.evaluate(_RAF_RATE.format(ms=int(1000 * seconds)), await_promise=True,
                                        timeout=seconds + 60)
            player.pause()
    finally:
        player.stop()
    sent = [b for (i, _), b in player.sent_bytes.items() if i == 0]
    return {"file": str(path), "frames": src.n_frames, "fps": src.fps, "target_fps": src.fps * rate,
            "achieved_fps": player.achieved_fps, "browser_fps": browser_fps, "first_frame_s": first_frame_s,
            "frames_sent": len(sent), "bytes_per_frame": sum(sent) / max(len(sent), 1),
            "bytes_sent": sum(sent), "stream_bytes_per_frame": src.info()["bytes"] / src.n_frames,
            "gof_decodes": len(src.decoded)}

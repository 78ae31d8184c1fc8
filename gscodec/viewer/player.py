"""The 4D player: free-viewpoint, free-time playback of dynamic streams in the browser (viser).

What travels to the browser, per frame and per stream: one viser Gaussian-splat node holding
the slice at that frame's time (gscodec.viewer.dynamic.DynamicSource.frame_splats), in
viser's packed layout of 32 bytes per splat (float32 centre, float16 upper-triangular
covariance, RGBA8; `GaussianSplatHandle.buffer`). A frame is sent the first time it is shown
(or prefetched while playing) and then kept in the browser, hidden; showing it again only
toggles visibility, so a second loop sends nothing. The bytes sent are counted per frame
(`sent_bytes`) and shown in the panel. The cost of keeping them: viser merges every splat node
into one buffer that the browser sorts when the camera moves (hidden nodes are moved off
screen, not dropped), so sorting grows with the frames kept; the frames are not evicted.

Seeking decodes only the GOF that holds the frame (DynamicSource caches decoded GOFs).
Depth mode hides the splats and shows, as the scene background, the expected depth rendered
on the CPU at each client's camera (gscodec.viewer.depth). Two streams share one timeline
(B shows the frame nearest A's time) and the browser's one camera: A / B toggle or side by side.
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from gscodec.errors import InputError
from gscodec.viewer.app import (
    LETTERS,
    ServedApp,
    _in_frame,
    set_default_view,
)
from gscodec.viewer.cameras import camera_from_view
from gscodec.viewer.depth import colourize, composite, depth_size
from gscodec.viewer.dynamic import DynamicSource
from gscodec.viewer.panel import _size, dynamic_markdown
from gscodec.viewer.splats import scene_to_splats

MODES = ("RGB", "Depth")
RATES = (0.25, 4.0)  # the rate slider's range, times the stream's frame rate
FPS_WINDOW = 12  # frame changes the achieved rate is measured over
DEPTH_MAX_SIDE = 320  # depth frames render at most this wide / high (CPU), the browser scales them up


class Player(ServedApp):
    """Serve one or two dynamic sources at http://host:port with timeline controls."""

    LABEL, BANNER, NOUN = "gscodec player", "gscodec view (player)", "player"

    def __init__(self, sources: list[DynamicSource], *, host: str = "127.0.0.1", port: int | None = None,
                 up: np.ndarray | None = None, show: int = 0, frame: int = 0, mode: str = "RGB",
                 loop: bool = True, rate: float = 1.0, depth_max_side: int = DEPTH_MAX_SIDE,
                 verbose: bool = True):
        if not 1 <= len(sources) <= 2:
            raise InputError(f"the player shows one or two streams, got {len(sources)}")
        if show not in (0, 1, -1) or (show != 0 and len(sources) < 2):
            raise InputError("showing B or both side by side needs two streams")
        self.sources = list(sources)
        self.n_frames = sources[0].n_frames
        self.frame = sources[0]._check_frame(frame)
        self.mode = _check_mode(mode)
        self.show, self.loop, self.rate = show, bool(loop), _check_rate(rate)
        self.depth_max_side = int(depth_max_side)
        self._serve_on(host, port, verbose)
        self.playing = False
        self._nodes: dict[tuple[int, int], object] = {}  # (source, frame) -> splat node in the browser
        self.sent_bytes: dict[tuple[int, int], int] = {}  # (source, frame) -> bytes of its node
        self._shown: dict[int, int] = {}  # source -> frame whose node is visible
        self._frame_lock = threading.RLock()  # GUI callbacks run in a thread pool, playback in its own
        self._changes: deque[float] = deque(maxlen=FPS_WINDOW)  # times of frame changes while playing
        self.achieved_fps: float | None = None
        self._frame_scene(sources[0].frame_splats(self.frame), up)
        self._depth = _DepthWorker(self)

    # ---- lifecycle ---------------------------------------------------------------------------
    def _populate(self) -> None:
        set_default_view(self.server.initial_camera, self.centre, self.radius, self.up,
                         self._side_offset if self.show == -1 else None)
        self._build_panel()
        self.seek(self.frame)
        self.server.on_client_connect(self._on_connect)
        self._depth.start()
        self._thread = threading.Thread(target=self._playback, name="gscodec-player", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        self._depth.wake()
        for t in (getattr(self, "_thread", None), self._depth.thread):  # no message after the server stops
            if t is not None and t is not threading.current_thread():
                t.join(timeout=10)

    # ---- frames in the browser ---------------------------------------------------------------
    def source_frame(self, i: int, frame: int) -> int:
        """The frame source i shows while the timeline (source A) is at `frame`."""
        if i == 0:
            return frame
        return self.sources[i].frame_at(self.sources[0].frame_time(frame))

    def _ensure(self, i: int, f: int):
        """The browser's node of source i's frame f, sent (hidden) if it is not there yet."""
        key = (i, f)
        with self._frame_lock:
            if key not in self._nodes:
                s = scene_to_splats(self.sources[i].frame_splats(f))
                h = self.server.scene.add_gaussian_splats(
                    f"/{LETTERS[i]}/frame{f:05d}", centers=s.centers, covariances=s.covariances, rgbs=s.rgbs,
                    opacities=s.opacities, visible=False, position=self._position(i))
                self._nodes[key] = h
                self.sent_bytes[key] = int(h.buffer.nbytes)
            return self._nodes[key]

    def prefetch(self, frame: int) -> None:
        """Send `frame`'s nodes ahead of showing them (playback calls it for the next frame)."""
        for i in range(len(self.sources)):
            self._ensure(i, self.source_frame(i, frame))

    def seek(self, frame: int) -> None:
        """Show timeline frame `frame` (decoding only the GOFs that hold it, if not cached)."""
        frame = self.sources[0]._check_frame(frame)
        with self._frame_lock:
            self.frame = frame
            nodes = [self._ensure(i, self.source_frame(i, frame)) for i in range(len(self.sources))]
            with self.server.atomic():  # the browser never draws both frames, or neither
                for i, node in enumerate(nodes):
                    f, old = self.source_frame(i, frame), self._shown.get(i)
                    self._shown[i] = f
                    node.visible = self._visible(i)
                    if old is not None and old != f:
                        self._nodes[(i, old)].visible = False
            self._sync_panel()
        if self.mode == "Depth":
            self._depth.request_all()

    def step(self, delta: int) -> None:
        """One frame forward (+1) or back (-1); wraps around when looping, else stops at the ends."""
        f = self.frame + int(delta)
        if self.loop:
            f %= self.n_frames
        self.seek(min(max(f, 0), self.n_frames - 1))

    def play(self) -> None:
        self.playing = True
        self._changes.clear()
        self._sync_panel()

    def pause(self) -> None:
        self.playing = False
        self._sync_panel()

    def _playback(self) -> None:
        """Advance at fps x rate while playing; the achieved rate is measured, not assumed."""
        next_at = time.perf_counter()
        while not self._stopped.is_set():
            if not self.playing:
                next_at = time.perf_counter()
                time.sleep(0.02)
                continue
            now = time.perf_counter()
            if now < next_at:
                time.sleep(min(next_at - now, 0.05))
                continue
            nxt = self.frame + 1
            if nxt >= self.n_frames:
                if not self.loop:
                    self.pause()
                    continue
                nxt = 0
            try:
                self.seek(nxt)
                self._changes.append(time.perf_counter())
                if len(self._changes) > 1:
                    span = self._changes[-1] - self._changes[0]
                    self.achieved_fps = (len(self._changes) - 1) / span if span > 0 else None
                self.prefetch((nxt + 1) % self.n_frames)
            except Exception as e:  # a damaged GOF: stop playing, say why, keep serving
                self.playing = False
                self._status(f"playback stopped: {e}")
                continue
            next_at = max(next_at + 1.0 / (self.sources[0].fps * self.rate), time.perf_counter() - 1.0)

    # ---- what is visible where ---------------------------------------------------------------
    def _visible(self, i: int) -> bool:
        return self.mode == "RGB" and (self.show == -1 or self.show == i)

    def _position(self, i: int) -> tuple[float, float, float]:
        if self.show != -1:
            return (0.0, 0.0, 0.0)
        return tuple(float(v) for v in self._side_offset * (i - 0.5))

    def _refresh_nodes(self) -> None:
        with self._frame_lock:
            for (i, f), h in self._nodes.items():
                h.position = self._position(i)
                h.visible = self._shown.get(i) == f and self._visible(i)

    def set_show(self, show: int) -> None:
        """0 / 1: A / B alone (same camera, same time); -1: both, side by side."""
        if show not in (0, 1, -1) or (show != 0 and len(self.sources) < 2):
            raise InputError("showing B or both side by side needs two streams")
        self.show = show
        self._refresh_nodes()
        self._sync_panel()
        if self.mode == "Depth":
            self._depth.request_all()

    def set_mode(self, mode: str) -> None:
        """'RGB': the splats (browser); 'Depth': expected depth rendered here, colour-mapped."""
        self.mode = _check_mode(mode)
        self._refresh_nodes()
        self._sync_panel()
        if self.mode == "Depth":
            self._depth.request_all()
        else:
            self._depth.clear_all()

    def set_rate(self, rate: float) -> None:
        self.rate = _check_rate(rate)
        self._changes.clear()
        self._sync_panel()

    # ---- depth -------------------------------------------------------------------------------
    def depth_image(self, camera) -> np.ndarray:
        """uint8 [H,W,3]: the colour-mapped expected depth of what is shown, seen from `camera`
        (a render Camera; side by side: both streams at their offsets)."""
        shown = [0, 1] if self.show == -1 else [self.show]
        layers = []
        for i in shown:
            r = self.sources[i].render(self.source_frame(i, self.frame), _in_frame(camera, self._position(i)))
            layers.append((r.depth[..., 0].numpy(), r.alpha[..., 0].numpy()))
        return colourize(*composite(layers))

    def _render_depth_for(self, client) -> None:
        cam = client.camera
        w, h = depth_size(cam.image_width or 640, cam.image_height or 480, self.depth_max_side)
        view = camera_from_view(cam.wxyz, cam.position, cam.fov, w, h)
        img = self.depth_image(view)
        if self.mode == "Depth":  # the mode may have changed while rendering
            client.scene.set_background_image(img, format="png")

    # ---- panel -------------------------------------------------------------------------------
    def _build_panel(self) -> None:
        gui = self.server.gui
        self._status_md = gui.add_markdown("")
        self._play_btn = gui.add_button("Play")
        self._step = gui.add_button_group("Step", options=("◀ frame", "frame ▶"))
        self._slider = gui.add_slider("Frame", min=0, max=max(self.n_frames - 1, 1), step=1,
                                      initial_value=self.frame, disabled=self.n_frames < 2)
        self._loop_cb = gui.add_checkbox("Loop", initial_value=self.loop)
        self._rate_sl = gui.add_slider("Rate (x fps)", min=RATES[0], max=RATES[1], step=RATES[0],
                                       initial_value=self.rate)
        self._mode_dd = gui.add_dropdown("Mode", options=MODES, initial_value=self.mode)

        @self._play_btn.on_click
        def _(_ev) -> None:
            self.pause() if self.playing else self.play()

        @self._step.on_click
        def _(ev) -> None:
            self.step(1 if ev.target.value == "frame ▶" else -1)

        @self._slider.on_update
        def _(_ev) -> None:
            f = int(round(self._slider.value))
            if f != self.frame:
                self.seek(f)

        @self._loop_cb.on_update
        def _(_ev) -> None:
            self.loop = bool(self._loop_cb.value)

        @self._rate_sl.on_update
        def _(_ev) -> None:
            if float(self._rate_sl.value) != self.rate:
                self.set_rate(float(self._rate_sl.value))

        @self._mode_dd.on_update
        def _(_ev) -> None:
            if self._mode_dd.value != self.mode:
                self.set_mode(self._mode_dd.value)

        if len(self.sources) == 2:
            self._add_show_controls(gui)
        for i, src in enumerate(self.sources):
            label = f"{LETTERS[i]}: {src.name}" if len(self.sources) == 2 else src.name
            with gui.add_folder(label):
                gui.add_markdown(dynamic_markdown(src.info()))

    def _sync_panel(self) -> None:
        """The controls and the status line follow the state, whoever changed it."""
        if self.server is None:
            return
        if int(round(self._slider.value)) != self.frame:
            self._slider.value = self.frame
        self._play_btn.label = "Pause" if self.playing else "Play"
        if self._mode_dd.value != self.mode:
            self._mode_dd.value = self.mode
        dd = getattr(self, "_show_dd", None)
        if dd is not None and dd.value != self._show_names[self.show]:
            dd.value = self._show_names[self.show]
        self._status(None)

    def _status(self, note: str | None) -> None:
        a = self.sources[0]
        t = a.frame_time(self.frame)
        fps = f"{self.achieved_fps:.1f}" if self.playing and self.achieved_fps else "-"
        lines = [f"**frame {self.frame} / {self.n_frames - 1}** · t = {t:.3f} s · GOF {a.gof_of(self.frame)}",
                 f"target {a.fps * self.rate:g} fps · achieved {fps} fps"]
        for i in range(len(self.sources)):
            f = self._shown.get(i, self.source_frame(i, self.frame))
            b = self.sent_bytes.get((i, f))
            sent = sum(v for (j, _), v in self.sent_bytes.items() if j == i)
            frames = sum(1 for (j, _) in self.sent_bytes if j == i)
            letter = f"{LETTERS[i]}: " if len(self.sources) == 2 else ""
            src = self.sources[i]
            lines.append(f"{letter}this frame {_size(b) if b else '-'} sent · {frames} frames, {_size(sent)} in the "
                         f"browser · {len(src.decoded)} GOF decodes, cached {src.cached()}")
        if note:
            lines.append(note)
        self._status_md.content = "  \n".join(lines)

    # ---- clients ----------------------------------------------------------------------------
    def _on_connect(self, client) -> None:
        client.camera.on_update(lambda _cam: self._on_camera(client))
        if self.mode == "Depth":
            self._depth.request(client)

    def _on_camera(self, client) -> None:
        if self.mode == "Depth":
            self._depth.request(client)


class _DepthWorker:
    """One thread rendering depth frames: per client only the latest request is kept, so a
    moving camera never queues up renders, and the view it stops at is always rendered."""

    def __init__(self, player: Player):
        self.player = player
        self._pending: dict[int, object] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.rendered = 0
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="gscodec-depth", daemon=True)
        self.thread.start()

    def request(self, client) -> None:
        with self._lock:
            self._pending[client.client_id] = client
        self._wake.set()

    def request_all(self) -> None:
        if self.player.server is not None:
            for client in list(self.player.server.get_clients().values()):
                self.request(client)

    def clear_all(self) -> None:
        with self._lock:
            self._pending.clear()
        if self.player.server is not None:
            for client in list(self.player.server.get_clients().values()):
                client.scene.set_background_image(None)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        stopped = self.player._stopped
        while not stopped.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            while not stopped.is_set():
                with self._lock:
                    if not self._pending:
                        break
                    _, client = self._pending.popitem()
                try:
                    self.player._render_depth_for(client)
                    self.rendered += 1
                except Exception as e:  # a client that left, a damaged GOF: say so, keep serving
                    if not stopped.is_set():
                        self.player._status(f"depth: {type(e).__name__}: {e}")


def _check_mode(mode: str) -> str:
    m = {"rgb": "RGB", "depth": "Depth"}.get(str(mode).lower())
    if m is None:
        raise InputError(f"mode must be rgb or depth, got {mode!r}")
    return m


def _check_rate(rate: float) -> float:
    if not RATES[0] <= float(rate) <= RATES[1]:
        raise InputError(f"playback rate must be {RATES[0]:g}..{RATES[1]:g} (times the stream's fps), got {rate}")
    return float(rate)

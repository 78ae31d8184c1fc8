"""The viewer: a viser server showing one or two scene sources, with a compression panel."""
from __future__ import annotations

import socket
import threading
import time

import numpy as np
import torch

from gscodec.errors import InputError
from gscodec.viewer.cameras import (
    camera_from_view,
    camera_pose,
    matching_camera,
    rotmat_to_wxyz,
    vertical_fov,
)
from gscodec.viewer.panel import dataset_markdown, source_markdown
from gscodec.viewer.sources import SceneSource
from gscodec.viewer.splats import scene_to_splats

DEFAULT_PORT = 8080
LETTERS = "AB"
SIDE_BY_SIDE = "A | B side by side"


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port (SO_REUSEADDR, as viser's server binds, so
    connections of an earlier run lingering in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def choose_port(host: str, port: int | None) -> tuple[int, str | None]:
    """(port to use, note). An explicit busy port is an error naming a free alternative; the
    default port falls back to a free one with a note."""
    want = DEFAULT_PORT if port is None else port
    if not 0 <= want <= 65535:
        raise InputError(f"--port must be 0..65535, got {want}")
    if want == 0 or port_free(host, want):
        return want, None
    alt = free_port(host)
    if port is not None:
        raise InputError(f"port {want} on {host} is in use (another viewer?); try --port {alt}")
    return alt, f"port {want} is in use; using {alt} instead (choose one with --port)"


def _import_viser():
    try:
        import viser
    except ImportError:
        raise InputError("the viewer needs viser: pip install 'gscodec[viewer]' "
                         "(or pip install viser)") from None
    return viser


class ServedApp:
    """What the static viewer and the 4D player share: the port chosen before any work (with the
    fallback note), the framing of the first scene, one viser server and its lifecycle (start,
    stop, serve_forever, a context manager). A subclass sets LABEL / BANNER / NOUN, fills the
    server in `_populate()`, and stops its own threads in `_close()`, before the server stops."""

    LABEL, BANNER, NOUN = "gscodec view", "gscodec view", "viewer"

    def _serve_on(self, host: str, port: int | None, verbose: bool) -> None:
        self.host, self.verbose = host, verbose
        self.port, note = choose_port(host, port)
        if note and verbose:
            print(f"note: {note}")
        self.server = None
        self._stopped = threading.Event()

    def _frame_scene(self, first, up: np.ndarray | None, dataset=None) -> None:
        self.centre, self.radius = _frame(first)
        self.up = _up_vector(up, dataset)
        self._side_offset = _side_offset(first, self.up)

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        return f"http://{host}:{self.port}"

    def start(self):
        viser = _import_viser()
        self.server = viser.ViserServer(host=self.host, port=self.port, label=self.LABEL, verbose=False)
        self.port = int(self.server.get_port())
        self.server.scene.set_up_direction(tuple(float(v) for v in self.up))
        self._populate()
        if self.verbose:
            print(f"{self.BANNER}: {self.url}  (Ctrl-C to stop)")
        return self

    def _populate(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        """Stop what the subclass runs beside the server (nothing by default)."""

    def stop(self) -> None:
        if self.server is not None and not self._stopped.is_set():
            self._stopped.set()
            self._close()
            self.server.stop()

    def serve_forever(self) -> None:
        try:
            while not self._stopped.is_set():
                time.sleep(0.5)
        except KeyboardInterrupt:
            if self.verbose:
                print(f"\nstopping the {self.NOUN}")
        finally:
            self.stop()

    def _add_show_controls(self, gui) -> None:
        """With two sources: the Show dropdown (A, B, side by side) and the A / B toggle; a change
        goes through the subclass's set_show(show)."""
        names = [f"{LETTERS[i]}: {s.name}" for i, s in enumerate(self.sources)]
        self._show_names = {0: names[0], 1: names[1], -1: SIDE_BY_SIDE}
        self._show_dd = gui.add_dropdown("Show", options=names + [SIDE_BY_SIDE],
                                         initial_value=self._show_names[self.show])
        toggle = gui.add_button("Toggle A / B")

        @self._show_dd.on_update
        def _(_ev) -> None:
            v = self._show_dd.value
            show = -1 if v == SIDE_BY_SIDE else names.index(v)
            if show != self.show:
                self.set_show(show)

        @toggle.on_click
        def _(_ev) -> None:
            self._show_dd.value = names[1 if self.show == 0 else 0]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Viewer(ServedApp):
    """Serve `sources` (one or two) at http://host:port. With a dataset, the panel jumps to its
    cameras and shows the PSNR of the shown scene against the ground truth at a matching view."""

    def __init__(self, sources: list[SceneSource], dataset=None, *, host: str = "127.0.0.1",
                 port: int | None = None, up: np.ndarray | None = None, show: int = 0,
                 verbose: bool = True):
        if not 1 <= len(sources) <= 2:
            raise InputError(f"the viewer shows one or two scenes, got {len(sources)}")
        self.sources, self.dataset = list(sources), dataset
        self._serve_on(host, port, verbose)
        self.handles: list = []
        if show not in (0, 1, -1) or (show != 0 and len(sources) < 2):
            raise InputError("showing B or both side by side needs two scenes")
        self.show = show  # index into sources, or -1 for side by side
        self._psnr_cache: dict[tuple[int, int], float] = {}
        self._lock = threading.Lock()  # one view-dependent refresh at a time
        self._psnr_lock = threading.Lock()  # camera callbacks run in a thread pool
        self._frame_scene(sources[0].splats(None), up, dataset)

    # ---- lifecycle ---------------------------------------------------------------------------
    def _populate(self) -> None:
        self._set_initial_camera()
        self._add_splats()
        self._build_panel()
        self.server.on_client_connect(self._on_connect)

    # ---- scene -------------------------------------------------------------------------------
    def start_at(self, index: int) -> None:
        """Open new clients at dataset camera `index` (call before start())."""
        self._start_index = index

    def _set_initial_camera(self) -> None:
        index = getattr(self, "_start_index", None)
        if index is not None:
            cam = self.dataset.cameras[index]
            r, pos = camera_pose(cam)
            ic = self.server.initial_camera
            ic.position = tuple(pos)
            ic.look_at = tuple(pos + r[:, 2] * max(self.radius, 1e-6))
            ic.up_direction = tuple(-r[:, 1])
            ic.fov = float(vertical_fov(cam))
            return
        set_default_view(self.server.initial_camera, self.centre, self.radius, self.up,
                         self._side_offset if self.show == -1 else None)

    def _add_splats(self, camera=None, view_dependent_only: bool = False) -> None:
        for i, src in enumerate(self.sources):
            if view_dependent_only and not src.view_dependent:
                continue
            s = scene_to_splats(src.splats(_in_frame(camera, self._position(i))))
            h = self.server.scene.add_gaussian_splats(
                f"/splats/{LETTERS[i]}", centers=s.centers, covariances=s.covariances,
                rgbs=s.rgbs, opacities=s.opacities, visible=self._visible(i),
                position=self._position(i))
            if i < len(self.handles):
                self.handles[i] = h
            else:
                self.handles.append(h)

    def _visible(self, i: int) -> bool:
        return self.show == -1 or self.show == i

    def _position(self, i: int) -> tuple[float, float, float]:
        """Where scene i sits: at the origin (dataset cameras match), or in side-by-side mode
        A left and B right of the initial view, one scene width apart."""
        if self.show != -1:
            return (0.0, 0.0, 0.0)
        return tuple(float(v) for v in self._side_offset * (i - 0.5))

    def set_show(self, show: int) -> None:
        """0 / 1: show A / B alone (same camera); -1: both, side by side."""
        self.show = show
        for i, h in enumerate(self.handles):
            h.visible = self._visible(i)
            h.position = self._position(i)
        dd = getattr(self, "_show_dd", None)
        if dd is not None and dd.value != self._show_names[show]:
            dd.value = self._show_names[show]
        self._refresh_psnr_all()

    # ---- panel -------------------------------------------------------------------------------
    def _build_panel(self) -> None:
        gui = self.server.gui
        if len(self.sources) == 2:
            self._add_show_controls(gui)
        if self.dataset is not None:  # on top, where it stays visible
            self._psnr_md = gui.add_markdown("PSNR: move to a dataset camera")
        for i, src in enumerate(self.sources):
            label = f"{LETTERS[i]}: {src.name}" if len(self.sources) == 2 else src.name
            with gui.add_folder(label):
                gui.add_markdown(source_markdown(src.info()))
        if self.dataset is not None:
            self._build_dataset_panel()

    def _build_dataset_panel(self) -> None:
        gui, ds = self.server.gui, self.dataset
        with gui.add_folder(f"Cameras: {ds.name or 'dataset'}"):
            gui.add_markdown(dataset_markdown(ds))
            for split, idx in (("train", ds.train_indices), ("test", ds.test_indices)):
                if not idx:
                    continue
                opts = [_cam_label(ds, i) for i in idx]
                dd = gui.add_dropdown(f"{split} view", options=opts, initial_value=opts[0])
                btn = gui.add_button(f"Go to {split} camera")
                btn.on_click(self._goto_handler(dd, opts, idx))

    def _goto_handler(self, dd, opts, idx):
        def handler(ev) -> None:
            i = idx[opts.index(dd.value)]
            clients = [ev.client] if ev.client is not None else list(self.server.get_clients().values())
            for client in clients:
                self.goto_camera(client, i)
        return handler

    def goto_camera(self, client, index: int) -> None:
        cam = self.dataset.cameras[index]
        r, pos = camera_pose(cam)
        with client.atomic():
            client.camera.fov = float(vertical_fov(cam))
            client.camera.up_direction = tuple(-r[:, 1])
            client.camera.position = tuple(pos)
            client.camera.look_at = tuple(pos + r[:, 2] * max(self.radius, 1e-6))
            client.camera.wxyz = tuple(rotmat_to_wxyz(r))
        self._update_psnr(index)

    # ---- per-client camera updates -----------------------------------------------------------
    def _on_connect(self, client) -> None:
        client.camera.on_update(self._on_camera)

    def _on_camera(self, camera) -> None:
        if any(s.view_dependent for s in self.sources):
            self._refresh_view_dependent(camera)
        if self.dataset is not None:
            i = matching_camera(self.dataset.cameras, camera.wxyz, camera.position, self.radius)
            self._update_psnr(i)

    def _refresh_view_dependent(self, camera) -> None:
        if not self._lock.acquire(blocking=False):
            return  # one refresh at a time; the next camera message triggers the next
        try:
            cam = camera_from_view(camera.wxyz, camera.position, camera.fov,
                                   camera.image_width or 640, camera.image_height or 480)
            self._add_splats(cam, view_dependent_only=True)
        finally:
            self._lock.release()

    def _refresh_psnr_all(self) -> None:
        if self.dataset is None:
            return
        for client in self.server.get_clients().values():
            self._on_camera(client.camera)

    def _update_psnr(self, index: int | None) -> None:
        md = getattr(self, "_psnr_md", None)
        if md is None:
            return
        if index is None:
            md.content = "PSNR: the view matches no dataset camera (use the buttons above)"
            return
        if self.show == -1:
            md.content = f"PSNR: at {_cam_label(self.dataset, index)} — pick A or B to measure"
            return
        value = self.psnr(self.show, index)
        letter = LETTERS[self.show] if len(self.sources) == 2 else ""
        md.content = f"PSNR {letter} vs ground truth at {_cam_label(self.dataset, index)}: **{value:.2f} dB**"

    def psnr(self, source_index: int, cam_index: int) -> float:
        """PSNR of our render of a source at a dataset camera against its ground-truth image."""
        key = (source_index, cam_index)
        with self._psnr_lock:
            if key not in self._psnr_cache:
                self._psnr_cache[key] = self._render_psnr(source_index, cam_index)
        return self._psnr_cache[key]

    def _render_psnr(self, source_index: int, cam_index: int) -> float:
        from gscodec.metrics import psnr
        from gscodec.render import render

        cam = self.dataset.cameras[cam_index]
        scene = self.sources[source_index].splats(cam)
        with torch.no_grad():
            img = render(scene, cam, background=self.dataset.background).image.clamp(0, 1)
        return float(psnr(img.cpu(), self.dataset.image(cam_index)))


def set_default_view(cam, centre: np.ndarray, radius: float, up: np.ndarray,
                     side_offset: np.ndarray | None = None) -> None:
    """Point viser camera `cam` at the scene from 30 degrees above the horizon, far enough for
    `radius` (plus half of `side_offset` when two copies stand side by side) to fit its view."""
    side = _horizontal(up)
    direction = side * np.cos(np.radians(30)) + up * np.sin(np.radians(30))
    fov = np.radians(50.0)
    radius = radius + (0.5 * np.linalg.norm(side_offset) if side_offset is not None else 0.0)
    dist = radius / np.sin(fov / 2)
    # aim a little right of the centre: the scene then sits in the space the panel leaves free
    target = centre + np.cross(up, side) * 0.15 * dist
    cam.position = tuple(target + direction * dist)
    cam.look_at = tuple(target)
    cam.up_direction = tuple(up)
    cam.fov = float(fov)


def _cam_label(ds, i: int) -> str:
    name = ds.cameras[i].name
    return f"#{i} {name}" if name else f"#{i}"


def _frame(scene) -> tuple[np.ndarray, float]:
    xyz = scene.means.detach().cpu().double()
    if len(xyz) == 0:
        return np.zeros(3), 1.0
    centre = xyz.median(0).values
    radius = float(torch.quantile((xyz - centre).norm(dim=1).float(), 0.85)) if len(xyz) > 1 else 1.0
    return centre.numpy(), max(radius, 1e-6)


def _up_vector(up, dataset) -> np.ndarray:
    if up is not None:
        v = np.asarray(up, np.float64)
    elif dataset is not None and dataset.cameras:
        v = np.mean([-camera_pose(c)[0][:, 1] for c in dataset.cameras], axis=0)
        if np.linalg.norm(v) < 1e-6:
            v = np.array([0.0, 0.0, 1.0])
    else:
        v = np.array([0.0, 0.0, 1.0])
    return v / np.linalg.norm(v)


def _horizontal(up: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to `up` (the initial view looks along it)."""
    side = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    return side / np.linalg.norm(side)


def _side_offset(scene, up: np.ndarray) -> np.ndarray:
    """B's offset from A in side-by-side mode: across the initial view, by the scene's width
    (2-98 % quantiles, so stray splats do not push the copies apart)."""
    right = np.cross(up, _horizontal(up))  # the initial camera's x axis
    xyz = scene.means.detach().cpu().double().numpy()
    if len(xyz) < 2:
        return right
    proj = xyz @ right
    width = float(np.quantile(proj, 0.98) - np.quantile(proj, 0.02))
    return right * max(width * 1.4, 1e-6)


def _in_frame(camera, offset):
    """`camera` as seen from a scene node placed at `offset` (side-by-side mode)."""
    if camera is None or not any(offset):
        return camera
    from dataclasses import replace

    shift = torch.eye(4)
    shift[:3, 3] = torch.tensor(offset, dtype=torch.float32)
    return replace(camera, world_to_cam=camera.world_to_cam @ shift)

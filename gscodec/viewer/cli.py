"""`gscodec view FILE [FILE2]`: a local web viewer (viser; the browser renders the splats).
Dynamic streams (a GOF index in the .gsz) open the 4D player instead (gscodec.viewer.player)."""
from __future__ import annotations

from pathlib import Path

from gscodec.errors import InputError

UP_AXES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0),
           "+z": (0, 0, 1), "-z": (0, 0, -1)}


def register(sub) -> None:
    s = sub.add_parser("view", help="open a .ply / .gsz (or two, to compare) in a local web viewer; "
                                    "dynamic streams in the 4D player")
    s.add_argument("file", help=".ply or .gsz, or a run folder (its scene.gsz); a .gsz is decoded on load, a dynamic "
                        "stream opens the 4D player")
    s.add_argument("file2", nargs="?", default=None,
                   help="a second scene (e.g. the decoded one) to toggle with, from the same camera")
    s.add_argument("--port", type=int, default=None,
                   help="port to serve on (default 8080, or a free one when 8080 is busy)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 to serve the network)")
    s.add_argument("--cameras", default=None,
                   help="dataset (folder or 'builtin[:RES]'): jump to its train/test cameras, "
                        "PSNR against its images")
    s.add_argument("--camera", default=None, metavar="SPLIT:N",
                   help="with --cameras: open at this dataset camera, e.g. test:0 or train:3")
    s.add_argument("--up", choices=sorted(UP_AXES), default=None,
                   help="world up axis (default: from --cameras, else +z)")
    s.add_argument("--screenshot", default=None, metavar="PNG",
                   help="render the page in headless Chromium, save it here, and exit")
    s.add_argument("--sh-export", action="store_true",
                   help="anchor streams (hac, scaffold-raw): show the SH-fitted PLY export instead of "
                        "the anchors' neural Gaussians")
    s.add_argument("--show", choices=["A", "B", "side"], default="A",
                   help="with two files: which to show first (side = side by side)")
    s.add_argument("--frame", type=int, default=0,
                   help="dynamic streams (the player): the frame to open at (default 0)")
    s.add_argument("--mode", choices=["rgb", "depth"], default="rgb",
                   help="dynamic streams: open in RGB (splats in the browser) or depth mode")
    s.add_argument("--play", action="store_true", help="dynamic streams: start playing at once")
    s.add_argument("--measure", type=float, default=None, metavar="SECONDS",
                   help="dynamic streams: play this long in headless Chromium, print the frame rates reached "
                        "and the bytes sent per frame (JSON), and exit")
    s.set_defaults(fn=cmd_view)


def cmd_view(args) -> int:
    from gscodec.viewer.app import Viewer
    from gscodec.viewer.dynamic import is_dynamic
    from gscodec.viewer.sources import StaticSource

    paths = [_scene_file(p) for p in [args.file, args.file2] if p is not None]
    dynamic = [is_dynamic(p) for p in paths]
    if any(dynamic):
        if not all(dynamic):
            static = paths[dynamic.index(False)]
            raise InputError(f"{static} is not a dynamic stream: the player compares two dynamic streams "
                             "(view static scenes on their own)")
        return _cmd_player(args, paths)
    if args.frame or args.mode != "rgb" or args.play or args.measure is not None:
        raise InputError("--frame / --mode / --play / --measure are for dynamic streams; "
                         f"{args.file} is a static scene")
    sources = [StaticSource.load(p, sh_export=args.sh_export) for p in paths]
    if args.show != "A" and len(sources) < 2:
        raise InputError("--show B / side needs two files")
    dataset = None
    if args.cameras:
        from gscodec.data.load import load_dataset

        dataset = load_dataset(args.cameras)
    up = UP_AXES[args.up] if args.up else None
    viewer = Viewer(sources, dataset, host=args.host, port=args.port, up=up,
                    show={"A": 0, "B": 1, "side": -1}[args.show], verbose=args.screenshot is None)
    if args.camera:
        viewer.start_at(_camera_index(args.camera, dataset))
    try:
        viewer.start()
        if args.screenshot:
            return _screenshot(viewer, args.screenshot)
        viewer.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C while the server was still starting (serve_forever handles the rest)
        print("\nstopping the viewer")
    finally:
        viewer.stop()
    return 0


def _scene_file(path: str) -> str:
    """A file as given; a run folder (`gscodec train -o RUN/`) -> its RUN/scene.gsz."""
    p = Path(path)
    if p.is_dir():
        if not (p / "scene.gsz").is_file():
            raise InputError(f"{p}: a folder without scene.gsz (give a .ply or .gsz, or a run folder)")
        return str(p / "scene.gsz")
    return path


def _cmd_player(args, paths: list[str]) -> int:
    """The 4D player on one or two dynamic streams (gscodec.viewer.player)."""
    from gscodec.viewer.dynamic import DynamicSource
    from gscodec.viewer.player import Player

    if args.cameras or args.camera:
        raise InputError("--cameras / --camera are not supported by the player yet (dynamic streams)")
    if args.sh_export:
        raise InputError("--sh-export is for anchor streams; a dynamic stream's colours are baked per frame")
    if args.measure is not None:
        return _measure(paths, args.measure)
    sources = [DynamicSource.load(p) for p in paths]
    if args.show != "A" and len(sources) < 2:
        raise InputError("--show B / side needs two files")
    if not 0 <= args.frame < sources[0].n_frames:
        raise InputError(f"--frame {args.frame}: {sources[0].name} has frames 0..{sources[0].n_frames - 1}")
    up = UP_AXES[args.up] if args.up else None
    player = Player(sources, host=args.host, port=args.port, up=up, show={"A": 0, "B": 1, "side": -1}[args.show],
                    frame=args.frame, mode=args.mode, verbose=args.screenshot is None)
    try:
        player.start()
        if args.screenshot:
            return _screenshot(player, args.screenshot)
        if args.play:
            player.play()
        player.serve_forever()
    except KeyboardInterrupt:
        print("\nstopping the player")
    finally:
        player.stop()
    return 0


def _measure(paths: list[str], seconds: float) -> int:
    import json

    from gscodec.viewer.browser import BrowserError
    from gscodec.viewer.measure import measure_playback

    if len(paths) != 1 or not seconds > 0:
        raise InputError("--measure SECONDS (> 0) plays one dynamic stream")
    try:
        print(json.dumps(measure_playback(paths[0], seconds=seconds)))
    except BrowserError as e:
        raise InputError(f"measuring playback failed: {e}") from e
    return 0


def _screenshot(viewer, out: str) -> int:
    from gscodec.viewer.browser import BrowserError, screenshot

    try:
        screenshot(viewer.url, out, timeout=300)  # big scenes in software WebGL are slow
    except BrowserError as e:
        raise InputError(f"screenshot failed: {e}") from e
    print(f"wrote {out}")
    return 0


def _camera_index(spec: str, dataset) -> int:
    """'test:0' / 'train:3' -> an index into dataset.cameras."""
    if dataset is None:
        raise InputError("--camera needs --cameras DATASET")
    split, _, n = spec.partition(":")
    if split not in ("train", "test") or not n.isdigit():
        raise InputError(f"--camera must be train:N or test:N, got {spec!r}")
    idx = dataset.train_indices if split == "train" else dataset.test_indices
    if int(n) >= len(idx):
        raise InputError(f"--camera {spec}: the dataset has {len(idx)} {split} cameras")
    return idx[int(n)]

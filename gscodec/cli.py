"""The `gscodec` command: one verb per stage of the data flow.

Every verb is a small function taking parsed args; user errors (GscodecError) are printed
as one line and exit with status 2, never as a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from gscodec.errors import GscodecError, InputError, readable


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


# ---- verbs -----------------------------------------------------------------------------
def cmd_info(args) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:3] == b"ply":
        return _info_ply(path)
    from gscodec.coding.container import MAGIC

    if magic == MAGIC[:4]:
        from gscodec.codecs.info import print_gsz_info

        print_gsz_info(path)
        return 0
    raise InputError(f"{path}: neither a .ply nor a .gsz file (starts with {magic!r})")


def _info_ply(path: Path) -> int:
    from gscodec.scene.ply import load_ply

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = load_ply(path)
    lo, hi = scene.bounds()
    print(f"file        {path}  ({_fmt_bytes(path.stat().st_size)})")
    print(f"splats      {len(scene):,}")
    print(f"SH degree   {scene.sh_degree}")
    print(f"bounds      min {[round(float(v), 4) for v in lo]}  max {[round(float(v), 4) for v in hi]}")
    if scene.extras:
        print(f"extras      {', '.join(scene.extras)}")
    for w in caught:
        print(f"note        {w.message}")
    print(f"{'attribute':<16}{'min':>12}{'max':>12}{'mean':>12}{'std':>12}")
    for name, st in scene.stats().items():
        print(f"{name:<16}{st['min']:>12.4g}{st['max']:>12.4g}{st['mean']:>12.4g}{st['std']:>12.4g}")
    return 0


def cmd_make_scene(args) -> int:
    def given(value, default):
        return default if value is None else value

    if args.dynamic:
        from gscodec.data.synthetic_dynamic import make_dynamic_scene

        out = make_dynamic_scene(args.out, resolution=given(args.resolution, 96), n_frames=args.frames,
                                 n_train=given(args.views, 16), seed=args.seed)
        print(f"built-in dynamic scene written to {out} (Neural 3D Video layout)")
        return 0
    from gscodec.data.synthetic import make_synthetic_scene

    out = make_synthetic_scene(args.out, n_views=given(args.views, 40), resolution=given(args.resolution, 128),
                               seed=args.seed)
    print(f"built-in scene written to {out}")
    return 0


def cmd_demo(args) -> int:
    from gscodec.demo import run_demo

    return run_demo(args)


# ---- parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from gscodec import __version__

    p = argparse.ArgumentParser(prog="gscodec", description="Compress 3D Gaussian Splatting scenes.")
    p.add_argument("--version", action="version", version=f"gscodec {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB")

    s = sub.add_parser("info", help="describe a .ply scene or a .gsz bitstream")
    s.add_argument("file")
    s.set_defaults(fn=cmd_info)

    s = sub.add_parser("make-scene", help="write the built-in synthetic scene (NeRF-synthetic layout; "
                                          "--dynamic: the multi-view video scene, Neural 3D Video layout)")
    s.add_argument("out")
    s.add_argument("--dynamic", action="store_true", help="the dynamic scene: cam00 (test) + --views training videos")
    s.add_argument("--views", type=int, default=None, help="views (default 40); with --dynamic, training cameras (16)")
    s.add_argument("--resolution", type=int, default=None, help="pixels (default 128; --dynamic: 96)")
    s.add_argument("--frames", type=int, default=30, help="with --dynamic: frames (at 30 fps)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_make_scene)

    s = sub.add_parser("demo", help="run the main job end to end on the built-in scene")
    s.add_argument("-o", "--out", default="runs/demo")
    s.add_argument("--codec", default="static-gscodec", help="static-gscodec (default) or ptc")
    s.add_argument("--fast", action="store_true", help="a much shorter run (smoke test)")
    s.set_defaults(fn=cmd_demo)

    for register in _extra_verbs():
        register(sub)
    return p


def _extra_verbs():
    """Verbs contributed by other modules (codecs, training, evaluation, viewer)."""
    from gscodec.codecs import cli as codec_cli
    from gscodec.eval import cli as eval_cli
    from gscodec.train import cli as train_cli
    from gscodec.viewer import cli as viewer_cli

    return [codec_cli.register, train_cli.register, eval_cli.register, viewer_cli.register]


def _note(message, category, filename, lineno, line=None) -> str:
    """Warnings reach CLI users as one 'note:' line, without source lines."""
    return f"note: {message}\n"


def _sigterm_interrupts():
    """SIGTERM ends a run as Ctrl-C does (temporary outputs removed on the way out); returns
    the handler it replaced (None off the main thread)."""
    import signal
    import threading

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _note
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 0
    previous = _sigterm_interrupts()
    try:
        return int(args.fn(args) or 0)
    except GscodecError as e:
        print(f"gscodec {args.verb}: error: {readable(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())

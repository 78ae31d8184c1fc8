"""CLI verbs of the codecs: encode and decode (`gscodec info` is in gscodec.cli, `gscodec eval` in
gscodec.eval.cli)."""
from __future__ import annotations

import time
import warnings
from pathlib import Path

from gscodec.errors import InputError
from gscodec.utils.io import check_output


def register(sub) -> None:
    s = sub.add_parser("encode", help="compress a .ply (or a trained anchor run's folder) into a .gsz")
    s.add_argument("input", help="INRIA-layout 3DGS .ply, or RUN/ of `gscodec train --codec hac|hemgs|...`")
    s.add_argument("-o", "--output", required=True, help="output .gsz")
    s.add_argument("--codec", default=None, help="codec name (default: ptc for a .ply; a run folder's own codec)")
    s.add_argument("--lambda", dest="lambda_rate", type=float, default=None,
                   help="RUN/ of a variable-rate codec (hemgs): code the trained model at this λ")
    s.add_argument("--preset", default=None, help="ptc: default | uniform (no importance refinement; v3) | gsplat-png (default: default)")
    s.add_argument("--quality", type=int, default=None, help="ptc: 1 (smallest) .. 8 (closest to the original; 5-8 code SH rest by fixed-step scalar quantization), default 3; static-gscodec: 1..5")
    s.add_argument("--target-psnr", type=float, default=None, metavar="DB",
                   help="ptc: the smallest quality whose decoded orbit renders reach this PSNR against the "
                   "original's renders (binary search over the ladder; replaces --quality), then per-attribute "
                   "bit widths around it when they reach the PSNR in fewer bytes (16 renders a window, 1-2 "
                   "windows: about 1 min for 100k splats on 2 cores)")
    s.add_argument("--ladder-only", action="store_true",
                   help="with --target-psnr: the quality ladder only, no per-attribute widths (faster)")
    s.add_argument("--target-views", type=int, default=None, help="orbit views of --target-psnr (default 6)")
    s.add_argument("--target-resolution", type=int, default=None, help="their size in pixels (default 160)")
    s.add_argument("--sh-degree", type=int, default=None, help="drop SH bands above this degree")
    s.add_argument("--codebook-size", type=int, default=None, help="k-means codebook size for SH rest")
    s.add_argument("--sh-rest", choices=["kmeans", "scalar", "drop"], default=None,
                   help="how SH rest is coded")
    s.add_argument("--min-opacity", type=float, default=None, help="prune splats below this opacity")
    s.add_argument("--outlier-std", type=float, default=None,
                   help="KD-tree outlier pruning: std ratio (0 = off)")
    s.add_argument("--codec-option", dest="codec_options", action="append", default=[], metavar="KEY=VALUE",
                   help="any other option of the codec (repeatable), e.g. ptc's position_bits=14; VALUE is read "
                        "as JSON when it parses, else as text; an option the codec does not take is an error")
    s.set_defaults(fn=cmd_encode)

    s = sub.add_parser("decode", help="decode a .gsz back into a standard 3DGS .ply (a dynamic stream: one per frame)")
    s.add_argument("input", help=".gsz file")
    s.add_argument("-o", "--output", default=None, help="output .ply (a dynamic stream: its first frame)")
    s.add_argument("--frames", default=None, metavar="DIR",
                   help="dynamic streams: write every frame as DIR/frame_0000.ply ... (SH degree 1)")
    s.add_argument("--max-splats", type=int, default=None,
                   help="refuse a stream declaring more Gaussians than this, before decoding (default 33,554,432)")
    s.add_argument("--sh-degree", type=int, default=None,
                   help="anchor streams (hac): SH degree fitted to the neural Gaussians' colour (default 3); "
                        "an error for other streams")
    s.set_defaults(fn=cmd_decode)


def codec_options(pairs: list[str]) -> dict:
    """KEY=VALUE pairs -> {key: value}; a value that parses as JSON (numbers, true) is taken as such."""
    import json

    out = {}
    for pair in pairs:
        key, sep, val = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--codec-option needs KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(val)
        except ValueError:
            out[key.strip()] = val
    return out


def _codec_config(args) -> dict:
    """The codec's options from the flags; --codec-option may not repeat one a flag sets."""
    prune = {}
    if args.min_opacity is not None:
        prune["min_opacity"] = args.min_opacity
    if args.outlier_std is not None:
        prune["outlier_std_ratio"] = args.outlier_std
    cfg = dict(preset=args.preset, quality=args.quality, codebook_size=args.codebook_size,
               sh_rest_mode=args.sh_rest, prune=prune or None)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    extra = codec_options(args.codec_options)
    twice = sorted(set(cfg) & set(extra))
    if twice:
        raise InputError(f"--codec-option {', '.join(twice)}: set by its own flag already")
    return {**cfg, **extra}


def cmd_encode(args) -> int:
    from gscodec.codecs import get_codec
    from gscodec.scene import load_ply
    from gscodec.utils.io import atomic_write_bytes
    from gscodec.utils.progress import Stages

    src = Path(args.input)
    check_output(args.output, src)
    if src.is_dir():
        if args.target_psnr is not None:
            raise InputError("--target-psnr applies to a .ply (codec ptc), not to a training run's folder")
        return _encode_run(args, src)
    if args.lambda_rate is not None:
        raise InputError("--lambda applies to a training run's folder (RUN/ of `gscodec train --codec hemgs`), "
                         "not to a .ply")
    args.codec = args.codec or "ptc"
    if args.target_psnr is not None and (args.codec != "ptc" or args.quality is not None
                                         or "quality" in codec_options(args.codec_options)):
        raise InputError("--target-psnr picks the quality of codec ptc itself: give it without --quality "
                         "(and without another --codec)")
    if args.target_psnr is None and (args.target_views is not None or args.target_resolution is not None
                                     or args.ladder_only):
        raise InputError("--target-views, --target-resolution and --ladder-only apply to --target-psnr only")
    with Stages(f"encode {src.name}") as stage:
        stage("load PLY")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scene = load_ply(src)
        for w in caught:
            msg = str(w.message)
            if scene.extras and "kept as extras" in msg:  # in memory, yes; no codec carries them
                msg = f"{src}: properties the .gsz does not carry are dropped: {', '.join(scene.extras)}"
            print(f"note: {msg}")
        if args.sh_degree is not None:
            if not 0 <= args.sh_degree <= 3:
                raise InputError(f"--sh-degree must be 0..3, got {args.sh_degree}")
            scene = scene.with_sh_degree(min(args.sh_degree, scene.sh_degree))
        t0 = time.perf_counter()
        if args.target_psnr is not None:
            data = _encode_for_psnr(args, scene, stage)
        else:
            codec = get_codec(args.codec, **_codec_config(args))
            if hasattr(codec, "stage"):
                codec.stage = stage
            data = codec.encode(scene)
        dt = time.perf_counter() - t0
        stage("write")
        atomic_write_bytes(args.output, data)
    size_in = src.stat().st_size
    print(f"{src} ({size_in:,} B, {len(scene):,} splats) -> {args.output} ({len(data):,} B)  "
          f"ratio {size_in / len(data):.1f}x  encode {dt:.2f} s")
    return 0


def _encode_for_psnr(args, scene, stage) -> bytes:
    from gscodec.codecs.ptc.codec import SCALAR_ATTRS
    from gscodec.codecs.ptc.target import encode_for_psnr

    args.target_views = 6 if args.target_views is None else args.target_views
    args.target_resolution = 160 if args.target_resolution is None else args.target_resolution
    if args.target_views < 1 or args.target_resolution < 8:
        raise InputError("--target-views must be >= 1 and --target-resolution >= 8")
    options = {k: v for k, v in _codec_config(args).items() if k != "quality"}
    r = encode_for_psnr(scene, args.target_psnr, views=args.target_views, resolution=args.target_resolution,
                        stage=stage, allocate=not args.ladder_only, **options)
    tried = ", ".join(f"q{q} {b:,} B {p:.2f} dB" for q, (b, p) in r.tried.items())
    verdict = "reaches" if r.reached else "is the closest to (no quality reaches)"
    print(f"target {args.target_psnr:g} dB: quality {r.quality} ({r.tried[r.quality][1]:.2f} dB, {args.target_views} "
          f"orbit views at {args.target_resolution} px) {verdict} it; tried {tried}")
    if r.allocated:
        widths = ", ".join(f"{k} {v}" for k, v in [("positions", r.allocated["position_bits"]),
                                                   *((a, r.allocated["bits"][a]) for a in SCALAR_ATTRS)])
        print(f"per-attribute widths ({widths} bits) reach it in {len(r.data):,} B at {r.psnr:.2f} dB "
              f"(quality {r.quality} alone: {r.ladder_bytes:,} B)")
    elif not args.ladder_only:
        print(f"per-attribute widths: not used ({r.allocation_note})")
    return r.data


def _encode_run(args, run: Path) -> int:
    """Code a trained anchor run again (HEMGS: at another λ, without retraining)."""
    from gscodec.codecs import get_codec
    from gscodec.train.anchor_run import load_trained
    from gscodec.utils.io import atomic_write_bytes

    extra = sorted(_codec_config(args)) + (["sh_degree"] if args.sh_degree is not None else [])
    if extra:
        raise InputError(f"{', '.join(extra)}: options of the post-training codecs; a run folder is coded with the "
                         "options it was trained with")
    codec_name, options, scene = load_trained(run)
    if args.codec not in (None, codec_name):
        raise InputError(f"{run} was trained for codec {codec_name!r}; it cannot be coded with {args.codec!r}")
    em = scene.entropy_model
    if args.lambda_rate is not None:
        if not getattr(em, "VARIABLE_RATE", False):
            raise InputError(f"--lambda: the {codec_name} model was trained for one λ; only a variable-rate codec "
                             "(hemgs) codes at another one")
        em.set_lambda(args.lambda_rate)
    t0 = time.perf_counter()
    data = get_codec(codec_name, **options).encode(scene)
    dt = time.perf_counter() - t0
    atomic_write_bytes(args.output, data)
    lam = f" at λ {args.lambda_rate:g}" if args.lambda_rate is not None else ""
    print(f"{run} ({codec_name}, {len(scene):,} anchors){lam} -> {args.output} ({len(data):,} B)  encode {dt:.2f} s")
    return 0


def cmd_decode(args) -> int:
    from gscodec.codecs.registry import (
        DEFAULT_MAX_SPLATS,
        decode_bytes,
        decode_to_gaussians,
    )
    from gscodec.scene import save_ply

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if args.output is not None:
        check_output(args.output, path)
    limit = DEFAULT_MAX_SPLATS if args.max_splats is None else args.max_splats
    if limit < 1:
        raise InputError(f"--max-splats must be at least 1, got {args.max_splats}")
    data = path.read_bytes()
    header = _header(data)
    t0 = time.perf_counter()
    if not isinstance(header.get("gofs"), list):
        if args.frames is not None:
            raise InputError(f"{path} holds one static scene, not frames; decode it with -o OUT.ply")
        if args.output is None:
            raise InputError("give the output .ply with -o OUT.ply")
        from gscodec.utils.progress import Stages

        with Stages(f"decode {path.name}") as stage:
            stage(f"decode ({header.get('codec', '?')})")
            scene = decode_to_gaussians(data, args.sh_degree, max_splats=limit)
            dt = time.perf_counter() - t0
            stage("write PLY")
            save_ply(scene, args.output)
        print(f"{path} -> {args.output} ({len(scene):,} splats, SH degree {scene.sh_degree})  decode {dt:.2f} s")
        return 0
    if args.sh_degree is not None:
        raise InputError("--sh-degree applies to anchor streams; a dynamic stream's frames are written at SH degree 1")
    if args.frames is None and args.output is None:
        raise InputError(f"{path} is a dynamic stream ({header.get('n_frames')} frames at {header.get('fps')} fps): "
                         "write its frames with --frames DIR (one PLY per frame), or its first frame with -o OUT.ply")
    seq = decode_bytes(data, max_splats=limit)
    dt = time.perf_counter() - t0
    print(f"{path}: {seq.n_frames} frames at {seq.fps:g} fps, {len(seq.gofs)} groups of frames, "
          f"{len(seq):,} splats  decode {dt:.2f} s")
    if args.output is not None:
        scene = seq.gofs[0].slice_scene(0.0, sh_degree=1)
        save_ply(scene, args.output)
        print(f"note: a dynamic stream; {args.output} is its first frame ({len(scene):,} splats, SH degree 1)")
    if args.frames is not None:
        write_frames(seq, Path(args.frames))
    return 0


def _header(data: bytes) -> dict:
    from gscodec.coding.container import unpack

    return unpack(data)[0]


def write_frames(seq, out: Path, cameras: int = 4, resolution: int = 64) -> dict:
    """Every frame f as out/frame_{f:04d}.ply: the slice at f / fps with the decoder's colours
    fitted to SH degree 1 (`slice_scene`), a standard 3DGS PLY any viewer opens.

    How close the baked PLYs are to the exact render (features splatted, then decoded per
    pixel): for the first, middle and last frame, `cameras` orbit views (auto_orbit around the
    frame) render the PLY scene (gscodec.render.render) and the GOF (render_view); the mean
    PSNR between them is printed and returned. The gap is the bake's approximation: the MLP's
    colour is evaluated per splat and fitted to degree-1 SH instead of per pixel. Measured: the
    toy trained sequence (tests/train/dynamic_toy.py, 2 GOFs) 41-51 dB (46.5 mean); the random
    test sequence of tests/codecs/test_dynamic_gscodec.py (random MLP output layer) 33-38 dB."""
    from gscodec.scene import save_ply
    from gscodec.utils.progress import progress_iter

    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    for f in progress_iter(range(seq.n_frames), "writing frames"):
        save_ply(seq.gof_at(f / seq.fps).slice_scene(f / seq.fps, sh_degree=1), out / f"frame_{f:04d}.ply")
    checked = sorted({0, seq.n_frames // 2, seq.n_frames - 1})
    psnrs = [baked_psnr(seq, f, cameras, resolution) for f in checked]
    psnrs = [p for p in psnrs if p is not None]
    mean = sum(psnrs) / len(psnrs) if psnrs else None
    print(f"{seq.n_frames} frames -> {out}/frame_0000.ply ... frame_{seq.n_frames - 1:04d}.ply (SH degree 1)")
    if mean is not None:
        print(f"baked PLY vs exact render: {mean:.2f} dB mean PSNR (frames {', '.join(map(str, checked))}, "
              f"{cameras} views each)")
    return {"frames": seq.n_frames, "checked": checked, "psnr": mean}


def baked_psnr(seq, f: int, cameras: int = 4, resolution: int = 64) -> float | None:
    """Mean PSNR of frame f's baked PLY scene against the GOF's exact render, on `cameras` orbit
    views around it (None for an empty frame)."""
    import dataclasses

    from gscodec.scoring import auto_orbit, score_views

    t = f / seq.fps
    gof, baked = seq.gof_at(t), seq.gof_at(t).slice_scene(t, sh_degree=1)
    if len(baked) == 0:
        return None
    cams = [dataclasses.replace(cam, time=t) for cam in auto_orbit(baked, cameras, resolution)]
    values = score_views(baked, cams, gof).psnr  # the baked PLY scene against the GOF's exact render
    return sum(values) / len(values)

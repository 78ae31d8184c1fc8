"""CLI verbs of the codecs: encode, decode, eval (`gscodec info` lives in gscodec.cli)."""
from __future__ import annotations

import json
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
    s.add_argument("--preset", default=None, help="ptc: default | gsplat-png (default: default)")
    s.add_argument("--quality", type=int, default=None, help="ptc, static-gscodec: 1 (smallest) .. 5 (best), default 3")
    s.add_argument("--sh-degree", type=int, default=None, help="drop SH bands above this degree")
    s.add_argument("--codebook-size", type=int, default=None, help="k-means codebook size for SH rest")
    s.add_argument("--sh-rest", choices=["kmeans", "scalar", "drop"], default=None,
                   help="how SH rest is coded")
    s.add_argument("--min-opacity", type=float, default=None, help="prune splats below this opacity")
    s.add_argument("--outlier-std", type=float, default=None,
                   help="KD-tree outlier pruning: std ratio (0 = off)")
    s.set_defaults(fn=cmd_encode)

    s = sub.add_parser("decode", help="decode a .gsz back into a standard 3DGS .ply")
    s.add_argument("input", help=".gsz file")
    s.add_argument("-o", "--output", required=True, help="output .ply")
    s.add_argument("--max-splats", type=int, default=None,
                   help="refuse a stream declaring more Gaussians than this, before decoding (default 33,554,432)")
    s.add_argument("--sh-degree", type=int, default=3,
                   help="anchor streams (hac): SH degree fitted to the neural Gaussians' colour (default 3)")
    s.set_defaults(fn=cmd_decode)

    s = sub.add_parser("eval", help="compare renders of a reference and a decoded scene")
    s.add_argument("reference", help="the original .ply")
    s.add_argument("decoded", help="a .gsz or a decoded .ply")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--cameras", help="a dataset folder (COLMAP / NeRF-synthetic / 'builtin'): its test views")
    g.add_argument("--orbit", type=int, default=None, help="N orbit cameras around the scene (default 12)")
    s.add_argument("--resolution", type=int, default=256, help="orbit image size (pixels)")
    s.add_argument("--downscale", type=int, default=1, help="dataset image down-scale factor (with --cameras)")
    s.add_argument("--lpips-weights", default=None, help="LPIPS weights file (or GSCODEC_LPIPS_WEIGHTS)")
    s.add_argument("--json", default=None, help="also write the report as JSON here")
    s.set_defaults(fn=cmd_eval)


def _codec_config(args) -> dict:
    prune = {}
    if args.min_opacity is not None:
        prune["min_opacity"] = args.min_opacity
    if args.outlier_std is not None:
        prune["outlier_std_ratio"] = args.outlier_std
    cfg = dict(preset=args.preset, quality=args.quality, codebook_size=args.codebook_size,
               sh_rest_mode=args.sh_rest, prune=prune or None)
    return {k: v for k, v in cfg.items() if v is not None}


def cmd_encode(args) -> int:
    from gscodec.codecs import get_codec
    from gscodec.scene import load_ply
    from gscodec.utils.io import atomic_write_bytes

    src = Path(args.input)
    check_output(args.output, src)
    if src.is_dir():
        return _encode_run(args, src)
    if args.lambda_rate is not None:
        raise InputError("--lambda applies to a training run's folder (RUN/ of `gscodec train --codec hemgs`), "
                         "not to a .ply")
    args.codec = args.codec or "ptc"
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
    codec = get_codec(args.codec, **_codec_config(args))
    t0 = time.perf_counter()
    data = codec.encode(scene)
    dt = time.perf_counter() - t0
    atomic_write_bytes(args.output, data)
    size_in = src.stat().st_size
    print(f"{src} ({size_in:,} B, {len(scene):,} splats) -> {args.output} ({len(data):,} B)  "
          f"ratio {size_in / len(data):.1f}x  encode {dt:.2f} s")
    return 0


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
    from gscodec.codecs.registry import DEFAULT_MAX_SPLATS, decode_to_gaussians
    from gscodec.scene import save_ply

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    check_output(args.output, path)
    limit = DEFAULT_MAX_SPLATS if args.max_splats is None else args.max_splats
    if limit < 1:
        raise InputError(f"--max-splats must be at least 1, got {args.max_splats}")
    t0 = time.perf_counter()
    scene = decode_to_gaussians(path.read_bytes(), args.sh_degree, max_splats=limit)
    dt = time.perf_counter() - t0
    save_ply(scene, args.output)
    print(f"{path} -> {args.output} ({len(scene):,} splats, SH degree {scene.sh_degree})  decode {dt:.2f} s")
    return 0


def cmd_eval(args) -> int:
    from gscodec.eval.compare import auto_orbit, compare_scenes, load_any

    # anchor streams stay anchors: their neural Gaussians are rendered per view (renderable seam)
    ref, test = load_any(args.reference, keep_anchors=True), load_any(args.decoded, keep_anchors=True)
    background = (0.0, 0.0, 0.0)
    if args.cameras:
        from gscodec.data.load import load_dataset

        ds = load_dataset(args.cameras, downscale=args.downscale)
        cams, background = ds.test_cameras(), ds.background
    else:
        cams = auto_orbit(ref.scene, args.orbit or 12, args.resolution)
    m = compare_scenes(ref.scene, test.scene, cams, background=background, lpips_weights=args.lpips_weights)
    report = {
        "reference": str(ref.path), "decoded": str(test.path), "views": len(cams),
        "psnr": m["psnr"], "ssim": m["ssim"], "lpips": m["lpips"],
        "reference_bytes": ref.file_bytes, "decoded_bytes": test.file_bytes,
        "ratio": ref.file_bytes / max(test.file_bytes, 1),
        "reference_splats": len(ref.scene), "decoded_splats": len(test.scene),
        "decode_seconds": test.decode_seconds,
    }
    print(f"views        {len(cams)}")
    print(f"PSNR         {m['psnr']:.2f} dB   (decoded vs reference renders)")
    print(f"SSIM         {m['ssim']:.4f}")
    print(f"LPIPS        {m['lpips']:.4f}" if m["lpips"] is not None else
          "LPIPS        skipped: no weights (set GSCODEC_LPIPS_WEIGHTS or --lpips-weights)")
    print(f"size         {ref.file_bytes:,} B -> {test.file_bytes:,} B  ({report['ratio']:.1f}x)")
    print(f"splats       {len(ref.scene):,} -> {len(test.scene):,}")
    if test.decode_seconds is not None:
        print(f"decode time  {test.decode_seconds:.2f} s")
    if args.json:
        from gscodec.utils.io import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0

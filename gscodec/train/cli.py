"""`gscodec train DATASET -o RUN/`: train, compress, decode from the file, evaluate."""
from __future__ import annotations

import json

from gscodec.codecs.cli import codec_options  # one KEY=VALUE reader for train and encode


def register(sub) -> None:
    s = sub.add_parser("train", help="train a scene on a dataset, then compress and evaluate it")
    s.add_argument("dataset", help="'builtin', a NeRF-synthetic folder or a COLMAP folder; for dynamic-gscodec "
                                   "'builtin-dynamic', a Neural 3D Video folder or a D-NeRF folder")
    s.add_argument("-o", "--out", required=True, help="run folder (checkpoint, .ply, .gsz, metrics.json)")
    s.add_argument("--codec", default="ptc",
                   help="ptc (train plain 3DGS, then compress), static-gscodec (train with compression "
                        "simulation, then code with the learned distributions), hac (Scaffold-GS anchors + HAC), "
                        "predict-gs (anchor features predicted from a feature pool, residuals coded by HAC's model), "
                        "mop (HAC with a mixture-of-priors hyperprior and coarse-to-fine steps), dynamic-gscodec "
                        "(Spacetime Gaussians of a dynamic dataset, trained per group of frames with compression "
                        "simulation)")
    s.add_argument("--gof", type=int, default=None,
                   help="dynamic-gscodec: frames per group of frames (default: the whole sequence)")
    s.add_argument("--lambda", dest="lambda_rate", type=float, default=None,
                   help="rate weight λ of codecs that train with compression (static-gscodec default 0.006)")
    s.add_argument("--iterations", type=int, default=None)
    s.add_argument("--sh-degree", type=int, default=None)
    s.add_argument("--strategy", choices=["default", "mcmc"], default=None)
    s.add_argument("--downscale", type=int, default=1, help="image down-scale factor")
    s.add_argument("--quality", type=int, default=None,
                   help="quality 1..5 of ptc and static-gscodec (default 3); anchor codecs take --lambda")
    s.add_argument("--codec-option", dest="codec_options", action="append", default=[], metavar="KEY=VALUE",
                   help="a codec option (repeatable), e.g. predict-gs's residual=off or downsample=linear; "
                        "VALUE is read as JSON when it parses, else as text")
    s.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    s.add_argument("--config", default=None,
                   help="JSON file with the trainer's config fields: TrainConfig (ptc, static-gscodec), "
                        "ScaffoldConfig (hac, predict-gs, mop, hemgs), SpacetimeTrainConfig (dynamic-gscodec); "
                        "an unknown field is an error, and flags win over the file")
    s.add_argument("--lpips-weights", default=None,
                   help="LPIPS weights file for the decoded test views (or GSCODEC_LPIPS_WEIGHTS; else skipped)")
    s.set_defaults(fn=cmd_train)


def cmd_train(args) -> int:
    from pathlib import Path

    from gscodec.data.load import load_dataset
    from gscodec.errors import InputError
    from gscodec.train.config import TrainConfig
    from gscodec.train.run import train_and_compress

    base = {}
    if args.config:
        try:
            base = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{args.config}: cannot read the config ({e})") from None
    for key, val in (("iterations", args.iterations), ("sh_degree", args.sh_degree),
                     ("strategy", args.strategy)):
        if val is not None:
            base[key] = val
    from gscodec.codecs.registry import codec_class

    cls = codec_class(args.codec)
    if getattr(cls, "representation", "gaussians") == "spacetime":
        return _train_dynamic(args, base)
    if args.gof is not None:
        raise InputError(f"--gof applies to dynamic codecs (dynamic-gscodec), not {args.codec!r}")
    if getattr(cls, "representation", "gaussians") == "anchors":
        return _train_anchors(args, base)
    cfg = TrainConfig.from_dict(base)
    codec_config = codec_options(args.codec_options)
    if args.quality is not None:
        codec_config["quality"] = args.quality
    if args.lambda_rate is not None:
        if not getattr(cls, "trains_with_compression", False):
            raise InputError(f"--lambda applies to codecs that train with compression; {args.codec!r} does not")
        if args.lambda_rate < 0:
            raise InputError("--lambda must be >= 0")
        codec_config["lambda_rate"] = args.lambda_rate
    ds = load_dataset(args.dataset, downscale=args.downscale)
    if ds.dynamic:
        raise InputError(f"{args.dataset} is a dynamic dataset ({ds.n_frames} frames): train it with "
                         "--codec dynamic-gscodec")
    res = train_and_compress(ds, cfg, args.out, codec=args.codec, codec_config=codec_config, resume=args.resume,
                             lpips_weights=args.lpips_weights)
    m = res.metrics
    print(f"test PSNR {m['uncompressed']['psnr']:.2f} dB uncompressed, {m['compressed']['psnr']:.2f} dB decoded; "
          f"{m['compressed']['bytes']:,} B ({m['ratio']:.1f}x smaller than the .ply)")
    print(f"metrics: {Path(args.out) / 'metrics.json'}")
    return 0


def _train_dynamic(args, base: dict) -> int:
    """--codec dynamic-gscodec: --config holds SpacetimeTrainConfig fields, --iterations is
    per group of frames, --gof its length in frames."""
    from pathlib import Path

    from gscodec.data.load import load_dataset
    from gscodec.errors import InputError
    from gscodec.train.dynamic_run import train_and_compress_dynamic
    from gscodec.train.spacetime import SpacetimeTrainConfig

    if base.pop("sh_degree", None) is not None or base.pop("strategy", None) is not None:
        raise InputError("--sh-degree and --strategy do not apply to dynamic training (features are decoded "
                         "by an MLP; density control is STG's)")
    if args.resume:
        raise InputError("--resume is not supported for dynamic runs yet")
    if args.gof is not None:
        base["gof"] = args.gof
    cfg = SpacetimeTrainConfig.from_dict(base)
    codec_config = codec_options(args.codec_options)
    if args.quality is not None:
        codec_config["quality"] = args.quality
    if args.lambda_rate is not None:
        if args.lambda_rate < 0:
            raise InputError("--lambda must be >= 0")
        codec_config["lambda_rate"] = args.lambda_rate
    ds = load_dataset(args.dataset, downscale=args.downscale)
    res = train_and_compress_dynamic(ds, cfg, args.out, codec=args.codec, codec_config=codec_config,
                                     lpips_weights=args.lpips_weights)
    m = res.metrics
    u, c = m["uncompressed"], m["compressed"]
    print(f"{m['frames']} frames in {len(m['gofs'])} GOF(s) of {m['gof']}: test PSNR {u['psnr']:.2f} dB uncompressed, "
          f"{c['psnr']:.2f} dB decoded")
    print(f"{c['bytes']:,} B = {c['mbps']:.3f} Mbps at {m['fps']:g} fps ({m['ratio']:.1f}x smaller than raw STG, "
          f"{u['mbps']:.2f} Mbps)")
    print(f"metrics: {Path(args.out) / 'metrics.json'}")
    return 0


def _train_anchors(args, base: dict) -> int:
    """--codec hac: Scaffold-GS + HAC; --config holds ScaffoldConfig fields, --iterations
    scales HAC's 30k schedule, --sh-degree is the exported PLY's SH degree."""
    from pathlib import Path

    from gscodec.data.load import load_dataset
    from gscodec.errors import InputError
    from gscodec.train.anchor_run import scaffold_config_for, train_and_compress_anchors

    iterations = base.pop("iterations", None)
    sh_degree = base.pop("sh_degree", 3)
    if base.pop("strategy", None):
        raise InputError("--strategy applies to 3DGS training; Scaffold-GS grows anchors its own way")
    if args.quality is not None:
        raise InputError(f"--quality does not apply to --codec {args.codec}: its rate is set by --lambda")
    codec_config = codec_options(args.codec_options)
    if args.lambda_rate is not None:
        if args.lambda_rate < 0:
            raise InputError("--lambda must be >= 0")
        codec_config["lambda_rate"] = args.lambda_rate
    ds = load_dataset(args.dataset, downscale=args.downscale)
    cfg = scaffold_config_for(iterations, base, n_points=len(ds.points.xyz))
    res = train_and_compress_anchors(ds, cfg, args.out, codec=args.codec, codec_config=codec_config,
                                     resume=args.resume, export_sh_degree=sh_degree,
                                     lpips_weights=args.lpips_weights)
    m = res.metrics
    print(f"test PSNR {m['uncompressed']['psnr']:.2f} dB before coding, {m['compressed']['psnr']:.2f} dB decoded; "
          f"{m['compressed']['bytes']:,} B ({m['ratio']:.1f}x smaller than the same model stored raw, "
          f"{m['uncompressed']['bytes']:,} B)")
    e = m["export"]
    print(f"exported PLY (SH degree {e['sh_degree']}, {e['gaussians']:,} Gaussians): {e['psnr']:.2f} dB, "
          f"fit loss {e['fit_loss_db']:.2f} dB -> {Path(args.out) / 'scene.ply'}")
    print(f"metrics: {Path(args.out) / 'metrics.json'}")
    return 0

"""CLI verbs of evaluation: `gscodec eval REF DECODED`, `gscodec bench SPEC` and `gscodec report
RESULTS.jsonl`."""
from __future__ import annotations

import json


def register(sub) -> None:
    s = sub.add_parser("eval", help="compare renders of a reference and a decoded scene")
    s.add_argument("reference", help="the original .ply")
    s.add_argument("decoded", help="a .gsz or a decoded .ply")
    s.add_argument("--gsz", default=None, metavar="FILE.gsz",
                   help="the .gsz a decoded .ply came from: its size is the compressed size (a PLY's is not)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--cameras", help="a dataset folder (COLMAP / NeRF-synthetic / 'builtin'; dynamic streams: a "
                   "dynamic dataset, also scored against its ground truth per frame): its test views")
    g.add_argument("--orbit", type=int, default=None, help="N orbit cameras around the scene (default 12; dynamic streams: "
                   "their times step through the sequence)")
    s.add_argument("--resolution", type=int, default=256, help="orbit image size (pixels)")
    s.add_argument("--downscale", type=int, default=1, help="dataset image down-scale factor (with --cameras)")
    s.add_argument("--lpips-weights", default=None, help="LPIPS weights file (or GSCODEC_LPIPS_WEIGHTS)")
    s.add_argument("--json", default=None, help="also write the report as JSON here")
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("bench", help="run a benchmark spec: every (scene, codec, rate point), resumable")
    s.add_argument("spec", help="spec file (.toml; .yaml/.yml with PyYAML)")
    s.add_argument("-o", "--out", default=None, help="run folder (default: the spec's 'out')")
    s.add_argument("--skip-failed", action="store_true",
                   help="on resume, also skip jobs recorded as failed (default: retry them)")
    s.add_argument("--dry-run", action="store_true", help="list the jobs (run / skip) and stop")
    s.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    s.add_argument("--progress", action="store_true", help="show training / rendering progress bars")
    s.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: the jobs one after another here (default); ray: each job a Ray task "
                        "(pip install gscodec[ray])")
    s.add_argument("--address", default=None,
                   help="with --engine ray: the Ray cluster to use (e.g. HOST:6379 or auto; default: a Ray "
                        "started here on every core)")
    s.add_argument("--work", default=None,
                   help="trained scenes and job files (default: the spec's 'work', else OUT/work); a path every "
                        "node sees on a cluster")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("report", help="tables (Markdown) and plots (PNG) from bench results, re-running nothing")
    s.add_argument("results", help="a results.jsonl written by `gscodec bench`")
    s.add_argument("-o", "--out", default=None, help="output folder (default: next to the results)")
    s.add_argument("--anchor", default=None, help="codec label BD-rates are computed against")
    s.add_argument("--no-published", action="store_true", help="leave out the published reference points")
    s.add_argument("--published", default=None, help="a TOML file of published points (default: built in)")
    s.add_argument("--plugin", default=None, help="a report plug-in (.py with sections(res, out)), e.g. the one "
                   "the run's spec names in 'report' (never run unless given here)")
    s.set_defaults(fn=cmd_report)


def cmd_bench(args) -> int:
    from gscodec.eval.harness import load_spec, run_bench

    spec = load_spec(args.spec)
    summary = run_bench(spec, args.out, retry_failed=not args.skip_failed, progress=args.progress,
                        dry_run=args.dry_run, engine=args.engine, address=args.address, work=args.work)
    if args.dry_run:
        print(f"{summary['jobs']} jobs, {summary['skipped']} already done")
        return 0
    print(f"{summary['ran']} jobs run, {summary['skipped']} skipped (done before), {summary['failed']} failed; "
          f"results: {summary['results']}")
    if not args.no_report and summary["results"].is_file():
        from gscodec.eval.report import build_report

        print(f"report: {build_report(summary['results'], plugin=spec.report)}")
    return 1 if summary["failed"] else 0


def cmd_report(args) -> int:
    from gscodec.eval.report import build_report

    path = build_report(args.results, args.out, anchor=args.anchor, published=not args.no_published,
                        published_path=args.published, plugin=args.plugin)
    print(f"report: {path}")
    return 0


def cmd_eval(args) -> int:
    from gscodec.eval.compare import compare_scenes, load_any, pair_report, print_scores, size_line
    from gscodec.eval.dynamic import evaluate_sequences, is_sequence, print_sequence_report
    from gscodec.scoring import auto_orbit

    # anchor streams stay anchors: their neural Gaussians are rendered per view (renderable seam)
    ref, test = load_any(args.reference, keep_anchors=True), load_any(args.decoded, keep_anchors=True)
    ds = None
    if args.cameras:
        from gscodec.data.load import load_dataset

        ds = load_dataset(args.cameras, downscale=args.downscale)
    if is_sequence(ref.scene) or is_sequence(test.scene):
        report = evaluate_sequences(ref, test, ds=ds, orbit=args.orbit or 12, resolution=args.resolution,
                                    lpips_weights=args.lpips_weights, gsz=args.gsz)
        print_sequence_report(report)
    else:
        if ds is not None:
            cams, background = ds.test_cameras(), ds.background
        else:
            cams, background = auto_orbit(ref.scene, args.orbit or 12, args.resolution), (0.0, 0.0, 0.0)
        m = compare_scenes(ref.scene, test.scene, cams, background=background, lpips_weights=args.lpips_weights)
        report = pair_report(ref, test, m, len(cams), gsz=args.gsz)
        print(f"compares     {report['compares']}, rendered from the same {len(cams)} "
              f"{'dataset test views' if ds is not None else 'orbit views'}")
        print_scores(report, "decoded vs reference renders")
        print(f"size         {size_line(report)}")
        print(f"splats       {len(ref.scene):,} -> {len(test.scene):,}")
        if test.decode_seconds is not None:
            print(f"decode time  {test.decode_seconds:.2f} s")
    if args.json:
        from gscodec.utils.io import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0

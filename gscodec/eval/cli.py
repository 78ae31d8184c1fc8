"""CLI verbs of the evaluation harness: `gscodec bench SPEC` and `gscodec report RESULTS.jsonl`."""
from __future__ import annotations


def register(sub) -> None:
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

        print(f"report: {build_report(summary['results'])}")
    return 1 if summary["failed"] else 0


def cmd_report(args) -> int:
    from gscodec.eval.report import build_report

    path = build_report(args.results, args.out, anchor=args.anchor, published=not args.no_published,
                        published_path=args.published)
    print(f"report: {path}")
    return 0

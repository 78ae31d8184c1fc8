"""The report logic of bench/anchor_codecs.py and bench/static_ablation.py on made-up points:
matched-PSNR interpolation, dominance, paper directions, BD numbers, and the JSON round trip
(a report rebuilt from a run's JSON is the same report)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    sys.path.insert(0, str(BENCH))  # the scripts import bench/common.py as `common`
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def anchor():
    return _load("anchor_codecs")


@pytest.fixture(scope="module")
def anchor_report(anchor):
    return sys.modules["anchor_report"]  # imported by anchor_codecs


@pytest.fixture(scope="module")
def ablation():
    return _load("static_ablation")


def _pt(label, lam, psnr, size, **kw):
    return {"label": label, "codec": label.lower(), "lambda": lam, "psnr": psnr, "ssim": 0.9, "bytes": size,
            "psnr_before_coding": psnr + 0.1, "train_seconds": 1.0, **kw}


def test_matched_psnr_interpolates_inside_and_names_dominance_outside(anchor, anchor_report):
    other = [_pt("Static", 0.01, 30.0, 200_000), _pt("Static", 0.002, 31.0, 250_000)]
    inside, above, below = (_pt("HAC", 0.004, 30.5, 150_000), _pt("HAC", 0.002, 32.0, 240_000),
                            _pt("HAC", 0.008, 29.0, 300_000))
    lines = anchor_report.matched_psnr_lines([inside, above, below], other, "Static")
    # log-size halfway between 200k and 250k at 30.5 dB: sqrt(200k * 250k) = 223,607 B
    assert "223,607 B" in lines[0] and "ratio 0.67" in lines[0]
    assert "dominates Static λ=0.002" in lines[1] and "+1.00 dB" in lines[1]
    assert "dominates none" in lines[2]
    assert anchor.size_at(other, 29.9) is None


def test_anchor_report_round_trips_through_its_json(anchor, tmp_path):
    pts = [_pt("HAC", 0.002, 32.0, 100_000, raw_bytes=1_000_000, psnr_as_trained=32.0, export_psnr=31.0,
               export_fit_loss_db=1.0, groups=[{"group": "feature", "bytes": 60_000, "share": 0.6},
                                                {"group": "header", "bytes": 40_000, "share": 0.4}],
               bits={"feature": {"estimated": 1000.0, "coded": 1002}}),
           _pt("Static GSCodec", 0.01, 31.0, 120_000)]
    meta = {"machine": "m", "date_utc": "d", "command": "c", "loadavg_1min_end": 1.0, "iterations": 10,
            "resolution": 32}
    out = tmp_path / "a"
    assert anchor.write_results(out, "points", pts, dict(meta), None, anchor.plot_for(meta), anchor.report) == 0
    first = out.with_suffix(".md").read_text()
    assert "10.0x" in first and "+0.20%" in first and "60,000 (60%)" in first
    assert out.with_suffix(".png").stat().st_size > 1000
    points, meta2 = anchor.load_results(out.with_suffix(".json"), "points")
    anchor.write_results(out, "points", points, meta2, None, anchor.plot_for(meta2), anchor.report)
    assert out.with_suffix(".md").read_text() == first


def _ablation_rows():
    def row(label, entry, part, psnr, size):
        return {"label": label, "part": part, "entry": entry, "codec": "x", "codec_config": {}, "psnr": psnr,
                "ssim": 0.9, "bytes": size, "uncompressed_psnr": psnr + 0.05, "decoded_splats": 10, "git_commit": "a"}
    return [row("final (noise, factorized, learnable mask)", "Static GSCodec", "ablation", 30.0, 100_000),
            row("STE instead of noise", "STE instead of noise", "ablation", 29.9, 110_000),
            row("hash-grid Gaussian model instead of factorized", "hash-grid", "ablation", 30.2, 120_000),
            row("without compression simulation (3DGS + ptc)", "3DGS + ptc", "ablation", 30.5, 100_200),
            row("Static GSCodec λ=0.002", "Static GSCodec", "rd", 30.4, 130_000),
            row("Static GSCodec λ=0.02", "Static GSCodec", "rd", 29.5, 80_000),
            row("3DGS + ptc quality 2", "3DGS + ptc", "rd", 29.8, 70_000),
            row("3DGS + ptc quality 4", "3DGS + ptc", "rd", 30.8, 140_000)]


def test_ablation_report_directions_and_bd(ablation):
    rows = _ablation_rows()
    md = "\n".join(ablation.ablation_lines(rows))
    assert "STE instead of noise: paper larger file, lower PSNR; ours larger (1.100x), lower (-0.10 dB): agrees." in md
    assert "instead of factorized: paper larger file, lower PSNR; ours larger (1.200x), higher" in md
    assert "agrees in size" in md
    assert "ours the same size (1.002x), higher (+0.50 dB): agrees in PSNR" in md
    curves = ablation.rd_curves(rows)
    assert [r["bytes"] for r in curves["Static GSCodec (λ)"]] == [80_000, 100_000, 130_000]
    assert "RD: Static GSCodec (λ) against 3DGS + ptc (quality) (3 and 3 points): BD-rate +" in md
    sm = ablation.summary_of(rows)
    assert sm["final_bytes"] == 100_000 and sm["size_vs_final"]["STE instead of noise"] == pytest.approx(1.1)
    assert sm["bd_rate_static_vs_ptc_pct"] > 0 and f"{sm['bd_rate_static_vs_ptc_pct']:+.2f}%" in md
    assert sm["row_commits"] == ["a"]
    assert "No result for the final choice" in "\n".join(ablation.ablation_lines(rows[1:]))


def test_anchor_summary_names_the_issue_figures(anchor):
    hac = [_pt("HAC", 0.002, 31.0, 900, bits={"feature": {"coded": 1010, "estimated": 1000}}),
           _pt("HAC", 0.004, 30.0, 800, bits={"feature": {"coded": 998, "estimated": 1000}})]
    static = [dict(_pt("Static GSCodec", 0.002, 31.5, 1000), codec="static-gscodec"),
              dict(_pt("Static GSCodec", 0.01, 29.5, 900), codec="static-gscodec")]
    sm = anchor.summary_of(hac + static, {"plain_3dgs": {"psnr_uncompressed": 31.3}, "git_commit": "abc"})
    assert sm["max_coded_over_estimated_pct"] == pytest.approx(1.0)
    assert sm["scaffold_minus_3dgs_psnr_db"] == pytest.approx(31.1 - 31.3)  # HAC's smallest λ, unquantized
    assert 0.8 < sm["hac_over_static_size_at_matched_psnr"] < 1.0 and sm["git_commit"] == "abc"
    assert anchor.summary_of(hac, {})["hac_over_static_size_at_matched_psnr"] is None


def test_lambda_overrides_parse_and_refuse_unknown_labels(anchor):
    assert anchor.parse_lambdas(["HAC=0.002,0.004", "static-gscodec=0.03"]) == {"HAC": [0.002, 0.004],
                                                                                "Static GSCodec": [0.03]}
    for bad in ("NoSuchCodec=0.1", "HAC=", "HAC=x"):
        with pytest.raises(SystemExit, match="--lambdas"):
            anchor.parse_lambdas([bad])


def _groups(**sizes):
    total = sum(sizes.values())
    return [{"group": k, "bytes": v, "share": v / total} for k, v in sizes.items()]


def test_predict_gs_summary_feature_ratio_and_bd_rate(anchor):
    hac = [_pt("HAC", lam, psnr, 100 + f + 50, groups=_groups(feature=f, MLPs=50, location=100))
           for lam, psnr, f in ((0.002, 32.0, 400), (0.004, 31.0, 300), (0.008, 30.0, 200))]
    pred = [dict(_pt("Predict-GS", lam, psnr, 100 + f + 20 + 80, groups=_groups(feature=f, SFP=20, MLPs=80,
                                                                                 location=100)), codec="predict-gs")
            for lam, psnr, f in ((0.002, 32.0, 200), (0.004, 31.0, 150), (0.008, 30.0, 100))]
    sm = anchor.method_summary(hac + pred, "predict-gs")
    assert sm["feature_group_ratio_vs_hac_by_lambda"]["0.004"] == pytest.approx(170 / 300)
    assert sm["bd_rate_vs_hac_pct"] < 0 and sm["bd_rate_vs_hac_without_fixed_cost_pct"] < sm["bd_rate_vs_hac_pct"]
    assert "only 3 points" in sm["bd_rate_vs_hac_note"] and anchor.method_summary(hac, "predict-gs") == {}


def test_predict_gs_ablation_directions_as_measured():
    abl = _load("anchor_ablation")
    rows = {"HAC": {"psnr": 31.0, "bytes": 100}, "+ SFP only": {"psnr": 29.0, "bytes": 60},
            "+ SFP + f_r": {"psnr": 30.9, "bytes": 85}, "full (staged + cosine)": {"psnr": 31.1, "bytes": 84},
            "down-sampling linear": {"psnr": 31.2, "bytes": 84}}
    d = abl.directions(rows)
    assert d["sfp_only_smaller_than_hac"] and d["sfp_only_worse_than_hac"] and d["residual_recovers_psnr"]
    assert d["progressive_adds_psnr"] and d["cosine_ge_linear"] is False and d["linear_ge_fixed"] is None
    m = abl.directions({"HAC": {"psnr": 31.0, "bytes": 100}, "+ MoP (HAC's steps)": {"psnr": 31.0, "bytes": 98}}, "mop")
    assert m["mop_smaller_than_hac"] and m["c2fq_smaller_than_hac"] is None


def test_ablation_spec_and_plugin_through_gscodec_report(ablation, tmp_path):
    """Every row the plug-in names is a job of the spec, and `gscodec report` on made-up records
    of those jobs writes the standard report with the ablation's section and a summary.json."""
    import json

    from gscodec.eval.harness import _base_record, expand_jobs, load_spec
    from gscodec.eval.report import build_report

    spec = load_spec(ablation.SPEC)
    jobs = expand_jobs(spec)
    assert set(ablation.ROWS) == {(j.codec.label, j.rate) for j in jobs}
    ste = next(j for j in jobs if j.codec.label == "STE instead of noise")
    assert ste.train_config["simulation"]["quantization"] == "ste" and ste.train_config["simulation"]["start"] > 0
    lines = []
    for i, j in enumerate(jobs):
        lines.append(json.dumps({**_base_record(j, spec, "local"), "status": "ok", "psnr": 30.0 + i / 10,
                                 "ssim": 0.9, "bytes": 100_000 + 1000 * i, "splats": 10, "git_commit": "abc",
                                 "sections": [{"name": "a", "bytes": 100_000 + 1000 * i}],
                                 "uncompressed": {"psnr": 31.0}}))
    (tmp_path / "results.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_dict()))
    plain = build_report(tmp_path / "results.jsonl", published=False).read_text()  # spec.json runs no code
    assert "names a report plug-in" in plain and not (tmp_path / "summary.json").exists()
    md = build_report(tmp_path / "results.jsonl", plugin=str(BENCH / "static_ablation.py"), published=False).read_text()
    assert "## Compression-simulation ablation" in md and "| STE instead of noise | 30.6" in md
    summ = json.loads((tmp_path / "summary.json").read_text())["summary"]
    assert summ["final_bytes"] == 101_000 and summ["git_commit"] == "abc"
    assert (tmp_path / ablation.PLOT_NAME).is_file()

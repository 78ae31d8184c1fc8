"""The one scorer (gscodec.scoring) gives the numbers the old scorers gave, on one fixture.

The old loops are kept here, copied from the code before #21 (score_on_dataset in
eval/compare.py, evaluate_views in eval/harness.py, the LPIPS loop of train/run.py,
compare_scenes in eval/compare.py, per_frame_scores in train/dynamic_run.py), as the
reference: each must equal score_views exactly (==, not approx) on plain Gaussians, an
anchor scene and a spacetime sequence, LPIPS included (random weights). The trainers' own
evaluations (ScaffoldTrainer, SpacetimeTrainer) and export_fit_report, which now score through
gscodec.scoring too, must return what their old loops (copied below) returned."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gscodec.data.load import load_dataset
from gscodec.metrics import LpipsUnavailable, LPIPSAlex, lpips, psnr, ssim
from gscodec.models.gaussians import GaussianModel
from gscodec.models.scaffold import ScaffoldModel, render_anchor_scene
from gscodec.models.scaffold_export import anchors_to_gaussians, export_fit_report
from gscodec.render import render
from gscodec.scene.renderable import render_view, renderable
from gscodec.scoring import score_dataset, score_views


# ---- the old loops, verbatim but for imports ------------------------------------------------
def old_score_on_dataset(scene, ds, indices, *, backend="auto", keep_images=False):
    source = renderable(scene)
    ps, ss, images = [], [], []
    for i in indices:
        with torch.no_grad():
            img = render_view(source, ds.cameras[i], background=ds.background, backend=backend).image.clamp(0, 1)
        gt = ds.image(i).to(img.device)
        ps.append(float(psnr(img, gt)))
        ss.append(float(ssim(img, gt)))
        if keep_images:
            images.append(img)
    out = {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}
    return {**out, "images": images} if keep_images else out


def old_evaluate_views(scene, ds, lpips_weights=None):  # plain Gaussians only: it called render()
    ps, ss, lp, note = [], [], [], None
    for i in ds.test_indices:
        with torch.no_grad():
            img = render(scene, ds.cameras[i], background=ds.background).image.clamp(0, 1)
        gt = ds.image(i)
        ps.append(float(psnr(img, gt)))
        ss.append(float(ssim(img, gt)))
        if note is None:
            try:
                lp.append(float(lpips(img, gt, weights=lpips_weights)))
            except LpipsUnavailable as e:
                note, lp = str(e), []
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "lpips": float(np.mean(lp)) if lp else None,
            "views": len(ps), "lpips_note": note}


def old_run_lpips(ds, test, decoded_renders):  # train/run.py: LPIPS of the kept renders, env weights
    vals, note = [], None
    for i, img in zip(test, decoded_renders):
        if note is None:
            try:
                vals.append(float(lpips(img, ds.image(i))))
            except LpipsUnavailable as e:
                note = str(e)
    return (float(np.mean(vals)) if vals else None), note


def old_compare_scenes(ref, test, cameras, *, background=(0.0, 0.0, 0.0), lpips_weights=None):
    ref, test = renderable(ref), renderable(test)
    psnrs, ssims, lps, lpips_ok = [], [], [], True
    for cam in cameras:
        with torch.no_grad():
            a = render_view(ref, cam, background=background).image.clamp(0, 1)
            b = render_view(test, cam, background=background).image.clamp(0, 1)
        psnrs.append(float(psnr(b, a)))
        ssims.append(float(ssim(b, a)))
        if lpips_ok:
            try:
                lps.append(float(lpips(b, a, weights=lpips_weights)))
            except LpipsUnavailable:
                lpips_ok = False
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)),
            "lpips": float(np.mean(lps)) if lps else None, "per_view_psnr": psnrs}


def old_per_frame_scores(scene, ds, indices, *, lpips_weights=None):
    by_frame, use_lpips = {}, True
    for i in indices:
        cam = ds.cameras[i]
        with torch.no_grad():
            img = render_view(scene, cam, background=ds.background).image.clamp(0, 1)
        gt = ds.image(i)
        lp = None
        if use_lpips:
            try:
                lp = float(lpips(img, gt, weights=lpips_weights))
            except LpipsUnavailable:
                use_lpips = False
        by_frame.setdefault(cam.frame, []).append((float(psnr(img, gt)), float(ssim(img, gt)), lp))
    rows = []
    for f, vals in sorted(by_frame.items()):
        row = {"frame": f, "psnr": float(np.mean([v[0] for v in vals])), "ssim": float(np.mean([v[1] for v in vals]))}
        if use_lpips:
            row["lpips"] = float(np.mean([v[2] for v in vals]))
        rows.append(row)
    return rows


@torch.no_grad()
def old_scaffold_evaluate(self, indices=None, quantized=True):  # ScaffoldTrainer.evaluate
    indices = self.ds.test_indices if indices is None else indices
    if not indices:
        return {}
    self._apply_switches()
    m, mode = self.model, self.mode() if quantized else "plain"
    m.eval()
    if self.entropy_model is not None:
        self.entropy_model.eval()
    feats, scal, offs, _, bits = self.simulate(mode)
    ps, ss = [], []
    for i in indices:
        img = m.render(self.ds.cameras[i], self.bg, self.cfg.backend, features=feats, scaling=scal,
                       offsets=offs).image.clamp(0, 1)
        gt = self.ds.image(i).to(img.device)
        ps.append(float(psnr(img, gt)))
        ss.append(float(ssim(img, gt)))
    m.train()
    res = {"step": self.step, "mode": mode, "psnr": sum(ps) / len(ps), "ssim": sum(ss) / len(ss),
           "n_anchors": len(m), "active_offsets": int((torch.sigmoid(m.mask_logits) > m.mask_threshold).sum())}
    if bits:
        res["bits"] = {k: float(v.detach()) for k, v in bits.items()}
    return res


@torch.no_grad()
def old_spacetime_evaluate(self, simulated=True):  # SpacetimeTrainer.evaluate
    params = self.rendered_params(training=False)[0] if simulated else dict(self.model.params())
    ps, ss = [], []
    for i in self.test_views:
        cam = self.ds.cameras[i]
        img = self.render(params, [cam], self.model.tau(cam.time)).image[0].clamp(0, 1)
        gt = self.ds.image(i).to(img.device)
        ps.append(float(psnr(img, gt)))
        ss.append(float(ssim(img, gt)))
    return {"step": self.step, "psnr": sum(ps) / max(len(ps), 1), "ssim": sum(ss) / max(len(ss), 1),
            "n_splats": len(self.model)} if ps else {"step": self.step}


@torch.no_grad()
def old_export_fit_report(scene, exported, *, dataset=None, indices=None, cameras=None, background=None,
                          backend="auto"):
    if cameras is None:
        indices = dataset.test_indices if indices is None else list(indices)
        if not indices:
            indices = dataset.train_indices
        cameras = [dataset.cameras[i] for i in indices]
    if background is None:
        background = dataset.background if dataset is not None else (0.0, 0.0, 0.0)
    model = ScaffoldModel.from_anchor_scene(scene.detach())
    vs_anchor, anchor_gt, export_gt = [], [], []
    for j, cam in enumerate(cameras):
        a = render_anchor_scene(scene, cam, background, backend, model=model).image.clamp(0, 1)
        b = render(exported, cam, background=background, backend=backend).image.clamp(0, 1).to(a.device)
        vs_anchor.append(float(psnr(b, a)))
        if dataset is not None:
            gt = dataset.image(indices[j]).to(a.device)
            anchor_gt.append(float(psnr(a, gt)))
            export_gt.append(float(psnr(b, gt)))
    out = {"n_views": len(cameras), "n_gaussians": len(exported),
           "psnr_export_vs_anchor": float(np.mean(vs_anchor))}
    if dataset is not None:
        out.update(psnr_anchor_vs_gt=float(np.mean(anchor_gt)), psnr_export_vs_gt=float(np.mean(export_gt)),
                   fit_loss_db=float(np.mean(anchor_gt) - np.mean(export_gt)))
    return out


# ---- the fixture ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ds():
    return load_dataset("builtin:32")


@pytest.fixture(scope="module")
def scenes(ds):
    torch.manual_seed(0)
    plain = GaussianModel.from_points(ds.points, sh_degree=1, init_opacity=0.5).export()
    m = ScaffoldModel.from_points(ds.points, voxel_size=0.2, feat_dim=8, n_offsets=4)
    with torch.no_grad():
        m.features.normal_(0, 1)
        m.offsets.normal_(0, 0.2)
    return plain, m.to_anchor_scene()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    net = LPIPSAlex()
    for p in net.parameters():
        p.data = p.data.abs() if p.dim() == 4 and p.shape[2] == 1 else p.data
    path = tmp_path_factory.mktemp("lpips") / "alex.pth"
    torch.save(net.state_dict(), path)
    return str(path)


def test_dataset_scores_equal_score_on_dataset_evaluate_views_and_the_run_lpips_loop(ds, scenes, weights,
                                                                                       monkeypatch):
    plain, anchors = scenes
    test = ds.test_indices
    for scene in (plain, anchors):
        old = old_score_on_dataset(scene, ds, test, keep_images=True)
        new = score_dataset(scene, ds, test, keep_images=True, lpips=True, lpips_weights=weights)
        assert (new.mean()["psnr"], new.mean()["ssim"]) == (old["psnr"], old["ssim"])
        assert all(torch.equal(a, b) for a, b in zip(new.kept_images(), old["images"]))
        monkeypatch.setenv("GSCODEC_LPIPS_WEIGHTS", weights)
        lp, note = old_run_lpips(ds, test, old["images"])
        monkeypatch.delenv("GSCODEC_LPIPS_WEIGHTS")
        assert new.mean()["lpips"] == lp and lp is not None and note is None  # anchors get LPIPS too
    old = old_evaluate_views(plain, ds, weights)
    assert score_dataset(plain, ds, lpips=True, lpips_weights=weights).mean() == old
    old = old_evaluate_views(plain, ds, None)  # no weights: the same note, no LPIPS
    assert score_dataset(plain, ds, lpips=True).mean() == old and old["lpips_note"]


def test_reference_render_scores_equal_compare_scenes(ds, scenes, weights):
    plain, anchors = scenes
    cams = ds.test_cameras()
    for ref, test in ((plain, anchors), (anchors, plain)):
        old = old_compare_scenes(ref, test, cams, lpips_weights=weights)
        new = score_views(test, cams, ref, lpips=True, lpips_weights=weights)
        assert new.psnr == old["per_view_psnr"]
        assert {k: new.mean()[k] for k in ("psnr", "ssim", "lpips")} == {k: old[k] for k in ("psnr", "ssim", "lpips")}


def test_per_frame_scores_equal_the_dynamic_runs(weights):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
    from dynamic_toy import toy_dataset, toy_scene

    from gscodec.scene.spacetime import SpacetimeSequence

    dds = toy_dataset(frames=3, views=3, size=32)
    seq = SpacetimeSequence([toy_scene(frames=3, seed=1)], dds.fps, dds.n_frames)
    for w in (weights, None):
        old = old_per_frame_scores(seq, dds, dds.test_indices, lpips_weights=w)
        assert score_dataset(seq, dds, lpips=True, lpips_weights=w).per_frame() == old


def test_the_scaffold_trainers_evaluation_is_its_old_loop(ds):
    from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer

    torch.manual_seed(0)
    cfg = ScaffoldConfig.scaled(40, voxel_size=0.2, feat_dim=8, n_offsets=4)
    t = ScaffoldTrainer(ds, cfg)
    with torch.no_grad():
        t.model.features.normal_(0, 1)
        t.model.offsets.normal_(0, 0.2)
    for step in (0, cfg.plain_until + 1):  # plain, then rounded attributes
        t.step = step
        for quantized in (True, False):
            old = old_scaffold_evaluate(t, [0, 5, 9], quantized)
            assert t.evaluate([0, 5, 9], quantized) == old
    assert old["mode"] == "plain" and t.evaluate([0, 5])["mode"] != "plain" and t.evaluate([]) == {}


def test_the_spacetime_trainers_evaluation_is_its_old_loop():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
    from dynamic_toy import toy_dataset

    from gscodec.train.spacetime import SpacetimeTrainConfig, SpacetimeTrainer

    dds = toy_dataset(frames=2, views=3, size=24)
    t = SpacetimeTrainer(dds, SpacetimeTrainConfig(iterations=10, simulation={"start": 5}), (0, 2))
    t.sim.begin(t.model.params())  # the simulation on: quantized attributes differ from the raw ones
    sim, raw = t.evaluate(simulated=True), t.evaluate(simulated=False)
    assert sim == old_spacetime_evaluate(t, True) and raw == old_spacetime_evaluate(t, False)
    assert sim["psnr"] != raw["psnr"]
    t.test_views = []
    assert t.evaluate() == {"step": 0}


def test_export_fit_report_is_its_old_loop(ds, scenes):
    _, anchors = scenes
    exported = anchors_to_gaussians(anchors)
    for kw in ({"dataset": ds}, {"dataset": ds, "indices": [1, 4]},
               {"cameras": ds.test_cameras(), "background": (1.0, 1.0, 1.0)}):
        assert export_fit_report(anchors, exported, **kw) == old_export_fit_report(anchors, exported, **kw)

"""Scaffold-GS / HAC anchors -> a standard 3DGS scene (INRIA PLY layout) that any viewer opens.

Why: an anchor scene only renders through its MLPs, so HAC's output cannot be viewed with
ordinary 3DGS tools. We spawn every unmasked neural Gaussian once and make it view-independent
except for colour, which becomes SH of the chosen degree:

- viewpoints: the given cameras' centres (best: the training cameras, the directions the MLPs
  were trained on), or, without cameras, `n_dirs` directions spread evenly on the sphere
  (Fibonacci lattice; the anchor is seen from infinitely far along each);
- position: anchor + offset * exp(scaling[:3]) (view-independent in Scaffold-GS already);
- opacity: the mean over the viewpoints of max(tanh opacity, 0): the least-squares constant
  fit of the view-dependent opacity, a viewpoint where the Gaussian is absent counting 0;
- covariance: the opacity-weighted mean of the per-view covariances R S^2 R^T, split back into
  scales and a rotation by an eigendecomposition (averaging covariances, unlike quaternions,
  has no sign ambiguity);
- colour: per Gaussian a weighted least-squares fit of the SH coefficients to the MLP colours
  at the viewpoints (SH evaluated at the direction from the viewpoint to the Gaussian's centre,
  as the renderer does; weights = opacity in that view + a small floor; a small ridge on the
  bands above 0 keeps under-determined fits tame);
- Gaussians whose exported opacity is below `min_opacity` are dropped.
`export_fit_report` measures what this costs in PSNR on dataset views. Pass the training
cameras: directions the MLPs never saw (e.g. from below the ground) give poor fits (on the
built-in scene: 1.25 dB loss with the training cameras, 4.3 dB with sphere directions).
`distill_export` optionally refines the result against anchor renders (0.34 dB after 300 steps).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from gscodec.errors import InputError
from gscodec.metrics import ssim
from gscodec.models.scaffold import ScaffoldModel
from gscodec.scoring import score_views
from gscodec.render.project import quat_to_rotmat
from gscodec.render.sh import eval_sh
from gscodec.scene.anchors import AnchorScene
from gscodec.scene.gaussian import GaussianScene


def fibonacci_directions(n: int) -> torch.Tensor:
    """n unit vectors spread evenly over the sphere [n,3]."""
    if n < 1:
        raise InputError(f"n_dirs must be >= 1, got {n}")
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    r = torch.sqrt((1 - z * z).clamp_min(0))
    phi = math.pi * (3 - math.sqrt(5)) * i
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], -1).float()


def sh_basis(degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """The real SH basis of gscodec's renderer at dirs [...,3] -> [..., (degree+1)^2]."""
    k = (degree + 1) ** 2
    eye = torch.eye(k, dtype=dirs.dtype, device=dirs.device)
    return eval_sh(degree, eye.expand(*dirs.shape[:-1], k, k), dirs)


def rotmat_to_quat(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [...,3,3] -> unit quaternions [...,4] (w,x,y,z), w >= 0 (Shepperd)."""
    m = R
    t = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = torch.stack([
        torch.stack([1 + t, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                     m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                     1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                     1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)], -2)   # [...,4,4]
    diag = torch.stack([t, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
    best = diag.argmax(-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
    q = torch.nn.functional.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


class _ViewPoint:
    """A camera reduced to what the fit needs: its centre."""

    def __init__(self, center):
        self.center = torch.tensor(center, dtype=torch.float32)


@torch.no_grad()
def anchors_to_gaussians(scene: AnchorScene, sh_degree: int = 3, *, cameras=None, n_dirs: int = 64,
                         min_opacity: float = 1 / 255, ridge: float = 1e-3, weight_floor: float = 1e-3,
                         view_distance: float | None = None, opacity_rule: str = "mean",
                         max_rows: int = 1 << 17) -> GaussianScene:
    """The neural Gaussians of `scene` as a plain 3DGS scene with SH colour (module docstring).

    cameras: viewpoints to fit over (their centres); None: n_dirs sphere directions.
    view_distance: the camera distance fed to the MLPs when they take one and no cameras are
    given (default: three times the anchors' bounding radius). max_rows bounds the memory
    (anchors * viewpoints evaluated at once).
    """
    if not 0 <= sh_degree <= 3:
        raise InputError(f"sh_degree must be 0..3, got {sh_degree}")
    if cameras is None and scene.decoder_config.get("view_positions"):
        # the training cameras' centres travel in the stream: fit where the MLPs were trained
        cameras = [_ViewPoint(tuple(p)) for p in scene.decoder_config["view_positions"]]
    model = ScaffoldModel.from_anchor_scene(scene.detach().to("cpu"))
    model.eval()
    anc_all = model.anchors
    n, k = len(model), model.n_offsets
    if cameras is not None:
        cams = list(cameras)
        if not cams:
            raise InputError("anchors_to_gaussians: the camera list is empty")
        points = torch.stack([torch.as_tensor(c.center, dtype=torch.float32) for c in cams])  # [D,3]
        dirs_inf = None
    else:
        points = None
        dirs_inf = fibonacci_directions(n_dirs)
        if view_distance is None:
            lo, hi = (anc_all.min(0).values, anc_all.max(0).values) if n else (torch.zeros(3), torch.ones(3))
            view_distance = 1.5 * float((hi - lo).norm()) or 1.0
    D = len(points) if points is not None else len(dirs_inf)
    K = (sh_degree + 1) ** 2
    band_ridge = torch.ones(K)
    band_ridge[0] = 0.0
    mask = scene.offset_mask.cpu().bool()
    outs = {name: [] for name in ("means", "quats", "log_scales", "opacity_logits", "sh")}
    chunk = max(1, max_rows // max(D * k, 1))
    for s in range(0, n, chunk):
        sl = slice(s, min(s + chunk, n))
        anc, B = anc_all[sl], min(s + chunk, n) - s
        feat, scal, offs, msk = model.features[sl], model.scaling[sl], model.offsets[sl], mask[sl]
        means = anc[:, None] + offs * scal[:, None, :3].exp()                       # [B,k,3]
        if points is not None:
            view = anc[:, None, :] - points[None]                                    # [B,D,3]
            dist = view.norm(dim=-1).clamp_min(1e-12)
            vdir = view / dist[..., None]
            sh_dirs = means[:, :, None, :] - points[None, None]                      # [B,k,D,3]
        else:
            vdir = dirs_inf[None].expand(B, D, 3)
            dist = torch.full((B, D), float(view_distance))
            sh_dirs = dirs_inf[None, None].expand(B, k, D, 3)
        opac, sfac, quats, color = model.decode(feat[:, None].expand(B, D, feat.shape[1]), vdir, dist,
                                                anchors=anc[:, None].expand(B, D, 3))
        w = opac.clamp_min(0) * msk[:, None, :]                                        # [B,D,k]
        if opacity_rule == "mean":
            opacity = w.mean(1)                                                        # [B,k]
        elif opacity_rule == "visible_mean":
            opacity = w.sum(1) / (w > 0).sum(1).clamp_min(1)
        elif opacity_rule == "max":
            opacity = w.max(1).values
        else:
            raise InputError(f"opacity_rule must be 'mean', 'visible_mean' or 'max', got {opacity_rule!r}")
        # covariance: opacity-weighted mean over views, then eigen-split
        S2 = (scal[:, None, None, 3:].exp() * sfac) ** 2                               # [B,D,k,3]
        R = quat_to_rotmat(quats)                                                      # [B,D,k,3,3]
        cov = (R * S2[..., None, :]) @ R.transpose(-1, -2)
        wc = (w + 1e-6)[..., None, None]
        cov = (cov * wc).sum(1) / wc.sum(1)                                            # [B,k,3,3]
        cov = 0.5 * (cov + cov.transpose(-1, -2))
        evals, evecs = torch.linalg.eigh(cov.double())
        flip = torch.linalg.det(evecs) < 0
        evecs[..., :, 2] = torch.where(flip[..., None], -evecs[..., :, 2], evecs[..., :, 2])
        scales = evals.clamp_min(1e-30).sqrt().float()
        q = rotmat_to_quat(evecs.float())
        # colour: weighted ridge least squares per Gaussian
        basis = sh_basis(sh_degree, sh_dirs)                                           # [B,k,D,K]
        om = (w + weight_floor).permute(0, 2, 1)                                       # [B,k,D]
        y = (color - 0.5).permute(0, 2, 1, 3)                                          # [B,k,D,3]
        bw = basis * om[..., None]
        A = bw.transpose(-1, -2) @ basis                                               # [B,k,K,K]
        A = A + torch.diag_embed(band_ridge * ridge * om.sum(-1, keepdim=True))
        rhs = bw.transpose(-1, -2) @ y                                                 # [B,k,K,3]
        coef = torch.linalg.solve(A.double(), rhs.double()).float()
        keep = msk & (opacity > 0) & (opacity >= min_opacity)
        outs["means"].append(means[keep])
        outs["quats"].append(q[keep])
        outs["log_scales"].append(scales[keep].log())
        op = opacity[keep].clamp(1e-6, 1 - 1e-6)
        outs["opacity_logits"].append(torch.log(op / (1 - op)))
        outs["sh"].append(coef[keep])
    if not outs["means"]:
        return GaussianScene.empty(sh_degree)
    sh = torch.cat(outs["sh"])
    g = GaussianScene(means=torch.cat(outs["means"]), quats=torch.cat(outs["quats"]),
                      log_scales=torch.cat(outs["log_scales"]), opacity_logits=torch.cat(outs["opacity_logits"]),
                      sh_dc=sh[:, 0].contiguous(), sh_rest=sh[:, 1:].contiguous())
    return g.check()


@torch.no_grad()
def export_fit_report(scene: AnchorScene, exported: GaussianScene, *, dataset=None,
                      indices: list[int] | None = None, cameras=None, background=None,
                      backend: str = "auto") -> dict:
    """What the export cost: mean PSNR of the exported scene against the anchor render on the
    views, and, with a dataset, both against the ground truth (fit_loss_db = anchor PSNR -
    exported PSNR vs ground truth). Views: `cameras`, else the dataset's `indices` (default:
    its test views). Scored by gscodec.scoring."""
    if cameras is None:
        if dataset is None:
            raise InputError("export_fit_report needs cameras or a dataset")
        indices = dataset.test_indices if indices is None else list(indices)
        if not indices:
            indices = dataset.train_indices
        cameras = [dataset.cameras[i] for i in indices]
    elif dataset is not None and indices is None:
        raise InputError("export_fit_report: with explicit cameras and a dataset, give the dataset indices too")
    if background is None:
        background = dataset.background if dataset is not None else (0.0, 0.0, 0.0)
    anchor = ScaffoldModel.from_anchor_scene(scene.detach()).drawn()
    kw = {"background": background, "backend": backend}
    if dataset is not None:
        gts = lambda k: dataset.image(indices[k])  # noqa: E731
        anchor_gt = score_views(anchor, cameras, gts, keep_images=True, **kw)
        vs_anchor = score_views(exported, cameras, anchor_gt.kept_images(), **kw).psnr
        anchor_gt, export_gt = anchor_gt.psnr, score_views(exported, cameras, gts, **kw).psnr
    else:
        vs_anchor = score_views(exported, cameras, anchor, **kw).psnr  # the anchor renders are the targets
    out = {"n_views": len(cameras), "n_gaussians": len(exported),
           "psnr_export_vs_anchor": float(np.mean(vs_anchor))}
    if dataset is not None:
        out.update(psnr_anchor_vs_gt=float(np.mean(anchor_gt)), psnr_export_vs_gt=float(np.mean(export_gt)),
                   fit_loss_db=float(np.mean(anchor_gt) - np.mean(export_gt)))
    return out


def distill_export(exported: GaussianScene, scene: AnchorScene, cameras, *, steps: int = 300,
                   background=(0.0, 0.0, 0.0), backend: str = "auto", lambda_dssim: float = 0.2,
                   lr_opacity: float = 0.05, lr_sh_dc: float = 2.5e-3, lr_sh_rest: float = 2.5e-3 / 20,
                   lr_log_scales: float = 5e-3, lr_quats: float = 1e-3, seed: int = 0,
                   progress: bool = False) -> GaussianScene:
    """Optional second stage of the export: a few steps of gradient descent on the exported
    Gaussians' opacity, SH, scales and rotations (centres fixed) so that their renders match the
    anchor renders at `cameras` (use training cameras; the anchors are the teacher, no ground
    truth needed). Why: the per-Gaussian rules of `anchors_to_gaussians` cannot express that a
    Scaffold-GS Gaussian exists only from some directions; a short distillation lets the
    exported splats share that work."""
    import random

    from gscodec.models.gaussians import GaussianModel
    from gscodec.render import render
    from gscodec.utils.progress import progress_iter

    cams = list(cameras)
    if not cams:
        raise InputError("distill_export needs at least one camera")
    if steps <= 0 or len(exported) == 0:
        return exported
    teacher = ScaffoldModel.from_anchor_scene(scene.detach())
    with torch.no_grad():
        targets = [teacher.render(c, background, backend).image.clamp(0, 1) for c in cams]
    student = GaussianModel(exported.detach())
    student.means.requires_grad_(False)
    lrs = {"opacity_logits": lr_opacity, "sh_dc": lr_sh_dc, "sh_rest": lr_sh_rest,
           "log_scales": lr_log_scales, "quats": lr_quats}
    opt = torch.optim.Adam([{"params": [getattr(student, n)], "lr": lr} for n, lr in lrs.items()
                            if getattr(student, n).numel()], eps=1e-15)
    order, rng = [], random.Random(seed)
    for _ in progress_iter(range(steps), "distilling export", enabled=progress):
        if not order:
            order = list(range(len(cams)))
            rng.shuffle(order)
        i = order.pop()
        img = render(student.scene(), cams[i], background=background, backend=backend).image
        gt = targets[i].to(img.device)
        loss = (1 - lambda_dssim) * (img - gt).abs().mean() + lambda_dssim * (1 - ssim(img, gt))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    out = student.export()
    out.quats = torch.nn.functional.normalize(out.quats, dim=-1)
    return out.check()

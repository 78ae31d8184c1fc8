"""The generated scene of the peer benchmark (bench/ptc_vs_peers.py): trained-like statistics
at any size, seeded, so a 500k-splat SH3 case needs no download."""
from __future__ import annotations

import math

import numpy as np

# the benchmark's large scene: SH rest with a strong per-splat part (sh_noise 0.6), as in raw
# training outputs, where a small codebook cannot follow every splat's view dependence
REALISTIC_SH_NOISE = 0.6


def synthetic_scene(n: int, seed: int = 0, sh_degree: int = 3, extent: float = 10.0, sh_noise: float = 0.25):
    """A seeded scene that looks like a trained 3DGS output statistically, not like uniform noise.

    * positions: splats lie on surfaces - a ground plane (30 %), ~n/25k spheres and boxes of
      varied size (50 %), a far background shell (10 %, large splats, like a sky) - plus 10 %
      floaters spread through the volume; small normal jitter; the order is shuffled (training
      outputs are not spatially sorted);
    * scales: log-normal, flat along the surface normal (the normal axis 4-20x thinner),
      larger on the background shell; floaters are small and isotropic;
    * rotations: the surface frame (z to the normal) with a random spin about the normal;
    * opacity: bimodal logits - ~60 % near-opaque (N(4, 1.2)), ~40 % faint (N(-2.5, 1.2));
      floaters mostly faint;
    * colour: per-object base colour times a smooth positional texture, plus noise, as SH DC;
    * SH rest: small (band l std ~0.05/sqrt(l), like a real SH3 scene), a scaled copy of one of 256 per-scene lobe
      prototypes, tinted mostly grey plus the splat's own hue (channels strongly correlated), plus
      independent noise of `sh_noise` times the band's std (0.25: codebook-friendly; the benchmark
      uses REALISTIC_SH_NOISE); about a third of the splats nearly view-independent.
    """
    import torch

    from gscodec.scene.gaussian import GaussianScene, sh_coeffs_for_degree

    rng = np.random.default_rng(seed)
    C0 = 0.28209479177387814
    n_ground, n_obj, n_bg = int(0.3 * n), int(0.5 * n), int(0.1 * n)
    n_float = n - n_ground - n_obj - n_bg
    pos, nrm, obj_id = [], [], []

    # ground plane z = 0 over [-extent, extent]^2, denser near the centre
    g = rng.normal(0, extent / 2.5, size=(n_ground, 2)).clip(-extent, extent)
    pos.append(np.c_[g, np.zeros(n_ground)])
    nrm.append(np.tile([0.0, 0.0, 1.0], (n_ground, 1)))
    obj_id.append(np.zeros(n_ground, int))

    # objects: spheres and axis-aligned boxes standing on the ground
    n_objects = max(6, n // 25000)
    centres = np.c_[rng.uniform(-0.7 * extent, 0.7 * extent, (n_objects, 2)), np.zeros(n_objects)]
    sizes = np.exp(rng.normal(np.log(0.08 * extent), 0.5, n_objects))
    centres[:, 2] = sizes
    weights = sizes ** 2 / (sizes ** 2).sum()
    which = rng.choice(n_objects, size=n_obj, p=weights)
    is_box = rng.random(n_objects) < 0.4
    d = rng.normal(size=(n_obj, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    box = is_box[which]
    # box surface: push the largest coordinate to +-1 (normal is that axis)
    ax = np.abs(d).argmax(1)
    dbox = d / np.abs(d).max(1, keepdims=True)
    nbox = np.zeros_like(d)
    nbox[np.arange(n_obj), ax] = np.sign(d[np.arange(n_obj), ax])
    p = np.where(box[:, None], dbox, d) * sizes[which, None] + centres[which]
    pos.append(p)
    nrm.append(np.where(box[:, None], nbox, d))
    obj_id.append(which + 1)

    # background shell (sky / far walls)
    d = rng.normal(size=(n_bg, 3))
    d[:, 2] = np.abs(d[:, 2]) * 0.6
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pos.append(d * 3.0 * extent)
    nrm.append(-d)
    obj_id.append(np.full(n_bg, n_objects + 1))

    # floaters
    pos.append(rng.uniform(-extent, extent, (n_float, 3)) * [1, 1, 0.4] + [0, 0, 0.4 * extent])
    f = rng.normal(size=(n_float, 3))
    nrm.append(f / np.linalg.norm(f, axis=1, keepdims=True))
    obj_id.append(np.full(n_float, n_objects + 2))

    pos, nrm, obj_id = np.concatenate(pos), np.concatenate(nrm), np.concatenate(obj_id)
    kind = np.concatenate([np.zeros(n_ground), np.ones(n_obj), np.full(n_bg, 2), np.full(n_float, 3)]).astype(int)
    pos = pos + nrm * rng.normal(0, 0.002 * extent, (n, 1))

    # scales (log): tangential log-normal, normal axis thinner; background larger, floaters isotropic
    base = np.log(0.004 * extent) + rng.normal(0, 0.6, n)
    base[kind == 2] += np.log(12.0)
    tang = base[:, None] + rng.normal(0, 0.35, (n, 2))
    thin = base - np.log(rng.uniform(4, 20, n))
    log_scales = np.c_[tang, thin]
    fl = kind == 3
    log_scales[fl] = (base[fl] - 0.5)[:, None] + rng.normal(0, 0.2, (fl.sum(), 3))

    # rotation: frame with z -> normal, random spin about the normal (w, x, y, z)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(np.broadcast_to(z, nrm.shape), nrm)
    s = np.linalg.norm(axis, axis=1)
    c = nrm @ z
    ang = np.arctan2(s, c)
    axis = np.where(s[:, None] > 1e-9, axis / np.maximum(s, 1e-12)[:, None], [1.0, 0.0, 0.0])
    q_align = np.c_[np.cos(ang / 2), axis * np.sin(ang / 2)[:, None]]
    spin = rng.uniform(0, 2 * np.pi, n)
    q_spin = np.c_[np.cos(spin / 2), np.zeros(n), np.zeros(n), np.sin(spin / 2)]

    def qmul(a, b):
        w1, x1, y1, z1 = a.T
        w2, x2, y2, z2 = b.T
        return np.c_[w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2]

    quats = qmul(q_align, q_spin)
    quats *= np.exp(rng.normal(0, 0.3, (n, 1)))  # trained quaternions are not unit-norm
    quats *= np.where(rng.random((n, 1)) < 0.5, 1.0, -1.0)

    # opacity: bimodal logits
    opaque = rng.random(n) < np.where(kind == 3, 0.1, 0.62)
    opacity = np.where(opaque, rng.normal(4.0, 1.2, n), rng.normal(-2.5, 1.2, n))

    # colour: per-object base colour, smooth positional texture, noise -> SH DC
    obj_rgb = rng.uniform(0.1, 0.9, (n_objects + 3, 3))
    tex = 0.5 + 0.5 * np.sin(pos @ rng.normal(0, 3.0 / extent, (3, 3)) + rng.uniform(0, 6, 3))
    rgb = obj_rgb[obj_id] * (0.6 + 0.4 * tex) + rng.normal(0, 0.05, (n, 3))
    sh_dc = (rgb - 0.5) / C0

    k = sh_coeffs_for_degree(sh_degree) - 1
    band = np.array([int(math.isqrt(i + 1)) for i in range(k)])  # 1, 1, 1, 2, ... per coefficient
    std = 0.05 / np.sqrt(np.maximum(band, 1))
    # view-dependent lobes repeat across a scene (materials, lighting): 256 prototype lobes per
    # scene, each splat one of them scaled, tinted mostly grey (channels correlate strongly in
    # trained scenes) with a share of its own DC hue; small independent noise on top
    protos = rng.normal(0, 1, (256, k)) * std
    lobe = protos[rng.integers(0, 256, n)] * np.exp(rng.normal(0, 0.4, (n, 1)))
    hue = np.clip(rgb, 0.05, 1.0) / np.clip(rgb, 0.05, 1.0).mean(1, keepdims=True)
    tint = 0.7 + 0.3 * hue
    noise = rng.normal(0, 1, (n, k, 3)) * std[None, :, None] * sh_noise
    view_dep = rng.random(n) > 0.33
    sh_rest = (lobe[:, :, None] * tint[:, None, :] + noise) * np.where(view_dep, 1.0, 0.15)[:, None, None]

    perm = rng.permutation(n)
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a[perm], dtype=np.float32))  # noqa: E731
    return GaussianScene(means=f32(pos), quats=f32(quats), log_scales=f32(log_scales),
                         opacity_logits=f32(opacity), sh_dc=f32(sh_dc), sh_rest=f32(sh_rest))



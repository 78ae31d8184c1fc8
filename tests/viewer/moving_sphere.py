"""A tiny dynamic stream for the player's tests: a static ground of flat green splats and a
red ball that moves along x, two GOFs of Spacetime Gaussians coded by dynamic-gscodec (no
training; about a second to encode)."""
from __future__ import annotations

import math

import torch

from gscodec.scene.spacetime import SpacetimeScene, SpacetimeSequence, init_decoder

FPS = 10.0
N_FRAMES = 6
GOF = 3
BALL_X = (-0.5, 0.5)  # the ball's centre x at the first and the last frame


def ball_x(frame: int) -> float:
    return BALL_X[0] + (BALL_X[1] - BALL_X[0]) * frame / (N_FRAMES - 1)


def _gof(f0: int, f1: int, ground: int = 24, ball: int = 150, seed: int = 0) -> SpacetimeScene:
    g = torch.Generator().manual_seed(seed)
    u = torch.linspace(-1, 1, ground)
    gx, gy = torch.meshgrid(u, u, indexing="ij")
    spacing = float(u[1] - u[0])
    ground_xyz = torch.stack([gx.flatten(), gy.flatten(), torch.zeros(ground * ground)], 1)
    dirs = torch.nn.functional.normalize(torch.randn(ball, 3, generator=g), dim=1)
    radius = 0.18
    ball_xyz = dirs * radius + torch.tensor([0.0, 0.0, radius + 0.05])
    xyz = torch.cat([ground_xyz, ball_xyz])
    n, n_ground = len(xyz), ground * ground
    t0, t1 = f0 / FPS, (f1 - 1) / FPS
    # the ball moves linearly in seconds; in the GOF's local time tau in [0, 1] that is a
    # velocity of (x at f1-1 - x at f0) per unit tau, with tau measured from t_center
    t_center = torch.full((n,), 0.5)
    motion = torch.zeros(n, 3, 3)
    x0, x1 = ball_x(f0), ball_x(f1 - 1)
    motion[n_ground:, 0, 0] = x1 - x0
    xyz[n_ground:, 0] += 0.5 * (x0 + x1)
    log_scales = torch.empty(n, 3)
    log_scales[:n_ground] = torch.tensor([math.log(spacing * 0.7)] * 2 + [math.log(spacing * 0.05)])
    log_scales[n_ground:] = math.log(radius * 0.35)
    features = torch.zeros(n, 9)
    features[:n_ground, :3] = torch.tensor([0.15, 0.6, 0.2])
    features[n_ground:, :3] = torch.tensor([0.9, 0.1, 0.1])
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1
    return SpacetimeScene(
        means=xyz, motion=motion, quats=quats, omega=torch.zeros(n, 4), log_scales=log_scales,
        opacity_logits=torch.full((n,), 4.0), t_center=t_center, t_log_scale=torch.full((n,), 2.0),
        features=features, decoder=init_decoder(seed), time_range=(t0, t1), frame_range=(f0, f1))


def sequence() -> SpacetimeSequence:
    return SpacetimeSequence([_gof(f, min(f + GOF, N_FRAMES)) for f in range(0, N_FRAMES, GOF)],
                             FPS, N_FRAMES).check()


def encode(quality: int = 4) -> bytes:
    from gscodec.codecs.dynamic_gscodec import DynamicGSCodec

    return DynamicGSCodec(quality=quality).encode(sequence())

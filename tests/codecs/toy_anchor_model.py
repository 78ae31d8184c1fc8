"""A second anchor entropy model written on the interface alone: a factorized prior (one
learned Gaussian per channel, fixed steps, no hash grid), and its codec, configured in three
lines. Imported by test_anchor_framework.py and by the fresh process that decodes."""
import numpy as np
import torch
from torch import nn

from gscodec.codecs.anchor import AnchorCodec
from gscodec.codecs.registry import register_codec
from gscodec.coding.container import Section
from gscodec.coding.stream import need, raw_array
from gscodec.entropy.anchor_model import (
    GROUPS,
    AnchorEntropyModel,
    AnchorRate,
    CodingUnit,
    UnitParams,
)
from gscodec.entropy.gaussian import bin_likelihood
from gscodec.simulate.quantize import simulate_quantization

Q = {"feature": 1.0, "scaling": 0.05, "offsets": 0.1}
FAMILY = {"feature": "gaussian", "scaling": "gaussian", "offsets": "laplace"}  # offsets: heavier tails


class ToyFactorized(AnchorEntropyModel):
    def __init__(self, feat_dim: int, n_offsets: int):
        super().__init__()
        self.feat_dim, self.n_offsets = feat_dim, n_offsets
        self.mean = nn.ParameterDict({g: nn.Parameter(torch.zeros(d)) for g, d in self.dims.items()})
        self.log_scale = nn.ParameterDict({g: nn.Parameter(torch.zeros(d)) for g, d in self.dims.items()})
        self.phases_seen = []

    def on_phase(self, phase):
        self.phases_seen.append(phase.name)

    @classmethod
    def for_scene(cls, n_points, feat_dim, n_offsets, options=None):
        return cls(feat_dim, n_offsets)

    def forward(self, anchors, features, scaling, offsets, offset_mask, mode="context", sample=None):
        ys = {"feature": features, "scaling": scaling, "offsets": offsets.reshape(len(features), -1)}
        if mode == "plain":
            return AnchorRate(features, scaling, offsets)
        how = "noise" if self.training else "round"
        out = {g: simulate_quantization(y, Q[g], how) for g, y in ys.items()}
        bits = {g: -torch.log2(bin_likelihood(FAMILY[g], out[g], self.mean[g], self.log_scale[g].exp(), Q[g])).sum()
                for g in GROUPS}
        rate = sum(bits.values()) / (len(features) * sum(self.dims.values())) if mode == "context" else None
        return AnchorRate(out["feature"], out["scaling"], out["offsets"].reshape(offsets.shape), bits, rate)

    def tensors(self):
        return [d[g] for d in (self.mean, self.log_scale) for g in GROUPS]

    def coding_units(self):
        return [CodingUnit(g, 0, 0, d) for g, d in self.dims.items()]

    def coding_context(self, anchors):
        return len(anchors)

    def unit_params(self, unit, context, decoded):
        p = {k: getattr(self, k)[unit.group].detach().double().numpy()[None] for k in ("mean", "log_scale")}
        return UnitParams(np.repeat(p["mean"], context, 0), np.repeat(np.exp(p["log_scale"]), context, 0),
                          np.full((context, 1), Q[unit.group]), FAMILY[unit.group])

    def stream_state(self, dtype):
        w = torch.cat([t.detach().float() for t in self.tensors()])
        return {"toy": [self.feat_dim, self.n_offsets]}, [Section("toy_prior", "raw-f32", w.numpy().astype("<f4").tobytes())]

    @classmethod
    def from_stream(cls, header, sections):
        m = cls(*header["toy"])
        w = torch.from_numpy(raw_array(need(sections, "toy_prior"), "f4", (2 * sum(m.dims.values()),), "toy_prior").copy())
        with torch.no_grad():
            for t, v in zip(m.tensors(), torch.split(w, [*m.dims.values()] * 2)):
                t.copy_(v)
        return m.eval()


@register_codec
class ToyCodec(AnchorCodec):
    name, version, model_class = "toy-factorized", 1, ToyFactorized

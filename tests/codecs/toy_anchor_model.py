"""A second anchor entropy model written on the interface alone: a factorized prior (per
channel one learned Gaussian, Laplace or two-Gaussian mixture, fixed steps, no hash grid),
and its codec, configured in three lines. Imported by test_anchor_framework.py and by the fresh process that decodes."""
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
FAMILY = {"feature": "gaussian", "scaling": "gaussian-mixture", "offsets": "laplace"}  # offsets: heavier tails
M = {g: 2 if f == "gaussian-mixture" else 1 for g, f in FAMILY.items()}  # components per channel


class ToyFactorized(AnchorEntropyModel):
    def __init__(self, feat_dim: int, n_offsets: int):
        super().__init__()
        self.feat_dim, self.n_offsets = feat_dim, n_offsets
        spread = {g: torch.linspace(-1, 1, M[g]).expand(d, -1) for g, d in self.dims.items()}
        self.mean = nn.ParameterDict({g: nn.Parameter(v.clone()) for g, v in spread.items()})
        self.log_scale = nn.ParameterDict({g: nn.Parameter(torch.zeros_like(v)) for g, v in spread.items()})
        self.logit = nn.ParameterDict({g: nn.Parameter(torch.zeros_like(v)) for g, v in spread.items()})
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
        bits = {g: -torch.log2(bin_likelihood(FAMILY[g], out[g], *self.params(g), Q[g], self.weights(g))).sum()
                for g in GROUPS}
        rate = sum(bits.values()) / (len(features) * sum(self.dims.values())) if mode == "context" else None
        return AnchorRate(out["feature"], out["scaling"], out["offsets"].reshape(offsets.shape), bits, rate)

    def params(self, g):
        """mean, scale: [d] per channel, or [d, 2] for the mixture (with weights(g))."""
        return (self.mean[g], self.log_scale[g].exp()) if M[g] > 1 else (self.mean[g][:, 0], self.log_scale[g][:, 0].exp())

    def weights(self, g):
        return self.logit[g].softmax(-1) if M[g] > 1 else None

    def tensors(self):
        return [d[g] for d in (self.mean, self.log_scale, self.logit) for g in GROUPS]

    def coding_units(self, context=None):
        return [CodingUnit(g, 0, 0, d) for g, d in self.dims.items()]

    def coding_context(self, anchors):
        return len(anchors)

    def unit_params(self, unit, context, decoded):
        g = unit.group
        with torch.no_grad():
            mean, scale, w = (None if t is None else np.repeat(t.double().numpy()[None], context, 0)
                              for t in (*self.params(g), self.weights(g)))
        return UnitParams(mean, scale, np.full((context, 1), Q[g]), FAMILY[g], w)

    def stream_state(self, dtype):
        w = torch.cat([t.detach().float().reshape(-1) for t in self.tensors()])
        return {"toy": [self.feat_dim, self.n_offsets]}, [Section("toy_prior", "raw-f32", w.numpy().astype("<f4").tobytes())]

    @classmethod
    def from_stream(cls, header, sections):
        m = cls(*header["toy"])
        sizes = [t.numel() for t in m.tensors()]
        w = torch.from_numpy(raw_array(need(sections, "toy_prior"), "f4", (sum(sizes),), "toy_prior").copy())
        with torch.no_grad():
            for t, v in zip(m.tensors(), torch.split(w, sizes)):
                t.copy_(v.reshape(t.shape))
        return m.eval()


@register_codec
class ToyCodec(AnchorCodec):
    name, version, model_class = "toy-factorized", 1, ToyFactorized

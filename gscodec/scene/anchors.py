"""AnchorScene: a Scaffold-GS / HAC scene as plain data (what anchor codecs encode and decode).

Why a plain container: the codec must not depend on the trainer. Everything a decoder needs
to render is here: anchor positions, per-anchor attributes, offset masks and the weights of
the small MLPs that turn an anchor into k neural Gaussians for a given camera
(`gscodec.models.scaffold` knows how to run them; this module only holds and checks data).

Shapes (N anchors, F feature channels, k offsets per anchor):
  anchors [N,3] float32 (world positions), features [N,F], scaling [N,6] (stored form, as the
  model keeps it: log-scales, exp() gives the scale; [:, :3] scales the offsets, [:, 3:] the
  neural Gaussians), offsets [N,k,3] (in units of scaling[:, :3]), offset_mask [N,k] bool
  (False: that neural Gaussian is never spawned).
`decoder_state` holds the MLP weights (name -> tensor) and `decoder_config` their shapes and
switches (feature dim, k, view/distance inputs, ...), both as written by models.scaffold.
`entropy_model` optionally carries the trained entropy model (an nn.Module, e.g. HAC's) from
the trainer to the encoder; a decoded scene has None there.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from gscodec.errors import InputError


@dataclass
class AnchorScene:
    anchors: torch.Tensor
    features: torch.Tensor
    scaling: torch.Tensor
    offsets: torch.Tensor
    offset_mask: torch.Tensor
    decoder_state: dict[str, torch.Tensor] = field(default_factory=dict)
    decoder_config: dict[str, Any] = field(default_factory=dict)
    entropy_model: Any = None

    TENSORS = ("anchors", "features", "scaling", "offsets", "offset_mask")

    def __len__(self) -> int:
        return int(self.anchors.shape[0])

    @property
    def feat_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_offsets(self) -> int:
        return int(self.offsets.shape[1])

    def check(self) -> "AnchorScene":
        """Raise InputError naming the first inconsistent shape or non-finite value."""
        n = len(self)
        if self.anchors.ndim != 2 or self.anchors.shape[1] != 3:
            raise InputError(f"anchors must be [N,3], got {list(self.anchors.shape)}")
        expect = {"features": (n, None), "scaling": (n, 6), "offsets": (n, None, 3), "offset_mask": (n, None)}
        for name, shape in expect.items():
            t = getattr(self, name)
            if t.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, t.shape)):
                raise InputError(f"{name} must have shape {[s if s is not None else '*' for s in shape]}, "
                                 f"got {list(t.shape)}")
        if self.offset_mask.shape[1] != self.offsets.shape[1]:
            raise InputError("offset_mask and offsets disagree on the number of offsets per anchor")
        for name in ("anchors", "features", "scaling", "offsets"):
            if not torch.isfinite(getattr(self, name)).all():
                raise InputError(f"{name} holds NaN or infinite values")
        return self

    def subset(self, keep: torch.Tensor) -> "AnchorScene":
        """The anchors selected by a bool mask or an index tensor (same decoder, same model)."""
        return replace(self, **{k: getattr(self, k)[keep] for k in self.TENSORS})

    def detach(self) -> "AnchorScene":
        return replace(self, **{k: getattr(self, k).detach() for k in self.TENSORS},
                       decoder_state={k: v.detach() for k, v in self.decoder_state.items()})

    def to(self, device) -> "AnchorScene":
        return replace(self, **{k: getattr(self, k).to(device) for k in self.TENSORS},
                       decoder_state={k: v.to(device) for k, v in self.decoder_state.items()})

    def stats(self) -> dict:
        m = self.offset_mask
        return {"anchors": len(self), "feat_dim": self.feat_dim, "n_offsets": self.n_offsets,
                "active_offsets": int(m.sum()), "max_gaussians": int(m.numel())}

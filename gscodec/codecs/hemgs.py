"""The "hemgs" codec: HEMGS's hybrid entropy model (paper 001) as a configuration of the
generic anchor codec with gscodec.entropy.hemgs.HemgsEntropyModel.

One trained model codes at any λ near its trained ones: `gscodec train DATASET --codec
hemgs -o RUN/` trains it (λ drawn per step from `lambdas`) and codes at `--lambda`;
`gscodec encode RUN/ --lambda X -o OUT.gsz` codes the same model at another rate.

Stream: HAC's (gscodec.codecs.hac) with the model config under `hemgs`, plus the λ it was
coded at, the voxel unit of the context grid and the point encoder's fingerprint in the
header; the features, scaling and offsets are coded in 8 passes each (the autoregressive
context's batches), one frame per pass and group.

Options (training only; the paper's ablations, Tables 3 and 4):
  sa       false: no scene-agnostic point encoder ("w/o SA")
  ar       false: no autoregressive context ("w/o AR")
  acs      false: all already coded anchors of the field, not the 20 nearest ("w/o ACS")
  field    the context field's side in voxels (25; 5: the paper's "SRF")
  lambdas  the λ the one model is trained for (default 0.002, 0.004, 0.008; one value: a
           model per rate, as HAC)
  experts  the hyperprior layer as MoP's mixture of this many experts (default 1: HEMGS's)
  expert_hidden  the mixture's width (default: iso-parameter with the one-layer prior, MoP's rule)
"""
from __future__ import annotations

from typing import ClassVar

from gscodec.codecs.hac import HacCodec
from gscodec.codecs.registry import register_codec
from gscodec.entropy.hemgs import HemgsEntropyModel
from gscodec.entropy.mixture import check_options
from gscodec.errors import InputError


@register_codec
class HemgsCodec(HacCodec):
    name = "hemgs"
    version = 1
    model_class = HemgsEntropyModel
    SECTION_GROUPS: ClassVar[dict[str, str]] = {**HacCodec.SECTION_GROUPS, "mlp_context": "HEMGS networks"}

    def __init__(self, *, sa: bool = True, ar: bool = True, acs: bool = True, field: int = 25,
                 lambdas: list | tuple | None = None, experts: int = 1, expert_hidden: int | None = None, **kw):
        for what, v in (("sa", sa), ("ar", ar), ("acs", acs)):
            if not isinstance(v, bool):
                raise InputError(f"hemgs: {what} must be true or false, got {v!r}")
        if not isinstance(field, int) or isinstance(field, bool) or not 3 <= field <= 101 or field % 2 == 0:
            raise InputError(f"hemgs: field must be an odd integer in 3..101, got {field!r}")
        if lambdas is not None:
            lambdas = [lambdas] if isinstance(lambdas, (int, float)) else lambdas
            if not isinstance(lambdas, (list, tuple)) or not lambdas or \
                    not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in lambdas):
                raise InputError(f"hemgs: lambdas must be positive numbers, got {lambdas!r}")
        check_options(self.name, experts, expert_hidden)
        super().__init__(**kw)
        self.sa, self.ar, self.acs, self.field, self.lambdas = sa, ar, acs, field, lambdas
        self.experts, self.expert_hidden = experts, expert_hidden

    def model_options(self) -> dict:
        opts = {"sa": self.sa, "ar": self.ar, "ar_neighbours": 20 if self.acs else 0, "ar_field": self.field,
                "n_experts": self.experts, "expert_hidden": self.expert_hidden}
        return {**opts, **({"lambdas": list(self.lambdas)} if self.lambdas is not None else {})}

"""Decode a .gsz in a fresh Python process (one thread): its symbols and one render, so a
test can check they equal this process's (the determinism the brief asks of every stream)."""
from __future__ import annotations

import subprocess
import sys

import torch

CODE = ("import sys, torch, numpy as np; torch.set_num_threads(1); from gscodec.coding import container; "
        "from gscodec.codecs import decode_bytes; from gscodec.codecs.registry import codec_class; "
        "from gscodec.models.scaffold import render_anchor_scene; "
        "d = open(sys.argv[1], 'rb').read(); cls = codec_class(container.unpack(d)[0]['codec']); "
        "cam = torch.load(sys.argv[2], weights_only=False); "
        "torch.save({'sym': {k: torch.from_numpy(np.asarray(v)) for k, v in cls.decode_symbols(d).items()}, "
        "'img': render_anchor_scene(decode_bytes(d), cam, backend='cpu').image}, sys.argv[3])")


def decode_in_fresh_process(data: bytes, cam, tmp_path) -> tuple[dict, torch.Tensor]:
    """(symbols as numpy-able tensors, rendered image of `cam`) from another process."""
    (tmp_path / "s.gsz").write_bytes(data)
    torch.save(cam, tmp_path / "cam.pt")
    subprocess.run([sys.executable, "-c", CODE, str(tmp_path / "s.gsz"), str(tmp_path / "cam.pt"),
                    str(tmp_path / "out.pt")], check=True, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    out = torch.load(tmp_path / "out.pt")
    return out["sym"], out["img"]

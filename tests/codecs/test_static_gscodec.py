"""Static GSCodec: trained with simulation -> .gsz -> decoded in a fresh process, exactly."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from gscodec.codecs import decode_bytes, get_codec
from gscodec.data.synthetic import load_builtin
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene import GaussianScene
from gscodec.train import TrainConfig, Trainer


@pytest.fixture(scope="module", params=["factorized", "gaussian"])
def trained(request, tmp_path_factory):
    ds = load_builtin(resolution=32, n_views=12, cache_dir=tmp_path_factory.mktemp("builtin"))
    cfg = TrainConfig(iterations=40, sh_degree=1, sh_degree_interval=10, max_init_points=500,
                      strategy_options=dict(refine_start=10, refine_stop=20, refine_every=10, reset_every=10_000),
                      simulation=dict(start=20, lambda_rate=0.01, entropy_model=request.param))
    t = Trainer(ds, cfg)
    t.train(progress=False)
    return t


def test_decoded_attributes_are_the_simulated_ones(trained):
    codec = get_codec("static-gscodec", learned_only=True)
    data = codec.encode(trained.scene_for_eval(simulated=False))
    dec = decode_bytes(data)
    sim_scene = trained.scene_for_eval(simulated=True)
    assert len(dec) == len(sim_scene) - codec.last_stats["prune"].get("low_opacity", 0)
    # positions are re-ordered (Morton); match each decoded splat by its nearest original
    from scipy.spatial import cKDTree

    _, idx = cKDTree(sim_scene.means.numpy()).query(dec.means.numpy())
    src = sim_scene.subset(torch.from_numpy(idx))
    assert np.allclose(dec.log_scales.numpy(), src.log_scales.numpy(), atol=1e-5)
    assert np.allclose(dec.sh_dc.numpy(), src.sh_dc.numpy(), atol=1e-5)
    assert np.allclose(dec.opacity_logits.numpy(), src.opacity_logits.numpy(), atol=1e-5)
    for name, st in codec.last_stats["attributes"].items():
        assert st["method"].startswith("learned-"), name
        assert st["bytes"] == st["learned_bytes"] > 0


def test_fresh_process_decodes_identically(trained, tmp_path):
    data = get_codec("static-gscodec").encode(trained.scene_for_eval(simulated=False))
    (tmp_path / "s.gsz").write_bytes(data)
    code = ("import sys, torch; from gscodec.codecs import decode_bytes; "
            "s = decode_bytes(open(sys.argv[1], 'rb').read()); "
            "torch.save({k: getattr(s, k) for k in s.TENSORS}, sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.gsz"), str(tmp_path / "d.pt")], check=True)
    other = torch.load(tmp_path / "d.pt")
    here = decode_bytes(data)
    for k in here.TENSORS:
        assert torch.equal(getattr(here, k), other[k]), k


def test_needs_a_scene_trained_with_simulation_and_refuses_corruption(trained):
    plain = GaussianScene.random(50, sh_degree=1, seed=0)
    with pytest.raises(InputError, match="trained with compression simulation"):
        get_codec("static-gscodec").encode(plain)
    data = bytearray(get_codec("static-gscodec").encode(trained.scene_for_eval(simulated=False)))
    for pos in (20, len(data) // 2, len(data) - 5):
        bad = bytearray(data)
        bad[pos] ^= 0x40
        with pytest.raises(CorruptStreamError):
            decode_bytes(bytes(bad))
    with pytest.raises(CorruptStreamError):
        decode_bytes(bytes(data[: len(data) // 3]))


def test_quality_sets_the_simulated_bit_widths_unless_the_config_does():
    from gscodec.codecs.static_gscodec import StaticGSCodec

    for quality, bits in ((1, 5), (2, 6), (3, 7), (4, 8), (5, 10)):
        sim = StaticGSCodec.simulation_config({"quality": quality, "lambda_rate": 0.01})
        assert sim["bits"] == {"quats": bits, "log_scales": bits, "opacity_logits": bits, "sh_dc": bits}
        assert sim["lambda_rate"] == 0.01
    mine = {"bits": {"quats": 8, "log_scales": 8, "opacity_logits": 8, "sh_dc": 8}}
    assert StaticGSCodec.simulation_config({"quality": 1}, mine)["bits"]["quats"] == 8
    with pytest.raises(InputError, match="quality"):
        StaticGSCodec.simulation_config({"quality": 9})

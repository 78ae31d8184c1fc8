"""HAC and scaffold-raw anchor codecs: round trip within Q/2, fresh-process decode with
identical symbols and tensors, masked offsets not stored, all-masked anchors dropped,
estimated vs coded bits, corruption refused, exact raw round trip, `gscodec info` groups."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from gscodec.codecs import decode_bytes, get_codec
from gscodec.codecs.hac import HacCodec
from gscodec.codecs.info import gsz_summary
from gscodec.coding import container
from gscodec.coding.positions import encode_positions, quantize_positions
from gscodec.entropy import HacConfig, HacEntropyModel
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene.anchors import AnchorScene

CFG = {"feat_dim": 16, "n_offsets": 4, "hidden": 32, "grid3d_resolutions": (4, 8, 16), "grid3d_table_log2": 9,
       "grid2d_resolutions": (8, 32), "grid2d_table_log2": 9, "feature_chunks": (8, 4, 4)}


def make_scene(n=400, seed=0, p_mask=0.7) -> AnchorScene:
    """Random anchors with attributes drawn from a random HAC model's own Gaussians."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    cfg = HacConfig(**CFG)
    m = HacEntropyModel(cfg)
    with torch.no_grad():
        for t in m.context._tables():
            t.uniform_(-1, 1)
        for mlp in m.chunk_mlps:  # a channel context that acts
            mlp[2].weight.normal_(0, 0.05)
    xyz = torch.rand(n, 3, generator=g) * 4 - 2
    m.set_bounds(xyz.min(0).values, xyz.max(0).values)
    with torch.no_grad():
        prm = m.params(xyz)
    ys = {k: v[0] + v[1] * torch.randn(v[0].shape, generator=g) for k, v in prm.items()}
    mask = torch.rand(n, cfg.n_offsets, generator=g) < p_mask
    mask[:7] = False  # these anchors spawn nothing: dropped
    state = {"mlp_opacity.0.weight": torch.randn(32, 19, generator=g), "mlp_opacity.0.bias": torch.randn(32, generator=g),
             "mlp_color.2.weight": torch.randn(3, 32, generator=g), "step": torch.tensor(7)}
    return AnchorScene(xyz, ys["feature"].contiguous(), ys["scaling"].contiguous(),
                       ys["offsets"].reshape(n, cfg.n_offsets, 3).contiguous(), mask, state,
                       {"feat_dim": 16, "n_offsets": 4, "use_view_dist": True}, m)


def _kept_in_order(scene: AnchorScene, bits=16) -> AnchorScene:
    """The anchors the codec keeps, in the order it stores them."""
    s = scene.subset(scene.offset_mask.any(1))
    q, _, _ = quantize_positions(s.anchors.numpy(), bits)
    _, order = encode_positions(q, bits)
    return s.subset(torch.from_numpy(order.astype(np.int64)))


@pytest.fixture(scope="module")
def coded():
    scene = make_scene()
    codec = get_codec("hac")
    data = codec.encode(scene)
    return scene, codec, data


def test_round_trip_within_half_a_step(coded):
    scene, codec, data = coded
    out = decode_bytes(data)
    ref = _kept_in_order(scene)
    assert isinstance(out, AnchorScene) and out.entropy_model is None
    dropped = int((~scene.offset_mask.any(1)).sum())
    assert dropped >= 7 and codec.last_stats["dropped"] == dropped
    assert len(out) == len(scene) - dropped == codec.last_stats["anchors"]
    span = (scene.anchors.max(0).values - scene.anchors.min(0).values).numpy()
    assert np.all(np.abs(out.anchors.numpy() - ref.anchors.numpy()) <= span / 65535 / 2 + 1e-6)
    assert torch.equal(out.offset_mask, ref.offset_mask)
    prm = scene.entropy_model.coder_inputs(out.anchors, out.features.double().numpy())
    for name, g in (("features", "feature"), ("scaling", "scaling"), ("offsets", "offsets")):
        d = (getattr(out, name) - getattr(ref, name)).reshape(len(out), -1).double().numpy()
        q = np.broadcast_to(prm[g][2], d.shape)
        if g == "offsets":
            sel = np.repeat(ref.offset_mask.numpy(), 3, axis=1)
            d, q = d[sel], q[sel]
        assert np.all(np.abs(d) <= q / 2 * (1 + 1e-4) + 1e-6), name
    assert torch.all(out.offsets[~out.offset_mask] == 0)
    # decoder MLPs: float16 precision, names, shapes and non-float tensors kept
    assert set(out.decoder_state) == set(scene.decoder_state) and out.decoder_config == scene.decoder_config
    w, w0 = out.decoder_state["mlp_opacity.0.weight"], scene.decoder_state["mlp_opacity.0.weight"]
    assert w.dtype == torch.float32 and torch.equal(w, w0.half().float())
    assert torch.equal(out.decoder_state["step"], torch.tensor(7))


def test_estimated_vs_coded_bits(coded):
    _, codec, _ = coded
    for g, b in codec.last_stats["bits"].items():
        n_chunks = len(CFG["feature_chunks"]) if g == "feature" else 1
        # + the ANS coder's final words and the chunk length, per chunk (a few hundred anchors only)
        assert abs(b["coded"] - b["estimated"]) <= 0.005 * b["estimated"] + 96 * n_chunks, (g, b)


def test_estimated_vs_coded_bits_few_thousand_anchors():
    codec = get_codec("hac")
    codec.encode(make_scene(n=2500, seed=5))
    for g, b in codec.last_stats["bits"].items():
        assert abs(b["coded"] - b["estimated"]) <= 0.005 * b["estimated"], (g, b)


def test_fresh_process_decode_identical(coded, tmp_path):
    _, codec, data = coded
    path = tmp_path / "s.gsz"
    path.write_bytes(data)
    code = (
        "import sys, numpy as np\n"
        "from gscodec.codecs.hac import HacCodec\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "s, sym = HacCodec._decode(data)\n"
        "arrs = {'t_' + k: getattr(s, k).numpy() for k in s.TENSORS}\n"
        "arrs.update({'s_' + k: v for k, v in sym.items()})\n"
        "np.savez(sys.argv[2], **arrs)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "d.npz")], check=True, timeout=120)
    got = np.load(tmp_path / "d.npz")
    for k, v in codec.last_symbols.items():
        assert np.array_equal(got["s_" + k], v), k
    here = HacCodec.decode_stream(data)
    for k in here.TENSORS:
        assert np.array_equal(got["t_" + k], getattr(here, k).numpy()), k


def test_masked_offsets_are_not_stored():
    scene = make_scene(n=200, seed=2)
    a = get_codec("hac").encode(scene)
    s2 = scene.subset(torch.arange(len(scene)))
    s2.offsets = scene.offsets.clone()
    s2.offsets[~scene.offset_mask] = 1e3  # anything: never coded
    s2.entropy_model = scene.entropy_model
    assert get_codec("hac").encode(s2) == a
    sparse = make_scene(n=200, seed=2, p_mask=0.2)
    _, secs = container.unpack(get_codec("hac").encode(sparse))
    _, secs_a = container.unpack(a)
    assert len(secs["offsets"].data) < 0.6 * len(secs_a["offsets"].data)


def test_correlated_masks_cost_little():
    """Half the anchors keep every offset, half keep only the first: slot-wise Bernoulli
    pays ~1 bit per slot 1..3 (150 B), the previous-slot context ~1 bit for slot 1 only."""
    scene = make_scene(n=400, seed=4)
    scene.offset_mask[:] = True
    scene.offset_mask[::2, 1:] = False
    data = get_codec("hac").encode(scene)
    _, secs = container.unpack(data)
    assert len(secs["masks"].data) < 0.45 * 400 * 3 / 8
    assert torch.equal(decode_bytes(data).offset_mask, _kept_in_order(scene).offset_mask)


def test_needs_an_entropy_model_and_matching_dims():
    scene = make_scene(n=50)
    scene.entropy_model = None
    with pytest.raises(InputError, match="entropy_model"):
        get_codec("hac").encode(scene)
    scene = make_scene(n=50)
    scene.entropy_model = HacEntropyModel(HacConfig(**{**CFG, "feat_dim": 8, "feature_chunks": None}))
    with pytest.raises(InputError, match="feat_dim"):
        get_codec("hac").encode(scene)
    with pytest.raises(InputError):
        get_codec("hac", mlp_dtype="int8")


def test_corrupt_and_truncated_streams_are_refused(coded):
    _, _, data = coded
    rng = np.random.default_rng(0)
    for pos in list(rng.choice(len(data), 40, replace=False)) + [0, 5, len(data) - 1]:
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(CorruptStreamError):
            decode_bytes(bytes(bad))
    for cut in (1, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(CorruptStreamError):
            decode_bytes(data[:cut])


@pytest.mark.parametrize("edit", [
    lambda h: h.update(count=h["count"] + 1),
    lambda h: h.update(count=1 << 40),
    lambda h: h["hac"].update(grid3d_table_log2=24, grid3d_resolutions=[1000] * 32),
    lambda h: h["hac"].update(hidden=33),
    lambda h: h["ranges"].update(feature=[0, 1 << 29]),
    lambda h: h.update(mask_p=[0.5]),
    lambda h: h.update(mask_p=[[0.5, 2.0]] * 4),
    lambda h: h.update(decoder_tensors=[["x", [1 << 30, 1 << 30], "float32"]]),
    lambda h: h.pop("hash_p"),
    lambda h: h.update(codec_version=99),
])
def test_well_formed_container_with_bad_header_is_refused(coded, edit):
    """CRCs pass (the container is rebuilt), so the codec's own checks must catch these."""
    _, _, data = coded
    header, secs = container.unpack(data)
    header = json.loads(json.dumps(header))
    edit(header)
    with pytest.raises(CorruptStreamError):
        HacCodec.decode_stream(container.pack(header, list(secs.values())))


def test_wrong_section_payload_is_refused(coded):
    _, _, data = coded
    header, secs = container.unpack(data)
    secs = dict(secs)
    for name in ("feature", "masks", "mlp_context", "hash"):
        s = secs[name]
        forged = dict(secs)
        forged[name] = container.Section(s.name, s.method, s.data[:-4])
        with pytest.raises(CorruptStreamError):
            HacCodec.decode_stream(container.pack(header, list(forged.values())))


def test_info_groups_sum_to_file_size(coded):
    _, _, data = coded
    info = gsz_summary(data)
    groups = {r["group"]: r["bytes"] for r in info["groups"]}
    assert list(groups) == ["location", "feature", "scaling", "offsets", "hash", "masks", "MLPs", "header"]
    assert sum(groups.values()) == len(data) == info["total_bytes"]
    assert sum(r["bytes"] for r in info["sections"]) == len(data)


def test_info_prints_the_storage_table(coded, tmp_path, capsys):
    from gscodec.codecs.info import print_gsz_info

    _, _, data = coded
    (tmp_path / "s.gsz").write_bytes(data)
    print_gsz_info(tmp_path / "s.gsz")
    text = capsys.readouterr().out
    assert "storage group" in text and "mlp_context" in text
    for g in ("location", "feature", "scaling", "offsets", "hash", "masks", "MLPs", "header"):
        assert any(line.startswith(g) for line in text.splitlines()), g


def test_scaffold_raw_round_trip_is_exact(coded):
    scene, _, hac_data = coded
    codec = get_codec("scaffold-raw")
    data = codec.encode(scene)
    out = decode_bytes(data)
    for k in scene.TENSORS:
        assert torch.equal(getattr(out, k), getattr(scene, k)), k
    assert out.decoder_config == scene.decoder_config
    for k, v in scene.decoder_state.items():
        assert torch.equal(out.decoder_state[k], v), k
    assert len(hac_data) < len(data)
    groups = {r["group"]: r["bytes"] for r in gsz_summary(data)["groups"]}
    assert sum(groups.values()) == len(data) and groups["feature"] == 4 * 16 * len(scene)
    bad = bytearray(data)
    bad[len(data) // 2] ^= 1
    with pytest.raises(CorruptStreamError):
        decode_bytes(bytes(bad))
    header, secs = container.unpack(data)
    header["count"] += 1
    with pytest.raises(CorruptStreamError):
        decode_bytes(container.pack(header, list(secs.values())))


def test_exp_scaling_domain_round_trip(tmp_path):
    """HAC's domain: exp(scaling) on an absolute grid; decoded scenes still hold log-scales."""
    scene = make_scene(n=300, seed=6)
    em = HacEntropyModel(HacConfig(**{**CFG, "scaling_domain": "exp"}))
    em.set_bounds(scene.anchors.min(0).values, scene.anchors.max(0).values)
    scene.entropy_model = em
    scene.scaling = torch.log(torch.rand(300, 6, generator=torch.Generator().manual_seed(1)) * 0.05 + 0.0004)
    codec = get_codec("hac")
    data = codec.encode(scene)
    out = HacCodec.decode_stream(data)
    ref = _kept_in_order(scene)
    q = em.coder_heads(out.anchors)["scaling"][2]
    e0, e1 = torch.exp(ref.scaling).double().numpy(), torch.exp(out.scaling).double().numpy()
    small = np.round(e0 / q) == 0  # rounds to zero: decodes to the floor scale
    assert small.any() and np.allclose(e1[small], 1e-7, rtol=1e-3)
    assert np.all(np.abs(e1 - e0)[~small] <= np.broadcast_to(q / 2, e0.shape)[~small] * (1 + 1e-4) + 1e-7)
    assert torch.isfinite(out.scaling).all()
    assert np.array_equal(HacCodec.decode_symbols(data)["scaling"], codec.last_symbols["scaling"])


def test_empty_after_dropping():
    scene = make_scene(n=30)
    scene.offset_mask[:] = False
    data = get_codec("hac").encode(scene)
    out = decode_bytes(data)
    assert len(out) == 0 and out.features.shape == (0, 16) and out.offsets.shape == (0, 4, 3)


def test_a_stream_decoding_to_nan_is_refused(coded):
    """A forged stream (CRCs recomputed) whose floats decode to NaN is refused, not returned."""
    from gscodec.coding import container
    from gscodec.coding.container import Section
    from gscodec.errors import CorruptStreamError

    scene, _, _ = coded
    header, sections = container.unpack(get_codec("scaffold-raw").encode(scene))
    feat = np.frombuffer(sections["feature"].data, "<f4").copy()
    feat[3] = np.nan
    forged = [Section(s.name, s.method, feat.tobytes() if s.name == "feature" else s.data) for s in sections.values()]
    with pytest.raises(CorruptStreamError, match="1 non-finite values in features"):
        decode_bytes(container.pack(header, forged))

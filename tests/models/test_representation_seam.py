"""A method with its own representation is a registered ScaffoldModel subclass: it adds a
network and decodes from the anchor positions, the trainer optimizes its networks, and a plain
AnchorScene naming its format rebuilds it (unknown formats are refused by name)."""
import pytest
import torch
from torch import nn

from gscodec.data.synthetic import load_builtin
from gscodec.errors import InputError
from gscodec.models.scaffold import ScaffoldModel, register_decoder
from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer


@register_decoder
class PositionFed(ScaffoldModel):
    """Features plus a learned function of the anchor position (Predict-GS's shape, in small)."""

    FORMAT, VERSION = "test-position-fed", 1

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.mlp_position = nn.Linear(3, self.feat_dim)
        nn.init.zeros_(self.mlp_position.weight)

    def networks(self):
        return {**super().networks(), "mlp_position": self.mlp_position}

    def network_lr(self, name, cfg):
        return (0.01, 0.001) if name == "mlp_position" else super().network_lr(name, cfg)

    def decode(self, features, view_dirs, dists=None, anchors=None):
        return super().decode(features + self.mlp_position(anchors), view_dirs, dists)


def test_a_registered_representation_trains_and_round_trips(tmp_path):
    ds = load_builtin(resolution=16, n_views=6, cache_dir=tmp_path)
    torch.manual_seed(0)
    cfg = ScaffoldConfig.scaled(6, voxel_size=0.25, feat_dim=8, n_offsets=4)
    t = ScaffoldTrainer(ds, cfg, model_class=PositionFed)
    before = t.model.mlp_position.bias.detach().clone()
    t.train(progress=False)
    assert isinstance(t.model, PositionFed) and "mlp_position" in t.optimizers
    assert not torch.equal(before, t.model.mlp_position.bias), "the trainer optimized the added network"

    scene = t.model.to_anchor_scene()
    assert scene.decoder_config["format"] == "test-position-fed"
    back = ScaffoldModel.from_anchor_scene(scene)
    cam = ds.cameras[0]
    assert type(back) is PositionFed
    with torch.no_grad():
        assert torch.allclose(back.render(cam).image, t.model.render(cam).image, atol=1e-6)

    scene.decoder_config = {**scene.decoder_config, "format": "nobody-knows"}
    with pytest.raises(InputError, match="nobody-knows.*scaffold-gs"):
        ScaffoldModel.from_anchor_scene(scene)

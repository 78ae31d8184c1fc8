"""Every dataclass config refuses an unknown key with one line naming it and the valid ones,
nested configs included, and reads JSON lists as tuples."""
import pytest

from gscodec.codecs.ptc.config import PtcConfig
from gscodec.entropy.hac import HacConfig
from gscodec.entropy.mop import MopConfig
from gscodec.errors import InputError
from gscodec.simulate.sim import SimConfig
from gscodec.train.config import TrainConfig
from gscodec.train.scaffold import ScaffoldConfig


@pytest.mark.parametrize("cls", [TrainConfig, ScaffoldConfig, SimConfig, PtcConfig, HacConfig, MopConfig])
def test_unknown_keys_are_one_line_errors(cls):
    with pytest.raises(InputError, match=r"unknown .* keys: bogus \(valid: "):
        cls.from_dict({"bogus": 1})
    with pytest.raises(InputError, match="must be a JSON object"):
        cls.from_dict([1])


def test_nested_configs_and_lists():
    sim = SimConfig.from_dict({"grid": {"resolutions_3d": [8, 12]}, "mask": {"kind": "none"}})
    assert sim.grid.resolutions_3d == (8, 12) and sim.mask.kind == "none"
    with pytest.raises(InputError, match="unknown mask config keys: nope"):
        SimConfig.from_dict({"mask": {"nope": 1}})
    with pytest.raises(InputError, match="unknown prune config keys: nope"):
        PtcConfig.from_dict({"prune": {"nope": 1}})
    with pytest.raises(InputError, match="feat_dim"):
        HacConfig.from_dict({"feat_dim": "many"})


"""GaussianScene checks and helpers."""
import pytest
import torch

from gscodec.errors import InputError
from gscodec.scene import GaussianScene, sh_degree_for_coeffs


def test_check_accepts_valid():
    for d in range(4):
        GaussianScene.random(7, sh_degree=d).check()
    GaussianScene.empty(2).check()


def test_check_reports_shapes():
    s = GaussianScene.random(5)
    s.quats = torch.zeros(5, 3)
    with pytest.raises(InputError, match="quats must have shape"):
        s.check()


def test_check_reports_degree_mismatch():
    s = GaussianScene.random(5, sh_degree=1)
    s.sh_rest = torch.zeros(5, 4, 3)
    with pytest.raises(InputError, match="not \\(d\\+1\\)\\^2"):
        s.check()


def test_check_reports_inf():
    s = GaussianScene.random(5)
    s.log_scales[3, 0] = float("inf")
    with pytest.raises(InputError, match="log_scales has NaN/Inf in 1 Gaussian.*index 3"):
        s.check()


def test_degree_helpers():
    assert [sh_degree_for_coeffs(k) for k in (1, 4, 9, 16)] == [0, 1, 2, 3]
    s = GaussianScene.random(3, sh_degree=3)
    assert s.with_sh_degree(1).sh_rest.shape == (3, 3, 3)
    assert s.with_sh_degree(1).with_sh_degree(2).sh_rest[:, 3:].abs().sum() == 0
    assert s.sh.shape == (3, 16, 3)


def test_subset_follows_extras():
    import numpy as np

    s = GaussianScene.random(6)
    s.extras["id"] = np.arange(6)
    sub = s.subset(torch.tensor([True, False, True, False, False, True]))
    assert len(sub) == 3 and list(sub.extras["id"]) == [0, 2, 5]

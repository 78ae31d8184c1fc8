"""BD-rate / BD-PSNR on synthetic curves with known answers, and the standard checks."""
import math

import numpy as np
import pytest

from gscodec.metrics.bdrate import bd_psnr, bd_rate, check_curve

RATES = [1000.0, 2000.0, 4000.0, 8000.0]
PSNRS = [28.0, 31.0, 33.5, 35.0]


@pytest.mark.parametrize("factor", [0.8, 0.5, 1.25, 2.0])
def test_rate_scaled_curve_gives_that_factor(factor):
    r = bd_rate(RATES, PSNRS, [x * factor for x in RATES], PSNRS)
    assert r.ok and not r.warnings
    assert r.value == pytest.approx((factor - 1) * 100, rel=1e-3)  # within 0.1 %


def test_rate_factor_on_a_nonlinear_curve_and_other_points():
    # test curve sampled at different rates on the same underlying RD function, shifted by 0.8
    f = lambda r: 10 * np.log10(r) + 0.5 * np.sin(np.log(r))  # noqa: E731
    a_r = np.array([500.0, 1100.0, 2500.0, 6000.0, 12000.0])
    b_r = np.array([700.0, 1500.0, 3000.0, 7000.0])
    r = bd_rate(a_r, f(a_r), b_r * 0.8, f(b_r))
    assert r.value == pytest.approx(-20.0, abs=0.1)  # pchip error only, well within 0.1 % points


def test_psnr_shift_gives_exact_bd_psnr_and_rate_consistency():
    p = bd_psnr(RATES, PSNRS, RATES, [x + 0.7 for x in PSNRS])
    assert p.value == pytest.approx(0.7, abs=1e-9)
    assert bd_psnr(RATES, PSNRS, [x * 0.8 for x in RATES], PSNRS).value > 0
    same = bd_rate(RATES, PSNRS, RATES, PSNRS)
    assert same.value == pytest.approx(0.0, abs=1e-12)


def test_order_of_points_does_not_matter():
    idx = [2, 0, 3, 1]
    a = bd_rate(RATES, PSNRS, [RATES[i] * 0.8 for i in idx], [PSNRS[i] for i in idx])
    assert a.value == pytest.approx(-20.0, rel=1e-3)


def test_three_points_are_flagged_two_are_refused():
    r = bd_rate(RATES[:3], PSNRS[:3], [x * 0.8 for x in RATES[:3]], PSNRS[:3])
    assert r.ok and r.warnings and "(!)" in r.format("%")
    r = bd_rate(RATES[:2], PSNRS[:2], RATES[:2], PSNRS[:2])
    assert not r.ok and "at least 3" in r.reason
    assert r.format("%").startswith("n/a (")


def test_non_monotonic_nonfinite_and_no_overlap():
    bad = bd_rate(RATES, [28.0, 31.0, 30.0, 35.0], RATES, PSNRS)
    assert not bad.ok and "strictly increasing" in bad.reason
    assert not bd_rate(RATES, [28, 31, math.inf, 35], RATES, PSNRS).ok
    assert not bd_rate([1, 1, 2, 3], PSNRS, RATES, PSNRS).ok
    far = bd_rate(RATES, PSNRS, RATES, [x + 20 for x in PSNRS])
    assert not far.ok and "overlap" in far.reason
    assert not bd_psnr(RATES, PSNRS, [x * 1000 for x in RATES], PSNRS).ok
    with pytest.raises(ValueError):
        check_curve([1, 2, 3], [1, 2])

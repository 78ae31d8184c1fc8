"""Bjøntegaard delta rate (BD-rate) and delta PSNR (BD-PSNR) between two RD curves.

Common practice (VCEG-M33 / JCTVC, as in the `bjontegaard` Python package's "pchip" mode):
rates are taken in log scale, each curve is interpolated with a piecewise cubic Hermite
interpolant (PCHIP, monotone, no overshoot), and the difference of the two interpolants is
integrated exactly over the interval where both curves are defined.

- BD-rate: log-rate as a function of PSNR, averaged over the common PSNR interval;
  reported as a percentage, (exp(mean log(R_test / R_anchor)) - 1) * 100. Negative = the test
  codec needs fewer bytes for the same quality.
- BD-PSNR: PSNR as a function of log-rate, averaged over the common log-rate interval (dB).
  Positive = the test codec gives higher quality for the same size.

Checks (a result is then `ok=False` with the reason, never a silent number):
fewer than 3 points; non-finite or non-positive values; repeated rates or PSNRs; a curve whose
PSNR does not strictly increase with rate; no overlap between the curves. 4 points per curve
is the standard; with 3 the number is computed but flagged in `warnings`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MIN_POINTS = 3
RECOMMENDED_POINTS = 4


@dataclass
class BDResult:
    value: float | None  # percent for BD-rate, dB for BD-PSNR; None when not computable
    reason: str = ""  # why not computable
    warnings: list[str] = field(default_factory=list)
    interval: tuple[float, float] | None = None  # the common interval integrated over

    @property
    def ok(self) -> bool:
        return self.value is not None

    def format(self, unit: str, digits: int = 2) -> str:
        if not self.ok:
            return f"n/a ({self.reason})"
        s = f"{self.value:+.{digits}f}{unit}"
        return s + (" (!)" if self.warnings else "")


def check_curve(rates, psnrs, name: str = "curve") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Validate one RD curve; returns (rates, psnrs) sorted by rate and warnings. Raises ValueError."""
    r = np.asarray(rates, dtype=np.float64).ravel()
    p = np.asarray(psnrs, dtype=np.float64).ravel()
    if r.shape != p.shape:
        raise ValueError(f"{name}: {r.size} rates but {p.size} PSNRs")
    if r.size < MIN_POINTS:
        raise ValueError(f"{name}: {r.size} point(s), at least {MIN_POINTS} needed")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(p))):
        raise ValueError(f"{name}: non-finite rate or PSNR")
    if np.any(r <= 0):
        raise ValueError(f"{name}: rates must be positive")
    order = np.argsort(r, kind="stable")
    r, p = r[order], p[order]
    if np.any(np.diff(r) <= 0):
        raise ValueError(f"{name}: repeated rate")
    if np.any(np.diff(p) <= 0):
        raise ValueError(f"{name}: PSNR not strictly increasing with rate")
    warns = []
    if r.size < RECOMMENDED_POINTS:
        warns.append(f"{name}: only {r.size} points ({RECOMMENDED_POINTS} recommended)")
    return r, p, warns


def _prepare(anchor, test):
    try:
        r1, p1, w1 = check_curve(*anchor, name="anchor")
        r2, p2, w2 = check_curve(*test, name="test")
    except ValueError as e:
        return None, str(e)
    return (np.log(r1), p1, np.log(r2), p2, w1 + w2), ""


def _mean_difference(x1, y1, x2, y2) -> tuple[float | None, tuple[float, float] | None]:
    """Mean of (f2 - f1) over the common x interval, f = pchip(x -> y); x increasing."""
    from scipy.interpolate import PchipInterpolator

    lo, hi = max(x1[0], x2[0]), min(x1[-1], x2[-1])
    if not hi > lo:
        return None, None
    f1, f2 = PchipInterpolator(x1, y1), PchipInterpolator(x2, y2)
    diff = (f2.integrate(lo, hi) - f1.integrate(lo, hi)) / (hi - lo)
    return float(diff), (float(lo), float(hi))


def bd_rate(anchor_rates, anchor_psnrs, test_rates, test_psnrs) -> BDResult:
    """BD-rate (%) of the test curve against the anchor curve (negative = test is smaller)."""
    prep, reason = _prepare((anchor_rates, anchor_psnrs), (test_rates, test_psnrs))
    if prep is None:
        return BDResult(None, reason)
    lr1, p1, lr2, p2, warns = prep
    # log-rate as a function of PSNR (PSNR strictly increasing, checked)
    d, interval = _mean_difference(p1, lr1, p2, lr2)
    if d is None:
        return BDResult(None, "the PSNR ranges do not overlap", warns)
    return BDResult((math.exp(d) - 1.0) * 100.0, "", warns, interval)


def bd_psnr(anchor_rates, anchor_psnrs, test_rates, test_psnrs) -> BDResult:
    """BD-PSNR (dB) of the test curve against the anchor curve (positive = test is better)."""
    prep, reason = _prepare((anchor_rates, anchor_psnrs), (test_rates, test_psnrs))
    if prep is None:
        return BDResult(None, reason)
    lr1, p1, lr2, p2, warns = prep
    d, interval = _mean_difference(lr1, p1, lr2, p2)
    if d is None:
        return BDResult(None, "the rate ranges do not overlap", warns)
    return BDResult(d, "", warns, (math.exp(interval[0]), math.exp(interval[1])))


__all__ = ["BDResult", "bd_psnr", "bd_rate", "check_curve"]

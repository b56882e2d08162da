"""Fasciculation rate confidence intervals against SciPy.

The exact (Garwood) Poisson interval for k events in t minutes is
[chi2.ppf(a/2, 2k) / 2, chi2.ppf(1 - a/2, 2k + 2) / 2] / t, with the lower
limit 0 for k = 0. fasctrack computes the chi-square quantile itself; it must
agree with scipy.stats.chi2.ppf to 1e-10 relative.
"""
import math

import pytest
from scipy import stats

import fasctrack._core as core

pytestmark = pytest.mark.skipif(
    not hasattr(core, "poisson_rate"), reason="fasctrack._core.poisson_rate not in this build"
)

COUNTS = [0, 1, 2, 3, 5, 10, 37, 100, 500, 999]
MINUTES = [0.5, 1.0, 4.2, 30.0]
CONFIDENCES = [0.5, 0.9, 0.95, 0.99, 0.999]


def garwood(k, minutes, confidence):
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else stats.chi2.ppf(alpha / 2, 2 * k) / 2
    high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return low / minutes, high / minutes


def rel(a, b):
    return abs(a - b) / abs(b) if b else abs(a)


@pytest.mark.parametrize("confidence", CONFIDENCES)
@pytest.mark.parametrize("minutes", MINUTES)
@pytest.mark.parametrize("count", COUNTS)
def test_poisson_rate_matches_scipy(count, minutes, confidence):
    r = core.poisson_rate(count, minutes, confidence)
    low, high = garwood(count, minutes, confidence)
    assert r["count"] == count
    assert r["minutes"] == minutes
    assert r["confidence"] == confidence
    assert r["rate_per_min"] == pytest.approx(count / minutes, rel=1e-15)
    if count == 0:
        assert r["ci_low"] == 0.0
    else:
        assert rel(r["ci_low"], low) <= 1e-10
    assert rel(r["ci_high"], high) <= 1e-10
    assert r["ci_low"] <= r["rate_per_min"] <= r["ci_high"]


def test_zero_count_upper_limit_is_minus_log_half_alpha():
    r = core.poisson_rate(0, 1.0, 0.95)
    assert r["ci_high"] == pytest.approx(-math.log(0.025), rel=1e-12)


@pytest.mark.parametrize("args", [(3, 0.0, 0.95), (3, -1.0, 0.95), (3, 1.0, 1.0), (3, 1.0, 0.0), (-1, 1.0, 0.95)])
def test_bad_arguments_raise_value_error(args):
    with pytest.raises(ValueError):
        core.poisson_rate(*args)

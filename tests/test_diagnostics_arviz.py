"""The public ArviZ diagnostics must equal the private functions bit for bit."""

import math

import numpy as np
import pytest
from arviz.stats.diagnostics import _ess_bulk, _ess_tail, _rhat_rank
from scipy.signal import lfilter

from rlrecover.diagnostics_arviz import posterior_diagnostics


def _ar1(rng, phi, shape=(4, 1000), offsets=0.0):
    """Stationary AR(1) chains, one per row, shifted by ``offsets`` (poor mixing)."""
    e = rng.standard_normal(shape)
    e[:, 0] /= math.sqrt(1 - phi**2)
    return lfilter([1.0], [1.0, -phi], e, axis=1) + np.reshape(offsets, (-1, 1))


def _private(draws):
    # What rlrecover.bayes._diagnostics computes.
    return (
        max(float(_rhat_rank(x)) for x in draws.values()),
        min(float(_ess_bulk(x)) for x in draws.values()),
        min(float(_ess_tail(x)) for x in draws.values()),
    )


def _assert_identical(got, want):
    assert all(type(v) is float for v in got)
    for g, w in zip(got, want, strict=True):
        assert g == w or (math.isnan(g) and math.isnan(w)), (got, want)


@pytest.mark.parametrize("seed", range(8))
def test_identical_to_private_functions(seed):
    rng = np.random.default_rng(seed)
    draws = {
        "alpha": 1 / (1 + np.exp(-_ar1(rng, 0.9))),
        "beta": np.exp(_ar1(rng, 0.5)),
    }
    _assert_identical(posterior_diagnostics(draws), _private(draws))


def test_identical_when_mixing_is_poor_and_picks_the_worst():
    rng = np.random.default_rng(10)
    good = _ar1(rng, 0.3)
    bad = _ar1(rng, 0.95, offsets=(0.0, 0.0, 2.0, 5.0))
    got = posterior_diagnostics({"alpha": good, "beta": bad})
    _assert_identical(got, _private({"alpha": good, "beta": bad}))
    only_bad = posterior_diagnostics({"beta": bad})
    assert got == only_bad
    assert got[0] > 1.1 and got[1] < posterior_diagnostics({"alpha": good})[1]


# A constant chain has zero within-chain variance: R-hat divides 0 by 0 (NaN).
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_identical_on_ties_constant_and_nan():
    rng = np.random.default_rng(11)
    with_nan = _ar1(rng, 0.5)
    with_nan[2, 17] = np.nan
    cases = [
        np.round(_ar1(rng, 0.8), 1),  # many ties in the ranks
        np.full((4, 1000), 0.3),  # constant: R-hat NaN, ESS = number of draws
        np.vstack([np.full(1000, 0.3), _ar1(rng, 0.5, shape=(3, 1000))]),
        with_nan,
        _ar1(rng, 0.5, shape=(2, 50)),
    ]
    for x in cases:
        _assert_identical(posterior_diagnostics({"p": x}), _private({"p": x}))
    rhat, ess_bulk, ess_tail = posterior_diagnostics({"p": np.full((4, 1000), 0.3)})
    assert math.isnan(rhat) and ess_bulk == ess_tail == 4000.0
    assert all(math.isnan(v) for v in posterior_diagnostics({"p": with_nan}))
